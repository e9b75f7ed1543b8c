// SPDX-License-Identifier: MIT
// A PathSet owns what the engine needs to reach a set of logical units: one ring, the executor that
// turns it, and every path opened through it, each opened once and kept open until the set is
// destroyed.
//
// A path is opened as a nexus. An sg node is the kernel's own I_T nexus (this host's initiator
// port, the node's target port). A prsim LUN is reached as the Nexus given: every path of one
// socket and nexus shares one SimConnection (one HELLO, one socket). A prsim NVMe namespace
// (PathSpec::Kind::sim with an nsid) is reached the same way, by a nexus that names an NVMe host;
// LUNs and namespaces of one socket and nexus share the connection. Several nexuses to the same
// LUs can be open in one set: prbench speaks to the same prsim LUNs as node A and as node B; a
// Session uses one.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "uring_engine/common/result.h"
#include "uring_engine/devices/resolve.h"
#include "uring_engine/policy/executor.h"
#include "uring_engine/transport/nvme_path.h"
#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/sgio_path.h"
#include "uring_engine/transport/sim_path.h"

namespace prfence::engine {

// How sg paths are driven: io_uring with sg's asynchronous interface, or SG_IO on a thread pool
// (the fallback, and the baseline prbench compares against). prsim LUNs always go over their socket
// on the ring, whichever is chosen.
enum class SgTransport { uring, sgio };

// The initiator side of an I_T nexus to a prsim LU. sg paths ignore it.
struct Nexus {
    std::string initiator;     // the TransportID to speak as ("" for namespaces only)
    uint16_t target_port = 1;  // the relative target port to arrive through
    // The NVMe host to declare (prsim namespaces need one; it opts the connection into protocol
    // version 2). Leave it unset for connections with LUNs only: a prsim of version 1 refuses it.
    std::optional<sim::proto::NvmeHost> nvme_host;
};

// The NVMe host identity this process speaks as to prsim's namespaces (real NVMe controllers use
// the kernel's), from what the operator gave:
//   hostid          32 hex digits, dashes allowed anywhere ("0123abcd-...", a UUID); any other
//   text,
//                   or a count other than 32, is an Error naming it.
//   hostnqn         1..223 printable ASCII characters, else an Error.
// What is not given is derived, as prsim-run derives PRSIM_HOSTID / PRSIM_HOSTNQN, so that a
// prsim-run process and prfence given the same NQN are one host:
//   no hostid       the UUID at the end of a "...:uuid:UUID" NQN; else the 128-bit FNV-1a hash pair
//                   of the NQN (bases cbf29ce484222325h and 84222325cbf29ce4h, big-endian);
//   no hostnqn      "nqn.2014-08.org.nvmexpress:uuid:" + the host identifier as a UUID;
//   neither         the host identifier is the FNV-1a pair of `initiator` (so every node of a
//                   cluster, named by its --initiator, is its own NVMe host, the same in every run)
//                   and the NQN is made from it as above. An empty initiator then is an Error.
Result<sim::proto::NvmeHost> sim_nvme_host(std::string_view initiator, std::string_view hostnqn,
                                           std::string_view hostid);

// The two rules sim_nvme_host applies, for callers that name the value in their own words: each
// Error (invalid_argument) is the reason alone. A host NQN is 1 to 223 printable ASCII characters;
// a host identifier is 32 hex digits, dashes anywhere allowed.
Status check_nvme_hostnqn(std::string_view hostnqn);
Result<std::array<uint8_t, 16>> parse_nvme_hostid(std::string_view hostid);

struct PathSetOptions {
    ExecOptions exec;
    SgTransport sg_transport = SgTransport::uring;
    // The SG_IO pool's threads; the pool starts with the first sg path when sg_transport is sgio.
    unsigned sgio_threads = 8;
    // The set will open NVMe paths: its ring gets 128-byte SQEs (NvmePath).
    bool nvme = false;
};

class PathSet {
  public:
    // A ring (4096 entries) and its executor, no path yet. An Error only when the ring cannot be
    // created. The first set of a process raises its soft limit on open files to the hard limit
    // (every path is a descriptor; the default 1024 is reached at a few hundred LUs).
    static Result<std::unique_ptr<PathSet>> create(const PathSetOptions& opt = {});
    // Queues every path's shutdown first, so that their cancels share one turn of the ring, then
    // closes the paths, the SG_IO pool, the prsim connections, the executor and the ring, in that
    // order.
    ~PathSet();
    PathSet(const PathSet&) = delete;
    PathSet& operator=(const PathSet&) = delete;

    // Opens a path to `spec` as `nexus` and keeps it; the pointer stays valid as long as the set.
    // sim: the first path of a socket and nexus connects; later ones reuse that connection. A
    // connection that could not be made is remembered, and later paths of the same socket and nexus
    // get the same Error without a new attempt (a dead socket costs one connect, not one per LUN).
    // Errors name the device or the socket.
    Result<Path*> open(const PathSpec& spec, const Nexus& nexus = {});

    Ring& ring() { return *ring_; }
    Executor& executor() { return *ex_; }
    // Paths open, and prsim connections (one per socket and nexus).
    size_t size() const { return paths_.size(); }
    size_t connections() const { return conns_.size(); }

  private:
    explicit PathSet(const PathSetOptions& opt) : opt_(opt) {}
    Result<SimConnection*> connection(const std::string& socket, const Nexus& nexus);
    Result<std::unique_ptr<Path>> make_path(const PathSpec& spec, const Nexus& nexus);

    PathSetOptions opt_;
    std::unique_ptr<Ring> ring_;
    std::unique_ptr<Executor> ex_;
    std::unique_ptr<SgioPool> sgio_;
    std::vector<std::unique_ptr<SimConnection>> conns_;
    std::vector<std::unique_ptr<Path>> paths_;
    // (socket, initiator, target port, NVMe host NQN and identifier or "") -> its connection, or
    // why it could not be made.
    using NexusKey = std::tuple<std::string, std::string, uint16_t, std::string>;
    std::map<NexusKey, SimConnection*> by_nexus_;
    std::map<NexusKey, Error> failed_;
};

}  // namespace prfence::engine
