// SPDX-License-Identifier: MIT
// What the process baselines (sg_persist, fence_scsi) share: how a command is started for a node
// and a LU (the --baseline-wrap words, prsim-run's environment on prsim LUs, the device node to
// name), and one sg_persist command timed from fork to exit. One per cell of the matrix; its
// fence_scsi state directory goes with it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/prbench/bench.h"
#include "tools/prbench/spawn.h"
#include "tools/prbench/steps.h"

namespace prfence::bench {

// A 16-byte NVMe host identifier as a UUID, "5052464e-0000-4000-8000-00000000000b".
std::string uuid_text(const std::array<uint8_t, 16>& id);

// What a failed baseline command said last: its last non-blank line (stderr, else stdout).
std::string last_line(const SpawnResult& s);

class ProcessBaseline {
  public:
    explicit ProcessBaseline(const Config& c) : cfg_(c) {}
    ProcessBaseline(const ProcessBaseline&) = delete;
    ProcessBaseline& operator=(const ProcessBaseline&) = delete;
    ~ProcessBaseline();  // removes the fence_scsi state directory, if one was made

    // The environment to start node `node`'s commands on LU `l` with: nullptr (ours) unless the LU
    // is a prsim LU and prsim-run is known. prsim-run is asked once per node and socket (and once
    // more for namespaces, with --hostnqn and --hostid of the node's NVMe host, sim_host_of); when
    // its environment has no LD_PRELOAD, the first such failure goes to *err (when given and
    // empty).
    const std::vector<std::string>* env(int node, const BenchLun& l, std::string* err);
    // The wrapper words for node `node` and LU `l` (placeholders replaced).
    std::vector<std::string> wrap(int node, const BenchLun& l) const;
    // Node `node`'s sg node for LU `l` (the shim's /dev/prsim/sgN on prsim LUs), and its block
    // device
    // ("" when it has none).
    std::string sg_dev(int node, const BenchLun& l) const;
    std::string block_dev(int node, const BenchLun& l) const;

    // One sg_persist command; re-sent after UNIT ATTENTION (exit 6) up to 3 times, as a careful
    // script does (fence_scsi sends TEST UNIT READY first instead). Every process is one clat
    // sample. Returns the exit code; the first failure's command and last line go to *err when it
    // is empty.
    int sg_persist(const Step& s, const BenchLun& l, std::vector<uint64_t>* clat, uint64_t* retries,
                   uint64_t* lun_ns, std::string* err);
    // One mpathpersist command on node B's map of LU `l` (BenchLun::b_map), as sg_persist above:
    // its exit codes follow sg3_utils' (6 is a unit attention, sent again up to 3 times).
    int mpathpersist(const Step& s, const BenchLun& l, std::vector<uint64_t>* clat,
                     uint64_t* retries, uint64_t* lun_ns, std::string* err);

    // One process, no retry (nvme-cli exits 0 or 1, and NVMe has no unit attention): wrapper words
    // for node `node`, then `argv`. One clat sample, added to *lun_ns; a non-zero exit's command
    // and last line go to *err when it is empty.
    SpawnResult run_once(int node, const BenchLun& l, const std::vector<std::string>& argv,
                         std::vector<uint64_t>* clat, uint64_t* lun_ns, std::string* err);

  private:
    int run_retrying(const std::vector<std::string>& argv, const std::vector<std::string>* env,
                     const BenchLun& l, std::vector<uint64_t>* clat, uint64_t* retries,
                     uint64_t* lun_ns, std::string* err);
    // fence_scsi keeps its key and device list in /var/run/cluster.{key,dev}: on prsim LUs the shim
    // redirects them here (one directory per run, removed after), so a benchmark never touches the
    // files of a real cluster node, nor races another run.
    const std::string& fence_scsi_dir();

    const Config& cfg_;
    std::map<std::string, std::vector<std::string>>
        envs_;  // node + socket -> prsim-run's environment
    std::string state_dir_;
};

}  // namespace prfence::bench
