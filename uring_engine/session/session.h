// SPDX-License-Identifier: MIT
// A Session runs batches against a set of logical units: their paths, opened once into a PathSet
// (the ring, the executor, sg nodes, one prsim connection per socket) and kept open, and the LUNs
// as the executor takes them. The CLI opens one per invocation; the daemon keeps one per LUN group
// so that nothing is opened or resolved at failover time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "uring_engine/devices/resolve.h"
#include "uring_engine/policy/executor.h"
#include "uring_engine/session/path_set.h"

namespace prfence::engine {

struct SessionOptions {
    ExecOptions exec;
    // How sg paths are driven (see PathSet).
    using SgTransport = engine::SgTransport;
    SgTransport sg_transport = SgTransport::uring;
    unsigned sgio_threads = 8;
    std::string initiator;     // sim: the TransportID this process speaks as (sg: the kernel's)
    uint16_t target_port = 1;  // sim: the target port it arrives through
    // prsim NVMe namespaces: the NVMe host this process speaks as, derived from what is empty as
    // sim_nvme_host() (path_set.h) says. A connection to a socket with namespaces in the batch
    // declares the host (its LUNs share it); connections with LUNs only declare none, so a prsim of
    // protocol version 1 still serves them. Real NVMe namespaces use the kernel's host identity.
    // An identity that cannot be made (a bad hostid) fails each namespace's open with the reason.
    std::string hostnqn;
    std::string hostid;
    // Where sg paths' device states are read (devices/path_state.h): a path whose device is
    // offline, blocked or going away is not opened and reports dead at once.
    std::string sysfs_root = "/sys";
};

class Session {
  public:
    // Opens every path of every LUN. A LUN none of whose paths opens is kept with its open error
    // (it will report that error as its outcome); a path that fails among others that open is
    // dropped and its error noted. An sg path whose device state is dead (offline, blocked, ...)
    // is not opened at all, as if its open had failed. Only a ring that cannot be created is an
    // Error.
    static Result<std::unique_ptr<Session>> open(const std::vector<LunSpec>& luns,
                                                 const SessionOptions& opt);

    struct Lun {
        std::string name;
        std::string wwid;
        LunTarget target;        // paths.empty() when nothing opened
        std::string open_error;  // why paths are missing ("" when all opened)
        // The paths not opened, each dead with its reason ("open: ...", "device state offline").
        std::vector<PathOutcome> dead;
        bool dead_by_state = false;  // every path not opened was refused for its device state
    };
    const std::vector<Lun>& luns() const { return luns_; }

    struct Report {
        BatchSummary summary;
        std::vector<LunOutcome> outcomes;  // one per LUN, in session order
    };
    // Runs one job per LUN (make(i) builds LUN i's job). LUNs that could not be opened get an
    // outcome with their open error, without running: category file_error, or transport_error
    // when every path was refused for its device state (offline, blocked). A LUN run with some
    // paths missing gets them appended to its outcome's paths, dead, and is degraded when ok.
    // `hooks` as for Executor::run, except that hooks.finished gets the session's LUN index
    // (unopened LUNs first, before the batch starts, then in completion order), each LUN once; the
    // report still holds every outcome.
    Result<Report> run(const std::function<std::unique_ptr<LunJob>(size_t)>& make,
                       const BatchHooks& hooks = {});

    Executor& executor() { return paths_->executor(); }

  private:
    Session() = default;
    std::unique_ptr<PathSet> paths_;
    std::vector<Lun> luns_;
    // The opened LUNs as the executor takes them, and their session indexes: built once at open,
    // not copied (names, path lists) for every batch.
    std::vector<LunTarget> targets_;
    std::vector<size_t> opened_;
};

}  // namespace prfence::engine
