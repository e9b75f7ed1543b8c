// SPDX-License-Identifier: MIT
#include "tools/prbench/blkpr.h"

#include <fcntl.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "uring_engine/common/bytes.h"
#include "uring_engine/transport/transport.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/status.h"

namespace prfence::bench {

uint32_t pr_type_of(wire::PrType t) {
    switch (t) {
        case wire::PrType::write_exclusive:
            return PR_WRITE_EXCLUSIVE;
        case wire::PrType::exclusive_access:
            return PR_EXCLUSIVE_ACCESS;
        case wire::PrType::write_exclusive_registrants_only:
            return PR_WRITE_EXCLUSIVE_REG_ONLY;
        case wire::PrType::exclusive_access_registrants_only:
            return PR_EXCLUSIVE_ACCESS_REG_ONLY;
        case wire::PrType::write_exclusive_all_registrants:
            return PR_WRITE_EXCLUSIVE_ALL_REGS;
        case wire::PrType::exclusive_access_all_registrants:
            return PR_EXCLUSIVE_ACCESS_ALL_REGS;
        default:
            return 0;
    }
}

PrIoctl ioc_register_ignore(uint64_t key) {
    PrIoctl p;
    p.req = IOC_PR_REGISTER;
    p.name = "IOC_PR_REGISTER";
    p.arg.reg.old_key = 0;
    p.arg.reg.new_key = key;
    p.arg.reg.flags = PR_FL_IGNORE_KEY;
    return p;
}

PrIoctl ioc_register_new(uint64_t key) {
    PrIoctl p;
    p.req = IOC_PR_REGISTER;
    p.name = "IOC_PR_REGISTER";
    p.arg.reg.old_key = 0;
    p.arg.reg.new_key = key;
    p.arg.reg.flags = 0;
    return p;
}

PrIoctl ioc_preempt(uint64_t key, uint64_t victim, wire::PrType t, bool abort) {
    PrIoctl p;
    p.req = abort ? IOC_PR_PREEMPT_ABORT : IOC_PR_PREEMPT;
    p.name = abort ? "IOC_PR_PREEMPT_ABORT" : "IOC_PR_PREEMPT";
    // sd sends old_key as the RESERVATION KEY and new_key as the SERVICE ACTION RESERVATION KEY.
    p.arg.pre.old_key = key;
    p.arg.pre.new_key = victim;
    p.arg.pre.type = pr_type_of(t);
    p.arg.pre.flags = 0;
    return p;
}

std::string pr_result_text(int rc, int err) {
    if (rc == 0) return "GOOD";
    if (rc < 0) return "errno " + std::to_string(err) + " (" + std::strerror(err) + ")";
    const auto status = static_cast<uint8_t>(rc & 0xff);
    const auto host = static_cast<uint8_t>((rc >> 16) & 0xff);
    char hexv[16];
    std::snprintf(hexv, sizeof hexv, "0x%x", static_cast<unsigned>(rc));
    std::string s = std::string("SCSI result ") + hexv + " (";
    if (host) s += std::string(wire::host_byte_name(host)) + (status ? ", " : "");
    if (status || !host) s += wire::status_name(status);
    return s + ")";
}

std::string pr_status_text(int rc, int err) {
    if (rc <= 0) return pr_result_text(rc, err);
    const char* name = rc == 0x18      ? "PR_STS_RESERVATION_CONFLICT"
                       : rc == 0x2     ? "PR_STS_IOERR"
                       : rc == 0x10000 ? "PR_STS_PATH_FAILED"
                       : rc == 0xe0000 ? "PR_STS_RETRY_PATH_FAILURE"
                       : rc == 0xf0000 ? "PR_STS_PATH_FAST_FAILED"
                                       : "unknown";
    char hexv[16];
    std::snprintf(hexv, sizeof hexv, "0x%x", static_cast<unsigned>(rc));
    return std::string("pr_status ") + hexv + " (" + name + ")";
}

namespace {

int sys_open(const char* path, int flags) { return ::open(path, flags); }
int sys_close(int fd) { return ::close(fd); }
int sys_ioctl(int fd, unsigned long req, void* arg) { return ::ioctl(fd, req, arg); }

constexpr int kMaxResends = 3;

// Opens `dev`, runs steps(fd, f) (the fence's ioctls; "" when they all did what they should, else
// the failure), closes the node, and times the whole, open and close included.
template <class Steps>
BlkprFence timed_fence(const SysOps& sys, const std::string& dev, Steps steps) {
    BlkprFence f;
    const uint64_t t0 = engine::now_ns();
    std::string err;
    const int fd = sys.open(dev.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        err = "open: " + pr_result_text(-1, errno);
    } else {
        err = steps(fd, f);
        sys.close(fd);
    }
    f.ok = err.empty();
    f.error = std::move(err);
    f.ns = engine::now_ns() - t0;
    return f;
}

}  // namespace

const SysOps& real_sys_ops() {
    static const SysOps ops{sys_open, sys_close, sys_ioctl};
    return ops;
}

BlkprFence blkpr_fence(const SysOps& sys, const std::string& dev, uint64_t key, uint64_t victim,
                       wire::PrType t) {
    return timed_fence(sys, dev, [&](int fd, BlkprFence& f) {
        std::string err;
        auto pr = [&](PrIoctl p) -> bool {
            for (int attempt = 0;; ++attempt) {
                const uint64_t c0 = engine::now_ns();
                const int rc = sys.ioctl(fd, p.req, &p.arg);
                const int e = errno;
                f.clat.push_back(engine::now_ns() - c0);
                if (rc == 0) return true;
                if (rc == static_cast<int>(wire::sam::check_condition) && attempt < kMaxResends) {
                    ++f.retries;
                    continue;
                }
                err = std::string(p.name) + ": " + pr_result_text(rc, e);
                return false;
            }
        };
        if (pr(ioc_register_ignore(key)) && pr(ioc_preempt(key, victim, t, true))) {
            // The verification: 6.1 has no PR IN ioctl, so one SG_IO READ RESERVATION.
            const wire::Cdb cdb = wire::prin_cdb(wire::PrInAction::read_reservation, 24);
            for (int attempt = 0;; ++attempt) {
                uint8_t cdbb[16], data[24] = {}, sense[64] = {};
                std::memcpy(cdbb, cdb.b.data(), cdb.len);
                sg_io_hdr_t h{};
                h.interface_id = 'S';
                h.cmdp = cdbb;
                h.cmd_len = static_cast<unsigned char>(cdb.len);
                h.dxfer_direction = SG_DXFER_FROM_DEV;
                h.dxferp = data;
                h.dxfer_len = sizeof data;
                h.sbp = sense;
                h.mx_sb_len = sizeof sense;
                h.timeout = 20000;
                const uint64_t c0 = engine::now_ns();
                const int rc = sys.ioctl(fd, SG_IO, &h);
                const int e = errno;
                f.clat.push_back(engine::now_ns() - c0);
                if (rc < 0) {
                    err = "SG_IO READ RESERVATION: " + pr_result_text(-1, e);
                    break;
                }
                if (h.status == wire::sam::check_condition && attempt < kMaxResends) {
                    const uint8_t sk =
                        (sense[0] & 0x7f) >= 0x72 ? sense[1] & 0x0f : sense[2] & 0x0f;
                    if (sk == 6) {  // UNIT ATTENTION
                        ++f.retries;
                        continue;
                    }
                }
                if (h.status != 0 || h.host_status != 0) {
                    err = "SG_IO READ RESERVATION: " +
                          pr_result_text(h.status | (h.host_status << 16), 0);
                    break;
                }
                const size_t got = sizeof data - static_cast<size_t>(h.resid > 0 ? h.resid : 0);
                auto rr = wire::parse_read_reservation(ByteView(data, got));
                if (!rr)
                    err = "SG_IO READ RESERVATION: " + rr.error().msg;
                else if (!rr->reserved || rr->key != key)
                    err = "after " + std::string(ioc_preempt(key, victim, t, true).name) + ": " +
                          (rr->reserved ? "the reservation is held by " + hex_u64(rr->key)
                                        : std::string("no reservation")) +
                          ", not by " + hex_u64(key);
                break;
            }
        }
        return err;
    });
}

BlkprFence blkpr_fence_nvme(const SysOps& sys, const std::string& dev, uint64_t key,
                            uint64_t victim, wire::PrType t) {
    return timed_fence(sys, dev, [&](int fd, BlkprFence& f) -> std::string {
        // One ioctl, timed; "" when it succeeded, else the step and its outcome.
        auto call = [&](unsigned long req, const char* name, void* arg) -> std::string {
            const uint64_t c0 = engine::now_ns();
            const int rc = sys.ioctl(fd, req, arg);
            const int e = errno;
            f.clat.push_back(engine::now_ns() - c0);
            if (rc == 0) return {};
            std::string s = std::string(name) + ": " + pr_status_text(rc, e);
            if (rc < 0 && e == ENOTTY && req == kIocPrReadKeys)
                s += ": this kernel has no PR IN ioctls (Linux 6.19 or later)";
            return s;
        };
        uint64_t keys[64] = {};
        PrReadKeys rk;
        rk.num_keys = 64;
        rk.keys_ptr = reinterpret_cast<uintptr_t>(keys);
        if (auto e = call(kIocPrReadKeys, "IOC_PR_READ_KEYS", &rk); !e.empty()) return e;
        bool mine = false;
        for (uint32_t i = 0; i < rk.num_keys && i < 64; ++i) mine = mine || keys[i] == key;
        if (!mine) {
            // From the unregistered state only: a Register. Never old_key K, new_key 0 (blkpr.h).
            PrIoctl reg = ioc_register_new(key);
            if (auto e = call(reg.req, reg.name, &reg.arg); !e.empty()) return e;
        }
        PrIoctl pre = ioc_preempt(key, victim, t, true);
        if (auto e = call(pre.req, pre.name, &pre.arg); !e.empty()) return e;
        PrReadReservation rr;
        if (auto e = call(kIocPrReadReservation, "IOC_PR_READ_RESERVATION", &rr); !e.empty())
            return e;
        if (rr.type == 0 || rr.key != key)
            return "after IOC_PR_PREEMPT_ABORT: " +
                   (rr.type ? "the reservation is held by " + hex_u64(rr.key)
                            : std::string("no reservation")) +
                   ", not by " + hex_u64(key);
        if (rr.type != pr_type_of(t))
            return "after IOC_PR_PREEMPT_ABORT: reservation type " + std::to_string(rr.type) +
                   " (enum pr_type), not " + std::to_string(pr_type_of(t));
        return {};
    });
}

}  // namespace prfence::bench
