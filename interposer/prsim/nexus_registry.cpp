// SPDX-License-Identifier: MIT
#include "interposer/prsim/nexus_registry.h"

#include <algorithm>
#include <cctype>

namespace prfence::sim {
namespace {

// A key equal for TransportIDs that name the same initiator port (wire::same_initiator).
std::string initiator_key(wire::TransportId t) {
    if (t.protocol == wire::ProtocolId::iscsi) {
        for (auto& ch : t.iscsi_name)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (!t.iscsi_isid.empty())
            if (auto c = wire::canonical_isid(t.iscsi_isid); c.ok()) t.iscsi_isid = *c;
    }
    if (auto b = wire::encode_transport_id(t); b.ok()) return std::string(b->begin(), b->end());
    return wire::format_transport_id(t);
}

}  // namespace

NexusRegistry::NexusRegistry(const ServerConfig& cfg)
    : luns_(cfg.luns),
      max_nexuses_(cfg.limits.max_nexuses),
      port_ids_(cfg.port_ids),
      next_host_(cfg.first_host) {
    uint16_t max_id = 0;
    for (uint32_t p = 1; p <= cfg.target_ports; ++p) {
        auto it = cfg.port_ids.find(static_cast<uint16_t>(p));
        max_id = std::max<uint16_t>(
            max_id, it != cfg.port_ids.end() ? it->second : static_cast<uint16_t>(p - 1));
    }
    id_span_ = static_cast<uint16_t>(max_id + 1);
    for (const auto& [tid, host] : cfg.hosts) {
        host_by_key_[initiator_key(tid)] = host;
        reserved_hosts_.push_back(host);
    }
}

uint32_t NexusRegistry::host_for(const std::string& ikey) {
    if (auto hk = host_by_key_.find(ikey); hk != host_by_key_.end()) return hk->second;
    while (std::find(reserved_hosts_.begin(), reserved_hosts_.end(), next_host_) !=
           reserved_hosts_.end())
        ++next_host_;
    const uint32_t host = next_host_++;
    host_by_key_[ikey] = host;
    return host;
}

Result<NexusRec*> NexusRegistry::find_or_add(const wire::TransportId& initiator,
                                             uint16_t target_port) {
    const std::string ikey = initiator_key(initiator);
    std::string nkey(2, '\0');  // target port (2 bytes), then the initiator
    nkey[0] = static_cast<char>(target_port >> 8);
    nkey[1] = static_cast<char>(target_port & 0xff);
    nkey += ikey;
    if (auto it = by_key_.find(nkey); it != by_key_.end()) return nexuses_[it->second].get();
    if (nexuses_.size() >= max_nexuses_)
        return fail(Errc::unsupported, "the farm already has " + std::to_string(nexuses_.size()) +
                                           " I_T nexuses (the limit)");
    auto rec = std::make_unique<NexusRec>();
    rec->index = static_cast<uint32_t>(nexuses_.size());
    rec->initiator = initiator;
    rec->target_port = target_port;
    rec->host = host_for(ikey);
    auto pid = port_ids_.find(target_port);
    rec->target_id = pid != port_ids_.end() ? pid->second : static_cast<uint16_t>(target_port - 1);
    rec->disk_base = (uint64_t{rec->host} * id_span_ + rec->target_id) * luns_;
    rec->lu_nexus.assign(luns_, kNoNexus);
    rec->label = wire::format_transport_id(initiator) + " via port " + std::to_string(target_port) +
                 " (host " + std::to_string(rec->host) + ")";
    NexusRec* nx = rec.get();
    by_key_.emplace(std::move(nkey), rec->index);
    nexuses_.push_back(std::move(rec));
    return nx;
}

NexusId NexusRegistry::lu_nexus_for(NexusRec& nx, uint32_t lun, LogicalUnit& lu) {
    NexusId& id = nx.lu_nexus[lun];
    if (id == kNoNexus) id = lu.attach(NexusIdentity{nx.initiator, nx.target_port});
    return id;
}

}  // namespace prfence::sim
