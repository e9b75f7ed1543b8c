// SPDX-License-Identifier: MIT
// prexplain's correlator: lines of one failed I/O become one event, storms are counted, names map
// to LUs through the mapper (a fake here) or what the lines teach; and resolve_kernel_name, the
// sysfs lookup the real mapper uses, on a fake sysfs tree.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/prexplain/correlate.h"
#include "tools/prexplain/lookup.h"
#include "tools/prexplain/parse.h"
#include "uring_engine/devices/resolve.h"

namespace prfence::prexplain {
namespace {

// Two paths (1:0:0:0 = sdq, 2:0:0:0 = sdr) to one LU, and sdb on 0:0:0:1.
class FakeMapper final : public LuMapper {
  public:
    std::optional<LuIdentity> by_hctl(const Hctl& h) override {
        ++calls;
        if (h == Hctl{1, 0, 0, 0}) return lu("naa.1", "sdq", "1:0:0:0");
        if (h == Hctl{2, 0, 0, 0}) return lu("naa.1", "sdr", "2:0:0:0");
        if (h == Hctl{0, 0, 0, 1}) return lu("naa.2", "sdb", "0:0:0:1");
        return std::nullopt;
    }
    std::optional<LuIdentity> by_name(std::string_view n) override {
        ++calls;
        if (n == "sdq" || n == "sdq1") return lu("naa.1", "sdq", "1:0:0:0");
        if (n == "sdb") return lu("naa.2", "sdb", "0:0:0:1");
        return std::nullopt;
    }
    std::optional<LuIdentity> by_devnum(uint32_t ma, uint32_t mi) override {
        ++calls;
        if (ma == 8 && mi == 16) return lu("naa.2", "sdb", "0:0:0:1");
        return std::nullopt;
    }
    int calls = 0;

  private:
    static LuIdentity lu(const char* w, const char* d, const char* h) {
        return LuIdentity{w, w, d, h, ""};
    }
};

struct Feeder {
    std::vector<Event> events;
    void feed(Correlator& c, const std::vector<std::string>& lines, int64_t arrival = 0) {
        for (const auto& l : lines)
            if (auto p = parse_line(l)) c.feed(*p, arrival, events);
    }
};

const std::vector<std::string> kReadConflict = {
    "[   20.093091] sd 1:0:0:0: reservation conflict",
    "[   20.094063] sd 1:0:0:0: [sdq] tag#105 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK "
    "cmd_age=0s",
    "[   20.094426] sd 1:0:0:0: [sdq] tag#105 CDB: Read(10) 28 00 00 00 00 00 00 00 08 00",
    "[   20.094562] critical nexus error, dev sdq, sector 0 op 0x0:(READ) flags 0x800 phys_seg 1 "
    "prio class 2",
};

TEST(PrexplainCorrelate, OneFailedIoIsOneEvent) {
    FakeMapper m;
    Correlator c(m);
    Feeder r;
    r.feed(c, kReadConflict);
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    const Event& e = r.events[0];
    EXPECT_EQ(e.lu.wwid, "naa.1");
    EXPECT_EQ(e.lu.device, "sdq");
    EXPECT_EQ(e.lu.hctl, "1:0:0:0");
    EXPECT_EQ(e.op, "READ_10");
    EXPECT_EQ(e.access, Access::read);
    EXPECT_TRUE(e.has_sector);
    EXPECT_EQ(e.sector, 0u);
    EXPECT_EQ(e.count, 1u);
    EXPECT_FALSE(e.update);
    EXPECT_EQ(e.first_seen_ns, 20'093'091'000);
    EXPECT_EQ(c.stats().groups, 1u);
    EXPECT_EQ(c.stats().conflict_lines, 4u);
}

TEST(PrexplainCorrelate, PathsOfOneLuAreOneLu) {
    FakeMapper m;
    Correlator c(m);
    Feeder r;
    r.feed(c, {"[ 1.000000] sd 1:0:0:0: reservation conflict",
               "[ 1.100000] sd 2:0:0:0: reservation conflict"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 2u);  // the first, then the final count
    EXPECT_EQ(r.events[1].lu.key, "naa.1");
    EXPECT_EQ(r.events[1].count, 2u);
    EXPECT_TRUE(r.events[1].update);
}

TEST(PrexplainCorrelate, WithoutMapperLinesTeachNames) {
    NullMapper m;
    Correlator c(m);
    Feeder r;
    r.feed(c, kReadConflict);
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].lu.key, "hctl:1:0:0:0");
    EXPECT_EQ(r.events[0].lu.device, "sdq");
    EXPECT_EQ(c.stats().groups, 1u);  // the block line (dev sdq) joined the sd lines' group
}

TEST(PrexplainCorrelate, TraceCmdDoneAndRqComplete) {
    NullMapper m;
    Correlator c(m);
    Feeder r;
    r.feed(
        c,
        {
            "  iscsi_ttx-185 [000] b.s4.    43.991683: scsi_dispatch_cmd_done: host_no=0 channel=0 "
            "id=0 lun=1 data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL driver_tag=15 "
            "scheduler_tag=36 cmnd=(READ_10 lba=0 txlen=8 protect=0 raw=28 00 00 00 00 00 00 00 08 "
            "00) result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
            "status=SAM_STAT_RESERVATION_CONFLICT)",
            "  ksoftirqd/0-14 [000] ..s..    43.992161: block_rq_complete: 8,16 RS () 0 + 0 [0]",
            "  ksoftirqd/0-14 [000] ..s..    43.992607: block_rq_complete: 8,16 RS () 0 + 8 [-52]",
        });
    // Emitted at once: the tracepoint says everything.
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].op, "READ_10");
    EXPECT_EQ(r.events[0].source, Source::trace);
    c.finish(r.events);
    EXPECT_EQ(r.events.size(), 1u);  // the [-52] completion joined it
    EXPECT_EQ(c.stats().groups, 1u);
}

TEST(PrexplainCorrelate, DevnumThroughMapper) {
    FakeMapper m;
    Correlator c(m);
    Feeder r;
    r.feed(c, {"  x-1 [000] ..... 5.000000: block_rq_complete: 8,16 WS () 64 + 8 [-52]"});
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].lu.device, "sdb");
    EXPECT_EQ(r.events[0].op, "WRITE");
    EXPECT_EQ(r.events[0].sector, 64u);
}

TEST(PrexplainCorrelate, PartitionMapsToDisk) {
    FakeMapper m;
    Correlator c(m);
    Feeder r;
    r.feed(c, {"[ 9.0] blk_update_request: critical nexus error, dev sdq1, sector 2048 op "
               "0x1:(WRITE) flags 0x0 phys_seg 1 prio class 0",
               "[ 9.0] Buffer I/O error on dev sdq1, logical block 0, lost async page write"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].lu.wwid, "naa.1");
    EXPECT_EQ(r.events[0].access, Access::write);
}

TEST(PrexplainCorrelate, StormIsCounted) {
    FakeMapper m;
    CorrelateOptions o;
    o.summary_interval_ns = 5'000'000'000;
    Correlator c(m, o);
    Feeder r;
    char buf[96];
    for (int i = 0; i < 10000; ++i) {  // 10 s at 1 kHz
        std::snprintf(buf, sizeof buf, "[%5d.%06d] sd 0:0:0:1: reservation conflict",
                      100 + i / 1000, (i % 1000) * 1000);
        r.feed(c, {buf});
    }
    c.finish(r.events);
    // The first at once, one update after 5 s, a final one at the end.
    ASSERT_EQ(r.events.size(), 3u);
    EXPECT_FALSE(r.events[0].update);
    EXPECT_EQ(r.events[0].count, 1u);
    EXPECT_TRUE(r.events[1].update);
    EXPECT_EQ(r.events[2].count, 10000u);
    EXPECT_EQ(r.events[2].first_seen_ns, 100'000'000'000);
    EXPECT_EQ(r.events[2].last_seen_ns, 109'999'000'000);
    EXPECT_LE(m.calls, 2);  // mapped once, not per line
}

TEST(PrexplainCorrelate, UnrelatedFailuresAreNotConflicts) {
    NullMapper m;
    Correlator c(m);
    Feeder r;
    r.feed(c,
           {"[ 1.0] sd 0:0:0:1: [sdb] tag#1 FAILED Result: hostbyte=DID_TIME_OUT "
            "driverbyte=DRIVER_OK cmd_age=30s",
            "[ 1.0] sd 0:0:0:1: [sdb] tag#1 CDB: Read(10) 28 00 00 00 00 00 00 00 08 00",
            "[ 1.0] I/O error, dev sdb, sector 0 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 2",
            "[ 1.0] Buffer I/O error on dev sdb, logical block 0, async page read"});
    c.finish(r.events);
    EXPECT_TRUE(r.events.empty());
}

TEST(PrexplainCorrelate, LiveSettle) {
    NullMapper m;
    CorrelateOptions o;
    o.settle_ns = 3'000'000;
    Correlator c(m, o);
    Feeder r;
    // A passthrough conflict: only the sd line. It waits settle_ns of arrival time.
    r.feed(c, {"6,1,5000000,-;sd 0:0:0:1: reservation conflict"}, 1'000'000'000);
    EXPECT_TRUE(r.events.empty());
    ASSERT_TRUE(c.next_deadline().has_value());
    EXPECT_EQ(*c.next_deadline(), 1'003'000'000);
    c.tick(1'002'000'000, r.events);
    EXPECT_TRUE(r.events.empty());
    c.tick(1'003'000'000, r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].op, "");
}

// resolve_kernel_name on a fake sysfs: H:C:T:L, sdX, a partition, sgN and MAJ:MIN reach one LU.
TEST(PrexplainResolve, KernelNames) {
    namespace fs = std::filesystem;
    std::string tmpl = (fs::temp_directory_path() / "prexplain-sys-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    const std::string root = tmpl, sys = root + "/sys", dev = root + "/dev";
    auto write = [](const std::string& p, const std::string& t) {
        fs::create_directories(fs::path(p).parent_path());
        std::ofstream(p) << t;
    };
    auto link = [](const std::string& target, const std::string& at) {
        fs::create_directories(fs::path(at).parent_path());
        fs::create_symlink(target, at);
    };
    const std::string rel = "platform/host1/session1/target1:0:0/1:0:0:0";
    const std::string D = sys + "/devices/" + rel;
    fs::create_directories(D);
    fs::create_directories(dev);
    write(D + "/wwid", "naa.6001405abcdef0123456789abcdef01\n");
    write(D + "/block/sdq/dev", "65:0\n");
    link("../../../1:0:0:0", D + "/block/sdq/device");
    write(D + "/block/sdq/sdq1/dev", "65:1\n");
    write(D + "/block/sdq/sdq1/partition", "1\n");
    link("../devices/" + rel + "/block/sdq", sys + "/block/sdq");
    link("../../devices/" + rel + "/block/sdq", sys + "/class/block/sdq");
    link("../../devices/" + rel + "/block/sdq/sdq1", sys + "/class/block/sdq1");
    link("../../devices/" + rel + "/block/sdq", sys + "/dev/block/65:0");
    link("../../devices/" + rel + "/block/sdq/sdq1", sys + "/dev/block/65:1");
    write(D + "/scsi_generic/sg16/dev", "21:16\n");
    link("../../../1:0:0:0", D + "/scsi_generic/sg16/device");
    link("../../devices/" + rel + "/scsi_generic/sg16", sys + "/class/scsi_generic/sg16");
    link("../../../devices/" + rel, sys + "/bus/scsi/devices/1:0:0:0");
    write(dev + "/sg16", "");
    write(dev + "/sdq", "");
    const engine::ResolveOptions opt{.sysfs_root = sys, .dev_root = dev};
    for (const char* name : {"1:0:0:0", "sdq", "sdq1", "sg16", "65:0", "65:1"}) {
        auto r = engine::resolve_kernel_name(name, opt);
        ASSERT_TRUE(r.ok()) << name << ": " << r.error().msg;
        EXPECT_EQ(r->wwid, "naa.6001405abcdef0123456789abcdef01") << name;
        EXPECT_EQ(r->name, name);
        ASSERT_EQ(r->paths.size(), 1u) << name;
        EXPECT_EQ(r->paths[0].hctl, "1:0:0:0") << name;
        EXPECT_EQ(r->paths[0].sg_node, dev + "/sg16") << name;
        EXPECT_EQ(r->paths[0].block, dev + "/sdq") << name;
    }
    for (const char* name : {"2:0:0:0", "sdz", "sg9", "9:9", "", "../etc"}) {
        auto r = engine::resolve_kernel_name(name, opt);
        EXPECT_FALSE(r.ok()) << name;
    }
    // The sysfs mapper gives every name the same identity.
    SysfsMapper mapper(opt);
    auto a = mapper.by_hctl(Hctl{1, 0, 0, 0});
    auto b = mapper.by_name("sdq1");
    auto c = mapper.by_devnum(65, 0);
    ASSERT_TRUE(a && b && c);
    EXPECT_EQ(a->key, b->key);
    EXPECT_EQ(a->key, c->key);
    EXPECT_EQ(a->device, "sdq");
    ASSERT_NE(mapper.spec(a->key), nullptr);
    // A prsim socket maps H:C:T:L to its LUN.
    SysfsMapper sim(opt, "/run/prsim.sock");
    auto s = sim.by_hctl(Hctl{3, 0, 1, 77});
    ASSERT_TRUE(s);
    EXPECT_EQ(s->sim, "sim:/run/prsim.sock:77");
    std::error_code ec;
    fs::remove_all(root, ec);
}

}  // namespace
}  // namespace prfence::prexplain
