// SPDX-License-Identifier: MIT
#include "tools/prexplain/correlate.h"

#include <string>

#include "uring_engine/wire/cdb.h"

namespace prfence::prexplain {

namespace {

enum Part : uint8_t {
    kSd = 1 << 0,
    kFailed = 1 << 1,
    kCdb = 1 << 2,
    kBlock = 1 << 3,
    kCmdDone = 1 << 4,
    kRq = 1 << 5,
    kBufferIo = 1 << 6,
};

uint8_t part_of(LineKind k) {
    switch (k) {
        case LineKind::sd_conflict:
            return kSd;
        case LineKind::failed_result:
            return kFailed;
        case LineKind::cdb:
            return kCdb;
        case LineKind::block_error:
            return kBlock;
        case LineKind::trace_cmd_done:
            return kCmdDone;
        case LineKind::trace_rq_complete:
            return kRq;
        case LineKind::buffer_io:
            return kBufferIo;
    }
    return 0;
}

std::string hctl_text(const Hctl& h) {
    return std::to_string(h.host) + ":" + std::to_string(h.channel) + ":" + std::to_string(h.id) +
           ":" + std::to_string(h.lun);
}

// "sdc1" -> "sdc": the sd driver names disks with letters only, partitions add digits.
std::string_view whole_disk(std::string_view d) {
    if (!d.starts_with("sd")) return d;
    size_t n = d.size();
    while (n > 2 && d[n - 1] >= '0' && d[n - 1] <= '9') --n;
    return n > 2 ? d.substr(0, n) : d;
}

std::string op_of_opcode(uint8_t opcode) {
    if (const char* n = wire::tracepoint_command_name(opcode)) return n;
    static const char kHex[] = "0123456789abcdef";
    return std::string("0x") + kHex[opcode >> 4] + kHex[opcode & 15];
}

}  // namespace

const char* access_name(Access a) noexcept {
    switch (a) {
        case Access::unknown:
            return "unknown";
        case Access::read:
            return "read";
        case Access::write:
            return "write";
        case Access::pr_in:
            return "pr_in";
        case Access::pr_out:
            return "pr_out";
        case Access::other:
            return "other";
    }
    return "unknown";
}

Access access_of_opcode(uint8_t opcode) noexcept {
    switch (opcode) {
        case 0x08:
        case 0x28:
        case 0xa8:
        case 0x88:  // READ 6/10/12/16
        case 0x2f:
        case 0xaf:
        case 0x8f:  // VERIFY: a read access per SPC-4 5.13.1
            return Access::read;
        case 0x0a:
        case 0x2a:
        case 0xaa:
        case 0x8a:  // WRITE 6/10/12/16
        case 0x41:
        case 0x93:
        case 0x42:
        case 0x35:
        case 0x91:  // WRITE SAME, UNMAP, SYNCHRONIZE CACHE
        case 0x89:
        case 0x2e:
        case 0x8e:  // COMPARE AND WRITE, WRITE AND VERIFY
            return Access::write;
        case 0x5e:
            return Access::pr_in;
        case 0x5f:
            return Access::pr_out;
        default:
            return Access::other;
    }
}

struct Correlator::Group {
    bool active = false;
    bool emitted = false;
    bool queued = false;  // in pending_
    uint64_t seq = 0;
    uint8_t parts = 0;
    bool has_time = false;
    int64_t ts = 0;
    int64_t arrival = 0;
    Source source = Source::bare;
    std::string op;
    Access access = Access::unknown;
    bool has_sector = false;
    bool sector_from_block = false;
    uint64_t sector = 0;
    uint32_t blocks = 0;
};

struct Correlator::LuState {
    LuIdentity id;
    Group g;
    uint64_t count = 0;
    bool reported = false;
    bool has_time = false;
    int64_t first = 0, last = 0;
    int64_t last_emit_ts = 0, last_emit_arrival = 0;
    uint64_t count_at_emit = 0;
    bool dirty = false;  // count moved since the last emission
};

Correlator::Correlator(LuMapper& mapper, CorrelateOptions opt) : mapper_(mapper), opt_(opt) {}
Correlator::~Correlator() = default;

Correlator::LuState* Correlator::lu_from_identity(LuIdentity id) {
    if (auto it = by_key_.find(id.key); it != by_key_.end()) {
        LuState* u = it->second;
        if (u->id.wwid.empty()) u->id.wwid = id.wwid;
        if (u->id.device.empty()) u->id.device = id.device;
        if (u->id.hctl.empty()) u->id.hctl = id.hctl;
        if (u->id.sim.empty()) u->id.sim = id.sim;
        return u;
    }
    if (lus_.size() >= opt_.max_lus) return nullptr;
    auto u = std::make_unique<LuState>();
    u->id = std::move(id);
    LuState* p = u.get();
    by_key_.emplace(p->id.key, p);
    lus_.push_back(std::move(u));
    return p;
}

Correlator::LuState* Correlator::lu_for(const ParsedLine& l) {
    LuState* u = nullptr;
    if (l.has_hctl) {
        std::string alias = "hctl:" + hctl_text(l.hctl);
        if (auto it = by_alias_.find(alias); it != by_alias_.end()) {
            u = it->second;
        } else {
            LuIdentity id;
            if (auto m = mapper_.by_hctl(l.hctl)) id = std::move(*m);
            if (id.hctl.empty()) id.hctl = hctl_text(l.hctl);
            if (id.key.empty()) id.key = id.wwid.empty() ? alias : id.wwid;
            u = lu_from_identity(std::move(id));
            if (!u) return nullptr;
            by_alias_.emplace(std::move(alias), u);
        }
        if (!l.disk.empty()) {
            const std::string_view whole = whole_disk(l.disk);
            if (u->id.device.empty()) u->id.device = std::string(whole);
            by_alias_.try_emplace("dev:" + std::string(whole), u);
        }
        return u;
    }
    if (!l.disk.empty()) {
        const std::string_view whole = whole_disk(l.disk);
        std::string alias = "dev:" + std::string(whole);
        if (auto it = by_alias_.find(alias); it != by_alias_.end()) return it->second;
        LuIdentity id;
        if (auto m = mapper_.by_name(l.disk)) id = std::move(*m);
        if (id.device.empty()) id.device = std::string(whole);
        if (id.key.empty()) id.key = id.wwid.empty() ? alias : id.wwid;
        u = lu_from_identity(std::move(id));
        if (u) by_alias_.emplace(std::move(alias), u);
        return u;
    }
    if (l.has_devnum) {
        std::string alias = "devnum:" + std::to_string(l.major) + ":" + std::to_string(l.minor);
        if (auto it = by_alias_.find(alias); it != by_alias_.end()) return it->second;
        if (auto m = mapper_.by_devnum(l.major, l.minor)) {
            LuIdentity id = std::move(*m);
            if (id.key.empty()) id.key = id.wwid.empty() ? alias : id.wwid;
            u = lu_from_identity(std::move(id));
        } else if (last_cmd_done_ && last_cmd_done_->g.active && !(last_cmd_done_->g.parts & kRq) &&
                   (last_cmd_done_->g.parts & kCmdDone) &&
                   (!l.has_time || !last_cmd_done_->g.has_time ||
                    l.ts_ns - last_cmd_done_->g.ts <= opt_.group_window_ns)) {
            // The request's own completion, right after its SCSI command's.
            u = last_cmd_done_;
        } else {
            LuIdentity id;
            id.key = alias;
            u = lu_from_identity(std::move(id));
        }
        if (u) by_alias_.emplace(std::move(alias), u);
        return u;
    }
    return nullptr;
}

void Correlator::make_event(const LuState& u, bool update, std::vector<Event>& out) {
    Event e;
    e.lu = u.id;
    e.op = u.g.op;
    e.access = u.g.access;
    e.has_sector = u.g.has_sector;
    e.sector = u.g.sector;
    e.blocks = u.g.blocks;
    e.count = u.count;
    e.has_time = u.has_time;
    e.first_seen_ns = u.first;
    e.last_seen_ns = u.last;
    e.update = update;
    e.source = u.g.source;
    out.push_back(std::move(e));
    ++stats_.events;
}

void Correlator::emit_group(LuState& u, std::vector<Event>& out) {
    Group& g = u.g;
    if (!g.active || g.emitted) return;
    g.emitted = true;
    if (!u.reported) {
        u.reported = true;
        make_event(u, false, out);
    } else if (g.ts - u.last_emit_ts >= opt_.summary_interval_ns) {
        make_event(u, true, out);
    } else {
        u.dirty = true;
        return;
    }
    u.last_emit_ts = g.ts;
    u.last_emit_arrival = g.arrival;
    u.count_at_emit = u.count;
    u.dirty = false;
}

void Correlator::close_group(LuState& u, std::vector<Event>& out) {
    emit_group(u, out);
    u.g.active = false;
}

template <class Due, class Act>
void Correlator::pop_pending(Due due, Act act) {
    // Groups queue in arrival order, so the first one not yet due ends the walk; groups already
    // closed or emitted by other means just leave the queue.
    while (!pending_.empty()) {
        LuState* u = pending_.front();
        const bool stale = !u->g.active || u->g.emitted;
        if (!stale && !due(*u)) break;
        pending_.pop_front();
        u->g.queued = false;
        if (!stale) act(*u);
    }
}

void Correlator::expire(int64_t line_ts, std::vector<Event>& out) {
    pop_pending(
        [&](const LuState& u) { return u.g.has_time && line_ts - u.g.ts > opt_.group_window_ns; },
        [&](LuState& u) { close_group(u, out); });
}

void Correlator::feed(const ParsedLine& l, int64_t arrival_ns, std::vector<Event>& out) {
    ++stats_.lines;
    const int64_t ts = l.has_time ? l.ts_ns : arrival_ns;
    if (l.has_time) expire(ts, out);

    const bool joins_only =
        !l.conflict && (l.kind == LineKind::failed_result || l.kind == LineKind::cdb ||
                        l.kind == LineKind::buffer_io);
    if (!l.conflict && !joins_only) return;

    LuState* u = nullptr;
    if (joins_only) {
        // Only an LU already in conflict: a FAILED line with DID_OK alone is some other failure.
        std::string alias =
            l.has_hctl ? "hctl:" + hctl_text(l.hctl) : "dev:" + std::string(whole_disk(l.disk));
        auto it = by_alias_.find(alias);
        if (it == by_alias_.end()) return;
        u = it->second;
        if (!u->g.active || (u->g.has_time && l.has_time && ts - u->g.ts > opt_.group_window_ns))
            return;
        if (l.has_hctl && !l.disk.empty()) {
            const std::string_view whole = whole_disk(l.disk);
            if (u->id.device.empty()) u->id.device = std::string(whole);
            by_alias_.try_emplace("dev:" + std::string(whole), u);
        }
    } else {
        u = lu_for(l);
        if (!u) return;
    }

    const uint8_t part = part_of(l.kind);
    Group& g = u->g;
    if (g.active && (((g.parts & part) && part != kBufferIo) ||
                     (g.has_time && l.has_time && ts - g.ts > opt_.group_window_ns)))
        close_group(*u, out);
    if (!g.active) {
        if (joins_only) return;
        const uint64_t seq = g.seq + 1;
        g = Group{};
        g.seq = seq;
        g.active = true;
        g.has_time = l.has_time;
        g.ts = ts;
        g.arrival = arrival_ns;
        g.source = l.source;
        ++u->count;
        ++stats_.groups;
        if (u->count == 1) {
            u->first = ts;
            u->has_time = l.has_time;
        }
        u->last = ts;
        u->dirty = true;
    }
    ++stats_.conflict_lines;
    g.parts |= part;

    bool informative = false;
    switch (l.kind) {
        case LineKind::trace_cmd_done:
        case LineKind::cdb:
            if (l.has_opcode && g.op.empty()) {
                g.op = op_of_opcode(l.opcode);
                g.access = access_of_opcode(l.opcode);
            } else if (g.op.empty() && !l.op.empty()) {
                g.op = std::string(l.op);
            }
            if (l.has_sector && !g.has_sector) {
                g.has_sector = true;
                g.sector = l.sector;
            }
            if (l.count && !g.blocks) g.blocks = l.count;
            informative = true;
            if (l.kind == LineKind::trace_cmd_done) last_cmd_done_ = u;
            break;
        case LineKind::block_error:
            if (l.op == "READ" || l.op == "WRITE") {
                if (g.access == Access::unknown)
                    g.access = l.op == "READ" ? Access::read : Access::write;
                if (g.op.empty()) g.op = std::string(l.op);
                informative = true;
            }
            if (l.has_sector) {
                g.has_sector = true;
                g.sector_from_block = true;
                g.sector = l.sector;
            }
            // The block layer's line is the last one the kernel prints for a failed request.
            informative = true;
            break;
        case LineKind::trace_rq_complete:
            if (!l.op.empty() && g.access == Access::unknown) {
                if (l.op.front() == 'R')
                    g.access = Access::read;
                else if (l.op.front() == 'W')
                    g.access = Access::write;
                if (g.op.empty() && g.access != Access::unknown)
                    g.op = g.access == Access::read ? "READ" : "WRITE";
            }
            if (l.has_sector && l.sector != UINT64_MAX && !g.sector_from_block) {
                g.has_sector = true;
                g.sector_from_block = true;
                g.sector = l.sector;
            }
            if (!g.blocks && l.count) g.blocks = l.count;
            informative = g.access != Access::unknown;
            break;
        default:
            break;
    }
    if (informative) emit_group(*u, out);
    if (!g.emitted && !g.queued) {
        g.queued = true;
        pending_.push_back(u);
    }
}

void Correlator::tick(int64_t now_ns, std::vector<Event>& out) {
    pop_pending([&](const LuState& u) { return now_ns - u.g.arrival >= opt_.settle_ns; },
                [&](LuState& u) { emit_group(u, out); });
    for (auto& up : lus_) {
        LuState& u = *up;
        if (!u.dirty || !u.reported || u.count == u.count_at_emit) continue;
        if (u.g.active && !u.g.emitted) continue;  // its group is still settling
        if (now_ns - u.last_emit_arrival < opt_.summary_interval_ns) continue;
        make_event(u, true, out);
        u.last_emit_ts = u.last;
        u.last_emit_arrival = now_ns;
        u.count_at_emit = u.count;
        u.dirty = false;
    }
}

std::optional<int64_t> Correlator::next_deadline() const {
    std::optional<int64_t> best;
    for (LuState* u : pending_)
        if (u->g.active && !u->g.emitted) {
            best = u->g.arrival + opt_.settle_ns;
            break;
        }
    for (const auto& up : lus_) {
        const LuState& u = *up;
        if (!u.dirty || !u.reported || u.count == u.count_at_emit) continue;
        const int64_t d = u.last_emit_arrival + opt_.summary_interval_ns;
        if (!best || d < *best) best = d;
    }
    return best;
}

void Correlator::finish(std::vector<Event>& out) {
    while (!pending_.empty()) {
        LuState* u = pending_.front();
        pending_.pop_front();
        u->g.queued = false;
        if (u->g.active && !u->g.emitted) close_group(*u, out);
    }
    for (auto& up : lus_) {
        LuState& u = *up;
        if (u.reported && u.count != u.count_at_emit) {
            make_event(u, true, out);
            u.last_emit_ts = u.last;
            u.count_at_emit = u.count;
            u.dirty = false;
        }
    }
}

}  // namespace prfence::prexplain
