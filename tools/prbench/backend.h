// SPDX-License-Identifier: MIT
// prbench's backends behind one interface, in the way fio's ioengine_ops puts its I/O engines
// behind one table of functions: run() (matrix.cpp) knows a backend only by its BackendInfo row and
// its BackendRunner, and asks it for one workload at a time.
//
//   engine_backend.cpp      uring, sgio, serial: prfence's engine; the rig's transport and the
//                           concurrency differ, the measuring does not
//   sg_persist_backend.cpp  one sg_persist process per command, LU after LU (a shell loop)
//   fence_scsi_backend.cpp  one fence_scsi --action=off for every LU (fence only)
//   blkpr_backend.cpp       the kernel's PR ioctls on node B's block devices, LU after LU, in
//                           prbench's process (fence only; blkpr.h)
//   mpathpersist_backend.cpp  one mpathpersist process per command on node B's dm maps, LU after
//                           LU (fence only)
//   nvme_cli_backend.cpp    one nvme-cli process per command on node B's NVMe namespaces,
//                           namespace after namespace (fence only; nvme_cli.h)
#pragma once

#include <cstdint>
#include <memory>

#include "tools/prbench/bench.h"
#include "tools/prbench/rig.h"
#include "tools/prbench/steps.h"
#include "uring_engine/session/path_set.h"

namespace prfence::bench {

// One backend's measurements. A runner is made for one cell of the matrix (workload, op, N,
// concurrency) and given that cell's rig, already open on the cell's LUs; it fills the Measurement
// it is given (m.luns, m.qd and m.luns_time are set). An Error ends the cell (recorded as one
// error), not the run. A backend asked for a workload the skip rules keep from it returns an Error.
class BackendRunner {
  public:
    virtual ~BackendRunner() = default;
    // op: every LU repeats `cycle`, whose one measured step is the operation.
    virtual Status op(Rig& rig, const Cycle& cycle, Measurement& m) = 0;
    // fence: node B fences node A on every LU, each round armed first (unmeasured).
    virtual Status fence(Rig& rig, Measurement& m) = 0;
    // pingpong: A and B take over the whole set in turn.
    virtual Status pingpong(Rig& rig, Measurement& m) = 0;
};

// What run() knows of a backend besides its runner.
struct BackendInfo {
    Backend id;
    const char* name;  // on the command line, in job names and in the JSON
    bool engine;       // prfence's engine: paced by --rate (the baselines run flat out)
    bool sweeps_qd;    // runs at each --qd; else one command at a time (qd 1)
    engine::SgTransport transport;  // how the rig drives sg nodes
    // The program it runs (&Config::sg_persist, &Config::fence_scsi, &Config::mpathpersist,
    // &Config::nvme); nullptr: none.
    const std::string Config::*tool;
    std::unique_ptr<BackendRunner> (*make)(const Config& cfg);
};

const BackendInfo& backend_info(Backend b);

std::unique_ptr<BackendRunner> make_engine_backend(const Config& cfg);
std::unique_ptr<BackendRunner> make_sg_persist_backend(const Config& cfg);
std::unique_ptr<BackendRunner> make_fence_scsi_backend(const Config& cfg);
std::unique_ptr<BackendRunner> make_blkpr_backend(const Config& cfg);
std::unique_ptr<BackendRunner> make_mpathpersist_backend(const Config& cfg);
std::unique_ptr<BackendRunner> make_nvme_cli_backend(const Config& cfg);

// One sample into LU `lun`'s time (its slowest, its sum and count for the mean).
void add_lun_time(Measurement& m, size_t lun, uint64_t ns);
// Sleeps until engine::now_ns() reaches t (paced rounds).
void sleep_until_ns(uint64_t t);

}  // namespace prfence::bench
