// SPDX-License-Identifier: MIT
#include "uring_engine/session/path_set.h"

#include <sys/resource.h>

#include <mutex>

#include "uring_engine/common/bytes.h"
#include "uring_engine/simproto/names.h"
#include "uring_engine/transport/sg_path.h"

namespace prfence::engine {
namespace {

// A set holds a descriptor per path (two per LU behind a two-path map, plus the ring's): 256 maps
// already pass the default soft limit of 1024. The soft limit goes up to the hard limit, once per
// process, as systemd advises for programs that need many descriptors (its default hard limit is
// 524288); a failure leaves the limit as it was and the opens report EMFILE as usual.
void raise_fd_limit() {
    static std::once_flag once;
    std::call_once(once, [] {
        rlimit rl{};
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
    });
}

std::optional<std::array<uint8_t, 16>> hex_hostid(std::string_view text) {
    std::array<uint8_t, 16> id{};
    size_t n = 0;
    for (char c : text) {
        if (c == '-') continue;
        const int v = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
        if (v < 0 || n >= 32) return std::nullopt;
        id[n / 2] = static_cast<uint8_t>(id[n / 2] << 4 | v);
        ++n;
    }
    if (n != 32) return std::nullopt;
    return id;
}

std::string nexus_host_key(const Nexus& n) {
    if (!n.nvme_host) return {};
    return shim::uuid_text(n.nvme_host->hostid) + " " + n.nvme_host->hostnqn;
}

}  // namespace

Status check_nvme_hostnqn(std::string_view hostnqn) {
    if (!shim::is_sendable_nqn(hostnqn))
        return fail(Errc::invalid_argument,
                    "an NVMe host NQN is 1 to 223 printable ASCII characters");
    return {};
}

Result<std::array<uint8_t, 16>> parse_nvme_hostid(std::string_view hostid) {
    auto id = hex_hostid(hostid);
    if (!id)
        return fail(Errc::invalid_argument,
                    "an NVMe host identifier is 32 hex digits (dashes allowed, as in a UUID: "
                    "0123abcd-0000-4000-8000-00000000000a)");
    return *id;
}

Result<sim::proto::NvmeHost> sim_nvme_host(std::string_view initiator, std::string_view hostnqn,
                                           std::string_view hostid) {
    sim::proto::NvmeHost h;
    if (!hostnqn.empty()) {
        if (auto ok = check_nvme_hostnqn(hostnqn); !ok)
            return fail(Errc::invalid_argument, "--hostnqn " + quoted_text(hostnqn) + " (" +
                                                    std::to_string(hostnqn.size()) +
                                                    " bytes): " + ok.error().msg);
        h.hostnqn = std::string(hostnqn);
    }
    if (!hostid.empty()) {
        auto id = parse_nvme_hostid(hostid);
        if (!id)
            return fail(Errc::invalid_argument,
                        "--hostid " + quoted_text(hostid) + ": " + id.error().msg);
        h.hostid = *id;
    } else if (!hostnqn.empty()) {
        h.hostid = shim::host_id_of_nqn(hostnqn);
    } else {
        if (initiator.empty())
            return fail(Errc::invalid_argument,
                        "NVMe namespaces need an NVMe host: --hostnqn / --hostid, or --initiator "
                        "to derive them from");
        h.hostid = shim::hash_host_id(initiator);
    }
    if (h.hostnqn.empty()) h.hostnqn = shim::uuid_nqn(h.hostid);
    return h;
}

Result<std::unique_ptr<PathSet>> PathSet::create(const PathSetOptions& opt) {
    raise_fd_limit();
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
    NexusKey key{socket, nexus.initiator, nexus.target_port, nexus_host_key(nexus)};
    if (auto it = by_nexus_.find(key); it != by_nexus_.end()) return it->second;
    if (auto it = failed_.find(key); it != failed_.end()) return fail(it->second);
    auto c = SimConnection::open(*ring_, *ex_, socket, nexus.initiator, nexus.target_port,
                                 nexus.nvme_host);
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
        if (spec.nsid != 0 && !nexus.nvme_host)
            return fail(Errc::invalid_argument, "sim:" + spec.sim_socket + ":ns" +
                                                    std::to_string(spec.nsid) +
                                                    ": an NVMe namespace needs an NVMe host");
        PRF_TRY_ASSIGN(SimConnection * conn, connection(spec.sim_socket, nexus));
        if (spec.nsid != 0) return conn->namespace_path(spec.nsid);
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
