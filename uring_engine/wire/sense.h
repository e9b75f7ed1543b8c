// SPDX-License-Identifier: MIT
// Sense data (SPC-4 4.5): fixed (70h/71h) and descriptor (72h/73h) formats, sense key and ASC/ASCQ
// text.
//
// A sense buffer is device data and may be hostile: every length is checked against the buffer, a
// truncated buffer decodes as far as it is valid and says so (`truncated`), and nothing is read
// beyond the span given. Only a buffer without a recognisable response code is an Error.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"

namespace prfence::wire {

enum class SenseKey : uint8_t {
    no_sense = 0x0,
    recovered_error = 0x1,
    not_ready = 0x2,
    medium_error = 0x3,
    hardware_error = 0x4,
    illegal_request = 0x5,
    unit_attention = 0x6,
    data_protect = 0x7,
    blank_check = 0x8,
    vendor_specific = 0x9,
    copy_aborted = 0xa,
    aborted_command = 0xb,
    reserved_c = 0xc,
    volume_overflow = 0xd,
    miscompare = 0xe,
    completed = 0xf,
};

// "NO SENSE", "UNIT ATTENTION", ... as T10 spells them.
const char* sense_key_name(SenseKey k) noexcept;

// T10's text for an ASC/ASCQ pair, e.g. (0x2a, 0x05) -> "REGISTRATIONS PREEMPTED". Covers T10's
// complete published list (asc_table.cpp, generated from wire/asc-num.txt by
// wire/gen_asc_table.py), including the entries with a variable part, rendered with the actual ASCQ
// in hex: 40h/80h-FFh "DIAGNOSTIC FAILURE ON COMPONENT 85h", 4Dh/NNh "TAGGED OVERLAPPED COMMANDS
// (TASK TAG = 12h)", 70h/NNh "DECOMPRESSION EXCEPTION SHORT ALGORITHM ID OF 12h". Never empty: a
// code T10 lists as obsolete reads "obsolete ASC/ASCQ (ASC 0x20 ASCQ 0x05)", an unlisted
// vendor-specific one (ASC or ASCQ >= 80h) "vendor specific ASC/ASCQ (ASC 0xNN ASCQ 0xNN)", any
// other unlisted pair "ASC 0xNN ASCQ 0xNN (unknown)".
std::string asc_ascq_text(uint8_t asc, uint8_t ascq);
// Number of fixed ASC/ASCQ pairs in that table (not counting the NN ranges).
size_t asc_table_size() noexcept;

// One sense descriptor (descriptor format) as found; `body` is the bytes after type and length.
struct SenseDescriptor {
    uint8_t type = 0;
    Bytes body;

    bool operator==(const SenseDescriptor&) const = default;
};

struct Sense {
    uint8_t response_code = 0;  // 70h, 71h, 72h, 73h
    bool descriptor = false;    // 72h/73h
    bool deferred = false;      // 71h/73h
    SenseKey key = SenseKey::no_sense;
    uint8_t asc = 0;
    uint8_t ascq = 0;
    bool filemark = false, eom = false, ili = false;

    // fixed: VALID bit + bytes 3-6; descriptor: type 00h with its VALID bit set
    std::optional<uint64_t> information;
    std::optional<uint64_t>
        command_specific;        // fixed: bytes 8-11 if non-zero; descriptor: type 01h
    std::optional<uint8_t> fru;  // fixed: byte 14, descriptor: type 03h; if non-zero
    // SKSV set: the 3 bytes (SKSV bit included). Descriptor format: type 02h (or SBC's 0Dh).
    std::optional<std::array<uint8_t, 3>> sense_key_specific;
    // NOT READY / NO SENSE progress indication, 0..65535 (65536ths done), from the
    // sense-key-specific bytes; in descriptor format, failing those, from an ANOTHER PROGRESS
    // INDICATION descriptor (0Ah).
    std::optional<uint16_t> progress;

    // Field pointer (ILLEGAL REQUEST with SKSV): which byte of the CDB (cd=true) or parameter data
    // is bad, and the bit when bpv is set.
    struct FieldPointer {
        bool cd = false;
        bool bpv = false;
        uint8_t bit = 0;
        uint16_t byte = 0;

        bool operator==(const FieldPointer&) const = default;  // without it Sense's == is deleted
    };
    std::optional<FieldPointer> field_pointer;

    std::vector<SenseDescriptor> descriptors;  // descriptor format only
    // The buffer ended before the ADDITIONAL SENSE LENGTH said it would (or before byte 7 that
    // holds it), a descriptor ran past the end, or a fixed-format sense is too short to hold
    // ASC/ASCQ.
    bool truncated = false;

    bool operator==(const Sense&) const = default;
};

// Decodes a sense buffer. Errors only when `in` is empty or its response code is not 70h-73h (bit 7
// of a fixed-format byte 0 is the VALID bit, so F0h/F1h are fixed format too). Descriptors whose
// length runs past the end are not returned; `truncated` is set instead.
Result<Sense> decode_sense(ByteView in);

// Builds sense data (prsim and tests use this) from the fields; `response_code` and `descriptors`
// are ignored (`descriptor` and `deferred` choose 70h-73h).
// - Fixed format: 10 additional bytes (18 in all). VALID and INFORMATION only when `information`
//   fits in 32 bits; COMMAND-SPECIFIC likewise.
// - Descriptor format: 8 bytes + an information descriptor (00h) when `information` is set + a
//   command-specific descriptor (01h) when set + a sense-key-specific descriptor (02h) when set + a
//   FRU descriptor (03h) when set + a stream commands descriptor (04h) when filemark/eom/ili is
//   set.
// The sense-key-specific bytes are `sense_key_specific` if set (SKSV forced on), else built from
// `field_pointer`, else from `progress`.
Bytes encode_sense(const Sense& s);
// Shorthand for the common case: fixed format, current error, key/ASC/ASCQ only.
Bytes make_fixed_sense(SenseKey key, uint8_t asc, uint8_t ascq);
// The same with a field pointer (ILLEGAL REQUEST, 24h/00h or 26h/00h): SKSV set, C/D and bit
// pointer.
Bytes make_fixed_sense_field_pointer(SenseKey key, uint8_t asc, uint8_t ascq, bool cd,
                                     uint16_t byte, std::optional<uint8_t> bit = std::nullopt);

// One line for operators: "UNIT ATTENTION: REGISTRATIONS PREEMPTED (2Ah/05h)" plus, where present,
// ", deferred", ", info=0x..", ", command-specific=0x..", ", FRU=05h", ", field pointer: CDB byte 2
// bit 4" (or "parameter data byte 28"), ", progress 37%", ", sense-key-specific 80 00 05" (keys
// whose SKS bytes are not decoded), ", filemark", ", EOM", ", ILI", ", truncated".
std::string describe_sense(const Sense& s);

}  // namespace prfence::wire
