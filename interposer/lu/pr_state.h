// SPDX-License-Identifier: MIT
// prsim's SPC-4 persistent-reservation state machine for one logical unit (SPC-4 5.13, 6.15, 6.16).
//
// PrState holds the registrations (one per I_T nexus: initiator TransportID + relative target
// port), the reservation (type and holder), PRgeneration, the APTPL flag and the "persistent
// reservation information lost" condition, and executes PERSISTENT RESERVE IN / OUT. It is pure
// data: no files, no nexus ids, no unit-attention queues. A command's side effects on other nexuses
// come back in PrCommandResult (unit attentions to establish, nexuses whose commands PREEMPT AND
// ABORT aborts) and the LogicalUnit applies them.
//
// Where the standard is a table, so is this file: the access matrix (SPC-4 table 65) and the
// PERSISTENT RESERVE OUT access table (SPC-4 table 66) are constexpr tables below.
//
// Decisions where sources differ (all checked against SPC-4 r37 text, LIO target_core_pr.c, SPDK
// lib/scsi/scsi_pr.c):
// - Registrations are per I_T nexus and independent once made. ALL_TG_PT (and SPEC_I_PT with
//   ALL_TG_PT) registers every target port "as if the same registration request had been received
//   individually through each target port" (SPC-4 6.16.3; T10 editor on the reflector: "just a
//   shortcut for issuing multiple commands"), atomically: if that would fail on any port (e.g.
//   REGISTER while the initiator is registered there with another key), nothing changes. LIO
//   instead treats an ALL_TG_PT registration as a group; SPDK has no ALL_TG_PT.
// - READ FULL STATUS reports one descriptor per registered I_T nexus, except that an initiator
//   registered through ALL_TG_PT on every target port with one key and one holder status is
//   reported as a single descriptor with ALL_TG_PT set (SPC-4 6.15.5 defines exactly that meaning;
//   RELATIVE TARGET PORT IDENTIFIER is then 0, "not defined").
// - PREEMPT whose SERVICE ACTION RESERVATION KEY does not identify the holder removes every
//   registration with that key, the sender's own included (SPC-4 5.13.11.2.5: "It is not an error
//   ... to set the RESERVATION KEY and the SERVICE ACTION RESERVATION KEY to the same value ...
//   The registration is removed"); preempting the holder never removes the sender's registration
//   (5.13.11.2.4.3).
// - PRgeneration changes once per successful REGISTER, REGISTER AND IGNORE EXISTING KEY (unless
//   nothing at all is done), REGISTER AND MOVE, CLEAR, PREEMPT and PREEMPT AND ABORT (LIO bumps it
//   once per registration made by ALL_TG_PT/SPEC_I_PT); REPLACE LOST RESERVATION sets it to zero
//   (5.13.11.3).
// - UNIT ATTENTIONs go to the I_T nexuses of the affected registrations: CLEAR -> 2Ah/03h to every
//   other registrant; PREEMPT -> 2Ah/05h to every nexus that lost its registration (not the
//   sender), and 2Ah/04h to the remaining registrants (not the sender) when the preempt changed
//   the type; RELEASE of a registrants-only or all-registrants reservation, and unregistering the
//   holder of a registrants-only one -> 2Ah/04h to every other registrant.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "interposer/lu/aptpl_store.h"
#include "interposer/lu/lu.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/pr_types.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::sim {

// ---------------------------------------------------------------------------------------------------------
// Access matrix (SPC-4 5.13.1 table 65).

// What the sending I_T nexus is to the reservation. With an all-registrants type every registrant
// is a holder (SPC-4 5.13.10), so `registrant` then never occurs.
enum class PrRelation : uint8_t { holder, registrant, non_registrant };

// The command classes a reservation type gates (wire::command_class): read, write, and everything
// else that is neither "always allowed" nor PR OUT / SPC-2 RESERVE-RELEASE (those have their own
// rules).
enum class AccessKind : uint8_t { read = 0, write = 1, other = 2 };

struct AccessRow {
    wire::PrType type;
    // [read, write, other] for a registered I_T nexus that does not hold the reservation, and for
    // an unregistered one. The holder may do everything.
    std::array<bool, 3> registrant;
    std::array<bool, 3> non_registrant;
};

inline constexpr AccessRow kAccessMatrix[] = {
    // type, then {read, write, other} for a registrant, then for a non-registrant
    {wire::PrType::write_exclusive, {true, false, false}, {true, false, false}},
    {wire::PrType::exclusive_access, {false, false, false}, {false, false, false}},
    {wire::PrType::write_exclusive_registrants_only, {true, true, true}, {true, false, false}},
    {wire::PrType::exclusive_access_registrants_only, {true, true, true}, {false, false, false}},
    {wire::PrType::write_exclusive_all_registrants, {true, true, true}, {true, false, false}},
    {wire::PrType::exclusive_access_all_registrants, {true, true, true}, {false, false, false}},
};

// Whether a command of `kind` from an I_T nexus with `rel` may run under a reservation of `type`.
// Unknown types conflict (a reservation always has a valid type).
constexpr bool access_allowed(wire::PrType type, PrRelation rel, AccessKind kind) {
    if (rel == PrRelation::holder) return true;
    for (const auto& row : kAccessMatrix) {
        if (row.type != type) continue;
        const auto& cols = rel == PrRelation::registrant ? row.registrant : row.non_registrant;
        return cols[static_cast<size_t>(kind)];
    }
    return false;
}

// Rows of SPC-4 table 65 (registrant and non-registrant, read and write), checked at compile
// time.
static_assert(!access_allowed(wire::PrType::exclusive_access, PrRelation::registrant,
                              AccessKind::read));
static_assert(access_allowed(wire::PrType::write_exclusive, PrRelation::non_registrant,
                             AccessKind::read));
static_assert(!access_allowed(wire::PrType::write_exclusive, PrRelation::registrant,
                              AccessKind::write));
static_assert(access_allowed(wire::PrType::exclusive_access_registrants_only,
                             PrRelation::registrant, AccessKind::write));
static_assert(!access_allowed(wire::PrType::exclusive_access_all_registrants,
                              PrRelation::non_registrant, AccessKind::read));
static_assert(access_allowed(wire::PrType::write_exclusive_all_registrants,
                             PrRelation::non_registrant, AccessKind::read));

// PERSISTENT RESERVE OUT service actions in the presence of a reservation held by another I_T nexus
// (SPC-4 table 66). REPLACE LOST RESERVATION never conflicts while information is lost (5.13.5.3).
struct ProutAccessRow {
    wire::PrOutAction sa;
    bool registered;
    bool not_registered;
};

inline constexpr ProutAccessRow kProutAccess[] = {
    {wire::PrOutAction::register_key, true, true},
    {wire::PrOutAction::reserve, false, false},
    {wire::PrOutAction::release, true, false},  // allowed, but the reservation is not released
    {wire::PrOutAction::clear, true, false},
    {wire::PrOutAction::preempt, true, false},
    {wire::PrOutAction::preempt_and_abort, true, false},
    {wire::PrOutAction::register_and_ignore, true, true},
    {wire::PrOutAction::register_and_move, false, false},
    {wire::PrOutAction::replace_lost, true, false},
};

constexpr bool prout_allowed(uint8_t sa, bool registered) {
    for (const auto& row : kProutAccess)
        if (static_cast<uint8_t>(row.sa) == sa)
            return registered ? row.registered : row.not_registered;
    return true;  // reserved service actions are rejected by the service action check, not as a
                  // conflict
}

// ---------------------------------------------------------------------------------------------------------
// State.

struct PrRegistration {
    wire::TransportId initiator;
    uint16_t port = 1;  // relative target port identifier
    uint64_t key = 0;
    bool all_tg_pt = false;  // made by a REGISTER / REGISTER AND IGNORE with ALL_TG_PT set
    uint64_t id = 0;         // stable within one PrState, for holder bookkeeping
};

// A registration covers an I_T nexus when the target ports agree and the initiators are the same
// (wire::same_initiator), or the registration names an iSCSI initiator device (TransportID format
// 00b) and the nexus is one of its ports (SPC-4 5.13.7 d) B): the association is by initiator port
// name).
bool registration_covers(const wire::TransportId& registered, uint16_t port,
                         const NexusIdentity& who);

// A unit attention the owner must establish for every attached I_T nexus the registration
// identified by (initiator, port) covers.
struct PrUnitAttention {
    wire::TransportId initiator;
    uint16_t port = 1;
    uint8_t asc = 0;
    uint8_t ascq = 0;
};

struct PrCommandResult {
    uint8_t status = wire::sam::good;
    Bytes sense;
    Bytes data_in;
    std::vector<PrUnitAttention> unit_attentions;
    // PREEMPT AND ABORT: the I_T nexuses (as registrations) whose commands are to be aborted.
    std::vector<PrUnitAttention> aborted;  // asc/ascq unused
    bool state_changed = false;  // registrations, reservation, APTPL or lost state changed
};

struct PrConfig {
    uint16_t target_ports = 2;
    Profile profile = Profile::spc4;
    bool aptpl_capable = false;  // an APTPL file is configured
};

class PrState {
  public:
    explicit PrState(PrConfig cfg);

    // PERSISTENT RESERVE OUT: `cdb` is the whole CDB (at least 10 bytes), `data_out` what the
    // initiator sent (the first PARAMETER LIST LENGTH bytes are the parameter list).
    PrCommandResult persistent_reserve_out(const NexusIdentity& who, ByteView cdb,
                                           ByteView data_out);
    // PERSISTENT RESERVE IN: `cdb` at least 10 bytes; data_in already cut to the ALLOCATION LENGTH.
    PrCommandResult persistent_reserve_in(const NexusIdentity& who, ByteView cdb) const;

    // Reservation check before a command runs (SPC-4 table 65 via kAccessMatrix, table 66 via
    // kProutAccess for PR OUT). `cdb` is needed for PR OUT's service action. SPC-2 RESERVE/RELEASE
    // are always let through here; spc2_verdict decides them.
    bool command_allowed(const NexusIdentity& who, ByteView cdb) const;

    // SPC-2 RESERVE/RELEASE with compatible reservation handling (SPC-4 5.13.3, SPC-2 5.5.1).
    enum class Spc2Verdict : uint8_t {
        good_no_change,  // holder, or registrant of a registrants-only/all-registrants reservation
        conflict,        // any other case while registrations exist
        process,         // no registrations: process as SPC-2
    };
    Spc2Verdict spc2_verdict(const NexusIdentity& who) const;

    // Recoverable loss of persistent reservation information (SPC-4 5.13.5.3.2): registrations and
    // the reservation are dropped and only REPLACE LOST RESERVATION (and the commands of 5.13.5.2)
    // work.
    void lose();
    bool lost() const { return lost_; }

    PrRelation relation(const NexusIdentity& who) const;
    const PrRegistration* find(const NexusIdentity& who) const;
    const std::vector<PrRegistration>& registrations() const { return regs_; }
    std::optional<wire::PrType> reservation_type() const { return res_type_; }
    // The holder's registration for types other than all-registrants; nullptr otherwise.
    const PrRegistration* holder() const;
    uint32_t generation() const { return generation_; }
    bool aptpl() const { return aptpl_; }
    const PrConfig& config() const { return cfg_; }

    // APTPL: the state to persist, and the state rebuilt from it (validated: ports in range,
    // TransportIDs encodable, no duplicate I_T nexus, a holder for every non-all-registrants
    // reservation).
    PersistedPr to_persisted() const;
    static Result<PrState> from_persisted(PrConfig cfg, const PersistedPr& p);

    // "" when every invariant holds, else what is wrong (tests and fuzzing call this after each
    // command).
    std::string check_invariants() const;

  private:
    struct Params;
    PrCommandResult do_register(const NexusIdentity& who, const Params& p, bool ignore_key);
    PrCommandResult do_reserve(const NexusIdentity& who, const Params& p);
    PrCommandResult do_release(const NexusIdentity& who, const Params& p);
    PrCommandResult do_clear(const NexusIdentity& who, const Params& p);
    PrCommandResult do_preempt(const NexusIdentity& who, const Params& p, bool abort);
    PrCommandResult do_register_and_move(const NexusIdentity& who, const Params& p);
    PrCommandResult do_replace_lost(const NexusIdentity& who, const Params& p);

    bool is_holder(const PrRegistration& r) const;
    // Removes the registration `id`; releases the reservation if it was the (last) holder. Returns
    // the released type if a reservation went away.
    std::optional<wire::PrType> remove_registration(uint64_t id);
    void add_ua_to_all_except(PrCommandResult& r, const NexusIdentity& except, uint8_t asc,
                              uint8_t ascq) const;

    PrConfig cfg_;
    std::vector<PrRegistration> regs_;
    std::optional<wire::PrType> res_type_;
    uint64_t holder_id_ = 0;  // meaningful when res_type_ is set and not all-registrants
    uint32_t generation_ = 0;
    bool aptpl_ = false;
    bool lost_ = false;
    uint64_t next_id_ = 1;
};

}  // namespace prfence::sim
