// SPDX-License-Identifier: MIT
#include "uring_engine/session/session.h"

#include <map>

#include "uring_engine/transport/sg_path.h"

namespace prfence::engine {

Session::~Session() {
    // Paths and connections hold ops in the ring; they go first, the ring last. Their cancels are queued
    // together, so the first destructor's turn of the ring completes them all.
    for (auto& p : paths_) p->begin_shutdown();
    paths_.clear();
    sgio_.reset();
    conns_.clear();
    ex_.reset();
    ring_.reset();
}

Result<std::unique_ptr<Session>> Session::open(const std::vector<LunSpec>& specs, const SessionOptions& opt) {
    std::unique_ptr<Session> s(new Session());
    PRF_TRY_ASSIGN(s->ring_, Ring::create(4096));
    s->ex_ = std::make_unique<Executor>(*s->ring_, opt.exec);
    std::map<std::string, SimConnection*> by_socket;
    std::map<std::string, std::string> socket_errors;

    for (const auto& spec : specs) {
        Lun lun;
        lun.name = spec.name;
        lun.wwid = spec.wwid;
        lun.target.name = spec.name;
        std::string errors;
        for (const auto& ps : spec.paths) {
            Result<std::unique_ptr<Path>> path = fail(Errc::invalid_argument, "unknown path kind");
            if (ps.kind == PathSpec::Kind::sg && opt.sg_transport == SessionOptions::SgTransport::sgio) {
                if (!s->sgio_) s->sgio_ = std::make_unique<SgioPool>(*s->ring_, opt.sgio_threads);
                auto p = SgioPath::open(*s->sgio_, *s->ex_, ps.sg_node);
                if (p.ok()) path = std::unique_ptr<Path>(std::move(p).value());
                else path = fail(std::move(p).error());
            } else if (ps.kind == PathSpec::Kind::sg) {
                auto p = SgPath::open(*s->ring_, *s->ex_, ps.sg_node);
                if (p.ok()) path = std::unique_ptr<Path>(std::move(p).value());
                else path = fail(std::move(p).error());
            } else {
                SimConnection* conn = nullptr;
                if (auto it = by_socket.find(ps.sim_socket); it != by_socket.end()) {
                    conn = it->second;
                } else if (auto e = socket_errors.find(ps.sim_socket); e == socket_errors.end()) {
                    if (opt.initiator.empty()) {
                        socket_errors[ps.sim_socket] = "sim LUNs need --initiator (the TransportID to speak as)";
                    } else {
                        auto c = SimConnection::open(*s->ring_, *s->ex_, ps.sim_socket, opt.initiator, opt.target_port);
                        if (c.ok()) {
                            conn = c->get();
                            by_socket[ps.sim_socket] = conn;
                            s->conns_.push_back(std::move(c).value());
                        } else {
                            socket_errors[ps.sim_socket] = c.error().msg;
                        }
                    }
                }
                if (conn) {
                    auto p = conn->path(ps.sim_lun);
                    if (p.ok()) path = std::unique_ptr<Path>(std::move(p).value());
                    else path = fail(std::move(p).error());
                } else {
                    path = fail(Errc::io, socket_errors[ps.sim_socket]);
                }
            }
            if (path.ok()) {
                lun.target.paths.push_back(path->get());
                s->paths_.push_back(std::move(path).value());
            } else {
                if (!errors.empty()) errors += "; ";
                errors += path.error().msg;
            }
        }
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
        o.category = wire::Category::file_error;
        o.step = "open";
        o.error = luns_[i].open_error;
        if (hooks.finished) hooks.finished(static_cast<uint32_t>(i), o);
    }
    for (size_t i : opened_) jobs.push_back(make(i));
    BatchHooks relay;
    relay.idle = hooks.idle;
    if (hooks.finished)
        relay.finished = [&](uint32_t k, const LunOutcome& o) { hooks.finished(static_cast<uint32_t>(opened_[k]), o); };
    PRF_TRY_ASSIGN(rep.summary, ex_->run(targets_, jobs, relay));
    for (size_t k = 0; k < jobs.size(); ++k) rep.outcomes[opened_[k]] = std::move(jobs[k]->outcome());
    rep.summary.luns = luns_.size();
    rep.summary.ok = rep.summary.failed = 0;
    rep.summary.worst = wire::Category::clean;
    for (const auto& o : rep.outcomes) {
        (o.ok ? rep.summary.ok : rep.summary.failed)++;
        rep.summary.worst = wire::worse(rep.summary.worst, o.ok ? wire::Category::clean : o.category);
    }
    return rep;
}

}  // namespace prfence::engine
