// SPDX-License-Identifier: MIT
// Correlation: parsed lines -> conflict events, one per failed I/O, storms counted.
//
// One failed I/O leaves up to six lines: the tracepoint (scsi_dispatch_cmd_done), "sd H:C:T:L:
// reservation conflict", the FAILED Result and CDB lines, the block layer's error line and the
// block_rq_complete tracepoint (and "Buffer I/O error" lines for page-cache reads). They become one
// group per LU: a line joins the LU's current group unless the group already has a line of that
// kind or is older than `group_window_ns`; then it starts a new group. Non-conflict lines (FAILED
// with DID_OK, CDB, Buffer I/O) only ever join a group; alone they are some other failure.
//
// Lines name the LU in three ways: H:C:T:L (sd lines, scsi tracepoint), a kernel name (sdq, sdc1),
// or a device number (block tracepoint). The LuMapper turns each into an LU identity (by WWID
// through sysfs, so two paths to one LU are one LU); what it cannot map is learned from the lines
// themselves: "sd 1:0:0:0: [sdq] ..." ties sdq to 1:0:0:0, and a block_rq_complete [-52] right
// after a scsi_dispatch_cmd_done conflict (within group_window_ns, the pair the kernel emits for
// one request) ties that device number to the command's LU.
//
// Emission: a group is reported as soon as it says what failed (a tracepoint or block-layer line
// gives the operation and sector); a group of only "reservation conflict" (passthrough commands,
// or lines lost to printk rate limits) waits `settle_ns` of arrival time (tick()) or until its
// window passes in line time or input ends. The first conflict on an LU is reported at once; later
// ones are counted (count, last_seen) and reported as an update at most once per
// `summary_interval_ns`, plus a final update from finish() if the count moved since.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tools/prexplain/parse.h"

namespace prfence::prexplain {

struct LuIdentity {
    std::string
        key;  // what events group by: the wwid, else "hctl:H:C:T:L" / "dev:sdq" / "devnum:8:16"
    std::string wwid;    // "" when unknown
    std::string device;  // kernel name of the whole disk ("sdq"), "" when unknown
    std::string hctl;    // "1:0:0:0", "" when unknown
    std::string sim;     // "sim:SOCKET:LUN" when the LU is a prsim LU, else ""
};

// Maps what kernel lines say to LUs. Implementations may cache; a miss is nullopt (never an error:
// a device may be gone by the time its log line is read).
class LuMapper {
  public:
    virtual ~LuMapper() = default;
    virtual std::optional<LuIdentity> by_hctl(const Hctl& h) = 0;
    // "sdq", "sdc1" (a partition maps to its disk's LU), "sg2".
    virtual std::optional<LuIdentity> by_name(std::string_view kernel_name) = 0;
    virtual std::optional<LuIdentity> by_devnum(uint32_t major, uint32_t minor) = 0;
};

// A mapper that knows nothing: every LU is named by what the lines say (--no-query on a saved log
// from another machine).
class NullMapper final : public LuMapper {
  public:
    std::optional<LuIdentity> by_hctl(const Hctl&) override { return std::nullopt; }
    std::optional<LuIdentity> by_name(std::string_view) override { return std::nullopt; }
    std::optional<LuIdentity> by_devnum(uint32_t, uint32_t) override { return std::nullopt; }
};

// What a command did to the medium; decides which reservation types admit it (classify.h).
enum class Access : uint8_t { unknown, read, write, pr_in, pr_out, other };
const char* access_name(Access a) noexcept;
Access access_of_opcode(uint8_t opcode) noexcept;

struct Event {
    LuIdentity lu;
    std::string op;  // "READ", "WRITE", "PERSISTENT_RESERVE_OUT", ...; "" when no line said
    Access access = Access::unknown;
    bool has_sector = false;
    uint64_t sector = 0;  // 512-byte sectors (block layer) or the CDB's LBA
    uint32_t blocks = 0;  // transfer length when known
    uint64_t count = 0;   // conflicts on this LU so far
    bool has_time = false;
    int64_t first_seen_ns = 0, last_seen_ns = 0;  // line timestamps (see ParsedLine::ts_ns)
    bool update = false;                          // a storm update of an LU already reported
    Source source = Source::bare;
};

struct CorrelateOptions {
    int64_t group_window_ns = 1'000'000'000;
    int64_t settle_ns = 3'000'000;
    int64_t summary_interval_ns = 5'000'000'000;
    size_t max_lus = 1u << 16;  // distinct LUs tracked; further LUs fold into the last
};

struct CorrelateStats {
    uint64_t lines = 0;           // lines fed
    uint64_t conflict_lines = 0;  // lines that joined or started a group
    uint64_t groups = 0;          // failed I/Os
    uint64_t events = 0;          // events emitted (updates included)
};

class Correlator {
  public:
    explicit Correlator(LuMapper& mapper, CorrelateOptions opt = {});
    ~Correlator();
    Correlator(const Correlator&) = delete;
    Correlator& operator=(const Correlator&) = delete;

    // Feeds one line; `arrival_ns` is when it was read (any monotonic clock; only tick() compares
    // against it). Events that become ready are appended to `out`.
    void feed(const ParsedLine& line, int64_t arrival_ns, std::vector<Event>& out);
    // Live mode: reports groups that waited settle_ns and storm updates that are due.
    void tick(int64_t now_ns, std::vector<Event>& out);
    // End of input: everything pending, then a final update per LU whose count moved.
    void finish(std::vector<Event>& out);
    // Earliest arrival time at which tick() has something to do (for poll timeouts), if any.
    std::optional<int64_t> next_deadline() const;

    const CorrelateStats& stats() const { return stats_; }

  private:
    struct Group;
    struct LuState;
    LuState* lu_for(const ParsedLine& l);
    LuState* lu_from_identity(LuIdentity id);
    void emit_group(LuState& u, std::vector<Event>& out);
    void close_group(LuState& u, std::vector<Event>& out);
    void make_event(const LuState& u, bool update, std::vector<Event>& out);
    void expire(int64_t line_ts, std::vector<Event>& out);
    // Pops queued groups from the front while due(group); act(group) on each that is still open.
    template <class Due, class Act>
    void pop_pending(Due due, Act act);

    LuMapper& mapper_;
    CorrelateOptions opt_;
    CorrelateStats stats_;
    std::vector<std::unique_ptr<LuState>> lus_;
    std::unordered_map<std::string, LuState*> by_key_;    // LuIdentity::key
    std::unordered_map<std::string, LuState*> by_alias_;  // "hctl:..", "dev:sdq", "devnum:8:16"
    std::deque<LuState*> pending_;                        // groups not yet emitted, oldest first
    LuState* last_cmd_done_ = nullptr;                    // for tying block_rq_complete to it
};

}  // namespace prfence::prexplain
