// SPDX-License-Identifier: MIT
#include "tools/prbench/bench.h"

#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "uring_engine/common/bytes.h"
#include "uring_engine/policy/executor.h"
#include "uring_engine/policy/operations.h"
#include "tools/prbench/spawn.h"
#include "uring_engine/simproto/names.h"
#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/sg_path.h"
#include "uring_engine/transport/sgio_path.h"
#include "uring_engine/transport/sim_path.h"

namespace prbench {

using prfence::Errc;
using prfence::fail;
namespace engine = prfence::engine;
namespace wire = prfence::wire;

// ---------------------------------------------------------------------------------------------------
// Names

namespace {
struct BackendRow {
    Backend b;
    const char* name;
};
constexpr BackendRow kBackends[] = {{Backend::uring, "uring"},
                                    {Backend::sgio, "sgio"},
                                    {Backend::serial, "serial"},
                                    {Backend::sg_persist, "sg_persist"},
                                    {Backend::fence_scsi, "fence_scsi"}};
}  // namespace

const char* backend_name(Backend b) {
    for (const auto& r : kBackends)
        if (r.b == b) return r.name;
    return "?";
}
std::optional<Backend> parse_backend(std::string_view name) {
    for (const auto& r : kBackends)
        if (name == r.name) return r.b;
    return std::nullopt;
}
bool is_engine_backend(Backend b) { return b == Backend::uring || b == Backend::sgio || b == Backend::serial; }

const char* workload_name(Workload w) {
    switch (w) {
        case Workload::op: return "op";
        case Workload::fence: return "fence";
        case Workload::pingpong: return "pingpong";
    }
    return "?";
}
std::optional<Workload> parse_workload(std::string_view name) {
    if (name == "op") return Workload::op;
    if (name == "fence") return Workload::fence;
    if (name == "pingpong") return Workload::pingpong;
    return std::nullopt;
}

bool is_op_name(std::string_view name) {
    return std::any_of(std::begin(kOpNames), std::end(kOpNames), [&](const char* n) { return name == n; });
}

std::string prsim_sg_path(uint32_t lun) { return "/dev/prsim/sg" + std::to_string(lun); }
std::string prsim_sd_path(uint32_t lun) { return "/dev/prsim/sd" + prfence::shim::disk_letters(lun); }

namespace {

// ---------------------------------------------------------------------------------------------------
// Actions: one PR command (or prfence plan) by one node, as an engine operation and as sg_persist
// arguments.

enum class Act {
    register_new,     // REGISTER from an unregistered nexus (RK 0, SARK key)
    unregister,       // REGISTER RK key, SARK 0
    register_ignore,  // REGISTER AND IGNORE EXISTING KEY, SARK key (0: unregister whatever is there)
    reserve,
    release,
    clear,
    preempt,
    preempt_abort,
    read_keys,
    read_reservation,
    caps,
    full_status,
    fence,     // prfence's fence plan (victim = sa_key)
    takeover,  // prfence's takeover plan
};

struct Step {
    int node = 0;  // 0 A, 1 B
    Act act = Act::read_keys;
    uint64_t key = 0, sa_key = 0;
    bool measured = false;
    engine::JobMaker make;  // filled by compile()
};

engine::OpSpec op_spec(const Step& s, const Config& cfg) {
    engine::OpSpec o;
    o.timeout_ms = cfg.timeout_ms;
    switch (s.act) {
        case Act::register_new: o.op = engine::Operation::register_key; o.key = s.key; break;
        case Act::unregister: o.op = engine::Operation::unregister; o.key = s.key; break;
        case Act::register_ignore:
            o.op = engine::Operation::register_key;
            o.key = s.key;
            o.ignore_existing = true;
            break;
        case Act::reserve: o.op = engine::Operation::reserve; o.key = s.key; o.type = cfg.type; break;
        case Act::release: o.op = engine::Operation::release; o.key = s.key; o.type = cfg.type; break;
        case Act::clear: o.op = engine::Operation::clear; o.key = s.key; break;
        case Act::preempt:
        case Act::preempt_abort:
            o.op = engine::Operation::preempt;
            o.key = s.key;
            o.sa_key = s.sa_key;
            o.type = cfg.type;
            o.abort = s.act == Act::preempt_abort;
            break;
        case Act::read_keys: o.op = engine::Operation::read_keys; break;
        case Act::read_reservation: o.op = engine::Operation::read_reservation; break;
        case Act::caps: o.op = engine::Operation::report_capabilities; break;
        case Act::full_status: o.op = engine::Operation::read_full_status; break;
        case Act::fence:
            o.op = engine::Operation::fence;
            o.key = s.key;
            o.sa_key = s.sa_key;
            o.type = cfg.type;
            break;
        case Act::takeover:
            o.op = engine::Operation::takeover;
            o.key = s.key;
            o.type = cfg.type;
            o.force = true;
            break;
    }
    return o;
}

std::string hx(uint64_t k) { return prfence::hex_u64(k).substr(2); }  // sg_persist reads keys as hex

// sg_persist's arguments for one action (the device follows).
std::vector<std::string> sg_persist_args(const Step& s, const Config& cfg) {
    const std::string t = "--prout-type=" + std::to_string(static_cast<unsigned>(cfg.type));
    const std::string rk = "--param-rk=" + hx(s.key);
    const std::string sark = "--param-sark=" + hx(s.sa_key);
    switch (s.act) {
        case Act::register_new: return {"-n", "--out", "--register", "--param-sark=" + hx(s.key)};
        case Act::unregister: return {"-n", "--out", "--register", rk};
        case Act::register_ignore: return {"-n", "--out", "--register-ignore", "--param-sark=" + hx(s.key)};
        case Act::reserve: return {"-n", "--out", "--reserve", rk, t};
        case Act::release: return {"-n", "--out", "--release", rk, t};
        case Act::clear: return {"-n", "--out", "--clear", rk};
        case Act::preempt: return {"-n", "--out", "--preempt", rk, sark, t};
        case Act::preempt_abort: return {"-n", "--out", "--preempt-abort", rk, sark, t};
        case Act::read_keys: return {"-n", "--in", "--read-keys"};
        case Act::read_reservation: return {"-n", "--in", "--read-reservation"};
        case Act::caps: return {"-n", "--in", "--report-capabilities"};
        case Act::full_status: return {"-n", "--in", "--read-full-status"};
        case Act::fence:
        case Act::takeover: break;
    }
    return {};
}

prfence::Status compile(std::vector<Step>& steps, const Config& cfg) {
    for (auto& s : steps) {
        auto m = engine::make_operation(op_spec(s, cfg));
        if (!m) return fail(std::move(m).error());
        s.make = std::move(m).value();
    }
    return {};
}

struct Cycle {
    std::vector<Step> prep, cycle;
    bool needs_b = false;
};

// The op workload's cycle for `op`: prep puts every LU into a known state once (A registers with
// REGISTER AND IGNORE and CLEARs everything, then what the operation needs); the cycle repeats with
// exactly one measured step and leaves the LU as it found it.
prfence::Result<Cycle> op_cycle(const std::string& op, const Config& cfg, bool have_b) {
    const uint64_t ka = cfg.a.key, kb = cfg.b.key;
    Cycle c;
    c.prep = {{0, Act::register_ignore, ka}, {0, Act::clear, ka}};
    auto m = [](int node, Act a, uint64_t k, uint64_t sa = 0) { return Step{node, a, k, sa, true, {}}; };
    if (op == "register") {
        c.cycle = {m(0, Act::register_new, ka), {0, Act::unregister, ka}};
    } else if (op == "register-ignore") {
        c.cycle = {m(0, Act::register_ignore, ka)};
    } else if (op == "reserve" || op == "release") {
        c.prep.push_back({0, Act::register_ignore, ka});
        c.cycle = {{0, Act::reserve, ka}, {0, Act::release, ka}};
        c.cycle[op == "reserve" ? 0 : 1].measured = true;
    } else if (op == "preempt" || op == "preempt-abort") {
        c.needs_b = true;
        c.prep.push_back({1, Act::register_ignore, kb});
        c.cycle = {{1, Act::release, kb},
                   {0, Act::register_ignore, ka},
                   {0, Act::reserve, ka},
                   m(1, op == "preempt" ? Act::preempt : Act::preempt_abort, kb, ka)};
    } else if (op == "clear") {
        c.cycle = {{0, Act::register_ignore, ka}};
        if (have_b) c.cycle.push_back({1, Act::register_ignore, kb});
        c.cycle.push_back(m(0, Act::clear, ka));
    } else if (op == "read-keys" || op == "read-reservation" || op == "report-capabilities" || op == "read-full-status") {
        c.prep.push_back({0, Act::register_ignore, ka});
        if (have_b) c.prep.push_back({1, Act::register_ignore, kb});
        c.prep.push_back({0, Act::reserve, ka});
        const Act a = op == "read-keys"          ? Act::read_keys
                      : op == "read-reservation" ? Act::read_reservation
                      : op == "report-capabilities" ? Act::caps
                                                    : Act::full_status;
        c.cycle = {m(0, a, 0)};
    } else {
        return fail(Errc::invalid_argument, "unknown operation " + op);
    }
    if (c.needs_b && !have_b) return c;
    PRF_TRY(compile(c.prep, cfg));
    PRF_TRY(compile(c.cycle, cfg));
    return c;
}

// ---------------------------------------------------------------------------------------------------
// Paced mode: the measured command of LU i's cycle k is due at t0 + (k * N + i) / rate.

struct Pacing {
    uint64_t t0 = 0;
    double period_ns = 0;  // 0: not paced
    size_t n = 1;
    uint64_t due(size_t lun, uint64_t cycle) const {
        return t0 + static_cast<uint64_t>((static_cast<double>(cycle) * static_cast<double>(n) + static_cast<double>(lun)) * period_ns);
    }
};

// Runs `steps` `cycles` times on one LU. Each step is a prfence operation run against one node's path;
// the commands of measured steps carry label cycle + 1.
class CycleJob final : public engine::LunJob {
public:
    CycleJob(const std::vector<Step>& steps, unsigned cycles, const engine::LunTarget* views, const Pacing* pace,
             size_t index)
        : steps_(steps), cycles_(cycles), views_(views), pace_(pace), index_(index) {}

    std::optional<Command> step(const engine::LunTarget&, const prfence::engine::ScsiResponse* last) override {
        for (;;) {
            if (cycle_ >= cycles_ || steps_.empty()) {
                outcome_.ok = errors_ == 0;
                outcome_.category = errors_ ? wire::Category::other : wire::Category::clean;
                outcome_.error = first_error_;
                return std::nullopt;
            }
            const Step& s = steps_[i_];
            if (!inner_) {
                inner_ = s.make();
                last = nullptr;
            }
            auto c = inner_->step(views_[s.node], last);
            if (c) {
                c->path = static_cast<unsigned>(s.node);
                if (s.measured) {
                    c->label = cycle_ + 1;
                    if (pace_ && pace_->period_ns > 0) c->not_before_ns = pace_->due(index_, cycle_);
                }
                return c;
            }
            const engine::LunOutcome& o = inner_->outcome();
            if (!o.ok) {
                ++errors_;
                if (s.measured) failed_cycles_.push_back(cycle_);
                if (first_error_.empty())
                    first_error_ = std::string(s.node ? "node B " : "node A ") + o.step + ": " + o.error;
            }
            inner_.reset();
            last = nullptr;
            if (++i_ == steps_.size()) {
                i_ = 0;
                ++cycle_;
            }
        }
    }
    const std::vector<uint32_t>& failed_cycles() const { return failed_cycles_; }
    unsigned errors() const { return errors_; }

private:
    const std::vector<Step>& steps_;
    unsigned cycles_;
    const engine::LunTarget* views_;
    const Pacing* pace_;
    size_t index_;
    std::unique_ptr<LunJob> inner_;
    size_t i_ = 0;
    uint32_t cycle_ = 0;
    unsigned errors_ = 0;
    std::vector<uint32_t> failed_cycles_;
    std::string first_error_;
};

// ---------------------------------------------------------------------------------------------------
// The engine's side: a ring, an executor and every LU's paths for node A and node B.

struct Rig {
    std::unique_ptr<engine::Ring> ring;
    std::unique_ptr<engine::Executor> ex;
    std::unique_ptr<engine::SgioPool> pool;
    std::vector<std::unique_ptr<engine::SimConnection>> conns;
    std::vector<std::unique_ptr<engine::Path>> paths;
    std::vector<engine::LunTarget> both;   // paths {A, B} (or {A})
    std::vector<engine::LunTarget> views;  // 2 per LU: A alone, B alone
    std::vector<engine::LunTarget> a, b;   // for whole-node batches
    bool has_b = false;

    ~Rig() {
        for (auto& p : paths) p->begin_shutdown();
        paths.clear();
        pool.reset();
        conns.clear();
        ex.reset();
        ring.reset();
    }
};

prfence::Result<std::unique_ptr<Rig>> open_rig(const Config& cfg, size_t n, bool sgio) {
    auto rig = std::make_unique<Rig>();
    PRF_TRY_ASSIGN(rig->ring, engine::Ring::create(4096));
    rig->ex = std::make_unique<engine::Executor>(*rig->ring);
    std::map<std::string, engine::SimConnection*> conns;
    rig->has_b = n > 0 && std::all_of(cfg.luns.begin(), cfg.luns.begin() + static_cast<long>(n),
                                       [](const BenchLun& l) { return l.has_b; });
    auto open_path = [&](const engine::PathSpec& ps, const Node& node) -> prfence::Result<engine::Path*> {
        std::unique_ptr<engine::Path> p;
        if (ps.kind == engine::PathSpec::Kind::sim) {
            if (sgio) return fail(Errc::unsupported, "the SG_IO pool drives sg devices, not prsim LUNs");
            const std::string k = ps.sim_socket + "\n" + node.initiator + "\n" + std::to_string(node.target_port);
            auto it = conns.find(k);
            if (it == conns.end()) {
                PRF_TRY_ASSIGN(auto c, engine::SimConnection::open(*rig->ring, *rig->ex, ps.sim_socket, node.initiator,
                                                                   node.target_port));
                it = conns.emplace(k, c.get()).first;
                rig->conns.push_back(std::move(c));
            }
            PRF_TRY_ASSIGN(p, it->second->path(ps.sim_lun));
        } else if (sgio) {
            if (!rig->pool) rig->pool = std::make_unique<engine::SgioPool>(*rig->ring, cfg.sgio_threads);
            PRF_TRY_ASSIGN(p, engine::SgioPath::open(*rig->pool, *rig->ex, ps.sg_node));
        } else {
            PRF_TRY_ASSIGN(p, engine::SgPath::open(*rig->ring, *rig->ex, ps.sg_node));
        }
        engine::Path* raw = p.get();
        rig->paths.push_back(std::move(p));
        return raw;
    };
    for (size_t i = 0; i < n; ++i) {
        const BenchLun& l = cfg.luns[i];
        PRF_TRY_ASSIGN(engine::Path * pa, open_path(l.a, cfg.a));
        engine::Path* pb = nullptr;
        if (rig->has_b) {
            PRF_TRY_ASSIGN(pb, open_path(l.b, cfg.b));
        }
        rig->both.push_back({l.name, pb ? std::vector<engine::Path*>{pa, pb} : std::vector<engine::Path*>{pa}});
        rig->views.push_back({l.name, {pa}});
        rig->views.push_back({l.name, {pb ? pb : pa}});
        rig->a.push_back({l.name, {pa}});
        if (pb) rig->b.push_back({l.name, {pb}});
    }
    return rig;
}

engine::ExecOptions exec_options(const Config& cfg, unsigned qd, std::vector<engine::CommandRecord>* log) {
    engine::ExecOptions o;
    o.max_inflight = qd;
    o.batch_deadline = std::chrono::hours(4);
    o.command_deadline = std::chrono::milliseconds(cfg.timeout_ms + 5000);
    o.command_log = log;
    return o;
}

struct BatchOut {
    engine::BatchSummary sum;
    std::vector<engine::LunOutcome> outcomes;
    std::string first_error;
    size_t failed = 0;
};

// One operation on every LU of `targets` in one batch.
prfence::Result<BatchOut> batch(Rig& rig, const std::vector<engine::LunTarget>& targets, const engine::JobMaker& make,
                                const engine::ExecOptions& o) {
    std::vector<std::unique_ptr<engine::LunJob>> jobs;
    jobs.reserve(targets.size());
    for (size_t i = 0; i < targets.size(); ++i) jobs.push_back(make());
    rig.ex->set_options(o);
    BatchOut out;
    PRF_TRY_ASSIGN(out.sum, rig.ex->run(targets, jobs));
    for (auto& j : jobs) {
        const engine::LunOutcome& oc = j->outcome();
        if (!oc.ok) {
            ++out.failed;
            if (out.first_error.empty()) out.first_error = oc.device + ": " + oc.step + ": " + oc.error;
        }
        out.outcomes.push_back(oc);
    }
    return out;
}

// An unmeasured batch that must succeed on every LU.
prfence::Status setup(Rig& rig, const Config& cfg, const std::vector<engine::LunTarget>& targets, Step s,
                      const char* what) {
    std::vector<Step> v{std::move(s)};
    PRF_TRY(compile(v, cfg));
    PRF_TRY_ASSIGN(BatchOut b, batch(rig, targets, v[0].make, exec_options(cfg, 1024, nullptr)));
    if (b.failed)
        return fail(Errc::io, std::string(what) + " failed on " + std::to_string(b.failed) + " LUs; first: " + b.first_error);
    return {};
}

void sleep_until_ns(uint64_t t) {
    const uint64_t now = engine::now_ns();
    if (t <= now) return;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(t / 1000000000ull);
    ts.tv_nsec = static_cast<long>(t % 1000000000ull);
    // engine::now_ns() is CLOCK_MONOTONIC.
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

void add_lun_time(Result& r, size_t lun, uint64_t ns) {
    LunTime& t = r.luns_time[lun];
    t.max_ns = std::max(t.max_ns, ns);
    t.sum_ns += ns;
    ++t.n;
}

Result new_result(const Config& cfg, Workload w, std::string op, Backend b, size_t n, unsigned qd) {
    Result r;
    r.workload = w;
    r.op = std::move(op);
    r.backend = b;
    r.luns = n;
    r.qd = qd;
    r.rate = is_engine_backend(b) ? cfg.rate : 0;  // only the engine paces; baselines run flat out
    r.luns_time.resize(n);
    for (size_t i = 0; i < n; ++i) r.luns_time[i].name = cfg.luns[i].name;
    return r;
}

// ---------------------------------------------------------------------------------------------------
// Engine workloads

// An op workload's preparation on every LU, once and unmeasured; the first LU that fails is named.
prfence::Status prep_cycle(const Config& cfg, Rig& rig, const Cycle& cyc) {
    std::vector<std::unique_ptr<engine::LunJob>> jobs;
    for (size_t i = 0; i < rig.both.size(); ++i)
        jobs.push_back(std::make_unique<CycleJob>(cyc.prep, 1, &rig.views[2 * i], nullptr, i));
    rig.ex->set_options(exec_options(cfg, 1024, nullptr));
    PRF_TRY_ASSIGN(engine::BatchSummary s, rig.ex->run(rig.both, jobs));
    if (s.failed)
        for (auto& j : jobs)
            if (!j->outcome().ok)
                return fail(Errc::io, "preparing the LUs failed: " + j->outcome().device + ": " + j->outcome().error);
    return {};
}

prfence::Status engine_op(const Config& cfg, Rig& rig, const Cycle& cyc, Result& r) {
    const size_t n = rig.both.size();
    PRF_TRY(prep_cycle(cfg, rig, cyc));  // once, unmeasured
    const unsigned iterations = cfg.iterations ? cfg.iterations
                                               : std::max<unsigned>(10, static_cast<unsigned>((2000 + n - 1) / n));
    const unsigned cycles = iterations + cfg.warmup;
    std::vector<engine::CommandRecord> log;
    log.reserve(static_cast<size_t>(cycles) * n * (cyc.cycle.size() + 1));
    Pacing pace;
    pace.n = n;
    if (cfg.rate > 0) pace.period_ns = 1e9 / cfg.rate;
    std::vector<std::unique_ptr<engine::LunJob>> jobs;
    std::vector<CycleJob*> cj;
    for (size_t i = 0; i < n; ++i) {
        auto j = std::make_unique<CycleJob>(cyc.cycle, cycles, &rig.views[2 * i], &pace, i);
        cj.push_back(j.get());
        jobs.push_back(std::move(j));
    }
    rig.ex->set_options(exec_options(cfg, r.qd, &log));
    pace.t0 = engine::now_ns() + 1000000;  // the first due time, 1 ms from now
    PRF_TRY(rig.ex->run(rig.both, jobs));
    uint64_t first = UINT64_MAX, lastc = 0;
    for (const auto& rec : log) {
        if (rec.label == 0) continue;
        const uint32_t cycle = rec.label - 1;
        if (cycle < cfg.warmup) {
            if (!rec.retried) ++r.warmup;
            continue;
        }
        const uint64_t clat = rec.complete_ns - rec.submit_ns;
        r.clat.push_back(clat);
        add_lun_time(r, rec.lun, clat);
        first = std::min(first, rec.submit_ns);
        lastc = std::max(lastc, rec.complete_ns);
        if (rec.retried) {
            ++r.retries;
            continue;
        }
        ++r.ops;
        if (pace.period_ns > 0) {
            const uint64_t due = pace.due(rec.lun, cycle);
            r.lat.push_back(rec.complete_ns > due ? rec.complete_ns - due : 0);
        }
    }
    r.runtime_ns = lastc > first ? lastc - first : 0;
    for (CycleJob* j : cj) {
        for (uint32_t c : j->failed_cycles())
            if (c >= cfg.warmup) ++r.errors;
        if (j->errors() && r.first_error.empty()) r.first_error = j->outcome().device + ": " + j->outcome().error;
    }
    return {};
}

// Puts node A in charge of every LU and registers node B: the state before a fence. By default without
// any abort (A and B REGISTER AND IGNORE, B RELEASEs what it won last round, A RESERVEs), as an operator's
// cluster is before a failover. --arm takeover uses A's takeover plan (PREEMPT AND ABORT of B) instead;
// on LIO the fence right after it is then measurably slower (see tools/prbench/README.md).
prfence::Status arm_fence(const Config& cfg, Rig& rig) {
    if (cfg.arm_takeover) {
        PRF_TRY(setup(rig, cfg, rig.a, {0, Act::takeover, cfg.a.key}, "arming (node A takeover)"));
        PRF_TRY(setup(rig, cfg, rig.b, {1, Act::register_ignore, cfg.b.key}, "arming (node B register)"));
    } else {
        // From whatever the previous round or backend left (fence_scsi reserves WE-RO, which a RELEASE
        // of another type cannot undo): B registers and clears, both register, A reserves.
        PRF_TRY(setup(rig, cfg, rig.b, {1, Act::register_ignore, cfg.b.key}, "arming (node B register)"));
        PRF_TRY(setup(rig, cfg, rig.b, {1, Act::clear, cfg.b.key}, "arming (node B clear)"));
        PRF_TRY(setup(rig, cfg, rig.a, {0, Act::register_ignore, cfg.a.key}, "arming (node A register)"));
        PRF_TRY(setup(rig, cfg, rig.b, {1, Act::register_ignore, cfg.b.key}, "arming (node B register)"));
        PRF_TRY(setup(rig, cfg, rig.a, {0, Act::reserve, cfg.a.key}, "arming (node A reserve)"));
    }
    if (cfg.settle_ms) std::this_thread::sleep_for(std::chrono::milliseconds(cfg.settle_ms));
    return {};
}

// One measured fence or takeover round into `r`: its batch wall (and, paced, the latency from the
// round's intended start), its commands' submission-to-completion times and each LU's time.
void record_round(Result& r, const BatchOut& b, const std::vector<engine::CommandRecord>& log, uint64_t late_ns,
                  size_t ops) {
    r.wall.push_back(b.sum.wall_ns);
    if (late_ns) r.wall_lat.push_back(late_ns);
    r.runtime_ns += b.sum.wall_ns;
    r.ops += ops;
    r.errors += b.failed;
    if (r.first_error.empty()) r.first_error = b.first_error;
    for (const auto& rec : log) {
        r.clat.push_back(rec.complete_ns - rec.submit_ns);
        if (rec.retried) ++r.retries;
    }
    for (size_t i = 0; i < b.outcomes.size(); ++i) add_lun_time(r, i, b.outcomes[i].latency_ns);
}

prfence::Status engine_fence(const Config& cfg, Rig& rig, Result& r) {
    std::vector<Step> f{{1, Act::fence, cfg.b.key, cfg.a.key}};
    PRF_TRY(compile(f, cfg));
    const uint64_t t0 = engine::now_ns();
    for (unsigned round = 0; round < cfg.warmup + cfg.rounds; ++round) {
        const uint64_t arm0 = engine::now_ns();
        PRF_TRY(arm_fence(cfg, rig));
        const uint64_t arm_ns = engine::now_ns() - arm0;
        const bool measured = round >= cfg.warmup;
        const uint64_t due = cfg.rate > 0 ? t0 + static_cast<uint64_t>(1e9 / cfg.rate * round) : 0;
        if (due) sleep_until_ns(due);
        std::vector<engine::CommandRecord> log;
        log.reserve(rig.b.size() * 4);
        PRF_TRY_ASSIGN(BatchOut b, batch(rig, rig.b, f[0].make, exec_options(cfg, r.qd, &log)));
        const uint64_t end = engine::now_ns();
        if (!measured) {
            ++r.warmup;
            continue;
        }
        r.arm.push_back(arm_ns);
        record_round(r, b, log, due ? end - due : 0, rig.b.size());
    }
    return {};
}

prfence::Status engine_pingpong(const Config& cfg, Rig& rig, Result& r) {
    std::vector<Step> t{{0, Act::takeover, cfg.a.key}, {1, Act::takeover, cfg.b.key}};
    PRF_TRY(compile(t, cfg));
    PRF_TRY(setup(rig, cfg, rig.a, {0, Act::takeover, cfg.a.key}, "preparing (node A takeover)"));
    const uint64_t t0 = engine::now_ns();
    for (unsigned round = 0; round < cfg.warmup + cfg.rounds; ++round) {
        const int node = round % 2 == 0 ? 1 : 0;  // B takes over first
        const bool measured = round >= cfg.warmup;
        const uint64_t due = cfg.rate > 0 ? t0 + static_cast<uint64_t>(1e9 / cfg.rate * round) : 0;
        if (due) sleep_until_ns(due);
        std::vector<engine::CommandRecord> log;
        log.reserve(rig.b.size() * 5);
        PRF_TRY_ASSIGN(BatchOut b, batch(rig, node ? rig.b : rig.a, t[node].make, exec_options(cfg, r.qd, &log)));
        const uint64_t end = engine::now_ns();
        if (!measured) {
            ++r.warmup;
            continue;
        }
        record_round(r, b, log, due ? end - due : 0, rig.both.size());
    }
    return {};
}

// ---------------------------------------------------------------------------------------------------
// Baselines: external processes, one per command, LU after LU.

std::string substitute(std::string w, const std::string& key, const std::string& value) {
    for (size_t p = w.find(key); p != std::string::npos; p = w.find(key, p + value.size())) w.replace(p, key.size(), value);
    return w;
}

// What a failed baseline command said last: its last non-blank line (stderr, else stdout).
std::string last_line(const SpawnResult& s) {
    std::string out = s.error.empty() ? s.output : s.error;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (auto nl = out.rfind('\n'); nl != std::string::npos) out = out.substr(nl + 1);
    return out;
}

struct Baseline {
    const Config& cfg;
    mutable std::map<std::string, std::vector<std::string>> envs;  // node + socket -> prsim-run's environment
    // fence_scsi keeps its key and device list in /var/run/cluster.{key,dev}: on prsim LUs the shim
    // redirects them here (one directory per run, removed after), so a benchmark never touches the files
    // of a real cluster node, nor races another run.
    mutable std::string state_dir;

    explicit Baseline(const Config& c) : cfg(c) {}
    Baseline(const Baseline&) = delete;
    Baseline& operator=(const Baseline&) = delete;
    ~Baseline() {
        if (!state_dir.empty()) std::filesystem::remove_all(state_dir);
    }
    const std::string& fence_scsi_dir() const {
        if (state_dir.empty()) {
            std::string tmpl = (std::filesystem::temp_directory_path() / "prbench-fence_scsi-XXXXXX").string();
            if (::mkdtemp(tmpl.data())) state_dir = tmpl;
        }
        return state_dir;
    }

    // The environment to start node `node`'s commands on LU `l` with: nullptr (ours) unless the LU is a
    // prsim LU and prsim-run is known.
    const std::vector<std::string>* env(int node, const BenchLun& l, std::string* err) const {
        const engine::PathSpec& ps = node ? l.b : l.a;
        if (cfg.prsim_run.empty() || ps.kind != engine::PathSpec::Kind::sim) return nullptr;
        const Node& nd = node ? cfg.b : cfg.a;
        const std::string k = std::to_string(node) + "\n" + ps.sim_socket;
        auto it = envs.find(k);
        if (it == envs.end()) {
            std::vector<std::string> argv{cfg.prsim_run, "--socket", ps.sim_socket, "--initiator", nd.initiator,
                                          "--target-port", std::to_string(nd.target_port)};
            if (!fence_scsi_dir().empty()) {
                argv.push_back("--redirect");
                argv.push_back("/var/run/cluster=" + fence_scsi_dir() + "/node" + std::to_string(node));
            }
            argv.push_back("--");
            argv.push_back("env");
            argv.push_back("-0");
            SpawnResult r = spawn_and_wait(argv);
            std::vector<std::string> e;
            if (r.exit_code == 0) e = parse_env0(r.output);
            const bool preload = std::any_of(e.begin(), e.end(), [](const std::string& v) { return v.rfind("LD_PRELOAD=", 0) == 0; });
            if (!preload && err && err->empty())
                *err = cfg.prsim_run + " -- env -0 set no LD_PRELOAD (exit " + std::to_string(r.exit_code) + "): " + r.output.substr(0, 200);
            it = envs.emplace(k, std::move(e)).first;
        }
        return &it->second;
    }
    // The wrapper words for node `node` and LU `l` (placeholders replaced).
    std::vector<std::string> wrap(int node, const BenchLun& l) const {
        const Node& nd = node ? cfg.b : cfg.a;
        const engine::PathSpec& ps = node ? l.b : l.a;
        std::vector<std::string> v;
        for (const auto& w : cfg.baseline_wrap) {
            std::string s = substitute(w, "{initiator}", nd.initiator);
            s = substitute(s, "{target_port}", std::to_string(nd.target_port));
            s = substitute(s, "{socket}", ps.sim_socket);
            v.push_back(std::move(s));
        }
        return v;
    }
    std::string sg_dev(int node, const BenchLun& l) const {
        const engine::PathSpec& ps = node ? l.b : l.a;
        return ps.kind == engine::PathSpec::Kind::sim ? prsim_sg_path(ps.sim_lun) : ps.sg_node;
    }
    std::string block_dev(int node, const BenchLun& l) const {
        const engine::PathSpec& ps = node ? l.b : l.a;
        return ps.kind == engine::PathSpec::Kind::sim ? prsim_sd_path(ps.sim_lun) : ps.block;
    }

    // One sg_persist command; re-sent after UNIT ATTENTION (exit 6) up to 3 times, as a careful script
    // does (fence_scsi sends TEST UNIT READY first instead). Every process is one clat sample.
    int sg_persist(const Step& s, const BenchLun& l, std::vector<uint64_t>* clat, uint64_t* retries, uint64_t* lun_ns,
                   std::string* err) const {
        std::vector<std::string> argv = wrap(s.node, l);
        argv.push_back(cfg.sg_persist);
        for (auto& a : sg_persist_args(s, cfg)) argv.push_back(std::move(a));
        argv.push_back(sg_dev(s.node, l));
        const std::vector<std::string>* e = env(s.node, l, err);
        SpawnResult r;
        for (int attempt = 0; attempt < 4; ++attempt) {
            r = spawn_and_wait(argv, e);
            if (clat) clat->push_back(r.elapsed_ns());
            if (lun_ns) *lun_ns += r.elapsed_ns();
            if (r.exit_code != 6) break;
            if (retries) ++*retries;
        }
        if (r.exit_code != 0 && err && err->empty()) {
            const std::string out = last_line(r);
            std::string cmd;
            for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
            *err = l.name + ": `" + cmd + "` exit " + std::to_string(r.exit_code) + (out.empty() ? "" : ": " + out);
        }
        return r.exit_code;
    }
};

prfence::Status baseline_op(const Config& cfg, Rig& arm, const Cycle& cyc, Result& r) {
    const size_t n = arm.both.size();
    PRF_TRY(prep_cycle(cfg, arm, cyc));  // with the engine: not what is measured
    Baseline bl{cfg};
    const uint64_t t0 = engine::now_ns();
    // Warm-up: the first LU's first --warmup cycles (the binary and its libraries into the page cache).
    for (size_t i = 0; i < n; ++i) {
        const unsigned cycles = cfg.baseline_iterations + (i == 0 ? cfg.warmup : 0);
        for (unsigned c = 0; c < cycles; ++c) {
            const bool warm = i == 0 && c < cfg.warmup;
            for (const Step& s : cyc.cycle) {
                std::vector<uint64_t> samples;
                uint64_t lun_ns = 0, retries = 0;
                int rc = bl.sg_persist(s, cfg.luns[i], &samples, &retries, &lun_ns, &r.first_error);
                if (!s.measured) continue;
                if (warm) {
                    ++r.warmup;
                    continue;
                }
                ++r.ops;
                r.retries += retries;
                if (rc != 0) ++r.errors;
                for (uint64_t v : samples) {
                    r.clat.push_back(v);
                    add_lun_time(r, i, v);
                }
            }
        }
    }
    r.runtime_ns = engine::now_ns() - t0;  // includes the unmeasured steps of each cycle
    r.note = "one sg_persist process per command (" + std::to_string(cyc.cycle.size()) +
             " per cycle, LU after LU); runtime includes the cycle's other commands";
    return {};
}

// One baseline round: every LU's steps as sg_persist processes, LU after LU (a step that fails ends its
// LU), timed as a whole into r.wall and per process into r.clat.
void baseline_round(Baseline& bl, const Config& cfg, const std::vector<Step>& steps, size_t n, Result& r) {
    const uint64_t t0 = engine::now_ns();
    for (size_t i = 0; i < n; ++i) {
        uint64_t lun_ns = 0, retries = 0;
        bool bad = false;
        for (const Step& s : steps)
            if (bl.sg_persist(s, cfg.luns[i], &r.clat, &retries, &lun_ns, &r.first_error) != 0) {
                bad = true;
                break;
            }
        r.errors += bad;
        r.retries += retries;
        add_lun_time(r, i, lun_ns);
    }
    const uint64_t wall = engine::now_ns() - t0;
    r.wall.push_back(wall);
    r.runtime_ns += wall;
    r.ops += n;
}

prfence::Status baseline_fence(const Config& cfg, Rig& arm, Result& r) {
    Baseline bl{cfg};
    const size_t n = arm.both.size();
    const std::vector<Step> steps{{1, Act::read_keys},
                                  {1, Act::preempt_abort, cfg.b.key, cfg.a.key},
                                  {1, Act::read_reservation}};
    for (unsigned round = 0; round < cfg.baseline_rounds; ++round) {
        PRF_TRY(arm_fence(cfg, arm));
        baseline_round(bl, cfg, steps, n, r);
    }
    r.note = "3 sg_persist processes per LU (READ KEYS, PREEMPT AND ABORT, READ RESERVATION), LU after LU";
    return {};
}

prfence::Status baseline_pingpong(const Config& cfg, Rig& arm, Result& r) {
    Baseline bl{cfg};
    const size_t n = arm.both.size();
    PRF_TRY(setup(arm, cfg, arm.a, {0, Act::takeover, cfg.a.key}, "preparing (node A takeover)"));
    for (unsigned round = 0; round < cfg.baseline_rounds; ++round) {
        const int node = round % 2 == 0 ? 1 : 0;
        const uint64_t mine = node ? cfg.b.key : cfg.a.key, other = node ? cfg.a.key : cfg.b.key;
        const std::vector<Step> steps{{node, Act::register_ignore, mine},
                                      {node, Act::read_reservation},
                                      {node, Act::preempt_abort, mine, other},
                                      {node, Act::read_reservation}};
        baseline_round(bl, cfg, steps, n, r);
    }
    r.note = "4 sg_persist processes per LU (REGISTER AND IGNORE, READ RESERVATION, PREEMPT AND ABORT, READ RESERVATION)";
    return {};
}

prfence::Status baseline_fence_scsi(const Config& cfg, Rig& arm, Result& r) {
    Baseline bl{cfg};
    const size_t n = arm.both.size();
    std::string devs;
    for (size_t i = 0; i < n; ++i) {
        const std::string d = bl.block_dev(1, cfg.luns[i]);
        if (d.empty()) {
            r.skipped = true;
            r.note = "fence_scsi needs block devices (sd nodes); " + cfg.luns[i].name + " has none";
            return {};
        }
        devs += (devs.empty() ? "" : ",") + d;
    }
    auto run_fs = [&](const std::string& action, uint64_t key) {
        std::vector<std::string> argv = bl.wrap(1, cfg.luns[0]);
        argv.push_back(cfg.fence_scsi);
        argv.push_back("--action=" + action);
        argv.push_back("--key=" + hx(key));
        argv.push_back("--devices=" + devs);
        return spawn_and_wait(argv, bl.env(1, cfg.luns[0], &r.first_error));
    };
    // Without the shim (real LUNs) fence_scsi writes this host's own /var/run/cluster.{key,dev}: never
    // on a host that has them already (a cluster node's fencing state), and removed again after.
    const bool real = !bl.env(1, cfg.luns[0], nullptr);
    if (real) {
        for (const char* f : {"/var/run/cluster.key", "/var/run/cluster.dev"})
            if (std::filesystem::exists(f)) {
                r.skipped = true;
                r.note = std::string("fence_scsi would overwrite this host's ") + f + " (a cluster node's fencing state)";
                return {};
            }
    }
    struct Cleanup {
        bool on;
        ~Cleanup() {
            if (!on) return;
            std::error_code ec;
            std::filesystem::remove("/var/run/cluster.key", ec);
            std::filesystem::remove("/var/run/cluster.dev", ec);
        }
    } cleanup{real};
    // Node B unfences itself once: registers and stores its key where fence_scsi -o off reads it
    // (/var/run/cluster.key), as on a cluster node.
    PRF_TRY(arm_fence(cfg, arm));
    SpawnResult on = run_fs("on", cfg.b.key);
    if (on.exit_code != 0) {
        r.skipped = true;
        r.note = "fence_scsi --action=on failed (exit " + std::to_string(on.exit_code) + "): " + last_line(on);
        return {};
    }
    std::vector<Step> check{{1, Act::read_reservation}};
    PRF_TRY(compile(check, cfg));
    for (unsigned round = 0; round < cfg.baseline_rounds; ++round) {
        PRF_TRY(arm_fence(cfg, arm));
        SpawnResult off = run_fs("off", cfg.a.key);
        r.wall.push_back(off.elapsed_ns());
        r.runtime_ns += off.elapsed_ns();
        r.ops += n;
        if (off.exit_code != 0) {
            r.errors += n;
            if (r.first_error.empty())
                r.first_error = "fence_scsi --action=off exit " + std::to_string(off.exit_code) + ": " + last_line(off);
            continue;
        }
        // Verify as prfence does: node B holds every LU now.
        PRF_TRY_ASSIGN(BatchOut b, batch(arm, arm.b, check[0].make, exec_options(cfg, 1024, nullptr)));
        for (const auto& o : b.outcomes)
            if (!o.ok || !o.reservation || !o.reservation->reserved || o.reservation->key != cfg.b.key) {
                ++r.errors;
                if (r.first_error.empty()) r.first_error = o.device + ": node B does not hold the reservation after fence_scsi";
            }
    }
    r.note = "one fence_scsi --action=off process for all LUs (it runs sg_turs and sg_persist per device); per-command times not visible";
    return {};
}

bool devices_are_sim(const Config& cfg, size_t n) {
    return std::any_of(cfg.luns.begin(), cfg.luns.begin() + static_cast<long>(n),
                       [](const BenchLun& l) { return l.a.kind == engine::PathSpec::Kind::sim; });
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

prfence::Result<std::vector<Result>> run(const Config& cfg) {
    std::vector<Result> out;
    if (cfg.luns.empty()) return fail(Errc::invalid_argument, "no LUs to measure");
    auto say = [&](const std::string& s) {
        if (cfg.progress) cfg.progress(s);
    };
    const bool have_b_all = std::all_of(cfg.luns.begin(), cfg.luns.end(), [](const BenchLun& l) { return l.has_b; });

    for (Workload w : cfg.workloads) {
        const std::vector<std::string> ops =
            w == Workload::op ? cfg.ops : std::vector<std::string>{w == Workload::fence ? "fence" : "takeover"};
        for (const std::string& op : ops) {
            for (size_t n0 : cfg.ns) {
                const size_t n = n0 == 0 ? cfg.luns.size() : std::min(n0, cfg.luns.size());
                for (Backend be : cfg.backends) {
                    // Concurrency: engine backends sweep it; serial and the baselines run one at a time.
                    std::vector<unsigned> qds;
                    if (be == Backend::uring || be == Backend::sgio) {
                        for (unsigned q : cfg.qds) {
                            unsigned v = q == 0 ? static_cast<unsigned>(n) : std::min<unsigned>(q, static_cast<unsigned>(n));
                            if (std::find(qds.begin(), qds.end(), v) == qds.end()) qds.push_back(v);
                        }
                    } else {
                        qds = {1};
                    }
                    for (unsigned qd : qds) {
                        Result r = new_result(cfg, w, op, be, n, qd);
                        auto skip = [&](std::string why) {
                            r.skipped = true;
                            r.note = std::move(why);
                            say(std::string("  skipped: ") + r.note);
                            out.push_back(std::move(r));
                        };
                        say(std::string(workload_name(w)) + (w == Workload::op ? " " + op : std::string()) + " backend=" +
                            backend_name(be) + " luns=" + std::to_string(n) + " qd=" + std::to_string(qd) +
                            (cfg.rate > 0 && is_engine_backend(be) ? " rate=" + std::to_string(cfg.rate) + "/s" : ""));
                        const bool sim = devices_are_sim(cfg, n);
                        if ((w != Workload::op) && !have_b_all) {
                            skip("needs node B (--node-b DEVICES, or prsim LUNs)");
                            continue;
                        }
                        if (be == Backend::sgio && sim) {
                            skip("the SG_IO pool drives sg devices; prsim LUNs go over io_uring only");
                            continue;
                        }
                        if (be == Backend::fence_scsi && w != Workload::fence) {
                            skip("fence_scsi only fences (workload fence)");
                            continue;
                        }
                        if (be == Backend::fence_scsi && find_executable(cfg.fence_scsi).empty()) {
                            skip(cfg.fence_scsi + " is not installed (Debian: apt-get install fence-agents)");
                            continue;
                        }
                        if ((be == Backend::sg_persist || be == Backend::fence_scsi) && sim && cfg.baseline_wrap.empty() &&
                            cfg.prsim_run.empty()) {
                            skip("baselines on prsim LUNs need the prsim-run shim (--prsim-run PATH or --baseline-wrap)");
                            continue;
                        }
                        if (be == Backend::sg_persist && find_executable(cfg.sg_persist).empty()) {
                            skip(cfg.sg_persist + " is not installed (Debian: apt-get install sg3-utils)");
                            continue;
                        }
                        Cycle cyc;
                        if (w == Workload::op) {
                            PRF_TRY_ASSIGN(cyc, op_cycle(op, cfg, have_b_all));
                            if (cyc.needs_b && !have_b_all) {
                                skip(op + " needs node B (--node-b DEVICES, or prsim LUNs)");
                                continue;
                            }
                        }
                        auto rig = open_rig(cfg, n, be == Backend::sgio);
                        if (!rig) return fail(Errc::io, "opening the LUs: " + rig.error().msg);
                        prfence::Status st;
                        switch (be) {
                            case Backend::uring:
                            case Backend::sgio:
                            case Backend::serial:
                                st = w == Workload::op      ? engine_op(cfg, **rig, cyc, r)
                                     : w == Workload::fence ? engine_fence(cfg, **rig, r)
                                                            : engine_pingpong(cfg, **rig, r);
                                break;
                            case Backend::sg_persist:
                                st = w == Workload::op      ? baseline_op(cfg, **rig, cyc, r)
                                     : w == Workload::fence ? baseline_fence(cfg, **rig, r)
                                                            : baseline_pingpong(cfg, **rig, r);
                                break;
                            case Backend::fence_scsi: st = baseline_fence_scsi(cfg, **rig, r); break;
                        }
                        if (!st) {
                            r.errors += 1;
                            r.first_error = st.error().msg;
                            say("  failed: " + st.error().msg);
                        } else if (r.errors) {
                            say("  " + std::to_string(r.errors) + " errors; first: " + r.first_error);
                        }
                        out.push_back(std::move(r));
                    }
                }
            }
        }
    }
    return out;
}

}  // namespace prbench
