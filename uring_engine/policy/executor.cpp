// SPDX-License-Identifier: MIT
#include "uring_engine/policy/executor.h"

#include <algorithm>

namespace prfence::engine {
namespace {

// tag = serial << kLunBits | lun: completions of abandoned commands (timed out, previous batch)
// carry a serial the LUN no longer waits for and are dropped without a lookup table.
constexpr unsigned kLunBits = 20;
constexpr uint64_t kLunMask = (1u << kLunBits) - 1;
// Wake at least this often so cancellation from a signal handler is seen promptly.
constexpr uint64_t kMaxWaitNs = 50'000'000;

uint64_t percentile(std::vector<uint64_t>& v, double p) {
    if (v.empty()) return 0;
    size_t idx = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + static_cast<long>(idx), v.end());
    return v[idx];
}

}  // namespace

Executor::Executor(Ring& ring, ExecOptions opt) : ring_(ring), opt_(std::move(opt)) {}

Result<BatchSummary> Executor::run(const std::vector<LunTarget>& luns,
                                   std::vector<std::unique_ptr<LunJob>>& jobs,
                                   const BatchHooks& hooks) {
    if (luns.size() != jobs.size())
        return fail(Errc::invalid_argument, "executor: one job per LUN is required");
    if (luns.size() > kLunMask)
        return fail(Errc::invalid_argument, "executor: more than 1M LUNs in one batch");
    luns_ = &luns;
    jobs_ = &jobs;
    hooks_ = &hooks;
    state_.assign(luns.size(), LunState{});
    ready_ = {};
    timers_ = {};
    latencies_.clear();
    latencies_.reserve(luns.size() * 3);
    commands_ = retries_ = 0;
    remaining_ = luns.size();

    BatchSummary sum;
    sum.luns = luns.size();
    const uint64_t start = ring_.tick();
    const uint64_t deadline =
        start + static_cast<uint64_t>(opt_.batch_deadline.count()) * 1000000ull;

    for (uint32_t i = 0; i < luns.size(); ++i) {
        jobs[i]->outcome().device = luns[i].name;
        advance(i, nullptr);
    }
    while (remaining_ > 0) {
        if (opt_.cancel && opt_.cancel->load(std::memory_order_relaxed)) {
            sum.cancelled = true;
            finish_unfinished(wire::Category::other, "cancelled before this LUN finished");
            break;
        }
        uint64_t now = ring_.tick();
        if (now >= deadline) {
            sum.deadline_hit = true;
            finish_unfinished(wire::Category::timeout,
                              "batch deadline passed before this LUN finished");
            break;
        }
        fire_timers(now);
        if (remaining_ == 0) break;
        uint64_t wake = std::min(deadline, now + kMaxWaitNs);
        if (!timers_.empty()) wake = std::min(wake, timers_.top().at_ns);
        if (hooks.idle)
            if (const uint64_t again = hooks.idle(now)) wake = std::min(wake, std::max(again, now));
        uint64_t wait = wake > now ? wake - now : 0;
        auto turned = ring_.run_once(std::chrono::nanoseconds(wait));
        if (!turned.ok()) {
            finish_unfinished(wire::Category::other, "io_uring failed");
            luns_ = nullptr;
            jobs_ = nullptr;
            hooks_ = nullptr;
            return fail(std::move(turned).error());
        }
    }
    sum.wall_ns = now_ns() - start;
    for (auto& j : jobs) {
        const LunOutcome& o = j->outcome();
        (o.ok ? sum.ok : sum.failed)++;
        if (o.ok && o.degraded) ++sum.degraded;
        sum.worst = wire::worse(sum.worst, o.ok ? wire::Category::clean : o.category);
    }
    sum.commands = commands_;
    sum.retries = retries_;
    sum.p50_ns = percentile(latencies_, 0.50);
    sum.p90_ns = percentile(latencies_, 0.90);
    sum.p99_ns = percentile(latencies_, 0.99);
    sum.max_ns = latencies_.empty() ? 0 : *std::max_element(latencies_.begin(), latencies_.end());
    luns_ = nullptr;
    jobs_ = nullptr;
    hooks_ = nullptr;
    return sum;
}

void Executor::advance(uint32_t lun, const ScsiResponse* last) {
    LunState& st = state_[lun];
    auto next = (*jobs_)[lun]->step((*luns_)[lun], last);
    if (!next) {
        st.cmd.reset();
        finished(lun);
        return;
    }
    if (next->path >= (*luns_)[lun].paths.size()) {
        LunOutcome& o = (*jobs_)[lun]->outcome();
        o.ok = false;
        o.category = wire::Category::logic_error;
        o.error = "plan asked for path " + std::to_string(next->path) + " of a LUN with " +
                  std::to_string((*luns_)[lun].paths.size());
        finished(lun);
        return;
    }
    st.cmd = std::move(next);
    st.ua_retries = st.transient_retries = 0;
    if (st.cmd->not_before_ns != 0 && st.cmd->not_before_ns > now_ns()) {  // paced (prbench) only
        timers_.push(
            {st.cmd->not_before_ns, lun, 0});  // the retry timer's path: submitted when it fires
        return;
    }
    try_submit(lun);
}

void Executor::finished(uint32_t lun) {
    state_[lun].done = true;
    LunOutcome& o = (*jobs_)[lun]->outcome();
    o.finished = true;
    --remaining_;
    if (hooks_ && hooks_->finished) hooks_->finished(lun, o);
}

void Executor::try_submit(uint32_t lun) {
    LunState& st = state_[lun];
    Path* path = (*luns_)[lun].paths[st.cmd->path];
    if (inflight_ >= opt_.max_inflight || path->in_flight() >= path->queue_depth()) {
        ready_.push(lun);
        return;
    }
    const uint64_t serial = next_serial_++;
    Status s = path->submit((serial << kLunBits) | lun, st.cmd->req);
    if (!s.ok()) {
        ScsiResponse rsp;
        rsp.sys_errno = s.error().sys_errno ? s.error().sys_errno : EIO;
        st.waiting = true;  // deliver() expects a command in flight
        deliver(lun, std::move(rsp));
        return;
    }
    ++inflight_;
    ++commands_;
    // The ring's time of this turn (Ring::now): the command deadline may start up to one turn's
    // dispatch time early, far below any deadline. A command log (prbench) wants each command's
    // own.
    const uint64_t now = ring_.now();
    if (st.first_submit_ns == 0) st.first_submit_ns = now;
    st.submit_ns = opt_.command_log ? now_ns() : now;
    st.waiting = true;
    st.serial = serial;
    timers_.push(
        {now + static_cast<uint64_t>(opt_.command_deadline.count()) * 1000000ull, lun, serial});
}

void Executor::pump_ready() {
    size_t n = ready_.size();
    while (n-- > 0 && inflight_ < opt_.max_inflight) {
        uint32_t lun = ready_.front();
        ready_.pop();
        if (state_[lun].done || state_[lun].waiting || !state_[lun].cmd) continue;
        try_submit(lun);  // re-queues itself if its path is still full
    }
}

void Executor::on_complete(uint64_t tag, ScsiResponse&& rsp) {
    if (inflight_ > 0) --inflight_;
    if (!luns_) return;  // a late answer from an earlier batch
    const uint32_t lun = static_cast<uint32_t>(tag & kLunMask);
    const uint64_t serial = tag >> kLunBits;
    if (lun >= state_.size() || !state_[lun].waiting || state_[lun].serial != serial) {
        pump_ready();
        return;  // abandoned after a timeout; its LUN has moved on
    }
    LunState& st = state_[lun];
    latencies_.push_back(rsp.latency_ns);
    RetryDecision d = decide_retry(opt_.retry, rsp, st.ua_retries, st.transient_retries);
    if (opt_.command_log) log_command(lun, rsp, d.kind != RetryDecision::Kind::deliver);
    switch (d.kind) {
        case RetryDecision::Kind::retry_now:
            ++st.ua_retries;
            ++retries_;
            ++(*jobs_)[lun]->outcome().retries;
            st.waiting = false;
            try_submit(lun);
            break;
        case RetryDecision::Kind::retry_later:
            ++st.transient_retries;
            ++retries_;
            ++(*jobs_)[lun]->outcome().retries;
            st.waiting = false;
            timers_.push({ring_.now() + static_cast<uint64_t>(d.delay.count()) * 1000ull, lun, 0});
            break;
        case RetryDecision::Kind::deliver:
            deliver(lun, std::move(rsp));
            break;
    }
    pump_ready();
}

void Executor::deliver(uint32_t lun, ScsiResponse&& rsp) {
    LunState& st = state_[lun];
    st.waiting = false;
    st.serial = 0;
    LunOutcome& o = (*jobs_)[lun]->outcome();
    ++o.commands;
    if (st.first_submit_ns) o.latency_ns = ring_.now() - st.first_submit_ns;
    advance(lun, &rsp);
}

void Executor::fire_timers(uint64_t now) {
    while (!timers_.empty() && timers_.top().at_ns <= now) {
        Timer t = timers_.top();
        timers_.pop();
        LunState& st = state_[t.lun];
        if (st.done) continue;
        if (t.serial == 0) {
            if (!st.waiting && st.cmd) try_submit(t.lun);  // backoff elapsed
        } else if (st.waiting && st.serial == t.serial) {
            (*luns_)[t.lun].paths[st.cmd->path]->abandon((t.serial << kLunBits) | t.lun);
            ScsiResponse rsp;
            rsp.timed_out = true;
            rsp.latency_ns = static_cast<uint64_t>(opt_.command_deadline.count()) * 1000000ull;
            if (opt_.command_log) log_command(t.lun, rsp, false);
            deliver(t.lun, std::move(rsp));
        }
    }
}

void Executor::log_command(uint32_t lun, const ScsiResponse& rsp, bool retried) {
    const LunState& st = state_[lun];
    CommandRecord r;
    r.lun = lun;
    r.label = st.cmd->label;
    r.opcode = st.cmd->req.cdb.len > 0 ? st.cmd->req.cdb.b[0] : 0;
    r.service_action = st.cmd->req.cdb.len > 1 ? (st.cmd->req.cdb.b[1] & 0x1f) : 0;
    r.status = rsp.status;
    r.timed_out = rsp.timed_out;
    r.retried = retried;
    r.sys_errno = rsp.sys_errno;
    r.submit_ns = st.submit_ns;
    r.complete_ns = now_ns();
    r.transport_ns = rsp.latency_ns;
    opt_.command_log->push_back(r);
}

void Executor::finish_unfinished(wire::Category why, const char* text) {
    for (uint32_t i = 0; i < state_.size(); ++i) {
        if (state_[i].done) continue;
        LunOutcome& o = (*jobs_)[i]->outcome();
        o.ok = false;
        o.finished = true;
        o.category = why;
        o.timed_out = why == wire::Category::timeout;
        o.error = text;
        state_[i].waiting = false;
        state_[i].serial = 0;
        finished(i);
    }
}

}  // namespace prfence::engine
