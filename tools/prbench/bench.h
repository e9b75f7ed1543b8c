// SPDX-License-Identifier: MIT
// prbench's workloads and backends: what is measured and how. The CLI (main.cpp) fills a Config,
// run() returns one Measurement per (workload, op, backend, N, concurrency); report.h renders them,
// svg.h plots them. How each backend measures each workload is in backend.h; run() plans the matrix
// (matrix.cpp).
//
// Backends:
//   uring       prfence's engine, sg v3 async over io_uring (prsim LUNs: prsim's socket over
//               io_uring)
//   sgio        prfence's engine over the SG_IO thread pool (sg devices only)
//   serial      the engine one command at a time (concurrency 1): what batching buys
//   sg_persist  one sg_persist process per command, LU after LU, as a shell loop does
//   fence_scsi  fence-agents' fence_scsi -o off (fence workload only; real block devices, or prsim
//               under the prsim-run shim)
//   blkpr       the kernel's PR ioctls (linux/pr.h) on node B's block device, a dm-multipath map or
//   an
//               sd disk, LU after LU in prbench's own process (fence workload only; real LUs)
//   mpathpersist  one mpathpersist process per command on node B's /dev/mapper maps, LU after LU
//               (fence workload only; dm-multipath maps with multipathd running)
//   nvme-cli    one nvme-cli process per command on node B's NVMe namespaces, namespace after
//               namespace (fence workload only; NVMe namespaces)
// Workloads:
//   op          per-operation latency: every LU repeats a short cycle of PR commands, one of which
//               (the operation measured) is labelled; the others put the LU into the state that
//               operation needs (e.g. RESERVE then RELEASE). Concurrency caps the commands in
//               flight across LUs.
//   fence       mass fence: node A holds every LU (takeover), node B registers; then, measured, B
//               fences A on every LU in one batch (READ KEYS, PREEMPT AND ABORT, READ RESERVATION
//               per LU).
//   pingpong    A and B alternately take over the whole set (REGISTER AND IGNORE, READ RESERVATION,
//               PREEMPT AND ABORT of the holder, verify), K rounds.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/common/result.h"
#include "uring_engine/devices/resolve.h"
#include "uring_engine/simproto/protocol.h"
#include "uring_engine/wire/pr_types.h"

namespace prfence::bench {

enum class Backend { uring, sgio, serial, sg_persist, fence_scsi, blkpr, mpathpersist, nvme_cli };
const char* backend_name(Backend b);
std::optional<Backend> parse_backend(std::string_view name);
bool is_engine_backend(Backend b);

enum class Workload { op, fence, pingpong };
const char* workload_name(Workload w);
std::optional<Workload> parse_workload(std::string_view name);

// The operations the op workload measures (--op), in the order --op all runs them.
inline constexpr const char* kOpNames[] = {
    "register",         "register-ignore",     "reserve",         "release",
    "preempt",          "preempt-abort",       "clear",           "read-keys",
    "read-reservation", "report-capabilities", "read-full-status"};
bool is_op_name(std::string_view name);

// One LU as prbench drives it: the first path of node A and, when given, of node B.
struct BenchLun {
    std::string name;
    std::string wwid;
    engine::PathSpec a, b;
    bool has_b = false;
    // Node B's every path (its LU given as a dm map: each path under it), registered before a fence
    // by the backends that act on the whole map; empty: just `b`.
    std::vector<engine::PathSpec> b_paths;
    // Node B's device-mapper map for the LU, "/dev/mapper/NAME", when it was given as one ("" when
    // not): the device blkpr and mpathpersist act on.
    std::string b_map;
};

struct Node {
    std::string initiator;     // sim: the TransportID this node speaks as
    uint16_t target_port = 1;  // sim
    uint64_t key = 0;
};

struct Config {
    std::vector<BenchLun> luns;
    Node a, b;
    wire::PrType type = wire::PrType::exclusive_access;
    std::vector<Workload> workloads{Workload::op};
    std::vector<std::string> ops{"read-keys"};
    std::vector<Backend> backends{Backend::uring};
    std::vector<unsigned> qds{0};  // 0 = all (as many as LUs)
    std::vector<size_t> ns{0};     // 0 = every LU given
    unsigned iterations = 0;  // op: measured cycles per LU (0: enough for ~2000 samples, >= 10)
    unsigned rounds = 5;      // fence: measured batches; pingpong: measured takeovers
    unsigned warmup = 1;      // op: cycles per LU discarded; fence/pingpong: rounds discarded
    double rate = 0;          // paced: op: operations/s over all LUs; fence/pingpong: rounds/s
    unsigned baseline_iterations = 1;  // sg_persist op cycles per LU
    unsigned baseline_rounds = 1;      // sg_persist / fence_scsi fence and pingpong rounds
    uint32_t timeout_ms = 20000;       // per command
    unsigned sgio_threads = 8;
    // fence: how each round is armed (A holds an EA/WE reservation, B registered). reserve: A
    // REGISTER AND IGNORE, B REGISTER AND IGNORE, B RELEASE, A RESERVE (no abort; default).
    // takeover: A's takeover plan (PREEMPT AND ABORT of B), then B registers: LIO then still
    // settles the abort when the fence starts.
    bool arm_takeover = false;
    unsigned settle_ms = 0;  // fence: pause between arming and the measured batch
    std::string sg_persist = "sg_persist";
    std::string fence_scsi = "fence_scsi";
    std::string mpathpersist = "mpathpersist";
    std::string nvme = "nvme";  // nvme-cli
    // Where the mpathpersist skip rule looks for a running multipathd (a /proc/PID/comm that says
    // so).
    std::string proc_root = "/proc";
    // Words put before every baseline command (sg_persist, fence_scsi); {initiator}, {target_port},
    // {socket} are replaced by the node's. Empty: none (sim LUNs then have no baseline).
    std::vector<std::string> baseline_wrap;
    // prsim's LD_PRELOAD runner (prsim-run). For baselines on prsim LUNs prbench runs it once per
    // node
    // (`prsim-run --socket S --initiator I --target-port P -- env -0`) to learn the environment it
    // sets (LD_PRELOAD, PRSIM_*), then starts every sg_persist / fence_scsi directly with that
    // environment: one process per command, as in a shell loop, not a shell script and then the
    // command.
    std::string prsim_run;
    std::function<void(const std::string&)> progress;  // one line per step (stderr in the CLI)
};

struct LunTime {
    std::string name;
    uint64_t max_ns =
        0;  // op: slowest command; fence/pingpong: slowest per-LU time (first command to last)
    uint64_t sum_ns = 0;
    uint64_t n = 0;
};

// What one cell of the matrix measured (or why it was skipped).
struct Measurement {
    Workload workload = Workload::op;
    std::string op;  // op workload: the operation; else "fence" / "takeover"
    Backend backend = Backend::uring;
    size_t luns = 0;
    unsigned qd = 0;  // commands in flight at most (1 for baselines)
    double rate = 0;  // paced
    bool skipped = false;
    std::string note;  // why skipped, or what to know
    uint64_t ops = 0;  // measured operations (op) or LU-operations (fence/pingpong: luns x rounds)
    uint64_t errors = 0;   // measured operations that failed
    uint64_t retries = 0;  // commands re-sent (UNIT ATTENTION and the like) among the measured
    uint64_t warmup = 0;   // operations or rounds discarded
    uint64_t runtime_ns = 0;
    std::string first_error;
    std::vector<uint64_t>
        clat;  // submission to completion per measured command (processes: fork to exit)
    std::vector<uint64_t>
        lat;  // paced: intended send time to completion (coordinated omission corrected)
    std::vector<uint64_t>
        wall;  // fence/pingpong: per measured batch, first submission to last LU verified
    std::vector<uint64_t> wall_lat;  // paced fence/pingpong: intended start to last LU verified
    std::vector<uint64_t> arm;       // fence: per measured round, the arming batches (not in wall)
    std::vector<LunTime> luns_time;  // per LU, for "slowest LUNs"
    double iops() const {
        return runtime_ns ? static_cast<double>(ops) * 1e9 / static_cast<double>(runtime_ns) : 0;
    }
};

// Runs every combination the Config asks for, in order: workload (and op), N, backend, concurrency.
// A combination a backend cannot run is a skipped Measurement saying why; a workload that fails is
// a Measurement with errors. An Error when there are no LUs, an operation is unknown or the LUs
// cannot be opened.
Result<std::vector<Measurement>> run(const Config& cfg);

// The virtual device paths of the prsim LD_PRELOAD shim for LU `lun`: /dev/prsim/sgN,
// /dev/prsim/sdX (X: the sd driver's letters for index N: 0 a, 25 z, 26 aa, ...).
std::string prsim_sg_path(uint32_t lun);
std::string prsim_sd_path(uint32_t lun);
// The shim's node for prsim's NVMe namespace `nsid`: /dev/prsim/nvme0nN.
std::string prsim_nvme_path(uint32_t nsid);

// Whether a path is an NVMe namespace: a kernel one, or one of prsim's (sim with an NSID).
bool is_nvme_path(const engine::PathSpec& p);
// The NVMe host node `n` speaks as to prsim's namespaces (PathSet's sim_nvme_host of its
// initiator: every node its own host, the same in every run); an Error for an empty initiator.
Result<sim::proto::NvmeHost> sim_host_of(const Node& n);

// The device-mapper map a resolved LU stands for, DEV_ROOT/mapper/NAME, when it was given as one
// (resolve_devices names such a LU by its map, not by a path) and that node exists; "" otherwise.
std::string dm_map_node(const engine::LunSpec& l, const std::string& dev_root = "/dev");

}  // namespace prfence::bench
