// SPDX-License-Identifier: MIT
#include "interposer/prsim/control.h"

#include <utility>

#include "interposer/prsim/trace.h"
#include "uring_engine/simproto/protocol.h"

namespace prfence::sim {

using json = nlohmann::json;

Control::Control(FaultTable& faults, std::vector<std::unique_ptr<LogicalUnit>>& lus,
                 const NexusRegistry& nexuses, std::function<json()> counters,
                 std::function<json()> nvme)
    : faults_(faults),
      lus_(lus),
      nexuses_(nexuses),
      counters_(std::move(counters)),
      nvme_(std::move(nvme)) {}

json Control::handle(const json& req, int64_t now_ns) {
    if (!req.is_object() || !req.contains("op") || !req["op"].is_string())
        return {{"ok", false}, {"error", "expected {\"op\": ...}"}};
    const std::string op = req["op"].get<std::string>();
    const auto luns = static_cast<uint32_t>(lus_.size());
    if (op == "ping") return {{"ok", true}, {"version", proto::kMaxVersion}, {"luns", luns}};
    if (op == "arm") {
        if (!req.contains("fault")) return {{"ok", false}, {"error", "arm needs \"fault\""}};
        const json& f = req["fault"];
        auto spec = f.is_string() ? parse_fault(f.get<std::string>()) : fault_from_json(f);
        if (!spec) return {{"ok", false}, {"error", spec.error().msg}};
        const uint32_t id = faults_.arm(std::move(spec).value(), now_ns);
        return {{"ok", true}, {"id", id}};
    }
    if (op == "disarm") {
        if (req.contains("all") && req["all"].is_boolean() && req["all"].get<bool>())
            return {{"ok", true}, {"disarmed", faults_.disarm_all()}};
        if (!req.contains("id") || !req["id"].is_number_unsigned())
            return {{"ok", false}, {"error", "disarm needs \"id\" or \"all\": true"}};
        const bool found = faults_.disarm(req["id"].get<uint32_t>());
        if (!found)
            return {
                {"ok", false},
                {"error", "no armed fault with id " + std::to_string(req["id"].get<uint64_t>())}};
        return {{"ok", true}, {"disarmed", 1}};
    }
    if (op == "list") return {{"ok", true}, {"faults", faults_.list(now_ns)}};
    if (op == "nvme") {
        if (!nvme_) return {{"ok", false}, {"error", "this daemon has no NVMe subsystem"}};
        return {{"ok", true}, {"nvme", nvme_()}};
    }
    if (op == "stats") {
        json s = counters_ ? counters_() : json::object();
        s["nexuses"] = nexuses_.size();
        s["luns"] = luns;
        s["faults_armed"] = faults_.size();
        return {{"ok", true}, {"stats", s}};
    }
    if (op == "lose_pr") {
        // One-shot fault: the LUs lose their persistent reservation information (SPC-4 5.13.5.3.2).
        LunSet which;
        if (req.contains("luns")) {
            if (!req["luns"].is_string())
                return {{"ok", false}, {"error", "\"luns\" must be a string like \"0-9\""}};
            auto l = LunSet::parse(req["luns"].get<std::string>());
            if (!l) return {{"ok", false}, {"error", l.error().msg}};
            which = *l;
        }
        uint32_t n = 0;
        for (uint32_t l = 0; l < luns; ++l)
            if (which.contains(l)) {
                lus_[l]->lose_persistent_reservations();
                ++n;
            }
        return {{"ok", true}, {"luns_affected", n}};
    }
    if (op == "nexuses") {
        json arr = json::array();
        for (const auto& n : nexuses_.all())
            arr.push_back({{"initiator", wire::format_transport_id(n->initiator)},
                           {"target_port", n->target_port},
                           {"host", n->host},
                           {"channel", 0},
                           {"id", n->target_id},
                           {"first_disk", sd_disk_name(n->disk_base)}});
        return {{"ok", true}, {"nexuses", arr}};
    }
    return {
        {"ok", false},
        {"error", "unknown op \"" + op + "\" (ping, arm, disarm, list, stats, nexuses, lose_pr)"}};
}

std::string Control::reply(const std::string& body, int64_t now_ns) {
    json req = json::parse(body, nullptr, /*allow_exceptions=*/false);
    json r = req.is_discarded()
                 ? json{{"ok", false}, {"error", "control message is not valid JSON"}}
                 : handle(req, now_ns);
    return r.dump();
}

}  // namespace prfence::sim
