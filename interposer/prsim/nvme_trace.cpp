// SPDX-License-Identifier: MIT
#include "interposer/prsim/nvme_trace.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

namespace prfence::sim {
namespace {

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) out.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

// The ftrace context every tracepoint line starts with (as format_cmd_done prints it).
void append_ftrace_prefix(std::string& out, int64_t ts_ns, int cpu, const TraceStyle& st,
                          const char* event) {
    const std::string comm = st.comm.substr(0, 15);
    const uint64_t ns = ts_ns < 0 ? 0 : static_cast<uint64_t>(ts_ns);
    const uint64_t us = (ns + 500) / 1000;
    appendf(out, "%16s-%-7d [%03d] %s %5" PRIu64 ".%06" PRIu64 ": %s: ", comm.c_str(), st.pid, cpu,
            st.irq_flags.c_str(), us / 1000000u, us % 1000000u, event);
}

void append_dmesg_time(std::string& out, int64_t ts_ns) {
    const uint64_t ns = ts_ns < 0 ? 0 : static_cast<uint64_t>(ts_ns);
    appendf(out, "[%5" PRIu64 ".%06" PRIu64 "] ", ns / 1000000000u, (ns % 1000000000u) / 1000u);
}

// CDW10..CDW15 as the 24 little-endian bytes the tracepoint copies.
std::array<uint8_t, 24> cdw_bytes(const std::array<uint32_t, 6>& cdw) {
    std::array<uint8_t, 24> b{};
    for (size_t i = 0; i < cdw.size(); ++i)
        for (size_t k = 0; k < 4; ++k) b[4 * i + k] = static_cast<uint8_t>(cdw[i] >> (8 * k));
    return b;
}

const char* name_or(const char* const* table, size_t n, unsigned v) {
    return v < n && table[v] ? table[v] : "reserved";
}

constexpr const char* kRtypes[] = {"reserved",
                                   "write exclusive",
                                   "exclusive access",
                                   "write exclusive registrants only",
                                   "exclusive access registrants only",
                                   "write exclusive all registrants",
                                   "exclusive access all registrants"};

// The printk format's "%#x" / "%#llx": 0 prints as "0", not "0x0".
std::string hex_alt(uint64_t v) {
    char buf[24];
    if (v == 0) return "0";
    std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    return buf;
}

}  // namespace

std::string nvme_opcode_symbol(int qid, uint8_t op) {
    const char* n = nullptr;
    if (qid == 0) {
        switch (op) {
            case 0x00:
                n = "nvme_admin_delete_sq";
                break;
            case 0x01:
                n = "nvme_admin_create_sq";
                break;
            case 0x02:
                n = "nvme_admin_get_log_page";
                break;
            case 0x04:
                n = "nvme_admin_delete_cq";
                break;
            case 0x05:
                n = "nvme_admin_create_cq";
                break;
            case 0x06:
                n = "nvme_admin_identify";
                break;
            case 0x08:
                n = "nvme_admin_abort_cmd";
                break;
            case 0x09:
                n = "nvme_admin_set_features";
                break;
            case 0x0a:
                n = "nvme_admin_get_features";
                break;
            case 0x0c:
                n = "nvme_admin_async_event";
                break;
            case 0x0d:
                n = "nvme_admin_ns_mgmt";
                break;
            case 0x10:
                n = "nvme_admin_activate_fw";
                break;
            case 0x11:
                n = "nvme_admin_download_fw";
                break;
            case 0x15:
                n = "nvme_admin_ns_attach";
                break;
            case 0x18:
                n = "nvme_admin_keep_alive";
                break;
            case 0x80:
                n = "nvme_admin_format_nvm";
                break;
            case 0x81:
                n = "nvme_admin_security_send";
                break;
            case 0x82:
                n = "nvme_admin_security_recv";
                break;
            case 0x84:
                n = "nvme_admin_sanitize_nvm";
                break;
            case 0x86:
                n = "nvme_admin_get_lba_status";
                break;
            default:
                break;
        }
    } else {
        switch (op) {
            case 0x00:
                n = "nvme_cmd_flush";
                break;
            case 0x01:
                n = "nvme_cmd_write";
                break;
            case 0x02:
                n = "nvme_cmd_read";
                break;
            case 0x04:
                n = "nvme_cmd_write_uncor";
                break;
            case 0x05:
                n = "nvme_cmd_compare";
                break;
            case 0x08:
                n = "nvme_cmd_write_zeroes";
                break;
            case 0x09:
                n = "nvme_cmd_dsm";
                break;
            case 0x0c:
                n = "nvme_cmd_verify";
                break;
            case 0x0d:
                n = "nvme_cmd_resv_register";
                break;
            case 0x0e:
                n = "nvme_cmd_resv_report";
                break;
            case 0x11:
                n = "nvme_cmd_resv_acquire";
                break;
            case 0x15:
                n = "nvme_cmd_resv_release";
                break;
            case 0x79:
                n = "nvme_cmd_zone_mgmt_send";
                break;
            case 0x7a:
                n = "nvme_cmd_zone_mgmt_recv";
                break;
            case 0x7d:
                n = "nvme_cmd_zone_append";
                break;
            default:
                break;
        }
    }
    if (n) return n;
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%x", op);
    return buf;
}

std::string nvme_parse_cdw(int qid, uint8_t op, const std::array<uint32_t, 6>& cdw) {
    const auto b = cdw_bytes(cdw);
    std::string out;
    auto le16 = [&](size_t o) { return static_cast<unsigned>(b[o] | (b[o + 1] << 8)); };
    if (qid == 0) {
        switch (op) {
            case 0x06:
                appendf(out, "cns=%u, ctrlid=%u", b[0], le16(2));
                return out;
            case 0x09:
                appendf(out, "fid=0x%x, sv=0x%x, cdw11=0x%x", b[0], b[3] & 0x8u, cdw[1]);
                return out;
            case 0x0a:
                appendf(out, "fid=0x%x, sel=0x%x, cdw11=0x%x", b[0], b[1] & 0x7u, cdw[1]);
                return out;
            default:
                break;
        }
    } else {
        static constexpr const char* rrega[] = {"register", "unregister", "replace"};
        static constexpr const char* racqa[] = {"acquire", "preempt", "preempt and abort"};
        static constexpr const char* rrela[] = {"release", "clear"};
        switch (op) {
            case 0x01:
            case 0x02:
            case 0x08:
            case 0x7d:
                appendf(out, "slba=%" PRIu64 ", len=%u, ctrl=0x%x, dsmgmt=%u, reftag=%u",
                        uint64_t{cdw[0]} | (uint64_t{cdw[1]} << 32), le16(8), le16(10), cdw[3],
                        cdw[4]);
                return out;
            case 0x09:
                appendf(out, "nr=%u, attributes=%u", cdw[0], cdw[1]);
                return out;
            case 0x0d:
                appendf(out, "rrega=%u:%s, iekey=%u, ptpl=%u", b[0] & 0x7u,
                        name_or(rrega, 3, b[0] & 0x7u), (b[0] >> 3) & 1u, (b[3] >> 6) & 0x3u);
                return out;
            case 0x11:
                appendf(out, "racqa=%u:%s, iekey=%u, rtype=%u:%s", b[0] & 0x7u,
                        name_or(racqa, 3, b[0] & 0x7u), (b[0] >> 3) & 1u, b[1],
                        name_or(kRtypes, 7, b[1]));
                return out;
            case 0x15:
                appendf(out, "rrela=%u:%s, iekey=%u, rtype=%u:%s", b[0] & 0x7u,
                        name_or(rrela, 2, b[0] & 0x7u), (b[0] >> 3) & 1u, b[1],
                        name_or(kRtypes, 7, b[1]));
                return out;
            case 0x0e:
                appendf(out, "numd=%u, eds=%u", cdw[0], b[4] & 1u);
                return out;
            default:
                break;
        }
    }
    // nvme_trace_common: "%*ph", the bytes in hex separated by spaces.
    out = "cdw10=";
    for (size_t i = 0; i < b.size(); ++i) appendf(out, i ? " %02x" : "%02x", b[i]);
    return out;
}

void format_nvme_setup(std::string& out, const NvmeTraceEvent& e, const TraceStyle& st) {
    append_ftrace_prefix(out, e.ts_ns, e.cpu, st, "nvme_setup_cmd");
    appendf(out, "nvme%d: ", e.ctrl_instance);
    if (!e.disk.empty()) out += "disk=" + std::string(e.disk) + ", ";
    appendf(out, "qid=%d, cmdid=%u, nsid=%u, flags=0x0, meta=0x0, cmd=(%s %s)\n", e.qid,
            static_cast<unsigned>(e.cid), e.nsid, nvme_opcode_symbol(e.qid, e.opcode).c_str(),
            nvme_parse_cdw(e.qid, e.opcode, e.cdw).c_str());
}

void format_nvme_complete(std::string& out, const NvmeTraceEvent& e, const TraceStyle& st) {
    append_ftrace_prefix(out, e.ts_ns, e.cpu, st, "nvme_complete_rq");
    appendf(out, "nvme%d: ", e.ctrl_instance);
    if (!e.disk.empty()) out += "disk=" + std::string(e.disk) + ", ";
    appendf(out, "qid=%d, cmdid=%u, res=%s, retries=0, flags=0x0, status=%s\n", e.qid,
            static_cast<unsigned>(e.cid), hex_alt(e.result).c_str(), hex_alt(e.status).c_str());
}

void format_nvme_conflict_dmesg(std::string& out, const NvmeTraceEvent& e, const TraceStyle& st) {
    if ((e.status & 0x7ff) != 0x083 || e.qid == 0 || (e.opcode != 0x01 && e.opcode != 0x02)) return;
    const bool write = e.opcode == 0x01;
    const std::string disk(e.disk);
    append_dmesg_time(out, e.ts_ns);
    appendf(out,
            "%s: I/O Cmd(0x%x) @ LBA %" PRIu64 ", %u blocks, I/O Error (sct 0x%x / sc 0x%x) %s%s\n",
            disk.c_str(), e.opcode, e.slba, e.blocks, (e.status >> 8) & 7u, e.status & 0xffu,
            (e.status & 0x2000) ? "MORE " : "", (e.status & 0x4000) ? "DNR " : "");
    const uint64_t sector = e.slba * (e.block_size >= 512 ? e.block_size / 512 : 1);
    const uint64_t bytes = uint64_t{e.blocks} * e.block_size;
    const uint32_t segs = static_cast<uint32_t>(
        std::max<uint64_t>(1, std::min<uint64_t>((bytes + 4095) / 4096, 128)));
    append_dmesg_time(out, e.ts_ns);
    const char* what = st.kernel.resv_conflict_status() ? "reservation conflict" : "critical nexus";
    appendf(out,
            "%s%s error, dev %s, sector %" PRIu64
            " op 0x%x:(%s) flags 0x%x phys_seg %u prio class %u\n",
            st.kernel.blk_update_prefix() ? "blk_update_request: " : "", what, disk.c_str(), sector,
            write ? 1u : 0u, write ? "WRITE" : "READ", write ? st.write_flags : st.read_flags, segs,
            st.prio_class);
}

}  // namespace prfence::sim
