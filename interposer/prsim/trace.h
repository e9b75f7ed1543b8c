// SPDX-License-Identifier: MIT
// prsim trace events in the kernel's own text formats, so that tools written against a real host
// (prexplain, log scrapers) can be tested against prsim:
//  - every completion: the scsi:scsi_dispatch_cmd_done tracepoint line as ftrace prints it, with
//  ftrace's
//    "comm-pid [cpu] flags timestamp: " prefix (include/trace/events/scsi.h,
//    drivers/scsi/scsi_trace.c, kernel/trace/trace_output.c);
//  - every RESERVATION CONFLICT: the dmesg lines the SCSI midlayer and the block layer print, in
//  dmesg's
//    "[seconds.micros] " form (scsi_error.c, scsi_logging.c, blk-core.c / blk-mq.c).
// The formatters are pure functions of an event; TraceSink buffers the text and writes it without
// ever blocking the server (a full FIFO drops events and counts them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"

namespace prfence::sim {

// Which kernel's formats to print. Only these differences exist between 5.15 and 6.12:
//  - scsi_dispatch_cmd_done gained "driver_tag=%d scheduler_tag=%d" in 6.0 and " sense=(key=%#x
//  asc=%#x
//    ascq=%#x)" in 6.5;
//  - the block layer's line starts "blk_update_request: critical nexus error" up to 5.15, "critical
//  nexus
//    error" from 5.16, and "reservation conflict error" from 6.5 (BLK_STS_RESV_CONFLICT).
struct KernelVersion {
    int major = 6;
    int minor = 1;
    bool has_tags() const { return major >= 6; }
    bool has_sense() const { return major > 6 || (major == 6 && minor >= 5); }
    bool blk_update_prefix() const { return major < 5 || (major == 5 && minor <= 15); }
    bool resv_conflict_status() const { return has_sense(); }
};
// "5.15", "6.1", "6.12" (any "major.minor" from 5.0 on is accepted and mapped by the rules above).
Result<KernelVersion> parse_kernel_version(std::string_view text);
std::string kernel_version_string(KernelVersion v);

struct TraceStyle {
    KernelVersion kernel;
    std::string comm =
        "prsim";  // the task name ftrace shows (at most 16 characters are meaningful)
    int pid = 0;
    std::string irq_flags =
        ".....";                    // the latency-format flags column (irqs-off, need-resched, ...)
    bool scheduler_tags = true;     // mq-deadline: scheduler_tag = driver_tag; false ("none"): -1
    uint32_t read_flags = 0x800;    // block layer cmd_flags printed for READs (REQ_SYNC)
    uint32_t write_flags = 0x8800;  // and for WRITEs (REQ_SYNC | REQ_IDLE)
    unsigned prio_class = 2;        // IOPRIO_CLASS_BE
};

// One completion as the trace sees it.
struct CompletionEvent {
    int64_t ts_ns = 0;  // CLOCK_MONOTONIC (the kernel's clocks count from boot too)
    int cpu = 0;
    uint32_t host = 0, channel = 0, id = 0, lun = 0;
    int driver_tag = 0;
    ByteView cdb;
    uint32_t data_len = 0;  // bytes of data-out or the allocation length (sets data_sgl / phys_seg)
    uint8_t status = 0;
    uint8_t host_byte = 0;
    ByteView sense;          // with CHECK CONDITION
    int64_t cmd_age_ns = 0;  // completion time minus arrival time
    uint32_t block_size = 512;
    std::string_view disk;  // "sdb"
};

// The disk name the sd driver gives its index-th disk: sda..sdz, sdaa..sdzz, sdaaa...
std::string sd_disk_name(uint64_t index);

// "READ_10 lba=0 txlen=8 protect=0 raw=28 00 00 00 00 00 00 00 08 00": the part between "cmnd=("
// and ")".
std::string ftrace_cmnd(ByteView cdb);

// Appends one scsi_dispatch_cmd_done line (ending in '\n').
void format_cmd_done(std::string& out, const CompletionEvent& e, const TraceStyle& st);
// Whether a command is block-layer I/O in prsim's model (READ/WRITE 6/10/12/16): its conflicts
// print the FAILED, CDB and block-layer lines; every other command is SG_IO passthrough, for which
// the kernel prints only "reservation conflict".
bool is_block_io(uint8_t opcode) noexcept;
// Appends the dmesg lines the kernel prints for a RESERVATION CONFLICT completion (1 line for
// passthrough commands, 4 for block I/O). Nothing for other statuses.
void format_conflict_dmesg(std::string& out, const CompletionEvent& e, const TraceStyle& st);

// Buffered, never-blocking writer for trace text. A regular file is truncated and written with
// ordinary writes; a FIFO is opened O_RDWR|O_NONBLOCK (so opening never waits for a reader and a
// reader that goes away never raises SIGPIPE) and written only as far as it accepts; whatever does
// not fit in the buffer limit is dropped, whole events at a time, and counted.
class TraceSink {
  public:
    static Result<std::unique_ptr<TraceSink>> open(const std::string& path,
                                                   size_t max_buffer = 8u << 20);
    ~TraceSink();
    TraceSink(const TraceSink&) = delete;
    TraceSink& operator=(const TraceSink&) = delete;

    // Queues one event's text (one or more complete lines); drops it when the buffer is full.
    void append(std::string_view text);
    // Writes as much as the file accepts without blocking. Returns false on a write error other
    // than EAGAIN (the sink then drops everything from now on and counts it).
    bool flush();
    bool pending() const { return buf_.size() > off_; }
    // Whether the fd can be waited on with epoll (FIFOs, sockets, ttys; not regular files).
    bool pollable() const { return pollable_; }
    int fd() const { return fd_; }
    uint64_t dropped_events() const { return dropped_events_; }
    uint64_t dropped_bytes() const { return dropped_bytes_; }
    uint64_t written_bytes() const { return written_bytes_; }

  private:
    TraceSink() = default;
    int fd_ = -1;
    bool pollable_ = false;
    bool broken_ = false;
    size_t max_buffer_ = 0;
    std::string buf_;
    size_t off_ = 0;
    uint64_t dropped_events_ = 0, dropped_bytes_ = 0, written_bytes_ = 0;
};

}  // namespace prfence::sim
