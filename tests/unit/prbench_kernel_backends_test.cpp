// SPDX-License-Identifier: MIT
// prbench's blkpr, mpathpersist and nvme-cli backends without a LU: the kernel ioctls' arguments
// and type numbers, the fence loop of one LU (SCSI and NVMe) against scripted kernel answers
// (retries, failures, verification, never the key-0 register on NVMe), mpathpersist's and
// nvme-cli's command lines, nvme-cli's report parsed, one namespace's nvme-cli fence against a
// scripted nvme, and the skip rules that keep the backends from cells they cannot run (prsim LUs,
// no dm map, no block device, SCSI tools on NVMe namespaces, a tool or multipathd absent).
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
#include "tools/prbench/nvme_cli.h"
#include "tools/prbench/process_baseline.h"
#include "tools/prbench/rig.h"
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
    for (Backend b : {Backend::blkpr, Backend::mpathpersist, Backend::nvme_cli}) {
        EXPECT_EQ(parse_backend(backend_name(b)), b);
        EXPECT_EQ(backend_info(b).id, b);
        EXPECT_FALSE(is_engine_backend(b));
        EXPECT_FALSE(backend_info(b).sweeps_qd);
    }
    EXPECT_STREQ(backend_name(Backend::blkpr), "blkpr");
    EXPECT_EQ(backend_info(Backend::blkpr).tool, nullptr);
    EXPECT_EQ(backend_info(Backend::mpathpersist).tool, &Config::mpathpersist);
    EXPECT_STREQ(backend_name(Backend::nvme_cli), "nvme-cli");
    EXPECT_EQ(backend_info(Backend::nvme_cli).tool, &Config::nvme);
    EXPECT_EQ(Config{}.nvme, "nvme");
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

// ---- blkpr on NVMe namespaces

TEST(BlkprNvme, ReadIoctlsHaveTheKernelsNumbers) {
    // _IOWR('p', 206, 16 bytes) and _IOR('p', 207, 16 bytes), as linux/pr.h of 6.19 defines them.
    EXPECT_EQ(sizeof(PrReadKeys), 16u);
    EXPECT_EQ(sizeof(PrReadReservation), 16u);
    EXPECT_EQ(kIocPrReadKeys, 0xc01070ceul);
    EXPECT_EQ(kIocPrReadReservation, 0x801070cful);
    PrIoctl r = ioc_register_new(0xb2);
    EXPECT_EQ(r.req, static_cast<unsigned long>(IOC_PR_REGISTER));
    EXPECT_EQ(r.arg.reg.old_key, 0u);
    EXPECT_EQ(r.arg.reg.new_key, 0xb2u);
    EXPECT_EQ(r.arg.reg.flags, 0u) << "IGNORE_KEY on NVMe is a Register with IEKEY";
}

TEST(BlkprNvme, StatusText) {
    EXPECT_EQ(pr_status_text(0, 0), "GOOD");
    EXPECT_EQ(pr_status_text(0x18, 0), "pr_status 0x18 (PR_STS_RESERVATION_CONFLICT)");
    EXPECT_EQ(pr_status_text(0x2, 0), "pr_status 0x2 (PR_STS_IOERR)");
    EXPECT_EQ(pr_status_text(0x10000, 0), "pr_status 0x10000 (PR_STS_PATH_FAILED)");
    EXPECT_EQ(pr_status_text(0x7, 0), "pr_status 0x7 (unknown)");
    EXPECT_EQ(pr_status_text(-1, EINVAL),
              "errno " + std::to_string(EINVAL) + " (" + std::strerror(EINVAL) + ")");
}

// A scripted NVMe block device: its keys, the reservation the read ioctl reports, and answers.
struct NvScript {
    std::vector<uint64_t> keys{0xa1, 0xb2};
    int read_keys_errno = 0;  // non-zero: IOC_PR_READ_KEYS fails with it
    int register_rc = 0, preempt_rc = 0;
    uint64_t holder = 0xb2;
    uint32_t type = 2;  // enum pr_type of the reservation after the preempt; 0: none
    std::vector<std::string> calls;
    pr_registration reg{};
    pr_preempt pre{};
};
NvScript* g_nv = nullptr;

int nv_ioctl(int, unsigned long req, void* arg) {
    NvScript& s = *g_nv;
    if (req == kIocPrReadKeys) {
        s.calls.push_back("read-keys");
        if (s.read_keys_errno) {
            errno = s.read_keys_errno;
            return -1;
        }
        auto* rk = static_cast<PrReadKeys*>(arg);
        auto* out = reinterpret_cast<uint64_t*>(static_cast<uintptr_t>(rk->keys_ptr));
        for (size_t i = 0; i < s.keys.size() && i < rk->num_keys; ++i) out[i] = s.keys[i];
        rk->num_keys = static_cast<uint32_t>(s.keys.size());
        rk->generation = 4;
        return 0;
    }
    if (req == IOC_PR_REGISTER) {
        std::memcpy(&s.reg, arg, sizeof s.reg);
        s.calls.push_back("register " + hex_u64(s.reg.old_key) + "->" + hex_u64(s.reg.new_key));
        return s.register_rc;
    }
    if (req == IOC_PR_PREEMPT_ABORT) {
        s.calls.push_back("preempt-abort");
        std::memcpy(&s.pre, arg, sizeof s.pre);
        return s.preempt_rc;
    }
    if (req == kIocPrReadReservation) {
        s.calls.push_back("read-reservation");
        auto* rr = static_cast<PrReadReservation*>(arg);
        rr->key = s.type ? s.holder : 0;
        rr->type = s.type;
        rr->generation = 5;
        return 0;
    }
    s.calls.push_back("other " + hex_u64(req));
    errno = ENOTTY;
    return -1;
}
int nv_open(const char* path, int) {
    g_nv->calls.push_back(std::string("open ") + path);
    return 9;
}
int nv_close(int) {
    g_nv->calls.push_back("close");
    return 0;
}
const SysOps kNvFake{nv_open, nv_close, nv_ioctl};

BlkprFence nv_fence_with(NvScript& s) {
    g_nv = &s;
    BlkprFence f =
        blkpr_fence_nvme(kNvFake, "/dev/nvme1n3", 0xb2, 0xa1, wire::PrType::exclusive_access);
    g_nv = nullptr;
    return f;
}

TEST(BlkprNvme, ReadsKeysPreemptsAndVerifiesWithoutRegisteringWhenRegistered) {
    NvScript s;
    BlkprFence f = nv_fence_with(s);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(s.calls, (std::vector<std::string>{"open /dev/nvme1n3", "read-keys", "preempt-abort",
                                                 "read-reservation", "close"}));
    EXPECT_EQ(s.pre.old_key, 0xb2u);
    EXPECT_EQ(s.pre.new_key, 0xa1u);
    EXPECT_EQ(s.pre.type, 2u);
    EXPECT_EQ(f.clat.size(), 3u);
    EXPECT_EQ(f.retries, 0u);
}

TEST(BlkprNvme, RegistersFromTheUnregisteredStateOnlyNeverWithKeyZero) {
    NvScript s;
    s.keys = {0xa1};
    BlkprFence f = nv_fence_with(s);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(s.calls,
              (std::vector<std::string>{"open /dev/nvme1n3", "read-keys", "register 0x0->0xb2",
                                        "preempt-abort", "read-reservation", "close"}));
    EXPECT_EQ(s.reg.flags, 0u);
    EXPECT_NE(s.reg.new_key, 0u);

    NvScript conflict;
    conflict.keys = {0xa1};
    conflict.register_rc = 0x18;
    f = nv_fence_with(conflict);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "IOC_PR_REGISTER: pr_status 0x18 (PR_STS_RESERVATION_CONFLICT)");
    EXPECT_EQ(conflict.calls.back(), "close");
}

TEST(BlkprNvme, FailuresAreNamedAndNothingIsSentAgain) {
    NvScript conflict;
    conflict.preempt_rc = 0x18;
    BlkprFence f = nv_fence_with(conflict);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "IOC_PR_PREEMPT_ABORT: pr_status 0x18 (PR_STS_RESERVATION_CONFLICT)");
    EXPECT_EQ(std::count(conflict.calls.begin(), conflict.calls.end(), "preempt-abort"), 1);
    EXPECT_EQ(std::count(conflict.calls.begin(), conflict.calls.end(), "read-reservation"), 0);

    NvScript old;
    old.read_keys_errno = ENOTTY;
    f = nv_fence_with(old);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "IOC_PR_READ_KEYS: errno " + std::to_string(ENOTTY) + " (" +
                           std::strerror(ENOTTY) +
                           "): this kernel has no PR IN ioctls (Linux 6.19 or later)");
    EXPECT_EQ(old.calls, (std::vector<std::string>{"open /dev/nvme1n3", "read-keys", "close"}));

    NvScript other;
    other.holder = 0xa1;
    f = nv_fence_with(other);
    EXPECT_EQ(f.error, "after IOC_PR_PREEMPT_ABORT: the reservation is held by 0xa1, not by 0xb2");
    NvScript none;
    none.type = 0;
    f = nv_fence_with(none);
    EXPECT_EQ(f.error, "after IOC_PR_PREEMPT_ABORT: no reservation, not by 0xb2");
    NvScript type;
    type.type = 1;
    f = nv_fence_with(type);
    EXPECT_EQ(f.error, "after IOC_PR_PREEMPT_ABORT: reservation type 1 (enum pr_type), not 2");
}

// ---- nvme-cli

TEST(NvmeCli, CommandLines) {
    EXPECT_EQ(nvme_report_args("/dev/nvme1n3", 7),
              (std::vector<std::string>{"resv-report", "/dev/nvme1n3", "--namespace-id=7", "--eds",
                                        "--output-format=json"}));
    EXPECT_EQ(
        nvme_preempt_abort_args("/dev/nvme1n3", 7, 0x123abc, 0xabc123, 2),
        (std::vector<std::string>{"resv-acquire", "/dev/nvme1n3", "--namespace-id=7",
                                  "--crkey=1194684", "--prkey=11256099", "--rtype=2", "--racqa=2"}))
        << "keys in decimal, as nvme-cli prints them";
    engine::PathSpec p;
    p.kind = engine::PathSpec::Kind::nvme;
    p.block = "/dev/nvme1n3";
    p.ng_node = "/dev/ng1n3";
    EXPECT_EQ(nvme_cli_device(p), "/dev/nvme1n3");
    p.block.clear();
    EXPECT_EQ(nvme_cli_device(p), "/dev/ng1n3");
}

// nvme-cli 2.3's resv-report --eds -o json after B (key 0x123abc) preempted A, as nvmet answers.
const char* kReportAfter = R"({
  "gen":5,
  "rtype":2,
  "regctl":1,
  "ptpls":0,
  "regctlext":[
    {
      "cntlid":65535,
      "rcsts":1,
      "rkey":1194684,
      "hostid":"5052464e00004000800000000000000b"
    }
  ]
}
)";

TEST(NvmeCli, ParsesTheReport) {
    auto r = parse_nvme_report(kReportAfter);
    ASSERT_TRUE(r) << r.error().msg;
    EXPECT_EQ(r->gen, 5u);
    EXPECT_EQ(r->rtype, 2u);
    ASSERT_EQ(r->regs.size(), 1u);
    EXPECT_EQ(r->regs[0].cntlid, 65535u);
    EXPECT_EQ(r->regs[0].rcsts, 1u);
    EXPECT_EQ(r->regs[0].rkey, 0x123abcu);
    EXPECT_EQ(r->regs[0].hostid, "5052464e00004000800000000000000b");

    // The non-extended list, a key printed signed, a key as a string, text before the object.
    auto old = parse_nvme_report(
        "warning\n{\"gen\":1,\"rtype\":0,\"regctl\":2,\"ptpls\":0,\"regctls\":["
        "{\"cntlid\":1,\"rcsts\":0,\"hostid\":10,\"rkey\":-1},"
        "{\"cntlid\":2,\"rcsts\":0,\"hostid\":11,\"rkey\":\"11256099\"}]}");
    ASSERT_TRUE(old) << old.error().msg;
    EXPECT_EQ(old->regs[0].rkey, ~0ull);
    EXPECT_EQ(old->regs[0].hostid, "10");
    EXPECT_EQ(old->regs[1].rkey, 0xabc123u);
    auto empty = parse_nvme_report(R"({"gen":0,"rtype":0,"regctl":0,"ptpls":0})");
    ASSERT_TRUE(empty) << empty.error().msg;
    EXPECT_TRUE(empty->regs.empty());
}

TEST(NvmeCli, RefusesWhatItCannotRead) {
    auto msg = [](const char* t) {
        auto r = parse_nvme_report(t);
        return r ? std::string("(parsed)") : r.error().msg;
    };
    EXPECT_EQ(msg("NVMe status: Host Identifier Inconsistent Format(0x6018)"),
              "no JSON object in nvme-cli's output");
    EXPECT_EQ(msg("{\"gen\":1,"), "no JSON object in nvme-cli's output");
    EXPECT_EQ(msg("{\"gen\":1,}"), "nvme-cli's output is not a JSON object");
    EXPECT_EQ(msg(R"({"rtype":0,"regctl":0})"), "no \"gen\"");
    EXPECT_EQ(msg(R"({"gen":"x","rtype":0,"regctl":0})"), "\"gen\" is not a number: \"x\"");
    EXPECT_EQ(msg(R"({"gen":1,"rtype":0,"regctl":1})"), "regctl 1 but no registrant list");
    EXPECT_EQ(
        msg(R"({"gen":1,"rtype":0,"regctl":2,"regctlext":[{"cntlid":1,"rcsts":0,"rkey":5}]})"),
        "regctl 2 but 1 registrants listed");
    EXPECT_EQ(msg(R"({"gen":1,"rtype":0,"regctl":1,"regctlext":[{"cntlid":1,"rcsts":0}]})"),
              "no \"rkey\"");
}

TEST(NvmeCli, Checks) {
    NvmeCliReport before;
    before.rtype = 2;
    before.regs = {{65535, 1, 0xa1, "a"}, {65535, 0, 0xb2, "b"}};
    EXPECT_EQ(nvme_check_before(before, 0xb2), "");
    EXPECT_EQ(nvme_check_before(before, 0xc3),
              "the fencer's key 0xc3 is not registered (2 registrants)");
    EXPECT_EQ(nvme_check_after(before, 0xb2, 0xa1, 2), "the victim's key 0xa1 is still registered");
    NvmeCliReport after;
    after.rtype = 2;
    after.regs = {{65535, 1, 0xb2, "b"}};
    EXPECT_EQ(nvme_check_after(after, 0xb2, 0xa1, 2), "");
    EXPECT_EQ(nvme_check_after(after, 0xb2, 0xa1, 1), "reservation type 2, not 1");
    after.regs[0].rcsts = 0;
    EXPECT_EQ(nvme_check_after(after, 0xb2, 0xa1, 2), "no reservation, not held by 0xb2");
    after.regs = {{65535, 0, 0xb2, "b"}, {65535, 1, 0xc3, "c"}};
    EXPECT_EQ(nvme_check_after(after, 0xb2, 0xa1, 2),
              "the reservation is held by 0xc3, not by 0xb2");
}

// A namespace of node B for the nvme-cli loop.
BenchLun nvme_lun() {
    BenchLun l;
    l.name = "/dev/nvme0n3";
    l.a.kind = engine::PathSpec::Kind::nvme;
    l.a.block = "/dev/nvme0n3";
    l.a.ng_node = "/dev/ng0n3";
    l.a.nsid = 1;
    l.b = l.a;
    l.b.block = "/dev/nvme1n3";
    l.b.ng_node = "/dev/ng1n3";
    l.has_b = true;
    return l;
}

// A fake nvme: logs its arguments, answers resv-report with before.json until resv-acquire ran
// (then after.json), and exits with the code in acquire.rc for resv-acquire.
struct FakeNvme {
    TempDir t;
    Config c;
    FakeNvme() {
        t.write("nvme",
                "#!/bin/sh\n"
                "d=$(dirname \"$0\")\n"
                "echo \"$*\" >>\"$d/calls\"\n"
                "case $1 in\n"
                "resv-report) if [ -e \"$d/acquired\" ]; then cat \"$d/after.json\"; else cat "
                "\"$d/before.json\"; fi ;;\n"
                "resv-acquire) rc=$(cat \"$d/acquire.rc\")\n"
                "  [ \"$rc\" = 0 ] || { echo 'NVMe status: Reservation Conflict: The command "
                "was aborted due to a conflict with a reservation held on the accessed "
                "namespace(0x4083)' >&2; exit \"$rc\"; }\n"
                "  touch \"$d/acquired\"; echo 'NVME Reservation Acquire success' ;;\n"
                "esac\n");
        fs::permissions(t.p / "nvme", fs::perms::owner_all);
        t.write("before.json", R"({"gen":4,"rtype":2,"regctl":2,"ptpls":0,"regctlext":[)"
                               R"({"cntlid":65535,"rcsts":1,"rkey":11256099,"hostid":"a"},)"
                               R"({"cntlid":65535,"rcsts":0,"rkey":1194684,"hostid":"b"}]})");
        t.write("after.json", kReportAfter);
        t.write("acquire.rc", "0");
        c.nvme = (t.p / "nvme").string();
        c.a.key = 0xabc123;
        c.b.key = 0x123abc;
    }
    std::string calls() const {
        std::ifstream f(t.p / "calls");
        return std::string(std::istreambuf_iterator<char>(f), {});
    }
};

TEST(NvmeCliFence, ThreeProcessesOnNodeBsNamespace) {
    FakeNvme fake;
    ProcessBaseline bl(fake.c);
    std::vector<uint64_t> clat;
    NvmeCliFence f = nvme_cli_fence(bl, fake.c, nvme_lun(), 2, &clat);
    EXPECT_TRUE(f.ok) << f.error;
    EXPECT_EQ(fake.calls(),
              "resv-report /dev/nvme1n3 --namespace-id=1 --eds --output-format=json\n"
              "resv-acquire /dev/nvme1n3 --namespace-id=1 --crkey=1194684 --prkey=11256099 "
              "--rtype=2 --racqa=2\n"
              "resv-report /dev/nvme1n3 --namespace-id=1 --eds --output-format=json\n");
    EXPECT_EQ(clat.size(), 3u);
    EXPECT_GT(f.ns, 0u);
}

TEST(NvmeCliFence, AFailedCommandOrCheckEndsTheNamespace) {
    FakeNvme conflict;
    conflict.t.write("acquire.rc", "1");
    ProcessBaseline bl(conflict.c);
    std::vector<uint64_t> clat;
    NvmeCliFence f = nvme_cli_fence(bl, conflict.c, nvme_lun(), 2, &clat);
    EXPECT_FALSE(f.ok);
    EXPECT_EQ(f.error, "/dev/nvme0n3: `" + conflict.c.nvme +
                           " resv-acquire /dev/nvme1n3 --namespace-id=1 --crkey=1194684 "
                           "--prkey=11256099 --rtype=2 --racqa=2` exit 1: NVMe status: "
                           "Reservation Conflict: The command was aborted due to a conflict with "
                           "a reservation held on the accessed namespace(0x4083)");
    EXPECT_EQ(clat.size(), 2u) << "no verifying report after a failed acquire";

    FakeNvme unregistered;
    unregistered.c.b.key = 0x77;
    ProcessBaseline bl2(unregistered.c);
    f = nvme_cli_fence(bl2, unregistered.c, nvme_lun(), 2, nullptr);
    EXPECT_EQ(f.error,
              "/dev/nvme0n3: before the preempt: the fencer's key 0x77 is not registered (2 "
              "registrants)");
    EXPECT_EQ(unregistered.calls().find("resv-acquire"), std::string::npos);

    FakeNvme stale;  // the acquire "succeeds" but the report still shows the victim
    stale.t.write("after.json", R"({"gen":4,"rtype":2,"regctl":2,"ptpls":0,"regctlext":[)"
                                R"({"cntlid":65535,"rcsts":1,"rkey":11256099,"hostid":"a"},)"
                                R"({"cntlid":65535,"rcsts":0,"rkey":1194684,"hostid":"b"}]})");
    ProcessBaseline bl3(stale.c);
    f = nvme_cli_fence(bl3, stale.c, nvme_lun(), 2, nullptr);
    EXPECT_EQ(f.error,
              "/dev/nvme0n3: after resv-acquire --racqa=2: the victim's key 0xabc123 is still "
              "registered");

    FakeNvme garbled;
    garbled.t.write("before.json", "Segmentation fault\n");
    ProcessBaseline bl4(garbled.c);
    f = nvme_cli_fence(bl4, garbled.c, nvme_lun(), 2, nullptr);
    EXPECT_EQ(f.error, "/dev/nvme0n3: the first resv-report: no JSON object in nvme-cli's output");
}

TEST(NvmeRig, PathSetsForNamespacesAreMadeForNvme) {
    Config c;
    c.luns = {map_lun("/dev/mapper/m0"), map_lun("/dev/mapper/m1")};
    EXPECT_FALSE(any_nvme(c, 2));
    c.luns[1] = nvme_lun();
    EXPECT_FALSE(any_nvme(c, 1)) << "only the first n LUs count";
    EXPECT_TRUE(any_nvme(c, 2));
    EXPECT_TRUE(any_nvme(c, 99));
    c.luns[1].a.kind = engine::PathSpec::Kind::sg;
    c.luns[1].b.kind = engine::PathSpec::Kind::sg;
    EXPECT_FALSE(any_nvme(c, 2));
    c.luns[1].b_paths = {nvme_lun().b};
    EXPECT_TRUE(any_nvme(c, 2));
}

TEST(NvmeSim, PrsimNamespacesThroughTheShim) {
    engine::PathSpec ns;
    ns.kind = engine::PathSpec::Kind::sim;
    ns.sim_socket = "/tmp/s";
    ns.nsid = 5;
    EXPECT_TRUE(is_nvme_path(ns));
    EXPECT_EQ(nvme_cli_device(ns), "/dev/prsim/nvme0n5");
    ns.nsid = 0;  // a prsim LUN
    EXPECT_FALSE(is_nvme_path(ns));
    EXPECT_TRUE(is_nvme_path(nvme_lun().b));
    EXPECT_FALSE(is_nvme_path(map_lun("m").b));
    std::array<uint8_t, 16> id{0x50, 0x52, 0x46, 0x4e, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0x0b};
    EXPECT_EQ(uuid_text(id), "5052464e-0000-4000-8000-00000000000b");
    // Each node is its own NVMe host, and the same one every time (prsim-run is given it).
    Node a{"iqn.2026-11.io.prfence:node-a,i,0x1", 1, 0xa1},
        b{"iqn.2026-11.io.prfence:node-b,i,0x2", 2, 0xb2};
    auto ha = sim_host_of(a), hb = sim_host_of(b), hb2 = sim_host_of(b);
    ASSERT_TRUE(ha && hb && hb2);
    EXPECT_NE(ha->hostid, hb->hostid);
    EXPECT_EQ(*hb, *hb2);
    EXPECT_FALSE(sim_host_of(Node{}));
}

TEST(NvmeSim, SkipRulesOnPrsimNamespaces) {
    BenchLun l;
    l.name = "sim:/tmp/s:ns1";
    l.a.kind = engine::PathSpec::Kind::sim;
    l.a.sim_socket = "/tmp/s";
    l.a.nsid = 1;
    l.b = l.a;
    l.has_b = true;
    Config c;
    c.luns = {l};
    c.nvme = "sh";
    EXPECT_EQ(why(c, Workload::fence, Backend::nvme_cli, true),
              "baselines on prsim LUNs need the prsim-run shim (--prsim-run PATH or "
              "--baseline-wrap)");
    c.prsim_run = "/usr/bin/prsim-run";
    EXPECT_EQ(why(c, Workload::fence, Backend::nvme_cli, true), "(runs)");
    EXPECT_EQ(why(c, Workload::fence, Backend::sg_persist, true),
              "sg_persist sends SCSI PERSISTENT RESERVE commands, which NVMe namespaces do not "
              "take (sg3_utils does not translate them to NVMe Reservation commands): -b nvme-cli "
              "is the process loop for NVMe");
    EXPECT_EQ(why(c, Workload::fence, Backend::blkpr, true),
              "the kernel's PR ioctls need a kernel block device; prsim LUs have none in "
              "prbench's process (the prsim-run shim serves other processes, and answers SG_IO, "
              "not IOC_PR_*)");
    c.luns[0].a.nsid = c.luns[0].b.nsid = 0;  // a prsim LUN
    EXPECT_EQ(why(c, Workload::fence, Backend::nvme_cli, true),
              "nvme-cli drives NVMe namespaces: node B's devices must be /dev/nvmeXnY or "
              "/dev/ngXnY (--node-b), or prsim's namespaces (sim:SOCKET:nsN-M)");
}

TEST(NvmeCliSkips, EachRuleWithItsText) {
    Config c;
    c.luns = {nvme_lun(), nvme_lun()};
    c.nvme = "sh";  // found in PATH
    EXPECT_EQ(why(c, Workload::fence, Backend::nvme_cli, false), "(runs)");
    EXPECT_EQ(why(c, Workload::fence, Backend::blkpr, false), "(runs)");
    EXPECT_EQ(why(c, Workload::op, Backend::nvme_cli, false),
              "nvme-cli only fences (workload fence)");
    for (Backend b : {Backend::sg_persist, Backend::fence_scsi, Backend::mpathpersist})
        EXPECT_EQ(why(c, Workload::fence, b, false),
                  std::string(backend_name(b)) +
                      " sends SCSI PERSISTENT RESERVE commands, which NVMe namespaces do not take "
                      "(sg3_utils does not translate them to NVMe Reservation commands): -b "
                      "nvme-cli is the process loop for NVMe");
    Config missing = c;
    missing.nvme = "/nonexistent/nvme";
    EXPECT_EQ(why(missing, Workload::fence, Backend::nvme_cli, false),
              "/nonexistent/nvme is not installed (Debian: apt-get install nvme-cli)");
    Config scsi = c;
    scsi.luns[1] = map_lun("/dev/mapper/m1");
    EXPECT_EQ(why(scsi, Workload::fence, Backend::nvme_cli, false),
              "nvme-cli drives NVMe namespaces: node B's devices must be /dev/nvmeXnY or "
              "/dev/ngXnY (--node-b), or prsim's namespaces (sim:SOCKET:nsN-M)");
}

}  // namespace
}  // namespace prfence::bench
