// SPDX-License-Identifier: MIT
// libprinterpose: which paths are virtual SCSI devices, and how they look to stat().
//
// Pure functions and plain data, no I/O except reading the map file: the interposer
// (interposer/shim/interpose.cpp) asks these on every path-taking call, so everything here is
// allocation-free on the common path (a path that is not virtual is rejected after a prefix
// comparison).
//
// Names (interposer/shim/README.md is the contract):
//   PREFIX/sgN   the sg node of LU N (decimal, no leading zeros): a character device, major 21
//   PREFIX/sdX   the disk of LU index(X), X in the sd driver's letters (sda = 0, sdz = 25,
//                sdaa = 26, ...): a block device with the sd driver's major/minor for that index
//   PREFIX/nvme0nN  NVMe namespace N (NSID, from 1) of prsim's subsystem: a block device
//   PREFIX/nvme0    the NVMe controller of this process's connection: a character device
//   PREFIX       itself a directory
//   map file     `PATH LU [sg|disk]` or `PATH NSID nvme` / `PATH 0 nvme-ctrl` lines name further
//                paths (any absolute path that does not exist)
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prfence::shim {

enum class NodeKind : uint8_t { sg, disk, nvme_ns, nvme_ctrl };

struct VirtualNode {
    uint32_t lun = 0;  // the LU; for nvme_ns the NSID; 0 for nvme_ctrl
    NodeKind kind = NodeKind::sg;
    bool operator==(const VirtualNode&) const = default;
};

// What a path names.
struct PathClass {
    enum class What : uint8_t { none, directory, node } what = What::none;
    VirtualNode node;
};

// Largest LU number a name may carry (prsim's LUs are 0-16383; larger names are simply not
// virtual).
inline constexpr uint32_t kMaxNameLun = 1u << 20;

// The sd driver's disk name letters for an index (sd_format_disk_name in drivers/scsi/sd.c): 0 "a",
// 25 "z", 26 "aa", 701 "zz", 702 "aaa" (bijective base 26). Defined for every index, including
// those above a kernel's own limit (prsim's trace names disks of large farms with it).
std::string disk_letters(uint64_t index);
// The inverse; std::nullopt for anything but 1-5 lowercase letters or an index above kMaxNameLun.
std::optional<uint32_t> parse_disk_letters(std::string_view letters);

// Device numbers as the kernel assigns them: sg minor = N on major 21; sd as sd_probe does it
// (majors 8, 65-71, 128-135 by bits 4-7 of the index, minor = (index & 0xf) << 4 | (index &
// 0xfff00)).
dev_t sg_rdev(uint32_t n);
dev_t disk_rdev(uint32_t index);
// NVMe: namespaces on the extended block major 259 (minor NSID - 1, as the first controller's
// namespaces get them), the controller on character major 250, minor 0 (the kernel's is dynamic).
dev_t nvme_ns_rdev(uint32_t nsid);
dev_t nvme_ctrl_rdev();

// Lexical normalisation of an absolute path into out (collapses "//", "/./", "/x/.."; removes a
// trailing '/'). Returns false for a relative path or one longer than cap - 1: such paths are never
// virtual.
bool normalize_path(const char* path, char* out, size_t cap);

// The interposer's configuration, from the environment (interposer/shim/README.md: PRSIM_*).
struct Config {
    std::string socket;     // PRSIM_SOCKET; empty: every virtual open fails (ENXIO) with a message
    std::string initiator;  // PRSIM_INITIATOR, TransportID text as prfence --initiator takes it
    uint16_t target_port = 1;           // PRSIM_TARGET_PORT
    std::string prefix = "/dev/prsim";  // PRSIM_PREFIX, normalised; empty: no prefix names
    std::vector<std::pair<std::string, VirtualNode>> map;  // PRSIM_MAP entries, normalised paths
    std::vector<std::pair<std::string, std::string>> redirects;  // PRSIM_REDIRECT FROM=TO pairs
    int connect_timeout_ms = 2000;                               // PRSIM_CONNECT_TIMEOUT_MS
    int max_timeout_ms = 0;         // PRSIM_TIMEOUT_MS: cap on every command's timeout (0: none)
    bool absorb_initial_ua = true;  // PRSIM_KEEP_INITIAL_UA=1 turns it off
    // The NVMe host this process speaks as (PRSIM_HOSTNQN, PRSIM_HOSTID: a UUID). Without
    // PRSIM_HOSTID the identifier is the UUID at the end of a "...:uuid:UUID" NQN, else a hash of
    // the NQN; without PRSIM_HOSTNQN the NQN is "nqn.2014-08.org.nvmexpress:uuid:" + the UUID, and
    // without either both are the defaults below.
    // Empty when PRSIM_HOSTNQN cannot be sent (over 223 characters, not printable): no NVMe host.
    std::string hostnqn;
    std::array<uint8_t, 16> hostid{};
    std::string problem;  // a configuration error, reported once on first use
};

inline constexpr const char* kDefaultInitiator = "iqn.2026-11.io.prfence:prsim-run,i,0x1";
inline constexpr const char* kDefaultHostId = "5a7f4e00-0000-4000-8000-000000000001";

// "01234567-89ab-cdef-0123-456789abcdef" (or the 32 hex digits alone) -> 16 bytes.
std::optional<std::array<uint8_t, 16>> parse_uuid(std::string_view text);
std::string uuid_text(const std::array<uint8_t, 16>& id);

// The NVMe host identity rules prsim-run and prfence share, so that both given the same NQN (or the
// same text to derive one from) speak as one host:
//  - hash_host_id: a stable 16-byte identifier from any text (FNV-1a 64 twice, with two bases);
//  - host_id_of_nqn: the UUID at the end of a "...:uuid:UUID" NQN, else hash_host_id(nqn);
//  - uuid_nqn: "nqn.2014-08.org.nvmexpress:uuid:" + the identifier as a UUID (NVMe base
//    specification, the UUID-based NQN format);
//  - is_sendable_nqn: 1 to 223 printable ASCII characters, what an NQN may be.
std::array<uint8_t, 16> hash_host_id(std::string_view text);
std::array<uint8_t, 16> host_id_of_nqn(std::string_view nqn);
std::string uuid_nqn(const std::array<uint8_t, 16>& id);
bool is_sendable_nqn(std::string_view nqn);

// Reads PRSIM_* with the given getenv. The map file is read with read_file (the interposer passes
// a reader that bypasses its own open()); exists(path) says whether a map path is a real file,
// which refuses the entry (a real path is never intercepted).
struct EnvAccess {
    const char* (*get)(const char* name);
    bool (*read_file)(const char* path, std::string& out);
    bool (*exists)(const char* path);
};
Config load_config(const EnvAccess& env);

// Parses map-file text into cfg.map; problems (bad lines, existing paths) are appended to
// cfg.problem, one per line.
void parse_map(std::string_view text, const std::string& file_name, Config& cfg,
               bool (*exists)(const char*));

// What an already-normalised absolute path names under cfg.
PathClass classify(const Config& cfg, std::string_view norm);

// The path with the first matching redirect applied (plain string prefix), or nullptr when no
// redirect applies. out must hold PATH_MAX bytes.
const char* apply_redirect(const Config& cfg, const char* path, char* out, size_t cap);

}  // namespace prfence::shim
