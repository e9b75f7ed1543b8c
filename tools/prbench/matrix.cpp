// SPDX-License-Identifier: MIT
// run(): the matrix planner. It lays out every cell the Config asks for, checks each against the
// skip rules (the first that holds says why the cell is not run), and runs the others, each on a
// rig of its own, with the backend's runner.
#include "tools/prbench/matrix.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include "tools/prbench/backend.h"
#include "tools/prbench/spawn.h"

namespace prfence::bench {

std::vector<Cell> plan(const Config& cfg) {
    std::vector<Cell> cells;
    for (Workload w : cfg.workloads) {
        const std::vector<std::string> ops =
            w == Workload::op
                ? cfg.ops
                : std::vector<std::string>{w == Workload::fence ? "fence" : "takeover"};
        for (const std::string& op : ops) {
            for (size_t n0 : cfg.ns) {
                const size_t n = n0 == 0 ? cfg.luns.size() : std::min(n0, cfg.luns.size());
                for (Backend be : cfg.backends) {
                    std::vector<unsigned> qds;
                    if (backend_info(be).sweeps_qd) {
                        for (unsigned q : cfg.qds) {
                            unsigned v = q == 0 ? static_cast<unsigned>(n)
                                                : std::min<unsigned>(q, static_cast<unsigned>(n));
                            if (std::find(qds.begin(), qds.end(), v) == qds.end()) qds.push_back(v);
                        }
                    } else {
                        qds = {1};
                    }
                    for (unsigned qd : qds) cells.push_back({w, op, n, be, qd});
                }
            }
        }
    }
    return cells;
}

namespace {

// ---------------------------------------------------------------------------------------------------
// Skip rules: which backend cannot run which workload, and why.

// What a rule sees: the cell and the run.
struct Facts {
    const Config& cfg;
    const Cell& cell;
    bool sim;     // prsim LUs among the cell's
    bool have_b;  // every LU given has a node B path
};

enum class When {
    always,
    no_node_b,           // some LU has no node B path
    prsim_luns,          // prsim LUs among the cell's
    tool_missing,        // the backend's program (BackendInfo::tool) is not installed
    prsim_without_shim,  // prsim LUs, and neither --prsim-run nor --baseline-wrap to reach them
    op_needs_node_b,     // the operation needs node B (the preempts) and some LU has none
    b_not_dm_map,        // some LU's node B was not given as a device-mapper map
    b_no_block_device,   // some LU's node B has neither a dm map nor a block device (sg only)
    no_multipathd,       // no process named multipathd runs (Config::proc_root)
    b_not_nvme,          // some LU's node B is not an NVMe namespace
    nvme_luns,           // some LU is an NVMe namespace
};

// The cell's LUs (the first n).
bool any_lu(const Facts& f, bool (*pred)(const BenchLun&)) {
    const size_t n = std::min(f.cell.n, f.cfg.luns.size());
    return std::any_of(f.cfg.luns.begin(), f.cfg.luns.begin() + static_cast<long>(n), pred);
}

bool holds(When w, const Facts& f) {
    switch (w) {
        case When::always:
            return true;
        case When::no_node_b:
            return !f.have_b;
        case When::prsim_luns:
            return f.sim;
        case When::tool_missing: {
            const auto tool = backend_info(f.cell.backend).tool;
            return tool && find_executable(f.cfg.*tool).empty();
        }
        case When::prsim_without_shim:
            return f.sim && f.cfg.baseline_wrap.empty() && f.cfg.prsim_run.empty();
        case When::op_needs_node_b:
            return op_needs_node_b(f.cell.op) && !f.have_b;
        case When::b_not_dm_map:
            return any_lu(f, [](const BenchLun& l) { return l.b_map.empty(); });
        case When::b_no_block_device:
            return any_lu(f,
                          [](const BenchLun& l) { return l.b_map.empty() && l.b.block.empty(); });
        case When::no_multipathd:
            return !process_running(f.cfg.proc_root, "multipathd");
        case When::b_not_nvme:
            return any_lu(f, [](const BenchLun& l) { return !l.has_b || !is_nvme_path(l.b); });
        case When::nvme_luns:
            return any_lu(f, [](const BenchLun& l) {
                return is_nvme_path(l.a) || (l.has_b && is_nvme_path(l.b));
            });
    }
    return false;
}

constexpr unsigned bit(Backend b) { return 1u << static_cast<unsigned>(b); }
constexpr unsigned bit(Workload w) { return 1u << static_cast<unsigned>(w); }
constexpr unsigned kAny = ~0u;

struct SkipRule {
    unsigned backends;   // the backends it concerns (bits)
    unsigned workloads;  // the workloads it concerns (bits)
    When when;
    const char* why;  // {tool}: the backend's program as configured; {op}: the operation
};

// In order: a cell gets the first rule that concerns it and holds.
constexpr SkipRule kSkipRules[] = {
    {kAny, bit(Workload::fence) | bit(Workload::pingpong), When::no_node_b,
     "needs node B (--node-b DEVICES, or prsim LUNs)"},
    {bit(Backend::sgio), kAny, When::prsim_luns,
     "the SG_IO pool drives sg devices; prsim LUNs go over io_uring only"},
    {bit(Backend::fence_scsi), bit(Workload::op) | bit(Workload::pingpong), When::always,
     "fence_scsi only fences (workload fence)"},
    {bit(Backend::sg_persist) | bit(Backend::fence_scsi) | bit(Backend::mpathpersist), kAny,
     When::nvme_luns,
     "{backend} sends SCSI PERSISTENT RESERVE commands, which NVMe namespaces do not take "
     "(sg3_utils "
     "does not translate them to NVMe Reservation commands): -b nvme-cli is the process loop for "
     "NVMe"},
    {bit(Backend::fence_scsi), kAny, When::tool_missing,
     "{tool} is not installed (Debian: apt-get install fence-agents)"},
    {bit(Backend::sg_persist) | bit(Backend::fence_scsi) | bit(Backend::nvme_cli), kAny,
     When::prsim_without_shim,
     "baselines on prsim LUNs need the prsim-run shim (--prsim-run PATH or --baseline-wrap)"},
    {bit(Backend::sg_persist), kAny, When::tool_missing,
     "{tool} is not installed (Debian: apt-get install sg3-utils)"},
    {bit(Backend::blkpr) | bit(Backend::mpathpersist) | bit(Backend::nvme_cli),
     bit(Workload::op) | bit(Workload::pingpong), When::always,
     "{backend} only fences (workload fence)"},
    {bit(Backend::blkpr), kAny, When::prsim_luns,
     "the kernel's PR ioctls need a kernel block device; prsim LUs have none in prbench's process "
     "(the prsim-run shim serves other processes, and answers SG_IO, not IOC_PR_*)"},
    {bit(Backend::blkpr), kAny, When::b_no_block_device,
     "node B has no block device for some LU (an sg node alone): the PR ioctls need /dev/sdX or "
     "/dev/mapper/NAME"},
    {bit(Backend::mpathpersist), kAny, When::prsim_luns,
     "mpathpersist acts on dm-multipath maps; prsim LUs have none"},
    {bit(Backend::mpathpersist), kAny, When::tool_missing,
     "{tool} is not installed (Debian: apt-get install multipath-tools)"},
    {bit(Backend::mpathpersist), kAny, When::b_not_dm_map,
     "mpathpersist acts on dm-multipath maps only: give node B's LUs as /dev/mapper/NAME "
     "(--node-b)"},
    {bit(Backend::mpathpersist), kAny, When::no_multipathd,
     "multipathd is not running (mpathpersist works with the maps and reservation_key it manages)"},
    {bit(Backend::nvme_cli), kAny, When::b_not_nvme,
     "nvme-cli drives NVMe namespaces: node B's devices must be /dev/nvmeXnY or /dev/ngXnY "
     "(--node-b), or prsim's namespaces (sim:SOCKET:nsN-M)"},
    {bit(Backend::nvme_cli), kAny, When::tool_missing,
     "{tool} is not installed (Debian: apt-get install nvme-cli)"},
    {kAny, bit(Workload::op), When::op_needs_node_b,
     "{op} needs node B (--node-b DEVICES, or prsim LUNs)"},
};

}  // namespace

bool process_running(const std::string& proc_root, std::string_view comm) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(proc_root, ec)) {
        const std::string n = e.path().filename().string();
        if (n.empty() ||
            !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        std::ifstream f(e.path() / "comm");
        std::string line;
        if (std::getline(f, line) && line == comm) return true;
    }
    return false;
}

namespace {

std::string expand(std::string s, const std::string& key, const std::string& value) {
    if (auto p = s.find(key); p != std::string::npos) s.replace(p, key.size(), value);
    return s;
}

}  // namespace

std::optional<std::string> skip_reason(const Config& cfg, const Cell& cell, bool sim, bool have_b) {
    const Facts f{cfg, cell, sim, have_b};
    for (const SkipRule& r : kSkipRules) {
        if (!(r.backends & bit(cell.backend)) || !(r.workloads & bit(cell.workload)) ||
            !holds(r.when, f))
            continue;
        const auto tool = backend_info(cell.backend).tool;
        return expand(expand(expand(r.why, "{op}", cell.op), "{tool}", tool ? cfg.*tool : ""),
                      "{backend}", backend_name(cell.backend));
    }
    return std::nullopt;
}

namespace {

// ---------------------------------------------------------------------------------------------------

bool devices_are_sim(const Config& cfg, size_t n) {
    return std::any_of(cfg.luns.begin(), cfg.luns.begin() + static_cast<long>(n),
                       [](const BenchLun& l) { return l.a.kind == engine::PathSpec::Kind::sim; });
}

Measurement new_measurement(const Config& cfg, const Cell& c) {
    Measurement m;
    m.workload = c.workload;
    m.op = c.op;
    m.backend = c.backend;
    m.luns = c.n;
    m.qd = c.qd;
    m.rate = is_engine_backend(c.backend) ? cfg.rate
                                          : 0;  // only the engine paces; baselines run flat out
    m.luns_time.resize(c.n);
    for (size_t i = 0; i < c.n; ++i) m.luns_time[i].name = cfg.luns[i].name;
    return m;
}

}  // namespace

Result<std::vector<Measurement>> run(const Config& cfg) {
    std::vector<Measurement> out;
    if (cfg.luns.empty()) return fail(Errc::invalid_argument, "no LUs to measure");
    auto say = [&](const std::string& s) {
        if (cfg.progress) cfg.progress(s);
    };
    const bool have_b_all =
        std::all_of(cfg.luns.begin(), cfg.luns.end(), [](const BenchLun& l) { return l.has_b; });

    for (const Cell& c : plan(cfg)) {
        const BackendInfo& be = backend_info(c.backend);
        Measurement m = new_measurement(cfg, c);
        say(std::string(workload_name(c.workload)) +
            (c.workload == Workload::op ? " " + c.op : std::string()) + " backend=" + be.name +
            " luns=" + std::to_string(c.n) + " qd=" + std::to_string(c.qd) +
            (cfg.rate > 0 && be.engine ? " rate=" + std::to_string(cfg.rate) + "/s" : ""));
        if (auto why = skip_reason(cfg, c, devices_are_sim(cfg, c.n), have_b_all)) {
            m.skipped = true;
            m.note = std::move(*why);
            say("  skipped: " + m.note);
            out.push_back(std::move(m));
            continue;
        }
        Cycle cyc;
        if (c.workload == Workload::op) {
            PRF_TRY_ASSIGN(cyc, op_cycle(c.op, cfg, have_b_all));
        }
        auto rig = open_rig(cfg, c.n, be.transport);
        if (!rig) return fail(Errc::io, "opening the LUs: " + rig.error().msg);
        std::unique_ptr<BackendRunner> runner = be.make(cfg);
        Status st = c.workload == Workload::op      ? runner->op(**rig, cyc, m)
                    : c.workload == Workload::fence ? runner->fence(**rig, m)
                                                    : runner->pingpong(**rig, m);
        if (!st) {
            m.errors += 1;
            m.first_error = st.error().msg;
            say("  failed: " + st.error().msg);
        } else if (m.errors) {
            say("  " + std::to_string(m.errors) + " errors; first: " + m.first_error);
        }
        out.push_back(std::move(m));
    }
    return out;
}

}  // namespace prfence::bench
