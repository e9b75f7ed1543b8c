// SPDX-License-Identifier: MIT
// Why a command hit a reservation conflict, from what the LU answers now. Pure: the caller queries
// (READ KEYS, READ RESERVATION, READ FULL STATUS where supported) and passes the answers.
//
// The table (SPC-4 5.13, "Persistent reservations": which I_T nexuses a reservation type admits).
// "Registered" means our key is among READ KEYS; the holder of a Write Exclusive / Exclusive Access
// (and the reserving registrant of a registrants-only) reservation is READ RESERVATION's key.
//   0. PR IN itself refused with RESERVATION CONFLICT         -> RESERVED_SPC2 (an SPC-2 RESERVE
//      held by another initiator; PR commands never conflict with a persistent reservation)
//   1. READ KEYS or READ RESERVATION missing                  -> UNKNOWN (why: the query error)
//   2. a re-issued command succeeded                          -> TRANSIENT
//   3. reservation of a type outside the six                  -> UNKNOWN
//   PR OUT (other than REGISTER, which never conflicts):
//   4. not registered, a reservation held by another key      -> FENCED (preempted by the holder)
//   5. not registered otherwise                               -> NOT_REGISTERED
//   6. registered, reserved by another key or all-registrants -> RESERVED_BY_OTHER
//      (RESERVE/RELEASE of a reservation someone else holds)
//   7. registered, no reservation or ours                     -> TRANSIENT
//   PR IN (only SPC-2 conflicts, row 0)                       -> TRANSIENT
//   Data access (reads; writes and every other command count as writes, the stricter case):
//   8. no reservation                                         -> TRANSIENT
//   9. the type admits this access from any nexus (reads under WE, WE-RO, WE-AR) -> TRANSIENT
//  10. WE/EA, not registered                                  -> FENCED (preempted by the holder)
//  11. WE/EA, registered (or our key unknown)                 -> RESERVED_BY_OTHER (holder key and
//      type; when the holder key is ours, the reservation is held through another I_T nexus of
//      this node)
//  12. RO/AR, not registered                                  -> FENCED (preempted by the holder,
//      for all-registrants types by the remaining registrants)
//  13. RO/AR, registered                                      -> NOT_REGISTERED (our key is on the
//      LU but not through the nexus that failed: registration lost, e.g. a new iSCSI session ID)
//  14. RO/AR, our key unknown                                 -> UNKNOWN (needs --key)
// "Not registered" with a reservation that shuts us out is FENCED rather than NOT_REGISTERED
// because a node that runs prexplain registers its key; a key that is gone while another registrant
// holds the reservation is what PREEMPT leaves behind. READ FULL STATUS, when given, names the
// holder(s) with their TransportIDs.
//
// NVMe namespaces (the NVMe base specification's reservations: registrants are hosts, named by
// their host identifier; one Reservation Report answers everything). With the Report and our
// host's identifier (the hostid of the controller the namespace was reached through), whether we
// are registered is decided by host identifier, and "our key is gone" means our key is known
// (--key, prfenced's group) and no registrant of our host holds it:
//   N0. the Report or our host identifier missing                -> the table above, on the keys
//   N1. a re-issued command succeeded                            -> TRANSIENT
//   Reservation Register/Acquire/Release (PR OUT):
//   N2. our host not registered, another host holds a reservation, our key gone -> FENCED
//   N3. our host not registered otherwise                        -> NOT_REGISTERED
//   N4. registered, another host holds the reservation           -> RESERVED_BY_OTHER
//   N5. registered, nothing reserved or ours                     -> TRANSIENT
//   Report (PR IN)                                               -> TRANSIENT
//   Reads, writes (other commands count as writes):
//   N6. nothing reserved, or our host holds it, or a read under a Write Exclusive type -> TRANSIENT
//   N7. WE/EA held by another host: our key gone -> FENCED; otherwise -> RESERVED_BY_OTHER
//   N8. registrants-only / all-registrants: registered            -> TRANSIENT (every controller
//       of a registered host may access); not registered: our key gone -> FENCED, otherwise
//       -> NOT_REGISTERED
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/prexplain/correlate.h"
#include "uring_engine/wire/nvme_types.h"
#include "uring_engine/wire/prin.h"

namespace prfence::prexplain {

enum class ConflictClass : uint8_t {
    fenced,
    reserved_by_other,
    not_registered,
    reserved_spc2,
    transient,
    unknown,
};
// "FENCED", "RESERVED_BY_OTHER", "NOT_REGISTERED", "RESERVED_SPC2", "TRANSIENT", "UNKNOWN".
const char* class_name(ConflictClass c) noexcept;

struct PrSnapshot {
    std::optional<uint64_t> our_key;
    std::optional<wire::ReadKeys> keys;
    std::optional<wire::ReadReservation> reservation;
    std::optional<wire::FullStatus> full_status;
    bool spc2_reserved = false;  // PERSISTENT RESERVE IN answered RESERVATION CONFLICT
    bool recheck_clear = false;  // the command, issued again, succeeded
    std::string query_error;     // why keys/reservation are missing ("" = not queried)
    // NVMe namespaces: the Reservation Report, and our host's identifier.
    std::optional<wire::nvme::ReservationStatus> nvme_report;
    std::optional<wire::nvme::HostId> our_hostid;
};

struct Diagnosis {
    ConflictClass cls = ConflictClass::unknown;
    std::optional<uint64_t> holder_key;   // the reservation holder's key (none for all-registrants)
    uint8_t type = 0;                     // reservation type now (0: none)
    bool registered = false;              // our key is among READ KEYS
    std::vector<uint64_t> preempted_by;   // FENCED: the holder(s) that shut us out
    std::vector<std::string> holder_ids;  // their TransportIDs, from READ FULL STATUS
    std::string reason;                   // one sentence for humans; for UNKNOWN says why
    // NVMe: the Report's registrants and our host identifier, when they decided the class.
    std::optional<wire::nvme::ReservationStatus> nvme_report;
    std::optional<wire::nvme::HostId> our_hostid;
};

// "6c9e1a52-0d6e-4c4b-9a1f-2f1d0c3b4a59" (the kernel's %pU spelling, as sysfs shows a controller's
// hostid); a 64-bit identifier (bytes 8..15 zero) as 16 hex digits.
std::string hostid_text(const wire::nvme::HostId& id);
// The inverse (either spelling, any case); nullopt for anything else.
std::optional<wire::nvme::HostId> parse_hostid(std::string_view s);

Diagnosis classify(const PrSnapshot& s, Access access);

}  // namespace prfence::prexplain
