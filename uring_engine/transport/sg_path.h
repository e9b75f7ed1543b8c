// SPDX-License-Identifier: MIT
// /dev/sgN driven through io_uring with the sg v3 asynchronous interface: an sg_io_hdr written to
// the fd queues a command, reading the fd returns a completed one (drivers/scsi/sg.c: sg_write,
// sg_read; the kernel has no SCSI io_uring passthrough, and sg v4 was never merged).
//
// The fd is opened O_RDWR|O_NONBLOCK once and kept. Writes go through io_uring (sg's write runs
// inline in io_uring_enter, so a batch of commands over hundreds of fds costs one system call).
// Completions are collected by one multishot POLLIN on the fd: when it fires, the path reads
// completed headers with plain non-blocking read() until EAGAIN, and matches each to its command by
// usr_ptr and pack_id. At most 16 commands are queued per fd (SG_MAX_QUEUE; a 17th write fails with
// EDOM, which io_uring does not retry).
//
// Why not one IORING_OP_READ per command: sg wakes every reader of an fd for each completion. With
// several reads armed on one fd, all but one lose the race, and a read whose poll already fired
// once is handed to an io-wq worker, where the O_NONBLOCK fd answers -EAGAIN and the read completes
// with that error instead of a command (Debian's 6.1 kernel: most commands of a 16-deep batch never
// came back).
#pragma once

#include <scsi/sg.h>

#include <array>
#include <memory>
#include <string>

#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/transport.h"

namespace prfence::engine {

class SgPath final : public Path {
  public:
    static constexpr unsigned kMaxQueue = 16;
    static constexpr unsigned kSenseMax = 96;  // SCSI_SENSE_BUFFERSIZE

    // Opens `dev` (a /dev/sgN node). Errors name the device: ENOENT, EACCES (PR needs
    // CAP_SYS_RAWIO), a file that is not an sg node (SG_GET_VERSION_NUM fails), an sg driver older
    // than v3.
    static Result<std::unique_ptr<SgPath>> open(Ring& ring, CompletionSink& sink,
                                                const std::string& dev);
    // Takes an fd already open on an sg node (the caller keeps nothing).
    static Result<std::unique_ptr<SgPath>> adopt(Ring& ring, CompletionSink& sink, int fd,
                                                 std::string name);
    ~SgPath() override;

    const std::string& name() const override { return name_; }
    unsigned queue_depth() const override { return kMaxQueue; }
    unsigned in_flight() const override { return in_flight_; }
    Status submit(uint64_t tag, const ScsiRequest& req) override;
    void begin_shutdown() override;

  private:
    SgPath(Ring& ring, CompletionSink& sink, int fd, std::string name);

    struct Slot;
    struct WriteOp : Ring::Op {
        SgPath* path = nullptr;
        Slot* slot = nullptr;
        void complete(int res, uint32_t flags) override;
    };
    struct PollOp : Ring::Op {
        SgPath* path = nullptr;
        void complete(int res, uint32_t flags) override;
    };
    struct Slot {
        bool busy = false;
        uint64_t tag = 0;
        uint64_t start_ns = 0;
        int pack_id = 0;      // distinguishes this use of the slot from an earlier one
        bool queued = false;  // sg accepted the write; a completion will come from read()
        sg_io_hdr_t hdr{};
        std::array<uint8_t, 16> cdb{};
        std::array<uint8_t, kSenseMax> sense{};
        Bytes data;
        WriteOp write_op;
    };

    void finish(Slot& s, const sg_io_hdr_t* done, int sys_errno);
    Status arm_poll();
    void reap();
    void fail_queued(int sys_errno);

    Ring& ring_;
    CompletionSink& sink_;
    int fd_ = -1;
    std::string name_;
    unsigned in_flight_ = 0;
    int next_pack_id_ = 0;
    std::array<Slot, kMaxQueue> slots_{};
    PollOp poll_;
    bool poll_armed_ = false;
    bool poll_remove_sent_ = false;
};

}  // namespace prfence::engine
