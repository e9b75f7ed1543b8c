// SPDX-License-Identifier: MIT
// "Our" side of each LU, from prfenced's configuration: which key this node holds on the LU (the
// key a FENCED diagnosis looks for) and, for prsim LUs, which initiator to query as. `prexplain
// --daemon SOCKET` reads every group at start (CMD_GROUP_LIST), and again when an LU it does not
// know shows up (DaemonBook), and resolves the groups' devices here, on the same host, the way the
// daemon resolves them; --key and --initiator on the command line win.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nl_control/protocol/message.h"
#include "tools/prexplain/correlate.h"
#include "uring_engine/common/result.h"
#include "uring_engine/devices/resolve.h"

namespace prfence::prexplain {

struct OurSide {
    std::string group;
    std::optional<uint64_t> key;
    std::string initiator;  // sim groups: the TransportID the daemon speaks as ("" for sg groups)
    std::optional<uint16_t> target_port;
};

// Where the pipeline and the querier look an LU up.
class OurSides {
  public:
    virtual ~OurSides() = default;
    virtual const OurSide* find(const LuIdentity& lu) = 0;
};

class OurBook final : public OurSides {
  public:
    // Records every LU of `g` (its devices resolved to `luns`). An LU already recorded from another
    // group with a different key keeps the first group's entry, and one warning per pair of groups
    // (naming both, the first LU and how many more) is appended to `warnings`: prexplain cannot
    // tell which of two keys is "ours" (one host playing two nodes, as a test harness does).
    void add(const nl::GroupInfo& g, const std::vector<engine::LunSpec>& luns,
             std::vector<std::string>& warnings);
    // The entry for an LU as the mapper names it (by WWID; prsim LUs by socket and LUN, whatever
    // spelling of the socket path either side used), or nullptr.
    const OurSide* find(const LuIdentity& lu) const;
    const OurSide* find(const LuIdentity& lu) override { return std::as_const(*this).find(lu); }
    size_t size() const { return by_lu_.size(); }

  private:
    std::map<std::string, OurSide> by_lu_;
};

// "sim:SOCKET:LUN" with SOCKET made absolute and symlink-free when it exists (realpath), so two
// spellings of one socket compare equal; any other text is returned as it is.
std::string canonical_lu_key(const std::string& key);

// Asks prfenced at `socket` for its groups (only those named in `only`, when not empty) and
// resolves each group's devices with `ropt`. Groups whose devices no longer resolve are skipped
// with a warning (the daemon may hold LUs this host lost since). Errors: the daemon cannot be
// reached or refuses (Errc::system with its text); a group in `only` it does not have
// (Errc::not_found).
Result<OurBook> our_book_from_daemon(const std::string& socket, const engine::ResolveOptions& ropt,
                                     const std::vector<std::string>& only,
                                     std::vector<std::string>& warnings);

// The book of a running prexplain: fetched once at start (load), and fetched again when an event
// names an LU the book does not know, at most once per `min_interval`, so that groups created or
// extended after prexplain started are seen without a storm of unknown LUs turning into a storm of
// fetches. A fetch that fails later keeps the old book (and says so through `warn`).
class DaemonBook final : public OurSides {
  public:
    using Fetch = std::function<Result<OurBook>(std::vector<std::string>& warnings)>;
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    DaemonBook(
        Fetch fetch, std::function<void(const std::string&)> warn,
        std::chrono::milliseconds min_interval = std::chrono::seconds(5),
        Clock now = [] { return std::chrono::steady_clock::now(); });
    // The first fetch: its failure is the caller's error (prexplain --daemon refuses to start).
    Status load();
    const OurSide* find(const LuIdentity& lu) override;
    size_t fetches() const { return fetches_; }

  private:
    Status fetch_now();
    Fetch fetch_;
    std::function<void(const std::string&)> warn_;
    std::chrono::milliseconds min_interval_;
    Clock now_;
    OurBook book_;
    std::chrono::steady_clock::time_point last_{};
    size_t fetches_ = 0;
};

}  // namespace prfence::prexplain
