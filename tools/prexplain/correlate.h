// SPDX-License-Identifier: MIT
// Correlation: parsed lines -> one story per LU (its names, the commands refused, how many, when).
//
// One failed I/O leaves up to seven lines: the tracepoint (scsi_dispatch_cmd_done), "sd H:C:T:L:
// reservation conflict", the FAILED Result and CDB lines, the block layer's error line (a second
// one on the device-mapper map above the path: "dev dm-0", same sector and operation), the
// block_rq_complete tracepoint, and "Buffer I/O error" lines for page-cache I/O. They become one
// group: a line joins its LU's current group unless the group already has a line of that kind, is
// older than `group_window_ns`, or names another command (a CDB with another tag, a block line
// with another sector); then it starts a new group. Non-conflict lines (FAILED with DID_OK, CDB,
// Buffer I/O) only ever join a group; alone they are some other failure, or the first lines of a
// conflict printed out of order: the last few are kept, and a conflict that starts a group on
// their LU within the window takes the CDB (the operation, LBA and length) whose tag they share.
//
// Lines name the LU in four ways: H:C:T:L (sd lines, scsi tracepoint), a disk name (sdq, sdc1), a
// map (dm-0) or a device number (block tracepoint). The LuMapper turns each into an LU identity
// (by WWID through sysfs, so two paths and the map above them are one LU); what it cannot map is
// learned from the lines themselves: every "sd 1:0:0:0: [sdq] ..." line ties sdq to 1:0:0:0; a
// block line on dm-N right after a path's block line with the same sector and operation ties the
// map to that path's LU (dm-multipath completes the map's request with its path's error), and so
// the paths of one map to each other; a block_rq_complete [-52] right after a
// scsi_dispatch_cmd_done conflict (within group_window_ns) ties that device number to the
// command's LU. Names learned late fold what was two LUs into one (counts added, the commands
// listed once).
//
// Emission. Live (the default): a group is reported as soon as it says what failed (a tracepoint,
// CDB or block-layer line gives the operation); a group of only "reservation conflict"
// (passthrough commands, or lines lost to printk rate limits) waits `settle_ns` of arrival time
// (tick()) or until its window passes in line time or input ends. The first conflict on an LU is
// reported at once; when a later line adds a name to a reported LU (a path, the map, two LUs found
// to be one) the LU is reported again at once as an update; later conflicts are counted (count,
// last_seen, commands) and reported as an update at most once per `summary_interval_ns`, plus a
// final update from finish() if anything moved since. With `hold` (saved logs), nothing is
// reported before finish(), which reports every LU once, in the order they first appeared.
//
// NVMe. A namespace is an LU like a SCSI disk: the driver's line ("nvme1n4: I/O Cmd(0x1) @ LBA 0,
// 1 blocks, I/O Error (sct 0x0 / sc 0x83) ...") starts a group with the command (its NVMe opcode,
// LBA and blocks), and the block layer's line on the same request ("reservation conflict error, dev
// nvme1n4, sector 0 ...") joins it (the sector is the LBA times 1, 2, 4 or 8). A path of a native
// multipath head ("nvme1c2n4") is its head's LU ("nvme1n4"); commands keep the path's name.
// Reservation notifications (the controller's asynchronous event "Reservation Log Page Available",
// as the nvme_async_event tracepoint or an NVME_AEN uevent reports it) are not conflicts and have
// no LU: they become Notifications per controller, taken with take_notifications(). One event seen
// twice (the tracepoint and the uevent, or udevadm's KERNEL and UDEV copies of a uevent) within
// group_window_ns counts once: a controller sends the next such event only after the host read the
// log page. Live: each notification at once; with `hold`: one per controller from finish().
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

// One SCSI path to an LU: its disk and its address (either may be "" when unknown).
struct PathName {
    std::string device;  // "sdq"
    std::string hctl;    // "1:0:0:0"
    bool operator==(const PathName&) const = default;
};

struct LuIdentity {
    std::string key;     // what events group by: the wwid, else "hctl:H:C:T:L" / "dev:sdq" /
                         // "dev:dm-0" / "devnum:8:16"
    std::string wwid;    // "" when unknown
    std::string device;  // kernel name of the whole disk ("sdq"), "" when unknown
    std::string hctl;    // "1:0:0:0", "" when unknown
    std::string sim;     // "sim:SOCKET:LUN" when the LU is a prsim LU, else ""
    // The device-mapper multipath map over the LU's paths, when there is one.
    std::string dm_device;  // "dm-0"
    std::string dm_name;    // the map's name, <sysfs>/block/dm-N/dm/name ("mpatha", "3600140...")
    std::string dm_uuid;    // "mpath-3600140..."
    std::vector<PathName> paths;  // every SCSI path known, in the order learned
    // An NVMe namespace: its NSID (0 when unknown) and the controller it was resolved through
    // ("nvme1", or the subsystem "nvme-subsys1" for a native multipath head; "" when unknown).
    uint32_t nsid = 0;
    std::string ctrl;
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
// An NVM command set opcode: the write group (Flush, Write, Write Uncorrectable, Write Zeroes,
// Dataset Management, Copy, Zone Management Send, Zone Append), the read group (Read, Compare,
// Verify, Zone Management Receive), Reservation Register/Acquire/Release (pr_out) and Report
// (pr_in), as the NVMe base specification's reservation access rules group them.
Access access_of_nvme_opcode(uint8_t opcode) noexcept;

// One kind of refused command on an LU: the failed I/Os with this operation, sector, length and
// path.
struct Command {
    std::string op;  // "READ_10", "READ", "PERSISTENT_RESERVE_OUT", ...; "" when no line said
    Access access = Access::unknown;
    bool has_sector = false;
    uint64_t sector = 0;  // 512-byte sectors when a block-layer line gave it, else the CDB's LBA
    uint32_t blocks = 0;  // transfer length (CDB or tracepoint), 0 when unknown
    std::string device;   // where it failed: "sdq", or "dm-0" when only the map's line named it
    std::string hctl;     // the path's address, "" when unknown
    uint64_t count = 0;
    bool has_time = false;
    int64_t first_seen_ns = 0, last_seen_ns = 0;
};

struct Event {
    LuIdentity lu;
    // The command the LU is judged on (classify.h): the strictest access among `commands` (writes
    // and other data commands, then reads, then PR OUT, then PR IN, then unnamed ones), the first
    // of them on a tie.
    std::string op;  // "READ_10", "WRITE", "PERSISTENT_RESERVE_OUT", ...; "" when no line said
    Access access = Access::unknown;
    bool has_sector = false;
    uint64_t sector = 0;            // 512-byte sectors (block layer) or the CDB's LBA
    uint32_t blocks = 0;            // transfer length when known
    std::vector<Command> commands;  // every kind refused, in order of first failure
    uint64_t unlisted = 0;          // failed I/Os beyond CorrelateOptions::max_commands kinds
    uint64_t count = 0;             // conflicts on this LU so far
    bool has_time = false;
    int64_t first_seen_ns = 0, last_seen_ns = 0;  // line timestamps (see ParsedLine::ts_ns)
    bool update = false;                          // an LU already reported, again
    Source source = Source::bare;
};

// Reservation notifications on one NVMe controller.
struct Notification {
    std::string ctrl;  // "nvme0"
    uint32_t aen = 0;  // the last event's completion dword (0x800006)
    uint64_t count = 0;
    bool has_time = false;
    int64_t first_seen_ns = 0, last_seen_ns = 0;
    bool update = false;  // a controller already reported, again
    Source source = Source::bare;
    bool uevent = false;  // the last one came from a uevent (else from the tracepoint)
};

struct CorrelateOptions {
    int64_t group_window_ns = 1'000'000'000;
    int64_t settle_ns = 3'000'000;
    int64_t summary_interval_ns = 5'000'000'000;
    size_t max_lus = 1u << 16;  // distinct LUs tracked; further LUs fold into the last
    size_t max_commands = 16;   // kinds of command listed per LU; further ones are counted
    bool hold = false;          // report each LU once, from finish() (saved logs)
};

struct CorrelateStats {
    uint64_t lines = 0;           // lines fed
    uint64_t conflict_lines = 0;  // lines that joined or started a group
    uint64_t groups = 0;          // failed I/Os
    uint64_t merges = 0;          // LUs found to be one through a name learned late
    uint64_t events = 0;          // events emitted (updates included)
    uint64_t notifications = 0;   // reservation notifications (one AEN seen twice counts once)
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
    // End of input: everything pending, then a final update per LU whose count or names moved
    // (with `hold`: one event per LU).
    void finish(std::vector<Event>& out);
    // Earliest arrival time at which tick() has something to do (for poll timeouts), if any.
    std::optional<int64_t> next_deadline() const;
    // Moves the reservation notifications that became ready (feed(), finish()) to `out`.
    void take_notifications(std::vector<Notification>& out);

    const CorrelateStats& stats() const { return stats_; }

  private:
    struct Group;
    struct LuState;
    // A FAILED or CDB line no group took (yet).
    struct Recent {
        bool cdb = false;
        bool has_hctl = false;
        Hctl hctl;
        std::string disk;
        std::string alias;  // the name its LU is found by: "hctl:..." or "dev:..."
        int tag = -1;
        bool ok = true;  // FAILED: DID_OK, the host byte a conflict's FAILED line shows
        bool has_opcode = false;
        uint8_t opcode = 0;
        std::string op;
        bool has_sector = false;
        uint64_t sector = 0;
        uint32_t blocks = 0;
        bool has_time = false;
        int64_t ts = 0;
    };
    static LuState* root(LuState* u);
    LuState* lookup(const std::string& alias) const;
    LuState* lu_for(const ParsedLine& l);
    LuState* lu_by_hctl(const Hctl& h);
    LuState* lu_by_disk(std::string_view whole, std::string_view name);
    LuState* lu_by_dm(const ParsedLine& l, int64_t ts);
    LuState* lu_from_identity(LuIdentity id);
    LuState* bind(const std::string& alias, LuState* u);
    LuState* absorb(LuState* u, const LuIdentity& id);
    LuState* learn_tie(const ParsedLine& l);
    LuState* merge(LuState* a, LuState* b);
    void take_recent(LuState& u, const ParsedLine& l, int64_t ts);
    void keep_recent(const ParsedLine& l, int64_t ts);
    void commit(LuState& u);
    void emit_group(LuState& u, std::vector<Event>& out);
    void close_group(LuState& u, std::vector<Event>& out);
    void names_changed(LuState& u, std::vector<Event>& out);
    void make_event(const LuState& u, bool update, std::vector<Event>& out);
    void mark_emitted(LuState& u, int64_t ts, int64_t arrival);
    void expire(int64_t line_ts, std::vector<Event>& out);
    void notice(std::string_view ctrl, uint32_t aen, bool uevent, const ParsedLine& l, int64_t ts,
                int64_t arrival);
    // Pops queued groups from the front while due(group); act(group) on each that is still open.
    template <class Due, class Act>
    void pop_pending(Due due, Act act);

    LuMapper& mapper_;
    CorrelateOptions opt_;
    CorrelateStats stats_;
    std::vector<std::unique_ptr<LuState>> lus_;
    std::unordered_map<std::string, LuState*> by_key_;      // LuIdentity::key
    std::unordered_map<std::string, LuState*> by_alias_;    // "hctl:..", "dev:sdq", "devnum:8:16"
    std::map<std::string, Hctl, std::less<>> ties_;         // disk -> address, from sd lines
    std::unordered_map<std::string, std::string> disk_at_;  // address -> disk, the same ties
    std::deque<Recent> recent_;                             // FAILED/CDB lines no group took
    std::deque<LuState*> pending_;                          // groups not yet emitted, oldest first
    LuState* last_cmd_done_ = nullptr;                      // for tying block_rq_complete to it
    struct LastBlock {
        LuState* lu = nullptr;
        uint64_t seq = 0;
        bool has_time = false;
        int64_t ts = 0;
        bool has_sector = false;
        uint64_t sector = 0;
        Access access = Access::unknown;
    } last_block_;  // the last path block line, for tying a map's line to it
    uint64_t group_seq_ = 0;
    struct NoticeState {
        Notification n;
        bool has_last = false;
        bool last_has_time = false;
        int64_t last_ts = 0, last_arrival = 0;
        uint32_t last_aen = 0;
        bool reported = false;
    };
    std::map<std::string, NoticeState, std::less<>> notices_;  // by controller
    std::vector<std::string> notice_order_;                    // controllers, first seen first
    std::vector<Notification> ready_notices_;
    std::string uevent_ctrl_;  // the controller the uevent being read is on
};

}  // namespace prfence::prexplain
