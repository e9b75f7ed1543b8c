// SPDX-License-Identifier: MIT
// multipathd's control socket, and which multipath map holds a LU's paths.
//
// multipathd listens on the abstract Unix stream socket "@/org/kernel/linux/storage/multipathd"
// (newer releases also on a path socket). A request is the command's length as a native size_t
// (the terminating NUL counted), then the command and its NUL; the reply comes back the same way.
// Replies are text: "ok\n" and "fail\n" for commands that change something, the value for queries
// ("0xa1\n", "none\n"). One connection carries any number of requests.
//
// The commands prfence sends are libmpathpersist's, after it registered a key through a map:
//   setprkey map MAP key KEY[:aptpl]   multipathd remembers KEY for MAP (only when multipath.conf's
//                                      reservation_key is "file": it keeps the key in the prkeys
//                                      file; otherwise "fail")
//   setprstatus map MAP                MAP has registrations: a path that comes back (reinstated by
//                                      the checker) is registered with the map's key when that key
//                                      is registered on the LU through another path
//   unsetprstatus map MAP, unsetprkey map MAP   after unregistering
//   getprkey map MAP                   the key multipathd has for MAP: "0xa1\n" or "none\n"
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "uring_engine/common/result.h"
#include "uring_engine/common/unique_fd.h"
#include "uring_engine/devices/resolve.h"

namespace prfence::engine {

inline constexpr std::string_view kMultipathdSocket = "@/org/kernel/linux/storage/multipathd";

class MultipathdClient {
  public:
    // `socket`: "@NAME" for an abstract socket, else a filesystem path. `timeout` bounds every
    // request (sending and the whole reply). Errors: Errc::not_found when nobody listens there
    // (multipathd not running), Errc::system otherwise.
    static Result<MultipathdClient> connect(
        std::string_view socket = kMultipathdSocket,
        std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

    // One request; the reply without its NUL and trailing newlines. Errc::timeout when the reply
    // did not come in time, Errc::io when multipathd closed the connection or sent a bad length.
    Result<std::string> command(std::string_view cmd);

  private:
    MultipathdClient(UniqueFd fd, std::chrono::milliseconds timeout)
        : fd_(std::move(fd)), timeout_(timeout) {}
    Status send_all(const void* p, size_t n);
    Status recv_all(void* p, size_t n, std::chrono::steady_clock::time_point until);

    UniqueFd fd_;
    std::chrono::milliseconds timeout_;
};

// The name (dm/name) of the multipath map holding the LU's paths: the first device-mapper holder
// of one of its sg paths' block devices (<sysfs>/block/sdX/holders/dm-N) whose dm/uuid starts
// with "mpath-". nullopt when no path's disk is in a multipath map (or the LU has no sg path).
// The LU may have been named by the map or by its sd devices: the answer is the same.
std::optional<std::string> multipath_map_of(const LunSpec& lun,
                                            const std::string& sysfs_root = "/sys");

}  // namespace prfence::engine
