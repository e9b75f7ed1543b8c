// SPDX-License-Identifier: MIT
#include "interposer/lu/pr_state.h"

#include <algorithm>
#include <set>
#include <utility>

#include "interposer/lu/answers.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/prout.h"
#include "uring_engine/wire/sense.h"

namespace prfence::sim {
namespace {

using wire::PrOutAction;
using wire::PrType;
using wire::SenseKey;

constexpr uint8_t kAscInvalidFieldInParamList = 0x26;
constexpr uint8_t kAscParamListLength = 0x1a;
constexpr uint8_t kAscqInvalidRelease = 0x04;  // 26h/04h INVALID RELEASE OF PERSISTENT RESERVATION
constexpr uint8_t kAscReservations = 0x2a;
constexpr uint8_t kAscqReservationsPreempted = 0x03;
constexpr uint8_t kAscqReservationsReleased = 0x04;
constexpr uint8_t kAscqRegistrationsPreempted = 0x05;

PrCommandResult good() { return {}; }

PrCommandResult invalid_param(uint16_t byte, std::optional<uint8_t> bit = std::nullopt) {
    PrCommandResult r;
    r.status = wire::sam::check_condition;
    r.sense = wire::make_fixed_sense_field_pointer(
        SenseKey::illegal_request, kAscInvalidFieldInParamList, 0, false, byte, bit);
    return r;
}

PrCommandResult param_list_length_error() {
    return check(SenseKey::illegal_request, kAscParamListLength, 0);
}

PrCommandResult from_param_error(const wire::ParamError& why) {
    if (why.kind == wire::ParamError::Kind::length) return param_list_length_error();
    return invalid_param(why.field_offset);
}

PrCommandResult information_lost() { return check(SenseKey::data_protect, 0x44, 0x01); }

PrCommandResult insufficient_registration_resources() {
    return check(SenseKey::illegal_request, 0x55, 0x04);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// `device` is an iSCSI initiator device TransportID (format 00b) and `port` one of its ports.
bool device_covers(const wire::TransportId& device, const wire::TransportId& port) {
    return device.protocol == wire::ProtocolId::iscsi && device.format == 0 &&
           port.protocol == wire::ProtocolId::iscsi && iequals(device.iscsi_name, port.iscsi_name);
}

// Whether two TransportIDs can name the same initiator port (used for "already registered" and
// "same as the sender" checks on TransportIDs from parameter lists).
bool overlaps(const wire::TransportId& a, const wire::TransportId& b) {
    return wire::same_initiator(a, b) || device_covers(a, b) || device_covers(b, a);
}

bool encodable(const wire::TransportId& t) { return wire::encode_transport_id(t).ok(); }

}  // namespace

bool registration_covers(const wire::TransportId& registered, uint16_t port,
                         const NexusIdentity& who) {
    if (port != who.target_port) return false;
    return wire::same_initiator(registered, who.initiator) ||
           device_covers(registered, who.initiator);
}

struct PrState::Params {
    uint8_t sa = 0;
    uint8_t scope = 0;
    uint8_t type = 0;
    wire::ProutParams basic;
    wire::ProutMoveParams move;
    ByteView list;  // the raw parameter list
};

PrState::PrState(PrConfig cfg) : cfg_(cfg) {
    if (cfg_.target_ports == 0) cfg_.target_ports = 1;
}

const PrRegistration* PrState::find(const NexusIdentity& who) const {
    for (const auto& r : regs_)
        if (r.port == who.target_port && wire::same_initiator(r.initiator, who.initiator))
            return &r;
    for (const auto& r : regs_)
        if (registration_covers(r.initiator, r.port, who)) return &r;
    return nullptr;
}

const PrRegistration* PrState::holder() const {
    if (!res_type_ || wire::is_all_registrants(*res_type_)) return nullptr;
    for (const auto& r : regs_)
        if (r.id == holder_id_) return &r;
    return nullptr;
}

bool PrState::is_holder(const PrRegistration& r) const {
    if (!res_type_) return false;
    if (wire::is_all_registrants(*res_type_)) return true;
    return r.id == holder_id_;
}

PrRelation PrState::relation(const NexusIdentity& who) const {
    const PrRegistration* me = find(who);
    if (!me) return PrRelation::non_registrant;
    return is_holder(*me) ? PrRelation::holder : PrRelation::registrant;
}

std::optional<PrType> PrState::remove_registration(uint64_t id) {
    auto it = std::find_if(regs_.begin(), regs_.end(),
                           [&](const PrRegistration& r) { return r.id == id; });
    if (it == regs_.end()) return std::nullopt;
    const bool was_holder = res_type_ && !wire::is_all_registrants(*res_type_) && holder_id_ == id;
    regs_.erase(it);
    if (!res_type_) return std::nullopt;
    if (wire::is_all_registrants(*res_type_) ? regs_.empty() : was_holder) {
        PrType t = *res_type_;
        res_type_.reset();
        holder_id_ = 0;
        return t;
    }
    return std::nullopt;
}

void PrState::add_ua_to_all_except(PrCommandResult& r, const NexusIdentity& except, uint8_t asc,
                                   uint8_t ascq) const {
    const PrRegistration* me = find(except);
    for (const auto& reg : regs_) {
        if (me && reg.id == me->id) continue;
        r.unit_attentions.push_back({reg.initiator, reg.port, asc, ascq});
    }
}

void PrState::lose() {
    regs_.clear();
    res_type_.reset();
    holder_id_ = 0;
    lost_ = true;
}

// ---------------------------------------------------------------------------------------------------------
// Access checks.

bool PrState::command_allowed(const NexusIdentity& who, ByteView cdb) const {
    if (cdb.empty() || !res_type_) return true;
    const PrRelation rel = relation(who);
    if (rel == PrRelation::holder) return true;
    switch (wire::command_class(cdb[0])) {
        case wire::CommandClass::always:
        case wire::CommandClass::spc2:
            return true;
        case wire::CommandClass::pr_out:
            if (cdb.size() < 2) return true;  // malformed; rejected as such
            return prout_allowed(cdb[1] & 0x1f, rel == PrRelation::registrant);
        case wire::CommandClass::read:
            return access_allowed(*res_type_, rel, AccessKind::read);
        case wire::CommandClass::write:
            return access_allowed(*res_type_, rel, AccessKind::write);
        case wire::CommandClass::other:
            return access_allowed(*res_type_, rel, AccessKind::other);
    }
    return false;
}

PrState::Spc2Verdict PrState::spc2_verdict(const NexusIdentity& who) const {
    const PrRegistration* me = find(who);
    if (me) {
        if (res_type_ && (is_holder(*me) || wire::is_registrants_only(*res_type_) ||
                          wire::is_all_registrants(*res_type_)))
            return Spc2Verdict::good_no_change;
        return Spc2Verdict::conflict;
    }
    return regs_.empty() ? Spc2Verdict::process : Spc2Verdict::conflict;
}

// ---------------------------------------------------------------------------------------------------------
// PERSISTENT RESERVE OUT.

PrCommandResult PrState::persistent_reserve_out(const NexusIdentity& who, ByteView cdb,
                                                ByteView data_out) {
    if (cdb.size() < 10) return invalid_cdb(static_cast<uint16_t>(cdb.size()), std::nullopt);
    Params p;
    p.sa = cdb[1] & 0x1f;
    p.scope = cdb[2] >> 4;
    p.type = cdb[2] & 0x0f;
    if (p.sa > static_cast<uint8_t>(PrOutAction::replace_lost)) return invalid_cdb(1, 4);
    const auto sa = static_cast<PrOutAction>(p.sa);
    const uint32_t len = get_be32(cdb, 5);
    // The transport delivers exactly PARAMETER LIST LENGTH bytes; a client that sent fewer gets the
    // same answer as a list too short for the service action.
    if (data_out.size() < len) return param_list_length_error();
    p.list = data_out.first(len);
    if (lost_ && sa != PrOutAction::replace_lost) return information_lost();

    wire::ParamError why;
    if (sa == PrOutAction::register_and_move) {
        auto m = wire::decode_prout_move_params(p.list, &why);
        if (!m) return from_param_error(why);
        p.move = std::move(m).value();
        if (p.move.aptpl && !cfg_.aptpl_capable) return invalid_param(17, 0);
    } else {
        auto b = wire::decode_prout_params(p.list, &why);
        if (!b) return from_param_error(why);
        p.basic = std::move(b).value();
        if (p.basic.spec_i_pt && sa != PrOutAction::register_key) return invalid_param(20, 3);
        const bool aptpl_valid = sa == PrOutAction::register_key ||
                                 sa == PrOutAction::register_and_ignore ||
                                 sa == PrOutAction::replace_lost;
        if (aptpl_valid && p.basic.aptpl && !cfg_.aptpl_capable) return invalid_param(20, 0);
        if (sa == PrOutAction::replace_lost && p.basic.all_tg_pt) return invalid_param(20, 2);
    }
    const bool typed = sa == PrOutAction::reserve || sa == PrOutAction::preempt ||
                       sa == PrOutAction::preempt_and_abort || sa == PrOutAction::replace_lost;
    if (typed) {
        if (!wire::is_valid_type(p.type)) return invalid_cdb(2, 3);
        if (p.scope != 0) return invalid_cdb(2, 7);
    }

    // SPC-4 5.13.7: any service action but REGISTER / REGISTER AND IGNORE EXISTING KEY from an
    // unregistered I_T nexus is a reservation conflict (REPLACE LOST RESERVATION excepted while
    // information is lost).
    if (!find(who) && sa != PrOutAction::register_key && sa != PrOutAction::register_and_ignore &&
        !(sa == PrOutAction::replace_lost && lost_)) {
        // LIO answers RESERVE/RELEASE/CLEAR from an unregistered nexus with LOGICAL UNIT
        // COMMUNICATION FAILURE when nothing is reserved (target_core_pr.c; NOT READY on current
        // kernels).
        if (cfg_.profile == Profile::lio && !res_type_ &&
            (sa == PrOutAction::reserve || sa == PrOutAction::release || sa == PrOutAction::clear))
            return check(SenseKey::not_ready, 0x08, 0x00);
        return conflict();
    }

    switch (sa) {
        case PrOutAction::register_key:
            return do_register(who, p, false);
        case PrOutAction::register_and_ignore:
            return do_register(who, p, true);
        case PrOutAction::reserve:
            return do_reserve(who, p);
        case PrOutAction::release:
            return do_release(who, p);
        case PrOutAction::clear:
            return do_clear(who, p);
        case PrOutAction::preempt:
            return do_preempt(who, p, false);
        case PrOutAction::preempt_and_abort:
            return do_preempt(who, p, true);
        case PrOutAction::register_and_move:
            return do_register_and_move(who, p);
        case PrOutAction::replace_lost:
            return do_replace_lost(who, p);
    }
    return invalid_cdb(1, 4);
}

PrCommandResult PrState::do_register(const NexusIdentity& who, const Params& p, bool ignore_key) {
    const auto& b = p.basic;
    const PrRegistration* me = find(who);
    if (!ignore_key && b.key != (me ? me->key : 0)) return conflict();
    // Table 67 note c: SPEC_I_PT on a registered I_T nexus.
    if (b.spec_i_pt && me) return invalid_param(20, 3);

    enum class Act { add, change, remove };
    struct Step {
        Act act;
        wire::TransportId initiator;
        uint16_t port;
        uint64_t id;  // change/remove
    };
    std::vector<Step> plan;

    // The sender's own I_T nexus, and with ALL_TG_PT the same initiator on every other target port,
    // each "as if the same registration request had been received individually through each target
    // port".
    std::vector<uint16_t> ports;
    if (b.all_tg_pt) {
        for (uint32_t q = 1; q <= cfg_.target_ports; ++q) ports.push_back(static_cast<uint16_t>(q));
    } else {
        ports.push_back(who.target_port);
    }
    for (uint16_t q : ports) {
        const NexusIdentity n{who.initiator, q};
        const PrRegistration* r = q == who.target_port ? me : find(n);
        if (!r) {
            if (!ignore_key && b.key != 0) return conflict();
            if (b.sa_key == 0) continue;  // "do nothing except return GOOD status"
            plan.push_back({Act::add, who.initiator, q, 0});
        } else {
            if (!ignore_key && b.key != r->key) return conflict();
            plan.push_back({b.sa_key == 0 ? Act::remove : Act::change, r->initiator, q, r->id});
        }
    }

    // SPEC_I_PT: also register each listed initiator (on the receiving port, or every port with
    // ALL_TG_PT). Only from an unregistered nexus (checked above); a listed I_T nexus that is
    // already registered fails the whole command (table 67 note b). With a zero SERVICE ACTION
    // RESERVATION KEY the TransportIDs are ignored (table 67: "do nothing").
    if (b.spec_i_pt && b.sa_key != 0) {
        size_t off = wire::kProutBasicLen + 4;
        for (const auto& tid : b.transport_ids) {
            auto one = wire::decode_transport_id(p.list.subspan(std::min(off, p.list.size())));
            const size_t this_off = off;
            off += one ? one->length : 0;
            if (overlaps(tid, who.initiator)) continue;  // the sender itself: registered above
            for (uint16_t q : ports) {
                bool registered = false;
                for (const auto& r : regs_)
                    if (r.port == q && overlaps(r.initiator, tid)) registered = true;
                if (registered)
                    return invalid_param(static_cast<uint16_t>(std::min<size_t>(this_off, 0xffff)));
                bool planned = false;
                for (const auto& s : plan)
                    if (s.act == Act::add && s.port == q && overlaps(s.initiator, tid))
                        planned = true;
                if (!planned) plan.push_back({Act::add, tid, q, 0});
            }
        }
    }

    if (plan.empty()) return good();  // unregistered nexus, SERVICE ACTION RESERVATION KEY zero
    for (const auto& s : plan)
        if (s.act == Act::add && !encodable(s.initiator))
            return insufficient_registration_resources();

    PrCommandResult r;
    bool released_registrants_only = false;
    for (const auto& s : plan) {
        switch (s.act) {
            case Act::add:
                regs_.push_back({s.initiator, s.port, b.sa_key, b.all_tg_pt, next_id_++});
                break;
            case Act::change:
                for (auto& reg : regs_)
                    if (reg.id == s.id) {
                        reg.key = b.sa_key;
                        reg.all_tg_pt = b.all_tg_pt;
                    }
                break;
            case Act::remove:
                if (auto t = remove_registration(s.id); t && wire::is_registrants_only(*t))
                    released_registrants_only = true;
                break;
        }
    }
    // SPC-4 5.13.11.2.3: unregistering the holder of a registrants-only reservation releases it and
    // notifies every other registered I_T nexus.
    if (released_registrants_only)
        add_ua_to_all_except(r, who, kAscReservations, kAscqReservationsReleased);
    ++generation_;
    aptpl_ = b.aptpl;
    r.state_changed = true;
    return r;
}

PrCommandResult PrState::do_reserve(const NexusIdentity& who, const Params& p) {
    const PrRegistration* me = find(who);
    if (p.basic.key != me->key) return conflict();
    const auto type = static_cast<PrType>(p.type);
    if (res_type_) {
        // 5.13.9: same type from a holder is GOOD without change; anything else conflicts.
        if (is_holder(*me) && *res_type_ == type) return good();
        return conflict();
    }
    res_type_ = type;
    holder_id_ = me->id;
    PrCommandResult r;
    r.state_changed = true;
    return r;
}

PrCommandResult PrState::do_release(const NexusIdentity& who, const Params& p) {
    const PrRegistration* me = find(who);
    if (p.basic.key != me->key) return conflict();
    // 5.13.11.2.2: no reservation, or a registrant that is not a holder: GOOD, nothing changes.
    if (!res_type_ || !is_holder(*me)) return good();
    if (p.type != static_cast<uint8_t>(*res_type_) || p.scope != 0) {
        if (cfg_.profile == Profile::lio) return conflict();  // LIO's known deviation
        return check(SenseKey::illegal_request, kAscInvalidFieldInParamList, kAscqInvalidRelease);
    }
    const PrType old = *res_type_;
    res_type_.reset();
    holder_id_ = 0;
    PrCommandResult r;
    if (wire::is_registrants_only(old) || wire::is_all_registrants(old))
        add_ua_to_all_except(r, who, kAscReservations, kAscqReservationsReleased);
    r.state_changed = true;
    return r;
}

PrCommandResult PrState::do_clear(const NexusIdentity& who, const Params& p) {
    const PrRegistration* me = find(who);
    if (p.basic.key != me->key) return conflict();
    PrCommandResult r;
    add_ua_to_all_except(r, who, kAscReservations, kAscqReservationsPreempted);
    regs_.clear();
    res_type_.reset();
    holder_id_ = 0;
    ++generation_;
    r.state_changed = true;
    return r;
}

PrCommandResult PrState::do_preempt(const NexusIdentity& who, const Params& p, bool abort) {
    const auto& b = p.basic;
    const PrRegistration* me = find(who);
    if (b.key != me->key) return conflict();
    const bool all_reg = res_type_ && wire::is_all_registrants(*res_type_);
    // Table 72 / figure 9: a zero SERVICE ACTION RESERVATION KEY is only meaningful with an
    // all-registrants reservation.
    if (b.sa_key == 0 && !all_reg) return invalid_param(8);
    if (b.sa_key != 0 && std::none_of(regs_.begin(), regs_.end(),
                                      [&](const PrRegistration& r) { return r.key == b.sa_key; }))
        return conflict();

    const uint64_t my_id = me->id;
    const auto new_type = static_cast<PrType>(p.type);
    const PrRegistration* h = holder();
    const bool preempt_reservation =
        res_type_ && (all_reg ? b.sa_key == 0 : h && h->key == b.sa_key);
    PrCommandResult r;

    if (preempt_reservation) {
        // 5.13.11.2.4.3: release, remove the registrations identified (all others for
        // all-registrants with key zero) except the sender's, establish the new reservation for the
        // sender.
        const PrType old_type = *res_type_;
        const uint64_t old_holder = holder_id_;
        std::vector<PrRegistration> removed;
        std::vector<PrRegistration> kept;
        for (auto& reg : regs_) {
            const bool hit = reg.id != my_id && (all_reg ? true : reg.key == b.sa_key);
            (hit ? removed : kept).push_back(std::move(reg));
        }
        regs_ = std::move(kept);
        res_type_ = new_type;
        holder_id_ = my_id;
        for (const auto& reg : removed)
            r.unit_attentions.push_back(
                {reg.initiator, reg.port, kAscReservations, kAscqRegistrationsPreempted});
        if (old_type != new_type)
            add_ua_to_all_except(r, who, kAscReservations, kAscqReservationsReleased);
        if (abort) {
            // 5.13.11.2.6: commands of every preempted I_T nexus; with an all-registrants
            // reservation and key zero, of every registered I_T nexus; the preempted holder's even
            // when it is the sender.
            for (const auto& reg : removed) r.aborted.push_back({reg.initiator, reg.port, 0, 0});
            if (all_reg || old_holder == my_id)
                for (const auto& reg : regs_)
                    if (reg.id == my_id) r.aborted.push_back({reg.initiator, reg.port, 0, 0});
        }
    } else {
        // 5.13.11.2.5: remove every registration with that key, the sender's included; no unit
        // attention for the sender; an all-registrants reservation goes with its last registrant.
        std::vector<PrRegistration> removed;
        for (const auto& reg : regs_)
            if (reg.key == b.sa_key) removed.push_back(reg);
        for (const auto& reg : removed) {
            (void)remove_registration(reg.id);
            if (reg.id != my_id)
                r.unit_attentions.push_back(
                    {reg.initiator, reg.port, kAscReservations, kAscqRegistrationsPreempted});
            if (abort) r.aborted.push_back({reg.initiator, reg.port, 0, 0});
        }
    }
    ++generation_;
    r.state_changed = true;
    return r;
}

PrCommandResult PrState::do_register_and_move(const NexusIdentity& who, const Params& p) {
    const auto& m = p.move;
    const PrRegistration* me = find(who);
    if (m.key != me->key) return conflict();
    if (m.sa_key == 0) return invalid_param(8);  // table 70 note b
    if (!res_type_) return invalid_cdb(1, 4);    // 5.13.8: no persistent reservation
    if (wire::is_all_registrants(*res_type_)) return conflict();
    if (!is_holder(*me)) return conflict();
    if (m.rel_tgt_port == 0 || m.rel_tgt_port > cfg_.target_ports) return invalid_param(18);
    if (overlaps(m.transport_id, who.initiator)) return invalid_param(24);
    if (!encodable(m.transport_id)) return insufficient_registration_resources();

    const uint64_t my_id = me->id;
    PrRegistration* dest = nullptr;
    for (auto& reg : regs_)
        if (reg.port == m.rel_tgt_port && wire::same_initiator(reg.initiator, m.transport_id))
            dest = &reg;
    if (!dest)
        for (auto& reg : regs_)
            if (reg.port == m.rel_tgt_port && overlaps(reg.initiator, m.transport_id)) dest = &reg;
    uint64_t dest_id = 0;
    if (dest) {
        dest->key =
            m.sa_key;  // "not an error ... already registered with the same or a different key"
        dest_id = dest->id;
    } else {
        dest_id = next_id_++;
        regs_.push_back({m.transport_id, m.rel_tgt_port, m.sa_key, false, dest_id});
    }
    holder_id_ = dest_id;  // same type and scope
    if (m.unreg) (void)remove_registration(my_id);
    ++generation_;
    aptpl_ = m.aptpl;
    PrCommandResult r;
    r.state_changed = true;
    return r;
}

PrCommandResult PrState::do_replace_lost(const NexusIdentity& who, const Params& p) {
    const auto& b = p.basic;
    // 5.13.11.3: without a lost reservation the service action is an invalid release.
    if (!lost_)
        return check(SenseKey::illegal_request, kAscInvalidFieldInParamList, kAscqInvalidRelease);
    if (b.key != 0) return invalid_param(0);
    if (b.sa_key == 0) return invalid_param(8);
    if (!encodable(who.initiator)) return insufficient_registration_resources();
    regs_.clear();
    const uint64_t id = next_id_++;
    regs_.push_back({who.initiator, who.target_port, b.sa_key, false, id});
    res_type_ = static_cast<PrType>(p.type);
    holder_id_ = id;
    generation_ = 0;
    lost_ = false;
    aptpl_ = b.aptpl;
    PrCommandResult r;
    r.state_changed = true;
    return r;
}

// ---------------------------------------------------------------------------------------------------------
// PERSISTENT RESERVE IN.

PrCommandResult PrState::persistent_reserve_in(const NexusIdentity& who, ByteView cdb) const {
    (void)who;
    if (cdb.size() < 10) return invalid_cdb(static_cast<uint16_t>(cdb.size()), std::nullopt);
    const uint8_t sa = cdb[1] & 0x1f;
    const uint16_t alloc = get_be16(cdb, 7);
    if (sa > static_cast<uint8_t>(wire::PrInAction::read_full_status)) return invalid_cdb(1, 4);
    if (lost_) return information_lost();
    PrCommandResult r;
    switch (static_cast<wire::PrInAction>(sa)) {
        case wire::PrInAction::read_keys: {
            wire::ReadKeys v;
            v.generation = generation_;
            for (const auto& reg : regs_) v.keys.push_back(reg.key);
            r.data_in = wire::encode_read_keys(v, alloc);
            break;
        }
        case wire::PrInAction::read_reservation: {
            wire::ReadReservation v;
            v.generation = generation_;
            if (res_type_) {
                v.reserved = true;
                const PrRegistration* h = holder();
                v.key = h ? h->key : 0;  // all-registrants: zero (5.13.6.3)
                v.type = static_cast<uint8_t>(*res_type_);
            }
            r.data_in = wire::encode_read_reservation(v, alloc);
            break;
        }
        case wire::PrInAction::report_capabilities: {
            wire::Capabilities c;
            c.rlr_c = true;
            c.crh = true;
            c.sip_c = true;
            c.atp_c = true;
            c.ptpl_c = cfg_.aptpl_capable;
            c.tmv = true;
            c.allow_commands =
                1;  // TEST UNIT READY is allowed through WE and EA; nothing claimed beyond
            c.ptpl_a = aptpl_;
            c.type_mask = 0xEA01;  // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX | EX_AC_AR
            r.data_in = wire::encode_capabilities(c, alloc);
            break;
        }
        case wire::PrInAction::read_full_status: {
            wire::FullStatus v;
            v.generation = generation_;
            std::vector<bool> done(regs_.size(), false);
            for (size_t i = 0; i < regs_.size(); ++i) {
                if (done[i]) continue;
                const auto& reg = regs_[i];
                wire::FullStatusEntry e;
                e.key = reg.key;
                e.holder = is_holder(reg);
                e.type = e.holder ? static_cast<uint8_t>(*res_type_) : 0;
                e.rel_tgt_port = reg.port;
                e.transport_id = reg.initiator;
                // One ALL_TG_PT descriptor when the initiator is registered through ALL_TG_PT on
                // every target port with one key and one holder status (SPC-4 6.15.5).
                if (reg.all_tg_pt) {
                    std::vector<size_t> group;
                    std::set<uint16_t> ports;
                    bool uniform = true;
                    for (size_t j = i; j < regs_.size(); ++j) {
                        const auto& o = regs_[j];
                        if (done[j] || !(o.initiator == reg.initiator)) continue;
                        if (!o.all_tg_pt || o.key != reg.key || is_holder(o) != e.holder)
                            uniform = false;
                        group.push_back(j);
                        ports.insert(o.port);
                    }
                    if (uniform && group.size() == cfg_.target_ports &&
                        ports.size() == cfg_.target_ports) {
                        for (size_t j : group) done[j] = true;
                        e.all_tg_pt = true;
                        e.rel_tgt_port = 0;
                    }
                }
                done[i] = true;
                v.entries.push_back(std::move(e));
            }
            auto enc = wire::encode_full_status(v, alloc);
            if (!enc)
                return check(SenseKey::hardware_error, 0x44,
                             0x00);  // unreachable: checked at REGISTER
            r.data_in = std::move(enc).value();
            break;
        }
    }
    return r;
}

// ---------------------------------------------------------------------------------------------------------
// Persistence and invariants.

PersistedPr PrState::to_persisted() const {
    PersistedPr p;
    for (size_t i = 0; i < regs_.size(); ++i) {
        const auto& r = regs_[i];
        p.registrations.push_back({r.initiator, r.port, r.key, r.all_tg_pt});
        if (res_type_ && !wire::is_all_registrants(*res_type_) && r.id == holder_id_) p.holder = i;
    }
    p.type = res_type_;
    return p;
}

Result<PrState> PrState::from_persisted(PrConfig cfg, const PersistedPr& p) {
    PrState s(cfg);
    for (size_t i = 0; i < p.registrations.size(); ++i) {
        const auto& r = p.registrations[i];
        const std::string where = "registration " + std::to_string(i + 1);
        if (r.key == 0) return fail(Errc::malformed, where + " has reservation key 0");
        if (r.port == 0 || r.port > s.cfg_.target_ports)
            return fail(Errc::malformed, where + " is on relative target port " +
                                             std::to_string(r.port) +
                                             " but the logical unit has target ports 1-" +
                                             std::to_string(s.cfg_.target_ports));
        if (!encodable(r.initiator))
            return fail(Errc::malformed, where + " has a TransportID that does not encode");
        for (const auto& o : s.regs_)
            if (o.port == r.port && o.initiator == r.initiator)
                return fail(Errc::malformed, where + " duplicates an earlier I_T nexus");
        s.regs_.push_back({r.initiator, r.port, r.key, r.all_tg_pt, s.next_id_++});
    }
    if (p.type) {
        if (!wire::is_valid_type(static_cast<uint8_t>(*p.type)))
            return fail(Errc::malformed, "reservation has an invalid type");
        if (wire::is_all_registrants(*p.type)) {
            if (p.holder)
                return fail(Errc::malformed, "all-registrants reservation names a holder");
            if (s.regs_.empty())
                return fail(Errc::malformed, "all-registrants reservation without registrants");
        } else {
            if (!p.holder || *p.holder >= s.regs_.size())
                return fail(Errc::malformed, "reservation without a registered holder");
            s.holder_id_ = s.regs_[*p.holder].id;
        }
        s.res_type_ = p.type;
    } else if (p.holder) {
        return fail(Errc::malformed, "holder without a reservation");
    }
    s.aptpl_ = true;  // the state came from an APTPL file
    return s;
}

std::string PrState::check_invariants() const {
    std::set<uint64_t> ids;
    for (size_t i = 0; i < regs_.size(); ++i) {
        const auto& r = regs_[i];
        if (r.key == 0) return "registration " + std::to_string(i) + " has key 0";
        if (r.port == 0 || r.port > cfg_.target_ports)
            return "registration " + std::to_string(i) + " port out of range";
        if (!ids.insert(r.id).second) return "duplicate registration id";
        for (size_t j = 0; j < i; ++j)
            if (regs_[j].port == r.port && regs_[j].initiator == r.initiator)
                return "I_T nexus registered twice (" + std::to_string(j) + ", " +
                       std::to_string(i) + ")";
    }
    if (res_type_) {
        if (!wire::is_valid_type(static_cast<uint8_t>(*res_type_)))
            return "reservation with invalid type";
        if (wire::is_all_registrants(*res_type_)) {
            if (regs_.empty()) return "all-registrants reservation without registrants";
        } else if (!holder()) {
            return "reservation holder is not registered";
        }
    }
    if (lost_ && (!regs_.empty() || res_type_)) return "state present while information is lost";
    return "";
}

}  // namespace prfence::sim
