// SPDX-License-Identifier: MIT
#include "interposer/prsim/task_set.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <bit>
#include <functional>

#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::sim {

int64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

TaskSet::TaskSet(const ServerConfig& cfg, std::vector<std::unique_ptr<LogicalUnit>>& lus,
                 FaultTable& faults, TraceSink* trace, TraceSink* dmesg, Clients& clients)
    : cfg_(cfg), lus_(lus), faults_(faults), trace_(trace), dmesg_(dmesg), clients_(clients) {}

void TaskSet::open(uint64_t conn) {
    conns_[conn].slots.assign((cfg_.limits.max_in_flight + 63) / 64, 0);
}

void TaskSet::close(uint64_t conn) {
    auto c = conns_.find(conn);
    if (c == conns_.end()) return;
    for (auto& [tag, pid] : c->second.tags) {
        auto p = pending_.find(pid);
        if (p != pending_.end()) {
            if (p->second.held) held_.fetch_sub(1, std::memory_order_relaxed);
            erase_pending(p);  // its heap entry, if any, is skipped when it comes due
        }
    }
    conns_.erase(c);
}

bool TaskSet::in_flight(uint64_t conn, uint64_t tag) const {
    auto c = conns_.find(conn);
    return c != conns_.end() && c->second.tags.count(tag) != 0;
}

size_t TaskSet::outstanding(uint64_t conn) const {
    auto c = conns_.find(conn);
    return c == conns_.end() ? 0 : c->second.tags.size();
}

TaskSet::Client* TaskSet::client(uint64_t conn) {
    auto c = conns_.find(conn);
    return c == conns_.end() ? nullptr : &c->second;
}

int TaskSet::alloc_slot(Client& c) {
    for (size_t w = 0; w < c.slots.size(); ++w) {
        if (c.slots[w] != ~uint64_t{0}) {
            const int bit = std::countr_one(c.slots[w]);
            const int slot = static_cast<int>(w * 64) + bit;
            if (static_cast<uint32_t>(slot) >= cfg_.limits.max_in_flight) return -1;
            c.slots[w] |= uint64_t{1} << bit;
            return slot;
        }
    }
    return -1;
}

void TaskSet::free_slot(Client& c, int slot) {
    if (slot < 0) return;
    c.slots[static_cast<size_t>(slot) / 64] &= ~(uint64_t{1} << (slot % 64));
}

TaskSet::TaskView TaskSet::view_of(const Pending& p) {
    TaskView t;
    t.conn = p.conn;
    t.tag = p.tag;
    t.lun = p.lun;
    t.nexus = p.nexus;
    t.lu_nexus = p.lu_nexus;
    t.cdb = ByteView(p.cdb.data(), p.cdb_len);
    t.data_out = p.data_out;
    t.alloc_len = p.alloc_len;
    t.slot = p.slot;
    t.arrival_ns = p.arrival_ns;
    t.pending_id = p.id;
    return t;
}

void TaskSet::emit_trace(const TaskView& t, uint32_t data_len, uint8_t status, ByteView sense) {
    if (!trace_ && !dmesg_) return;
    CompletionEvent e;
    const int64_t now = monotonic_ns();
    e.ts_ns = cfg_.trace_clock ? cfg_.trace_clock() : now;
    e.cpu = cfg_.trace.cpu >= 0 ? cfg_.trace.cpu : std::max(0, ::sched_getcpu());
    e.host = t.nexus->host;
    e.channel = 0;
    e.id = t.nexus->target_id;
    e.lun = t.lun;
    e.driver_tag = t.slot < 0 ? 0 : t.slot;
    e.cdb = t.cdb;
    e.data_len = data_len;
    e.status = status;
    e.host_byte = wire::did::ok;
    e.sense = sense;
    e.cmd_age_ns = now - t.arrival_ns;
    e.block_size = t.lun < lus_.size() ? lus_[t.lun]->config().block_size : 512;
    const std::string disk = sd_disk_name(t.nexus->disk_base + t.lun);
    e.disk = disk;
    if (trace_) {
        text_.clear();
        format_cmd_done(text_, e, cfg_.trace.style);
        trace_->append(text_);
    }
    if (status == wire::sam::reservation_conflict) {
        text_.clear();
        format_conflict_dmesg(text_, e, cfg_.trace.style);
        if (dmesg_)
            dmesg_->append(text_);
        else if (trace_)
            trace_->append(text_);
    }
}

bool TaskSet::execute(const TaskView& t, const Decision& d) {
    LogicalUnit& lu = *lus_[t.lun];
    for (uint8_t i = 0; i < d.n_uas; ++i)
        for (uint32_t k = 0; k < d.uas[i].count; ++k)
            lu.queue_unit_attention(t.lu_nexus, d.uas[i].asc, d.uas[i].ascq);
    CommandResult r;
    switch (d.action) {
        case Decision::Action::busy:
            r.status = wire::sam::busy;
            break;
        case Decision::Action::task_set_full:
            r.status = wire::sam::task_set_full;
            break;
        case Decision::Action::not_ready:
            r.status = wire::sam::check_condition;
            r.sense = wire::make_fixed_sense(wire::SenseKey::not_ready, d.asc, d.ascq);
            break;
        case Decision::Action::answer:
            r.status = d.status;
            if (d.status == wire::sam::check_condition) {
                r.sense =
                    wire::make_fixed_sense(static_cast<wire::SenseKey>(d.sense_key), d.asc, d.ascq);
                if (d.has_info) {  // fixed format: VALID (byte 0 bit 7), INFORMATION (bytes 3-6)
                    r.sense[0] |= 0x80;
                    put_be32(r.sense, 3, d.info);
                }
            }
            break;
        default:
            r = lu.execute(t.lu_nexus, t.cdb, t.data_out);
            break;
    }
    if (r.data_in.size() > t.alloc_len) r.data_in.resize(t.alloc_len);
    if (!r.aborted_nexuses.empty()) abort_nexuses(t.lun, r.aborted_nexuses, t.pending_id);
    if (d.action == Decision::Action::execute_then_hold)
        return false;  // executed; the answer is "lost"
    emit_trace(t, t.data_len(), r.status, r.sense);
    const uint8_t host = d.action == Decision::Action::answer ? d.host_byte : 0;
    clients_.respond(t.conn, t.tag, r.status, host, r.sense, r.data_in, 0);
    return true;
}

void TaskSet::submit(uint64_t conn, NexusRec& nx, const proto::CommandView& cmd, int64_t now_ns) {
    Client& c = conns_.at(conn);
    TaskView t;
    t.conn = conn;
    t.tag = cmd.tag;
    t.lun = cmd.lun;
    t.nexus = &nx;
    t.cdb = cmd.cdb_bytes();
    t.data_out = cmd.data_out;
    t.alloc_len = cmd.alloc_len;
    t.arrival_ns = now_ns;
    t.slot = alloc_slot(c);
    if (t.slot < 0) {  // the task set is full
        if (cmd.lun < cfg_.luns) emit_trace(t, cmd.alloc_len, wire::sam::task_set_full, {});
        clients_.respond(conn, cmd.tag, wire::sam::task_set_full, wire::did::ok, {}, {}, 0);
        return;
    }
    if (cmd.lun >= cfg_.luns) {
        // SPC-4: a command to a LU that does not exist: ILLEGAL REQUEST, LOGICAL UNIT NOT
        // SUPPORTED.
        clients_.respond(conn, cmd.tag, wire::sam::check_condition, wire::did::ok,
                         wire::make_fixed_sense(wire::SenseKey::illegal_request, 0x25, 0), {}, 0);
        free_slot(c, t.slot);
        return;
    }
    t.lu_nexus = NexusRegistry::lu_nexus_for(nx, cmd.lun, *lus_[cmd.lun]);
    const Decision d = faults_.decide(
        cmd.lun, t.cdb[0], NexusRef{nx.index, nx.host, nx.target_port, &nx.initiator}, now_ns);
    // The command as it waits: for its delay, forever (held), or, executed with its answer lost,
    // held like a command that never completes (its data-out is spent then).
    auto make_pending = [&](bool with_data) {
        Pending p;
        p.id = next_pending_++;
        p.conn = conn;
        p.tag = cmd.tag;
        p.lun = cmd.lun;
        p.nexus = &nx;
        p.lu_nexus = t.lu_nexus;
        p.cdb_len = cmd.cdb_len;
        p.cdb = cmd.cdb;
        if (with_data) p.data_out.assign(cmd.data_out.begin(), cmd.data_out.end());
        p.alloc_len = cmd.alloc_len;
        p.decision = d;
        p.arrival_ns = now_ns;
        p.slot = t.slot;
        return p;
    };
    if (d.action != Decision::Action::hold && d.delay_ns == 0) {
        if (!execute(t, d)) {
            Pending p = make_pending(false);
            p.held = true;
            held_.fetch_add(1, std::memory_order_relaxed);
            c.tags.emplace(cmd.tag, p.id);
            add_pending(std::move(p));
            return;
        }
        free_slot(c, t.slot);
        return;
    }
    Pending p = make_pending(true);
    if (d.action == Decision::Action::hold) {
        p.held = true;
        held_.fetch_add(1, std::memory_order_relaxed);
    } else {
        delayed_.fetch_add(1, std::memory_order_relaxed);
        heap_.emplace_back(now_ns + d.delay_ns, p.id);
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    }
    c.tags.emplace(cmd.tag, p.id);
    add_pending(std::move(p));
}

void TaskSet::forget_pending(PendingMap::iterator it) {
    Pending& p = it->second;
    if (p.held) held_.fetch_sub(1, std::memory_order_relaxed);
    if (Client* c = client(p.conn)) {
        c->tags.erase(p.tag);
        free_slot(*c, p.slot);
    }
    erase_pending(it);
}

void TaskSet::add_pending(Pending&& p) {
    if (p.lun >= pending_by_lun_.size()) pending_by_lun_.resize(p.lun + 1);
    pending_by_lun_[p.lun].push_back(p.id);
    pending_.emplace(p.id, std::move(p));
}

TaskSet::PendingMap::iterator TaskSet::erase_pending(PendingMap::iterator it) {
    auto& ids = pending_by_lun_[it->second.lun];
    ids.erase(std::find(ids.begin(), ids.end(), it->first));
    return pending_.erase(it);
}

void TaskSet::finish_pending(uint64_t pid, uint8_t flags) {
    auto it = pending_.find(pid);
    if (it == pending_.end()) return;
    const Pending& p = it->second;
    aborted_.fetch_add(1, std::memory_order_relaxed);
    if (clients_.connected(p.conn)) {
        const TaskView t = view_of(p);
        emit_trace(t, t.data_len(), wire::sam::task_aborted, {});
        clients_.respond(p.conn, p.tag, wire::sam::task_aborted, wire::did::ok, {}, {}, flags);
    }
    forget_pending(it);
}

void TaskSet::abort_nexuses(uint32_t lun, const std::vector<NexusId>& victims, uint64_t except) {
    // SPC-4 5.13.11.2.4: the preempted nexuses' tasks in this LU's task set are aborted. With TAS=1
    // each aborted command is answered TASK ABORTED (the PREEMPT AND ABORT itself is not among
    // them).
    std::vector<uint64_t> ids;
    if (lun < pending_by_lun_.size())
        for (uint64_t id : pending_by_lun_[lun]) {
            const Pending& p = pending_.at(id);
            if (id != except &&
                std::find(victims.begin(), victims.end(), p.lu_nexus) != victims.end())
                ids.push_back(id);
        }
    std::sort(ids.begin(), ids.end());  // arrival order
    for (uint64_t id : ids) finish_pending(id, proto::kRespAbortedByPreempt);
}

void TaskSet::abort(uint64_t conn, uint64_t tag) {
    Client* c = client(conn);
    if (!c) return;
    auto it = c->tags.find(tag);
    if (it == c->tags.end()) return;  // already answered (or never seen): nothing to abort
    finish_pending(it->second, proto::kRespAbortedByClient);
}

void TaskSet::run_due(int64_t now_ns) {
    while (!heap_.empty() && heap_.front().first <= now_ns) {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
        const uint64_t pid = heap_.back().second;
        heap_.pop_back();
        auto it = pending_.find(pid);
        if (it == pending_.end()) continue;  // aborted or its client left
        // Take it out of the table while it executes, so that its own PREEMPT AND ABORT cannot
        // abort it.
        Pending p = std::move(it->second);
        erase_pending(it);
        Client* c = client(p.conn);
        if (!c || !clients_.connected(p.conn)) continue;
        c->tags.erase(p.tag);
        // Clients never closes a connection while it is answered, so c stays valid.
        if (execute(view_of(p), p.decision)) {
            free_slot(*c, p.slot);
        } else {
            p.held = true;
            held_.fetch_add(1, std::memory_order_relaxed);
            c->tags.emplace(p.tag, p.id);
            add_pending(std::move(p));
        }
    }
}

std::optional<int64_t> TaskSet::next_due() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().first;
}

}  // namespace prfence::sim
