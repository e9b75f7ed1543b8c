// SPDX-License-Identifier: MIT
// SCSI TransportIDs (SPC-4 7.6.4): how an initiator port is named in PR OUT parameter lists
// (SPEC_I_PT, REGISTER AND MOVE) and in READ FULL STATUS answers.
//
// Every protocol SPC-4 defines a TransportID for is supported: FCP (0h), parallel SCSI (1h),
// SBP/IEEE 1394 (3h), SRP (4h), iSCSI (5h, format 00b "name" and 01b "name,i,0xISID"), SAS (6h),
// SOP/PCIe (Ah). Text forms follow sg_persist's --transport-id syntax (see parse_transport_id), and
// format_transport_id prints a form that parse_transport_id reads back to the same TransportId.
//
// Byte layouts (byte 0 = FORMAT CODE << 6 | PROTOCOL IDENTIFIER; unlisted bytes are reserved):
//   FCP    24 bytes, N_PORT_NAME at 8-15
//   SPI    24 bytes, SCSI ADDRESS at 2-3, RELATIVE TARGET PORT IDENTIFIER at 6-7
//   SBP    24 bytes, EUI-64 NAME at 8-15
//   SRP    24 bytes, INITIATOR PORT IDENTIFIER at 8-23
//   SAS    24 bytes, SAS ADDRESS at 4-11
//   SOP    24 bytes, ROUTING ID at 2-3
//   iSCSI  ADDITIONAL LENGTH at 2-3, then the name (00b) or "name,i,0xISID" (01b), NUL-terminated
//          and NUL-padded to a multiple of 4; ADDITIONAL LENGTH >= 20, so >= 24 bytes in all.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"

namespace prfence::wire {

enum class ProtocolId : uint8_t {
    fcp = 0x0,
    spi = 0x1,
    ssa = 0x2,
    sbp = 0x3,
    srp = 0x4,
    iscsi = 0x5,
    sas = 0x6,
    adt = 0x7,
    ata = 0x8,
    uas = 0x9,
    sop = 0xa,
    pcie = 0xb,
    none = 0xf,
};

// "FCP", "SPI", "SBP", "SRP", "iSCSI", "SAS", "SOP", ... ("protocol 0xN" for unassigned values).
std::string protocol_name(ProtocolId p);

// A decoded TransportID. Only the fields of `protocol` are meaningful; the rest stay zero/empty.
struct TransportId {
    ProtocolId protocol = ProtocolId::none;
    uint8_t format = 0;  // FORMAT CODE (bits 7-6 of byte 0); 1 only for iSCSI name+ISID

    uint64_t name = 0;                 // FCP N_PORT_NAME, SBP EUI-64, SAS address
    std::array<uint8_t, 16> srp_id{};  // SRP initiator port identifier
    uint16_t spi_address = 0;          // parallel SCSI: SCSI address
    uint16_t spi_rel_port = 0;         // parallel SCSI: relative port
    uint16_t sop_routing_id = 0;       // SOP: PCIe routing id (bus<<8 | device<<3 | function)
    std::string iscsi_name;            // iSCSI name without the ",i,0x..." part
    std::string iscsi_isid;            // format 01b: ISID exactly as carried or typed: 1-12 hex
                                       // digits, case kept, no "0x" (compare with same_initiator)

    bool operator==(const TransportId&) const = default;
};

// Encodes into the exact wire bytes: 24 bytes for fixed-size protocols; for iSCSI 4 + text + NUL
// padded to a multiple of 4 with ADDITIONAL LENGTH at least 20, i.e. at least 24 bytes in all
// (SPC-4 7.6.4.6; byte-identical to sg_persist). Fails (invalid_argument) for an iSCSI name that is
// empty, over 223 bytes (RFC 3720) or holds NUL, ',', whitespace or control characters; an ISID
// that is not 1-12 hex digits; a FORMAT CODE other than 00b (01b for iSCSI); an ISID on a
// format-00b TransportID. Fails (unsupported) for protocols without a defined TransportID. Fields
// that belong to other protocols are ignored.
Result<Bytes> encode_transport_id(const TransportId& tid);

// Decodes one TransportID at the front of `in`, returning it and the number of bytes it occupies
// (so a caller can walk a list; bytes after that are not looked at). Errors: shorter than the
// protocol needs (truncated), an iSCSI ADDITIONAL LENGTH that runs past `in` (truncated), is zero
// or not a multiple of 4, a name without its NUL terminator, a format-01b text without ",i,0x"
// (case-sensitive, as in LIO) or with an ISID that is not 1-12 hex digits, an iSCSI name the
// encoder would refuse (malformed), a non-zero FORMAT CODE on a non-iSCSI protocol (malformed), a
// protocol without a TransportID (unsupported). Lenient where real targets differ from SPC-4: an
// iSCSI ADDITIONAL LENGTH below 20 is accepted (LIO pads only to a multiple of 4), reserved bits
// and bytes are ignored, and so is anything after the iSCSI NUL terminator (SPC-4: the first NUL
// ends the field "without regard for" ADDITIONAL LENGTH).
struct DecodedTransportId {
    TransportId tid;
    size_t length = 0;
};
Result<DecodedTransportId> decode_transport_id(ByteView in);

// Decodes a whole TransportID list (SPEC_I_PT parameter data) that must fill `in` exactly (an empty
// `in` is an empty list). Errors name the index and byte offset of the TransportID at fault.
Result<std::vector<TransportId>> decode_transport_id_list(ByteView in);

// Text forms, as sg_persist 1.46 accepts them (leading/trailing whitespace is ignored):
//   fcp,<16 hex digits>             FCP N_PORT_NAME
//   spi,<scsi address>,<rel port>   parallel SCSI, two decimal numbers 0-65535
//   sbp,<16 hex digits>             IEEE 1394 EUI-64
//   srp,<32 hex digits>             SRP initiator port id                 (*)
//   sas,<16 hex digits>             SAS address
//   sop,<hex routing id>            SOP, 1-4 hex digits, "0x" optional    (*)
//   iqn.<...>                       iSCSI name (format 00b); "<name>,i,0x<ISID>" is format 01b
//   eui.<...> / naa.<...>           the other iSCSI name types            (*)
//   iscsi,<name>[,i,0x<ISID>]       any iSCSI name, explicit prefix       (*)
// and the raw form: the hex bytes of one whole TransportID, 1-2 hex digits each, separated by ','
// or spaces ("6,0,0,0,50,0,c5,..."). Like sg_persist we zero-pad it to 24 bytes (for iSCSI to
// 4 + ADDITIONAL LENGTH); it must then decode as a valid TransportID and must not run past its end
// (sg_persist silently drops such bytes; we refuse them).
//
// Prefixes are accepted all-lowercase or all-uppercase ("fcp," / "FCP,"), exactly as sg_persist
// compares them; mixed case is refused, as sg_persist refuses it. iSCSI name types ("iqn.", "eui.",
// "naa.") and the ",i,0x" separator are lowercase only (SPC-4; LIO matches ",i,0x" with strstr).
// ISID digits keep the case typed: they are sent verbatim (see canonical_isid, same_initiator).
//
// Whenever sg_persist also accepts a text, it encodes to exactly the bytes sg_persist sends, except
// that raw hex is re-encoded canonically (reserved bits cleared, minimal iSCSI padding).
// (*) are extensions: sg_persist 1.46 documents "srp," and "sop," but rejects every input to them,
// and has no "eui.", "naa." or "iscsi," form. Refused here although sg_persist accepts them:
// characters after a complete form ("fcp,<16 digits>,", "spi,1,2xyz", "iqn.a b"), negative or
// over-range SPI numbers, iSCSI names over 223 bytes (RFC 3720) or holding ',', whitespace or
// control characters, ISIDs that are empty, not hex or over 12 digits, separators other than
// ",i,0x", raw bytes of 3+ digits ("006"), and raw TransportIDs that do not decode. Every error
// names the form and what is wrong with it.
Result<TransportId> parse_transport_id(std::string_view text);

// The text form above, lowercase-prefixed: "fcp,10000000c9f3a571", "spi,7,1",
// "sas,5000c5000abcdef0", "sop,0x12", iSCSI as "iqn...,i,0x<isid>" (names not starting
// "iqn."/"eui."/"naa." get "iscsi,"). parse_transport_id(format_transport_id(t)) == t for every t
// that encode_transport_id accepts; for other values the text is only descriptive.
std::string format_transport_id(const TransportId& tid);

// Human description for status displays, e.g. "iSCSI iqn.2001-05.com.example:node-b,i,0x23d000001",
// "SAS address 0x5000c50005b32001", "SPI SCSI address 7, relative target port 1".
std::string describe_transport_id(const TransportId& tid);

// An ISID as LIO and SPDK report it in READ FULL STATUS: exactly 12 lowercase hex digits,
// zero-extended on the left ("23D000001" -> "00023d000001"). LIO also *matches* a PR OUT ISID
// against that text with strcmp (after lowercasing), so a shorter ISID never matches there; send
// canonical_isid() to be safe. Fails for anything but 1-12 hex digits (no "0x").
Result<std::string> canonical_isid(std::string_view isid);

// Whether `a` and `b` name the same initiator, comparing as an operator means it: iSCSI names
// ignoring ASCII case (RFC 3722 folds case before comparing; LIO itself uses strcmp) and ISIDs by
// value, so a typed "iqn.x:a,i,0x23d000001" equals LIO's "iqn.x:a,i,0x00023d000001". A format-00b
// TransportID (an initiator device) never equals a format-01b one (one port of it). Other
// protocols compare their own fields.
bool same_initiator(const TransportId& a, const TransportId& b);

}  // namespace prfence::wire
