// SPDX-License-Identifier: MIT
// libprinterpose: the disk node (/dev/sdX), as drivers/scsi/sd.c and the block layer present one:
// read/write/pread/pwrite at byte offsets through READ(16) / WRITE(16) of whole blocks, lseek,
// fsync as SYNCHRONIZE CACHE, the block-device ioctls (BLKGETSIZE64, BLKSSZGET, ...), and the
// SCSI ioctls every SCSI node answers (scsi_common_ioctl in sg_node.h: SG_IO and its settings).
//
// The capacity comes from READ CAPACITY(16) once per LU and is then cached: prsim's capacities do
// not change while it runs. Every command the disk node issues itself retries unit attentions
// (UaPolicy::internal), as the midlayer does for filesystem I/O, and has the sd driver's default
// timeout, 30 s.
//
// Readiness: the handle's eventfd holds a count of 1 for as long as it is open, so poll() always
// reports a block device readable.
//
// Every function sets errno and returns -1 as the system call it stands for would. I/O fails as the
// page cache reports a failed request: EIO, a reservation conflict included (the kernel logs
// "critical nexus error" and the read returns EIO); a transfer that fails after some bytes returns
// those bytes.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "interposer/shim/fdtable.h"

namespace prfence::shim {

// A read into buf (or write from buf) of count bytes at *at, or at the file position and past it
// when at is null (pread / pwrite against read / write). Past the end: a read returns 0, a write
// fails with ENOSPC; a transfer that crosses it is cut short.
ssize_t disk_read(Handle& h, void* buf, size_t count, const off_t* at);
ssize_t disk_write(Handle& h, const void* buf, size_t count, const off_t* at);
// SEEK_SET, SEEK_CUR, SEEK_END (from the capacity); EINVAL for another whence or a negative result.
off_t disk_lseek(Handle& h, off_t off, int whence);
// SYNCHRONIZE CACHE(10) of the whole medium; EIO when it fails.
int disk_fsync(Handle& h);
// The block-device ioctls, then scsi_common_ioctl's; ENOTTY for the rest.
int disk_ioctl(Handle& h, unsigned long req, void* arg);

// Fork (process.h): prepare takes the capacity cache's lock, release gives it back in the parent
// and in the child.
void disk_atfork_prepare();
void disk_atfork_release();

}  // namespace prfence::shim
