// SPDX-License-Identifier: MIT
// prbench's blkpr and mpathpersist backends without a LU: the kernel ioctls' arguments and type
// numbers, the fence loop of one LU against scripted kernel answers (retries, failures,
// verification), mpathpersist's command lines, and the skip rules that keep both backends from
// cells they cannot run (prsim LUs, no dm map, no block device, mpathpersist or multipathd absent).
#include <gtest/gtest.h>
#include <scsi/sg.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tools/prbench/backend.h"
#include "tools/prbench/blkpr.h"
#include "tools/prbench/matrix.h"
#include "tools/prbench/process_baseline.h"
#include "tools/prbench/steps.h"
#include "uring_engine/common/bytes.h"

namespace prfence::bench {
namespace {

namespace fs = std::filesystem;

// A temporary directory, removed at the end of the test.
struct TempDir {
    fs::path p;
    TempDir() {
        std::string t = (fs::temp_directory_path() / "prbench-kb-XXXXXX").string();
        p = ::mkdtemp(t.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(p, ec);
    }
    void write(const std::string& rel, const std::string& text) const {
        fs::create_directories((p / rel).parent_path());
        std::ofstream(p / rel) << text;
    }
};

TEST(KernelBackends, InTheTable) {
    for (Backend b : {Backend::blkpr, Backend::mpathpersist}) {
        EXPECT_EQ(parse_backend(backend_name(b)), b);
        EXPECT_EQ(backend_info(b).id, b);
        EXPECT_FALSE(is_engine_backend(b));
        EXPECT_FALSE(backend_info(b).sweeps_qd);
    }
    EXPECT_STREQ(backend_name(Backend::blkpr), "blkpr");
    EXPECT_EQ(backend_info(Backend::blkpr).tool, nullptr);
    EXPECT_EQ(backend_info(Backend::mpathpersist).tool, &Config::mpathpersist);
}

TEST(Blkpr, TypesAreLinuxPrTypeNotScsiCodes) {
    EXPECT_EQ(pr_type_of(wire::PrType::write_exclusive), 1u);
    EXPECT_EQ(pr_type_of(wire::PrType::exclusive_access), 2u);
    EXPECT_EQ(pr_type_of(wire::PrType::write_exclusive_registrants_only), 3u);
    EXPECT_EQ(pr_type_of(wire::PrType::exclusive_access_registrants_only), 4u);
    EXPECT_EQ(pr_type_of(wire::PrType::write_exclusive_all_registrants), 5u);
    EXPECT_EQ(pr_type_of(wire::PrType::exclusive_access_all_registrants), 6u);
    EXPECT_EQ(pr_type_of(wire::PrType::none), 0u);
}

TEST(Blkpr, IoctlArguments) {
    PrIoctl r = ioc_register_ignore(0xb2);
    EXPECT_EQ(r.req, static_cast<unsigned long>(IOC_PR_REGISTER));
    EXPECT_STREQ(r.name, "IOC_PR_REGISTER");
    EXPECT_EQ(r.arg.reg.old_key, 0u);
    EXPECT_EQ(r.arg.reg.new_key, 0xb2u);
    EXPECT_EQ(r.arg.reg.flags, static_cast<uint32_t>(PR_FL_IGNORE_KEY));
    PrIoctl pa = ioc_preempt(0xb2, 0xa1, wire::PrType::write_exclusive_registrants_only, true);
    EXPECT_EQ(pa.req, static_cast<unsigned long>(IOC_PR_PREEMPT_ABORT));
    EXPECT_STREQ(pa.name, "IOC_PR_PREEMPT_ABORT");
    EXPECT_EQ(pa.arg.pre.old_key, 0xb2u) << "sd sends old_key as the RESERVATION KEY";
    EXPECT_EQ(pa.arg.pre.new_key, 0xa1u) << "and new_key as the SERVICE ACTION RESERVATION KEY";
    EXPECT_EQ(pa.arg.pre.type, 3u);
    EXPECT_EQ(pa.arg.pre.flags, 0u) << "6.1 refuses any flag on PREEMPT";
    PrIoctl p = ioc_preempt(1, 2, wire::PrType::exclusive_access, false);
    EXPECT_EQ(p.req, static_cast<unsigned long>(IOC_PR_PREEMPT));
    EXPECT_EQ(p.arg.pre.type, 2u);
}

TEST(Blkpr, ResultText) {
    EXPECT_EQ(pr_result_text(0, 0), "GOOD");
    EXPECT_EQ(pr_result_text(0x18, 0), "SCSI result 0x18 (RESERVATION CONFLICT)");
    EXPECT_EQ(pr_result_text(2, 0), "SCSI result 0x2 (CHECK CONDITION)");
    EXPECT_EQ(pr_result_text(0x10000, 0), "SCSI result 0x10000 (DID_NO_CONNECT)");
    EXPECT_EQ(pr_result_text(-1, EOPNOTSUPP),
              "errno " + std::to_string(EOPNOTSUPP) + " (" + std::strerror(EOPNOTSUPP) + ")");
}

// ---- the fence loop of one LU against a scripted kernel

struct Script {
    int open_errno = 0;
    std::vector<int> register_rc, preempt_rc;  // consumed in order; then 0
    std::vector<uint8_t> sg_status;            // consumed in order; then GOOD
    uint8_t sg_sense_key = 6;
    bool reserved = true;
    uint64_t holder = 0xb2;
    std::vector<std::string> calls;
    int closed = 0;
    PrIoctl last_register, last_preempt;
};
Script* g_script = nullptr;

int take(std::vector<int>& v) {
    if (v.empty()) return 0;
    int r = v.front();
    v.erase(v.begin());
    return r;
}

int fake_open(const char* path, int) {
    g_script->calls.push_back(std::string("open ") + path);
    if (g_script->open_errno) {
        errno = g_script->open_errno;
        return -1;
    }
    return 7;
}
int fake_close(int fd) {
    g_script->calls.push_back("close " + std::to_string(fd));
    ++g_script->closed;
    return 0;
}
int fake_ioctl(int, unsigned long req, void* arg) {
    Script& s = *g_script;
    if (req == IOC_PR_REGISTER) {
        s.calls.push_back("register");
        std::memcpy(&s.last_register.arg.reg, arg, sizeof(pr_registration));
        const int rc = take(s.register_rc);
        if (rc < 0) errno = EOPNOTSUPP;
        return rc;
    }
    if (req == IOC_PR_PREEMPT_ABORT) {
        s.calls.push_back("preempt-abort");
        std::memcpy(&s.last_preempt.arg.pre, arg, sizeof(pr_preempt));
        return take(s.preempt_rc);
    }
    if (req == SG_IO) {
        auto* h = static_cast<sg_io_hdr_t*>(arg);
        s.calls.push_back("sg_io " + hex_u64(h->cmdp[0]) + "/" + hex_u64(h->cmdp[1]));
        h->status = 0;
        h->host_status = 0;
        h->resid = 0;
        if (!s.sg_status.empty()) {
            h->status = s.sg_status.front();
            s.sg_status.erase(s.sg_status.begin());
            if (h->status == 2) {
                auto* sense = static_cast<uint8_t*>(h->sbp);
                sense[0] = 0x70;
                sense[2] = s.sg_sense_key;
            }
            return 0;
        }
        auto* d = static_cast<uint8_t*>(h->dxferp);
        std::memset(d, 0, h->dxfer_len);
        d[3] = 9;  // generation
        if (s.reserved) {
            d[7] = 0x10;
            for (int i = 0; i < 8; ++i) d[8 + i] = static_cast<uint8_t>(s.holder >> (56 - 8 * i));
            d[21] = 0x05;
        } else {
            h->resid = static_cast<int>(h->dxfer_len) - 8;
        }
        return 0;
    }
    errno = ENOTTY;
    return -1;
}
const SysOps kFake{fake_open, fake_close, fake_ioctl};

BlkprFence fence_with(Script& s) {
    g_script = &s;
    BlkprFence f = blkpr_fence(kFake, "/dev/mapper/m0", 0xb2, 0xa1,
                               wire::PrType::write_exclusive_registrants_only);
    g_script = nullptr;
    return f;
}

TEST(BlkprFence, RegistersPreemptsAndVerifiesOnOneOpenDescriptor) {
    Script s;
    BlkprFence f = fence_with(s);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(s.calls, (std::vector<std::string>{"open /dev/mapper/m0", "register", "preempt-abort",
                                                 "sg_io 0x5e/0x1", "close 7"}));
    EXPECT_EQ(s.last_register.arg.reg.new_key, 0xb2u);
    EXPECT_EQ(s.last_register.arg.reg.flags, static_cast<uint32_t>(PR_FL_IGNORE_KEY));
    EXPECT_EQ(s.last_preempt.arg.pre.old_key, 0xb2u);
    EXPECT_EQ(s.last_preempt.arg.pre.new_key, 0xa1u);
    EXPECT_EQ(s.last_preempt.arg.pre.type, 3u);
    EXPECT_EQ(f.clat.size(), 3u);
    EXPECT_EQ(f.retries, 0u);
    EXPECT_GT(f.ns, 0u);
}

TEST(BlkprFence, CheckConditionIsSentAgainAtMostThreeTimes) {
    Script s;
    s.register_rc = {2};
    s.sg_status = {2};  // a unit attention on READ RESERVATION
    BlkprFence f = fence_with(s);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(f.retries, 2u);
    EXPECT_EQ(f.clat.size(), 5u);

    Script again;
    again.preempt_rc = {2, 2, 2, 2};
    f = fence_with(again);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.retries, 3u);
    EXPECT_EQ(f.error, "IOC_PR_PREEMPT_ABORT: SCSI result 0x2 (CHECK CONDITION)");
    EXPECT_EQ(again.closed, 1);
}

TEST(BlkprFence, AFailureEndsTheLuAndIsNamed) {
    Script conflict;
    conflict.preempt_rc = {0x18};
    BlkprFence f = fence_with(conflict);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "IOC_PR_PREEMPT_ABORT: SCSI result 0x18 (RESERVATION CONFLICT)");
    EXPECT_EQ(conflict.calls.back(), "close 7");
    EXPECT_EQ(std::count(conflict.calls.begin(), conflict.calls.end(), "sg_io 0x5e/0x1"), 0)
        << "no verification after a failed preempt";

    Script refused;
    refused.register_rc = {-1};
    f = fence_with(refused);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "IOC_PR_REGISTER: errno " + std::to_string(EOPNOTSUPP) + " (" +
                           std::strerror(EOPNOTSUPP) + ")");

    Script gone;
    gone.open_errno = ENOENT;
    f = fence_with(gone);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error,
              "open: errno " + std::to_string(ENOENT) + " (" + std::strerror(ENOENT) + ")");
    EXPECT_EQ(gone.calls, (std::vector<std::string>{"open /dev/mapper/m0"}));

    Script sense;
    sense.sg_status = {2};
    sense.sg_sense_key = 5;  // ILLEGAL REQUEST: not a unit attention, not sent again
    f = fence_with(sense);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "SG_IO READ RESERVATION: SCSI result 0x2 (CHECK CONDITION)");
}

TEST(BlkprFence, VerificationWantsTheFencerHolding) {
    Script other;
    other.holder = 0xa1;
    BlkprFence f = fence_with(other);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "after IOC_PR_PREEMPT_ABORT: the reservation is held by 0xa1, not by 0xb2");
    Script none;
    none.reserved = false;
    f = fence_with(none);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "after IOC_PR_PREEMPT_ABORT: no reservation, not by 0xb2");
}

// ---- mpathpersist

TEST(Mpathpersist, Arguments) {
    Config c;
    c.type = wire::PrType::write_exclusive_registrants_only;
    EXPECT_EQ(mpathpersist_args({1, Act::read_keys}, c),
              (std::vector<std::string>{"--in", "--read-keys"}));
    EXPECT_EQ(mpathpersist_args({1, Act::preempt_abort, 0xa1, 0xb2}, c),
              (std::vector<std::string>{"--out", "--preempt-abort", "--param-rk=0xa1",
                                        "--param-sark=0xb2", "--prout-type=5"}));
    EXPECT_EQ(mpathpersist_args({1, Act::read_reservation}, c),
              (std::vector<std::string>{"--in", "--read-reservation"}));
    EXPECT_EQ(mpathpersist_args({0, Act::register_ignore, 0xa1}, c),
              (std::vector<std::string>{"--out", "--register-ignore", "--param-sark=0xa1"}));
    EXPECT_TRUE(mpathpersist_args({1, Act::fence, 1, 2}, c).empty());
}

BenchLun map_lun(const std::string& map) {
    BenchLun l;
    l.name = "lu0";
    l.a.sg_node = "/dev/sg0";
    l.a.block = "/dev/sda";
    l.b.sg_node = "/dev/sg1";
    l.b.block = "/dev/sdb";
    l.has_b = true;
    l.b_map = map;
    return l;
}

TEST(Mpathpersist, CommandLineOnTheMapAndUnitAttentionsSentAgain) {
    TempDir t;
    t.write("ua.sh", "#!/bin/sh\nexit 6\n");
    fs::permissions(t.p / "ua.sh", fs::perms::owner_all);
    Config c;
    c.mpathpersist = "/bin/false";
    ProcessBaseline bl(c);
    const BenchLun l = map_lun("/dev/mapper/3600140");
    std::string err;
    std::vector<uint64_t> clat;
    uint64_t retries = 0, ns = 0;
    EXPECT_EQ(bl.mpathpersist({1, Act::read_keys}, l, &clat, &retries, &ns, &err), 1);
    EXPECT_EQ(err, "lu0: `/bin/false --in --read-keys /dev/mapper/3600140` exit 1");
    EXPECT_EQ(clat.size(), 1u);
    c.mpathpersist = (t.p / "ua.sh").string();
    ProcessBaseline ua(c);
    err.clear();
    clat.clear();
    EXPECT_EQ(ua.mpathpersist({1, Act::read_keys}, l, &clat, &retries, &ns, &err), 6);
    EXPECT_EQ(retries, 4u) << "sent 4 times, each answer a unit attention";
    EXPECT_EQ(clat.size(), 4u);
}

// ---- skip rules

std::string why(const Config& c, Workload w, Backend b, bool sim) {
    Cell cell{w, w == Workload::fence ? "fence" : "read-keys", c.luns.size(), b, 1};
    return skip_reason(c, cell, sim, true).value_or("(runs)");
}

TEST(KernelBackendSkips, EachRuleWithItsText) {
    TempDir proc;
    proc.write("1/comm", "init\n");
    proc.write("42/comm", "multipathd\n");
    proc.write("self/comm", "multipathd\n");  // not a PID directory: not looked at
    Config c;
    c.luns = {map_lun("/dev/mapper/m0"), map_lun("/dev/mapper/m1")};
    c.mpathpersist = "sh";  // found in PATH
    c.proc_root = proc.p.string();
    EXPECT_EQ(why(c, Workload::fence, Backend::blkpr, false), "(runs)");
    EXPECT_EQ(why(c, Workload::fence, Backend::mpathpersist, false), "(runs)");
    for (Backend b : {Backend::blkpr, Backend::mpathpersist}) {
        EXPECT_EQ(why(c, Workload::op, b, false),
                  std::string(backend_name(b)) + " only fences (workload fence)");
        EXPECT_EQ(why(c, Workload::pingpong, b, false),
                  std::string(backend_name(b)) + " only fences (workload fence)");
    }
    EXPECT_EQ(why(c, Workload::fence, Backend::blkpr, true),
              "the kernel's PR ioctls need a kernel block device; prsim LUs have none in "
              "prbench's process (the prsim-run shim serves other processes, and answers SG_IO, "
              "not IOC_PR_*)");
    EXPECT_EQ(why(c, Workload::fence, Backend::mpathpersist, true),
              "mpathpersist acts on dm-multipath maps; prsim LUs have none");

    Config sd = c;
    sd.luns[1].b_map.clear();  // an sd disk: blkpr acts on it, mpathpersist cannot
    EXPECT_EQ(why(sd, Workload::fence, Backend::blkpr, false), "(runs)");
    EXPECT_EQ(why(sd, Workload::fence, Backend::mpathpersist, false),
              "mpathpersist acts on dm-multipath maps only: give node B's LUs as "
              "/dev/mapper/NAME (--node-b)");
    sd.luns[1].b.block.clear();  // an sg node alone
    EXPECT_EQ(why(sd, Workload::fence, Backend::blkpr, false),
              "node B has no block device for some LU (an sg node alone): the PR ioctls need "
              "/dev/sdX or /dev/mapper/NAME");

    Config missing = c;
    missing.mpathpersist = "/nonexistent/mpathpersist";
    EXPECT_EQ(why(missing, Workload::fence, Backend::mpathpersist, false),
              "/nonexistent/mpathpersist is not installed (Debian: apt-get install "
              "multipath-tools)");

    TempDir quiet;
    quiet.write("1/comm", "init\n");
    quiet.write("7/comm", "multipath\n");
    Config no_daemon = c;
    no_daemon.proc_root = quiet.p.string();
    EXPECT_EQ(why(no_daemon, Workload::fence, Backend::mpathpersist, false),
              "multipathd is not running (mpathpersist works with the maps and reservation_key "
              "it manages)");
    EXPECT_EQ(why(no_daemon, Workload::fence, Backend::blkpr, false), "(runs)");
}

TEST(KernelBackendSkips, ProcessRunningReadsComm) {
    TempDir proc;
    proc.write("12/comm", "multipathd\n");
    EXPECT_TRUE(process_running(proc.p.string(), "multipathd"));
    EXPECT_FALSE(process_running(proc.p.string(), "multipath"));
    EXPECT_FALSE(process_running((proc.p / "absent").string(), "multipathd"));
}

TEST(DmMapNode, OnlyForALuResolvedThroughAMapWhoseNodeExists) {
    TempDir dev;
    dev.write("mapper/3600140abc", "");
    engine::LunSpec l;
    l.name = "3600140abc";
    l.paths.resize(2);
    EXPECT_EQ(dm_map_node(l, dev.p.string()), dev.p.string() + "/mapper/3600140abc");
    l.name = "/dev/sdb";
    EXPECT_EQ(dm_map_node(l, dev.p.string()), "");
    l.name = "mpathz";  // no such node
    EXPECT_EQ(dm_map_node(l, dev.p.string()), "");
    l.name = "sim:/tmp/s:0";
    l.paths[0].kind = engine::PathSpec::Kind::sim;
    EXPECT_EQ(dm_map_node(l, dev.p.string()), "");
}

}  // namespace
}  // namespace prfence::bench
