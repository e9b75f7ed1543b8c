// SPDX-License-Identifier: MIT
// prexplain's line parser: one line of a kernel log or of a trace file in, the facts a reservation
// conflict leaves in it out. Pure: no I/O, no allocation; every string_view in a ParsedLine points
// into the line given, so a caller that keeps one past the line's lifetime copies it (the
// correlator does, once per event, not per line).
//
// Line framings recognised (the prefix is stripped, its timestamp kept):
//   dmesg                "[   20.093091] MSG"                      (seconds since boot)
//   dmesg -x             "kern  :err   : [   20.093091] MSG"
//   /dev/kmsg            "6,1234,20093091,-;MSG"                  (microseconds since boot);
//                        continuation lines (" SUBSYSTEM=scsi") are not messages and are skipped
//   journalctl (short)   "Nov 25 22:33:24 host kernel: MSG"      (wall clock, no year; also with
//                                                                 ".123456" as -o short-precise)
//   journalctl -o short-iso  "2024-11-25T22:33:24+0100 host kernel: MSG" (also with fractions)
//   journalctl -o short-monotonic "[   12.345678] host kernel: MSG"
//   ftrace (trace, trace_pipe, trace-cmd report)
//                        "  comm-pid  [001] b.s4.  43.703929: EVENT: FIELDS"
//                        (with or without the flags column)
//   bare                 "MSG" (what a script pasted without timestamps)
//
// Messages recognised (every kernel generation from 4.x to 6.12; drivers/scsi/scsi_lib.c,
// block/blk-core.c and include/trace/events/scsi.h print them; tests/vm/fixtures holds real
// captures):
//   sd_conflict      "sd H:C:T:L: reservation conflict"
//   failed_result    "sd H:C:T:L: [sdX] tag#N FAILED Result: hostbyte=... driverbyte=...
//                    cmd_age=Ns" (also without "tag#N", and the older "[sdX]  Result: ...")
//   cdb              "sd H:C:T:L: [sdX] tag#N CDB: Read(10) 28 00 ..."
//                    (also "CDB: Read(10): 28 ...")
//   sd_name          any other "sd H:C:T:L: [sdX] ..." ("[sdc] Attached SCSI disk", "[sdc] tag#16
//                    Sense Key : ..."): never a conflict, it ties the disk name to its address
//   block_error      "[FUNC: ]STATUS error, dev sdX, sector N[ op 0x0:(READ) flags ...]" (also on a
//                    device-mapper map: "dev dm-0", printed right after its path's line) where FUNC
//                    is blk_update_request (<= 5.15) or print_req_error (4.17-5.0) and STATUS
//                    "critical nexus" (BLK_STS_NEXUS, <= 6.4) or "reservation conflict" (6.5+);
//                    other statuses ("I/O", "critical target", ...) parse with conflict = false
//   buffer_io        "Buffer I/O error on dev sdc1, logical block N[, async page read]" (or dm-0)
//   trace_cmd_done   scsi:scsi_dispatch_cmd_done with and without driver_tag/scheduler_tag, with
//                    and without " sense=(key=.. asc=.. ascq=..)"; conflict when the status is
//                    SAM_STAT_RESERVATION_CONFLICT (or 0x18) or the host byte DID_NEXUS_FAILURE
//   trace_rq_complete block:block_rq_complete "MAJ,MIN RWBS (CMD) SECTOR + NR [IOPRIO ][ERR]";
//                    conflict when ERR is -52 (EBADE)
//   nvme_error       drivers/nvme/host/core.c nvme_log_error (5.19+), printed before the block
//                    layer's line for the same request:
//                    "nvmeXnY: NAME(0xOP) @ LBA N, N blocks, STATUS (sct 0xT / sc 0xC) [MORE ][DNR
//                    ]" where NAME/STATUS are "I/O Cmd"/"I/O Error" unless the kernel is built with
//                    CONFIG_NVME_VERBOSE_ERRORS ("Write"/"Reservation Conflict"); the disk is
//                    "nvmeXcYnZ" for a path of a native multipath head. The passthrough form
//                    (nvme_log_err_passthru, 6.9+, only with the controller's
//                    passthru_err_log_enabled set) has no LBA: "nvmeXnY: NAME(0xOP), STATUS (sct ..
//                    / sc ..) [MORE ][DNR ]cdw10=0x.. ... cdw15=0x..", and admin commands name the
//                    controller ("nvme0: ..."). conflict when SCT/SC decode to Reservation Conflict
//                    (0/83h); the LBA is in logical blocks, not 512-byte sectors
//   nvme_aen         nvme:nvme_async_event "nvmeN: NVME_AEN=0x800006 [NVME_AER_CSS]" (the symbol
//                    may be absent or the value in hex): an asynchronous event on controller nvmeN
//   uevent_dev       the header or DEVPATH of a uevent on an NVMe controller, as udevadm monitor
//                    prints it ("KERNEL[123.456789] change   /devices/.../nvme0 (nvme)", "UDEV
//                    [...]
//                    ...", "DEVPATH=/devices/.../nvme0") or the netlink message starts
//                    ("change@/devices/.../nvme0"): names the controller the next NVME_AEN= is on
//   uevent_aen       "NVME_AEN=0x800006", the property nvme_aen_uevent adds (no controller: see
//                    uevent_dev)
// Anything else (the vast majority of a kernel log) is nullopt, as is anything malformed: the
// parser never reads outside the line and never fails otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace prfence::prexplain {

enum class Source : uint8_t { bare, dmesg, kmsg, journal, trace };

enum class LineKind : uint8_t {
    sd_conflict,
    failed_result,
    cdb,
    block_error,
    buffer_io,
    trace_cmd_done,
    trace_rq_complete,
    sd_name,
    nvme_error,
    nvme_aen,
    uevent_dev,
    uevent_aen,
};

const char* source_name(Source s) noexcept;
const char* line_kind_name(LineKind k) noexcept;

struct Hctl {
    uint32_t host = 0, channel = 0, id = 0;
    uint64_t lun = 0;
    bool operator==(const Hctl&) const = default;
};

struct ParsedLine {
    Source source = Source::bare;
    LineKind kind = LineKind::sd_conflict;
    // Timestamp in nanoseconds: since boot for dmesg, kmsg, trace and short-monotonic; for
    // journalctl's wall-clock forms, since the start of the (unknown) year (short) or the epoch
    // (iso).
    bool has_time = false;
    int64_t ts_ns = 0;
    // Whether this line reports a reservation conflict by itself (FAILED/CDB/buffer_io lines are
    // parts of a conflict only when the correlator saw one on that device).
    bool conflict = false;

    bool has_hctl = false;
    Hctl hctl;
    std::string_view disk;  // "sdq", "sdc1", "dm-0" (block_error, failed_result, cdb, buffer_io,
                            // sd_name)
    bool has_devnum = false;
    uint32_t major = 0, minor = 0;  // trace_rq_complete

    // What the command was: "READ"/"WRITE" (block_error's op), "Read(10)" (cdb), "READ_10",
    // "PERSISTENT_RESERVE_OUT" (trace_cmd_done), the rwbs "RS"/"WS"/"N" (trace_rq_complete).
    std::string_view op;
    bool has_opcode = false;
    uint8_t opcode = 0;  // cdb, trace_cmd_done (from the raw bytes)
    bool has_sector = false;
    uint64_t sector = 0;  // 512-byte sectors (block_error, rq_complete), LBA (cdb, cmd_done),
                          // logical block (buffer_io)
    uint32_t count = 0;   // sectors (rq_complete) or blocks (cdb, cmd_done: txlen)

    std::string_view status;     // "critical nexus", "reservation conflict", "SAM_STAT_...", "-52"
    std::string_view host_byte;  // "DID_OK" (failed_result, trace_cmd_done)
    std::string_view driver_byte;  // "DRIVER_OK"
    int tag = -1;                  // tag#N, driver_tag
    int error = 0;                 // trace_rq_complete: -52
    bool has_sense = false;
    uint8_t sense_key = 0, asc = 0, ascq = 0;

    // NVMe (nvme_error): `opcode` is an NVMe opcode (has_opcode), `op` the kernel's name for it,
    // `status` the kernel's status text, `sector` the LBA in logical blocks, `count` the blocks.
    bool nvme = false;
    uint8_t sct = 0, sc = 0;
    bool more = false, dnr = false;
    // nvme_aen, uevent_dev: the controller ("nvme0"); nvme_aen, uevent_aen: the completion dword
    // of the Asynchronous Event Request (type bits 2:0, info 15:8, log page 23:16).
    std::string_view ctrl;
    bool has_aen = false;
    uint32_t aen = 0;
};

// Whether an asynchronous event result says "Reservation Log Page Available" (type 6, I/O command
// specific status; info 0; log page 80h).
constexpr bool is_reservation_aen(uint32_t aen) {
    return (aen & 0x7) == 6 && ((aen >> 8) & 0xff) == 0 && ((aen >> 16) & 0xff) == 0x80;
}

// Parses one line (a trailing '\n' or "\r\n" is allowed). Never throws, never allocates.
std::optional<ParsedLine> parse_line(std::string_view line) noexcept;

// A uevent as the kernel multicasts it (NETLINK_KOBJECT_UEVENT): "ACTION@DEVPATH" then
// "KEY=VALUE" strings, each '\0'-terminated; returns them in order (views into `msg`, empty ones
// dropped): the lines udevadm monitor --kernel --property would print, for parse_line. Messages
// from udevd ("libudev" magic) give nothing.
std::vector<std::string_view> uevent_lines(std::string_view msg);

// "1:0:1:0" -> Hctl (all four parts decimal, nothing else).
std::optional<Hctl> parse_hctl(std::string_view s) noexcept;

}  // namespace prfence::prexplain
