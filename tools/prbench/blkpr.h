// SPDX-License-Identifier: MIT
// The kernel's persistent-reservation ioctls (linux/pr.h) as the blkpr backend sends them: the
// fence of one LU through its block device, the way an operator's C program would loop over
// /dev/mapper/MAP or /dev/sdX, one LU after another.
//
// What the kernel does with them (block/ioctl.c, drivers/scsi/sd.c, drivers/md/dm.c of Debian 12's
// 6.1 kernel, whose dm-mod.ko has the per-path __dm_pr_reserve/__dm_pr_release/__dm_pr_preempt):
// - Every PR ioctl needs CAP_SYS_ADMIN. IOC_PR_REGISTER and IOC_PR_RESERVE accept only the flag
//   PR_FL_IGNORE_KEY (REGISTER AND IGNORE EXISTING KEY; sd refuses any flag on RESERVE), the others
//   no flag at all: -EOPNOTSUPP.
// - sd sends one PERSISTENT RESERVE OUT with a 24-byte parameter list; REGISTER always sets APTPL.
//   The ioctl returns 0, a negative errno before anything was sent, or the SCSI result of the
//   command: the status byte in bits 0-7 (2 CHECK CONDITION, 0x18 RESERVATION CONFLICT) and the
//   host byte in bits 16-23 (0x10000 DID_NO_CONNECT). 6.1 does not retry a UNIT ATTENTION: it comes
//   back as 2 and the caller must send the ioctl again. Later kernels return enum pr_status.
// - The ioctl's type is enum pr_type (1-6), not SCSI's TYPE code: sd maps WE 1 -> 1, EA 2 -> 3,
//   WE-RO 3 -> 5, EA-RO 4 -> 6, WE-AR 5 -> 7, EA-AR 6 -> 8 (pr_type_of below).
// - On a dm-multipath map (one multipath target; the paths of every priority group in table
//   order): REGISTER goes down every path and stops at the first failure, after which, when the
//   new key is not 0, every path is unregistered again (REGISTER of the new key with SARK 0) and
//   the first failure returned; RESERVE and PREEMPT (and PREEMPT AND ABORT) go down one path after
//   the other until one succeeds; RELEASE goes down every path until one fails (a device answers
//   GOOD to a release from a non-holder); CLEAR goes down the one path the map's ioctls use now.
// - 6.1 has no PR IN ioctl (IOC_PR_READ_KEYS came with a later kernel). The loop verifies with one
//   SG_IO READ RESERVATION on the same file descriptor, which dm passes to its current path.
#pragma once

#include <linux/pr.h>

#include <cstdint>
#include <string>
#include <vector>

#include "uring_engine/wire/pr_types.h"

namespace prfence::bench {

// linux/pr.h's enum pr_type for a SCSI reservation type; 0 for one it cannot express (none).
uint32_t pr_type_of(wire::PrType t);

// One PR ioctl: its request number, its name and its argument.
struct PrIoctl {
    unsigned long req = 0;
    const char* name = "";
    union {
        pr_registration reg;
        pr_reservation rsv;
        pr_preempt pre;
        pr_clear clr;
    } arg{};
};

// REGISTER AND IGNORE EXISTING KEY of `key` (PR_FL_IGNORE_KEY): whatever the nexus had, `key` now.
PrIoctl ioc_register_ignore(uint64_t key);
// PREEMPT (AND ABORT when `abort`): `key` (the caller's) preempts `victim` with type `t`.
PrIoctl ioc_preempt(uint64_t key, uint64_t victim, wire::PrType t, bool abort);

// An ioctl's outcome in words: "GOOD", "errno N (text)", "SCSI result 0x18 (RESERVATION
// CONFLICT)", with the host byte named when set. rc is the ioctl's return value, err its errno.
std::string pr_result_text(int rc, int err);

// The system calls the fence loop makes, replaceable in tests.
struct SysOps {
    int (*open)(const char* path, int flags);
    int (*close)(int fd);
    int (*ioctl)(int fd, unsigned long req, void* arg);
};
const SysOps& real_sys_ops();

// One LU's fence as the loop ran it.
struct BlkprFence {
    bool ok = false;
    std::string error;           // the first failure: step and outcome
    uint64_t ns = 0;             // open to close
    unsigned retries = 0;        // ioctls and SG_IO commands sent again after CHECK CONDITION
    std::vector<uint64_t> clat;  // per command sent (ioctl or SG_IO), retries included
};

// Node `key` fences node `victim` on the block device `dev`: open(O_RDWR), IOC_PR_REGISTER with
// PR_FL_IGNORE_KEY (the loop cannot read the keys first, so it makes sure its own is there; a
// dm-multipath map sends it down every path), IOC_PR_PREEMPT_ABORT, then SG_IO READ RESERVATION,
// which must show `key` holding a reservation; close. An ioctl answered CHECK CONDITION (a unit
// attention, which 6.1 passes up) and an SG_IO command answered UNIT ATTENTION are sent again, at
// most 3 times. The first failure ends the LU.
BlkprFence blkpr_fence(const SysOps& sys, const std::string& dev, uint64_t key, uint64_t victim,
                       wire::PrType t);

}  // namespace prfence::bench
