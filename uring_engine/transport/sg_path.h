// SPDX-License-Identifier: MIT
// /dev/sgN driven through io_uring with the sg v3 asynchronous interface: an sg_io_hdr written to the fd
// queues a command, reading the fd returns a completed one (FIELD-NOTES section 3).
//
// The fd is opened O_RDWR|O_NONBLOCK once and kept: io_uring then calls sg's write/read directly and arms
// a read that would block on poll, so no kernel worker thread is parked per command. At most 16 commands
// are queued per fd (SG_MAX_QUEUE; a 17th write fails with EDOM, which io_uring does not retry), and reads
// may return completions in any order: each is matched to its command by usr_ptr.
#pragma once

#include <scsi/sg.h>

#include <array>
#include <memory>
#include <string>

#include "transport/ring.h"
#include "transport/transport.h"

namespace prfence::engine {

class SgPath final : public Path {
public:
    static constexpr unsigned kMaxQueue = 16;
    static constexpr unsigned kSenseMax = 96;  // SCSI_SENSE_BUFFERSIZE

    // Opens `dev` (a /dev/sgN node). Errors name the device: ENOENT, EACCES (PR needs CAP_SYS_RAWIO), a
    // file that is not an sg node (SG_GET_VERSION_NUM fails), an sg driver older than v3.
    static Result<std::unique_ptr<SgPath>> open(Ring& ring, CompletionSink& sink, const std::string& dev);
    // Takes an fd already open on an sg node (the caller keeps nothing).
    static Result<std::unique_ptr<SgPath>> adopt(Ring& ring, CompletionSink& sink, int fd, std::string name);
    ~SgPath() override;

    const std::string& name() const override { return name_; }
    unsigned queue_depth() const override { return kMaxQueue; }
    unsigned in_flight() const override { return in_flight_; }
    Status submit(uint64_t tag, const ScsiRequest& req) override;

private:
    SgPath(Ring& ring, CompletionSink& sink, int fd, std::string name);

    struct Slot;
    struct WriteOp : Ring::Op {
        SgPath* path = nullptr;
        Slot* slot = nullptr;
        void complete(int res, uint32_t flags) override;
    };
    struct ReadOp : Ring::Op {
        SgPath* path = nullptr;
        sg_io_hdr_t hdr{};
        bool busy = false;
        void complete(int res, uint32_t flags) override;
    };
    struct Slot {
        bool busy = false;
        uint64_t tag = 0;
        uint64_t start_ns = 0;
        sg_io_hdr_t hdr{};
        std::array<uint8_t, 16> cdb{};
        std::array<uint8_t, kSenseMax> sense{};
        Bytes data;
        WriteOp write_op;
    };

    void finish(Slot& s, const sg_io_hdr_t* done, int sys_errno);
    Status post_read();

    Ring& ring_;
    CompletionSink& sink_;
    int fd_ = -1;
    std::string name_;
    unsigned in_flight_ = 0;
    std::array<Slot, kMaxQueue> slots_{};
    std::array<ReadOp, kMaxQueue> reads_{};
};

}  // namespace prfence::engine
