// SPDX-License-Identifier: MIT
// prsim wire protocol: the framing shared by the prsim daemon and every client (SimClient, the
// engine's `sim` transport). Pure functions, no I/O: encoders append frames to a buffer,
// FrameDecoder is fed the bytes a socket delivered and yields complete frames, and the decode_*
// functions turn a frame's payload into a message. The server and the clients use these same
// functions: this file is the protocol's single source of truth, and interposer/PROTOCOL.md
// describes the same bytes for humans.
//
// Every frame is a 16-byte header followed by `length` payload bytes (all integers big-endian):
//   0-1  magic 'P' 'S' (50h 53h)     2  version     3  type     4-7  payload length     8-15  tag
// Hostile input never reads out of bounds: the decoder checks the magic and bounds the length
// before it buffers a payload, and each payload decoder checks its own layout exactly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::sim::proto {

inline constexpr uint8_t kMagic0 = 0x50;  // 'P'
inline constexpr uint8_t kMagic1 = 0x53;  // 'S'
inline constexpr uint8_t kVersion1 = 1;
// Version 2 adds NVMe: a HELLO may declare an NVMe host (host NQN and 16-byte host identifier), and
// the NVME_COMMAND / NVME_RESPONSE frames carry NVMe commands to the farm's namespaces.
inline constexpr uint8_t kVersion2 = 2;
// Versions this build speaks. A HELLO offering no version in this range is refused
// (version_unsupported).
inline constexpr uint8_t kMinVersion = 1;
inline constexpr uint8_t kMaxVersion = 2;

inline constexpr size_t kHeaderSize = 16;
inline constexpr size_t kHelloFixedSize = 8;
inline constexpr size_t kHelloAckSize = 24;    // version 1
inline constexpr size_t kHelloAckSizeV2 = 32;  // version 2: + controller id, namespace count
inline constexpr size_t kNvmeCommandFixedSize = 40;
inline constexpr size_t kNvmeResponseFixedSize = 16;
inline constexpr size_t kNvmeHostFixedSize = 18;  // host identifier (16) + NQN length (2)
inline constexpr size_t kMaxHostNqnLen = 223;     // NVMe: an NQN is at most 223 bytes
inline constexpr size_t kCommandFixedSize = 32;
inline constexpr size_t kResponseFixedSize = 8;
inline constexpr size_t kErrorFixedSize = 4;
inline constexpr size_t kMaxCdbLen = 16;
inline constexpr size_t kMaxSenseLen = 252;  // SPC-4: 8 + ADDITIONAL SENSE LENGTH (at most 244)
inline constexpr size_t kMaxClientName = 64;
inline constexpr size_t kMaxTransportIdLen = 512;
// Data-out and data-in of one command are at most this long; a payload is at most kMaxPayload.
inline constexpr uint32_t kMaxDataLen = 1u << 20;
inline constexpr uint32_t kMaxPayload = kMaxDataLen + 512;

enum class FrameType : uint8_t {
    // client -> server
    hello = 0x01,
    command = 0x02,
    abort = 0x03,
    control = 0x04,
    nvme_command = 0x05,  // version 2
    // server -> client
    hello_ack = 0x81,
    response = 0x82,
    control_reply = 0x84,
    nvme_response = 0x85,  // version 2
    error = 0xff,
};
// "HELLO", "COMMAND", ...; "type 0xNN" for values not listed.
std::string frame_type_name(uint8_t type);

// ERROR frame codes. A fatal error closes the connection after the ERROR frame; a non-fatal one
// rejects only the command whose tag it carries (that command was not executed).
enum class ErrorCode : uint16_t {
    bad_magic = 1,            // fatal: the stream is not prsim frames
    bad_version = 2,          // fatal: a frame carries a version other than the negotiated one
    version_unsupported = 3,  // fatal: HELLO offers no version the server speaks
    unknown_type = 4,         // fatal
    bad_length = 5,           // fatal: a payload length that does not fit its frame type
    too_large = 6,            // fatal: payload length above the server's maximum
    not_hello = 7,            // fatal: COMMAND or ABORT before HELLO
    duplicate_hello = 8,      // fatal
    bad_hello = 9,            // fatal: unparsable TransportID, unknown target port
    duplicate_tag = 10,       // non-fatal: the tag is still in flight on this connection
    bad_cdb = 11,             // non-fatal: CDB length 0 or above 16
    output_overflow = 12,     // fatal: the client did not read its responses (sent best effort)
    shutting_down = 13,       // fatal
    internal = 14,
    // Version 2. Non-fatal: the command's kind does not fit the connection (a COMMAND on a
    // connection without a SCSI nexus, an NVME_COMMAND on one without an NVMe host, or a farm
    // without namespaces); not executed.
    wrong_transport = 15,
    bad_nvme_command = 16,  // non-fatal: queue not 0/1, flags not 0, data-in above 1 MiB
};
const char* error_code_name(ErrorCode c) noexcept;

struct FrameHeader {
    uint8_t version = kVersion1;
    uint8_t type = 0;  // a FrameType value; raw so that unknown types can be reported
    uint32_t length = 0;
    uint64_t tag = 0;
};

// A complete frame as the decoder yields it; `payload` points into the decoder's buffer and stays
// valid until the next call to FrameDecoder::next(), feed() or write_area().
struct Frame {
    FrameHeader header;
    ByteView payload;
};

// How a HELLO names the initiator port.
enum class TidForm : uint8_t {
    text = 0,  // sg_persist --transport-id syntax ("iqn.2001-05.com.example:node-b,i,0x23d000001")
    binary = 1,  // one TransportID exactly as SPC-4 7.6.4 encodes it
};

// HELLO flags (byte 5; 0 in version 1).
inline constexpr uint8_t kHelloNvmeHost = 0x01;  // an NVMe host identity follows the TransportID

// The NVMe host a version-2 connection speaks as: registrations and reservations belong to the
// host identifier, as they do on an NVMe-oF target (the NQN names the host in log lines).
struct NvmeHost {
    std::array<uint8_t, 16> hostid{};
    std::string hostnqn;  // 1..kMaxHostNqnLen printable ASCII
    bool operator==(const NvmeHost&) const = default;
};

struct Hello {
    uint8_t min_version = kMinVersion;
    // Version 2 is opt-in: a client offers it when it will send version-2 frames (NVMe). Clients
    // that build their frames with the version-1 default keep working against this server.
    uint8_t max_version = kVersion1;
    uint16_t target_port = 1;  // RELATIVE TARGET PORT IDENTIFIER the nexus goes through, 1-based
    TidForm form = TidForm::text;
    // text (UTF-8, no NUL) or TransportID bytes, 1..kMaxTransportIdLen; may be empty (0 bytes, no
    // SCSI nexus) only when nvme_host is set.
    Bytes initiator;
    std::string client_name;  // for the daemon's log lines; printable ASCII, at most kMaxClientName
    // Version 2: the NVMe host (flag kHelloNvmeHost). A server refuses it (bad_hello) when the
    // negotiated version is 1; a server of version 1 only cannot parse it (bad_length).
    std::optional<NvmeHost> nvme_host;
};
// Builds a Hello for a text TransportID.
Hello make_hello(std::string_view initiator_text, uint16_t target_port,
                 std::string_view client_name = "");
// The initiator of a decoded Hello as a TransportId (text parsed as sg_persist does, bytes decoded
// and required to fill the field exactly).
Result<wire::TransportId> hello_initiator(const Hello& h);

struct HelloAck {
    uint8_t version = kVersion1;  // the negotiated version
    uint16_t target_port = 1;
    uint32_t lun_count = 0;
    uint32_t host = 0;                   // the nexus's SCSI host number (H of H:C:T:L)
    uint16_t channel = 0;                // C
    uint16_t target_id = 0;              // T
    uint32_t max_payload = kMaxPayload;  // largest payload the server accepts
    uint32_t max_in_flight = 0;          // commands in flight per connection before TASK SET FULL
    // Version 2 only (absent from a version-1 HELLO_ACK):
    uint16_t cntlid = 0xffff;      // the NVMe controller id of this connection; FFFFh: no NVMe host
    uint32_t namespace_count = 0;  // the farm's NVMe namespaces (NSIDs 1..count)
    bool operator==(const HelloAck&) const = default;
};

// NVME_COMMAND queues.
enum class NvmeQueue : uint8_t { admin = 0, io = 1 };

// An NVME_COMMAND as decoded on the server side; data_out points into the frame.
struct NvmeCommandView {
    uint64_t tag = 0;
    uint8_t queue = 1;  // raw NvmeQueue (checked by the receiver: bad_nvme_command)
    uint8_t opcode = 0;
    uint8_t flags = 0;  // 0 (checked by the receiver)
    uint32_t nsid = 0;
    std::array<uint32_t, 6> cdw{};  // CDW10..CDW15
    uint32_t data_in_len = 0;       // data-in bytes the client accepts (checked by the receiver)
    ByteView data_out;
};
// The same with an owned buffer, for clients building commands.
struct NvmeCommand {
    NvmeQueue queue = NvmeQueue::io;
    uint8_t opcode = 0;
    uint32_t nsid = 0;
    std::array<uint32_t, 6> cdw{};
    Bytes data_out;
    uint32_t data_in_len = 0;
};

struct NvmeResponseView {
    uint64_t tag = 0;
    uint16_t status = 0;  // Linux's form: SC 7:0, SCT 10:8, CRD 12:11, MORE 13, DNR 14; 0 = success
    uint8_t flags = 0;    // kRespAbortedByPreempt / kRespAbortedByClient, as RESPONSE
    uint64_t result = 0;  // completion dwords 0 (bits 31:0) and 1 (63:32)
    ByteView data_in;
};
struct NvmeResponse {
    uint64_t tag = 0;
    uint16_t status = 0;
    uint8_t flags = 0;
    uint64_t result = 0;
    Bytes data_in;
    static NvmeResponse from(const NvmeResponseView& v);
};

// A COMMAND as decoded on the server side; data_out points into the frame.
struct CommandView {
    uint64_t tag = 0;
    uint32_t lun = 0;
    uint8_t cdb_len = 0;
    std::array<uint8_t, kMaxCdbLen> cdb{};
    uint32_t alloc_len = 0;  // data-in bytes the client accepts
    ByteView data_out;
    ByteView cdb_bytes() const { return {cdb.data(), cdb_len}; }
};

// RESPONSE flags.
inline constexpr uint8_t kRespAbortedByPreempt =
    0x01;  // TASK ABORTED: PREEMPT AND ABORT from another nexus
inline constexpr uint8_t kRespAbortedByClient = 0x02;  // TASK ABORTED: this client's ABORT frame

struct ResponseView {
    uint64_t tag = 0;
    uint8_t status = 0;  // SAM status
    uint8_t host = 0;    // Linux host byte (DID_*), 0 unless a transport fault says otherwise
    uint8_t flags = 0;
    ByteView sense;
    ByteView data_in;
};
// The same with owned buffers, for clients that keep responses around.
struct Response {
    uint64_t tag = 0;
    uint8_t status = 0;
    uint8_t host = 0;
    uint8_t flags = 0;
    Bytes sense;
    Bytes data_in;
    static Response from(const ResponseView& v);
};

struct Abort {
    uint64_t tag = 0;
};
struct Control {
    uint64_t tag = 0;
    std::string json;
};
struct ControlReply {
    uint64_t tag = 0;
    std::string json;
};
struct ErrorFrame {
    uint64_t tag = 0;  // 0 for connection-level errors
    uint16_t code = 0;
    bool fatal = false;
    std::string message;
};

// ---- encoding: each appends one frame to `out` (never touches bytes already there) ----
void append_header(Bytes& out, FrameType type, uint32_t length, uint64_t tag,
                   uint8_t version = kVersion1);
// Fails (invalid_argument) for an empty (without NVMe host) or too long initiator, a client name
// that is too long or not printable, a host NQN empty, too long or not printable, min_version >
// max_version, target port 0.
Status append_hello(Bytes& out, const Hello& h);
// Fails (invalid_argument) for a CDB of 0 or more than 16 bytes or data-out above kMaxDataLen.
Status append_command(Bytes& out, uint64_t tag, uint32_t lun, ByteView cdb, ByteView data_out,
                      uint32_t alloc_len, uint8_t version = kVersion1);
void append_abort(Bytes& out, uint64_t tag, uint8_t version = kVersion1);
Status append_control(Bytes& out, uint64_t tag, std::string_view json, uint8_t version = kVersion1);
// Version 1 layout (24 bytes) when a.version is 1, else version 2 (32 bytes).
void append_hello_ack(Bytes& out, const HelloAck& a);
// Fails (invalid_argument) for a queue other than admin/io or data-out / data-in above
// kMaxDataLen. Always a version-2 frame unless `version` says otherwise (servers refuse it then).
Status append_nvme_command(Bytes& out, uint64_t tag, const NvmeCommand& c,
                           uint8_t version = kVersion2);
// Data-in above kMaxDataLen fails (invalid_argument).
Status append_nvme_response(Bytes& out, uint64_t tag, uint16_t status, uint64_t result,
                            ByteView data_in, uint8_t flags = 0, uint8_t version = kVersion2);
// Sense longer than kMaxSenseLen is cut; data-in above kMaxDataLen fails (invalid_argument).
Status append_response(Bytes& out, uint64_t tag, uint8_t status, uint8_t host, ByteView sense,
                       ByteView data_in, uint8_t flags = 0, uint8_t version = kVersion1);
void append_control_reply(Bytes& out, uint64_t tag, std::string_view json,
                          uint8_t version = kVersion1);
// The message is cut to 1024 bytes.
void append_error(Bytes& out, uint64_t tag, ErrorCode code, bool fatal, std::string_view message,
                  uint8_t version = kVersion1);

// Convenience forms returning one frame.
Result<Bytes> encode_hello(const Hello& h);
Result<Bytes> encode_command(uint64_t tag, uint32_t lun, ByteView cdb, ByteView data_out,
                             uint32_t alloc_len);
Bytes encode_abort(uint64_t tag);
Result<Bytes> encode_control(uint64_t tag, std::string_view json);

// Size of the COMMAND frame append_command would produce (header included).
inline size_t command_frame_size(size_t data_out_len) {
    return kHeaderSize + kCommandFixedSize + data_out_len;
}

// ---- decoding ----
// Parses a header from exactly kHeaderSize bytes (or more; the rest is ignored). Checks only the
// magic.
Result<FrameHeader> decode_header(ByteView in);

// Incremental frame decoder: feed it whatever a read returned, take complete frames out. Bounded: a
// header announcing more than max_payload bytes is an error, and the buffer never holds more than
// one header plus max_payload bytes of an incomplete frame (plus whatever complete frames the
// caller has not taken yet). Errors (bad magic, too large) are sticky: the stream cannot be
// resynchronised, close the connection.
class FrameDecoder {
  public:
    explicit FrameDecoder(uint32_t max_payload = kMaxPayload) : max_payload_(max_payload) {}

    // Copies bytes in.
    void feed(ByteView bytes);
    // Zero-copy alternative: a writable area of at least `min_bytes` at the end of the buffer; read
    // into it, then commit(n) the bytes actually received.
    std::span<uint8_t> write_area(size_t min_bytes);
    void commit(size_t n);

    // The next complete frame, std::nullopt when more bytes are needed, or the stream's error.
    Result<std::optional<Frame>> next();

    size_t buffered() const { return end_ - begin_; }
    bool failed() const { return failed_; }
    // After a failure: the ERROR code a server answers with (bad_magic or too_large).
    ErrorCode error_code() const { return error_code_; }
    // Bytes of the frame currently being assembled (header included) once its header is known, else
    // 0.
    size_t pending_frame_size() const;
    uint32_t max_payload() const { return max_payload_; }

  private:
    void compact();
    Bytes buf_;
    size_t begin_ = 0;  // first unconsumed byte
    size_t end_ = 0;    // one past the last valid byte
    uint32_t max_payload_;
    bool failed_ = false;
    ErrorCode error_code_ = ErrorCode::internal;
    Error error_;
};

// Payload decoders: each checks its layout exactly (a payload shorter or longer than its fields say
// is bad_length-style malformed / truncated).
Result<Hello> decode_hello(ByteView payload);
Result<HelloAck> decode_hello_ack(ByteView payload);
Result<CommandView> decode_command(uint64_t tag, ByteView payload);
Result<ResponseView> decode_response(uint64_t tag, ByteView payload);
Result<ErrorFrame> decode_error(uint64_t tag, ByteView payload);
Result<NvmeCommandView> decode_nvme_command(uint64_t tag, ByteView payload);
Result<NvmeResponseView> decode_nvme_response(uint64_t tag, ByteView payload);

using ClientMessage = std::variant<Hello, CommandView, Abort, Control, NvmeCommandView>;
using ServerMessage =
    std::variant<HelloAck, ResponseView, ControlReply, ErrorFrame, NvmeResponseView>;
// Decodes a frame sent by a client (server side) or by the server (client side). A frame of the
// other direction's type, or an unknown type, is an error (unsupported); a bad payload is
// malformed/truncated.
Result<ClientMessage> decode_client_frame(const Frame& f);
Result<ServerMessage> decode_server_frame(const Frame& f);

// The ERROR code a server answers a payload decode error with: unknown_type for an unknown or
// wrong-direction type (Errc::unsupported), bad_length otherwise.
ErrorCode payload_error_code(const Error& e) noexcept;

}  // namespace prfence::sim::proto
