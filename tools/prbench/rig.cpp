// SPDX-License-Identifier: MIT
#include "tools/prbench/rig.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace prfence::bench {

Result<sim::proto::NvmeHost> sim_host_of(const Node& n) {
    return engine::sim_nvme_host(n.initiator, "", "");
}

namespace {

// The nexus node `node` opens path `ps` as: a prsim namespace needs the node's NVMe host.
Result<engine::Nexus> nexus_for(const engine::PathSpec& ps, const Node& node) {
    engine::Nexus nx{node.initiator, node.target_port, std::nullopt};
    if (ps.kind == engine::PathSpec::Kind::sim && ps.nsid != 0) {
        PRF_TRY_ASSIGN(nx.nvme_host, sim_host_of(node));
    }
    return nx;
}

}  // namespace

bool any_nvme(const Config& cfg, size_t n) {
    for (size_t i = 0; i < n && i < cfg.luns.size(); ++i) {
        const BenchLun& l = cfg.luns[i];
        if (l.a.kind == engine::PathSpec::Kind::nvme || l.b.kind == engine::PathSpec::Kind::nvme)
            return true;
        for (const auto& p : l.b_paths)
            if (p.kind == engine::PathSpec::Kind::nvme) return true;
    }
    return false;
}

Result<std::unique_ptr<Rig>> open_rig(const Config& cfg, size_t n, engine::SgTransport sg) {
    engine::PathSetOptions po;
    po.sg_transport = sg;
    po.sgio_threads = cfg.sgio_threads;
    po.nvme = any_nvme(cfg, n);
    auto rig = std::make_unique<Rig>();
    PRF_TRY_ASSIGN(rig->paths, engine::PathSet::create(po));
    rig->has_b = n > 0 && std::all_of(cfg.luns.begin(), cfg.luns.begin() + static_cast<long>(n),
                                      [](const BenchLun& l) { return l.has_b; });
    auto open_path = [&](const engine::PathSpec& ps, const Node& node) -> Result<engine::Path*> {
        if (ps.kind == engine::PathSpec::Kind::sim && sg == engine::SgTransport::sgio)
            return fail(Errc::unsupported, "the SG_IO pool drives sg devices, not prsim LUNs");
        PRF_TRY_ASSIGN(engine::Nexus nx, nexus_for(ps, node));
        return rig->paths->open(ps, nx);
    };
    for (size_t i = 0; i < n; ++i) {
        const BenchLun& l = cfg.luns[i];
        PRF_TRY_ASSIGN(engine::Path * pa, open_path(l.a, cfg.a));
        engine::Path* pb = nullptr;
        if (rig->has_b) {
            PRF_TRY_ASSIGN(pb, open_path(l.b, cfg.b));
        }
        rig->both.push_back(
            {l.name, pb ? std::vector<engine::Path*>{pa, pb} : std::vector<engine::Path*>{pa}});
        rig->views.push_back({l.name, {pa}});
        rig->views.push_back({l.name, {pb ? pb : pa}});
        rig->a.push_back({l.name, {pa}});
        if (pb) rig->b.push_back({l.name, {pb}});
    }
    return rig;
}

engine::ExecOptions exec_options(const Config& cfg, unsigned qd,
                                 std::vector<engine::CommandRecord>* log) {
    engine::ExecOptions o;
    o.max_inflight = qd;
    o.batch_deadline = std::chrono::hours(4);
    o.command_deadline = std::chrono::milliseconds(cfg.timeout_ms + 5000);
    o.command_log = log;
    return o;
}

Result<BatchOut> batch(Rig& rig, const std::vector<engine::LunTarget>& targets,
                       const engine::JobMaker& make, const engine::ExecOptions& o) {
    std::vector<std::unique_ptr<engine::LunJob>> jobs;
    jobs.reserve(targets.size());
    for (size_t i = 0; i < targets.size(); ++i) jobs.push_back(make());
    rig.ex().set_options(o);
    BatchOut out;
    PRF_TRY_ASSIGN(out.sum, rig.ex().run(targets, jobs));
    for (auto& j : jobs) {
        const engine::LunOutcome& oc = j->outcome();
        if (!oc.ok) {
            ++out.failed;
            if (out.first_error.empty())
                out.first_error = oc.device + ": " + oc.step + ": " + oc.error;
        }
        out.outcomes.push_back(oc);
    }
    return out;
}

Status setup(Rig& rig, const Config& cfg, const std::vector<engine::LunTarget>& targets, Step s,
             const char* what) {
    std::vector<Step> v{std::move(s)};
    PRF_TRY(compile(v, cfg));
    PRF_TRY_ASSIGN(BatchOut b, batch(rig, targets, v[0].make, exec_options(cfg, 1024, nullptr)));
    if (b.failed)
        return fail(Errc::io, std::string(what) + " failed on " + std::to_string(b.failed) +
                                  " LUs; first: " + b.first_error);
    return {};
}

std::optional<engine::LunJob::Command> CycleJob::step(const engine::LunTarget&,
                                                      const engine::ScsiResponse* last) {
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
                first_error_ =
                    std::string(s.node ? "node B " : "node A ") + o.step + ": " + o.error;
        }
        inner_.reset();
        last = nullptr;
        if (++i_ == steps_.size()) {
            i_ = 0;
            ++cycle_;
        }
    }
}

Status prep_cycle(const Config& cfg, Rig& rig, const Cycle& cyc) {
    std::vector<std::unique_ptr<engine::LunJob>> jobs;
    for (size_t i = 0; i < rig.both.size(); ++i)
        jobs.push_back(std::make_unique<CycleJob>(cyc.prep, 1, &rig.views[2 * i], nullptr, i));
    rig.ex().set_options(exec_options(cfg, 1024, nullptr));
    PRF_TRY_ASSIGN(engine::BatchSummary s, rig.ex().run(rig.both, jobs));
    if (s.failed)
        for (auto& j : jobs)
            if (!j->outcome().ok)
                return fail(Errc::io, "preparing the LUs failed: " + j->outcome().device + ": " +
                                          j->outcome().error);
    return {};
}

Status register_every_b_path(const Config& cfg, size_t n) {
    engine::PathSetOptions po;
    po.nvme = any_nvme(cfg, n);
    PRF_TRY_ASSIGN(auto ps, engine::PathSet::create(po));
    std::vector<engine::LunTarget> targets;
    for (size_t i = 0; i < n && i < cfg.luns.size(); ++i) {
        const BenchLun& l = cfg.luns[i];
        const std::vector<engine::PathSpec> one{l.b};
        for (const engine::PathSpec& p : l.b_paths.empty() ? one : l.b_paths) {
            PRF_TRY_ASSIGN(engine::Nexus nx, nexus_for(p, cfg.b));
            PRF_TRY_ASSIGN(engine::Path * path, ps->open(p, nx));
            targets.push_back({l.name, {path}});
        }
    }
    Rig r;
    r.paths = std::move(ps);
    return setup(r, cfg, targets, {1, Act::register_ignore, cfg.b.key},
                 "arming (node B register on every path)");
}

Status arm_fence(const Config& cfg, Rig& rig) {
    if (cfg.arm_takeover) {
        PRF_TRY(setup(rig, cfg, rig.a, {0, Act::takeover, cfg.a.key}, "arming (node A takeover)"));
        PRF_TRY(setup(rig, cfg, rig.b, {1, Act::register_ignore, cfg.b.key},
                      "arming (node B register)"));
    } else {
        // From whatever the previous round or backend left (fence_scsi reserves WE-RO, which a
        // RELEASE of another type cannot undo): B registers and clears, both register, A reserves.
        PRF_TRY(setup(rig, cfg, rig.b, {1, Act::register_ignore, cfg.b.key},
                      "arming (node B register)"));
        PRF_TRY(setup(rig, cfg, rig.b, {1, Act::clear, cfg.b.key}, "arming (node B clear)"));
        PRF_TRY(setup(rig, cfg, rig.a, {0, Act::register_ignore, cfg.a.key},
                      "arming (node A register)"));
        PRF_TRY(setup(rig, cfg, rig.b, {1, Act::register_ignore, cfg.b.key},
                      "arming (node B register)"));
        PRF_TRY(setup(rig, cfg, rig.a, {0, Act::reserve, cfg.a.key}, "arming (node A reserve)"));
    }
    if (cfg.settle_ms) std::this_thread::sleep_for(std::chrono::milliseconds(cfg.settle_ms));
    return {};
}

}  // namespace prfence::bench
