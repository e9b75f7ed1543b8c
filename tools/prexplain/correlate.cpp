// SPDX-License-Identifier: MIT
#include "tools/prexplain/correlate.h"

#include <algorithm>
#include <string>

#include "uring_engine/wire/cdb.h"

namespace prfence::prexplain {

namespace {

enum Part : uint16_t {
    kSd = 1 << 0,
    kFailed = 1 << 1,
    kCdb = 1 << 2,
    kBlock = 1 << 3,  // the block layer's line on a path (sdX)
    kCmdDone = 1 << 4,
    kRq = 1 << 5,
    kBufferIo = 1 << 6,
    kDm = 1 << 7,    // the block layer's line on the map above it (dm-N)
    kNvme = 1 << 8,  // the NVMe driver's line
};

bool is_dm(std::string_view d) { return d.starts_with("dm-"); }

uint16_t part_of(const ParsedLine& l) {
    switch (l.kind) {
        case LineKind::sd_conflict:
            return kSd;
        case LineKind::failed_result:
            return kFailed;
        case LineKind::cdb:
            return kCdb;
        case LineKind::block_error:
            return is_dm(l.disk) ? kDm : kBlock;
        case LineKind::trace_cmd_done:
            return kCmdDone;
        case LineKind::trace_rq_complete:
            return kRq;
        case LineKind::buffer_io:
            return kBufferIo;
        case LineKind::nvme_error:
            return kNvme;
        case LineKind::sd_name:
        case LineKind::nvme_aen:
        case LineKind::uevent_dev:
        case LineKind::uevent_aen:
            break;
    }
    return 0;
}

// The block layer's "op 0x0:(READ)".
Access access_of_block_op(std::string_view op) {
    return op == "READ" ? Access::read : op == "WRITE" ? Access::write : Access::unknown;
}

// Whether a block-layer sector (512-byte units) is a CDB's LBA, for logical blocks of 512 to 4096
// bytes.
bool lba_matches(uint64_t sector, uint64_t lba) {
    for (uint64_t k : {1u, 2u, 4u, 8u})
        if (lba <= UINT64_MAX / k && lba * k == sector) return true;
    return false;
}

// Which refused command an LU is judged on: the access that says the most about a reservation
// (a write is refused by every type that refuses anything; a read only by exclusive-access types).
int access_rank(Access a) {
    switch (a) {
        case Access::write:
            return 0;
        case Access::other:
            return 1;
        case Access::read:
            return 2;
        case Access::pr_out:
            return 3;
        case Access::pr_in:
            return 4;
        case Access::unknown:
            break;
    }
    return 5;
}

bool same_kind(const Command& a, const Command& b) {
    const std::string& pa = a.hctl.empty() ? a.device : a.hctl;
    const std::string& pb = b.hctl.empty() ? b.device : b.hctl;
    return a.op == b.op && a.has_sector == b.has_sector &&
           (!a.has_sector || a.sector == b.sector) && a.blocks == b.blocks && pa == pb;
}

void add_command(std::vector<Command>& list, uint64_t& unlisted, const Command& c, size_t max) {
    for (Command& k : list) {
        if (!same_kind(k, c)) continue;
        if (c.has_time) {
            if (!k.has_time) {
                k.has_time = true;
                k.first_seen_ns = c.first_seen_ns;
                k.last_seen_ns = c.last_seen_ns;
            } else {
                k.first_seen_ns = std::min(k.first_seen_ns, c.first_seen_ns);
                k.last_seen_ns = std::max(k.last_seen_ns, c.last_seen_ns);
            }
        }
        k.count += c.count;
        return;
    }
    if (list.size() < max)
        list.push_back(c);
    else
        unlisted += c.count;
}

// Adds a path, or fills in what an entry for the same disk or address lacked. True only for a new
// path: a disk's name for an address already known is not news worth an update of its own.
bool add_path(std::vector<PathName>& paths, const PathName& p) {
    if (p.device.empty() && p.hctl.empty()) return false;
    for (PathName& q : paths) {
        const bool same =
            (!p.hctl.empty() && q.hctl == p.hctl) || (!p.device.empty() && q.device == p.device);
        if (!same) continue;
        if (q.device.empty()) q.device = p.device;
        if (q.hctl.empty()) q.hctl = p.hctl;
        return false;
    }
    paths.push_back(p);
    return true;
}

// Fills what `to` lacks from `from`; true if that adds a name worth an update (a WWID, the map, a
// path).
bool fill_identity(LuIdentity& to, const LuIdentity& from) {
    bool changed = false;
    auto fill = [&](std::string& a, const std::string& b, bool news) {
        if (a.empty() && !b.empty()) {
            a = b;
            changed = changed || news;
        }
    };
    fill(to.wwid, from.wwid, true);
    fill(to.device, from.device, false);
    fill(to.hctl, from.hctl, false);
    fill(to.sim, from.sim, false);
    fill(to.dm_device, from.dm_device, true);
    fill(to.dm_name, from.dm_name, true);
    fill(to.dm_uuid, from.dm_uuid, true);
    fill(to.ctrl, from.ctrl, false);
    if (!to.nsid) to.nsid = from.nsid;
    if (!from.device.empty() || !from.hctl.empty())
        changed |= add_path(to.paths, PathName{from.device, from.hctl});
    for (const PathName& p : from.paths) changed |= add_path(to.paths, p);
    return changed;
}

std::string hctl_text(const Hctl& h) {
    return std::to_string(h.host) + ":" + std::to_string(h.channel) + ":" + std::to_string(h.id) +
           ":" + std::to_string(h.lun);
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char ch : s)
        if (ch < '0' || ch > '9') return false;
    return true;
}

// "nvme1n4p2" -> "nvme1n4" (a partition); "nvme1c2n4" stays (a path of a native multipath head).
std::string_view nvme_device(std::string_view d) {
    const size_t n = d.find('n', 4);
    if (n == std::string_view::npos) return d;
    const size_t p = d.find('p', n);
    return p != std::string_view::npos && all_digits(d.substr(p + 1)) ? d.substr(0, p) : d;
}

// The LU name of an NVMe disk: "nvme1n4" for nvme1n4, nvme1n4p2 and the path nvme1c2n4.
std::string nvme_head(std::string_view d) {
    d = nvme_device(d);
    const size_t c = d.find('c', 4);
    const size_t n = d.find('n', 4);
    if (c == std::string_view::npos || n == std::string_view::npos || c > n ||
        !all_digits(d.substr(4, c - 4)) || !all_digits(d.substr(c + 1, n - c - 1)))
        return std::string(d);
    return std::string(d.substr(0, c)) + std::string(d.substr(n));
}

bool is_nvme(std::string_view d) { return d.starts_with("nvme"); }

// "sdc1" -> "sdc": the sd driver names disks with letters only, partitions add digits. NVMe: the
// namespace of a partition (nvme_device).
std::string_view whole_disk(std::string_view d) {
    if (is_nvme(d)) return nvme_device(d);
    if (!d.starts_with("sd")) return d;
    size_t n = d.size();
    while (n > 2 && d[n - 1] >= '0' && d[n - 1] <= '9') --n;
    return n > 2 ? d.substr(0, n) : d;
}

// NVM command set opcodes, as the specification names them (the kernel prints "I/O Cmd" unless
// built with CONFIG_NVME_VERBOSE_ERRORS).
std::string nvme_op_name(uint8_t opcode) {
    switch (opcode) {
        case 0x00:
            return "Flush";
        case 0x01:
            return "Write";
        case 0x02:
            return "Read";
        case 0x04:
            return "Write Uncorrectable";
        case 0x05:
            return "Compare";
        case 0x08:
            return "Write Zeroes";
        case 0x09:
            return "Dataset Management";
        case 0x0c:
            return "Verify";
        case 0x0d:
            return "Reservation Register";
        case 0x0e:
            return "Reservation Report";
        case 0x11:
            return "Reservation Acquire";
        case 0x15:
            return "Reservation Release";
        case 0x19:
            return "Copy";
        case 0x79:
            return "Zone Management Send";
        case 0x7a:
            return "Zone Management Receive";
        case 0x7d:
            return "Zone Append";
        default:
            break;
    }
    static const char kHex[] = "0123456789abcdef";
    return std::string("NVMe 0x") + kHex[opcode >> 4] + kHex[opcode & 15];
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

Access access_of_nvme_opcode(uint8_t opcode) noexcept {
    switch (opcode) {
        case 0x00:
        case 0x01:
        case 0x04:
        case 0x08:
        case 0x09:
        case 0x19:
        case 0x79:
        case 0x7d:
            return Access::write;
        case 0x02:
        case 0x05:
        case 0x0c:
        case 0x7a:
            return Access::read;
        case 0x0d:
        case 0x11:
        case 0x15:
            return Access::pr_out;
        case 0x0e:
            return Access::pr_in;
        default:
            return Access::other;
    }
}

struct Correlator::Group {
    bool active = false;
    bool emitted = false;
    bool queued = false;  // in pending_
    uint64_t seq = 0;     // order of groups over all LUs
    uint16_t parts = 0;
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
    int tag = -1;
    std::string device, hctl;  // the path (or map) its lines named
};

struct Correlator::LuState {
    LuState* merged = nullptr;  // found to be that LU; everything moved there
    size_t index = 0;           // order of first appearance
    LuIdentity id;
    Group g;
    std::vector<Command> commands;  // closed groups
    uint64_t unlisted = 0;
    uint64_t count = 0;
    bool reported = false;
    bool has_time = false;
    int64_t first = 0, last = 0;
    int64_t last_emit_ts = 0, last_emit_arrival = 0;
    uint64_t count_at_emit = 0;
    bool dirty = false;                     // count moved since the last emission
    uint64_t names = 0, names_at_emit = 0;  // identity changes, and how many were reported
    Source source = Source::bare;
};

namespace {

constexpr size_t kRecentMax = 32;

Command command_of(const std::string& op, Access access, bool has_sector, uint64_t sector,
                   uint32_t blocks, const std::string& device, const std::string& hctl,
                   bool has_time, int64_t ts) {
    Command c;
    c.op = op;
    c.access = access;
    c.has_sector = has_sector;
    c.sector = sector;
    c.blocks = blocks;
    c.device = device;
    c.hctl = hctl;
    c.count = 1;
    c.has_time = has_time;
    c.first_seen_ns = c.last_seen_ns = ts;
    return c;
}

}  // namespace

Correlator::Correlator(LuMapper& mapper, CorrelateOptions opt) : mapper_(mapper), opt_(opt) {}
Correlator::~Correlator() = default;

Correlator::LuState* Correlator::root(LuState* u) {
    while (u && u->merged) u = u->merged;
    return u;
}

Correlator::LuState* Correlator::lookup(const std::string& alias) const {
    auto it = by_alias_.find(alias);
    return it == by_alias_.end() ? nullptr : root(it->second);
}

Correlator::LuState* Correlator::bind(const std::string& alias, LuState* u) {
    auto [it, fresh] = by_alias_.try_emplace(alias, u);
    if (fresh) return u;
    LuState* o = root(it->second);
    return o == u ? u : merge(o, u);
}

// Takes what `id` says about u's LU (from the mapper) and binds its names; u may turn out to be an
// LU already known under another name, which is returned.
Correlator::LuState* Correlator::absorb(LuState* u, const LuIdentity& id) {
    if (fill_identity(u->id, id)) ++u->names;
    if (!id.key.empty()) {
        auto [it, fresh] = by_key_.try_emplace(id.key, u);
        if (!fresh && root(it->second) != u) u = merge(root(it->second), u);
    }
    std::vector<std::string> aliases;
    for (const PathName& p : id.paths) {
        if (!p.hctl.empty()) aliases.push_back("hctl:" + p.hctl);
        if (!p.device.empty()) aliases.push_back("dev:" + p.device);
    }
    if (!id.hctl.empty()) aliases.push_back("hctl:" + id.hctl);
    if (!id.device.empty()) aliases.push_back("dev:" + id.device);
    if (!id.dm_device.empty()) aliases.push_back("dev:" + id.dm_device);
    for (const auto& a : aliases) u = bind(a, u);
    return u;
}

Correlator::LuState* Correlator::lu_from_identity(LuIdentity id) {
    if (auto it = by_key_.find(id.key); it != by_key_.end()) return absorb(root(it->second), id);
    if (lus_.size() >= opt_.max_lus) return nullptr;
    auto u = std::make_unique<LuState>();
    u->index = lus_.size();
    u->id.key = id.key;
    LuState* p = u.get();
    lus_.push_back(std::move(u));
    return absorb(p, id);
}

// Two names turned out to be one LU: the one reported (else the older) stays, the other's
// conflicts, commands and names move to it. One failed I/O seen under both names (its lines split
// between them) is counted once.
Correlator::LuState* Correlator::merge(LuState* a, LuState* b) {
    a = root(a);
    b = root(b);
    if (a == b) return a;
    LuState* s = a;
    LuState* x = b;
    if (a->reported != b->reported ? b->reported : b->index < a->index) std::swap(s, x);
    x->merged = s;
    ++stats_.merges;
    fill_identity(s->id, x->id);
    ++s->names;
    if (!x->id.key.empty()) by_key_.try_emplace(x->id.key, s);
    Group& sg = s->g;
    Group& xg = x->g;
    if (xg.active) {
        const bool near = !sg.has_time || !xg.has_time ||
                          (sg.ts > xg.ts ? sg.ts - xg.ts : xg.ts - sg.ts) <= opt_.group_window_ns;
        if (sg.active && !(sg.parts & xg.parts) && near) {
            // One I/O: fold the lines.
            sg.parts |= xg.parts;
            if (sg.op.empty()) {
                sg.op = xg.op;
                sg.access = xg.access;
            }
            if (!sg.has_sector || (xg.sector_from_block && !sg.sector_from_block)) {
                sg.has_sector = xg.has_sector;
                sg.sector_from_block = xg.sector_from_block;
                sg.sector = xg.sector;
            }
            if (!sg.blocks) sg.blocks = xg.blocks;
            if (sg.tag < 0) sg.tag = xg.tag;
            if (sg.device.empty() || is_dm(sg.device)) sg.device = xg.device;
            if (sg.hctl.empty()) sg.hctl = xg.hctl;
            if (xg.has_time && (!sg.has_time || xg.ts < sg.ts)) {
                sg.has_time = true;
                sg.ts = xg.ts;
            }
            sg.arrival = std::min(sg.arrival, xg.arrival);
            sg.emitted = sg.emitted || xg.emitted;
            s->count += x->count - 1;
            --stats_.groups;
        } else {
            // Two I/Os: the newer stays open (the line being read belongs to it).
            if (sg.active && sg.seq > xg.seq) {
                commit(*x);
            } else {
                commit(*s);
                sg = std::move(xg);
                sg.queued = false;
            }
            s->count += x->count;
        }
        xg.active = false;
    } else {
        s->count += x->count;
    }
    if (sg.active && !sg.emitted && !sg.queued) {
        sg.queued = true;
        pending_.push_back(s);
    }
    for (const Command& c : x->commands)
        add_command(s->commands, s->unlisted, c, opt_.max_commands);
    s->unlisted += x->unlisted;
    x->commands.clear();
    if (x->has_time) {
        if (!s->has_time) {
            s->has_time = true;
            s->first = x->first;
            s->last = x->last;
        } else {
            s->first = std::min(s->first, x->first);
            s->last = std::max(s->last, x->last);
        }
    }
    if (s->source == Source::bare) s->source = x->source;
    s->reported = s->reported || x->reported;
    s->dirty = true;
    if (last_cmd_done_ == x) last_cmd_done_ = s;
    if (last_block_.lu == x) last_block_.lu = s;
    return s;
}

// "sd H:C:T:L: [sdX] ...": sdX is at H:C:T:L. A name seen for the first time may show that two LUs
// known so far are one; a name that moved (a disk removed and another attached under its name)
// just points at the new address. Returns the LU whose names changed, if any.
Correlator::LuState* Correlator::learn_tie(const ParsedLine& l) {
    const std::string_view whole = whole_disk(l.disk);
    auto it = ties_.find(whole);
    if (it != ties_.end() && it->second == l.hctl) return nullptr;
    const std::string hctl = hctl_text(l.hctl);
    const std::string dev_alias = "dev:" + std::string(whole);
    LuState* h = lookup("hctl:" + hctl);
    if (it != ties_.end()) {
        if (auto old = disk_at_.find(hctl_text(it->second));
            old != disk_at_.end() && old->second == whole)
            disk_at_.erase(old);
        disk_at_[hctl] = std::string(whole);
        it->second = l.hctl;
        if (h)
            by_alias_[dev_alias] = h;
        else
            by_alias_.erase(dev_alias);
    } else {
        if (ties_.size() >= opt_.max_lus) return nullptr;
        ties_.emplace(std::string(whole), l.hctl);
        disk_at_[hctl] = std::string(whole);
        LuState* d = lookup(dev_alias);
        if (h && d && h != d)
            h = merge(h, d);
        else if (!h && d)
            h = bind("hctl:" + hctl, d);
        else if (h)
            h = bind(dev_alias, h);
    }
    if (!h) return nullptr;
    if (add_path(h->id.paths, PathName{std::string(whole), hctl})) ++h->names;
    if (h->id.device.empty() && h->id.hctl == hctl) {
        h->id.device = std::string(whole);
    }
    return h;
}

Correlator::LuState* Correlator::lu_by_hctl(const Hctl& h) {
    const std::string text = hctl_text(h);
    std::string alias = "hctl:" + text;
    if (LuState* u = lookup(alias)) return u;
    LuIdentity id;
    if (auto m = mapper_.by_hctl(h)) id = std::move(*m);
    if (id.hctl.empty()) id.hctl = text;
    if (id.key.empty()) id.key = id.wwid.empty() ? alias : id.wwid;
    LuState* u = lu_from_identity(std::move(id));
    if (!u) return nullptr;
    u = bind(alias, u);
    // A disk name an earlier "sd H:C:T:L: [sdX] ..." line gave this address.
    if (auto d = disk_at_.find(text); d != disk_at_.end()) {
        const std::string disk = d->second;
        u = bind("dev:" + disk, u);
        if (add_path(u->id.paths, PathName{disk, text})) ++u->names;
        if (u->id.device.empty() && u->id.hctl == text) {
            u->id.device = disk;
        }
    }
    return u;
}

Correlator::LuState* Correlator::lu_by_disk(std::string_view whole, std::string_view name) {
    std::string alias = "dev:" + std::string(whole);
    if (LuState* u = lookup(alias)) return u;
    if (auto t = ties_.find(whole); t != ties_.end()) {
        LuState* u = lu_by_hctl(t->second);
        if (!u) return nullptr;
        u = bind(alias, u);
        if (add_path(u->id.paths, PathName{std::string(whole), hctl_text(t->second)})) ++u->names;
        if (u->id.device.empty()) {
            u->id.device = std::string(whole);
        }
        return u;
    }
    LuIdentity id;
    if (auto m = mapper_.by_name(name)) id = std::move(*m);
    if (is_dm(whole)) {
        if (id.dm_device.empty()) id.dm_device = std::string(whole);
    } else if (id.device.empty()) {
        id.device = std::string(whole);
    }
    if (id.key.empty()) id.key = id.wwid.empty() ? alias : id.wwid;
    LuState* u = lu_from_identity(std::move(id));
    return u ? bind(alias, u) : nullptr;
}

// A block line on a device-mapper map: its LU through a name known before, sysfs, or the path's
// block line just before it (same sector and operation: the map's request failing with its
// path's error).
Correlator::LuState* Correlator::lu_by_dm(const ParsedLine& l, int64_t ts) {
    const std::string alias = "dev:" + std::string(l.disk);
    LuState* u = lookup(alias);
    LuState* pair = nullptr;
    if (LuState* p = root(last_block_.lu)) {
        const Group& g = p->g;
        if (g.active && g.seq == last_block_.seq && !(g.parts & kDm) &&
            last_block_.has_sector == l.has_sector && last_block_.sector == l.sector &&
            last_block_.access == access_of_block_op(l.op) &&
            (!l.has_time || !last_block_.has_time || ts - last_block_.ts <= opt_.group_window_ns))
            pair = p;
    }
    last_block_.lu = nullptr;  // one map line per path line
    if (!u) {
        if (auto m = mapper_.by_name(l.disk)) {
            LuIdentity id = std::move(*m);
            if (id.dm_device.empty()) id.dm_device = std::string(l.disk);
            if (id.key.empty()) id.key = id.wwid.empty() ? alias : id.wwid;
            u = lu_from_identity(std::move(id));
        }
    }
    if (pair) u = u ? merge(u, pair) : pair;
    if (!u) {
        LuIdentity id;
        id.key = alias;
        id.dm_device = std::string(l.disk);
        u = lu_from_identity(std::move(id));
        if (!u) return nullptr;
    }
    u = bind(alias, u);
    if (u->id.dm_device.empty()) {
        u->id.dm_device = std::string(l.disk);
        ++u->names;
    }
    return u;
}

Correlator::LuState* Correlator::lu_for(const ParsedLine& l) {
    if (l.kind == LineKind::block_error && is_dm(l.disk)) return nullptr;  // lu_by_dm
    if (l.has_hctl) return lu_by_hctl(l.hctl);
    if (!l.disk.empty() && is_nvme(l.disk)) {
        const std::string head = nvme_head(l.disk);
        return lu_by_disk(head, head);
    }
    if (!l.disk.empty()) return lu_by_disk(is_dm(l.disk) ? l.disk : whole_disk(l.disk), l.disk);
    if (l.has_devnum) {
        std::string alias = "devnum:" + std::to_string(l.major) + ":" + std::to_string(l.minor);
        if (LuState* u = lookup(alias)) return u;
        LuState* u = nullptr;
        LuState* cmd = root(last_cmd_done_);
        if (auto m = mapper_.by_devnum(l.major, l.minor)) {
            LuIdentity id = std::move(*m);
            if (id.key.empty()) id.key = id.wwid.empty() ? alias : id.wwid;
            u = lu_from_identity(std::move(id));
        } else if (cmd && cmd->g.active && !(cmd->g.parts & kRq) && (cmd->g.parts & kCmdDone) &&
                   (!l.has_time || !cmd->g.has_time ||
                    l.ts_ns - cmd->g.ts <= opt_.group_window_ns)) {
            // The request's own completion, right after its SCSI command's.
            u = cmd;
        } else {
            LuIdentity id;
            id.key = alias;
            u = lu_from_identity(std::move(id));
        }
        return u ? bind(alias, u) : nullptr;
    }
    return nullptr;
}

void Correlator::keep_recent(const ParsedLine& l, int64_t ts) {
    Recent r;
    r.cdb = l.kind == LineKind::cdb;
    r.has_hctl = l.has_hctl;
    r.hctl = l.hctl;
    r.disk = std::string(whole_disk(l.disk));
    r.alias = r.has_hctl ? "hctl:" + hctl_text(r.hctl) : r.disk.empty() ? "" : "dev:" + r.disk;
    r.tag = l.tag;
    r.ok = r.cdb || l.host_byte == "DID_OK";
    r.has_opcode = l.has_opcode;
    r.opcode = l.opcode;
    r.op = std::string(l.op);
    r.has_sector = l.has_sector;
    r.sector = l.sector;
    r.blocks = l.count;
    r.has_time = l.has_time;
    r.ts = ts;
    recent_.push_back(std::move(r));
    if (recent_.size() > kRecentMax) recent_.pop_front();
}

// A conflict starts a group on u: a CDB printed before it (the kernel's order is not every log's
// order) that names a command on u, within the window, with the tag of a FAILED line that does not
// say some other failure, and (for a block line) its sector, is the group's command.
void Correlator::take_recent(LuState& u, const ParsedLine& l, int64_t ts) {
    if (recent_.empty()) return;
    auto lu_of = [&](const Recent& r) -> LuState* {
        return r.alias.empty() ? nullptr : lookup(r.alias);
    };
    Group& g = u.g;
    for (size_t i = recent_.size(); i-- > 0;) {
        const Recent& c = recent_[i];
        if (!c.cdb) continue;
        if (c.has_time && l.has_time &&
            (ts - c.ts > opt_.group_window_ns || c.ts - ts > opt_.group_window_ns))
            continue;
        if (lu_of(c) != &u) continue;
        if (g.has_sector && c.has_sector &&
            !(g.sector_from_block ? lba_matches(g.sector, c.sector) : g.sector == c.sector))
            continue;
        bool other_failure = false, failed_seen = false;
        for (const Recent& f : recent_)
            if (!f.cdb && f.tag == c.tag && lu_of(f) == &u) {
                failed_seen = true;
                other_failure = other_failure || !f.ok;
            }
        if (other_failure) continue;
        if (c.has_opcode) {
            g.op = op_of_opcode(c.opcode);
            g.access = access_of_opcode(c.opcode);
        } else if (!c.op.empty()) {
            g.op = c.op;
        }
        if (c.has_sector && !g.has_sector) {
            g.has_sector = true;
            g.sector = c.sector;
        }
        if (c.blocks && !g.blocks) g.blocks = c.blocks;
        g.tag = c.tag;
        g.parts |= kCdb | (failed_seen ? kFailed : 0);
        if (g.device.empty() && !c.disk.empty()) g.device = c.disk;
        if (g.hctl.empty() && c.has_hctl) g.hctl = hctl_text(c.hctl);
        const int tag = c.tag;
        LuState* self = &u;
        const auto taken = std::remove_if(recent_.begin(), recent_.end(), [&](const Recent& r) {
            return r.tag == tag && lu_of(r) == self;
        });
        stats_.conflict_lines += static_cast<uint64_t>(recent_.end() - taken);
        recent_.erase(taken, recent_.end());
        return;
    }
}

void Correlator::commit(LuState& u) {
    Group& g = u.g;
    if (!g.active) return;
    add_command(u.commands, u.unlisted,
                command_of(g.op, g.access, g.has_sector, g.sector, g.blocks, g.device, g.hctl,
                           g.has_time, g.ts),
                opt_.max_commands);
    g.active = false;
}

void Correlator::make_event(const LuState& u, bool update, std::vector<Event>& out) {
    Event e;
    e.lu = u.id;
    e.commands = u.commands;
    e.unlisted = u.unlisted;
    const Group& g = u.g;
    if (g.active)
        add_command(e.commands, e.unlisted,
                    command_of(g.op, g.access, g.has_sector, g.sector, g.blocks, g.device, g.hctl,
                               g.has_time, g.ts),
                    opt_.max_commands);
    const Command* judged = nullptr;
    for (const Command& c : e.commands)
        if (!judged || access_rank(c.access) < access_rank(judged->access)) judged = &c;
    if (judged) {
        e.op = judged->op;
        e.access = judged->access;
        e.has_sector = judged->has_sector;
        e.sector = judged->sector;
        e.blocks = judged->blocks;
    }
    e.count = u.count;
    e.has_time = u.has_time;
    e.first_seen_ns = u.first;
    e.last_seen_ns = u.last;
    e.update = update;
    e.source = u.source;
    out.push_back(std::move(e));
    ++stats_.events;
}

void Correlator::mark_emitted(LuState& u, int64_t ts, int64_t arrival) {
    u.last_emit_ts = ts;
    u.last_emit_arrival = arrival;
    u.count_at_emit = u.count;
    u.names_at_emit = u.names;
    u.dirty = false;
}

void Correlator::emit_group(LuState& u, std::vector<Event>& out) {
    Group& g = u.g;
    if (!g.active || g.emitted) return;
    g.emitted = true;
    if (opt_.hold) return;
    if (!u.reported) {
        u.reported = true;
        make_event(u, false, out);
    } else if (u.names != u.names_at_emit || g.ts - u.last_emit_ts >= opt_.summary_interval_ns) {
        make_event(u, true, out);
    } else {
        u.dirty = true;
        return;
    }
    mark_emitted(u, g.ts, g.arrival);
}

// A reported LU got a name (a path, its map, another LU it turned out to be): said at once, unless
// its current group is about to be reported anyway.
void Correlator::names_changed(LuState& u, std::vector<Event>& out) {
    if (opt_.hold || !u.reported || u.names == u.names_at_emit) return;
    if (u.g.active && !u.g.emitted) return;
    make_event(u, true, out);
    mark_emitted(u, u.last, u.g.arrival);
}

void Correlator::close_group(LuState& u, std::vector<Event>& out) {
    emit_group(u, out);
    commit(u);
}

template <class Due, class Act>
void Correlator::pop_pending(Due due, Act act) {
    // Groups queue in arrival order, so the first one not yet due ends the walk; groups already
    // closed or emitted by other means, and LUs merged into others, just leave the queue.
    while (!pending_.empty()) {
        LuState* u = pending_.front();
        const bool stale = u->merged || !u->g.active || u->g.emitted;
        if (!stale && !due(*u)) break;
        pending_.pop_front();
        if (!u->merged) u->g.queued = false;
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

    switch (l.kind) {
        case LineKind::uevent_dev:
            uevent_ctrl_ = std::string(l.ctrl);
            return;
        case LineKind::uevent_aen:
            // Only within a uevent naming its controller (the header or DEVPATH comes first).
            if (!uevent_ctrl_.empty()) notice(uevent_ctrl_, l.aen, true, l, ts, arrival_ns);
            uevent_ctrl_.clear();
            return;
        case LineKind::nvme_aen:
            notice(l.ctrl, l.aen, false, l, ts, arrival_ns);
            return;
        default:
            break;
    }

    LuState* named = nullptr;  // an LU whose names this line changed
    if (l.has_hctl && !l.disk.empty()) named = learn_tie(l);
    if (l.kind == LineKind::sd_name) {
        if (named) names_changed(*named, out);
        return;
    }

    const bool joins_only =
        !l.conflict && (l.kind == LineKind::failed_result || l.kind == LineKind::cdb ||
                        l.kind == LineKind::buffer_io);
    if (!l.conflict && !joins_only) return;
    const uint16_t part = part_of(l);

    // Whether the line is part of u's current group.
    auto fits = [&](const LuState& u) {
        const Group& g = u.g;
        if (!g.active || ((g.parts & part) && part != kBufferIo)) return false;
        if (g.has_time && l.has_time && ts - g.ts > opt_.group_window_ns) return false;
        if ((part == kFailed || part == kCdb) && l.tag >= 0 && g.tag >= 0 && l.tag != g.tag)
            return false;
        if (part != kBufferIo && g.has_sector && l.has_sector && l.sector != UINT64_MAX) {
            const bool from_block = part == kBlock || part == kDm || part == kRq;
            if (from_block && g.sector_from_block && g.sector != l.sector) return false;
            if (from_block && !g.sector_from_block && !lba_matches(l.sector, g.sector))
                return false;
            if (!from_block && g.sector_from_block && !lba_matches(g.sector, l.sector))
                return false;
            if (!from_block && !g.sector_from_block && g.sector != l.sector) return false;
        }
        return true;
    };

    LuState* u = nullptr;
    if (joins_only) {
        // Only an LU in conflict: a FAILED line with DID_OK alone is some other failure (or the
        // start of a conflict printed out of order: kept for a while).
        if (l.has_hctl) {
            u = lookup("hctl:" + hctl_text(l.hctl));
        } else {
            const std::string_view whole = is_dm(l.disk) ? l.disk : whole_disk(l.disk);
            u = lookup("dev:" + std::string(whole));
            if (!u)
                if (auto t = ties_.find(whole); t != ties_.end())
                    u = lookup("hctl:" + hctl_text(t->second));
        }
        if (!u || !fits(*u)) {
            if (l.kind != LineKind::buffer_io) keep_recent(l, ts);
            if (named) names_changed(*named, out);
            return;
        }
    } else {
        u = l.kind == LineKind::block_error && is_dm(l.disk) ? lu_by_dm(l, ts) : lu_for(l);
        if (!u) return;
    }

    Group& g = u->g;
    if (g.active && !fits(*u)) close_group(*u, out);
    bool informative = false;
    if (!g.active) {
        if (joins_only) return;
        g = Group{};
        g.seq = ++group_seq_;
        g.active = true;
        g.has_time = l.has_time;
        g.ts = ts;
        g.arrival = arrival_ns;
        g.source = l.source;
        if (u->source == Source::bare) u->source = l.source;
        ++u->count;
        ++stats_.groups;
        if (!u->has_time && l.has_time) {
            u->first = ts;
            u->has_time = true;
        } else if (u->count == 1) {
            u->first = ts;
        }
        u->last = ts;
        u->dirty = true;
        if (l.has_sector && (part == kBlock || part == kDm)) {
            g.has_sector = true;
            g.sector_from_block = true;
            g.sector = l.sector;
        }
        take_recent(*u, l, ts);
        informative = !g.op.empty();
    }
    ++stats_.conflict_lines;
    g.parts |= part;
    if ((part == kFailed || part == kCdb) && l.tag >= 0) g.tag = l.tag;
    if (l.has_hctl && g.hctl.empty()) g.hctl = hctl_text(l.hctl);
    if (!l.disk.empty() && (g.device.empty() || (is_dm(g.device) && !is_dm(l.disk))))
        g.device = std::string(is_dm(l.disk) ? l.disk : whole_disk(l.disk));

    switch (l.kind) {
        case LineKind::trace_cmd_done:
        case LineKind::cdb:
            if (l.has_opcode && (g.op.empty() || g.access == Access::unknown ||
                                 (g.op == "READ" || g.op == "WRITE"))) {
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
        case LineKind::block_error: {
            const Access a = access_of_block_op(l.op);
            if (a != Access::unknown) {
                if (g.access == Access::unknown) g.access = a;
                if (g.op.empty()) g.op = std::string(l.op);
            }
            if (l.has_sector && (part == kBlock || !g.sector_from_block)) {
                g.has_sector = true;
                g.sector_from_block = true;
                g.sector = l.sector;
            }
            if (part == kBlock) {
                last_block_.lu = u;
                last_block_.seq = g.seq;
                last_block_.has_time = l.has_time;
                last_block_.ts = ts;
                last_block_.has_sector = l.has_sector;
                last_block_.sector = l.sector;
                last_block_.access = a;
            }
            // The block layer's line is the last one the kernel prints for a failed request.
            informative = true;
            break;
        }
        case LineKind::nvme_error:
            if (l.has_opcode) {
                g.op = nvme_op_name(l.opcode);
                g.access = access_of_nvme_opcode(l.opcode);
            }
            if (l.has_sector && !g.has_sector) {
                g.has_sector = true;
                g.sector = l.sector;
            }
            if (l.count && !g.blocks) g.blocks = l.count;
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
    if (g.active && !g.emitted && !g.queued) {
        g.queued = true;
        pending_.push_back(u);
    }
    if (named && root(named) != u) names_changed(*root(named), out);
    names_changed(*u, out);
}

void Correlator::tick(int64_t now_ns, std::vector<Event>& out) {
    pop_pending([&](const LuState& u) { return now_ns - u.g.arrival >= opt_.settle_ns; },
                [&](LuState& u) { emit_group(u, out); });
    if (opt_.hold) return;
    for (auto& up : lus_) {
        LuState& u = *up;
        if (u.merged || !u.dirty || !u.reported || u.count == u.count_at_emit) continue;
        if (u.g.active && !u.g.emitted) continue;  // its group is still settling
        if (now_ns - u.last_emit_arrival < opt_.summary_interval_ns) continue;
        make_event(u, true, out);
        mark_emitted(u, u.last, now_ns);
    }
}

std::optional<int64_t> Correlator::next_deadline() const {
    std::optional<int64_t> best;
    for (LuState* u : pending_)
        if (!u->merged && u->g.active && !u->g.emitted) {
            best = u->g.arrival + opt_.settle_ns;
            break;
        }
    if (opt_.hold) return best;
    for (const auto& up : lus_) {
        const LuState& u = *up;
        if (u.merged || !u.dirty || !u.reported || u.count == u.count_at_emit) continue;
        const int64_t d = u.last_emit_arrival + opt_.summary_interval_ns;
        if (!best || d < *best) best = d;
    }
    return best;
}

void Correlator::notice(std::string_view ctrl, uint32_t aen, bool uevent, const ParsedLine& l,
                        int64_t ts, int64_t arrival) {
    if (!is_reservation_aen(aen)) return;  // namespace changes, ANA, firmware, SMART, ...
    auto it = notices_.find(ctrl);
    if (it == notices_.end()) {
        if (notices_.size() >= opt_.max_lus) return;
        it = notices_.emplace(std::string(ctrl), NoticeState{}).first;
        it->second.n.ctrl = std::string(ctrl);
        notice_order_.push_back(it->second.n.ctrl);
    }
    NoticeState& st = it->second;
    if (st.has_last && st.last_aen == aen) {
        const int64_t gap =
            st.last_has_time && l.has_time ? ts - st.last_ts : arrival - st.last_arrival;
        if (gap >= -opt_.group_window_ns && gap <= opt_.group_window_ns) return;  // the same event
    }
    st.has_last = true;
    st.last_has_time = l.has_time;
    st.last_ts = ts;
    st.last_arrival = arrival;
    st.last_aen = aen;
    Notification& n = st.n;
    n.aen = aen;
    ++n.count;
    ++stats_.notifications;
    if (!n.has_time && l.has_time) {
        n.has_time = true;
        n.first_seen_ns = ts;
    }
    if (l.has_time) n.last_seen_ns = ts;
    if (n.source == Source::bare) n.source = l.source;
    n.uevent = uevent;
    if (opt_.hold) return;
    n.update = st.reported;
    st.reported = true;
    ready_notices_.push_back(n);
}

void Correlator::take_notifications(std::vector<Notification>& out) {
    for (auto& n : ready_notices_) out.push_back(std::move(n));
    ready_notices_.clear();
}

void Correlator::finish(std::vector<Event>& out) {
    if (opt_.hold)
        for (const std::string& c : notice_order_) {
            NoticeState& st = notices_.at(c);
            if (st.reported) continue;
            st.reported = true;
            ready_notices_.push_back(st.n);
        }
    while (!pending_.empty()) {
        LuState* u = pending_.front();
        pending_.pop_front();
        if (u->merged) continue;
        u->g.queued = false;
        if (u->g.active && !u->g.emitted) close_group(*u, out);
    }
    for (auto& up : lus_) {
        LuState& u = *up;
        if (u.merged) continue;
        commit(u);
        if (opt_.hold) {
            if (u.count == 0) continue;
            u.reported = true;
            make_event(u, false, out);
            mark_emitted(u, u.last, 0);
        } else if (u.reported && (u.count != u.count_at_emit || u.names != u.names_at_emit)) {
            make_event(u, true, out);
            mark_emitted(u, u.last, u.last_emit_arrival);
        }
    }
}

}  // namespace prfence::prexplain
