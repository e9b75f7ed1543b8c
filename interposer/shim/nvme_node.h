// SPDX-License-Identifier: MIT
// libprinterpose: NVMe nodes of prsim's NVMe subsystem, as drivers/nvme/host presents them to
// nvme-cli and libnvme: the namespace block device (/dev/nvme0nN) and the controller character
// device (/dev/nvme0). Commands are NVMe passthrough ioctls (include/uapi/linux/nvme_ioctl.h),
// sent to prsim as NVME_COMMAND frames on the process's connection (conn.h), which declared the
// process's NVMe host (PRSIM_HOSTNQN, PRSIM_HOSTID).
//
// ioctls:
//  - NVME_IOCTL_ID: the namespace's NSID (namespace node; ENOTTY on the controller node).
//  - NVME_IOCTL_ADMIN_CMD / NVME_IOCTL_ADMIN64_CMD: an admin command, on either node.
//  - NVME_IOCTL_IO_CMD / NVME_IOCTL_IO64_CMD: an I/O command. On a namespace node the command's
//    NSID must be the node's (EINVAL otherwise, as the kernel checks); on the controller node only
//    when the subsystem has exactly one namespace (EINVAL otherwise, as nvme_dev_user_cmd).
//    Flags, metadata and a data length above 1 MiB are EINVAL. Data moves by the opcode's
//    direction bits (bit 0 host to controller, bit 1 controller to host), through `addr`.
//    The ioctl returns the NVMe status word (0 = success, DNR and MORE included) and stores the
//    completion's result; -1 with errno: EIO when prsim is unreachable or the connection died,
//    EINTR when the command timed out (timeout_ms, 60 s when 0, capped by PRSIM_TIMEOUT_MS; an
//    ABORT is sent), EINVAL when prsim rejected the frame.
//  - BLKGETSIZE64, BLKSSZGET, BLKPBSZGET, BLKBSZGET on a namespace node, from Identify
//    Namespace; other ioctls: ENOTTY.
// read/write/pread/pwrite/lseek/fsync on NVMe nodes: EINVAL (block I/O is not emulated).
#pragma once

#include <cstdint>

#include "interposer/shim/fdtable.h"

namespace prfence::shim {

int nvme_ioctl(Handle& h, unsigned long req, void* arg);

}  // namespace prfence::shim
