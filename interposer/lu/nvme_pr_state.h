// SPDX-License-Identifier: MIT
// prsim's NVMe reservation state machine for one namespace (NVMe Base Specification 2.0,
// "Reservations"; NVM Command Set: Reservation Register / Report / Acquire / Release; the
// Reservation Notification log page 80h and the Reservation Notification Mask feature 82h).
//
// NvmePrState holds the registrants (one per host identifier), the reservation (holder and RTYPE),
// the generation, the PTPL state and the reservation notification mask. It is pure data: commands
// come in decoded (wire/nvme_types.h), results go out as a 16-bit NVMe status word plus side
// effects (notifications for controllers, hosts whose in-flight commands a Preempt and Abort must
// drain). The notifications go to NvmeNotificationLog, one per controller and shared by every
// namespace the controller reaches: the owner of the controllers (prsim's NvmeFarm) queues each
// notification on the log of the controller it names. Encoding the Report data and the log page
// is the codec's job.
//
// Registrants are hosts, not controllers or paths: a host that connects through a second controller
// with the same host identifier is the same registrant (as if every SCSI registration had
// ALL_TG_PT set). Controllers are known to the state by their controller id and host identifier;
// a command from an unknown controller attaches it.
//
// Where the standard is a table, so is this file: the I/O access matrix per RTYPE and the RTYPE
// properties are constexpr tables below.
//
// Behaviour follows Linux's NVMe target (drivers/nvme/target/pr.c, "nvmet") wherever the
// specification leaves room, since that is the target prfence meets in its guest tests:
// - Register of a new host takes NRKEY and ignores CRKEY and IEKEY; NRKEY 0 is a key like any
//   other. Register by a registrant with its own key succeeds (and counts as a change of
//   generation), with another key it is a Reservation Conflict whatever IEKEY says.
// - Unregister and Replace need CRKEY to match unless IEKEY is set; by a non-registrant they are
//   a Reservation Conflict even with IEKEY.
// - Acquire and Release with IEKEY set are Invalid Field; Acquire (any action) with RTYPE outside
//   1..6 is Invalid Field. Release does not check the RTYPE range: a holder releasing with any
//   other RTYPE gets a Reservation Conflict, a non-holder registrant success (no-op). Clear ignores
//   RTYPE.
// - Reservation commands other than Register from a non-registrant or with a wrong CRKEY are a
//   Reservation Conflict, checked before the action value (a reserved action then is Invalid
//   Opcode).
// - Generation: +1 on every successful Register (re-register included), Unregister, Replace,
//   Preempt, Preempt and Abort and Clear; never on Acquire, Release or a failure.
// - Preempt (and Preempt and Abort): without a reservation, every registrant whose key is PRKEY is
//   unregistered (the sender too if its key matches; none -> Reservation Conflict). Under an
//   all-registrants type, PRKEY 0 makes the sender the holder with the new RTYPE and unregisters
//   every other host; another PRKEY unregisters the hosts with that key (none -> conflict) and
//   leaves the reservation alone. Otherwise: the holder preempting itself changes the RTYPE (PRKEY
//   is not looked at); PRKEY equal to the holder's key makes the sender the holder with the new
//   RTYPE and unregisters the other hosts with that key (key 0 included: a holder registered with
//   key 0 is preempted by PRKEY 0); another non-zero PRKEY unregisters those hosts (none ->
//   conflict); PRKEY 0 is Invalid Field.
// - Unregistering the holder of a registrants-only reservation releases it; of an all-registrants
//   one, the reservation stays while any registrant is left.
// - nvmet keeps one "holder" registrant even for the all-registrants types (the host that
//   acquired, then the oldest remaining registrant when it leaves): only that host's Acquire of the
//   same type succeeds (another registrant's is a conflict) and only its Release releases (another
//   registrant's is a no-op). Report and the I/O check still treat every registrant as a holder.
//   The specification (and SPDK) make every registrant a holder for Acquire and Release too: that
//   is the spdk profile.
// - Notifications (log page types 1..3), as nvmet sends them: every host a Preempt unregisters
//   (except the sender) gets "registration preempted"; when a Preempt changes the RTYPE, or a
//   registrants-only or all-registrants reservation is released (Release, or Unregister of the
//   holder), every other registrant gets "reservation released"; Clear sends "reservation
//   preempted" to every other registrant. Each goes to every attached controller of the host,
//   unless the mask suppresses the type.
// - Notification mask: nvmet stores one mask per namespace (struct nvmet_pr's notify_mask: Set
//   Features 82h from any controller changes it for every host, with NSID FFFFFFFFh for every
//   namespace); the spdk profile keeps it per controller and namespace. Bits other than 1..3 are
//   Invalid Field.
// - Notification log: per controller, not per namespace (nvmet's pr_log_mgr hangs off the
//   controller): see NvmeNotificationLog.
// - Status words: nvmet sets DNR on every reservation error, and MORE where it records an error
//   location (I/O conflict, Report format and length errors, reserved action values, a bad mask).
//   SPDK sets neither.
// - PTPL: nvmet ignores CPTPL and reports PTPLS 0. With ptpl_supported, CPTPL 3 sets and 2 clears
//   the state after a successful Register. Without it, the spdk profile answers CPTPL 3 with
//   Invalid Field (SPDK without a PTPL file), checked before anything else.
// - Report: with 128-bit host identifiers (nvmet always) EDS 0 is Host Identifier Inconsistent
//   Format; a buffer shorter than the header is Invalid Field; registrants that do not fit are
//   counted in REGCTL but not listed. CNTLID is 0xffff under the dynamic controller model (nvmet),
//   else the controller the host last issued a reservation command through.
// - Preempt and Abort: nvmet does not abort, it waits for the preempted hosts' in-flight commands
//   to drain; the result names those hosts (never the sender) and the owner does the waiting.
//
// The spdk profile is not a model of SPDK as a whole; it changes only: CPTPL 3 without PTPL
// support, NRKEY 0 on a new registration or a Replace (Invalid Field), all-registrants holder
// semantics, the per-controller mask and the plain status words.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "uring_engine/wire/nvme_report.h"
#include "uring_engine/wire/nvme_types.h"

namespace prfence::sim {

// ---------------------------------------------------------------------------------------------------------
// Reservation types and the I/O access matrix (NVMe Base Specification, "Command Behavior in the
// Presence of a Reservation").

struct RtypeRow {
    wire::nvme::Rtype type;
    bool all_registrants;    // every registrant is a holder
    bool notify_on_release;  // releasing it tells the other registrants (registrants-only and
                             // all-registrants types)
    std::array<bool, 2> registrant;      // {read, write} for a registrant that does not hold it
    std::array<bool, 2> non_registrant;  // {read, write} for a host that is not registered
};

inline constexpr RtypeRow kRtypeTable[] = {
    // type, all-registrants, notify on release, {read, write} registrant, non-registrant
    {wire::nvme::Rtype::write_exclusive, false, false, {true, false}, {true, false}},
    {wire::nvme::Rtype::exclusive_access, false, false, {false, false}, {false, false}},
    {wire::nvme::Rtype::write_exclusive_registrants_only, false, true, {true, true}, {true, false}},
    {wire::nvme::Rtype::exclusive_access_registrants_only,
     false,
     true,
     {true, true},
     {false, false}},
    {wire::nvme::Rtype::write_exclusive_all_registrants, true, true, {true, true}, {true, false}},
    {wire::nvme::Rtype::exclusive_access_all_registrants, true, true, {true, true}, {false, false}},
};

// The index in kRtypeTable of a raw RTYPE byte; -1 outside 1..6. An index, not a pointer: GCC's
// sanitizers make a pointer's null test non-constant, and the static_asserts below need it.
constexpr int rtype_index(uint8_t rtype) {
    for (size_t i = 0; i < std::size(kRtypeTable); ++i)
        if (static_cast<uint8_t>(kRtypeTable[i].type) == rtype) return static_cast<int>(i);
    return -1;
}
// The row of a raw RTYPE byte; nullptr outside 1..6.
inline const RtypeRow* rtype_row(uint8_t rtype) {
    const int i = rtype_index(rtype);
    return i < 0 ? nullptr : &kRtypeTable[i];
}

// The two command groups a reservation gates (read: Read, Zone Management Receive; write: Flush,
// Write, Write Zeroes, Dataset Management, Zone Append, Zone Management Send). Admin commands and
// every other I/O command are never blocked; reservation commands have their own rules.
enum class IoKind : uint8_t { read = 0, write = 1 };

enum class NvmeRelation : uint8_t { holder, registrant, non_registrant };

// Whether an I/O command of `kind` from a host with `rel` may run under a reservation of `rtype`.
// No reservation (0) allows everything; an unknown RTYPE allows everything (nvmet warns and lets
// the command through; the state never holds one).
constexpr bool nvme_access_allowed(uint8_t rtype, NvmeRelation rel, IoKind kind) {
    if (rel == NvmeRelation::holder) return true;
    const int i = rtype_index(rtype);
    if (i < 0) return true;
    const RtypeRow& row = kRtypeTable[i];
    const auto& cols = rel == NvmeRelation::registrant ? row.registrant : row.non_registrant;
    return cols[static_cast<size_t>(kind)];
}

static_assert(nvme_access_allowed(1, NvmeRelation::non_registrant, IoKind::read));
static_assert(!nvme_access_allowed(1, NvmeRelation::registrant, IoKind::write));
static_assert(!nvme_access_allowed(2, NvmeRelation::registrant, IoKind::read));
static_assert(nvme_access_allowed(3, NvmeRelation::registrant, IoKind::write));
static_assert(!nvme_access_allowed(3, NvmeRelation::non_registrant, IoKind::write));
static_assert(!nvme_access_allowed(6, NvmeRelation::non_registrant, IoKind::read));
static_assert(nvme_access_allowed(5, NvmeRelation::non_registrant, IoKind::read));

// ---------------------------------------------------------------------------------------------------------
// Notifications (log page 80h).

using NotificationType = wire::nvme::LogType;

// Feature 82h CDW11 bits: a set bit suppresses that notification type.
inline constexpr uint32_t kMaskRegistrationPreempted = 1u << 1;
inline constexpr uint32_t kMaskReservationReleased = 1u << 2;
inline constexpr uint32_t kMaskReservationPreempted = 1u << 3;
inline constexpr uint32_t kMaskAll =
    kMaskRegistrationPreempted | kMaskReservationReleased | kMaskReservationPreempted;

// A controller: its id in the subsystem and the host it belongs to.
struct NvmeController {
    wire::nvme::HostId hostid{};
    uint16_t cntlid = 0;
};

// A notification the command sends to one controller: its owner queues it on that controller's log
// (NvmeNotificationLog::add, with the namespace's NSID).
struct NvmeNotification {
    uint16_t cntlid = 0;
    wire::nvme::HostId hostid{};
    NotificationType type = NotificationType::empty;
};

struct NvmePrResult {
    uint16_t status = 0;  // NVMe status word: SC 7:0, SCT 10:8, MORE 13, DNR 14; 0 = success
    std::vector<NvmeNotification> notifications;
    // Preempt and Abort: hosts (never the sender) whose in-flight commands on this namespace are to
    // be drained before the command completes.
    std::vector<wire::nvme::HostId> aborted;
    bool state_changed = false;  // registrants, reservation, generation or PTPL changed
};

struct NvmeReportResult {
    uint16_t status = 0;
    wire::nvme::ReservationStatus data;
};

enum class NvmeProfile : uint8_t { nvmet, spdk };

struct NvmePrConfig {
    NvmeProfile profile = NvmeProfile::nvmet;
    bool ptpl_supported = false;  // RESCAP bit 0: CPTPL 3 is honoured
    bool dynamic_cntlid = true;   // Report gives CNTLID 0xffff (the NVMe-oF dynamic model)
    bool hostid_128 = true;       // 128-bit host identifiers: Report needs EDS
    uint32_t nsid = 1;            // the namespace's NSID (for the owner's log entries)
};

// A controller's Reservation Notification log (log page 80h), as nvmet keeps it
// (drivers/nvme/target/pr.c, struct nvmet_pr_log_mgr): one bounded queue per controller (nvmet:
// NVMET_PR_LOG_QUEUE_SIZE, 64 entries) that every namespace of the subsystem adds to, each entry
// naming its NSID; Get Log Page 80h through any namespace (or none) takes the oldest entry. The
// count is a 64-bit per-controller counter (0 skipped on wrap); an entry that does not fit is lost
// and counted (nvmet logs "a reservation log lost, cntlid:N, log_type:T, nsid:N" then), and the
// entry read before a gap carries the count of the last lost one, as nvmet reports it.
class NvmeNotificationLog {
  public:
    static constexpr size_t kNvmetCapacity = 64;
    explicit NvmeNotificationLog(size_t capacity = kNvmetCapacity) : capacity_(capacity) {}

    // Queues an entry of `type` for namespace `nsid`; false when the log was full and the entry
    // was lost.
    bool add(NotificationType type, uint32_t nsid);
    // Get Log Page 80h: the oldest entry (its count covering the lost ones after it, `available`
    // the entries left), or an empty one (type 0, count 0).
    wire::nvme::ReservationLog take();
    size_t queued() const { return log_.size(); }
    uint64_t lost() const { return lost_total_; }  // entries lost since the controller came
    size_t capacity() const { return capacity_; }

  private:
    size_t capacity_;
    uint64_t counter_ = 0;
    uint64_t pending_lost_ = 0;  // lost since the last queued entry, owed to the next take
    uint64_t lost_total_ = 0;
    std::deque<wire::nvme::ReservationLog> log_;
};

class NvmePrState {
  public:
    explicit NvmePrState(NvmePrConfig cfg = {});

    // Controllers. attach is implicit for a command from an unknown controller id; attaching a
    // known id with another host identifier makes it a new controller (spdk profile: mask 0).
    // Notifications go only to attached controllers.
    void attach(const NvmeController& c);
    void detach(uint16_t cntlid);

    NvmePrResult execute_register(const NvmeController& c, const wire::nvme::RegisterCmd& cmd);
    NvmePrResult execute_acquire(const NvmeController& c, const wire::nvme::AcquireCmd& cmd);
    NvmePrResult execute_release(const NvmeController& c, const wire::nvme::ReleaseCmd& cmd);
    // The Reservation Status data for a buffer of 4 * (numd + 1) bytes.
    NvmeReportResult report(const NvmeController& c, const wire::nvme::ReportCmd& cmd);
    // The whole state as an unbounded EDS report would give it.
    wire::nvme::ReservationStatus status() const;

    // Reservation check of an I/O command of the read or write group; 0 when it may run.
    uint16_t check_io(const NvmeController& c, IoKind kind);

    // Set / Get Features 82h. set: Invalid Field for bits outside 1..3.
    uint16_t set_notification_mask(const NvmeController& c, uint32_t mask);
    uint32_t notification_mask(const NvmeController& c);

    NvmeRelation relation(const wire::nvme::HostId& host) const;
    uint8_t rtype() const { return rtype_; }
    uint32_t generation() const { return generation_; }
    bool ptpl() const { return ptpl_; }
    size_t registrants() const { return regs_.size(); }
    const NvmePrConfig& config() const { return cfg_; }

    // "" when every invariant holds, else what is wrong.
    std::string check_invariants() const;

  private:
    struct Reg {
        wire::nvme::HostId hostid{};
        uint64_t key = 0;
        uint16_t cntlid = 0;
    };
    struct Ctrl {
        wire::nvme::HostId hostid{};
        uint32_t mask = 0;  // spdk profile
    };

    Ctrl& ctrl(const NvmeController& c);
    Reg* find(const wire::nvme::HostId& host);
    const Reg* find(const wire::nvme::HostId& host) const;
    bool is_holder(const wire::nvme::HostId& host) const;
    bool all_registrants() const;
    uint16_t error(uint8_t sc, bool error_location = false) const;
    void unregister_one(NvmePrResult& r, const wire::nvme::HostId& host);
    // Unregisters every host with `key` (the sender only when `include_sender`); notifies and lists
    // for abort those other than the sender. Returns how many hosts went.
    size_t unregister_by_key(NvmePrResult& r, uint64_t key, const wire::nvme::HostId& sender,
                             bool include_sender, bool abort);
    size_t unregister_others(NvmePrResult& r, const wire::nvme::HostId& sender, bool abort);
    void notify_host(NvmePrResult& r, const wire::nvme::HostId& host, NotificationType type);
    void notify_released(NvmePrResult& r, const wire::nvme::HostId& except);
    NvmePrResult preempt(const wire::nvme::HostId& sender, const wire::nvme::AcquireCmd& cmd);

    NvmePrConfig cfg_;
    std::vector<Reg> regs_;                     // registration order
    std::optional<wire::nvme::HostId> holder_;  // nvmet's holder registrant when rtype_ != 0
    uint8_t rtype_ = 0;
    uint32_t generation_ = 0;
    bool ptpl_ = false;
    uint32_t ns_mask_ = 0;  // nvmet profile: one mask for the namespace
    std::map<uint16_t, Ctrl> ctrls_;
};

}  // namespace prfence::sim
