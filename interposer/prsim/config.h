// SPDX-License-Identifier: MIT
// prsim's configuration: everything the daemon is started with, from the command line and/or a JSON
// file
// (--config FILE; see PROTOCOL.md, "Configuration file"). The command line wins over the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "interposer/lu/lu.h"
#include "interposer/prsim/faults.h"
#include "interposer/prsim/trace.h"
#include "uring_engine/common/result.h"
#include "uring_engine/simproto/protocol.h"

namespace prfence::sim {

struct ServerLimits {
    uint32_t max_payload = proto::kMaxPayload;  // largest frame payload accepted from a client
    // Output limit per client. When a client's unsent responses reach max_output the server stops
    // reading its commands (backpressure) until it has read half of them; if its output then makes
    // no progress for stall_ms, or grows to twice the limit (delayed completions), the client is
    // cut off as not reading.
    size_t max_output = 16u << 20;
    uint32_t stall_ms = 5000;
    uint32_t max_in_flight = 1024;    // commands held per connection before TASK SET FULL
    size_t read_budget = 256u << 10;  // bytes read from one client per wakeup (fairness)
    uint32_t max_nexuses = 4096;  // distinct I_T nexuses (initiator, target port) a farm accepts
};

struct TraceOptions {
    std::string path;        // "" = no trace; a file (truncated) or a FIFO
    std::string dmesg_path;  // "" = the dmesg lines go to `path` too
    TraceStyle style;
    int cpu = -1;  // the [cpu] column; -1 = the CPU the daemon runs on
    size_t max_buffer = 8u << 20;
};

// Per-LU settings applied over the defaults for the LUs a range names.
struct LuOverride {
    LunSet luns;
    nlohmann::json settings;  // block_size, blocks, backing_file, vendor, product, revision,
                              // serial, naa, profile
};

// The farm's NVMe subsystem: `namespaces` namespaces (NSIDs 1..namespaces) behind one subsystem
// NQN, each with its own reservation state (interposer/lu/nvme_pr_state.h). Identifiers are derived
// from the NSID as the LUs' are from the LUN: EUI-64 = IEEE company id 5A7F4Eh (locally
// administered, as the LUs' NAA) << 40 | 8000000000h | NSID, NGUID = EUI-64 followed by
// 00000000h and the NSID (big-endian).
struct NvmeOptions {
    uint32_t namespaces = 0;  // 0: no NVMe subsystem
    std::string subnqn = "nqn.2026-12.io.prfence:prsim";
    uint32_t block_size = 512;
    uint64_t blocks = 2048;
    std::string profile = "nvmet";  // or "spdk" (NvmeProfile)
};

struct ServerConfig {
    std::string socket_path;
    uint32_t luns = 0;
    uint16_t target_ports = 2;
    std::optional<std::filesystem::path> state_dir;  // APTPL files, one per LU: lun00042.aptpl
    nlohmann::json lu_defaults = nlohmann::json::object();
    std::vector<LuOverride> lu_overrides;
    uint32_t first_host = 0;  // first automatically assigned host number
    std::vector<std::pair<wire::TransportId, uint32_t>>
        hosts;                              // initiators with a configured host number
    std::map<uint16_t, uint16_t> port_ids;  // target port -> SCSI target id (default port-1)
    std::vector<FaultSpec> faults;          // armed at start
    NvmeOptions nvme;
    TraceOptions trace;
    ServerLimits limits;
    uint64_t seed = 0x9e3779b97f4a7c15ull;  // fault randomness
    // Where the daemon reports clients it cut off and similar events (the library never logs
    // itself).
    std::function<void(const std::string&)> log;
    // Tests: the clock trace timestamps are taken from (default CLOCK_MONOTONIC).
    std::function<int64_t()> trace_clock;
};

// Merges a parsed JSON configuration into cfg (keys absent from the JSON leave cfg as it was).
Status apply_config_json(const nlohmann::json& j, ServerConfig& cfg);
// Reads and merges a JSON file; errors name the file.
Status load_config_file(const std::string& path, ServerConfig& cfg);
// Checks the whole configuration (LU count, ports, every LU's settings) before a server is built.
Status validate_config(const ServerConfig& cfg);
// The LuConfig of one LU: defaults, then every override naming it in order, then the LU number, the
// target port count and the APTPL file from state_dir.
Result<LuConfig> lu_config_for(const ServerConfig& cfg, uint32_t lun);
// The APTPL file name of a LU inside state_dir.
std::string aptpl_file_name(uint32_t lun);

}  // namespace prfence::sim
