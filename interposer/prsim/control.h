// SPDX-License-Identifier: MIT
// prsim's control operations: the JSON requests a CONTROL frame carries and their replies
// (interposer/PROTOCOL.md, "CONTROL (04h) / CONTROL_REPLY (84h)"). Every reply is an object with
// "ok"; a refused request has "error" too.
//   {"op":"ping"}                          {"ok":true,"version":V,"luns":N}
//   {"op":"arm","fault":F}                 F compact text (faults.h parse_fault) or JSON; {"id":I}
//   {"op":"disarm","id":I} / "all":true    {"disarmed":n}
//   {"op":"list"}                          {"faults":[...]} (FaultTable::list)
//   {"op":"stats"}                         {"stats":{...}}: the server's counters, nexuses, luns,
//                                          faults_armed
//   {"op":"lose_pr"[,"luns":"0-9"]}        the LUs lose their PR information; {"luns_affected":n}
//   {"op":"nexuses"}                       {"nexuses":[{initiator, target_port, host, channel, id,
//                                          first_disk}, ...]}
//   {"op":"nvme"}                          {"nvme":{subnqn, namespaces:[{nsid, generation, rtype,
//                                          registrants:[{hostid, key, holds}]}],
//                                          controllers:[{cntlid, hostnqn, hostid, instance}]}}
//                                          (NvmeFarm::describe)
//
// Contract: single-threaded (the server's loop thread). Control references the fault table, the
// LUs and the nexus registry, which must outlive it; the server's own counters come from the
// `counters` callback. No I/O: the caller passes the clock and sends the reply.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "interposer/lu/lu.h"
#include "interposer/prsim/faults.h"
#include "interposer/prsim/nexus_registry.h"

namespace prfence::sim {

class Control {
  public:
    // counters: the "stats" object's server counters (connections, commands, responses, trace).
    // nvme: the "nvme" reply's object (none: the op is refused).
    Control(FaultTable& faults, std::vector<std::unique_ptr<LogicalUnit>>& lus,
            const NexusRegistry& nexuses, std::function<nlohmann::json()> counters,
            std::function<nlohmann::json()> nvme = {});

    // The reply to one request (fault arm times and expiries are taken at now_ns).
    nlohmann::json handle(const nlohmann::json& req, int64_t now_ns);
    // The reply text to a CONTROL frame's body, which may not be JSON at all.
    std::string reply(const std::string& body, int64_t now_ns);

  private:
    FaultTable& faults_;
    std::vector<std::unique_ptr<LogicalUnit>>& lus_;
    const NexusRegistry& nexuses_;
    std::function<nlohmann::json()> counters_;
    std::function<nlohmann::json()> nvme_;
};

}  // namespace prfence::sim
