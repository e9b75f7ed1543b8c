// SPDX-License-Identifier: MIT
// Format facts (checked against the kernel sources; nothing here is kernel code):
//  - include/trace/events/scsi.h, scsi_cmd_done_timeout_template: "host_no=%u channel=%u id=%u
//  lun=%u
//    data_sgl=%u prot_sgl=%u prot_op=%s [driver_tag=%d scheduler_tag=%d ]cmnd=(%s %s raw=%s)
//    result=(driver=DRIVER_OK host=%s message=COMMAND_COMPLETE status=%s)[ sense=(key=%#x asc=%#x
//    ascq=%#x)]"; the opcode and status names come from __print_symbolic (unknown values print
//    "0x%lx"), the raw CDB from __print_hex (lowercase, space separated). The kernel's %#x prints 0
//    as "0x0".
//  - drivers/scsi/scsi_trace.c: READ/WRITE(6) "lba=%u txlen=%u" (txlen 0 means 256); (10) and (12)
//    "lba=%u txlen=%u protect=%u"; (16) "lba=%llu txlen=%u protect=%u"; WRITE SAME adds "
//    unmap=%u"; commands without a parser (PR IN/OUT among them) print "-".
//  - kernel/trace/trace_output.c, trace_print_context: "%16s-%-7d [%03d] " + 5 flag characters +
//    " %5lu.%06lu" (nanoseconds rounded to microseconds) + ": "; then "scsi_dispatch_cmd_done: ".
//  - dmesg: "[%5lu.%06lu] " (printk time truncated to microseconds) then the message; sdev_printk
//  adds
//    "sd H:C:T:L: ", scmd_printk/scsi_print_* add "[sdX] tag#N "; scsi_print_result prints
//    "FAILED Result: hostbyte=%s driverbyte=DRIVER_OK cmd_age=%lus"; scsi_print_command "CDB:
//    <name>" followed by " %02x" per byte; the block layer "%s error, dev %s, sector %llu op
//    0x%x:(%s) flags 0x%x phys_seg %u prio class %u", with "blk_update_request: " in front up
//    to 5.15.
#include "interposer/prsim/trace.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/simproto/names.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::sim {
namespace {

// The CDB zero-extended to 32 bytes, so parsers never read past what the client sent.
struct PaddedCdb {
    std::array<uint8_t, 32> b{};
    size_t len = 0;
    explicit PaddedCdb(ByteView cdb) : len(std::min(cdb.size(), b.size())) {
        std::copy_n(cdb.begin(), len, b.begin());
    }
    uint32_t be16(size_t o) const { return (uint32_t{b[o]} << 8) | b[o + 1]; }
    uint32_t be24(size_t o) const {
        return (uint32_t{b[o]} << 16) | (uint32_t{b[o + 1]} << 8) | b[o + 2];
    }
    uint32_t be32(size_t o) const { return (be16(o) << 16) | be16(o + 2); }
    uint64_t be64(size_t o) const { return (uint64_t{be32(o)} << 32) | be32(o + 4); }
};

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (static_cast<size_t>(n) < sizeof buf) {
        out.append(buf, static_cast<size_t>(n));
        return;
    }
    std::string big(static_cast<size_t>(n) + 1, '\0');
    va_start(ap, fmt);
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    va_end(ap);
    big.pop_back();
    out += big;
}

// The kernel's "%#x": "0x0" for zero as for everything else.
std::string khex(unsigned v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%x", v);
    return b;
}

const char* service_action_in16_name(uint8_t sa) {
    switch (sa) {
        case 0x10:
            return "READ_CAPACITY_16";
        case 0x12:
            return "GET_LBA_STATUS";
        default:
            return nullptr;
    }
}
const char* maintenance_in_name(uint8_t sa) {
    switch (sa) {
        case 0x05:
            return "REPORT_IDENTIFYING_INFORMATION";
        case 0x0a:
            return "REPORT_TARGET_PORT_GROUPS";
        case 0x0b:
            return "REPORT_ALIASES";
        case 0x0c:
            return "REPORT_SUPPORTED_OPERATION_CODES";
        case 0x0d:
            return "REPORT_SUPPORTED_TASK_MANAGEMENT_FUNCTIONS";
        case 0x0e:
            return "REPORT_PRIORITY";
        case 0x0f:
            return "REPORT_TIMESTAMP";
        case 0x10:
            return "MANAGEMENT_PROTOCOL_IN";
        default:
            return nullptr;
    }
}
const char* maintenance_out_name(uint8_t sa) {
    switch (sa) {
        case 0x06:
            return "SET_IDENTIFYING_INFORMATION";
        case 0x0a:
            return "SET_TARGET_PORT_GROUPS";
        case 0x0b:
            return "CHANGE_ALIASES";
        case 0x0e:
            return "SET_PRIORITY";
        case 0x0f:
            return "SET_TIMESTAMP";
        case 0x10:
            return "MANAGEMENT_PROTOCOL_OUT";
        default:
            return nullptr;
    }
}
const char* zbc_out_name(uint8_t sa) {
    switch (sa) {
        case 0x01:
            return "CLOSE_ZONE";
        case 0x02:
            return "FINISH_ZONE";
        case 0x03:
            return "OPEN_ZONE";
        case 0x04:
            return "RESET_WRITE_POINTER";
        default:
            return nullptr;
    }
}
const char* rw32_name(uint32_t sa) {
    switch (sa) {
        case 0x09:
            return "READ";
        case 0x0a:
            return "VERIFY";
        case 0x0b:
            return "WRITE";
        case 0x0d:
            return "WRITE_SAME";
        default:
            return nullptr;
    }
}

// scsi_trace_parse_cdb's text for one CDB.
void parse_cdb_text(std::string& out, const PaddedCdb& c) {
    const auto& b = c.b;
    switch (b[0]) {
        case 0x08:  // READ_6
        case 0x0a:  // WRITE_6
            appendf(out, "lba=%u txlen=%u", c.be24(1) & 0x1fffff, b[4] ? b[4] : 256u);
            return;
        case 0x28:  // READ_10
        case 0x2f:  // VERIFY
        case 0x2a:  // WRITE_10
        case 0x41:  // WRITE_SAME
            appendf(out, "lba=%u txlen=%u protect=%u", c.be32(2), c.be16(7), b[1] >> 5);
            if (b[0] == 0x41) appendf(out, " unmap=%u", (b[1] >> 3) & 1);
            return;
        case 0xa8:  // READ_12
        case 0xaf:  // VERIFY_12
        case 0xaa:  // WRITE_12
            appendf(out, "lba=%u txlen=%u protect=%u", c.be32(2), c.be32(6), b[1] >> 5);
            return;
        case 0x88:  // READ_16
        case 0x8f:  // VERIFY_16
        case 0x8a:  // WRITE_16
        case 0x93:  // WRITE_SAME_16
            appendf(out, "lba=%" PRIu64 " txlen=%u protect=%u", c.be64(2), c.be32(10), b[1] >> 5);
            if (b[0] == 0x93) appendf(out, " unmap=%u", (b[1] >> 3) & 1);
            return;
        case 0x42:  // UNMAP: (parameter list length - 8) / 16, in unsigned arithmetic as the kernel
                    // does
            appendf(out, "regions=%u", (c.be16(7) - 8u) / 16u);
            return;
        case 0x9e:  // SERVICE_ACTION_IN_16
            if (const char* n = service_action_in16_name(b[1] & 0x1f))
                appendf(out, "%s lba=%" PRIu64 " alloc_len=%u", n, c.be64(2), c.be32(10));
            else
                out += "UNKNOWN";
            return;
        case 0x7f:  // VARIABLE_LENGTH_CMD
            if (const char* n = rw32_name(c.be16(8))) {
                appendf(out, "%s_32 lba=%" PRIu64 " txlen=%u protect=%u ei_lbrt=%u", n, c.be64(12),
                        c.be32(28), b[10] >> 5, c.be32(20));
                if (c.be16(8) == 0x0d) appendf(out, " unmap=%u", (b[10] >> 3) & 1);
            } else {
                out += "-";
            }
            return;
        case 0xa3:  // MAINTENANCE_IN
            if (const char* n = maintenance_in_name(b[1] & 0x1f))
                appendf(out, "%s alloc_len=%u", n, c.be32(6));
            else
                out += "UNKNOWN";
            return;
        case 0xa4:  // MAINTENANCE_OUT
            if (const char* n = maintenance_out_name(b[1] & 0x1f))
                appendf(out, "%s alloc_len=%u", n, c.be32(6));
            else
                out += "UNKNOWN";
            return;
        case 0x95:  // ZBC_IN
            if ((b[1] & 0x1f) == 0x00)
                appendf(out, "REPORT_ZONES zone=%" PRIu64 " alloc_len=%u options=%u partial=%u",
                        c.be64(2), c.be32(10), b[14] & 0x3f, (b[14] >> 7) & 1);
            else
                out += "UNKNOWN";
            return;
        case 0x94:  // ZBC_OUT
            if (const char* n = zbc_out_name(b[1] & 0x1f))
                appendf(out, "%s zone=%" PRIu64 " all=%u", n, c.be64(2), b[14] & 1);
            else
                out += "UNKNOWN";
            return;
        default:
            out += "-";
    }
}

void append_hex_spaced(std::string& out, ByteView b) {
    static const char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < b.size(); ++i) {
        if (i) out += ' ';
        out += kHex[b[i] >> 4];
        out += kHex[b[i] & 15];
    }
}

const char* trace_status_name(uint8_t status, char* buf, size_t n) {
    switch (status) {
        case 0x00:
        case 0x02:
        case 0x04:
        case 0x08:
        case 0x10:
        case 0x14:
        case 0x18:
        case 0x22:
        case 0x28:
        case 0x30:
        case 0x40:
            return wire::sam_stat_name(status);
        default:
            std::snprintf(buf, n, "0x%x", status);
            return buf;
    }
}

const char* trace_host_name(uint8_t host, char* buf, size_t n) {
    if (host <= wire::did::transport_failfast) return wire::host_byte_name(host);
    std::snprintf(buf, n, "0x%x", host);
    return buf;
}

void append_dmesg_time(std::string& out, int64_t ts_ns) {
    const uint64_t ns = ts_ns < 0 ? 0 : static_cast<uint64_t>(ts_ns);
    appendf(out, "[%5" PRIu64 ".%06" PRIu64 "] ", ns / 1000000000u, (ns % 1000000000u) / 1000u);
}

uint32_t segments(uint64_t bytes) {
    return static_cast<uint32_t>(std::min<uint64_t>((bytes + 4095) / 4096, 128));
}

struct BlockIo {
    bool write = false;
    uint64_t lba = 0;
    uint32_t blocks = 0;
};
BlockIo block_io_of(const PaddedCdb& c) {
    // The padded copy, as the kernel reads a short CDB: what is missing reads as zero.
    const auto r = wire::block_range(ByteView(c.b.data(), c.b.size()));
    if (!r) return {};
    return {wire::command_class(c.b[0]) == wire::CommandClass::write, r->lba, r->blocks};
}

}  // namespace

Result<KernelVersion> parse_kernel_version(std::string_view text) {
    auto dot = text.find('.');
    int major = 0, minor = 0;
    auto bad = [&] {
        return fail(Errc::invalid_argument, "kernel format \"" + std::string(text) +
                                                "\": expected major.minor, e.g. 5.15, 6.1, 6.12");
    };
    if (dot == std::string_view::npos) return bad();
    auto r1 = std::from_chars(text.data(), text.data() + dot, major);
    auto r2 = std::from_chars(text.data() + dot + 1, text.data() + text.size(), minor);
    if (r1.ec != std::errc() || r1.ptr != text.data() + dot || r2.ec != std::errc() ||
        r2.ptr != text.data() + text.size())
        return bad();
    if (major < 5 || major > 99 || minor < 0 || minor > 99)
        return fail(Errc::invalid_argument,
                    "kernel format \"" + std::string(text) + "\": only 5.0 and later");
    return KernelVersion{major, minor};
}

std::string kernel_version_string(KernelVersion v) {
    return std::to_string(v.major) + "." + std::to_string(v.minor);
}

std::string sd_disk_name(uint64_t index) { return "sd" + shim::disk_letters(index); }

std::string ftrace_cmnd(ByteView cdb) {
    std::string out;
    PaddedCdb c(cdb);
    const uint8_t op = cdb.empty() ? 0 : cdb[0];
    if (const char* n = wire::tracepoint_command_name(op))
        out += n;
    else
        appendf(out, "0x%x", op);
    out += ' ';
    parse_cdb_text(out, c);
    out += " raw=";
    append_hex_spaced(out, cdb);
    return out;
}

void format_cmd_done(std::string& out, const CompletionEvent& e, const TraceStyle& st) {
    // ftrace context: task name right-aligned in 16 columns (TASK_COMM_LEN - 1 characters at most).
    const std::string comm = st.comm.substr(0, 15);
    const uint64_t ns = e.ts_ns < 0 ? 0 : static_cast<uint64_t>(e.ts_ns);
    const uint64_t us = (ns + 500) / 1000;  // ns2usecs rounds
    appendf(out, "%16s-%-7d [%03d] %s %5" PRIu64 ".%06" PRIu64 ": scsi_dispatch_cmd_done: ",
            comm.c_str(), st.pid, e.cpu, st.irq_flags.c_str(), us / 1000000u, us % 1000000u);
    appendf(out,
            "host_no=%u channel=%u id=%u lun=%u data_sgl=%u prot_sgl=0 prot_op=SCSI_PROT_NORMAL ",
            e.host, e.channel, e.id, e.lun, segments(e.data_len));
    if (st.kernel.has_tags())
        appendf(out, "driver_tag=%d scheduler_tag=%d ", e.driver_tag,
                st.scheduler_tags ? e.driver_tag : -1);
    out += "cmnd=(";
    out += ftrace_cmnd(e.cdb);
    char b1[16], b2[16];
    appendf(out, ") result=(driver=DRIVER_OK host=%s message=COMMAND_COMPLETE status=%s)",
            trace_host_name(e.host_byte, b1, sizeof b1),
            trace_status_name(e.status, b2, sizeof b2));
    if (st.kernel.has_sense()) {
        unsigned key = 0, asc = 0, ascq = 0;
        if (!e.sense.empty() && (e.sense[0] & 0x70) == 0x70) {
            if (auto s = wire::decode_sense(e.sense); s.ok()) {
                key = static_cast<unsigned>(s->key);
                asc = s->asc;
                ascq = s->ascq;
            }
        }
        out += " sense=(key=" + khex(key) + " asc=" + khex(asc) + " ascq=" + khex(ascq) + ")";
    }
    out += '\n';
}

bool is_block_io(uint8_t opcode) noexcept {
    switch (opcode) {
        case 0x08:
        case 0x0a:
        case 0x28:
        case 0x2a:
        case 0xa8:
        case 0xaa:
        case 0x88:
        case 0x8a:
            return true;
        default:
            return false;
    }
}

void format_conflict_dmesg(std::string& out, const CompletionEvent& e, const TraceStyle& st) {
    if (e.status != wire::sam::reservation_conflict || e.cdb.empty()) return;
    char dev[64];
    std::snprintf(dev, sizeof dev, "sd %u:%u:%u:%u: ", e.host, e.channel, e.id, e.lun);
    // scsi_decide_disposition: for every command, passthrough included.
    append_dmesg_time(out, e.ts_ns);
    out += dev;
    out += "reservation conflict\n";
    const uint8_t op = e.cdb[0];
    if (!is_block_io(op)) return;
    // scsi_io_completion_action (ACTION_FAIL): result and command, then the block layer's error
    // line.
    const std::string disk(e.disk);
    const uint64_t age_s = e.cmd_age_ns > 0 ? static_cast<uint64_t>(e.cmd_age_ns) / 1000000000u : 0;
    append_dmesg_time(out, e.ts_ns);
    appendf(out,
            "%s[%s] tag#%d FAILED Result: hostbyte=%s driverbyte=DRIVER_OK cmd_age=%" PRIu64 "s\n",
            dev, disk.c_str(), e.driver_tag, wire::host_byte_name(e.host_byte), age_s);
    append_dmesg_time(out, e.ts_ns);
    appendf(out, "%s[%s] tag#%d CDB: %s", dev, disk.c_str(), e.driver_tag,
            wire::dmesg_command_name(op));
    for (uint8_t byte : e.cdb.first(std::min<size_t>(e.cdb.size(), 16)))
        appendf(out, " %02x", byte);
    out += '\n';
    PaddedCdb c(e.cdb);
    const BlockIo io = block_io_of(c);
    const uint64_t sector = io.lba * (e.block_size >= 512 ? e.block_size / 512 : 1);
    const uint64_t bytes = uint64_t{io.blocks} * e.block_size;
    append_dmesg_time(out, e.ts_ns);
    const char* what = st.kernel.resv_conflict_status() ? "reservation conflict" : "critical nexus";
    appendf(out,
            "%s%s error, dev %s, sector %" PRIu64
            " op 0x%x:(%s) flags 0x%x phys_seg %u prio class %u\n",
            st.kernel.blk_update_prefix() ? "blk_update_request: " : "", what, disk.c_str(), sector,
            io.write ? 1u : 0u, io.write ? "WRITE" : "READ",
            io.write ? st.write_flags : st.read_flags, std::max<uint32_t>(1, segments(bytes)),
            st.prio_class);
}

// ---- TraceSink ----

Result<std::unique_ptr<TraceSink>> TraceSink::open(const std::string& path, size_t max_buffer) {
    std::unique_ptr<TraceSink> s(new TraceSink());
    s->max_buffer_ = max_buffer;
    struct stat stt {};
    int fd;
    if (::stat(path.c_str(), &stt) == 0 && S_ISFIFO(stt.st_mode)) {
        fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
        s->pollable_ = true;
    } else if (::stat(path.c_str(), &stt) == 0 && !S_ISREG(stt.st_mode)) {
        fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        s->pollable_ = S_ISCHR(stt.st_mode) || S_ISSOCK(stt.st_mode);
    } else {
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (fd < 0) return fail_errno("cannot open trace file ", path);
    s->fd_ = fd;
    return s;
}

TraceSink::~TraceSink() {
    if (fd_ >= 0) {
        flush();
        ::close(fd_);
    }
}

void TraceSink::append(std::string_view text) {
    if (broken_ || buf_.size() - off_ + text.size() > max_buffer_) {
        ++dropped_events_;
        dropped_bytes_ += text.size();
        return;
    }
    if (off_ > 0 && off_ == buf_.size()) {
        buf_.clear();
        off_ = 0;
    }
    buf_.append(text);
}

bool TraceSink::flush() {
    while (off_ < buf_.size()) {
        ssize_t n = ::write(fd_, buf_.data() + off_, buf_.size() - off_);
        if (n > 0) {
            off_ += static_cast<size_t>(n);
            written_bytes_ += static_cast<uint64_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        broken_ = true;
        dropped_bytes_ += buf_.size() - off_;
        ++dropped_events_;
        buf_.clear();
        off_ = 0;
        return false;
    }
    if (off_ == buf_.size()) {
        buf_.clear();
        off_ = 0;
    } else if (off_ > (1u << 20)) {
        buf_.erase(0, off_);
        off_ = 0;
    }
    return true;
}

}  // namespace prfence::sim
