// SPDX-License-Identifier: MIT
#include "nl_control/daemon/worker.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/devices/resolve.h"
#include "uring_engine/policy/operations.h"
#include "uring_engine/session/multipath_keys.h"
#include "uring_engine/simproto/names.h"
#include "uring_engine/transport/transport.h"

namespace prfence::daemon {
namespace {

// GROUP_INFO must fit one message (kMaxPart): a farm whose 1000 LUNs all fail to open lists the
// first few and a count, not 1000 lines.
constexpr size_t kMaxProblems = 16;

// How long a finished LUN's result may wait in a part that is not full before it is sent anyway.
constexpr uint64_t kStreamHoldNs = 500'000;

uint64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void add_problem(std::vector<std::string>& problems, size_t& hidden, std::string text) {
    if (problems.size() < kMaxProblems)
        problems.push_back(std::move(text));
    else
        ++hidden;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        if (nl > pos) out.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

// The answer to `job`, addressed to whoever asked.
Completion answer_for(const Job& job) {
    Completion c;
    c.kind = job.kind;
    c.client = job.client;
    c.hdr = job.req.hdr;
    c.received_ns = job.received_ns;
    return c;
}

Completion error(const Job& job, int err, std::string msg) {
    Completion c = answer_for(job);
    c.err = err;
    c.err_msg = std::move(msg);
    return c;
}

// A change took effect but was not saved: it would not come back after a restart. Say so plainly in
// the answer (the group info is dropped: an error answer carries only the text).
void note_unsaved(Completion& c, const Status& saved, const std::string& group, const char* what) {
    if (saved) return;
    c.group.reset();
    c.err = errno_of(saved.error());
    c.err_msg = "group \"" + group + "\" " + what +
                ", but the configuration was not saved: " + saved.error().msg;
}

GroupConfig group_config(const nl::Request& req) {
    GroupConfig g;
    g.name = req.group;
    g.devices = req.devices;
    g.initiator = req.initiator;
    g.target_port = req.target_port;
    g.sg_transport = req.sg_transport.value_or(nl::SG_TRANSPORT_URING);
    g.key = req.op.key;
    g.hostnqn = req.hostnqn;
    g.hostid = req.hostid;
    return g;
}

std::string no_group(const std::string& name) {
    return "no group \"" + name + "\" (GROUP_LIST shows the groups)";
}

}  // namespace

int errno_of(const Error& e) { return error_errno(e); }

EngineWorker::EngineWorker(Options opt) : opt_(std::move(opt)) {}

EngineWorker::~EngineWorker() {
    shutdown();
    if (thread_.joinable()) thread_.join();
}

void EngineWorker::start() {
    thread_ = std::thread([this] { loop(); });
}

void EngineWorker::submit(Job job) {
    {
        std::lock_guard lk(mu_);
        if (!stopping_) {
            jobs_.push_back(std::move(job));
            cv_.notify_one();
            return;
        }
    }
    post(error(job, ECANCELED, "prfenced is shutting down; the request was not started"));
}

void EngineWorker::shutdown() {
    std::lock_guard lk(mu_);
    stopping_ = true;
    cv_.notify_one();
}

std::deque<Completion> EngineWorker::take_completions() {
    std::lock_guard lk(mu_);
    return std::exchange(done_, {});
}

std::vector<nl::GroupInfo> EngineWorker::groups() const {
    std::lock_guard lk(mu_);
    return snapshot_;
}

size_t EngineWorker::queued() const {
    std::lock_guard lk(mu_);
    return jobs_.size();
}

void EngineWorker::post(Completion c) {
    {
        std::lock_guard lk(mu_);
        done_.push_back(std::move(c));
    }
    if (opt_.wake) opt_.wake();
}

void EngineWorker::loop() {
    for (;;) {
        Job job;
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
            if (stopping_) break;
            job = std::move(jobs_.front());
            jobs_.pop_front();
            busy_.store(true, std::memory_order_relaxed);
        }
        Completion c = execute(job);
        busy_.store(false, std::memory_order_relaxed);
        post(std::move(c));
        spent_.clear();
    }
    // Jobs still queued never started: each asker hears so rather than waiting for a socket close.
    std::deque<Job> left;
    {
        std::lock_guard lk(mu_);
        left.swap(jobs_);
    }
    for (auto& j : left)
        post(error(j, ECANCELED, "prfenced is shutting down; the request was not started"));
    groups_.clear();  // sessions close their paths on this thread, before the daemon exits
    Completion last;
    last.exited = true;
    post(std::move(last));
}

Completion EngineWorker::execute(Job& job) {
    switch (job.kind) {
        case Job::Kind::create:
            return do_create(job);
        case Job::Kind::add:
        case Job::Kind::remove:
            return do_change(job);
        case Job::Kind::del:
            return do_delete(job);
        case Job::Kind::refresh:
            return do_refresh(job);
        case Job::Kind::run:
            return do_run(job);
        case Job::Kind::apply:
            return do_apply(job);
    }
    return error(job, EINVAL, "unknown job");
}

nl::GroupInfo EngineWorker::info(const Group& g) {
    nl::GroupInfo i;
    i.name = g.cfg.name;
    i.devices = g.cfg.devices;
    i.initiator = g.cfg.initiator;
    i.target_port = g.cfg.target_port;
    i.sg_transport = g.cfg.sg_transport;
    i.key = g.cfg.key;
    i.hostnqn = g.cfg.hostnqn;
    i.hostid = g.cfg.hostid;
    if (g.session) {
        i.luns = static_cast<uint32_t>(g.session->luns().size());
        for (const auto& l : g.session->luns())
            i.paths_open += static_cast<uint32_t>(l.target.paths.size());
    }
    i.problems = g.problems;
    return i;
}

nl::Event EngineWorker::group_event(const std::string& name, const std::string& text) {
    nl::Event ev;
    ev.kind = nl::EVENT_GROUP;
    ev.time_ns = realtime_ns();
    ev.group = name;
    ev.text = text;
    return ev;
}

void EngineWorker::publish() {
    std::vector<nl::GroupInfo> snap;
    snap.reserve(groups_.size());
    // In configuration order, which is creation order: what an operator expects GROUP_LIST to show.
    for (const auto& gc : config_.groups)
        if (auto it = groups_.find(gc.name); it != groups_.end()) snap.push_back(info(*it->second));
    std::lock_guard lk(mu_);
    snapshot_ = std::move(snap);
}

Status EngineWorker::persist() {
    if (opt_.config_path.empty()) return {};
    return save_config(config_, opt_.config_path);
}

std::unique_ptr<EngineWorker::Group> EngineWorker::open_group(const GroupConfig& cfg, Error* err) {
    auto g = std::make_unique<Group>();
    g->cfg = cfg;
    auto specs = engine::resolve_devices(cfg.devices);
    if (!specs) {
        if (err) *err = specs.error();
        size_t hidden = 0;
        for (auto& l : lines(specs.error().msg)) add_problem(g->problems, hidden, std::move(l));
        if (hidden) g->problems.push_back("... and " + std::to_string(hidden) + " more");
        return g;
    }
    engine::SessionOptions so;
    so.initiator = cfg.initiator;
    so.hostnqn = cfg.hostnqn;
    if (cfg.hostid) so.hostid = shim::uuid_text(*cfg.hostid);
    so.target_port = cfg.target_port.value_or(1);
    so.sg_transport = cfg.sg_transport == nl::SG_TRANSPORT_SGIO
                          ? engine::SessionOptions::SgTransport::sgio
                          : engine::SessionOptions::SgTransport::uring;
    so.exec.cancel = opt_.cancel;
    g->specs = *specs;
    auto session = engine::Session::open(*specs, so);
    if (!session) {
        if (err) *err = session.error();
        g->problems.push_back(session.error().msg);
        return g;
    }
    g->session = std::move(session).value();
    size_t hidden = 0;
    for (const auto& l : g->session->luns())
        if (!l.open_error.empty()) add_problem(g->problems, hidden, l.name + ": " + l.open_error);
    if (hidden)
        g->problems.push_back("... and " + std::to_string(hidden) + " more LUNs with open errors");
    read_pr_state(*g);
    return g;
}

Result<engine::Session::Report> EngineWorker::run_on(Group& g, const engine::OpSpec& asked,
                                                     const nl::Request* req,
                                                     const engine::BatchHooks& hooks) {
    engine::OpSpec spec = asked;
    if (!spec.key) spec.key = g.cfg.key;  // the group's own key, when the request names none
    auto maker = engine::make_operation(spec);
    if (!maker) {
        Error e = std::move(maker).error();
        if (!spec.key && e.msg.find("--key") != std::string::npos)
            e.msg += " (group \"" + g.cfg.name +
                     "\" has no key of its own: give one, or create the group with a key)";
        return fail(std::move(e));
    }
    // A request's own deadline, queue depth and command timeout apply to its batch only; the next
    // batch starts from the defaults again. The engine-side command deadline leaves the transport's
    // timeout 5 s to fire first, as direct mode does.
    engine::ExecOptions ex;
    ex.cancel = opt_.cancel;
    ex.command_deadline = std::chrono::milliseconds(static_cast<int64_t>(spec.timeout_ms) + 5000);
    if (req && req->deadline_ms) ex.batch_deadline = std::chrono::milliseconds(*req->deadline_ms);
    if (req && req->qd) ex.max_inflight = *req->qd;
    g.session->executor().set_options(ex);
    const engine::JobMaker& make = *maker;
    return g.session->run([&](size_t) { return make(); }, hooks);
}

void EngineWorker::read_pr_state(Group& g) {
    // The devices, not our memory, say who is registered and who holds the reservation: another
    // node may have fenced us (or cleared everything) while the daemon was down.
    g.keys.clear();
    g.reservation.clear();
    g.keys_summary = {};
    if (!g.session) return;
    auto note = [&](const char* what, const Result<engine::Session::Report>& rep) {
        if (!rep) {
            g.problems.push_back(std::string(what) + ": " + rep.error().msg);
            return;
        }
        size_t failed = 0;
        const engine::LunOutcome* first = nullptr;
        for (const auto& o : rep->outcomes)
            if (!o.ok && !o.error.empty() && o.step != "open") {
                ++failed;
                if (!first) first = &o;
            }
        if (failed)
            g.problems.push_back(std::string(what) + " failed on " + std::to_string(failed) +
                                 " of " + std::to_string(rep->outcomes.size()) +
                                 " LUNs (first: " + first->device + ": " + first->error + ")");
    };
    engine::OpSpec keys;
    keys.op = engine::Operation::read_keys;
    auto k = run_on(g, keys, nullptr);
    note("READ KEYS", k);
    if (k) {
        g.keys = std::move(k->outcomes);
        g.keys_summary = k->summary;
    }
    engine::OpSpec res;
    res.op = engine::Operation::read_reservation;
    auto r = run_on(g, res, nullptr);
    note("READ RESERVATION", r);
    if (r) g.reservation = std::move(r->outcomes);
}

Completion EngineWorker::do_create(Job& job) {
    const auto& req = job.req;
    if (groups_.count(req.group))
        return error(job, EEXIST, "group \"" + req.group + "\" exists (GROUP_ADD adds devices)");
    if (req.devices.empty())
        return error(job, EINVAL, "GROUP_CREATE needs at least one ATTR_DEVICE");
    if (req.op.key && *req.op.key == 0)
        return error(job, EINVAL,
                     "ATTR_KEY 0 is not a reservation key (registering 0 unregisters)");
    GroupConfig cfg = group_config(req);
    // The protocol's policy already holds the NQN to printable ASCII within 223 bytes; this is the
    // engine's own rule, so that a group never holds a host its namespaces would refuse to open.
    if (auto st = check_hostnqn(cfg.hostnqn); !st)
        return error(job, EINVAL, "group \"" + cfg.name + "\": " + st.error().msg);
    Error err;
    err.msg.clear();
    auto g = open_group(cfg, &err);
    if (!g->session) {
        const int e = err.msg.empty() ? EIO : errno_of(err);
        return error(job, e,
                     "group \"" + cfg.name +
                         "\": " + (err.msg.empty() ? std::string("cannot open") : err.msg));
    }
    Completion c = answer_for(job);
    c.group = info(*g);
    groups_[cfg.name] = std::move(g);
    config_.groups.push_back(cfg);
    publish();
    c.events.push_back(group_event(cfg.name, "created"));
    note_unsaved(c, persist(), cfg.name, "created");
    return c;
}

Completion EngineWorker::do_change(Job& job) {
    const auto& req = job.req;
    auto it = groups_.find(req.group);
    if (it == groups_.end()) return error(job, ENOENT, no_group(req.group));
    if (req.devices.empty()) return error(job, EINVAL, "at least one ATTR_DEVICE is required");
    Group& old = *it->second;
    GroupConfig cfg = old.cfg;
    if (job.kind == Job::Kind::add) {
        for (const auto& d : req.devices)
            if (std::find(cfg.devices.begin(), cfg.devices.end(), d) == cfg.devices.end())
                cfg.devices.push_back(d);
    } else {
        for (const auto& d : req.devices) {
            auto pos = std::find(cfg.devices.begin(), cfg.devices.end(), d);
            if (pos == cfg.devices.end())
                return error(job, ENOENT,
                             "\"" + d + "\" is not one of group \"" + req.group +
                                 "\"'s device arguments (remove them as they were added)");
            cfg.devices.erase(pos);
        }
        if (cfg.devices.empty())
            return error(job, EINVAL,
                         "removing these would leave group \"" + req.group +
                             "\" empty (GROUP_DELETE deletes it)");
    }
    // The new set is opened beside the old one; only when it resolves does it replace it, so a typo
    // in GROUP_ADD never costs the group its open paths.
    Error err;
    auto g = open_group(cfg, &err);
    if (!g->session)
        return error(job, err.msg.empty() ? EIO : errno_of(err),
                     "group \"" + cfg.name + "\" unchanged: " +
                         (err.msg.empty() ? std::string("cannot open") : err.msg));
    Completion c = answer_for(job);
    c.group = info(*g);
    it->second = std::move(g);
    for (auto& gc : config_.groups)
        if (gc.name == cfg.name) gc = cfg;
    publish();
    c.events.push_back(
        group_event(cfg.name, job.kind == Job::Kind::add ? "devices added" : "devices removed"));
    note_unsaved(c, persist(), cfg.name, "changed");
    return c;
}

Completion EngineWorker::do_delete(Job& job) {
    const auto& name = job.req.group;
    auto it = groups_.find(name);
    if (it == groups_.end()) return error(job, ENOENT, no_group(name));
    groups_.erase(it);
    std::erase_if(config_.groups, [&](const GroupConfig& g) { return g.name == name; });
    publish();
    Completion c = answer_for(job);
    c.events.push_back(group_event(name, "deleted"));
    note_unsaved(c, persist(), name, "deleted");
    return c;
}

Completion EngineWorker::do_refresh(Job& job) {
    const auto& name = job.req.group;
    auto it = groups_.find(name);
    if (it == groups_.end()) return error(job, ENOENT, no_group(name));
    const uint64_t start = engine::now_ns();
    const GroupConfig cfg = it->second->cfg;
    // Reopened from scratch: a path that came back (or a LUN added behind a glob) is picked up. The
    // old paths close first so that a device never sees both sessions.
    it->second.reset();
    Error err;
    it->second = open_group(cfg, &err);
    publish();
    Group& g = *it->second;
    if (!g.session)
        return error(
            job, err.msg.empty() ? EIO : errno_of(err),
            "group \"" + name + "\": " + (err.msg.empty() ? std::string("cannot open") : err.msg));
    Completion c = answer_for(job);
    nl::Summary s;
    s.batch = g.keys_summary;
    s.queued_ns = start > job.received_ns ? start - job.received_ns : 0;
    s.operation = engine::Operation::read_keys;
    s.group = name;
    c.parts = nl::encode_run_answer(job.req.hdr, g.keys, s);
    c.summary = std::move(s);
    c.events.push_back(group_event(name, "refreshed"));
    return c;
}

Completion EngineWorker::do_run(Job& job) {
    const auto& req = job.req;
    auto it = groups_.find(req.group);
    if (it == groups_.end()) return error(job, ENOENT, no_group(req.group));
    Group& g = *it->second;
    if (!req.has_operation) return error(job, EINVAL, "CMD_RUN needs ATTR_OPERATION");
    if (!g.session)
        return error(job, EIO,
                     "group \"" + req.group + "\" is not open: " +
                         (g.problems.empty() ? std::string("unknown reason") : g.problems.front()) +
                         " (GROUP_REFRESH retries)");
    const uint64_t start = engine::now_ns();
    // LUN results go to the control thread while the batch runs: a part as soon as it is full, and
    // whatever is pending once the oldest of it has waited kStreamHoldNs (so a slow LUN does not
    // hold back the fast ones' results, and 1000 results do not cost 1000 wakeups).
    std::vector<Bytes> ready;
    nl::RunAnswerWriter w(req.hdr, [&ready](Bytes&& part) { ready.push_back(std::move(part)); });
    uint64_t held_since = 0;
    auto hand_over = [&] {
        Completion part = answer_for(job);
        part.partial = true;
        part.parts = std::exchange(ready, {});
        post(std::move(part));
    };
    engine::BatchHooks hooks;
    hooks.finished = [&](uint32_t i, const engine::LunOutcome& o) {
        w.add(i, o);
        if (w.pending() == 1) held_since = engine::now_ns();  // a new part began with this LUN
        if (!ready.empty()) hand_over();
    };
    hooks.idle = [&](uint64_t now) -> uint64_t {
        if (w.pending() == 0) return 0;
        if (now - held_since < kStreamHoldNs) return held_since + kStreamHoldNs;
        w.flush();
        hand_over();
        return 0;
    };
    auto rep = run_on(g, req.op, &req, hooks);
    if (!rep) return error(job, errno_of(rep.error()), rep.error().msg);
    Completion c = answer_for(job);
    // Registrations on multipath maps survive a path's return only if multipathd knows our key,
    // as in direct mode (session/multipath_keys.h); a map it was not told about is an event.
    engine::OpSpec ran = req.op;
    if (!ran.key) ran.key = g.cfg.key;
    if (auto key = engine::key_left_registered(ran))
        for (const auto& r : engine::tell_multipathd(g.specs, rep->outcomes, *key, ran.aptpl))
            if (!r.told)
                c.events.push_back(group_event(req.group, "multipathd: " + r.map + ": " + r.error));
    nl::Summary s;
    s.batch = rep->summary;
    s.queued_ns = start > job.received_ns ? start - job.received_ns : 0;
    s.operation = req.op.op;
    s.group = req.group;
    w.finish(s);
    c.parts = std::move(ready);
    c.summary = std::move(s);
    // What a run learns about PR state is the state now: READ KEYS / RESERVATION answers are kept.
    std::vector<engine::LunOutcome>* keep = nullptr;
    if (req.op.op == engine::Operation::read_keys) {
        keep = &g.keys;
        g.keys_summary = c.summary->batch;
    } else if (req.op.op == engine::Operation::read_reservation) {
        keep = &g.reservation;
    }
    if (keep) std::swap(*keep, rep->outcomes);
    spent_ = std::move(rep->outcomes);  // this run's outcomes, or the state they replace
    return c;
}

Completion EngineWorker::do_apply(Job& job) {
    Completion c = answer_for(job);
    std::set<std::string> wanted;
    for (const auto& gc : job.config.groups) wanted.insert(gc.name);
    for (auto it = groups_.begin(); it != groups_.end();) {
        if (!wanted.count(it->first)) {
            c.events.push_back(group_event(it->first, "deleted by reload"));
            it = groups_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& gc : job.config.groups) {
        auto it = groups_.find(gc.name);
        if (it != groups_.end() && it->second->cfg == gc) {
            // Unchanged: its paths stay open, but its PR state is read again (SIGHUP is "look
            // again").
            it->second->problems.erase(
                std::remove_if(it->second->problems.begin(), it->second->problems.end(),
                               [](const std::string& p) {
                                   return p.rfind("READ KEYS", 0) == 0 ||
                                          p.rfind("READ RESERVATION", 0) == 0;
                               }),
                it->second->problems.end());
            read_pr_state(*it->second);
            continue;
        }
        const bool existed = it != groups_.end();
        if (existed) it->second.reset();  // its paths close before the new ones open
        auto g = open_group(gc, nullptr);
        if (!g->session || !g->problems.empty())
            for (const auto& p : g->problems) c.notes.push_back("group \"" + gc.name + "\": " + p);
        groups_[gc.name] = std::move(g);
        c.events.push_back(
            group_event(gc.name, existed ? "reopened by reload" : "opened from the configuration"));
    }
    config_ = job.config;
    publish();
    return c;
}

}  // namespace prfence::daemon
