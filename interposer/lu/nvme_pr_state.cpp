// SPDX-License-Identifier: MIT
#include "interposer/lu/nvme_pr_state.h"

#include <algorithm>
#include <limits>

namespace prfence::sim {
namespace {

namespace nv = wire::nvme;

constexpr uint16_t kDynamicCntlid = 0xffff;
constexpr size_t kHeaderBytes = 24;
constexpr size_t kHeaderBytesEds = 64;
constexpr size_t kEntryBytes = 24;
constexpr size_t kEntryBytesEds = 64;

// Which mask bit suppresses a notification type.
constexpr uint32_t mask_bit(NotificationType t) { return 1u << static_cast<uint8_t>(t); }

}  // namespace

NvmePrState::NvmePrState(NvmePrConfig cfg) : cfg_(cfg) {}

// ---------------------------------------------------------------------------------------------------------
// Bookkeeping.

void NvmePrState::attach(const NvmeController& c) { (void)ctrl(c); }

void NvmePrState::detach(uint16_t cntlid) { ctrls_.erase(cntlid); }

NvmePrState::Ctrl& NvmePrState::ctrl(const NvmeController& c) {
    auto it = ctrls_.find(c.cntlid);
    if (it != ctrls_.end() && it->second.hostid == c.hostid) return it->second;
    Ctrl fresh;
    fresh.hostid = c.hostid;
    return ctrls_.insert_or_assign(c.cntlid, std::move(fresh)).first->second;
}

NvmePrState::Reg* NvmePrState::find(const nv::HostId& host) {
    for (auto& r : regs_)
        if (r.hostid == host) return &r;
    return nullptr;
}

const NvmePrState::Reg* NvmePrState::find(const nv::HostId& host) const {
    for (const auto& r : regs_)
        if (r.hostid == host) return &r;
    return nullptr;
}

bool NvmePrState::all_registrants() const {
    const RtypeRow* row = rtype_row(rtype_);
    return row && row->all_registrants;
}

bool NvmePrState::is_holder(const nv::HostId& host) const {
    if (rtype_ == 0) return false;
    if (all_registrants()) return find(host) != nullptr;
    return holder_ && *holder_ == host;
}

NvmeRelation NvmePrState::relation(const nv::HostId& host) const {
    if (is_holder(host)) return NvmeRelation::holder;
    return find(host) ? NvmeRelation::registrant : NvmeRelation::non_registrant;
}

uint16_t NvmePrState::error(uint8_t sc, bool error_location) const {
    uint16_t w = nv::status_word(nv::sct::generic, sc);
    if (cfg_.profile == NvmeProfile::nvmet) {
        w |= nv::kStatusDnr;
        // nvmet sets MORE whenever it records an error location for the Error Information log.
        if (error_location) w |= nv::kStatusMore;
    }
    return w;
}

void NvmePrState::notify_host(NvmePrResult& r, const nv::HostId& host, NotificationType type) {
    for (auto& [cntlid, c] : ctrls_) {
        if (c.hostid != host) continue;
        const uint32_t mask = cfg_.profile == NvmeProfile::nvmet ? ns_mask_ : c.mask;
        if (mask & mask_bit(type)) continue;
        r.notifications.push_back({cntlid, host, type});
    }
}

void NvmePrState::notify_released(NvmePrResult& r, const nv::HostId& except) {
    for (const auto& reg : regs_)
        if (reg.hostid != except)
            notify_host(r, reg.hostid, NotificationType::reservation_released);
}

// Removes `host`'s registration. The holder of an all-registrants reservation hands it on to the
// oldest remaining registrant (the reservation ends with the last one); the holder of any other
// type releases it, and registrants-only types tell the remaining registrants.
void NvmePrState::unregister_one(NvmePrResult& r, const nv::HostId& host) {
    auto it = std::find_if(regs_.begin(), regs_.end(),
                           [&](const Reg& reg) { return reg.hostid == host; });
    if (it == regs_.end()) return;
    regs_.erase(it);
    r.state_changed = true;
    if (rtype_ == 0 || !holder_ || *holder_ != host) return;
    if (all_registrants()) {
        if (regs_.empty()) {
            holder_.reset();
            rtype_ = 0;
        } else {
            holder_ = regs_.front().hostid;
        }
        return;
    }
    const uint8_t released = rtype_;
    holder_.reset();
    rtype_ = 0;
    const RtypeRow* row = rtype_row(released);
    if (row && row->notify_on_release) notify_released(r, host);
}

size_t NvmePrState::unregister_by_key(NvmePrResult& r, uint64_t key, const nv::HostId& sender,
                                      bool include_sender, bool abort) {
    std::vector<nv::HostId> gone;
    for (const auto& reg : regs_)
        if (reg.key == key && (include_sender || reg.hostid != sender)) gone.push_back(reg.hostid);
    for (const auto& host : gone) {
        unregister_one(r, host);
        if (host == sender) continue;
        if (abort) r.aborted.push_back(host);
        notify_host(r, host, NotificationType::registration_preempted);
    }
    return gone.size();
}

size_t NvmePrState::unregister_others(NvmePrResult& r, const nv::HostId& sender, bool abort) {
    std::vector<nv::HostId> gone;
    for (const auto& reg : regs_)
        if (reg.hostid != sender) gone.push_back(reg.hostid);
    for (const auto& host : gone) {
        unregister_one(r, host);
        if (abort) r.aborted.push_back(host);
        notify_host(r, host, NotificationType::registration_preempted);
    }
    return gone.size();
}

// ---------------------------------------------------------------------------------------------------------
// Reservation Register.

NvmePrResult NvmePrState::execute_register(const NvmeController& c, const nv::RegisterCmd& cmd) {
    attach(c);
    NvmePrResult r;
    const bool spdk = cfg_.profile == NvmeProfile::spdk;
    if (spdk && cmd.cptpl == nv::Cptpl::persist && !cfg_.ptpl_supported) {
        r.status = error(nv::sc::invalid_field);
        return r;
    }
    Reg* me = find(c.hostid);
    switch (cmd.action) {
        case nv::RegisterAction::register_key:
            if (me) {
                if (me->key != cmd.nrkey) r.status = error(nv::sc::reservation_conflict);
                break;
            }
            if (spdk && cmd.nrkey == 0) {
                r.status = error(nv::sc::invalid_field);
                break;
            }
            regs_.push_back({c.hostid, cmd.nrkey, c.cntlid});
            r.state_changed = true;
            break;
        case nv::RegisterAction::unregister:
            if (!me || (!cmd.iekey && me->key != cmd.crkey)) {
                r.status = error(nv::sc::reservation_conflict);
                break;
            }
            unregister_one(r, c.hostid);
            break;
        case nv::RegisterAction::replace:
            if (spdk && cmd.nrkey == 0) {
                r.status = error(nv::sc::invalid_field);
                break;
            }
            if (!me || (!cmd.iekey && me->key != cmd.crkey)) {
                r.status = error(nv::sc::reservation_conflict);
                break;
            }
            me->key = cmd.nrkey;
            break;
        default:
            r.status = error(nv::sc::invalid_opcode, true);
            break;
    }
    if (r.status != 0) return r;
    ++generation_;
    r.state_changed = true;
    if (Reg* now = find(c.hostid)) now->cntlid = c.cntlid;
    if (cfg_.ptpl_supported) {
        if (cmd.cptpl == nv::Cptpl::persist) ptpl_ = true;
        if (cmd.cptpl == nv::Cptpl::clear) ptpl_ = false;
    }
    return r;
}

// ---------------------------------------------------------------------------------------------------------
// Reservation Acquire.

NvmePrResult NvmePrState::preempt(const nv::HostId& sender, const nv::AcquireCmd& cmd) {
    NvmePrResult r;
    const bool abort = cmd.action == nv::AcquireAction::preempt_and_abort;
    const auto conflict = [&] {
        NvmePrResult c;
        c.status = error(nv::sc::reservation_conflict);
        return c;
    };
    if (rtype_ == 0) {
        if (unregister_by_key(r, cmd.prkey, sender, true, abort) == 0) return conflict();
        return r;
    }
    if (all_registrants()) {
        if (cmd.prkey == 0) {
            // The sender holds first, so that dropping the others never ends the reservation.
            holder_ = sender;
            rtype_ = cmd.rtype;
            r.state_changed = true;
            unregister_others(r, sender, abort);
            return r;
        }
        if (unregister_by_key(r, cmd.prkey, sender, true, abort) == 0) return conflict();
        return r;
    }
    const uint8_t before = rtype_;
    if (holder_ && *holder_ == sender) {
        rtype_ = cmd.rtype;
        r.state_changed = true;
        if (before != rtype_) notify_released(r, sender);
        return r;
    }
    const Reg* holder = holder_ ? find(*holder_) : nullptr;
    if (holder && cmd.prkey == holder->key) {
        holder_ = sender;
        rtype_ = cmd.rtype;
        r.state_changed = true;
        unregister_by_key(r, cmd.prkey, sender, false, abort);
        if (before != rtype_) notify_released(r, sender);
        return r;
    }
    if (cmd.prkey != 0) {
        if (unregister_by_key(r, cmd.prkey, sender, true, abort) == 0) return conflict();
        return r;
    }
    NvmePrResult invalid;
    invalid.status = error(nv::sc::invalid_field);
    return invalid;
}

NvmePrResult NvmePrState::execute_acquire(const NvmeController& c, const nv::AcquireCmd& cmd) {
    attach(c);
    NvmePrResult r;
    if (cmd.iekey || !rtype_row(cmd.rtype)) {
        r.status = error(nv::sc::invalid_field);
        return r;
    }
    Reg* me = find(c.hostid);
    if (!me || me->key != cmd.crkey) {
        r.status = error(nv::sc::reservation_conflict);
        return r;
    }
    me->cntlid = c.cntlid;
    switch (cmd.action) {
        case nv::AcquireAction::acquire: {
            // nvmet compares with its one holder registrant even under an all-registrants type.
            const bool holds = cfg_.profile == NvmeProfile::nvmet
                                   ? (rtype_ != 0 && holder_ && *holder_ == c.hostid)
                                   : is_holder(c.hostid);
            if (holds) {
                if (rtype_ != cmd.rtype) r.status = error(nv::sc::reservation_conflict);
                return r;
            }
            if (rtype_ != 0) {
                r.status = error(nv::sc::reservation_conflict);
                return r;
            }
            holder_ = c.hostid;
            rtype_ = cmd.rtype;
            r.state_changed = true;
            return r;
        }
        case nv::AcquireAction::preempt:
        case nv::AcquireAction::preempt_and_abort:
            r = preempt(c.hostid, cmd);
            if (r.status == 0) {
                ++generation_;
                r.state_changed = true;
            }
            return r;
    }
    r.status = error(nv::sc::invalid_opcode, true);
    return r;
}

// ---------------------------------------------------------------------------------------------------------
// Reservation Release.

NvmePrResult NvmePrState::execute_release(const NvmeController& c, const nv::ReleaseCmd& cmd) {
    attach(c);
    NvmePrResult r;
    if (cmd.iekey) {
        r.status = error(nv::sc::invalid_field);
        return r;
    }
    Reg* me = find(c.hostid);
    if (!me || me->key != cmd.crkey) {
        r.status = error(nv::sc::reservation_conflict);
        return r;
    }
    me->cntlid = c.cntlid;
    switch (cmd.action) {
        case nv::ReleaseAction::release: {
            const bool holds = cfg_.profile == NvmeProfile::nvmet
                                   ? (rtype_ != 0 && holder_ && *holder_ == c.hostid)
                                   : is_holder(c.hostid);
            if (!holds) return r;
            if (rtype_ != cmd.rtype) {
                r.status = error(nv::sc::reservation_conflict);
                return r;
            }
            const RtypeRow* row = rtype_row(rtype_);
            holder_.reset();
            rtype_ = 0;
            r.state_changed = true;
            if (row && row->notify_on_release) notify_released(r, c.hostid);
            return r;
        }
        case nv::ReleaseAction::clear: {
            const std::vector<Reg> before = regs_;
            regs_.clear();
            holder_.reset();
            rtype_ = 0;
            for (const auto& reg : before)
                if (reg.hostid != c.hostid)
                    notify_host(r, reg.hostid, NotificationType::reservation_preempted);
            ++generation_;
            r.state_changed = true;
            return r;
        }
    }
    r.status = error(nv::sc::invalid_opcode, true);
    return r;
}

// ---------------------------------------------------------------------------------------------------------
// Reservation Report.

nv::ReservationStatus NvmePrState::status() const {
    nv::ReservationStatus s;
    s.generation = generation_;
    s.rtype = rtype_;
    s.regctl = static_cast<uint16_t>(std::min<size_t>(regs_.size(), 0xffff));
    s.ptpls = ptpl_;
    s.extended = true;
    for (const auto& reg : regs_) {
        nv::Registrant e;
        e.cntlid = cfg_.dynamic_cntlid ? kDynamicCntlid : reg.cntlid;
        e.holds = is_holder(reg.hostid);
        e.key = reg.key;
        e.hostid = reg.hostid;
        s.registrants.push_back(e);
    }
    return s;
}

NvmeReportResult NvmePrState::report(const NvmeController& c, const nv::ReportCmd& cmd) {
    attach(c);
    NvmeReportResult out;
    if (cfg_.hostid_128 && !cmd.eds) {
        out.status = error(nv::sc::host_id_inconsistent_format, true);
        return out;
    }
    const size_t bytes = 4 * (static_cast<size_t>(cmd.numd) + 1);
    const size_t header = cmd.eds ? kHeaderBytesEds : kHeaderBytes;
    const size_t entry = cmd.eds ? kEntryBytesEds : kEntryBytes;
    if (bytes < header) {
        out.status = error(nv::sc::invalid_field, true);
        return out;
    }
    out.data = status();
    out.data.extended = cmd.eds;
    const size_t fit = (bytes - header) / entry;
    if (out.data.registrants.size() > fit) out.data.registrants.resize(fit);
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// I/O, features, log page.

uint16_t NvmePrState::check_io(const NvmeController& c, IoKind kind) {
    attach(c);
    if (nvme_access_allowed(rtype_, relation(c.hostid), kind)) return 0;
    return error(nv::sc::reservation_conflict, true);
}

uint16_t NvmePrState::set_notification_mask(const NvmeController& c, uint32_t mask) {
    Ctrl& me = ctrl(c);
    if (mask & ~kMaskAll) return error(nv::sc::invalid_field, true);
    if (cfg_.profile == NvmeProfile::nvmet)
        ns_mask_ = mask;
    else
        me.mask = mask;
    return 0;
}

uint32_t NvmePrState::notification_mask(const NvmeController& c) {
    const Ctrl& me = ctrl(c);
    return cfg_.profile == NvmeProfile::nvmet ? ns_mask_ : me.mask;
}

bool NvmeNotificationLog::add(NotificationType type, uint32_t nsid) {
    nv::ReservationLog e;
    if (++counter_ == 0) counter_ = 1;  // the count skips 0 when it wraps
    e.count = counter_;
    e.type = static_cast<uint8_t>(type);
    e.nsid = nsid;
    if (log_.size() >= capacity_) {
        ++pending_lost_;
        ++lost_total_;
        return false;
    }
    log_.push_back(e);
    return true;
}

nv::ReservationLog NvmeNotificationLog::take() {
    if (log_.empty()) return {};
    nv::ReservationLog e = log_.front();
    log_.pop_front();
    // Lost entries took counts after this one: the gap to the next queued entry, or those lost
    // since the last one was queued. nvmet reports this entry with the count of the last of them.
    uint64_t lost = 0;
    if (!log_.empty()) {
        const uint64_t next = log_.front().count;
        lost = next > e.count ? next - e.count - 1
                              : std::numeric_limits<uint64_t>::max() - e.count + next - 1;
    } else {
        lost = pending_lost_;
    }
    e.count = e.count + lost == 0 ? 1 : e.count + lost;
    pending_lost_ -= lost;
    e.available = static_cast<uint8_t>(std::min<size_t>(log_.size(), 0xff));
    return e;
}

std::string NvmePrState::check_invariants() const {
    for (size_t i = 0; i < regs_.size(); ++i)
        for (size_t j = i + 1; j < regs_.size(); ++j)
            if (regs_[i].hostid == regs_[j].hostid) return "a host is registered twice";
    if (rtype_ == 0) return holder_ ? "a holder without a reservation" : "";
    if (!rtype_row(rtype_)) return "reservation of an unknown type";
    if (!holder_) return "a reservation without a holder";
    if (!find(*holder_)) return "the holder is not registered";
    return "";
}

}  // namespace prfence::sim
