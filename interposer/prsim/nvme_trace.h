// SPDX-License-Identifier: MIT
// prsim's NVMe trace events in the kernel's text formats, next to the SCSI ones of trace.h:
//  - every NVMe command: the nvme:nvme_setup_cmd tracepoint line when it arrives and the
//    nvme:nvme_complete_rq line when it is answered, as ftrace prints them
//    (drivers/nvme/host/trace.h and trace.c, kernel/trace/trace_output.c);
//  - every read or write refused by a reservation: the two dmesg lines the host prints for a
//    failed block-layer request (nvme_log_error in drivers/nvme/host/core.c, as a kernel built
//    without CONFIG_NVME_VERBOSE_ERRORS words it, then the block layer's error line).
// Pure formatters; the text goes to the same TraceSink as the SCSI events.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "interposer/prsim/trace.h"

namespace prfence::sim {

// One NVMe command as the trace sees it.
struct NvmeTraceEvent {
    int64_t ts_ns = 0;  // CLOCK_MONOTONIC
    int cpu = 0;
    int ctrl_instance = 0;  // the N of nvmeN
    std::string_view disk;  // "nvme0n1" for I/O commands; empty for admin commands (no disk)
    int qid = 0;            // 0 admin, 1 I/O
    int cid = 0;            // the command's slot on its connection
    uint8_t opcode = 0;
    uint32_t nsid = 0;
    std::array<uint32_t, 6> cdw{};  // CDW10..CDW15
    uint64_t result = 0;
    uint16_t status = 0;  // Linux's form (DNR, MORE included)
    // Block-layer view of a read or write refused by a reservation.
    uint64_t slba = 0;
    uint32_t blocks = 0;
    uint32_t block_size = 512;
};

// The symbol ftrace prints for an opcode ("nvme_cmd_resv_register", "nvme_admin_identify"), or
// "0x%x" for opcodes the kernel has no name for.
std::string nvme_opcode_symbol(int qid, uint8_t opcode);
// trace.c's parse of CDW10..CDW15 ("rrega=0:register, iekey=0, ptpl=0", "slba=0, len=0, ...",
// "cdw10=00 01 ..." for the others).
std::string nvme_parse_cdw(int qid, uint8_t opcode, const std::array<uint32_t, 6>& cdw);

// Appends one nvme_setup_cmd / nvme_complete_rq line (ending in '\n').
void format_nvme_setup(std::string& out, const NvmeTraceEvent& e, const TraceStyle& st);
void format_nvme_complete(std::string& out, const NvmeTraceEvent& e, const TraceStyle& st);
// Appends the dmesg lines for a read (02h) or write (01h) whose status is a Reservation Conflict;
// nothing for other commands or statuses.
void format_nvme_conflict_dmesg(std::string& out, const NvmeTraceEvent& e, const TraceStyle& st);

}  // namespace prfence::sim
