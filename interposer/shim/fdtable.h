// SPDX-License-Identifier: MIT
// libprinterpose: the descriptor table, which descriptors are virtual and what they are open on.
//
// A virtual device is opened as a real descriptor the kernel hands out (an eventfd), so close, dup,
// fcntl, poll, select and epoll behave, and the kernel never gives the number to anybody else while
// it is open. The table maps those numbers to a Handle: one per open(), shared by dup()s, as an
// open file description is. The eventfd is the handle's readiness; each node kind sets its count
// (sg_node.h, disk_node.h).
//
// Lookups are cheap for descriptors that are not virtual: a lock-free flag per descriptor number
// answers before any lock is taken.
#pragma once

#include <scsi/sg.h>

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
    // disk node
    uint64_t pos = 0;  // file position
    // sg node (the sg driver's defaults)
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

// Whether fd may be virtual: lock-free, never a false "no".
bool maybe_virtual_fd(int fd);
// The handle fd is open on, or nullptr when fd is not virtual.
std::shared_ptr<Handle> lookup_fd(int fd);
// fd is now open on h (a new open, or a dup of one of h's descriptors); replaces what fd was.
void register_fd(int fd, const std::shared_ptr<Handle>& h);
// fd was closed (or replaced by dup2 of a real descriptor); no-op when it is not virtual.
void unregister_fd(int fd);
// Every virtual descriptor in [first, last] was closed (close_range, closefrom).
void unregister_range(unsigned first, unsigned last);

// Fork: prepare takes the table's lock and then every handle's; parent releases them; child
// forgets each handle's commands in flight and completions not yet read (they were the parent's),
// then releases them.
void fdtable_atfork_prepare();
void fdtable_atfork_parent();
void fdtable_atfork_child();

}  // namespace prfence::shim
