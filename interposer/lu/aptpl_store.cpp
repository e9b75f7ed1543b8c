// SPDX-License-Identifier: MIT
#include "interposer/lu/aptpl_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"

namespace prfence::sim {
namespace {

constexpr std::string_view kMagic = "prsim-aptpl";
constexpr unsigned kVersion = 1;
// Far above anything a LU holds; bounds what a corrupted count can make us reserve.
constexpr size_t kMaxRegistrations = 1u << 20;

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr auto kCrcTable = make_crc_table();

std::string hex_of(ByteView b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    s.reserve(b.size() * 2);
    for (uint8_t v : b) {
        s += kDigits[v >> 4];
        s += kDigits[v & 0x0f];
    }
    return s;
}

int hex_val(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // the writer emits lowercase only; anything else is damage
}

std::optional<Bytes> bytes_of_hex(std::string_view s) {
    if (s.empty() || s.size() % 2 != 0) return std::nullopt;
    Bytes out(s.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = hex_val(s[2 * i]);
        int lo = hex_val(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return out;
}

template <class T>
bool parse_dec(std::string_view s, T& out) {
    if (s.empty() || s.size() > 20) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    if (s.size() > 1 && s[0] == '0') return false;  // canonical form only
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split_spaces(std::string_view line) {
    std::vector<std::string_view> f;
    size_t i = 0;
    while (i <= line.size()) {
        size_t j = line.find(' ', i);
        if (j == std::string_view::npos) j = line.size();
        f.push_back(line.substr(i, j - i));
        i = j + 1;
    }
    return f;
}

Status write_all(int fd, std::string_view data, const std::string& what) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("writing ", what);
        }
        off += static_cast<size_t>(n);
    }
    return {};
}

Status fsync_dir(const std::filesystem::path& dir) {
    std::string d = dir.empty() ? std::string(".") : dir.string();
    UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return fail_errno("opening directory ", d, " to fsync it");
    if (::fsync(fd.get()) != 0) return fail_errno("fsync of directory ", d);
    return {};
}

}  // namespace

uint32_t crc32_ieee(std::string_view data) noexcept {
    uint32_t c = 0xFFFFFFFFu;
    for (char ch : data) c = kCrcTable[(c ^ static_cast<uint8_t>(ch)) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

Result<std::string> encode_aptpl(const PersistedPr& s) {
    std::string out;
    out += std::string(kMagic) + " " + std::to_string(kVersion) + "\n";
    out += "registrations " + std::to_string(s.registrations.size()) + "\n";
    char buf[64];
    for (const auto& r : s.registrations) {
        PRF_TRY_ASSIGN(Bytes tid, wire::encode_transport_id(r.initiator));
        std::snprintf(buf, sizeof buf, "reg %016llx %u %d ", static_cast<unsigned long long>(r.key),
                      static_cast<unsigned>(r.port), r.all_tg_pt ? 1 : 0);
        out += buf;
        out += hex_of(tid);
        out += "\n";
    }
    if (!s.type) {
        out += "reservation none\n";
    } else {
        out += "reservation " + std::to_string(static_cast<unsigned>(*s.type)) + " " +
               (s.holder ? std::to_string(*s.holder) : std::string("-")) + "\n";
    }
    std::snprintf(buf, sizeof buf, "crc32 %08x\n", crc32_ieee(out));
    out += buf;
    return out;
}

Result<PersistedPr> decode_aptpl(std::string_view text, const std::string& what) {
    auto bad = [&](size_t line_no, const std::string& msg) {
        return fail(Errc::malformed,
                    "APTPL file " + what + ": line " + std::to_string(line_no) + ": " + msg);
    };
    if (text.empty()) return fail(Errc::truncated, "APTPL file " + what + " is empty (truncated)");

    // Split into lines; every line must end in '\n'.
    std::vector<std::string_view> lines;
    std::vector<size_t> starts;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos)
            return fail(Errc::truncated, "APTPL file " + what + ": line " +
                                             std::to_string(lines.size() + 1) +
                                             " has no line end (file truncated?)");
        starts.push_back(pos);
        lines.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }

    // Header and version.
    auto head = split_spaces(lines[0]);
    if (head.size() != 2 || head[0] != kMagic)
        return bad(1, "not a prsim APTPL file (expected \"" + std::string(kMagic) + " " +
                          std::to_string(kVersion) + "\")");
    unsigned version = 0;
    if (!parse_dec(head[1], version)) return bad(1, "bad version field");
    if (version != kVersion)
        return bad(1, "unsupported version " + std::to_string(version) +
                          " (this prsim reads version " + std::to_string(kVersion) + ")");

    // The checksum line is the last one; verify it before trusting anything else.
    const size_t last = lines.size() - 1;
    auto crc_f = split_spaces(lines[last]);
    if (crc_f.size() != 2 || crc_f[0] != "crc32")
        return fail(Errc::truncated,
                    "APTPL file " + what + ": no \"crc32\" line at the end (file truncated?)");
    if (crc_f[1].size() != 8) return bad(last + 1, "checksum is not 8 hex digits");
    auto crc_bytes = bytes_of_hex(crc_f[1]);
    if (!crc_bytes) return bad(last + 1, "checksum is not 8 lowercase hex digits");
    uint32_t stored = get_be32(*crc_bytes, 0);
    uint32_t actual = crc32_ieee(text.substr(0, starts[last]));
    if (stored != actual) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "checksum mismatch (file says %08x, contents give %08x)",
                      stored, actual);
        return fail(Errc::malformed, "APTPL file " + what + ": " + buf);
    }

    // Body.
    if (lines.size() < 4) return bad(lines.size(), "too few lines");
    auto cnt = split_spaces(lines[1]);
    size_t count = 0;
    if (cnt.size() != 2 || cnt[0] != "registrations" || !parse_dec(cnt[1], count))
        return bad(2, "expected \"registrations <count>\"");
    if (count > kMaxRegistrations)
        return bad(2, "registration count " + std::to_string(count) + " is absurd");
    if (lines.size() != count + 4)
        return bad(2, "says " + std::to_string(count) + " registrations but the file has " +
                          std::to_string(lines.size() >= 4 ? lines.size() - 4 : 0) + " reg lines");
    PersistedPr s;
    s.registrations.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        const size_t ln = i + 3;
        auto f = split_spaces(lines[i + 2]);
        if (f.size() != 5 || f[0] != "reg")
            return bad(ln, "expected \"reg <key> <port> <all_tg_pt> <transportid>\"");
        PersistedRegistration r;
        if (f[1].size() != 16) return bad(ln, "reservation key is not 16 hex digits");
        auto key = bytes_of_hex(f[1]);
        if (!key) return bad(ln, "reservation key is not 16 lowercase hex digits");
        r.key = get_be64(*key, 0);
        if (r.key == 0) return bad(ln, "reservation key is zero");
        unsigned port = 0;
        if (!parse_dec(f[2], port) || port == 0 || port > 0xffff)
            return bad(ln, "relative target port is not 1-65535");
        r.port = static_cast<uint16_t>(port);
        if (f[3] != "0" && f[3] != "1") return bad(ln, "all_tg_pt is not 0 or 1");
        r.all_tg_pt = f[3] == "1";
        auto tid_bytes = bytes_of_hex(f[4]);
        if (!tid_bytes) return bad(ln, "TransportID is not lowercase hex bytes");
        auto tid = wire::decode_transport_id(*tid_bytes);
        if (!tid) return bad(ln, "TransportID does not decode: " + tid.error().msg);
        if (tid->length != tid_bytes->size())
            return bad(ln, "TransportID has " + std::to_string(tid_bytes->size() - tid->length) +
                               " trailing bytes");
        r.initiator = std::move(tid->tid);
        s.registrations.push_back(std::move(r));
    }
    const size_t rl = count + 3;
    auto rf = split_spaces(lines[count + 2]);
    if (rf.size() == 2 && rf[0] == "reservation" && rf[1] == "none") {
        // no reservation
    } else if (rf.size() == 3 && rf[0] == "reservation") {
        unsigned type = 0;
        if (!parse_dec(rf[1], type) || type > 0xff ||
            !wire::is_valid_type(static_cast<uint8_t>(type)))
            return bad(rl, "reservation type is not 1, 3, 5, 6, 7 or 8");
        s.type = static_cast<wire::PrType>(type);
        const bool all_reg = wire::is_all_registrants(*s.type);
        if (rf[2] == "-") {
            if (!all_reg) return bad(rl, "reservation of this type needs a holder index");
            if (s.registrations.empty())
                return bad(rl, "all-registrants reservation without registrations");
        } else {
            size_t h = 0;
            if (all_reg) return bad(rl, "all-registrants reservation with a holder index");
            if (!parse_dec(rf[2], h) || h >= s.registrations.size())
                return bad(rl, "holder index is not a registration");
            s.holder = h;
        }
    } else {
        return bad(rl, "expected \"reservation none\" or \"reservation <type> <holder>\"");
    }
    return s;
}

Result<std::optional<PersistedPr>> AptplStore::load() const {
    const std::string name = file_.string();
    UniqueFd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::optional<PersistedPr>{};
        return fail_errno("opening APTPL file ", name);
    }
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("reading APTPL file ", name);
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    fd.reset();
    PRF_TRY_ASSIGN(PersistedPr s, decode_aptpl(text, name));
    return std::optional<PersistedPr>(std::move(s));
}

Status AptplStore::save(const PersistedPr& s) const {
    PRF_TRY_ASSIGN(std::string text, encode_aptpl(s));
    const std::string name = file_.string();
    const std::string tmp = name + ".tmp";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("creating ", tmp);
    // Every failure below leaves the old file as it was and removes the partial one.
    Status st = write_all(fd.get(), text, tmp);
    if (st && ::fsync(fd.get()) != 0) st = fail_errno("fsync of ", tmp);
    // close is checked here, not left to UniqueFd: on NFS a write error may surface only at close.
    if (st && ::close(fd.release()) != 0) st = fail_errno("closing ", tmp);
    if (st && ::rename(tmp.c_str(), name.c_str()) != 0)
        st = fail_errno("renaming ", tmp, " to ", name);
    if (!st) {
        fd.reset();
        ::unlink(tmp.c_str());
        return st;
    }
    return fsync_dir(file_.parent_path());
}

Status AptplStore::remove() const {
    const std::string name = file_.string();
    if (::unlink(name.c_str()) != 0) {
        if (errno == ENOENT) return {};
        return fail_errno("removing APTPL file ", name);
    }
    return fsync_dir(file_.parent_path());
}

Status AptplStore::check_directory() const {
    const auto dir = file_.parent_path().empty() ? std::filesystem::path(".") : file_.parent_path();
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return fail_errno("APTPL directory ", dir.native());
    if (!S_ISDIR(st.st_mode))
        return fail(Errc::system, "APTPL directory " + dir.string() + " is not a directory",
                    ENOTDIR);
    return {};
}

}  // namespace prfence::sim
