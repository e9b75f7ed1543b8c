// SPDX-License-Identifier: MIT
#include "uring_engine/session/session.h"

#include <set>

#include "uring_engine/devices/path_state.h"

namespace prfence::engine {
namespace {

void add_dead_paths(LunOutcome& o, const std::vector<PathOutcome>& dead) {
    if (dead.empty()) return;
    std::string why;
    for (const auto& d : dead) {
        o.paths.push_back(d);
        why += (why.empty() ? "" : "; ") + d.name + " (" + d.error + ")";
    }
    if (!o.ok) return;
    o.degraded = true;
    why = "not opened: " + why;
    o.error = o.error.empty() ? why : o.error + "; " + why;
}

}  // namespace

Result<std::unique_ptr<Session>> Session::open(const std::vector<LunSpec>& specs,
                                               const SessionOptions& opt) {
    std::unique_ptr<Session> s(new Session());
    PathSetOptions po;
    po.exec = opt.exec;
    po.sg_transport = opt.sg_transport;
    po.sgio_threads = opt.sgio_threads;
    for (const auto& spec : specs)
        for (const auto& ps : spec.paths) po.nvme = po.nvme || ps.kind == PathSpec::Kind::nvme;
    PRF_TRY_ASSIGN(s->paths_, PathSet::create(po));
    const Nexus nexus{opt.initiator, opt.target_port, std::nullopt};
    // Sockets with namespaces in the batch: their connection declares the NVMe host.
    std::set<std::string> nvme_sockets;
    for (const auto& spec : specs)
        for (const auto& ps : spec.paths)
            if (ps.kind == PathSpec::Kind::sim && ps.nsid != 0) nvme_sockets.insert(ps.sim_socket);
    Nexus nvme_nexus = nexus;
    Result<sim::proto::NvmeHost> host = fail(Errc::invalid_argument, "no NVMe host");
    if (!nvme_sockets.empty()) {
        host = sim_nvme_host(opt.initiator, opt.hostnqn, opt.hostid);
        if (host) nvme_nexus.nvme_host = *host;
    }

    for (const auto& spec : specs) {
        Lun lun;
        lun.name = spec.name;
        lun.wwid = spec.wwid;
        lun.target.name = spec.name;
        std::string errors;
        bool by_state = !spec.paths.empty();
        for (const auto& ps : spec.paths) {
            std::optional<std::string> dead;
            if (ps.kind == PathSpec::Kind::sg)
                dead = dead_device_state(scsi_device_state(ps.hctl, opt.sysfs_root));
            const bool sim = ps.kind == PathSpec::Kind::sim;
            const bool sim_ns = sim && ps.nsid != 0;
            const bool with_host = sim && nvme_sockets.count(ps.sim_socket) != 0;
            const std::string sim_name =
                !sim     ? std::string()
                : sim_ns ? "sim:" + ps.sim_socket + ":ns" + std::to_string(ps.nsid)
                         : "sim:" + ps.sim_socket + ":" + std::to_string(ps.sim_lun);
            Result<Path*> path =
                dead ? fail(Errc::io, ps.sg_node + ": " + *dead)
                : sim && !sim_ns && opt.initiator.empty()
                    ? fail(Errc::invalid_argument,
                           "sim LUNs need --initiator (the TransportID to speak as)")
                : sim_ns && !host ? fail(Errc::invalid_argument, sim_name + ": " + host.error().msg)
                                  : s->paths_->open(ps, with_host ? nvme_nexus : nexus);
            if (path.ok()) {
                lun.target.paths.push_back(*path);
            } else {
                if (!errors.empty()) errors += "; ";
                errors += path.error().msg;
                by_state = by_state && dead.has_value();
                lun.dead.push_back({sim                               ? sim_name
                                    : ps.kind == PathSpec::Kind::nvme ? ps.ng_node
                                                                      : ps.sg_node,
                                    PathOutcome::State::dead,
                                    dead ? *dead : "open: " + path.error().msg});
            }
        }
        lun.dead_by_state = by_state && !lun.dead.empty();
        lun.open_error = std::move(errors);
        s->luns_.push_back(std::move(lun));
    }
    for (size_t i = 0; i < s->luns_.size(); ++i) {
        if (s->luns_[i].target.paths.empty()) continue;
        s->targets_.push_back(s->luns_[i].target);
        s->opened_.push_back(i);
    }
    return s;
}

Result<Session::Report> Session::run(const std::function<std::unique_ptr<LunJob>(size_t)>& make,
                                     const BatchHooks& hooks) {
    Report rep;
    std::vector<std::unique_ptr<LunJob>> jobs;
    jobs.reserve(opened_.size());
    rep.outcomes.resize(luns_.size());
    for (size_t i = 0; i < luns_.size(); ++i) {
        if (!luns_[i].target.paths.empty()) continue;
        LunOutcome& o = rep.outcomes[i];
        o.device = luns_[i].name;
        o.ok = false;
        o.finished = true;
        o.category =
            luns_[i].dead_by_state ? wire::Category::transport_error : wire::Category::file_error;
        o.step = "open";
        o.error = luns_[i].dead.size() > 1 ? "every path is dead: " + luns_[i].open_error
                                           : luns_[i].open_error;
        o.paths = luns_[i].dead;
        if (hooks.finished) hooks.finished(static_cast<uint32_t>(i), o);
    }
    for (size_t i : opened_) jobs.push_back(make(i));
    // The paths that were not opened join each LUN's outcome the moment it is final, so that a
    // streaming caller sees them too.
    BatchHooks relay;
    relay.idle = hooks.idle;
    relay.finished = [&](uint32_t k, const LunOutcome&) {
        LunOutcome& o = jobs[k]->outcome();
        add_dead_paths(o, luns_[opened_[k]].dead);
        if (hooks.finished) hooks.finished(static_cast<uint32_t>(opened_[k]), o);
    };
    PRF_TRY_ASSIGN(rep.summary, paths_->executor().run(targets_, jobs, relay));
    for (size_t k = 0; k < jobs.size(); ++k)
        rep.outcomes[opened_[k]] = std::move(jobs[k]->outcome());
    rep.summary.luns = luns_.size();
    rep.summary.ok = rep.summary.failed = rep.summary.degraded = 0;
    rep.summary.worst = wire::Category::clean;
    for (const auto& o : rep.outcomes) {
        (o.ok ? rep.summary.ok : rep.summary.failed)++;
        if (o.ok && o.degraded) ++rep.summary.degraded;
        rep.summary.worst =
            wire::worse(rep.summary.worst, o.ok ? wire::Category::clean : o.category);
    }
    return rep;
}

}  // namespace prfence::engine
