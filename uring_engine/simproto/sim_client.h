// SPDX-License-Identifier: MIT
// SimClient: a simple blocking client of the prsim daemon for tools and tests. It connects to the
// Unix socket, says HELLO (declaring its I_T nexus), and then submits any number of commands and
// waits for their answers, which come back in any order. Every wait has a timeout; nothing here
// blocks forever. The engine's `sim` transport (uring_engine/transport/sim_path.cpp) and the shim
// (interposer/shim/conn.cpp) use it for the HELLO exchange only, then take over its socket and
// drive the same frames (simproto/protocol.h) themselves: the transport through io_uring, the
// shim with a reader thread.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/simproto/protocol.h"

namespace prfence::sim {

class SimClient {
  public:
    // Connects and completes the HELLO exchange. A refused HELLO is an Error carrying the server's
    // message.
    static Result<std::unique_ptr<SimClient>> connect(const std::string& socket_path,
                                                      const proto::Hello& hello,
                                                      int timeout_ms = 5000);
    // Connects without HELLO: only control() works (prsim ctl), or raw frames (tests).
    static Result<std::unique_ptr<SimClient>> connect_raw(const std::string& socket_path,
                                                          int timeout_ms = 5000);

    ~SimClient();
    SimClient(const SimClient&) = delete;
    SimClient& operator=(const SimClient&) = delete;

    const proto::HelloAck& info() const { return ack_; }
    int fd() const { return fd_; }

    // Sends one command (tags are chosen here, increasing from 1) and returns its tag.
    Result<uint64_t> submit(uint32_t lun, ByteView cdb, ByteView data_out = {},
                            uint32_t alloc_len = 0);
    // Sends one command with the caller's tag.
    Status submit_tagged(uint64_t tag, uint32_t lun, ByteView cdb, ByteView data_out = {},
                         uint32_t alloc_len = 0);
    // Asks the server to abort a command it still holds (delayed or never completing): it is then
    // answered with TASK ABORTED. A command already answered is not affected.
    Status abort(uint64_t tag);

    // The next response of any tag. A command the server rejected (non-fatal ERROR frame) comes
    // back as an Error naming the tag; a fatal ERROR or a closed connection is an Error for every
    // later call.
    Result<proto::Response> wait_any(int timeout_ms = 5000);
    // The response to one tag (responses to other tags that arrive meanwhile are kept for later).
    Result<proto::Response> wait(uint64_t tag, int timeout_ms = 5000);
    // submit + wait.
    Result<proto::Response> execute(uint32_t lun, ByteView cdb, ByteView data_out = {},
                                    uint32_t alloc_len = 0, int timeout_ms = 5000);

    // NVMe (protocol version 2, a HELLO that declared an NVMe host): sends one NVME_COMMAND and
    // returns its tag (shared with the SCSI commands' tags).
    Result<uint64_t> submit_nvme(const proto::NvmeCommand& cmd);
    // Its NVME_RESPONSE (a rejected command is an Error naming the tag, as wait()).
    Result<proto::NvmeResponse> wait_nvme(uint64_t tag, int timeout_ms = 5000);
    Result<proto::NvmeResponse> execute_nvme(const proto::NvmeCommand& cmd, int timeout_ms = 5000);

    // One control request (JSON text), answered with the server's JSON reply text.
    Result<std::string> control(std::string_view json, int timeout_ms = 5000);

    // Writes bytes as they are (tests: garbage, partial frames).
    Status send_raw(ByteView bytes, int timeout_ms = 5000);
    // Responses received and not yet taken.
    size_t ready() const { return order_.size(); }
    // The fatal ERROR the server sent, if any.
    const std::optional<proto::ErrorFrame>& fatal_error() const { return fatal_; }

  private:
    SimClient() = default;
    Status write_all(ByteView bytes, int timeout_ms);
    // The filed answer to `tag` (its response, or the rejection as an error), taken out; nullopt
    // when none has come.
    std::optional<Result<proto::Response>> take(uint64_t tag);
    // Reads whatever is available (waiting up to timeout_ms for something) and files the frames.
    Status pump(int timeout_ms);
    Status file_frame(const proto::Frame& f);
    Unexpected dead_error() const;

    int fd_ = -1;
    proto::HelloAck ack_;
    proto::FrameDecoder dec_;
    uint64_t next_tag_ = 1;
    std::unordered_map<uint64_t, proto::Response> done_;
    std::unordered_map<uint64_t, proto::NvmeResponse> nvme_done_;
    std::unordered_map<uint64_t, proto::ErrorFrame> rejected_;
    std::unordered_map<uint64_t, std::string> control_replies_;
    std::deque<uint64_t> order_;  // tags of done_/rejected_ in arrival order
    std::optional<proto::HelloAck> got_ack_;
    std::optional<proto::ErrorFrame> fatal_;
    bool closed_ = false;
    Bytes out_;
};

}  // namespace prfence::sim
