// SPDX-License-Identifier: MIT
// Reservation keys as Linux HA clusters name them, compatible with fence-agents' fence_scsi (4.x),
// so that a cluster moving from fence_scsi keeps the keys registered on its LUs.
//
// fence_scsi's key: the first 4 hex digits of md5(cluster name) followed by either the node's
// position in corosync's nodelist printed as 4 decimal digits (key_value=id, the default: the
// position N of `nodelist.node.N.name`, not the nodeid) or the first 4 hex digits of md5(node
// name) (key_value=hash); leading zeros are then stripped. Example: cluster "prfence", node-a at
// position 0: id key 4a5c0000, hash key 4a5c6cec; node-b hash key 4a5c26f7. The cluster name is
// what `corosync-cmapctl totem.cluster_name` prints; the nodelist is `corosync-cmapctl nodelist`.
//
// fence_scsi keeps the local node's key in a file written by `on` (unfencing) and read by `off`:
// /var/run/cluster.key since fence-agents 4.11, /var/run/cluster/fence_scsi.key before.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/common/result.h"

namespace prfence::cluster {

enum class KeyMethod { id, hash };

inline constexpr char kKeyFile[] = "/var/run/cluster.key";
inline constexpr char kOldKeyFile[] = "/var/run/cluster/fence_scsi.key";

// md5(cluster_name)[0:4] + md5(node)[0:4], leading zeros stripped. Errc::invalid_argument when the
// result is 0.
Result<uint64_t> hash_key(std::string_view cluster_name, std::string_view node);
// md5(cluster_name)[0:4] + the node's nodelist position as %.4d, read from `nodelist` (the text
// `corosync-cmapctl nodelist` prints). Errc::not_found naming the node when it is not there.
Result<uint64_t> id_key(std::string_view cluster_name, std::string_view node,
                        std::string_view nodelist);

// The cluster name from `corosync-cmapctl totem.cluster_name` output ("totem.cluster_name (str) =
// NAME"). Errc::malformed when the text has no such line.
Result<std::string> parse_cluster_name(std::string_view cmapctl_output);

// Runs `cmapctl_path` with `key` (no shell) and returns what it printed. Errors name the program
// and its exit status ("corosync-cmapctl exited with 1: is corosync running?").
//
// The program's stdin is /dev/null; its stderr is kept for the error text (first line). A path
// without '/' is looked up in PATH. Errc::not_found when the program does not exist, Errc::system
// when it cannot be started, Errc::io when it exits non-zero or is killed by a signal,
// Errc::too_small when it prints more than kMaxCmapctlOutput bytes, Errc::timeout when it has not
// finished after kCmapctlTimeout (then it is killed): a hung corosync must not use up the fence
// action's whole deadline.
inline constexpr size_t kMaxCmapctlOutput = 1024 * 1024;
inline constexpr std::chrono::milliseconds kCmapctlTimeout{10000};
Result<std::string> run_cmapctl(const std::string& cmapctl_path, const std::string& key);
// The same with an explicit bound (tests; callers with a tighter deadline).
Result<std::string> run_cmapctl(const std::string& cmapctl_path, const std::string& key,
                                std::chrono::milliseconds timeout);

// The cluster name corosync runs with (`corosync-cmapctl totem.cluster_name`).
Result<std::string> query_cluster_name(const std::string& cmapctl_path);

// fence_scsi's key for `node`, asking corosync through `cmapctl_path` for what the method needs:
// the cluster name unless `cluster_name` gives it, and the nodelist for KeyMethod::id. The
// nodelist is always asked for: node positions change when nodes are added or removed at run time,
// the cluster name only with a restart of the whole cluster.
Result<uint64_t> derive_key(KeyMethod method, std::string_view node,
                            const std::string& cmapctl_path,
                            const std::optional<std::string>& cluster_name = std::nullopt);

// The key file: hex digits and a newline, as fence_scsi writes it. read_key_file with `path` empty
// tries kKeyFile, then kOldKeyFile; errors name every path tried. write_key_file (empty `path`:
// kKeyFile) writes a temporary file and renames it over the old one, creating the directory.
// A file whose first line is not 1-16 hex digits (an optional 0x allowed), or holds key 0, is
// Errc::malformed naming it; a present but bad file is an error, not a reason to fall back.
Result<uint64_t> read_key_file(const std::string& path);
Result<void> write_key_file(const std::string& path, uint64_t key);
// read_key_file's fallback over any list of paths: the first that exists is read; Errc::not_found
// naming every path when none exists.
Result<uint64_t> read_first_key_file(const std::vector<std::string>& paths);
// The key as fence_scsi writes it and sg_persist takes it: lowercase hex, no 0x, no leading zeros.
std::string key_text(uint64_t key);

}  // namespace prfence::cluster
