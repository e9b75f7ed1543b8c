// SPDX-License-Identifier: MIT
#include "uring_engine/session/path_set.h"

#include "uring_engine/transport/sg_path.h"

namespace prfence::engine {

Result<std::unique_ptr<PathSet>> PathSet::create(const PathSetOptions& opt) {
    std::unique_ptr<PathSet> s(new PathSet(opt));
    PRF_TRY_ASSIGN(s->ring_, Ring::create(4096, s->opt_.nvme));
    s->ex_ = std::make_unique<Executor>(*s->ring_, opt.exec);
    return s;
}

PathSet::~PathSet() {
    // Paths and connections hold ops in the ring; they go first, the ring last.
    for (auto& p : paths_) p->begin_shutdown();
    paths_.clear();
    sgio_.reset();
    conns_.clear();
    ex_.reset();
    ring_.reset();
}

Result<SimConnection*> PathSet::connection(const std::string& socket, const Nexus& nexus) {
    NexusKey key{socket, nexus.initiator, nexus.target_port};
    if (auto it = by_nexus_.find(key); it != by_nexus_.end()) return it->second;
    if (auto it = failed_.find(key); it != failed_.end()) return fail(it->second);
    auto c = SimConnection::open(*ring_, *ex_, socket, nexus.initiator, nexus.target_port);
    if (!c) {
        failed_.emplace(std::move(key), c.error());
        return fail(std::move(c).error());
    }
    SimConnection* raw = c->get();
    conns_.push_back(std::move(c).value());
    by_nexus_.emplace(std::move(key), raw);
    return raw;
}

Result<std::unique_ptr<Path>> PathSet::make_path(const PathSpec& spec, const Nexus& nexus) {
    if (spec.kind == PathSpec::Kind::sim) {
        PRF_TRY_ASSIGN(SimConnection * conn, connection(spec.sim_socket, nexus));
        return conn->path(spec.sim_lun);
    }
    if (spec.kind == PathSpec::Kind::nvme) {
        if (!opt_.nvme)
            return fail(Errc::invalid_argument,
                        spec.ng_node + ": NVMe namespace in a path set made without NVMe");
        return NvmePath::open(*ring_, *ex_, spec.ng_node, spec.nsid, spec.host_id);
    }
    if (opt_.sg_transport == SgTransport::sgio) {
        if (!sgio_) sgio_ = std::make_unique<SgioPool>(*ring_, opt_.sgio_threads);
        return SgioPath::open(*sgio_, *ex_, spec.sg_node);
    }
    return SgPath::open(*ring_, *ex_, spec.sg_node);
}

Result<Path*> PathSet::open(const PathSpec& spec, const Nexus& nexus) {
    PRF_TRY_ASSIGN(std::unique_ptr<Path> p, make_path(spec, nexus));
    paths_.push_back(std::move(p));
    return paths_.back().get();
}

}  // namespace prfence::engine
