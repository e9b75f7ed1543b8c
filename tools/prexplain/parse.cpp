// SPDX-License-Identifier: MIT
// Format facts (read in the kernel sources and the captures under tests/vm/fixtures; no kernel
// code here): drivers/scsi/scsi_error.c prints "reservation conflict" through sdev_printk ("sd
// H:C:T:L: "); scsi_lib.c's scsi_io_completion_action prints scsi_print_result ("[sdX] tag#N FAILED
// Result: hostbyte=%s driverbyte=%s cmd_age=%lus") and scsi_print_command ("[sdX] tag#N CDB: NAME
// xx xx ..."), rate limited; block/blk-core.c/blk-mq.c print "%s error, dev %s, sector %llu op
// 0x%x:(%s) flags 0x%x phys_seg %u prio class %u", with "blk_update_request: " (<= 5.15) or
// "print_req_error: " (4.17-5.0) in front; include/trace/events/scsi.h and block.h give the
// tracepoint fields; kernel/trace/trace_output.c the ftrace context; kernel/printk the
// "[%5lu.%06lu]" stamp and /dev/kmsg's "level,seq,usec,flags;message" records.
// NVMe: drivers/nvme/host/core.c nvme_log_error ("%s: %s(0x%x) @ LBA %llu, %u blocks, %s (sct
// 0x%x / sc 0x%x) %s%s", the last two "MORE " and "DNR ", hence the trailing blank) and
// nvme_log_err_passthru (the same without LBA and blocks, then "cdw10=0x%x" ... "cdw15=0x%x" right
// after "DNR "); drivers/nvme/host/trace.h nvme_async_event ("nvme%d: NVME_AEN=%#08x [%s]");
// nvme_aen_uevent's "NVME_AEN=%#08x" property, as udevadm monitor prints a uevent and as the
// netlink message carries it ("ACTION@DEVPATH" then KEY=VALUE strings).
//
// Speed: a kernel log is mostly unrelated lines, so every recognizer rejects on its first bytes and
// nothing is copied or allocated; a line costs a prefix scan and one or two short compares.
#include "tools/prexplain/parse.h"

#include <cstring>

#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/nvme_status.h"

namespace prfence::prexplain {
namespace {

using sv = std::string_view;

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_space(char c) { return c == ' ' || c == '\t'; }
constexpr bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr int hex_val(char c) {
    return is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : c - 'A' + 10;
}

// A read position in a line; every operation fails softly (returns false) and never reads outside.
struct Cur {
    sv s;
    bool eat(sv lit) {
        if (!s.starts_with(lit)) return false;
        s.remove_prefix(lit.size());
        return true;
    }
    bool eat(char c) {
        if (s.empty() || s.front() != c) return false;
        s.remove_prefix(1);
        return true;
    }
    void spaces() {
        while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    }
    // Decimal, at most 20 digits, saturating instead of wrapping.
    bool u64(uint64_t& v) {
        size_t i = 0;
        uint64_t x = 0;
        while (i < s.size() && is_digit(s[i]) && i < 20) {
            const uint64_t d = static_cast<uint64_t>(s[i] - '0');
            x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
            ++i;
        }
        if (i == 0) return false;
        s.remove_prefix(i);
        v = x;
        return true;
    }
    bool u32(uint32_t& v) {
        uint64_t x;
        if (!u64(x) || x > UINT32_MAX) return false;
        v = static_cast<uint32_t>(x);
        return true;
    }
    bool i64(int64_t& v) {
        bool neg = eat('-');
        uint64_t x;
        if (!u64(x) || x > static_cast<uint64_t>(INT64_MAX)) return false;
        v = neg ? -static_cast<int64_t>(x) : static_cast<int64_t>(x);
        return true;
    }
    // "0x1f" or "31": the kernel's %#x and %u.
    bool num_any(uint64_t& v) {
        if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            size_t i = 2;
            uint64_t x = 0;
            while (i < s.size() && is_hex(s[i]) && i < 18)
                x = x * 16 + static_cast<uint64_t>(hex_val(s[i++]));
            if (i == 2) return false;
            s.remove_prefix(i);
            v = x;
            return true;
        }
        return u64(v);
    }
    sv token(char stop1 = ' ', char stop2 = ' ') {
        size_t i = 0;
        while (i < s.size() && s[i] != stop1 && s[i] != stop2 && !is_space(s[i])) ++i;
        sv t = s.substr(0, i);
        s.remove_prefix(i);
        return t;
    }
};

// "[   20.093091]" style seconds with a fraction of any length (dmesg prints 6 digits).
bool seconds_fraction(Cur& c, int64_t& ns) {
    uint64_t sec;
    if (!c.u64(sec) || sec > 9'000'000'000ull) return false;
    int64_t frac = 0;
    if (c.eat('.')) {
        int digits = 0;
        while (!c.s.empty() && is_digit(c.s.front())) {
            if (digits < 9) {
                frac = frac * 10 + (c.s.front() - '0');
                ++digits;
            }
            c.s.remove_prefix(1);
        }
        if (digits == 0) return false;
        for (; digits < 9; ++digits) frac *= 10;
    }
    ns = static_cast<int64_t>(sec) * 1'000'000'000 + frac;
    return true;
}

constexpr const char* kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr int kDaysBefore[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

int month_index(sv s) {
    if (s.size() < 3) return -1;
    for (int i = 0; i < 12; ++i)
        if (std::memcmp(s.data(), kMonths[i], 3) == 0) return i;
    return -1;
}

// "22:33:24[.123456]" -> ns since midnight.
bool clock_time(Cur& c, int64_t& ns) {
    uint64_t h, m;
    if (!c.u64(h) || !c.eat(':') || !c.u64(m) || !c.eat(':')) return false;
    Cur t = c;
    int64_t sec = 0;  // seconds with their fraction
    if (!seconds_fraction(t, sec)) return false;
    c = t;
    if (h > 23 || m > 59 || sec >= 61'000'000'000) return false;
    ns = static_cast<int64_t>(h * 3600 + m * 60) * 1'000'000'000 + sec;
    return true;
}

// "HOST kernel: " after a journal timestamp; the message follows.
bool journal_host_kernel(Cur& c) {
    c.spaces();
    sv host = c.token();
    if (host.empty()) return false;
    c.spaces();
    return c.eat("kernel: ");
}

// Strips the framing; returns false for lines that cannot carry a kernel message (comments,
// /dev/kmsg continuation lines, empty lines).
bool strip_prefix(Cur& c, ParsedLine& p) {
    if (c.s.empty()) return false;
    const char f = c.s.front();
    if (f == '[') {
        Cur t = c;
        t.eat('[');
        t.spaces();
        int64_t ns;
        if (seconds_fraction(t, ns) && t.eat(']')) {
            p.has_time = true;
            p.ts_ns = ns;
            t.spaces();
            // journalctl -o short-monotonic: "[   12.345678] host kernel: MSG".
            Cur j = t;
            if (journal_host_kernel(j)) {
                p.source = Source::journal;
                c = j;
                return true;
            }
            p.source = Source::dmesg;
            c = t;
            return true;
        }
        // dmesg -T: "[Mon Nov 25 22:33:24 2024] MSG".
        t = c;
        t.eat('[');
        t.token();
        t.spaces();
        int mon = month_index(t.s);
        if (mon >= 0) {
            t.s.remove_prefix(3);
            t.spaces();
            uint64_t day;
            int64_t tod;
            if (t.u64(day) && day >= 1 && day <= 31 && (t.spaces(), clock_time(t, tod))) {
                t.spaces();
                uint64_t year;
                (void)t.u64(year);
                if (t.eat(']')) {
                    t.spaces();
                    p.source = Source::dmesg;
                    p.has_time = true;
                    p.ts_ns = static_cast<int64_t>(kDaysBefore[mon] + static_cast<int>(day) - 1) *
                                  86'400'000'000'000 +
                              tod;
                    c = t;
                    return true;
                }
            }
        }
        return true;  // a bare message that happens to start with '['
    }
    if (is_digit(f)) {
        // /dev/kmsg: "6,1234,20093091,-;MSG" (more comma fields may follow the flags in newer
        // kernels, e.g. the caller id: "6,1234,20093091,-,caller=T1;MSG").
        Cur t = c;
        uint64_t level, seq, usec;
        if (t.u64(level) && t.eat(',') && t.u64(seq) && t.eat(',') && t.u64(usec) && t.eat(',')) {
            size_t semi = t.s.find(';');
            if (semi != sv::npos && semi < 64) {
                t.s.remove_prefix(semi + 1);
                p.source = Source::kmsg;
                p.has_time = usec < 9'000'000'000'000'000ull;
                p.ts_ns = p.has_time ? static_cast<int64_t>(usec) * 1000 : 0;
                c = t;
                return true;
            }
        }
        // journalctl -o short-iso: "2024-11-25T22:33:24[.frac]+0100 host kernel: MSG".
        t = c;
        uint64_t y, mo, d;
        int64_t tod;
        if (t.u64(y) && t.eat('-') && t.u64(mo) && t.eat('-') && t.u64(d) && t.eat('T') &&
            mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && y >= 1970 && y < 10000 &&
            clock_time(t, tod)) {
            if (t.eat('+') || t.eat('-')) {
                uint64_t zone;
                (void)t.u64(zone);
                if (t.eat(':')) (void)t.u64(zone);
            } else {
                (void)t.eat('Z');
            }
            if (journal_host_kernel(t)) {
                // Days since the epoch (civil calendar), enough to order lines across midnight.
                const int64_t yy = static_cast<int64_t>(y) - (mo <= 2);
                const int64_t era = yy / 400;
                const int64_t yoe = yy - era * 400;
                const int64_t mp = (static_cast<int64_t>(mo) + 9) % 12;
                const int64_t doy = (153 * mp + 2) / 5 + static_cast<int64_t>(d) - 1;
                const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
                const int64_t days = era * 146097 + doe - 719468;
                p.source = Source::journal;
                p.has_time = true;
                p.ts_ns = days * 86'400'000'000'000 + tod;
                c = t;
                return true;
            }
        }
        return true;
    }
    if (f == ' ' && c.s.size() > 1 && c.s[1] != ' ' && c.s.find('=') != sv::npos &&
        c.s.find('=') < c.s.find(' ', 1))
        return false;  // /dev/kmsg continuation: " SUBSYSTEM=scsi", " DEVICE=+scsi:1:0:0:0"
    if (f == '#') return false;  // ftrace header
    if (f >= 'A' && f <= 'S') {
        // journalctl short: "Nov 25 22:33:24[.123456] host kernel: MSG".
        int mon = month_index(c.s);
        if (mon >= 0 && c.s.size() > 4 && c.s[3] == ' ') {
            Cur t = c;
            t.s.remove_prefix(3);
            t.spaces();
            uint64_t day;
            int64_t tod;
            if (t.u64(day) && day >= 1 && day <= 31 && t.eat(' ') && clock_time(t, tod) &&
                journal_host_kernel(t)) {
                p.source = Source::journal;
                p.has_time = true;
                p.ts_ns = static_cast<int64_t>(kDaysBefore[mon] + static_cast<int>(day) - 1) *
                              86'400'000'000'000 +
                          tod;
                c = t;
                return true;
            }
        }
    }
    if (f == 'k' && c.s.starts_with("kern")) {
        // dmesg -x: "kern  :err   : [   20.093091] MSG".
        Cur t = c;
        t.s.remove_prefix(4);
        t.spaces();
        if (t.eat(':')) {
            t.token(':');
            t.spaces();
            if (t.eat(':')) {
                t.spaces();
                c = t;
                if (!c.s.empty() && c.s.front() == '[') return strip_prefix(c, p);
                p.source = Source::dmesg;
                return true;
            }
        }
    }
    return true;
}

// ---------------------------------------------------------------------------------------------------
// Messages.

std::optional<Hctl> hctl_at(Cur& c) {
    Hctl h;
    uint64_t lun;
    if (!c.u32(h.host) || !c.eat(':') || !c.u32(h.channel) || !c.eat(':') || !c.u32(h.id) ||
        !c.eat(':') || !c.u64(lun))
        return std::nullopt;
    h.lun = lun;
    return h;
}

bool is_disk_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '!' || ch == '-' || ch == '_';
}

sv disk_name(Cur& c) {
    size_t i = 0;
    while (i < c.s.size() && i < 32 && is_disk_char(c.s[i])) ++i;
    sv d = c.s.substr(0, i);
    c.s.remove_prefix(i);
    return d;
}

// Space-separated hex bytes ("28 00 00 ..."), at most 32; stops at anything else.
size_t hex_bytes(sv s, uint8_t* out, size_t max) {
    size_t n = 0, i = 0;
    while (n < max) {
        while (i < s.size() && s[i] == ' ') ++i;
        if (i + 2 > s.size() || !is_hex(s[i]) || !is_hex(s[i + 1])) break;
        if (i + 2 < s.size() && s[i + 2] != ' ' && s[i + 2] != ')') break;
        out[n++] = static_cast<uint8_t>(hex_val(s[i]) * 16 + hex_val(s[i + 1]));
        i += 2;
    }
    return n;
}

// "sd H:C:T:L: ..." (the "sd " already eaten).
bool sd_message(Cur c, ParsedLine& p) {
    auto h = hctl_at(c);
    if (!h || !c.eat(": ")) return false;
    p.has_hctl = true;
    p.hctl = *h;
    if (c.s.starts_with("reservation conflict")) {
        p.status = c.s.substr(0, sizeof("reservation conflict") - 1);  // a view into the line
        c.s.remove_prefix(p.status.size());
        c.spaces();
        if (!c.s.empty()) return false;
        p.kind = LineKind::sd_conflict;
        p.conflict = true;
        return true;
    }
    if (!c.eat('[')) return false;
    p.disk = disk_name(c);
    if (p.disk.empty() || !c.eat(']')) return false;
    c.spaces();
    if (c.eat("tag#")) {
        uint64_t tag;
        if (!c.u64(tag)) return false;
        p.tag = tag > 0x7fffffff ? -1 : static_cast<int>(tag);
        c.spaces();
    }
    if (c.eat("FAILED Result: ") || c.eat("Result: ")) {
        p.kind = LineKind::failed_result;
        while (!c.s.empty()) {
            c.spaces();
            if (c.eat("hostbyte="))
                p.host_byte = c.token();
            else if (c.eat("driverbyte="))
                p.driver_byte = c.token();
            else
                c.token();
        }
        if (p.host_byte.empty()) return false;
        // Some older kernels report a conflicted command with host byte DID_NEXUS_FAILURE (0x11)
        // instead of status 0x18.
        p.conflict = p.host_byte == "DID_NEXUS_FAILURE" || p.host_byte == "0x11";
        return true;
    }
    if (c.eat("CDB: ")) {
        p.kind = LineKind::cdb;
        // The name may contain blanks and commas ("Persistent reserve out, register"); the bytes
        // are the longest run of " xx" groups at the end.
        sv rest = c.s;
        while (!rest.empty() && (rest.back() == ' ')) rest.remove_suffix(1);
        size_t end = rest.size();
        size_t start = end;
        while (start >= 3 && rest[start - 3] == ' ' && is_hex(rest[start - 2]) &&
               is_hex(rest[start - 1]))
            start -= 3;
        if (start == end) return false;
        sv name = rest.substr(0, start);
        if (!name.empty() && name.back() == ':') name.remove_suffix(1);  // 3.x: "Read(10): 28 ..."
        p.op = name;
        uint8_t b[32];
        size_t n = hex_bytes(rest.substr(start), b, sizeof b);
        if (n == 0) return false;
        p.has_opcode = true;
        p.opcode = b[0];
        if (auto r = wire::block_range(ByteView(b, n))) {
            p.has_sector = true;
            p.sector = r->lba;
            p.count = r->blocks;
        }
        return true;
    }
    // Any other message about the disk: what it teaches is the name.
    if (c.s.empty()) return false;
    p.kind = LineKind::sd_name;
    return true;
}

// "STATUS error, dev sdX, sector N[ op 0x0:(READ) ...]", any function prefix already eaten.
bool block_error(Cur c, ParsedLine& p) {
    size_t at = c.s.find(" error, dev ");
    if (at == sv::npos || at == 0 || at > 40) return false;
    sv status = c.s.substr(0, at);
    for (char ch : status)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == ' ' || ch == '/'))
            return false;
    c.s.remove_prefix(at + sizeof(" error, dev ") - 1);
    p.kind = LineKind::block_error;
    p.status = status;
    p.conflict = status == "critical nexus" || status == "reservation conflict";
    p.disk = disk_name(c);
    if (p.disk.empty()) return false;
    if (c.eat(", sector ")) {
        if (!c.u64(p.sector)) return false;
        p.has_sector = true;
    }
    // " op 0x0:(READ)" from 5.3 on.
    size_t op = c.s.find(" op 0x");
    if (op != sv::npos) {
        sv r = c.s.substr(op);
        size_t lp = r.find(":(");
        size_t rp = lp == sv::npos ? sv::npos : r.find(')', lp);
        if (lp != sv::npos && rp != sv::npos) p.op = r.substr(lp + 2, rp - lp - 2);
    }
    return true;
}

// "Buffer I/O error on dev sdc1, logical block N, ..."
bool buffer_io(Cur c, ParsedLine& p) {
    p.kind = LineKind::buffer_io;
    p.disk = disk_name(c);
    if (p.disk.empty()) return false;
    if (c.eat(", logical block ")) {
        if (!c.u64(p.sector)) return false;
        p.has_sector = true;
    }
    return true;
}

// Finds " KEY" (or KEY at the start) followed by '=' within `s`; returns the value's position.
sv field(sv s, sv key) {
    size_t pos = 0;
    while (true) {
        size_t at = s.find(key, pos);
        if (at == sv::npos) return {};
        const size_t after = at + key.size();
        if ((at == 0 || s[at - 1] == ' ' || s[at - 1] == '(') && after < s.size() &&
            s[after] == '=')
            return s.substr(after + 1);
        pos = at + 1;
    }
}

bool cmd_done(Cur c, ParsedLine& p) {
    p.kind = LineKind::trace_cmd_done;
    Hctl h;
    uint64_t lun;
    {
        Cur t{field(c.s, "host_no")};
        if (!t.u32(h.host)) return false;
        t = Cur{field(c.s, "channel")};
        if (!t.u32(h.channel)) return false;
        t = Cur{field(c.s, "id")};
        if (!t.u32(h.id)) return false;
        t = Cur{field(c.s, "lun")};
        if (!t.u64(lun)) return false;
        h.lun = lun;
    }
    p.has_hctl = true;
    p.hctl = h;
    if (Cur t{field(c.s, "driver_tag")}; !t.s.empty()) {
        int64_t tag;
        if (t.i64(tag) && tag >= 0 && tag <= 0x7fffffff) p.tag = static_cast<int>(tag);
    }
    // cmnd=(NAME ARGS raw=HEX)
    const size_t cm = c.s.find("cmnd=(");
    if (cm == sv::npos) return false;
    sv cmnd = c.s.substr(cm + 6);
    const size_t close = cmnd.find(')');
    if (close == sv::npos) return false;
    cmnd = cmnd.substr(0, close);
    {
        Cur t{cmnd};
        p.op = t.token();
    }
    sv raw = field(cmnd, "raw");
    uint8_t b[32];
    size_t n = hex_bytes(raw, b, sizeof b);
    if (n > 0) {
        p.has_opcode = true;
        p.opcode = b[0];
    }
    if (Cur t{field(cmnd, "lba")}; t.u64(p.sector)) {
        p.has_sector = true;
        Cur l{field(cmnd, "txlen")};
        (void)l.u32(p.count);
    } else {
        if (auto r = wire::block_range(ByteView(b, n))) {
            p.has_sector = true;
            p.sector = r->lba;
            p.count = r->blocks;
        }
    }
    // result=(driver=X host=Y message=Z status=W): the older spellings differ in the names only.
    sv after = c.s.substr(cm + 6 + close);
    const size_t res = after.find("result=");
    if (res == sv::npos) return false;
    sv result = after.substr(res + 7);
    {
        Cur t{field(result, "driver")};
        p.driver_byte = t.token(')');
        t = Cur{field(result, "host")};
        p.host_byte = t.token(')');
        t = Cur{field(result, "status")};
        p.status = t.token(')');
    }
    if (p.status.empty()) return false;
    p.conflict = p.status == "SAM_STAT_RESERVATION_CONFLICT" ||
                 p.status == "RESERVATION_CONFLICT" || p.status == "0x18" ||
                 p.host_byte == "DID_NEXUS_FAILURE";
    // " sense=(key=%#x asc=%#x ascq=%#x)" (6.5+).
    if (size_t se = result.find("sense=("); se != sv::npos) {
        sv sense = result.substr(se + 7);
        uint64_t k, a, q;
        Cur tk{field(sense, "key")}, ta{field(sense, "asc")}, tq{field(sense, "ascq")};
        if (tk.num_any(k) && ta.num_any(a) && tq.num_any(q) && k <= 0xff && a <= 0xff &&
            q <= 0xff) {
            p.has_sense = true;
            p.sense_key = static_cast<uint8_t>(k);
            p.asc = static_cast<uint8_t>(a);
            p.ascq = static_cast<uint8_t>(q);
        }
    }
    return true;
}

// "8,16 RS () 0 + 8 [-52]", "8,16 RS () 0 + 8 be,0,4 [-52]", "8,16 N (5f 01 ...) 184467... + 0
// [-52]"
bool rq_complete(Cur c, ParsedLine& p) {
    p.kind = LineKind::trace_rq_complete;
    c.spaces();
    if (!c.u32(p.major) || !c.eat(',') || !c.u32(p.minor) || !c.eat(' ')) return false;
    p.has_devnum = true;
    c.spaces();
    p.op = c.token();
    if (p.op.empty()) return false;
    c.spaces();
    if (!c.eat('(')) return false;
    size_t rp = c.s.find(')');
    if (rp == sv::npos) return false;
    c.s.remove_prefix(rp + 1);
    c.spaces();
    if (!c.u64(p.sector)) return false;
    p.has_sector = true;
    c.spaces();
    if (!c.eat('+')) return false;
    c.spaces();
    if (!c.u32(p.count)) return false;
    c.spaces();
    if (!c.s.empty() && c.s.front() != '[') {  // 6.12: the I/O priority "be,0,4" / "none,0,0"
        c.token();
        c.spaces();
    }
    if (!c.eat('[')) return false;
    int64_t err;
    sv num = c.s;
    if (!c.i64(err) || !c.eat(']') || err < -4095 || err > 0) return false;
    p.error = static_cast<int>(err);
    p.status = num.substr(0, num.size() - c.s.size() - 1);
    p.conflict = err == -52;  // EBADE: BLK_STS_NEXUS / BLK_STS_RESV_CONFLICT
    return true;
}

// "nvme0", "nvme12": a controller's name.
bool is_nvme_ctrl(sv s) {
    if (!s.starts_with("nvme") || s.size() < 5 || s.size() > 14) return false;
    for (char ch : s.substr(4))
        if (!is_digit(ch)) return false;
    return true;
}

// nvme_log_error / nvme_log_err_passthru: "NAME: OPNAME(0xOP) @ LBA N, N blocks, STATUS (sct 0xT /
// sc 0xC) [MORE ][DNR ][cdw10=...]" (the passthrough form has ", " instead of the LBA part).
bool nvme_error(Cur c, ParsedLine& p) {
    const sv name = disk_name(c);
    if (name.size() < 5 || !name.starts_with("nvme") || !c.eat(": ")) return false;
    const size_t lp = c.s.find("(0x");
    if (lp == sv::npos || lp == 0 || lp > 48) return false;
    const sv opname = c.s.substr(0, lp);
    for (char ch : opname)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == ' ' ||
              ch == '/' || ch == '-' || ch == '_'))
            return false;
    c.s.remove_prefix(lp + 1);
    uint64_t opcode;
    if (!c.num_any(opcode) || opcode > 0xff || !c.eat(')')) return false;
    if (c.eat(" @ LBA ")) {
        if (!c.u64(p.sector) || !c.eat(", ") || !c.u32(p.count) || !c.eat(" blocks, "))
            return false;
        p.has_sector = true;
    } else if (!c.eat(", ")) {
        return false;
    }
    const size_t st = c.s.find(" (sct ");
    if (st == sv::npos || st == 0 || st > 64) return false;
    p.status = c.s.substr(0, st);
    c.s.remove_prefix(st + 6);
    uint64_t sct, sc;
    if (!c.num_any(sct) || sct > 7 || !c.eat(" / sc ") || !c.num_any(sc) || sc > 0xff ||
        !c.eat(')'))
        return false;
    c.spaces();
    p.more = c.eat("MORE");
    c.spaces();
    p.dnr = c.eat("DNR");
    c.spaces();
    if (!c.s.empty() && !c.s.starts_with("cdw10=")) return false;
    p.kind = LineKind::nvme_error;
    p.nvme = true;
    p.disk = name;
    p.op = opname;
    p.has_opcode = true;
    p.opcode = static_cast<uint8_t>(opcode);
    p.sct = static_cast<uint8_t>(sct);
    p.sc = static_cast<uint8_t>(sc);
    // Admin commands name the controller and never meet a reservation.
    p.conflict = !is_nvme_ctrl(name) && wire::nvme::categorize(wire::nvme::status_word(
                                            p.sct, p.sc)) == wire::Category::reservation_conflict;
    return true;
}

// nvme_async_event's fields: "nvme0: NVME_AEN=0x800006 [NVME_AER_CSS]".
bool nvme_aen(Cur c, ParsedLine& p) {
    const sv name = disk_name(c);
    if (!is_nvme_ctrl(name) || !c.eat(": NVME_AEN=")) return false;
    uint64_t v;
    if (!c.num_any(v) || v > 0xffffffffull) return false;
    c.spaces();
    if (!c.s.empty() && (c.s.front() != '[' || c.s.back() != ']')) return false;
    p.kind = LineKind::nvme_aen;
    p.nvme = true;
    p.ctrl = name;
    p.has_aen = true;
    p.aen = static_cast<uint32_t>(v);
    return true;
}

// A uevent's DEVPATH: names a controller when its last component does.
bool uevent_devpath(sv path, ParsedLine& p) {
    if (!path.starts_with('/')) return false;
    const sv last = path.substr(path.rfind('/') + 1);
    if (!is_nvme_ctrl(last)) return false;
    p.kind = LineKind::uevent_dev;
    p.nvme = true;
    p.ctrl = last;
    return true;
}

// udevadm monitor's header: "KERNEL[123.456789] change   /devices/.../nvme0 (nvme)" (or "UDEV").
bool uevent_header(Cur c, ParsedLine& p) {
    c.spaces();
    if (!c.eat('[')) return false;
    int64_t ns;
    if (!seconds_fraction(c, ns) || !c.eat(']')) return false;
    c.spaces();
    if (c.token().empty()) return false;  // the action
    c.spaces();
    const sv path = c.token();
    c.spaces();
    if (!c.eat("(nvme)") || !c.s.empty() || !uevent_devpath(path, p)) return false;
    p.has_time = true;
    p.ts_ns = ns;
    return true;
}

bool message(Cur c, ParsedLine& p) {
    if (c.s.empty()) return false;
    switch (c.s.front()) {
        case 'n':
            if (c.eat("nvme_async_event: ")) {
                if (p.source == Source::bare) p.source = Source::trace;
                return nvme_aen(c, p);
            }
            return nvme_error(c, p);
        case 'K':
            if (c.eat("KERNEL")) return uevent_header(c, p);
            break;
        case 'U':
            if (c.eat("UDEV")) return uevent_header(c, p);
            break;
        case 'D':
            if (c.eat("DEVPATH=")) return uevent_devpath(c.s, p);
            break;
        case 'N':
            if (c.eat("NVME_AEN=")) {
                uint64_t v;
                if (!c.num_any(v) || v > 0xffffffffull || !c.s.empty()) return false;
                p.kind = LineKind::uevent_aen;
                p.nvme = true;
                p.has_aen = true;
                p.aen = static_cast<uint32_t>(v);
                return true;
            }
            break;
        case 's':
            if (c.eat("sd ")) return sd_message(c, p);
            if (c.eat("scsi_dispatch_cmd_done: ")) {
                if (p.source == Source::bare) p.source = Source::trace;
                return cmd_done(c, p);
            }
            break;
        case 'b':
            if (c.eat("blk_update_request: ")) return block_error(c, p);
            if (c.eat("block_rq_complete: ")) {
                if (p.source == Source::bare) p.source = Source::trace;
                return rq_complete(c, p);
            }
            break;
        case 'p':
            if (c.eat("print_req_error: ")) return block_error(c, p);
            break;
        case 'B':
            if (c.eat("Buffer I/O error on dev ")) return buffer_io(c, p);
            break;
        case 'c':
            if (size_t at = c.s.find("@/");
                at != sv::npos && at < 16 &&
                c.s.find(' ') == sv::npos)  // a netlink uevent: "change@/devices/.../nvme0"
                return uevent_devpath(c.s.substr(at + 1), p);
            return block_error(c, p);
        case 'r':
        case 'I':
        case 't':
        case 'o':
        case 'k':
        case 'd':
        case 'z':
            return block_error(c, p);
        default:
            break;
    }
    return false;
}

// ftrace: "  comm-pid  [001] b.s4.  43.703929: EVENT: FIELDS" (the flags column is absent from
// older kernels' and trace-cmd's output). The event name is found first, then the timestamp
// before it.
bool trace_line(Cur c, ParsedLine& p) {
    static constexpr sv kEvents[] = {
        ": scsi_dispatch_cmd_done: ", ": block_rq_complete: ", ": nvme_async_event: "};
    for (size_t e = 0; e < 3; ++e) {
        size_t at = c.s.find(kEvents[e]);
        if (at == sv::npos) continue;
        // The context must contain "[cpu]".
        sv ctx = c.s.substr(0, at);
        size_t lb = ctx.find('[');
        if (lb == sv::npos || ctx.find(']', lb) == sv::npos) return false;
        size_t ts = ctx.find_last_of(' ');
        ts = ts == sv::npos ? 0 : ts + 1;
        Cur t{ctx.substr(ts)};
        int64_t ns;
        if (seconds_fraction(t, ns) && t.s.empty()) {
            p.has_time = true;
            p.ts_ns = ns;
        }
        p.source = Source::trace;
        Cur body{c.s.substr(at + kEvents[e].size())};
        return e == 0 ? cmd_done(body, p) : e == 1 ? rq_complete(body, p) : nvme_aen(body, p);
    }
    return false;
}

}  // namespace

const char* source_name(Source s) noexcept {
    switch (s) {
        case Source::bare:
            return "bare";
        case Source::dmesg:
            return "dmesg";
        case Source::kmsg:
            return "kmsg";
        case Source::journal:
            return "journal";
        case Source::trace:
            return "trace";
    }
    return "?";
}

const char* line_kind_name(LineKind k) noexcept {
    switch (k) {
        case LineKind::sd_conflict:
            return "sd_conflict";
        case LineKind::failed_result:
            return "failed_result";
        case LineKind::cdb:
            return "cdb";
        case LineKind::block_error:
            return "block_error";
        case LineKind::buffer_io:
            return "buffer_io";
        case LineKind::trace_cmd_done:
            return "trace_cmd_done";
        case LineKind::trace_rq_complete:
            return "trace_rq_complete";
        case LineKind::sd_name:
            return "sd_name";
        case LineKind::nvme_error:
            return "nvme_error";
        case LineKind::nvme_aen:
            return "nvme_aen";
        case LineKind::uevent_dev:
            return "uevent_dev";
        case LineKind::uevent_aen:
            return "uevent_aen";
    }
    return "?";
}

std::vector<std::string_view> uevent_lines(std::string_view msg) {
    std::vector<std::string_view> out;
    if (msg.starts_with("libudev")) return out;
    size_t start = 0;
    while (start < msg.size()) {
        size_t end = msg.find('\0', start);
        if (end == sv::npos) end = msg.size();
        if (end > start) out.push_back(msg.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

std::optional<Hctl> parse_hctl(std::string_view s) noexcept {
    Cur c{s};
    auto h = hctl_at(c);
    if (!h || !c.s.empty()) return std::nullopt;
    return h;
}

std::optional<ParsedLine> parse_line(std::string_view line) noexcept {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.size() < 8 || line.size() > 8192) return std::nullopt;
    ParsedLine p;
    Cur c{line};
    if (!strip_prefix(c, p)) return std::nullopt;
    if (p.source == Source::bare) {
        // Not a log framing: a trace line, or a bare message.
        if (!c.s.empty() &&
            (c.s.front() == ' ' || c.s.front() == '<' || c.s.find("-") != sv::npos)) {
            ParsedLine t = p;
            if (trace_line(c, t)) return t;
        }
    }
    if (message(c, p)) return p;
    return std::nullopt;
}

}  // namespace prfence::prexplain
