// SPDX-License-Identifier: MIT
#include "uring_engine/policy/retry.h"

#include <algorithm>

#include "uring_engine/wire/nvme_status.h"
#include "uring_engine/wire/sense.h"

namespace prfence::engine {
namespace {

enum class Rule : uint8_t { deliver, unit_attention, transient };

struct RuleRow {
    wire::Category cat;
    Rule rule;
};
// Everything not listed is delivered as is.
constexpr RuleRow kRules[] = {
    {wire::Category::unit_attention, Rule::unit_attention},
    {wire::Category::busy, Rule::transient},
    {wire::Category::task_set_full, Rule::transient},
    {wire::Category::not_ready, Rule::transient},  // narrowed to "becoming ready" below
};

bool becoming_ready(const ScsiResponse& rsp) {
    auto s = wire::decode_sense(rsp.sense);
    // 04h/01h IN PROCESS OF BECOMING READY; 04h/00h CAUSE NOT REPORTABLE is also transient in
    // practice.
    return s.ok() && s->asc == 0x04 && (s->ascq == 0x01 || s->ascq == 0x00);
}

}  // namespace

wire::Category response_category(const ScsiResponse& rsp) {
    if (rsp.timed_out) return wire::Category::timeout;
    if (rsp.sys_errno != 0) return wire::Category::transport_error;
    // An NVMe completion is categorized by its own status (the SCSI stand-in reads the same, but
    // has no twin for every status).
    if (rsp.nvme && rsp.nvme->res > 0) return wire::nvme::categorize(rsp.nvme->res);
    std::optional<wire::Sense> sense;
    if (!rsp.sense.empty())
        if (auto s = wire::decode_sense(rsp.sense); s.ok()) sense = std::move(s).value();
    return wire::categorize(rsp.status, rsp.host, rsp.driver, sense ? &*sense : nullptr);
}

RetryDecision decide_retry(const RetryPolicy& policy, const ScsiResponse& rsp, unsigned ua_retries,
                           unsigned transient_retries) {
    const wire::Category cat = response_category(rsp);
    Rule rule = Rule::deliver;
    for (const auto& row : kRules)
        if (row.cat == cat) rule = row.rule;
    if (rule == Rule::transient && cat == wire::Category::not_ready && !becoming_ready(rsp))
        rule = Rule::deliver;

    switch (rule) {
        case Rule::unit_attention:
            if (ua_retries < policy.max_unit_attention) return {RetryDecision::Kind::retry_now, {}};
            break;
        case Rule::transient:
            if (transient_retries < policy.max_transient) {
                auto d = policy.backoff_initial * (1u << std::min(transient_retries, 16u));
                return {RetryDecision::Kind::retry_later, std::min(d, policy.backoff_max)};
            }
            break;
        case Rule::deliver:
            break;
    }
    return {};
}

}  // namespace prfence::engine
