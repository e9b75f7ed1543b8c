// SPDX-License-Identifier: MIT
#include "uring_engine/simproto/protocol.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>

namespace prfence::sim::proto {
namespace {

void put8(Bytes& out, uint8_t v) { out.push_back(v); }
void put16(Bytes& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& out, uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(Bytes& out, uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_bytes(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }
void put_text(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

bool printable(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

std::string text_of(ByteView b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

Unexpected bad_len(const char* what, size_t got, const char* want) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s payload of %zu bytes, %s", what, got, want);
    return fail(Errc::malformed, buf);
}

}  // namespace

std::string frame_type_name(uint8_t type) {
    switch (static_cast<FrameType>(type)) {
        case FrameType::hello:
            return "HELLO";
        case FrameType::command:
            return "COMMAND";
        case FrameType::abort:
            return "ABORT";
        case FrameType::control:
            return "CONTROL";
        case FrameType::nvme_command:
            return "NVME_COMMAND";
        case FrameType::nvme_response:
            return "NVME_RESPONSE";
        case FrameType::hello_ack:
            return "HELLO_ACK";
        case FrameType::response:
            return "RESPONSE";
        case FrameType::control_reply:
            return "CONTROL_REPLY";
        case FrameType::error:
            return "ERROR";
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "type 0x%02x", type);
    return buf;
}

const char* error_code_name(ErrorCode c) noexcept {
    switch (c) {
        case ErrorCode::bad_magic:
            return "bad_magic";
        case ErrorCode::bad_version:
            return "bad_version";
        case ErrorCode::version_unsupported:
            return "version_unsupported";
        case ErrorCode::unknown_type:
            return "unknown_type";
        case ErrorCode::bad_length:
            return "bad_length";
        case ErrorCode::too_large:
            return "too_large";
        case ErrorCode::not_hello:
            return "not_hello";
        case ErrorCode::duplicate_hello:
            return "duplicate_hello";
        case ErrorCode::bad_hello:
            return "bad_hello";
        case ErrorCode::duplicate_tag:
            return "duplicate_tag";
        case ErrorCode::bad_cdb:
            return "bad_cdb";
        case ErrorCode::output_overflow:
            return "output_overflow";
        case ErrorCode::shutting_down:
            return "shutting_down";
        case ErrorCode::internal:
            return "internal";
        case ErrorCode::wrong_transport:
            return "wrong_transport";
        case ErrorCode::bad_nvme_command:
            return "bad_nvme_command";
    }
    return "unknown";
}

Hello make_hello(std::string_view initiator_text, uint16_t target_port,
                 std::string_view client_name) {
    Hello h;
    h.target_port = target_port;
    h.form = TidForm::text;
    h.initiator.assign(initiator_text.begin(), initiator_text.end());
    h.client_name = std::string(client_name);
    return h;
}

Result<wire::TransportId> hello_initiator(const Hello& h) {
    if (h.form == TidForm::text) return wire::parse_transport_id(text_of(h.initiator));
    PRF_TRY_ASSIGN(auto d, wire::decode_transport_id(h.initiator));
    if (d.length != h.initiator.size())
        return fail(Errc::malformed, "TransportID is " + std::to_string(d.length) +
                                         " bytes but the HELLO field holds " +
                                         std::to_string(h.initiator.size()));
    return d.tid;
}

Response Response::from(const ResponseView& v) {
    Response r;
    r.tag = v.tag;
    r.status = v.status;
    r.host = v.host;
    r.flags = v.flags;
    r.sense.assign(v.sense.begin(), v.sense.end());
    r.data_in.assign(v.data_in.begin(), v.data_in.end());
    return r;
}

NvmeResponse NvmeResponse::from(const NvmeResponseView& v) {
    NvmeResponse r;
    r.tag = v.tag;
    r.status = v.status;
    r.flags = v.flags;
    r.result = v.result;
    r.data_in.assign(v.data_in.begin(), v.data_in.end());
    return r;
}

// ---- encoding ----

void append_header(Bytes& out, FrameType type, uint32_t length, uint64_t tag, uint8_t version) {
    put8(out, kMagic0);
    put8(out, kMagic1);
    put8(out, version);
    put8(out, static_cast<uint8_t>(type));
    put32(out, length);
    put64(out, tag);
}

Status append_hello(Bytes& out, const Hello& h) {
    if (h.min_version == 0 || h.min_version > h.max_version)
        return fail(Errc::invalid_argument, "HELLO version range " + std::to_string(h.min_version) +
                                                "-" + std::to_string(h.max_version) +
                                                " is empty or starts at 0");
    if (h.target_port == 0)
        return fail(Errc::invalid_argument, "target port 0 does not exist (ports are 1-based)");
    const bool nvme = h.nvme_host.has_value();
    if ((h.initiator.empty() && !nvme) || h.initiator.size() > kMaxTransportIdLen)
        return fail(Errc::invalid_argument, "initiator TransportID must be 1-" +
                                                std::to_string(kMaxTransportIdLen) +
                                                " bytes (0 only with an NVMe host), got " +
                                                std::to_string(h.initiator.size()));
    if (h.client_name.size() > kMaxClientName || !printable(h.client_name))
        return fail(Errc::invalid_argument,
                    "client name must be at most 64 printable ASCII characters");
    if (h.form != TidForm::text && h.form != TidForm::binary)
        return fail(Errc::invalid_argument, "unknown TransportID form");
    if (nvme && (h.nvme_host->hostnqn.empty() || h.nvme_host->hostnqn.size() > kMaxHostNqnLen ||
                 !printable(h.nvme_host->hostnqn)))
        return fail(Errc::invalid_argument, "host NQN must be 1-" + std::to_string(kMaxHostNqnLen) +
                                                " printable ASCII characters");
    const size_t nvme_len = nvme ? kNvmeHostFixedSize + h.nvme_host->hostnqn.size() : 0;
    const size_t len = kHelloFixedSize + h.initiator.size() + nvme_len + h.client_name.size();
    append_header(out, FrameType::hello, static_cast<uint32_t>(len), 0, kVersion1);
    put8(out, h.min_version);
    put8(out, h.max_version);
    put16(out, h.target_port);
    put8(out, static_cast<uint8_t>(h.form));
    put8(out, nvme ? kHelloNvmeHost : 0);
    put16(out, static_cast<uint16_t>(h.initiator.size()));
    put_bytes(out, h.initiator);
    if (nvme) {
        put_bytes(out, h.nvme_host->hostid);
        put16(out, static_cast<uint16_t>(h.nvme_host->hostnqn.size()));
        put_text(out, h.nvme_host->hostnqn);
    }
    put_text(out, h.client_name);
    return {};
}

Status append_command(Bytes& out, uint64_t tag, uint32_t lun, ByteView cdb, ByteView data_out,
                      uint32_t alloc_len, uint8_t version) {
    if (cdb.empty() || cdb.size() > kMaxCdbLen)
        return fail(Errc::invalid_argument,
                    "CDB must be 1-16 bytes, got " + std::to_string(cdb.size()));
    if (data_out.size() > kMaxDataLen)
        return fail(Errc::invalid_argument, "data-out of " + std::to_string(data_out.size()) +
                                                " bytes exceeds " + std::to_string(kMaxDataLen));
    if (alloc_len > kMaxDataLen)
        return fail(Errc::invalid_argument, "allocation length " + std::to_string(alloc_len) +
                                                " exceeds " + std::to_string(kMaxDataLen));
    out.reserve(out.size() + command_frame_size(data_out.size()));
    append_header(out, FrameType::command,
                  static_cast<uint32_t>(kCommandFixedSize + data_out.size()), tag, version);
    put32(out, lun);
    put8(out, static_cast<uint8_t>(cdb.size()));
    put8(out, 0);
    put16(out, 0);
    put32(out, alloc_len);
    put32(out, static_cast<uint32_t>(data_out.size()));
    put_bytes(out, cdb);
    out.insert(out.end(), kMaxCdbLen - cdb.size(), 0);
    put_bytes(out, data_out);
    return {};
}

void append_abort(Bytes& out, uint64_t tag, uint8_t version) {
    append_header(out, FrameType::abort, 0, tag, version);
}

Status append_control(Bytes& out, uint64_t tag, std::string_view json, uint8_t version) {
    if (json.size() > kMaxDataLen) return fail(Errc::invalid_argument, "control message too long");
    append_header(out, FrameType::control, static_cast<uint32_t>(json.size()), tag, version);
    put_text(out, json);
    return {};
}

void append_hello_ack(Bytes& out, const HelloAck& a) {
    const bool v2 = a.version >= kVersion2;
    append_header(out, FrameType::hello_ack, v2 ? kHelloAckSizeV2 : kHelloAckSize, 0, a.version);
    put8(out, a.version);
    put8(out, 0);
    put16(out, a.target_port);
    put32(out, a.lun_count);
    put32(out, a.host);
    put16(out, a.channel);
    put16(out, a.target_id);
    put32(out, a.max_payload);
    put32(out, a.max_in_flight);
    if (v2) {
        put16(out, a.cntlid);
        put16(out, 0);
        put32(out, a.namespace_count);
    }
}

Status append_nvme_command(Bytes& out, uint64_t tag, const NvmeCommand& c, uint8_t version) {
    if (c.queue != NvmeQueue::admin && c.queue != NvmeQueue::io)
        return fail(Errc::invalid_argument, "NVMe queue must be admin (0) or I/O (1)");
    if (c.data_out.size() > kMaxDataLen || c.data_in_len > kMaxDataLen)
        return fail(Errc::invalid_argument, "NVMe data-out of " +
                                                std::to_string(c.data_out.size()) +
                                                " / data-in of " + std::to_string(c.data_in_len) +
                                                " bytes exceeds " + std::to_string(kMaxDataLen));
    out.reserve(out.size() + kHeaderSize + kNvmeCommandFixedSize + c.data_out.size());
    append_header(out, FrameType::nvme_command,
                  static_cast<uint32_t>(kNvmeCommandFixedSize + c.data_out.size()), tag, version);
    put8(out, static_cast<uint8_t>(c.queue));
    put8(out, c.opcode);
    put8(out, 0);
    put8(out, 0);
    put32(out, c.nsid);
    for (uint32_t d : c.cdw) put32(out, d);
    put32(out, c.data_in_len);
    put32(out, static_cast<uint32_t>(c.data_out.size()));
    put_bytes(out, c.data_out);
    return {};
}

Status append_nvme_response(Bytes& out, uint64_t tag, uint16_t status, uint64_t result,
                            ByteView data_in, uint8_t flags, uint8_t version) {
    if (data_in.size() > kMaxDataLen)
        return fail(Errc::invalid_argument, "NVMe data-in of " + std::to_string(data_in.size()) +
                                                " bytes exceeds " + std::to_string(kMaxDataLen));
    const size_t len = kNvmeResponseFixedSize + data_in.size();
    out.reserve(out.size() + kHeaderSize + len);
    append_header(out, FrameType::nvme_response, static_cast<uint32_t>(len), tag, version);
    put16(out, status);
    put8(out, flags);
    put8(out, 0);
    put64(out, result);
    put32(out, static_cast<uint32_t>(data_in.size()));
    put_bytes(out, data_in);
    return {};
}

Status append_response(Bytes& out, uint64_t tag, uint8_t status, uint8_t host, ByteView sense,
                       ByteView data_in, uint8_t flags, uint8_t version) {
    if (data_in.size() > kMaxDataLen)
        return fail(Errc::invalid_argument, "data-in of " + std::to_string(data_in.size()) +
                                                " bytes exceeds " + std::to_string(kMaxDataLen));
    if (sense.size() > kMaxSenseLen) sense = sense.first(kMaxSenseLen);
    const size_t len = kResponseFixedSize + sense.size() + data_in.size();
    out.reserve(out.size() + kHeaderSize + len);
    append_header(out, FrameType::response, static_cast<uint32_t>(len), tag, version);
    put8(out, status);
    put8(out, host);
    put8(out, static_cast<uint8_t>(sense.size()));
    put8(out, flags);
    put32(out, static_cast<uint32_t>(data_in.size()));
    put_bytes(out, sense);
    put_bytes(out, data_in);
    return {};
}

void append_control_reply(Bytes& out, uint64_t tag, std::string_view json, uint8_t version) {
    if (json.size() > kMaxDataLen) json = json.substr(0, kMaxDataLen);
    append_header(out, FrameType::control_reply, static_cast<uint32_t>(json.size()), tag, version);
    put_text(out, json);
}

void append_error(Bytes& out, uint64_t tag, ErrorCode code, bool fatal, std::string_view message,
                  uint8_t version) {
    if (message.size() > 1024) message = message.substr(0, 1024);
    append_header(out, FrameType::error, static_cast<uint32_t>(kErrorFixedSize + message.size()),
                  tag, version);
    put16(out, static_cast<uint16_t>(code));
    put8(out, fatal ? 1 : 0);
    put8(out, 0);
    put_text(out, message);
}

Result<Bytes> encode_hello(const Hello& h) {
    Bytes out;
    PRF_TRY(append_hello(out, h));
    return out;
}

Result<Bytes> encode_command(uint64_t tag, uint32_t lun, ByteView cdb, ByteView data_out,
                             uint32_t alloc_len) {
    Bytes out;
    PRF_TRY(append_command(out, tag, lun, cdb, data_out, alloc_len));
    return out;
}

Bytes encode_abort(uint64_t tag) {
    Bytes out;
    append_abort(out, tag);
    return out;
}

Result<Bytes> encode_control(uint64_t tag, std::string_view json) {
    Bytes out;
    PRF_TRY(append_control(out, tag, json));
    return out;
}

// ---- decoding ----

Result<FrameHeader> decode_header(ByteView in) {
    if (in.size() < kHeaderSize)
        return fail(Errc::truncated,
                    "frame header needs 16 bytes, got " + std::to_string(in.size()));
    if (in[0] != kMagic0 || in[1] != kMagic1) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "bad frame magic %02x %02x (expected 50 53, \"PS\")", in[0],
                      in[1]);
        return fail(Errc::malformed, buf);
    }
    FrameHeader h;
    h.version = in[2];
    h.type = in[3];
    h.length = get_be32(in, 4);
    h.tag = get_be64(in, 8);
    return h;
}

void FrameDecoder::compact() {
    if (begin_ == 0) return;
    if (begin_ == end_) {
        begin_ = end_ = 0;
        return;
    }
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
}

void FrameDecoder::feed(ByteView bytes) {
    auto area = write_area(bytes.size());
    std::memcpy(area.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

std::span<uint8_t> FrameDecoder::write_area(size_t min_bytes) {
    // Move unconsumed bytes to the front when that is cheap or needed, then grow if still short.
    if (begin_ > 0 && (buf_.size() - end_ < min_bytes || begin_ >= buf_.size() / 2)) compact();
    if (buf_.size() - end_ < min_bytes) buf_.resize(std::max(end_ + min_bytes, buf_.size() * 2));
    return {buf_.data() + end_, buf_.size() - end_};
}

void FrameDecoder::commit(size_t n) {
    assert(end_ + n <= buf_.size());
    end_ += n;
}

size_t FrameDecoder::pending_frame_size() const {
    if (end_ - begin_ < kHeaderSize) return 0;
    return kHeaderSize + get_be32(ByteView(buf_.data() + begin_, end_ - begin_), 4);
}

Result<std::optional<Frame>> FrameDecoder::next() {
    if (failed_) return fail(error_);
    const size_t avail = end_ - begin_;
    if (avail < kHeaderSize) {
        // Reject a bad magic as soon as its bytes are here, not only once a whole header arrived.
        const bool bad =
            (avail >= 1 && buf_[begin_] != kMagic0) || (avail >= 2 && buf_[begin_ + 1] != kMagic1);
        if (bad) {
            failed_ = true;
            error_code_ = ErrorCode::bad_magic;
            char msg[96];
            std::snprintf(msg, sizeof msg, "bad frame magic %02x %02x (expected 50 53, \"PS\")",
                          buf_[begin_], avail >= 2 ? buf_[begin_ + 1] : 0);
            error_ = Error(Errc::malformed, msg);
            return fail(error_);
        }
        return std::optional<Frame>{};
    }
    ByteView in(buf_.data() + begin_, avail);
    auto hdr = decode_header(in);
    if (!hdr) {
        failed_ = true;
        error_code_ = ErrorCode::bad_magic;
        error_ = std::move(hdr).error();
        return fail(error_);
    }
    if (hdr->length > max_payload_) {
        failed_ = true;
        error_code_ = ErrorCode::too_large;
        error_ =
            Error(Errc::malformed, frame_type_name(hdr->type) + " frame announces a payload of " +
                                       std::to_string(hdr->length) + " bytes; the maximum is " +
                                       std::to_string(max_payload_));
        return fail(error_);
    }
    if (avail < kHeaderSize + hdr->length) return std::optional<Frame>{};
    Frame f{*hdr, in.subspan(kHeaderSize, hdr->length)};
    begin_ += kHeaderSize + hdr->length;
    return std::optional<Frame>{f};
}

Result<Hello> decode_hello(ByteView p) {
    if (p.size() < kHelloFixedSize) return bad_len("HELLO", p.size(), "needs at least 8");
    Hello h;
    h.min_version = p[0];
    h.max_version = p[1];
    h.target_port = get_be16(p, 2);
    if (p[4] > 1)
        return fail(Errc::malformed,
                    "HELLO TransportID form " + std::to_string(p[4]) + " is not 0 or 1");
    h.form = static_cast<TidForm>(p[4]);
    const uint8_t flags = p[5];
    if (flags & ~kHelloNvmeHost)
        return fail(Errc::malformed, "HELLO flags " + std::to_string(flags) + " has unknown bits");
    const bool nvme = (flags & kHelloNvmeHost) != 0;
    const size_t tid_len = get_be16(p, 6);
    if ((tid_len == 0 && !nvme) || tid_len > kMaxTransportIdLen)
        return fail(Errc::malformed, "HELLO TransportID length " + std::to_string(tid_len) +
                                         " is not 1-" + std::to_string(kMaxTransportIdLen) +
                                         " (0 only with an NVMe host)");
    if (p.size() < kHelloFixedSize + tid_len)
        return bad_len("HELLO", p.size(), "shorter than its TransportID length says");
    h.initiator.assign(p.begin() + kHelloFixedSize, p.begin() + kHelloFixedSize + tid_len);
    size_t off = kHelloFixedSize + tid_len;
    if (nvme) {
        if (p.size() < off + kNvmeHostFixedSize)
            return bad_len("HELLO", p.size(), "shorter than its NVMe host identity");
        NvmeHost host;
        std::memcpy(host.hostid.data(), p.data() + off, host.hostid.size());
        const size_t nqn_len = get_be16(p, off + 16);
        off += kNvmeHostFixedSize;
        if (nqn_len == 0 || nqn_len > kMaxHostNqnLen)
            return fail(Errc::malformed, "HELLO host NQN length " + std::to_string(nqn_len) +
                                             " is not 1-" + std::to_string(kMaxHostNqnLen));
        if (p.size() < off + nqn_len)
            return bad_len("HELLO", p.size(), "shorter than its host NQN length says");
        host.hostnqn = text_of(p.subspan(off, nqn_len));
        if (!printable(host.hostnqn))
            return fail(Errc::malformed, "HELLO host NQN is not printable ASCII");
        off += nqn_len;
        h.nvme_host = std::move(host);
    }
    auto name = p.subspan(off);
    if (name.size() > kMaxClientName)
        return fail(Errc::malformed, "HELLO client name longer than 64 bytes");
    h.client_name = text_of(name);
    if (!printable(h.client_name))
        return fail(Errc::malformed, "HELLO client name is not printable ASCII");
    if (h.form == TidForm::text &&
        (std::find(h.initiator.begin(), h.initiator.end(), 0) != h.initiator.end()))
        return fail(Errc::malformed, "HELLO text TransportID contains NUL");
    if (h.min_version == 0 || h.min_version > h.max_version)
        return fail(Errc::malformed, "HELLO version range " + std::to_string(h.min_version) + "-" +
                                         std::to_string(h.max_version) +
                                         " is empty or starts at 0");
    if (h.target_port == 0) return fail(Errc::malformed, "HELLO target port 0 (ports are 1-based)");
    return h;
}

Result<HelloAck> decode_hello_ack(ByteView p) {
    if (p.empty()) return bad_len("HELLO_ACK", 0, "must be 24 (version 1) or 32");
    const bool v2 = p[0] >= kVersion2;
    if (p.size() != (v2 ? kHelloAckSizeV2 : kHelloAckSize))
        return bad_len("HELLO_ACK", p.size(),
                       v2 ? "must be 32 in version 2 and later" : "must be 24 in version 1");
    HelloAck a;
    a.version = p[0];
    if (v2) {
        a.cntlid = get_be16(p, 24);
        a.namespace_count = get_be32(p, 28);
    }
    a.target_port = get_be16(p, 2);
    a.lun_count = get_be32(p, 4);
    a.host = get_be32(p, 8);
    a.channel = get_be16(p, 12);
    a.target_id = get_be16(p, 14);
    a.max_payload = get_be32(p, 16);
    a.max_in_flight = get_be32(p, 20);
    return a;
}

Result<CommandView> decode_command(uint64_t tag, ByteView p) {
    if (p.size() < kCommandFixedSize) return bad_len("COMMAND", p.size(), "needs at least 32");
    CommandView c;
    c.tag = tag;
    c.lun = get_be32(p, 0);
    c.cdb_len = p[4];
    c.alloc_len = get_be32(p, 8);
    const uint32_t dout = get_be32(p, 12);
    if (p.size() != kCommandFixedSize + size_t{dout})
        return bad_len("COMMAND", p.size(),
                       ("but its data-out length says " + std::to_string(dout)).c_str());
    std::memcpy(c.cdb.data(), p.data() + 16, kMaxCdbLen);
    c.data_out = p.subspan(kCommandFixedSize);
    // CDB length and allocation length are checked by the receiver: a bad value rejects one command
    // only.
    return c;
}

Result<ResponseView> decode_response(uint64_t tag, ByteView p) {
    if (p.size() < kResponseFixedSize) return bad_len("RESPONSE", p.size(), "needs at least 8");
    ResponseView r;
    r.tag = tag;
    r.status = p[0];
    r.host = p[1];
    const size_t sense_len = p[2];
    r.flags = p[3];
    const uint32_t din = get_be32(p, 4);
    if (sense_len > kMaxSenseLen) return fail(Errc::malformed, "RESPONSE sense length above 252");
    if (p.size() != kResponseFixedSize + sense_len + size_t{din})
        return bad_len("RESPONSE", p.size(), "but its sense and data-in lengths disagree");
    r.sense = p.subspan(kResponseFixedSize, sense_len);
    r.data_in = p.subspan(kResponseFixedSize + sense_len);
    return r;
}

Result<ErrorFrame> decode_error(uint64_t tag, ByteView p) {
    if (p.size() < kErrorFixedSize) return bad_len("ERROR", p.size(), "needs at least 4");
    ErrorFrame e;
    e.tag = tag;
    e.code = get_be16(p, 0);
    e.fatal = (p[2] & 1) != 0;
    e.message = text_of(p.subspan(kErrorFixedSize));
    return e;
}

Result<NvmeCommandView> decode_nvme_command(uint64_t tag, ByteView p) {
    if (p.size() < kNvmeCommandFixedSize)
        return bad_len("NVME_COMMAND", p.size(), "needs at least 40");
    NvmeCommandView c;
    c.tag = tag;
    c.queue = p[0];
    c.opcode = p[1];
    c.flags = p[2];
    c.nsid = get_be32(p, 4);
    for (size_t i = 0; i < c.cdw.size(); ++i) c.cdw[i] = get_be32(p, 8 + 4 * i);
    c.data_in_len = get_be32(p, 32);
    const uint32_t dout = get_be32(p, 36);
    if (p.size() != kNvmeCommandFixedSize + size_t{dout})
        return bad_len("NVME_COMMAND", p.size(),
                       ("but its data-out length says " + std::to_string(dout)).c_str());
    c.data_out = p.subspan(kNvmeCommandFixedSize);
    // Queue, flags and data-in length are checked by the receiver: a bad value rejects one command.
    return c;
}

Result<NvmeResponseView> decode_nvme_response(uint64_t tag, ByteView p) {
    if (p.size() < kNvmeResponseFixedSize)
        return bad_len("NVME_RESPONSE", p.size(), "needs at least 16");
    NvmeResponseView r;
    r.tag = tag;
    r.status = get_be16(p, 0);
    r.flags = p[2];
    r.result = get_be64(p, 4);
    const uint32_t din = get_be32(p, 12);
    if (p.size() != kNvmeResponseFixedSize + size_t{din})
        return bad_len("NVME_RESPONSE", p.size(), "but its data-in length disagrees");
    r.data_in = p.subspan(kNvmeResponseFixedSize);
    return r;
}

Result<ClientMessage> decode_client_frame(const Frame& f) {
    switch (static_cast<FrameType>(f.header.type)) {
        case FrameType::hello: {
            PRF_TRY_ASSIGN(auto h, decode_hello(f.payload));
            return ClientMessage{std::move(h)};
        }
        case FrameType::command: {
            PRF_TRY_ASSIGN(auto c, decode_command(f.header.tag, f.payload));
            return ClientMessage{c};
        }
        case FrameType::abort:
            if (!f.payload.empty()) return bad_len("ABORT", f.payload.size(), "must be 0");
            return ClientMessage{Abort{f.header.tag}};
        case FrameType::control:
            return ClientMessage{Control{f.header.tag, text_of(f.payload)}};
        case FrameType::nvme_command: {
            PRF_TRY_ASSIGN(auto c, decode_nvme_command(f.header.tag, f.payload));
            return ClientMessage{c};
        }
        default:
            return fail(Errc::unsupported,
                        frame_type_name(f.header.type) + " is not a frame a client may send");
    }
}

Result<ServerMessage> decode_server_frame(const Frame& f) {
    switch (static_cast<FrameType>(f.header.type)) {
        case FrameType::hello_ack: {
            PRF_TRY_ASSIGN(auto a, decode_hello_ack(f.payload));
            return ServerMessage{a};
        }
        case FrameType::response: {
            PRF_TRY_ASSIGN(auto r, decode_response(f.header.tag, f.payload));
            return ServerMessage{r};
        }
        case FrameType::control_reply:
            return ServerMessage{ControlReply{f.header.tag, text_of(f.payload)}};
        case FrameType::error: {
            PRF_TRY_ASSIGN(auto e, decode_error(f.header.tag, f.payload));
            return ServerMessage{std::move(e)};
        }
        case FrameType::nvme_response: {
            PRF_TRY_ASSIGN(auto r, decode_nvme_response(f.header.tag, f.payload));
            return ServerMessage{r};
        }
        default:
            return fail(Errc::unsupported,
                        frame_type_name(f.header.type) + " is not a frame a server sends");
    }
}

ErrorCode payload_error_code(const Error& e) noexcept {
    return e.code == Errc::unsupported ? ErrorCode::unknown_type : ErrorCode::bad_length;
}

}  // namespace prfence::sim::proto
