// SPDX-License-Identifier: MIT
// prexplain's correlator: lines of one failed I/O become one event, storms are counted, names map
// to LUs through the mapper (a fake here) or what the lines teach (sd name lines, the tag of a CDB
// printed before its conflict, a map's block line after its path's), one story per LU; and
// resolve_kernel_name and the sysfs mapper on a fake sysfs tree, dm-multipath maps included.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
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

std::vector<std::string> fixture_lines(const char* name) {
    std::ifstream in(std::string(PREXPLAIN_FIXTURES) + "/" + name);
    if (!in) throw std::runtime_error(std::string("fixture missing: ") + name);
    std::vector<std::string> v;
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

CorrelateOptions held() {
    CorrelateOptions o;
    o.hold = true;
    return o;
}

// The first report's lines, in the order it quoted them: FAILED and CDB before the block layer's
// line and the sd conflict line. One failed READ(10) on one LU.
TEST(PrexplainCorrelate, SeedOrderIsOneStory) {
    const auto lines = fixture_lines("dmesg-seed.txt");
    for (bool hold : {true, false}) {
        NullMapper m;
        CorrelateOptions o;
        o.hold = hold;
        Correlator c(m, o);
        Feeder r;
        r.feed(c, lines);
        // Live: reported at the block line already, with the CDB's command.
        EXPECT_EQ(r.events.size(), hold ? 0u : 1u);
        c.finish(r.events);
        ASSERT_EQ(r.events.size(), 1u) << hold;
        const Event& e = r.events[0];
        EXPECT_EQ(e.lu.device, "sdc");
        EXPECT_EQ(e.lu.hctl, "11:0:0:1");
        EXPECT_EQ(e.op, "READ_10");
        EXPECT_EQ(e.access, Access::read);
        EXPECT_TRUE(e.has_sector);
        EXPECT_EQ(e.sector, 2097024u);
        EXPECT_EQ(e.blocks, 8u);
        EXPECT_EQ(e.count, 1u);
        EXPECT_FALSE(e.update);
        ASSERT_EQ(e.commands.size(), 1u);
        EXPECT_EQ(e.commands[0].hctl, "11:0:0:1");
        EXPECT_EQ(e.commands[0].device, "sdc");
        EXPECT_EQ(c.stats().groups, 1u);
        EXPECT_EQ(c.stats().conflict_lines, 4u);
    }
}

// Older kernels mark the FAILED line of a conflict DID_NEXUS_FAILURE: it starts the story itself.
TEST(PrexplainCorrelate, SeedOrderNexusFailure) {
    NullMapper m;
    Correlator c(m, held());
    Feeder r;
    r.feed(c, {"[ 7.000000] sd 11:0:0:1: [sdc] tag#16 FAILED Result: hostbyte=DID_NEXUS_FAILURE "
               "driverbyte=DRIVER_OK cmd_age=0s",
               "[ 7.000001] sd 11:0:0:1: [sdc] tag#16 CDB: Read(10) 28 00 00 1f ff 80 00 00 08 00",
               "[ 7.000002] blk_update_request: critical nexus error, dev sdc, sector 2097024",
               "[ 7.000003] sd 11:0:0:1: reservation conflict"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].op, "READ_10");
    EXPECT_EQ(r.events[0].sector, 2097024u);
    EXPECT_EQ(r.events[0].blocks, 8u);
    EXPECT_EQ(r.events[0].count, 1u);
}

// A CDB printed before a conflict is taken only when it is that command's: another failure's CDB
// (its FAILED line says DID_TIME_OUT), a CDB at another sector, or one too old, stays out.
TEST(PrexplainCorrelate, EarlierCdbOnlyWhenItIsTheCommand) {
    struct Case {
        const char* name;
        std::vector<std::string> before;
    } cases[] = {
        {"timeout",
         {"[ 5.000000] sd 1:0:0:0: [sdq] tag#3 FAILED Result: hostbyte=DID_TIME_OUT "
          "driverbyte=DRIVER_OK cmd_age=30s",
          "[ 5.000001] sd 1:0:0:0: [sdq] tag#3 CDB: Write(10) 2a 00 00 00 08 00 00 00 08 00"}},
        {"other sector",
         {"[ 5.000000] sd 1:0:0:0: [sdq] tag#3 FAILED Result: hostbyte=DID_OK "
          "driverbyte=DRIVER_OK cmd_age=0s",
          "[ 5.000001] sd 1:0:0:0: [sdq] tag#3 CDB: Read(10) 28 00 00 00 00 10 00 00 08 00"}},
        {"too old",
         {"[ 1.000000] sd 1:0:0:0: [sdq] tag#3 FAILED Result: hostbyte=DID_OK "
          "driverbyte=DRIVER_OK cmd_age=0s",
          "[ 1.000001] sd 1:0:0:0: [sdq] tag#3 CDB: Write(10) 2a 00 00 00 08 00 00 00 08 00"}},
    };
    for (const auto& k : cases) {
        NullMapper m;
        Correlator c(m, held());
        Feeder r;
        r.feed(c, k.before);
        r.feed(c, {"[ 5.000002] critical nexus error, dev sdq, sector 2048 op 0x1:(WRITE) flags "
                   "0x800 phys_seg 1 prio class 2"});
        c.finish(r.events);
        ASSERT_EQ(r.events.size(), 1u) << k.name;
        EXPECT_EQ(r.events[0].op, "WRITE") << k.name;  // the block layer's, not a CDB's
        EXPECT_EQ(r.events[0].blocks, 0u) << k.name;
        EXPECT_EQ(r.events[0].lu.hctl, "1:0:0:0") << k.name;  // the name lines still tie sdq
    }
}

// dm-multipath, the 6.1 guest's capture: A's writes down both paths of one map, each printed on the
// path and on the map, then a buffered write (the map's line only). One LU, both paths, the map;
// three failed writes, none counted twice.
TEST(PrexplainCorrelate, MultipathIsOneStory) {
    NullMapper m;
    Correlator c(m, held());
    Feeder r;
    r.feed(c, fixture_lines("multipath-6.1.txt"));
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    const Event& e = r.events[0];
    EXPECT_EQ(e.lu.device, "sda");
    EXPECT_EQ(e.lu.hctl, "0:0:0:0");
    EXPECT_EQ(e.lu.dm_device, "dm-0");
    ASSERT_EQ(e.lu.paths.size(), 2u);
    EXPECT_EQ(e.lu.paths[0], (PathName{"sda", "0:0:0:0"}));
    EXPECT_EQ(e.lu.paths[1], (PathName{"sdag", "2:0:0:0"}));
    EXPECT_EQ(e.count, 3u);
    ASSERT_EQ(e.commands.size(), 3u);
    EXPECT_EQ(e.commands[0].op, "WRITE_10");
    EXPECT_EQ(e.commands[0].sector, 0u);
    EXPECT_EQ(e.commands[0].blocks, 8u);
    EXPECT_EQ(e.commands[0].hctl, "0:0:0:0");
    EXPECT_EQ(e.commands[1].op, "WRITE_10");
    EXPECT_EQ(e.commands[1].sector, 64u);
    EXPECT_EQ(e.commands[1].hctl, "2:0:0:0");
    EXPECT_EQ(e.commands[1].device, "sdag");
    EXPECT_EQ(e.commands[2].op, "WRITE");
    EXPECT_EQ(e.commands[2].device, "dm-0");
    EXPECT_EQ(e.access, Access::write);
    EXPECT_EQ(c.stats().groups, 3u);
    EXPECT_EQ(c.stats().merges, 1u);
}

// Live, the same lines: the first event at once, then updates as the map and the second path are
// learned, without waiting for the summary interval.
TEST(PrexplainCorrelate, MultipathLiveUpdates) {
    NullMapper m;
    Correlator c(m);
    Feeder r;
    const auto lines = fixture_lines("multipath-6.1.txt");
    r.feed(c, {lines[0], lines[1], lines[2]});
    ASSERT_EQ(r.events.size(), 1u);  // at the CDB
    EXPECT_EQ(r.events[0].op, "WRITE_10");
    EXPECT_TRUE(r.events[0].lu.dm_device.empty());
    r.feed(c, {lines[3], lines[4]});
    ASSERT_EQ(r.events.size(), 2u);  // the map's line named dm-0
    EXPECT_TRUE(r.events[1].update);
    EXPECT_EQ(r.events[1].lu.dm_device, "dm-0");
    EXPECT_EQ(r.events[1].count, 1u);
    r.feed(c, std::vector<std::string>(lines.begin() + 5, lines.end()));
    c.finish(r.events);
    const Event& last = r.events.back();
    EXPECT_TRUE(last.update);
    EXPECT_EQ(last.lu.key, r.events[0].lu.key);
    EXPECT_EQ(last.lu.paths.size(), 2u);
    EXPECT_EQ(last.count, 3u);
}

// Live, a tracepoint reports the LU at once by its address; the disk's name in the sd lines that
// follow is no news worth another event (another query of the LU).
TEST(PrexplainCorrelate, LiveDiskNameIsNoUpdate) {
    NullMapper m;
    Correlator c(m);
    Feeder r;
    const auto lines = fixture_lines("prsim-6.1.txt");
    r.feed(c, std::vector<std::string>(lines.begin(), lines.begin() + 5));
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].lu.hctl, "1:0:1:0");
    EXPECT_EQ(r.events[0].op, "READ_10");
}

// Newer kernels' status, two maps, their paths' lines interleaved: one story per map.
TEST(PrexplainCorrelate, TwoMapsInterleaved) {
    auto io = [](const char* hctl, const char* sd, int tag, int lba, const char* dm) {
        char cdb[32];
        std::snprintf(cdb, sizeof cdb, "%02x %02x", lba >> 8, lba & 0xff);
        const std::string h = std::string("sd ") + hctl + ": ";
        return std::vector<std::string>{
            h + "reservation conflict",
            h + "[" + sd + "] tag#" + std::to_string(tag) +
                " FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s",
            h + "[" + sd + "] tag#" + std::to_string(tag) + " CDB: Write(10) 2a 00 00 00 " + cdb +
                " 00 00 08 00",
            std::string("reservation conflict error, dev ") + sd + ", sector " +
                std::to_string(lba) + " op 0x1:(WRITE) flags 0xca00 phys_seg 1 prio class 2",
            std::string("reservation conflict error, dev ") + dm + ", sector " +
                std::to_string(lba) + " op 0x1:(WRITE) flags 0x8800 phys_seg 1 prio class 2"};
    };
    NullMapper m;
    Correlator c(m, held());
    Feeder r;
    for (const auto& v : {io("0:0:0:0", "sda", 1, 0, "dm-0"), io("0:0:0:1", "sdb", 2, 0, "dm-1"),
                          io("2:0:0:0", "sdag", 3, 64, "dm-0"), io("2:0:0:1", "sdah", 4, 8, "dm-1"),
                          io("0:0:0:1", "sdb", 5, 16, "dm-1")})
        r.feed(c, v);
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 2u);
    EXPECT_EQ(r.events[0].lu.dm_device, "dm-0");
    EXPECT_EQ(r.events[0].lu.paths,
              (std::vector<PathName>{{"sda", "0:0:0:0"}, {"sdag", "2:0:0:0"}}));
    EXPECT_EQ(r.events[0].count, 2u);
    EXPECT_EQ(r.events[1].lu.dm_device, "dm-1");
    EXPECT_EQ(r.events[1].lu.paths,
              (std::vector<PathName>{{"sdb", "0:0:0:1"}, {"sdah", "2:0:0:1"}}));
    EXPECT_EQ(r.events[1].count, 3u);
    EXPECT_EQ(r.events[1].commands.size(), 3u);
}

// A disk name that moves (a disk detached, another attached under its name) points at the new
// address; the two LUs stay two.
TEST(PrexplainCorrelate, MovedNameDoesNotMerge) {
    NullMapper m;
    Correlator c(m, held());
    Feeder r;
    r.feed(c, {"[ 1.0] sd 3:0:0:0: [sdc] Attached SCSI disk",
               "[ 2.0] critical nexus error, dev sdc, sector 0 op 0x0:(READ) flags 0x0 phys_seg 1 "
               "prio class 2",
               "[ 3.0] sd 4:0:0:0: [sdc] Attached SCSI disk",
               "[ 4.0] critical nexus error, dev sdc, sector 8 op 0x0:(READ) flags 0x0 phys_seg 1 "
               "prio class 2"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 2u);
    EXPECT_EQ(r.events[0].lu.hctl, "3:0:0:0");
    EXPECT_EQ(r.events[1].lu.hctl, "4:0:0:0");
    EXPECT_EQ(c.stats().merges, 0u);
}

// The disk of an address comes from any earlier "sd H:C:T:L: [sdX] ..." line (the boot's "Attached
// SCSI disk"), also when the conflict's own lines (rate limited) say only the address.
TEST(PrexplainCorrelate, DiskNameFromEarlierLine) {
    NullMapper m;
    Correlator c(m, held());
    Feeder r;
    r.feed(c, {"[ 1.0] sd 0:0:0:10: [sdk] Attached SCSI disk",
               "[ 9.0] sd 0:0:0:10: reservation conflict"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].lu.device, "sdk");
    EXPECT_EQ(r.events[0].lu.paths, (std::vector<PathName>{{"sdk", "0:0:0:10"}}));
}

// Names learned after both LUs exist fold them into one, and a failed I/O split between them is
// counted once.
TEST(PrexplainCorrelate, LateTieFoldsOneIo) {
    NullMapper m;
    Correlator c(m, held());
    Feeder r;
    r.feed(c, {"[ 2.000000] critical nexus error, dev sdx, sector 0 op 0x0:(READ) flags 0x0 "
               "phys_seg 1 prio class 2",
               "[ 2.000001] sd 9:0:0:0: reservation conflict",
               "[ 2.000002] sd 9:0:0:0: [sdx] tag#1 Sense Key : Illegal Request [current]"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].count, 1u);
    EXPECT_EQ(r.events[0].lu.device, "sdx");
    EXPECT_EQ(r.events[0].lu.hctl, "9:0:0:0");
    EXPECT_EQ(c.stats().merges, 1u);
}

// Held: a storm is one event with its command counted; kinds beyond max_commands are counted.
TEST(PrexplainCorrelate, HeldStormAndCommandLimit) {
    FakeMapper m;
    CorrelateOptions o = held();
    o.max_commands = 2;
    Correlator c(m, o);
    Feeder r;
    char buf[160];
    for (int i = 0; i < 300; ++i) {
        std::snprintf(buf, sizeof buf,
                      "[%4d.%06d] critical nexus error, dev sdb, sector %d op 0x1:(WRITE) flags "
                      "0x0 phys_seg 1 prio class 2",
                      10 + i / 100, (i % 100) * 10000, i < 298 ? 8 : i);
        r.feed(c, {buf});
    }
    EXPECT_TRUE(r.events.empty());
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    const Event& e = r.events[0];
    EXPECT_EQ(e.count, 300u);
    ASSERT_EQ(e.commands.size(), 2u);
    EXPECT_EQ(e.commands[0].count, 298u);
    EXPECT_EQ(e.commands[0].first_seen_ns, 10'000'000'000);
    EXPECT_EQ(e.commands[1].sector, 298u);
    EXPECT_EQ(e.unlisted, 1u);
    EXPECT_EQ(e.first_seen_ns, 10'000'000'000);
    EXPECT_EQ(e.last_seen_ns, 12'990'000'000);
}

// The LU is judged on its strictest command: a write among reads and PR OUT.
TEST(PrexplainCorrelate, JudgedOnTheStrictestCommand) {
    NullMapper m;
    Correlator c(m, held());
    Feeder r;
    r.feed(c, {"[ 1.0] sd 0:0:0:1: reservation conflict",
               "[ 1.0] sd 0:0:0:1: [sdb] tag#1 CDB: Read(10) 28 00 00 00 00 00 00 00 08 00",
               "[ 2.0] sd 0:0:0:1: reservation conflict",
               "[ 2.0] sd 0:0:0:1: [sdb] tag#2 CDB: Write(10) 2a 00 00 00 00 20 00 00 08 00",
               "[ 3.0] sd 0:0:0:1: reservation conflict",
               "[ 3.0] sd 0:0:0:1: [sdb] tag#3 CDB: Persistent reserve out 5f 01 03 00 00 00 00 00 "
               "18 00"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].commands.size(), 3u);
    EXPECT_EQ(r.events[0].op, "WRITE_10");
    EXPECT_EQ(r.events[0].access, Access::write);
    EXPECT_EQ(r.events[0].sector, 32u);
}

// A fake sysfs with a dm-multipath map: dm-0 (named as multipathd names it without friendly
// names) over sda at 0:0:0:0 and sdag at 2:0:0:0, one WWID.
struct MultipathSys {
    std::string root, sys, dev;
    MultipathSys() {
        namespace fs = std::filesystem;
        std::string tmpl = (fs::temp_directory_path() / "prexplain-mp-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
        root = tmpl;
        sys = root + "/sys";
        dev = root + "/dev";
        fs::create_directories(dev);
        disk("0:0:0:0", "sda", "8:0", "sg0");
        disk("2:0:0:0", "sdag", "66:0", "sg32");
        const std::string D = sys + "/devices/virtual/block/dm-0";
        write(D + "/dev", "254:0\n");
        write(D + "/dm/name", "360014055052464e00000000000000000\n");
        write(D + "/dm/uuid", "mpath-360014055052464e00000000000000000\n");
        for (const char* s : {"sda", "sdag"}) {
            const std::string rel = rels_.at(s);
            link("../../../../" + rel + "/block/" + s, D + "/slaves/" + s);
            link("../../../../virtual/block/dm-0",
                 sys + "/devices/" + rel + "/block/" + s + "/holders/dm-0");
        }
        link("../devices/virtual/block/dm-0", sys + "/block/dm-0");
        link("../../devices/virtual/block/dm-0", sys + "/class/block/dm-0");
        link("../../devices/virtual/block/dm-0", sys + "/dev/block/254:0");
    }
    ~MultipathSys() {
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    engine::ResolveOptions opts() const { return {.sysfs_root = sys, .dev_root = dev}; }

  private:
    static void write(const std::string& p, const std::string& t) {
        std::filesystem::create_directories(std::filesystem::path(p).parent_path());
        std::ofstream(p) << t;
    }
    static void link(const std::string& target, const std::string& at) {
        std::filesystem::create_directories(std::filesystem::path(at).parent_path());
        std::filesystem::create_symlink(target, at);
    }
    void disk(const std::string& hctl, const std::string& sd, const std::string& num,
              const std::string& sg) {
        const std::string host = hctl.substr(0, hctl.find(':'));
        const std::string rel =
            "platform/host" + host + "/session" + host + "/target" + host + ":0:0/" + hctl;
        const std::string D = sys + "/devices/" + rel;
        write(D + "/wwid", "naa.60014055052464e00000000000000000\n");
        write(D + "/block/" + sd + "/dev", num + "\n");
        link("../../../" + hctl, D + "/block/" + sd + "/device");
        link("../devices/" + rel + "/block/" + sd, sys + "/block/" + sd);
        link("../../devices/" + rel + "/block/" + sd, sys + "/class/block/" + sd);
        link("../../devices/" + rel + "/block/" + sd, sys + "/dev/block/" + num);
        write(D + "/scsi_generic/" + sg + "/dev", "21:0\n");
        link("../../../" + hctl, D + "/scsi_generic/" + sg + "/device");
        link("../../devices/" + rel + "/scsi_generic/" + sg, sys + "/class/scsi_generic/" + sg);
        link("../../../devices/" + rel, sys + "/bus/scsi/devices/" + hctl);
        write(dev + "/" + sg, "");
        write(dev + "/" + sd, "");
        rels_[sd] = "platform/host" + host + "/session" + host + "/target" + host + ":0:0/" + hctl;
    }
    std::map<std::string, std::string> rels_;
};

// The sysfs mapper names the map and both paths from any of their names.
TEST(PrexplainResolve, MultipathMap) {
    MultipathSys t;
    SysfsMapper mapper(t.opts());
    auto a = mapper.by_name("dm-0");
    auto b = mapper.by_hctl(Hctl{2, 0, 0, 0});
    auto d = mapper.by_name("sda");
    ASSERT_TRUE(a && b && d);
    for (const LuIdentity* id : {&*a, &*b, &*d}) {
        EXPECT_EQ(id->key, "naa.60014055052464e00000000000000000");
        EXPECT_EQ(id->dm_device, "dm-0");
        EXPECT_EQ(id->dm_name, "360014055052464e00000000000000000");
        EXPECT_EQ(id->dm_uuid, "mpath-360014055052464e00000000000000000");
        ASSERT_EQ(id->paths.size(), 2u);
    }
    EXPECT_EQ(b->hctl, "2:0:0:0");
    ASSERT_NE(mapper.spec(a->key), nullptr);
    EXPECT_EQ(mapper.spec(a->key)->paths.size(), 2u);
    // Through the mapper, the capture is one story with the map's name.
    Correlator c(mapper, held());
    Feeder r;
    r.feed(c, fixture_lines("multipath-6.1.txt"));
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].lu.wwid, "naa.60014055052464e00000000000000000");
    EXPECT_EQ(r.events[0].lu.dm_name, "360014055052464e00000000000000000");
    EXPECT_EQ(r.events[0].count, 3u);
    EXPECT_EQ(r.events[0].lu.paths.size(), 2u);
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

// NVMe: the driver's line and the block layer's are one failed write on the namespace, named by
// the NVMe opcode; the LBA meets the 512-byte sector at any logical block size.
TEST(PrexplainCorrelate, NvmeConflictIsOneEvent) {
    NullMapper m;
    Correlator c(m);
    Feeder r;
    r.feed(c, {"[  101.203344] nvme1n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc "
               "0x83) MORE DNR ",
               "[  101.203390] reservation conflict error, dev nvme1n4, sector 0 op 0x1:(WRITE) "
               "flags 0x8800 phys_seg 1 prio class 2"});
    ASSERT_EQ(r.events.size(), 1u);  // at once: the driver's line names the command
    const Event& e = r.events[0];
    EXPECT_EQ(e.lu.device, "nvme1n4");
    EXPECT_EQ(e.op, "Write");
    EXPECT_EQ(e.access, Access::write);
    EXPECT_TRUE(e.has_sector);
    EXPECT_EQ(e.sector, 0u);
    EXPECT_EQ(e.blocks, 1u);
    EXPECT_EQ(e.count, 1u);
    c.finish(r.events);
    EXPECT_EQ(r.events.size(), 1u);
    EXPECT_EQ(c.stats().groups, 1u);
    EXPECT_EQ(c.stats().conflict_lines, 2u);

    // 4 KiB blocks: LBA 100 is sector 800. A read, then a Reservation Acquire by passthrough (no
    // block line), on the same namespace: three failed commands, one story, judged on the write.
    Correlator h(m, held());
    Feeder q;
    q.feed(h, {"[  5.0] nvme0n1: I/O Cmd(0x2) @ LBA 100, 2 blocks, I/O Error (sct 0x0 / sc 0x83) "
               "MORE DNR ",
               "[  5.0] reservation conflict error, dev nvme0n1, sector 800 op 0x0:(READ) flags "
               "0x0 phys_seg 1 prio class 2",
               "[  6.0] nvme0n1: I/O Cmd(0x1) @ LBA 8, 1 blocks, I/O Error (sct 0x0 / sc 0x83) "
               "MORE DNR ",
               "[  6.0] reservation conflict error, dev nvme0n1, sector 64 op 0x1:(WRITE) flags "
               "0x8800 phys_seg 1 prio class 2",
               "[  7.0] nvme0n1: Reservation Acquire(0x11), Reservation Conflict (sct 0x0 / sc "
               "0x83) DNR cdw10=0x201 cdw11=0x0 cdw12=0x0 cdw13=0x0 cdw14=0x0 cdw15=0x0"});
    h.finish(q.events);
    ASSERT_EQ(q.events.size(), 1u);
    const Event& f = q.events[0];
    EXPECT_EQ(f.count, 3u);
    ASSERT_EQ(f.commands.size(), 3u);
    EXPECT_EQ(f.commands[0].op, "Read");
    EXPECT_EQ(f.commands[0].access, Access::read);
    EXPECT_EQ(f.commands[0].sector, 800u);  // the block layer's sector wins, as for SCSI
    EXPECT_EQ(f.commands[0].blocks, 2u);
    EXPECT_EQ(f.commands[1].op, "Write");
    EXPECT_EQ(f.commands[2].op, "Reservation Acquire");
    EXPECT_EQ(f.commands[2].access, Access::pr_out);
    EXPECT_FALSE(f.commands[2].has_sector);
    EXPECT_EQ(f.op, "Write");
    EXPECT_EQ(h.stats().groups, 3u);

    // A block line whose sector is no multiple of the LBA is another request.
    Correlator o(m, held());
    Feeder w;
    w.feed(o,
           {"[  5.0] nvme0n1: I/O Cmd(0x1) @ LBA 3, 1 blocks, I/O Error (sct 0x0 / sc 0x83) DNR ",
            "[  5.0] reservation conflict error, dev nvme0n1, sector 5 op 0x1:(WRITE) flags "
            "0x8800 phys_seg 1 prio class 2"});
    o.finish(w.events);
    ASSERT_EQ(w.events.size(), 1u);
    EXPECT_EQ(w.events[0].count, 2u);
}

// A path of a native multipath head (nvme1c2n4) and the head (nvme1n4) are one namespace; the
// command keeps the path. Partitions stand for their namespace. Other statuses are no conflict.
TEST(PrexplainCorrelate, NvmeNamesAndOtherStatuses) {
    NullMapper m;
    Correlator c(m, held());
    Feeder r;
    r.feed(c,
           {"[  1.0] nvme1c2n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x83) "
            "MORE DNR ",
            "[  1.0] reservation conflict error, dev nvme1c2n4, sector 0 op 0x1:(WRITE) flags "
            "0x8800 phys_seg 1 prio class 2",
            "[  2.0] critical nexus error, dev nvme1n4p1, sector 2048 op 0x1:(WRITE) flags "
            "0x8800 phys_seg 1 prio class 2",
            "[  3.0] nvme1n5: I/O Cmd(0x2) @ LBA 0, 8 blocks, I/O Error (sct 0x2 / sc 0x81) DNR ",
            "[  3.0] critical medium error, dev nvme1n5, sector 0 op 0x0:(READ) flags 0x0 "
            "phys_seg 1 prio class 2"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    const Event& e = r.events[0];
    EXPECT_EQ(e.lu.key, "dev:nvme1n4");
    EXPECT_EQ(e.count, 2u);
    ASSERT_EQ(e.commands.size(), 2u);
    EXPECT_EQ(e.commands[0].device, "nvme1c2n4");
    EXPECT_EQ(e.commands[1].device, "nvme1n4");
}

// Reservation notifications: per controller, one AEN seen as the tracepoint and as both copies
// of its uevent counts once; other asynchronous events and a NVME_AEN outside a uevent are not
// notifications. Live: at once; held: one per controller at the end. Never a conflict event.
TEST(PrexplainCorrelate, NvmeNotifications) {
    const std::vector<std::string> lines = {
        "   kworker/0:1H-54 [000] ..... 230.114421: nvme_async_event: nvme0: NVME_AEN=0x800006 "
        "[NVME_AER_CSS]",
        "KERNEL[230.114500] change   /devices/virtual/nvme-fabrics/ctl/nvme0 (nvme)",
        "ACTION=change",
        "DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme0",
        "SUBSYSTEM=nvme",
        "NVME_AEN=0x800006",
        "UDEV  [230.130000] change   /devices/virtual/nvme-fabrics/ctl/nvme0 (nvme)",
        "NVME_AEN=0x800006",
        "   kworker/0:1H-54 [000] ..... 231.000000: nvme_async_event: nvme0: NVME_AEN=0x000002 "
        "[NVME_AER_NOTICE_NS_CHANGED]",
        "NVME_AEN=0x800006",  // no uevent header before it: whose?
        "   kworker/1:1H-60 [001] ..... 240.000000: nvme_async_event: nvme0: NVME_AEN=0x800006 "
        "[NVME_AER_CSS]",
        "   kworker/1:1H-60 [001] ..... 240.500000: nvme_async_event: nvme2: NVME_AEN=0x800006 "
        "[NVME_AER_CSS]",
    };
    NullMapper m;
    {
        Correlator c(m);
        Feeder r;
        std::vector<Notification> n;
        int64_t arrival = 0;
        for (const auto& l : lines)
            if (auto p = parse_line(l)) {
                c.feed(*p, arrival += 1'000'000, r.events);
                c.take_notifications(n);
            }
        c.finish(r.events);
        c.take_notifications(n);
        EXPECT_TRUE(r.events.empty());
        ASSERT_EQ(n.size(), 3u);
        EXPECT_EQ(n[0].ctrl, "nvme0");
        EXPECT_EQ(n[0].aen, 0x800006u);
        EXPECT_EQ(n[0].count, 1u);
        EXPECT_FALSE(n[0].update);
        EXPECT_EQ(n[0].source, Source::trace);
        EXPECT_EQ(n[0].first_seen_ns, 230'114'421'000);
        EXPECT_EQ(n[1].ctrl, "nvme0");
        EXPECT_EQ(n[1].count, 2u);
        EXPECT_TRUE(n[1].update);
        EXPECT_EQ(n[1].last_seen_ns, 240'000'000'000);
        EXPECT_EQ(n[2].ctrl, "nvme2");
        EXPECT_EQ(c.stats().notifications, 3u);
    }
    {
        Correlator c(m, held());
        Feeder r;
        std::vector<Notification> n;
        for (const auto& l : lines)
            if (auto p = parse_line(l)) {
                c.feed(*p, 0, r.events);
                c.take_notifications(n);
            }
        EXPECT_TRUE(n.empty());
        c.finish(r.events);
        c.take_notifications(n);
        EXPECT_TRUE(r.events.empty());
        ASSERT_EQ(n.size(), 2u);
        EXPECT_EQ(n[0].ctrl, "nvme0");
        EXPECT_EQ(n[0].count, 2u);
        EXPECT_EQ(n[0].first_seen_ns, 230'114'421'000);
        EXPECT_EQ(n[0].last_seen_ns, 240'000'000'000);
        EXPECT_EQ(n[1].ctrl, "nvme2");
        EXPECT_EQ(n[1].count, 1u);
    }
    {
        // The uevent alone (udevadm monitor, or --uevent): its time is the header's; without
        // times, arrival decides what is one event.
        Correlator c(m);
        Feeder r;
        std::vector<Notification> n;
        int64_t arrival = 0;
        for (const char* l :
             {"change@/devices/virtual/nvme-fabrics/ctl/nvme3", "NVME_AEN=0x800006",
              "change@/devices/virtual/nvme-fabrics/ctl/nvme3", "NVME_AEN=0x800006"})
            if (auto p = parse_line(l)) {
                c.feed(*p, arrival += 2'000'000'000, r.events);
                c.take_notifications(n);
            }
        ASSERT_EQ(n.size(), 2u);
        EXPECT_TRUE(n[0].uevent);
        EXPECT_FALSE(n[0].has_time);
        EXPECT_EQ(n[1].count, 2u);
    }
}

// NVMe in sysfs: the mapper names a namespace with its NSID and controller; our host identifier is
// the controller's hostid (a native multipath head's: its controllers'); a controller's namespaces
// are its nvmeXnY entries and the heads of its paths.
TEST(PrexplainResolve, NvmeNamespaces) {
    namespace fs = std::filesystem;
    std::string tmpl = (fs::temp_directory_path() / "prexplain-nvme-XXXXXX").string();
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
    const std::string rel = "virtual/nvme-fabrics/ctl/nvme1";
    const std::string C = sys + "/devices/" + rel;
    write(C + "/dev", "243:1\n");
    write(C + "/hostid", "5052464e-0000-4000-8000-00000000000b\n");
    link("../../devices/" + rel, sys + "/class/nvme/nvme1");
    int minor = 0;
    for (int head : {4, 10}) {
        const std::string blk = "nvme1n" + std::to_string(head), ng = "ng1n" + std::to_string(head);
        const std::string B = C + "/" + blk, G = C + "/" + ng;
        write(B + "/dev", "259:" + std::to_string(minor) + "\n");
        write(B + "/nsid", std::to_string(head + 1) + "\n");
        write(B + "/wwid",
              "uuid.0000000" + std::to_string(head) + "-0000-4000-8000-000000000000\n");
        link("../../nvme1", B + "/device");
        link("../devices/" + rel + "/" + blk, sys + "/block/" + blk);
        link("../../devices/" + rel + "/" + blk, sys + "/class/block/" + blk);
        write(G + "/dev", "242:" + std::to_string(minor++) + "\n");
        link("../../devices/" + rel + "/" + ng, sys + "/class/nvme-generic/" + ng);
        write(dev + "/" + blk, "");
        write(dev + "/" + ng, "");
    }
    // A second controller carrying the path of a multipath head of subsystem 3, and the
    // subsystem's directory listing both controllers.
    const std::string rel2 = "virtual/nvme-fabrics/ctl/nvme2";
    write(sys + "/devices/" + rel2 + "/hostid", "5052464e-0000-4000-8000-00000000000b\n");
    write(sys + "/devices/" + rel2 + "/nvme3c2n1/nsid", "1\n");
    link("../../devices/" + rel2, sys + "/class/nvme/nvme2");
    fs::create_directories(sys + "/devices/virtual/nvme-subsystem/nvme-subsys3");
    link("../../devices/virtual/nvme-subsystem/nvme-subsys3",
         sys + "/class/nvme-subsystem/nvme-subsys3");
    link("../../nvme-fabrics/ctl/nvme2",
         sys + "/devices/virtual/nvme-subsystem/nvme-subsys3/nvme2");
    const engine::ResolveOptions opt{.sysfs_root = sys, .dev_root = dev};

    SysfsMapper mapper(opt);
    auto a = mapper.by_name("nvme1n4");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->device, "nvme1n4");
    EXPECT_EQ(a->nsid, 5u);
    EXPECT_EQ(a->ctrl, "nvme1");
    EXPECT_EQ(a->wwid, "uuid.00000004-0000-4000-8000-000000000000");
    ASSERT_NE(mapper.spec(a->key), nullptr);
    EXPECT_EQ(mapper.spec(a->key)->paths.at(0).ng_node, dev + "/ng1n4");
    EXPECT_FALSE(mapper.by_name("nvme1n7").has_value());

    const auto id = controller_hostid(sys, "nvme1");
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(hostid_text(*id), "5052464e-0000-4000-8000-00000000000b");
    const auto sub = controller_hostid(sys, "nvme-subsys3");
    ASSERT_TRUE(sub.has_value());
    EXPECT_EQ(*sub, *id);
    EXPECT_FALSE(controller_hostid(sys, "nvme9").has_value());
    EXPECT_FALSE(controller_hostid(sys, "").has_value());

    EXPECT_EQ(controller_namespaces(sys, "nvme1"),
              (std::vector<std::string>{"nvme1n4", "nvme1n10"}));
    EXPECT_EQ(controller_namespaces(sys, "nvme2"), (std::vector<std::string>{"nvme3n1"}));
    EXPECT_TRUE(controller_namespaces(sys, "nvme9").empty());

    // Through the mapper, the kernel's two lines are one story with the namespace's names.
    Correlator c(mapper, held());
    Feeder r;
    r.feed(c, {"nvme1n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x83) MORE DNR ",
               "reservation conflict error, dev nvme1n4, sector 0 op 0x1:(WRITE) flags 0x8800 "
               "phys_seg 1 prio class 2"});
    c.finish(r.events);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].lu.key, "uuid.00000004-0000-4000-8000-000000000000");
    EXPECT_EQ(r.events[0].lu.nsid, 5u);
    fs::remove_all(root);
}

}  // namespace
}  // namespace prfence::prexplain
