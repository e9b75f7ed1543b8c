// SPDX-License-Identifier: MIT
// libprinterpose: virtual device descriptors and what the device-facing calls do on them.
//
// A virtual device is opened as a real descriptor the kernel hands out (an eventfd), so close, dup,
// fcntl, poll, select and epoll behave, and the kernel never gives the number to anybody else while
// it is open. The table below maps those numbers to a Handle (one per open(), shared by dup()s, as
// an open file description is). sg handles use the eventfd as their readiness: one count per
// completed asynchronous command not yet read (EFD_SEMAPHORE), so poll() reports POLLIN exactly
// when read() has something. Disk handles keep the count at 1 (a block device is always readable).
//
// Every function here sets errno and returns -1 as the system call it stands for would.
#pragma once

#include <scsi/sg.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "interposer/shim/conn.h"
#include "uring_engine/simproto/names.h"

namespace prfence::shim {

struct Handle : std::enable_shared_from_this<Handle> {
    VirtualNode node;
    std::string path;            // as opened (normalised), for /proc/self/fd readlink
    std::mutex mu;               // everything below
    std::condition_variable cv;  // a completion arrived (blocking read())
    std::vector<int> fds;        // descriptors open on this handle
    uint64_t pos = 0;            // disk: file position
    // sg state (sg driver defaults)
    struct Done {
        sg_io_hdr_t hdr;
        Outcome out;
    };
    std::deque<Done> done;  // completed asynchronous commands, not yet read()
    unsigned inflight = 0;
    int reserved_size = SG_DEF_RESERVED_SIZE;
    int timeout_ticks = 60 * 100;  // SG_SET_TIMEOUT / SG_GET_TIMEOUT, in USER_HZ ticks
    bool force_pack_id = false;
    bool command_q = true;
    bool keep_orphan = false;
};

// The process-wide state: configuration, connection, descriptor table. All entry points check
// that they run in the process that owns the state (a vfork child shares its parent's memory and
// must not change it).
const Config& config();
bool owner_process();
// This process's connection, (re)connecting when there is none or it died; nullptr when prsim is
// unreachable (the one stderr message is printed then).
Conn* connection();
void warn_once(const std::string& what);

// Descriptor table.
bool maybe_virtual_fd(int fd);  // lock-free pre-check
std::shared_ptr<Handle> lookup_fd(int fd);
void register_fd(int fd, const std::shared_ptr<Handle>& h);
void unregister_fd(int fd);
void unregister_range(unsigned first, unsigned last);

// Opening: a new descriptor for the node, or -1 (ENXIO when prsim is unreachable, ENOENT for an LU
// the farm does not have).
int open_virtual(const VirtualNode& node, const std::string& path, int flags);

// The calls on an open virtual descriptor.
int vdev_ioctl(int fd, Handle& h, unsigned long req, void* arg);
ssize_t vdev_read(int fd, Handle& h, void* buf, size_t count, const off_t* at);
ssize_t vdev_write(int fd, Handle& h, const void* buf, size_t count, const off_t* at);
off_t vdev_lseek(Handle& h, off_t off, int whence);
int vdev_fsync(Handle& h);

// stat() of a node or of the prefix directory.
void fill_stat(const VirtualNode* node, struct stat* st);

// pthread_atfork handlers.
void atfork_prepare();
void atfork_parent();
void atfork_child();

}  // namespace prfence::shim
