// SPDX-License-Identifier: MIT
// prfenced's configuration file: where the control socket lives and the LUN groups the daemon holds
// open. JSON:
//
//   {
//     "socket": "/run/prfence/control.sock",   // optional; --socket wins
//     "socket_group": "prfence",               // optional; who besides root may act
//     "socket_mode": "0660",                   // optional; octal string
//     "groups": [
//       { "name": "db", "devices": ["/dev/disk/by-id/wwn-*"], "initiator": "", "target_port": 1,
//         "sg_transport": "uring", "key": "0xabc123",
//         "hostnqn": "nqn.2014-08.org.nvmexpress:uuid:...", "hostid": "0123abcd-..." }
//     ]
//   }
//
// Unknown keys are errors (a typo must not silently drop a group setting). Groups created or
// changed through the control socket are written back with save_config, atomically: a crash leaves
// either the old file or the new one, never a mix.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nl_control/protocol/family.h"
#include "uring_engine/common/result.h"

namespace prfence::daemon {

struct GroupConfig {
    std::string name;
    std::vector<std::string> devices;  // as prfence takes them (resolve_devices)
    std::string initiator;             // sim LUNs: the TransportID to speak as
    std::optional<uint16_t> target_port;
    nl::SgTransport sg_transport = nl::SG_TRANSPORT_URING;
    // This node's reservation key for the group (hex string in the file, never 0): the key of
    // operations that name none, and the key prexplain calls "ours" (prexplain --daemon).
    std::optional<uint64_t> key;
    // prsim NVMe namespaces: the NVMe host the group speaks as (direct mode's --hostnqn / --hostid;
    // "hostid" in the file is 32 hex digits, dashes allowed). What is not given is derived as
    // engine::sim_nvme_host says: from the other, else from the initiator.
    std::string hostnqn;
    std::optional<std::array<uint8_t, 16>> hostid;

    bool operator==(const GroupConfig&) const = default;
};

struct Config {
    std::string socket;                 // "" = not set (the default or --socket applies)
    std::string socket_group;           // "" = only root may act
    std::optional<mode_t> socket_mode;  // nullopt = 0660
    std::vector<GroupConfig> groups;
};

// 1-64 bytes of [A-Za-z0-9._-]: the protocol's ATTR_GROUP charset.
bool valid_group_name(const std::string& name);
// Whether a group's NVMe host NQN can be used, by direct mode's --hostnqn rule
// (engine::check_nvme_hostnqn): an Error (invalid_argument) whose text names the value and says
// what is wrong with it; callers put where it came from in front. An empty NQN (none given) is
// fine: the host identifier is 16 bytes by then, and every value of it is a host.
Status check_hostnqn(const std::string& hostnqn);
// An NVMe host identifier as the file and prfence's --hostid write it: 32 hex digits, dashes
// allowed (engine::parse_nvme_hostid); an Error naming the text otherwise.
Result<std::array<uint8_t, 16>> parse_hostid(const std::string& text);
// "0660" -> 0660; errors for anything but 3-4 octal digits within 07777.
Result<mode_t> parse_mode(const std::string& text);

// Parses a configuration text; errors are "WHERE: what" with WHERE = `origin` plus the JSON path
// ("/etc/prfence/prfenced.json: groups[1].devices: must be a non-empty array of strings").
Result<Config> parse_config(const std::string& text, const std::string& origin);
// Reads and parses `path`. A file that does not exist is an empty configuration (`*missing` set),
// so a fresh install starts and persists its first group there; any other read error is an Error.
Result<Config> load_config(const std::string& path, bool* missing = nullptr);
// The JSON text of `cfg` (what save_config writes).
std::string config_text(const Config& cfg);
// Writes `cfg` to `path` atomically: a temporary file in the same directory, fsync, rename over
// `path`, fsync of the directory. The file keeps the mode of the file it replaces (0640 when new).
Status save_config(const Config& cfg, const std::string& path);

}  // namespace prfence::daemon
