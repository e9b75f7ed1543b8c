// SPDX-License-Identifier: MIT
// Keeping multipathd in the loop, as mpathpersist does. A path that comes back after a failure is
// a new I_T nexus for the LU, without a registration; multipathd registers it again, but only for
// a map it knows to carry registrations (setprstatus) and only with the key it knows for the map
// (setprkey, or multipath.conf's reservation_key). After prfence registered or removed our key on
// a map's paths, tell_multipathd() sends multipathd what libmpathpersist sends after a successful
// REGISTER through the map (devices/multipathd.h lists the commands), then asks for the key back.
//
// This is the chosen way for registrations to survive a path's return (rather than prfenced
// watching path events and registering returning paths itself): multipathd is the one that sees a
// path return (its checker reinstates it), it already registers the path then, before the map
// sends I/O down it again, and it does so whether or not prfenced runs; a prfenced doing the same
// would race multipathd's reinstatement, and would need the key and the map of every LU anyway.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "uring_engine/devices/multipathd.h"
#include "uring_engine/devices/resolve.h"
#include "uring_engine/model/operation.h"
#include "uring_engine/model/outcome.h"

namespace prfence::engine {

struct MultipathKeysOptions {
    std::string socket = std::string(kMultipathdSocket);
    std::string sysfs_root = "/sys";
    std::chrono::milliseconds timeout{2000};  // per request
};

// What multipathd was told about one LU's map.
struct MapKeyReport {
    size_t lun = 0;     // index into the LUs given
    std::string map;    // the map's name (dm/name)
    bool told = false;  // multipathd has the map's registration status and our key as its key
    std::string key;    // multipathd's key for the map afterwards ("0xa1", "none"; "" unknown)
    std::string error;  // why not told (multipathd not running, refused, has another key, ...)
};

// The key `op` leaves registered on every path of each LU it succeeds on, which multipathd must
// know: --key for register, unfence, takeover and fence --claim; 0 (removed) for unregister;
// nullopt for operations that register nothing of ours.
std::optional<uint64_t> key_left_registered(const OpSpec& op);

// For every LU that ended ok and sits in a multipath map (devices/multipathd.h, multipath_map_of):
// with `key` non-zero (registered on its paths), "setprkey map MAP key KEY[:aptpl]",
// "setprstatus map MAP", then "getprkey map MAP": told when multipathd's key is ours afterwards
// (setprkey fails unless multipath.conf's reservation_key is "file"; a configured key equal to
// ours does as well). With `key` zero (unregistered), "unsetprstatus map MAP" and
// "unsetprkey map MAP": told when the status was unset. A map reached by several LUs is told once,
// reported for its first LU. No map among the LUs: no connection, an empty answer. multipathd not
// running: every map's report says so. A request that times out (opt.timeout) or finds the
// connection closed ends the conversation: the maps after it are reported not asked, so a hung
// multipathd costs one timeout, not one per request. Never fails otherwise: the PR state on the
// LUs is what it is; this only says whether multipathd will keep it on returning paths.
std::vector<MapKeyReport> tell_multipathd(const std::vector<LunSpec>& luns,
                                          const std::vector<LunOutcome>& outcomes, uint64_t key,
                                          bool aptpl, const MultipathKeysOptions& opt = {});

}  // namespace prfence::engine
