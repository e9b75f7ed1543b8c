// SPDX-License-Identifier: MIT
// The I_T nexuses a prsim farm knows: one record per (initiator port, target port), created by the
// first HELLO that names it and kept for the daemon's life (a reconnecting client gets its nexus,
// and so its registrations and unit attentions, back).
//
// What a record fixes, as a host would see the farm:
//  - the SCSI host number (H of H:C:T:L): one per initiator port, from ServerConfig::hosts when
//    configured there, else the next free number from first_host on, skipping configured ones;
//  - the target id (T): ServerConfig::port_ids, default target port - 1;
//  - disk_base: the sd index of LUN 0 on this nexus, (host * id_span + target id) * luns, with
//    id_span one more than the largest target id, so that every (host, target, LUN) has its own
//    sd name;
//  - per LU, the LU's NexusId, attached at the nexus's first command to that LU.
// Initiators are compared as SPC-4 compares initiator ports (wire::same_initiator): iSCSI names
// case-insensitively, ISIDs in canonical form.
//
// Contract: single-threaded (the server's loop thread). Pure: no I/O, no clock. Records are never
// removed or moved, so NexusRec pointers stay valid for the registry's life.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "interposer/lu/lu.h"
#include "interposer/prsim/config.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::sim {

inline constexpr NexusId kNoNexus = UINT32_MAX;

struct NexusRec {
    uint32_t index = 0;  // 0, 1, ... in order of first HELLO; stable
    wire::TransportId initiator;
    uint16_t target_port = 1;
    uint32_t host = 0;
    uint16_t target_id = 0;
    uint64_t disk_base = 0;         // sd index of LUN 0 on this nexus
    std::vector<NexusId> lu_nexus;  // per LU: its NexusId, kNoNexus until the first command
    std::string label;              // "iscsi:iqn...,i,0x... via port 2 (host 1)", for log lines
};

class NexusRegistry {
  public:
    // Takes the farm's shape from cfg: luns, target_ports, port_ids, hosts, first_host and
    // limits.max_nexuses (cfg need not outlive the registry).
    explicit NexusRegistry(const ServerConfig& cfg);

    // The nexus of (initiator, target port), created at first sight. The caller has checked that
    // the target port exists. Error (Errc::unsupported) when a new nexus would exceed
    // max_nexuses: "the farm already has N I_T nexuses (the limit)".
    Result<NexusRec*> find_or_add(const wire::TransportId& initiator, uint16_t target_port);

    // The NexusId of nx on LU `lun` (lu is that LU), attaching it at the first call.
    static NexusId lu_nexus_for(NexusRec& nx, uint32_t lun, LogicalUnit& lu);

    size_t size() const { return nexuses_.size(); }
    const NexusRec& at(uint32_t index) const { return *nexuses_.at(index); }
    // Every record, in index order.
    const std::vector<std::unique_ptr<NexusRec>>& all() const { return nexuses_; }

  private:
    uint32_t host_for(const std::string& initiator_key);

    uint32_t luns_ = 0;
    uint32_t max_nexuses_ = 0;
    std::map<uint16_t, uint16_t> port_ids_;
    uint16_t id_span_ = 1;
    std::vector<std::unique_ptr<NexusRec>> nexuses_;
    std::unordered_map<std::string, uint32_t> by_key_;       // target port + initiator key
    std::unordered_map<std::string, uint32_t> host_by_key_;  // initiator key -> host number
    std::vector<uint32_t> reserved_hosts_;                   // configured host numbers
    uint32_t next_host_ = 0;
};

}  // namespace prfence::sim
