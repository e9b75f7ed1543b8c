// SPDX-License-Identifier: MIT
#include "uring_engine/policy/path_failure.h"

#include <cerrno>
#include <cstring>

#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::engine {
namespace {

enum class Sent : bool { no = false, maybe = true };

struct HostRow {
    uint8_t host;
    Sent sent;
};
constexpr HostRow kHostRows[] = {
    {wire::did::no_connect, Sent::no},
    {wire::did::bad_target, Sent::no},
    {wire::did::transport_disrupted, Sent::maybe},
    {wire::did::transport_failfast, Sent::maybe},
    {wire::did::transport_marginal, Sent::maybe},
    {wire::did::time_out, Sent::maybe},
    {wire::did::abort, Sent::maybe},
    {wire::did::reset, Sent::maybe},
    {wire::did::error, Sent::maybe},
    {wire::did::parity, Sent::maybe},
    {wire::did::bad_intr, Sent::maybe},
    {wire::did::soft_error, Sent::maybe},
    {wire::did::bus_busy, Sent::maybe},
    {wire::did::imm_retry, Sent::maybe},
    {wire::did::requeue, Sent::maybe},
};

struct ErrnoRow {
    int err;
    Sent sent;
};
constexpr ErrnoRow kErrnoRows[] = {
    {ENXIO, Sent::no},        {ENODEV, Sent::no},        {ENOTCONN, Sent::no},
    {ECONNREFUSED, Sent::no}, {ESHUTDOWN, Sent::no},     {EHOSTDOWN, Sent::no},
    {EHOSTUNREACH, Sent::no}, {ENETDOWN, Sent::no},      {ENETUNREACH, Sent::no},
    {EIO, Sent::maybe},       {ECONNRESET, Sent::maybe}, {EPIPE, Sent::maybe},
    {ETIMEDOUT, Sent::maybe},
};

// NOT READY, 04h/xx: the target port's ALUA state refuses the command.
struct AluaRow {
    uint8_t ascq;
    const char* why;
};
constexpr AluaRow kAluaRows[] = {
    {0x0a, "asymmetric access state transition"},
    {0x0b, "target port in standby state"},
    {0x0c, "target port in unavailable state"},
};

constexpr uint8_t kDriverMask = 0x0f;
constexpr uint8_t kDriverTimeout = 0x06;

}  // namespace

std::optional<PathFailure> path_failure(const ScsiResponse& rsp) {
    if (rsp.timed_out) return PathFailure{true, "timed out"};
    if (rsp.sys_errno != 0) {
        for (const auto& row : kErrnoRows)
            if (row.err == rsp.sys_errno)
                return PathFailure{row.sent == Sent::maybe,
                                   std::string("transport error: ") + std::strerror(row.err)};
        return std::nullopt;
    }
    if (rsp.host != wire::did::ok) {
        for (const auto& row : kHostRows)
            if (row.host == rsp.host)
                return PathFailure{row.sent == Sent::maybe,
                                   std::string("host byte ") + wire::host_byte_name(rsp.host) +
                                       " (" + wire::host_byte_text(rsp.host) + ")"};
        return std::nullopt;
    }
    if ((rsp.driver & kDriverMask) == kDriverTimeout)
        return PathFailure{true, "timed out (driver byte DRIVER_TIMEOUT)"};
    if (rsp.status == wire::sam::check_condition && !rsp.sense.empty()) {
        auto s = wire::decode_sense(rsp.sense);
        if (s.ok() && s->key == wire::SenseKey::not_ready && s->asc == 0x04)
            for (const auto& row : kAluaRows)
                if (row.ascq == s->ascq) return PathFailure{false, row.why};
    }
    return std::nullopt;
}

}  // namespace prfence::engine
