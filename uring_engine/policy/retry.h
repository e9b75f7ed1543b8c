// SPDX-License-Identifier: MIT
// Retry policy: what the engine does with one command's answer before the plan sees it.
//
// The rules are a table keyed by outcome category (wire::categorize), not a chain of branches:
//  - UNIT ATTENTION: retried at once, up to `max_unit_attention` times, with no TEST UNIT READY in
//    between (the UA itself was the report; fence_scsi's extra sg_turs per command is what makes it
//    slow).
//  - NOT READY "in process of becoming ready" (04h/01h), BUSY, TASK SET FULL: retried with
//    exponential backoff from `backoff_initial` up to `backoff_max`, at most `max_transient` times.
//  - RESERVATION CONFLICT: never retried: it is the answer fencing is about.
//  - Timeouts, transport failures, ILLEGAL REQUEST and everything else: not retried (a timeout
//    already cost a full command timeout; repeating it would hide the failure and blow the failover
//    budget).
#pragma once

#include <chrono>
#include <cstdint>

#include "uring_engine/transport/transport.h"
#include "uring_engine/wire/status.h"

namespace prfence::engine {

struct RetryPolicy {
    unsigned max_unit_attention = 8;
    unsigned max_transient = 6;
    std::chrono::microseconds backoff_initial{1000};
    std::chrono::microseconds backoff_max{200000};
};

struct RetryDecision {
    enum class Kind : uint8_t { deliver, retry_now, retry_later } kind = Kind::deliver;
    std::chrono::microseconds delay{0};
};

// What went wrong with one response, as an sg3_utils category (timeouts and transport errors
// included).
wire::Category response_category(const ScsiResponse& rsp);

// `ua_retries` and `transient_retries` count the retries already made for this command.
RetryDecision decide_retry(const RetryPolicy& policy, const ScsiResponse& rsp, unsigned ua_retries,
                           unsigned transient_retries);

}  // namespace prfence::engine
