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
//
// On an NVMe namespace's block device (/dev/nvmeXnY; drivers/nvme/host/pr.c) the same ioctls become
// NVMe Reservation commands, with traps of their own:
// - IOC_PR_REGISTER(old_key K, new_key 0), documented as an unregister, is sent as a Register
//   Replace with new key 0: the host stays registered with key 0 and keeps its reservation, and
//   since RELEASE and CLEAR with key 0 set IEKEY (which nvmet refuses, -EINVAL) the block API
//   cannot undo it. The loop never sends it: it registers only from the unregistered state
//   (old_key 0), and cleaning up is the engine's (passthrough Register/Release commands).
// - IOC_PR_REGISTER with PR_FL_IGNORE_KEY is a Register with IEKEY, a reservation conflict when the
//   host is registered with another key (SCSI would replace it).
// - A positive return is enum pr_status (0x18 a reservation conflict, 0x2 an I/O error, 0x10000
//   and 0xe0000/0xf0000 path failures), not a SCSI result; an Invalid Field is -EINVAL.
// - NVMe answers no SG_IO, but Linux 6.19 added the PR IN ioctls IOC_PR_READ_KEYS and
//   IOC_PR_READ_RESERVATION (a Reservation Report with extended data), so the loop reads the keys
//   first, as prfence's fence does, and verifies with IOC_PR_READ_RESERVATION.
#pragma once

#include <linux/ioctl.h>
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
// REGISTER of `key` from the unregistered state (old_key 0, no flag): on NVMe a Register action.
PrIoctl ioc_register_new(uint64_t key);
// PREEMPT (AND ABORT when `abort`): `key` (the caller's) preempts `victim` with type `t`.
PrIoctl ioc_preempt(uint64_t key, uint64_t victim, wire::PrType t, bool abort);

// An ioctl's outcome in words: "GOOD", "errno N (text)", "SCSI result 0x18 (RESERVATION
// CONFLICT)", with the host byte named when set. rc is the ioctl's return value, err its errno.
std::string pr_result_text(int rc, int err);

// An ioctl's outcome on an NVMe block device: "GOOD", "errno N (text)", or "pr_status 0x18
// (PR_STS_RESERVATION_CONFLICT)" for a positive enum pr_status.
std::string pr_status_text(int rc, int err);

// The PR IN ioctls of linux/pr.h (Linux 6.19 and later), declared here with the kernel's layouts
// because the build host's uapi headers may predate them.
struct PrReadKeys {
    uint32_t generation = 0;
    uint32_t num_keys = 0;  // in: room at keys_ptr; out: the keys the device has
    uint64_t keys_ptr = 0;
};
struct PrReadReservation {
    uint64_t key = 0;
    uint32_t generation = 0;
    uint32_t type = 0;  // enum pr_type; 0: no reservation
};
inline constexpr unsigned long kIocPrReadKeys = _IOWR('p', 206, PrReadKeys);
inline constexpr unsigned long kIocPrReadReservation = _IOR('p', 207, PrReadReservation);

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

// The same fence on an NVMe namespace's block device (/dev/nvmeXnY): open(O_RDWR),
// IOC_PR_READ_KEYS, IOC_PR_REGISTER (old_key 0, new_key `key`, no flag) only when `key` is not
// among the keys, IOC_PR_PREEMPT_ABORT, then IOC_PR_READ_RESERVATION, which must show `key`
// holding type `t`; close. Nothing is sent again (NVMe has no unit attention). A kernel without the
// PR IN ioctls (before 6.19) fails the LU at IOC_PR_READ_KEYS with errno ENOTTY, named.
BlkprFence blkpr_fence_nvme(const SysOps& sys, const std::string& dev, uint64_t key,
                            uint64_t victim, wire::PrType t);

}  // namespace prfence::bench
