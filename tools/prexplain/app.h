// SPDX-License-Identifier: MIT
// prexplain's command line: inputs (files, stdin, /dev/kmsg, a tracefs instance, the kernel's
// uevent socket, a followed file or FIFO), the parse -> correlate -> query -> classify pipeline,
// and its outputs (one human line or one JSON line per event or NVMe reservation notification, the
// --on-fenced hook, an EventSink for prfenced's subscribers: conflict events only).
//
// Exit codes: 0 no conflict seen, 24 conflicts or NVMe reservation notifications seen (one-shot
// and live modes alike), 1 bad usage,
// 15 an input could not be read (or the tracefs instance not set up).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/prexplain/classify.h"
#include "tools/prexplain/correlate.h"
#include "uring_engine/common/result.h"

namespace prfence::prexplain {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitInput = 15;
inline constexpr int kExitConflicts = 24;

// One event with its diagnosis: what every output is rendered from.
struct Explained {
    Event event;
    Diagnosis diag;
    std::optional<uint64_t> our_key;
    std::string group;  // the prfenced group the LU belongs to (--daemon), "" when unknown
};

// The JSON object (one line, no newline) and the human line (no newline) of an event: one LU's
// story. JSON fields: class, reason, device, hctl, wwid (the LU's first path and WWID), sim, op,
// access, sector, blocks (the command the class was judged on: see Event), count, first_seen,
// last_seen (seconds, as the log's clock counts), update, source, group (prfenced's, with --daemon;
// null otherwise), our_key, holder_key ("0x..." or null), type (abbreviation, null when nothing is
// reserved), type_name, registered, preempted_by (keys), holders (TransportIDs from READ FULL
// STATUS), paths ([{device, hctl}], every SCSI path known), map ({device, name, uuid} of the
// dm-multipath map, or null), commands ([{op, access, sector, blocks, device, hctl, count,
// first_seen, last_seen}], every kind of command refused), unlisted (failed I/Os beyond the kinds
// listed).
// NVMe namespaces add, at the end: nsid, ctrl, hostid (ours), registrants ([{key, hostid, holds,
// ours}], the Report's).
std::string event_json(const Explained& e);
std::string event_text(const Explained& e);

// A reservation notification on an NVMe controller, with what each of its namespaces says now.
struct ExplainedNotice {
    Notification notice;
    struct Namespace {
        std::string device;  // "nvme0n1"
        uint32_t nsid = 0;   // 0 when unknown
        bool queried = false;
        Diagnosis diag;  // as for a write refused on it (queried only)
    };
    std::vector<Namespace> namespaces;  // the controller's, from sysfs ("" when none known)
    std::string our_hostid;             // the controller's hostid, "" when unknown
    std::string note;                   // what could not be done, or how to read the log
};
// JSON fields: event ("reservation_notification"), ctrl, aen, log_page, count, first_seen,
// last_seen, update, source ("trace", "uevent", ...), hostid, namespaces ([{device, nsid, class,
// reason}]), note.
std::string notification_json(const ExplainedNotice& x);
std::string notification_text(const ExplainedNotice& x);

// Where events go besides stdout. --forward SOCKET hands them to prfenced's subscribers through an
// implementation of this interface (the prfenced client plugs in via open_forward_sink).
class EventSink {
  public:
    virtual ~EventSink() = default;
    // `json` is event_json(e). Must not block for long: live mode promises milliseconds.
    virtual Status send(const Explained& e, std::string_view json) = 0;
};

// The --forward sink: every event goes to prfenced (CMD_CONFLICT), which hands it to its
// subscribers. Fails when the daemon cannot be reached at start; later failures are reported per
// event.
Result<std::unique_ptr<EventSink>> open_forward_sink(const std::string& socket);

// The whole program (main() calls only this).
int run(int argc, char** argv);

}  // namespace prfence::prexplain
