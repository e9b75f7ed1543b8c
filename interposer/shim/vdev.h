// SPDX-License-Identifier: MIT
// libprinterpose: virtual devices, the calls the exported wrappers (interpose.cpp) make on a
// virtual path or descriptor, each passed to the node kind's own code: sg_node.h for /dev/sgN,
// disk_node.h for /dev/sdX. The descriptor table is fdtable.h, the process's state process.h.
//
// Every function here sets errno and returns -1 as the system call it stands for would.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "interposer/shim/fdtable.h"
#include "interposer/shim/process.h"
#include "uring_engine/simproto/names.h"

namespace prfence::shim {

// Opening: a new descriptor for the node, or -1 (ENXIO when prsim is unreachable, ENOENT for an LU
// the farm does not have, EEXIST for O_CREAT|O_EXCL, ENOTDIR for O_DIRECTORY).
int open_virtual(const VirtualNode& node, const std::string& path, int flags);

// The calls on an open virtual descriptor. An sg node has no file position: pread / pwrite and
// lseek fail with ESPIPE, fsync with EINVAL.
int vdev_ioctl(int fd, Handle& h, unsigned long req, void* arg);
ssize_t vdev_read(int fd, Handle& h, void* buf, size_t count, const off_t* at);
ssize_t vdev_write(int fd, Handle& h, const void* buf, size_t count, const off_t* at);
off_t vdev_lseek(Handle& h, off_t off, int whence);
int vdev_fsync(Handle& h);

// stat() of a node (a character device for sg, a block device for a disk, with the kernel's device
// numbers) or, with node null, of the prefix directory.
void fill_stat(const VirtualNode* node, struct stat* st);

}  // namespace prfence::shim
