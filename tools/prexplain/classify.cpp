// SPDX-License-Identifier: MIT
#include "tools/prexplain/classify.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "uring_engine/wire/nvme_types.h"
#include "uring_engine/wire/pr_types.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::prexplain {

namespace {

std::string key_text(uint64_t k) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%" PRIx64, k);
    return b;
}

std::string type_text(uint8_t t) {
    std::string s = wire::type_name(t);
    if (const char* a = wire::type_abbrev(t); a && *a) s += std::string(" (") + a + ")";
    return s;
}

bool holder_type(uint8_t t) { return t == 0x1 || t == 0x3; }
bool exclusive_access(uint8_t t) { return t == 0x3 || t == 0x6 || t == 0x8; }
bool all_registrants(uint8_t t) { return t == 0x7 || t == 0x8; }

// Who holds the reservation: from READ FULL STATUS (R_HOLDER entries) when present, else the
// reservation key (or, for all-registrants types, every registered key).
void fill_holders(const PrSnapshot& s, Diagnosis& d, std::optional<uint64_t> our) {
    if (s.full_status) {
        for (const auto& e : s.full_status->entries) {
            if (!e.holder || (our && e.key == *our)) continue;
            if (std::find(d.preempted_by.begin(), d.preempted_by.end(), e.key) ==
                d.preempted_by.end())
                d.preempted_by.push_back(e.key);
            d.holder_ids.push_back(key_text(e.key) + " " +
                                   wire::describe_transport_id(e.transport_id));
        }
        if (!d.preempted_by.empty()) return;
    }
    if (d.holder_key && *d.holder_key != 0) {
        d.preempted_by.push_back(*d.holder_key);
        return;
    }
    if (s.keys)
        for (uint64_t k : s.keys->keys)
            if ((!our || k != *our) &&
                std::find(d.preempted_by.begin(), d.preempted_by.end(), k) == d.preempted_by.end())
                d.preempted_by.push_back(k);
}

std::string keys_text(const std::vector<uint64_t>& v) {
    std::string out;
    for (uint64_t k : v) {
        if (!out.empty()) out += ", ";
        out += key_text(k);
    }
    return out;
}

std::string host_key_text(const wire::nvme::Registrant& r) {
    return key_text(r.key) + " host " + hostid_text(r.hostid);
}

// The NVMe table (classify.h, rows N1-N8).
Diagnosis classify_nvme(const PrSnapshot& s, Access access) {
    Diagnosis d;
    const auto& rep = *s.nvme_report;
    const wire::nvme::HostId& me = *s.our_hostid;
    d.nvme_report = rep;
    d.our_hostid = me;
    auto verdict = [&](ConflictClass c, std::string why) {
        d.cls = c;
        d.reason = std::move(why);
        return d;
    };
    const wire::nvme::Registrant* ours = nullptr;
    std::vector<const wire::nvme::Registrant*> holders;
    for (const auto& r : rep.registrants) {
        if (r.hostid == me && !ours) ours = &r;
        if (r.holds) holders.push_back(&r);
    }
    const bool reserved = rep.rtype != 0;
    const auto scsi = wire::nvme::to_scsi(static_cast<wire::nvme::Rtype>(rep.rtype));
    d.type = reserved ? (scsi ? static_cast<uint8_t>(*scsi) : rep.rtype) : 0;
    d.registered = ours != nullptr;
    const bool all_regs = reserved && all_registrants(d.type);
    if (reserved && !all_regs && !holders.empty()) d.holder_key = holders.front()->key;
    const bool we_hold = [&] {
        for (const auto* h : holders)
            if (h->hostid == me) return true;
        return all_regs && ours;
    }();
    const std::string me_text = "our host " + hostid_text(me);
    const bool key_gone =
        !ours && s.our_key &&
        std::none_of(rep.registrants.begin(), rep.registrants.end(),
                     [&](const wire::nvme::Registrant& r) { return r.key == *s.our_key; });
    std::string held;
    if (reserved) {
        held = type_text(d.type);
        if (all_regs) {
            held += " held by all registrants";
        } else if (!holders.empty()) {
            held += " held by host " + hostid_text(holders.front()->hostid) + " (key " +
                    key_text(holders.front()->key) + ")";
        }
    }
    auto fence = [&](std::string what) {
        for (const auto& r : rep.registrants) {
            if (r.hostid == me) continue;
            if (!(all_regs || r.holds)) continue;
            if (std::find(d.preempted_by.begin(), d.preempted_by.end(), r.key) ==
                d.preempted_by.end())
                d.preempted_by.push_back(r.key);
            if (std::find(d.holder_ids.begin(), d.holder_ids.end(), host_key_text(r)) ==
                d.holder_ids.end())
                d.holder_ids.push_back(host_key_text(r));
        }
        return verdict(
            ConflictClass::fenced,
            me_text + " is no longer registered (our key " + key_text(*s.our_key) + " is gone); " +
                what +
                (d.preempted_by.empty() ? "" : "; preempted by " + keys_text(d.preempted_by)));
    };
    for (const auto* h : holders)
        if (h->hostid != me) d.holder_ids.push_back(host_key_text(*h));

    if (s.recheck_clear)  // N1
        return verdict(ConflictClass::transient, "the command succeeded when issued again");
    if (reserved && !scsi)
        return verdict(
            ConflictClass::unknown,
            "the namespace reports a reservation of undefined type " + std::to_string(rep.rtype));
    if (access == Access::pr_out) {
        if (!ours) {
            if (key_gone && reserved && !we_hold) return fence(held);  // N2
            return verdict(ConflictClass::not_registered,              // N3
                           "reservation command from a host that is not registered (" + me_text +
                               " is not among the namespace's registrants)");
        }
        if (reserved && !we_hold)  // N4
            return verdict(ConflictClass::reserved_by_other, held);
        return verdict(ConflictClass::transient,  // N5
                       reserved ? "our host holds the reservation now (" + held + ")"
                                : me_text + " is registered and nothing is reserved now");
    }
    if (access == Access::pr_in)
        return verdict(ConflictClass::transient,
                       "Reservation Report does not conflict with reservations");
    const bool is_read = access == Access::read;
    if (!reserved)  // N6
        return verdict(ConflictClass::transient, "nothing is reserved now");
    if (we_hold)
        return verdict(ConflictClass::transient,
                       "our host holds the reservation now (" + held + ")");
    if (is_read && !exclusive_access(d.type))
        return verdict(ConflictClass::transient,
                       type_text(d.type) + " admits reads from every host");
    if (holder_type(d.type)) {  // N7
        if (key_gone) return fence(held);
        return verdict(
            ConflictClass::reserved_by_other,
            held + (ours ? "" : "; " + me_text + " is not registered") +
                (access == Access::unknown ? " (operation unknown; judged as a write)" : ""));
    }
    if (ours)  // N8
        return verdict(ConflictClass::transient,
                       me_text + " is registered now; " + held + " admits every registered host");
    if (key_gone) return fence(held + " admits only registrants");
    return verdict(ConflictClass::not_registered,
                   me_text + " is not registered; " + held + " admits only registrants");
}

}  // namespace

std::string hostid_text(const wire::nvme::HostId& id) {
    static const char kHex[] = "0123456789abcdef";
    bool short_form = true;
    for (size_t i = 8; i < id.size(); ++i) short_form = short_form && id[i] == 0;
    std::string out;
    for (size_t i = 0; i < (short_form ? 8 : id.size()); ++i) {
        if (!short_form && (i == 4 || i == 6 || i == 8 || i == 10)) out += '-';
        out += kHex[id[i] >> 4];
        out += kHex[id[i] & 15];
    }
    return out;
}

std::optional<wire::nvme::HostId> parse_hostid(std::string_view s) {
    wire::nvme::HostId id{};
    size_t n = 0;
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    const bool uuid = s.size() == 36;
    if (!uuid && s.size() != 16) return std::nullopt;
    for (size_t i = 0; i < s.size();) {
        if (uuid && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-') return std::nullopt;
            ++i;
            continue;
        }
        const int hi = val(s[i]), lo = i + 1 < s.size() ? val(s[i + 1]) : -1;
        if (hi < 0 || lo < 0 || n >= id.size()) return std::nullopt;
        id[n++] = static_cast<uint8_t>(hi * 16 + lo);
        i += 2;
    }
    if (n != (uuid ? 16u : 8u)) return std::nullopt;
    return id;
}

const char* class_name(ConflictClass c) noexcept {
    switch (c) {
        case ConflictClass::fenced:
            return "FENCED";
        case ConflictClass::reserved_by_other:
            return "RESERVED_BY_OTHER";
        case ConflictClass::not_registered:
            return "NOT_REGISTERED";
        case ConflictClass::reserved_spc2:
            return "RESERVED_SPC2";
        case ConflictClass::transient:
            return "TRANSIENT";
        case ConflictClass::unknown:
            return "UNKNOWN";
    }
    return "UNKNOWN";
}

Diagnosis classify(const PrSnapshot& s, Access access) {
    Diagnosis d;
    auto verdict = [&](ConflictClass c, std::string why) {
        d.cls = c;
        d.reason = std::move(why);
        return d;
    };
    // Row 0.
    if (s.spc2_reserved)
        return verdict(ConflictClass::reserved_spc2,
                       "PERSISTENT RESERVE IN was refused with RESERVATION CONFLICT: another "
                       "initiator holds an SPC-2 RESERVE on the LU");
    if (s.nvme_report && s.our_hostid) return classify_nvme(s, access);
    // Row 1.
    if (!s.keys || !s.reservation)
        return verdict(ConflictClass::unknown,
                       s.query_error.empty() ? "not queried" : "query failed: " + s.query_error);
    const auto& res = *s.reservation;
    d.type = res.reserved ? res.type : 0;
    if (res.reserved && !all_registrants(d.type)) d.holder_key = res.key;
    const std::optional<uint64_t> our = s.our_key;
    const bool registered =
        our && std::find(s.keys->keys.begin(), s.keys->keys.end(), *our) != s.keys->keys.end();
    d.registered = registered;
    // Row 2.
    if (s.recheck_clear)
        return verdict(ConflictClass::transient, "the command succeeded when issued again");
    // Row 3.
    if (res.reserved && !wire::is_valid_type(d.type))
        return verdict(ConflictClass::unknown,
                       "the LU reports a reservation of undefined type " + std::to_string(d.type));
    const std::string held =
        res.reserved ? type_text(d.type) + (d.holder_key ? " held by key " + key_text(*d.holder_key)
                                                         : std::string(" held by all registrants"))
                     : std::string();
    const bool holder_is_us = our && d.holder_key && *d.holder_key == *our;

    if (access == Access::pr_out) {
        const bool held_by_other = res.reserved && !holder_is_us;
        if (our && !registered) {
            if (held_by_other) {  // Row 4.
                fill_holders(s, d, our);
                return verdict(
                    ConflictClass::fenced,
                    "our key " + key_text(*our) + " is gone; " + held +
                        (d.preempted_by.empty() ? ""
                                                : "; preempted by " + keys_text(d.preempted_by)));
            }
            return verdict(
                ConflictClass::not_registered,  // Row 5.
                "PERSISTENT RESERVE OUT from an I_T nexus that is not registered (our key " +
                    key_text(*our) + " is not on the LU)");
        }
        if (!our) {
            if (res.reserved)
                return verdict(
                    ConflictClass::unknown,
                    "without our key (--key) it is unknown whether this node is registered; " +
                        held);
            return verdict(ConflictClass::unknown,
                           "without our key (--key) it is unknown whether this node is registered; "
                           "nothing is reserved");
        }
        if (held_by_other)  // Row 6.
            return verdict(ConflictClass::reserved_by_other, held);
        return verdict(ConflictClass::transient,  // Row 7.
                       res.reserved ? "we hold the reservation now (" + held + ")"
                                    : "registered and nothing is reserved now");
    }
    if (access == Access::pr_in)
        return verdict(
            ConflictClass::transient,
            "PERSISTENT RESERVE IN does not conflict with persistent reservations, and no "
            "SPC-2 reservation is in the way now");

    // Data access. Unknown and other commands are judged as writes (the stricter case).
    const bool is_read = access == Access::read;
    const std::string what = is_read                   ? "reads"
                             : access == Access::write ? "writes"
                                                       : "this command";
    if (!res.reserved)  // Row 8.
        return verdict(ConflictClass::transient, "nothing is reserved now");
    if (is_read && !exclusive_access(d.type))  // Row 9.
        return verdict(ConflictClass::transient,
                       type_text(d.type) + " admits reads from every I_T nexus");
    if (holder_type(d.type)) {
        if (our && !registered) {  // Row 10.
            fill_holders(s, d, our);
            return verdict(ConflictClass::fenced, "our key " + key_text(*our) + " is gone; " +
                                                      held + "; preempted by " +
                                                      keys_text(d.preempted_by));
        }
        // Row 11.
        if (holder_is_us)
            return verdict(ConflictClass::reserved_by_other,
                           held +
                               ": our own key, through another I_T nexus (only the reserving nexus "
                               "may access)");
        return verdict(
            ConflictClass::reserved_by_other,
            held + (access == Access::unknown ? " (operation unknown; judged as a write)" : ""));
    }
    // Registrants-only and all-registrants.
    if (!our)  // Row 14.
        return verdict(ConflictClass::unknown,
                       held + " admits only registrants for " + what +
                           "; without our key (--key) it is unknown whether "
                           "this node is registered");
    if (!registered) {  // Row 12.
        fill_holders(s, d, our);
        return verdict(
            ConflictClass::fenced,
            "our key " + key_text(*our) + " is gone; " + held + " admits only registrants" +
                (d.preempted_by.empty() ? "" : "; preempted by " + keys_text(d.preempted_by)));
    }
    return verdict(ConflictClass::not_registered,  // Row 13.
                   "our key " + key_text(*our) +
                       " is registered, but not through the I_T nexus that "
                       "failed (registration lost, e.g. a new iSCSI session ID); " +
                       held + " admits only registrants");
}

}  // namespace prfence::prexplain
