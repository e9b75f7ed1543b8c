// SPDX-License-Identifier: MIT
// A blocking client for prfenced's control socket: connects, sends requests, collects their answers
// (an ack, an error with its extended-ack text, or a multi-part answer up to NLMSG_DONE), and reads
// events after CMD_SUBSCRIBE. Used by `prfence --daemon`, prexplain's --forward and the tests. Not
// thread-safe: one Client per thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nl_control/protocol/message.h"
#include "uring_engine/common/result.h"

namespace prfence::nl {

// A CMD_RUN / CMD_GROUP_REFRESH answer put back together (from what call() returned, after checking
// it is not an error answer): results arrive in the order LUNs finished, LUN_INDEX puts them back
// in the group's order. Errc::malformed, naming what is wrong, when the answer is not whole: no
// summary, a LUN missing, repeated or beyond the summary's LUN count.
struct RunAnswer {
    std::vector<engine::LunOutcome> outcomes;  // outcomes[i] = LUN_INDEX i
    Summary summary;
};
Result<RunAnswer> assemble_run_answer(std::vector<Answer>& answers);

class Client {
  public:
    // Connects to the daemon's SOCK_SEQPACKET socket. Errors name the path: ENOENT ("is prfenced
    // running?"), EACCES/EPERM (socket mode and group), ECONNREFUSED.
    static Result<Client> connect(const std::string& socket_path);
    // Takes ownership of an already connected SOCK_SEQPACKET socket (tests use one end of a
    // socketpair; a supervisor may hand one over).
    static Client adopt(int fd) { return Client(fd); }
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;
    ~Client();

    // Sends `req` (seq assigned here, NLM_F_REQUEST | NLM_F_ACK set, hdr.type forced to kMsgType)
    // and collects every answer message until the ack (single answers come before it) or NLMSG_DONE
    // (multi-part answers; no ack follows them). The terminating ack (kind ack) or done (kind done)
    // is the LAST element of the returned vector: back().err() is the request's errno (0 =
    // success). An error answer (NLMSG_ERROR with err != 0) is returned as an Answer with err()
    // set, not as an Error: Error is for the socket (daemon gone: Errc::system with
    // ECONNRESET/EPIPE and "prfenced closed the connection"; timeout: Errc::timeout; malformed
    // answer: Errc::malformed). `timeout` bounds the whole call; none = wait forever. Answers
    // carrying another seq (a request that timed out before) are dropped; events (seq 0, CMD_EVENT)
    // are queued for next_event().
    Result<std::vector<Answer>> call(
        Request req, std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    // Checks that the daemon speaks a version this client understands (CMD_GET_FAMILY), waiting at
    // most `timeout` for its answer, and returns what it said. Errc::unsupported for a refusal,
    // another family or no common version (naming both version ranges).
    Result<FamilyInfo> family(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // connect() and family() in one: a client whose daemon is known to speak our protocol, so that
    // an incompatible daemon is named as such instead of failing on the first attribute it does
    // not know.
    static Result<Client> connect_checked(
        const std::string& socket_path,
        std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // After call() with CMD_SUBSCRIBE: the next event, or nullopt when `timeout` passed first.
    Result<std::optional<Event>> next_event(
        std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    int fd() const { return fd_; }

    // How long call() polls for an answer without sleeping before it blocks in poll(2) (default 100
    // us). Answers within the window skip a scheduler wakeup (15-30 us on a virtual machine); the
    // window is longer than the 40-60 us a virtual machine's vCPU stalls, so an answer delayed by
    // one stall does not pay a wakeup on top. The price is at most this much CPU per call. 0 =
    // always block.
    void set_spin(std::chrono::microseconds spin) { spin_ = spin; }

  private:
    explicit Client(int fd) : fd_(fd) {}
    int fd_ = -1;
    uint32_t seq_ = 0;
    std::chrono::microseconds spin_{100};
    std::vector<Event> pending_events_;  // events that arrived while waiting for an answer
    // Receive scratch of kMaxDatagram bytes, allocated on first use and never zeroed: only the
    // pages a datagram lands on are touched (zeroing 256 KiB cost a fresh CLI process 64 page
    // faults).
    std::unique_ptr<uint8_t[]> rbuf_;
};

}  // namespace prfence::nl
