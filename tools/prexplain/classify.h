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
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/prexplain/correlate.h"
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
};

struct Diagnosis {
    ConflictClass cls = ConflictClass::unknown;
    std::optional<uint64_t> holder_key;   // the reservation holder's key (none for all-registrants)
    uint8_t type = 0;                     // reservation type now (0: none)
    bool registered = false;              // our key is among READ KEYS
    std::vector<uint64_t> preempted_by;   // FENCED: the holder(s) that shut us out
    std::vector<std::string> holder_ids;  // their TransportIDs, from READ FULL STATUS
    std::string reason;                   // one sentence for humans; for UNKNOWN says why
};

Diagnosis classify(const PrSnapshot& s, Access access);

}  // namespace prfence::prexplain
