// SPDX-License-Identifier: MIT
// libprinterpose: the sg node (/dev/sgN), as drivers/scsi/sg.c presents one: the sg v3 interface
// (struct sg_io_hdr, interface_id 'S') synchronously through SG_IO and asynchronously through
// write() and read(), and the sg driver's ioctls. The v4 interface (sg_io_v4, 'Q') and the pre-v3
// sg_header are refused.
//
// Readiness: the handle's eventfd is an EFD_SEMAPHORE counter starting at 0, with one count per
// completed asynchronous command not yet read, so poll(), select() and epoll report POLLIN exactly
// when read() has something.
//
// Every function sets errno and returns -1 as the sg driver's call it stands for would.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "interposer/shim/fdtable.h"

namespace prfence::shim {

// write() of an sg_io_hdr: queues the command (at most SG_MAX_QUEUE in flight or unread, EDOM
// beyond) and returns count at once. The completion is kept for read() while a descriptor of the
// handle is open.
ssize_t sg_write(Handle& h, const void* buf, size_t count);
// read() of a completed command into an sg_io_hdr (the oldest, or with SG_SET_FORCE_PACK_ID the
// one whose pack_id the caller's header names; -1 takes any). Blocks until one completes unless fd
// is O_NONBLOCK (EAGAIN then).
ssize_t sg_read(int fd, Handle& h, void* buf, size_t count);

// The ioctls of an sg node: scsi_common_ioctl's, then the sg driver's own (SG_GET_NUM_WAITING,
// SG_GET_PACK_ID, SG_GET_REQUEST_TABLE, SG_SET_FORCE_PACK_ID, SG_SET_COMMAND_Q, ...); ENOTTY for
// the rest.
int sg_ioctl(Handle& h, unsigned long req, void* arg);

// The ioctls every SCSI device node answers, an sd disk's included (drivers/scsi/scsi_ioctl.c,
// scsi_ioctl()): SG_IO with a v3 header, SG_GET_VERSION_NUM, SG_GET_TIMEOUT / SG_SET_TIMEOUT,
// SG_GET_RESERVED_SIZE / SG_SET_RESERVED_SIZE, SG_EMULATED_HOST, SCSI_IOCTL_GET_IDLUN,
// SCSI_IOCTL_GET_BUS_NUMBER, SCSI_IOCTL_PROBE_HOST, and on an sg node SG_GET_SCSI_ID. `handled`
// says whether req was one of them.
int scsi_common_ioctl(Handle& h, unsigned long req, void* arg, bool& handled);

}  // namespace prfence::shim
