// SPDX-License-Identifier: MIT
#include "tools/prfence/outcome_render.h"

#include <algorithm>
#include <cstdio>

#include "uring_engine/wire/nvme_status.h"
#include "uring_engine/wire/pr_types.h"

namespace prfence::cli {

std::string hostid_hex(const wire::nvme::HostId& id) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (uint8_t b : id) {
        s += d[b >> 4];
        s += d[b & 15];
    }
    return s;
}

namespace {

// READ FULL STATUS of an NVMe namespace: the registrants are its Report's (a host identifier
// where SCSI has a TransportID; the translated full status has no entries to show).
std::string nvme_registrants_text(const wire::nvme::ReservationStatus& r) {
    std::string d = std::to_string(std::max<size_t>(r.regctl, r.registrants.size())) +
                    " registrant(s), generation " + std::to_string(r.generation);
    for (const auto& g : r.registrants) {
        d += "; " + hex_u64(g.key);
        if (g.holds) {
            auto t = wire::nvme::to_scsi(static_cast<wire::nvme::Rtype>(r.rtype));
            d += " holder " + (t ? std::string(wire::type_abbrev(static_cast<uint8_t>(*t)))
                                 : "RTYPE " + std::to_string(r.rtype));
        }
        d += " hostid " + hostid_hex(g.hostid);
    }
    if (r.regctl > r.registrants.size())
        d += "; " + std::to_string(r.regctl - r.registrants.size()) + " more not reported";
    return d;
}

}  // namespace

Json outcome_json(const engine::LunOutcome& o) {
    Json j;
    j["device"] = o.device;
    j["ok"] = o.ok;
    j["category"] = wire::category_name(o.ok ? wire::Category::clean : o.category);
    j["status"] = wire::status_name(o.status);
    if (o.sense) {
        char a[8], q[8];
        std::snprintf(a, sizeof a, "0x%02x", o.sense->asc);
        std::snprintf(q, sizeof q, "0x%02x", o.sense->ascq);
        j["sense"] = {{"key", wire::sense_key_name(o.sense->key)},
                      {"asc", a},
                      {"ascq", q},
                      {"text", wire::asc_ascq_text(o.sense->asc, o.sense->ascq)}};
    } else {
        j["sense"] = nullptr;
    }
    j["latency_us"] = o.latency_ns / 1000;
    j["retries"] = o.retries;
    j["commands"] = o.commands;
    if (o.timed_out) j["timed_out"] = true;
    if (!o.step.empty() && !o.ok) j["step"] = o.step;
    if (!o.error.empty()) j[o.ok ? "note" : "error"] = o.error;
    const auto* gen_src = o.keys          ? &o.keys->generation
                          : o.reservation ? &o.reservation->generation
                          : o.full_status ? &o.full_status->generation
                                          : nullptr;
    if (gen_src) j["generation"] = *gen_src;
    if (o.keys) {
        Json k = Json::array();
        for (uint64_t key : o.keys->keys) k.push_back(hex_u64(key));
        j["keys"] = k;
    }
    if (o.reservation) {
        if (o.reservation->reserved)
            j["reservation"] = {{"key", hex_u64(o.reservation->key)},
                                {"type", wire::type_abbrev(o.reservation->type)},
                                {"type_name", wire::type_name(o.reservation->type)}};
        else
            j["reservation"] = nullptr;
    }
    if (o.caps) j["capabilities"] = to_json(*o.caps);
    if (o.full_status) j["full_status"] = to_json(*o.full_status);
    if (o.nvme_status != 0 || o.nvme_report) {
        Json n = Json::object();
        if (o.nvme_status != 0)
            n["status"] = wire::nvme::describe(wire::nvme::decode_status(o.nvme_status));
        if (o.nvme_report) {
            const auto& r = *o.nvme_report;
            n["generation"] = r.generation;
            n["rtype"] = r.rtype;
            n["rtype_name"] = wire::nvme::rtype_name(r.rtype);
            Json regs = Json::array();
            for (const auto& g : r.registrants) {
                regs.push_back({{"key", hex_u64(g.key)},
                                {"hostid", hostid_hex(g.hostid)},
                                {"holder", g.holds},
                                {"cntlid", g.cntlid}});
            }
            n["registrants"] = std::move(regs);
            if (r.regctl > r.registrants.size()) n["registrants_total"] = r.regctl;
        }
        j["nvme"] = std::move(n);
    }
    // Paths only where they tell something: a LU with several, or one whose path died.
    const bool any_dead = std::any_of(
        o.paths.begin(), o.paths.end(),
        [](const engine::PathOutcome& p) { return p.state == engine::PathOutcome::State::dead; });
    if (o.paths.size() > 1 || any_dead) {
        Json paths = Json::array();
        for (const auto& p : o.paths) {
            Json e = {{"path", p.name}, {"state", engine::path_state_name(p.state)}};
            if (!p.error.empty()) e["error"] = p.error;
            paths.push_back(std::move(e));
        }
        j["paths"] = std::move(paths);
    }
    if (o.degraded) j["degraded"] = true;
    return j;
}

Json summary_json(const engine::BatchSummary& s) {
    return {{"luns", s.luns},
            {"ok", s.ok},
            {"failed", s.failed},
            {"degraded", s.degraded},
            {"wall_ms", static_cast<double>(s.wall_ns) / 1e6},
            {"p50_us", s.p50_ns / 1000},
            {"p90_us", s.p90_ns / 1000},
            {"p99_us", s.p99_ns / 1000},
            {"max_us", s.max_ns / 1000},
            {"commands", s.commands},
            {"retries", s.retries},
            {"exit_code", wire::exit_code(s.worst)},
            {"deadline_hit", s.deadline_hit},
            {"cancelled", s.cancelled}};
}

namespace {

// A fence reads twice: READ KEYS before it preempts (the keys and their generation, which decided
// the preempt) and READ RESERVATION after (the verification). Each part of the row says which of
// the two it shows. An NVMe namespace's Report is kept from its last read: the one after the
// fence when the fence got that far (it then has a reservation), else the one before.
Json fence_states(const engine::LunOutcome& o) {
    Json st = Json::object();
    if (o.keys) {
        st["generation"] = "before";
        st["keys"] = "before";
    }
    if (o.reservation) st["reservation"] = "after";
    if (o.nvme_report) st["nvme"] = o.reservation ? "after" : "before";
    return st;
}

}  // namespace

Json batch_json(const std::string& op, const std::vector<engine::LunOutcome>& outcomes,
                const engine::BatchSummary& s) {
    Json luns = Json::array();
    for (const auto& o : outcomes) {
        luns.push_back(outcome_json(o));
        if (op == "fence" && (o.keys || o.reservation || o.nvme_report))
            luns.back()["states"] = fence_states(o);
    }
    return {{"operation", op}, {"luns", luns}, {"summary", summary_json(s)}};
}

void add_multipathd_json(Json& batch, const std::vector<engine::MapKeyReport>& told) {
    if (told.empty()) return;
    size_t ok = 0;
    for (const auto& r : told) {
        Json m = {{"map", r.map}, {"told", r.told}, {"key", r.key}};
        if (!r.error.empty()) m["error"] = r.error;
        if (r.lun < batch["luns"].size()) batch["luns"][r.lun]["multipathd"] = std::move(m);
        ok += r.told ? 1 : 0;
    }
    batch["summary"]["multipathd_told"] = ok;
    batch["summary"]["multipathd_not_told"] = told.size() - ok;
}

std::string multipathd_text(const std::vector<engine::MapKeyReport>& told) {
    if (told.empty()) return {};
    size_t ok = 0;
    std::string lines;
    for (const auto& r : told) {
        if (r.told) {
            ++ok;
            continue;
        }
        lines += "multipathd: " + r.map + ": " + r.error + "\n";
    }
    std::string head = "multipathd: " + std::to_string(ok) + " of " + std::to_string(told.size()) +
                       " multipath map" + (told.size() == 1 ? "" : "s") + " told\n";
    return head + lines;
}

namespace {

std::string detail(const engine::LunOutcome& o) {
    std::string d;
    if (!o.ok) {
        d = (o.step.empty() ? "" : o.step + ": ") + o.error;
        return d;
    }
    if (o.reservation) {
        d = o.reservation->reserved ? "reserved by " + hex_u64(o.reservation->key) + " " +
                                          wire::type_abbrev(o.reservation->type)
                                    : "not reserved";
        d += ", generation " + std::to_string(o.reservation->generation);
    } else if (o.keys) {
        d = std::to_string(o.keys->keys.size()) + " key" + (o.keys->keys.size() == 1 ? "" : "s");
        for (size_t i = 0; i < o.keys->keys.size() && i < 6; ++i)
            d += (i ? " " : ": ") + hex_u64(o.keys->keys[i]);
        if (o.keys->keys.size() > 6) d += " ...";
        d += ", generation " + std::to_string(o.keys->generation);
    } else if (o.full_status && o.nvme_report) {
        d = nvme_registrants_text(*o.nvme_report);
    } else if (o.full_status) {
        d = std::to_string(o.full_status->entries.size()) + " registrant(s), generation " +
            std::to_string(o.full_status->generation);
        for (const auto& e : o.full_status->entries)
            d += "; " + hex_u64(e.key) +
                 (e.holder ? std::string(" holder ") + wire::type_abbrev(e.type) : "") + " " +
                 wire::format_transport_id(e.transport_id);
    } else if (o.caps) {
        d = std::string("ATP_C=") + (o.caps->atp_c ? "1" : "0") +
            " SIP_C=" + (o.caps->sip_c ? "1" : "0") + " PTPL_C=" + (o.caps->ptpl_c ? "1" : "0") +
            " CRH=" + (o.caps->crh ? "1" : "0");
    }
    if (!o.error.empty()) d += (d.empty() ? "" : "; ") + o.error;
    if (o.degraded) d = "DEGRADED: " + d;
    return d;
}

}  // namespace

std::string batch_text(const std::string& op, const std::vector<engine::LunOutcome>& outcomes,
                       const engine::BatchSummary& s, bool failures_only) {
    size_t w = 6;
    for (const auto& o : outcomes) w = std::max(w, o.device.size());
    // by-id links and sim: names under a temporary directory run to 50-60 characters; a longer
    // name pushes its row's DETAIL to the right rather than widening every row.
    w = std::min<size_t>(w, 64);
    std::string out;
    char line[512];
    bool header = false;
    for (const auto& o : outcomes) {
        if (failures_only && o.ok) continue;
        if (!header) {
            std::snprintf(line, sizeof line, "%-*s  %-6s %10s %7s  %s\n", static_cast<int>(w),
                          "DEVICE", "RESULT", "LAT(us)", "RETRIES", "DETAIL");
            out += line;
            header = true;
        }
        std::snprintf(line, sizeof line, "%-*s  %-6s %10llu %7u  ", static_cast<int>(w),
                      o.device.c_str(), o.ok ? "ok" : "FAILED",
                      static_cast<unsigned long long>(o.latency_ns / 1000), o.retries);
        out += line + detail(o) + "\n";
    }
    // A degraded LU is ok (exit 0, as mpathpersist's), but the operator must see it.
    const std::string degraded =
        s.degraded ? " (" + std::to_string(s.degraded) + " degraded: a path is dead)" : "";
    std::snprintf(line, sizeof line,
                  "%s: %zu LUN%s, %zu ok%s, %zu failed in %.1f ms (%llu commands, %llu retries; "
                  "latency p50 %.0f us, "
                  "p99 %.0f us, max %.0f us)%s%s\n",
                  op.c_str(), s.luns, s.luns == 1 ? "" : "s", s.ok, degraded.c_str(), s.failed,
                  static_cast<double>(s.wall_ns) / 1e6, static_cast<unsigned long long>(s.commands),
                  static_cast<unsigned long long>(s.retries), static_cast<double>(s.p50_ns) / 1e3,
                  static_cast<double>(s.p99_ns) / 1e3, static_cast<double>(s.max_ns) / 1e3,
                  s.deadline_hit ? " [batch deadline hit]" : "", s.cancelled ? " [cancelled]" : "");
    out += line;
    return out;
}

}  // namespace prfence::cli
