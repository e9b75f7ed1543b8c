// SPDX-License-Identifier: MIT
// The APTPL state file: what a logical unit keeps across power loss while ACTIVATE PERSIST THROUGH
// POWER LOSS is in effect (SPC-4 5.13.5.1): every registration (initiator TransportID, target port,
// key) and the reservation (type and holder). PRgeneration is not kept: a power on resets it to
// zero.
//
// Format (version 1), plain text, one record per line, every line ending in '\n':
//
//   prsim-aptpl 1
//   registrations 2
//   reg 0000000000abc123 1 0 <TransportID as lowercase hex>
//   reg 0000000000123abc 2 1 <TransportID as lowercase hex>
//   reservation 3 0            (type and index of the holder's "reg" line; "-" for all-registrants;
//                               "reservation none" when there is none)
//   crc32 1a2b3c4d             (CRC-32/IEEE of every byte before this line)
//
// `reg` fields: reservation key (16 hex digits), relative target port (decimal), registered with
// ALL_TG_PT (0/1), TransportID. The parser is strict: anything else, a wrong version, a count or
// index that does not match, a TransportID that does not decode exactly, or a bad checksum is an
// Error naming the file and the problem. A missing file means "no persisted state"; an empty or
// truncated one is an Error.
//
// Writes are crash safe: a temporary file in the same directory is written, fsync'ed and renamed
// over the file, then the directory is fsync'ed. When APTPL is turned off the file is removed (and
// the directory fsync'ed), so a power cycle starts empty.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/pr_types.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::sim {

struct PersistedRegistration {
    wire::TransportId initiator;
    uint16_t port = 1;
    uint64_t key = 0;
    bool all_tg_pt = false;
    bool operator==(const PersistedRegistration&) const = default;
};

struct PersistedPr {
    std::vector<PersistedRegistration> registrations;
    std::optional<wire::PrType> type;  // the reservation, if any
    std::optional<size_t> holder;      // index into registrations; none for all-registrants types
    bool operator==(const PersistedPr&) const = default;
};

// CRC-32 (IEEE 802.3, reflected, as zlib's crc32()).
uint32_t crc32_ieee(std::string_view data) noexcept;

// Text encoding and strict decoding. `what` names the source in error messages (e.g. the file
// path). encode fails only for a TransportID that does not encode.
Result<std::string> encode_aptpl(const PersistedPr& s);
Result<PersistedPr> decode_aptpl(std::string_view text, const std::string& what);

class AptplStore {
  public:
    explicit AptplStore(std::filesystem::path file) : file_(std::move(file)) {}

    const std::filesystem::path& path() const { return file_; }

    // nullopt when the file does not exist; an Error naming the file when it cannot be read or
    // decoded.
    Result<std::optional<PersistedPr>> load() const;
    // Writes crash-safely (temp file, fsync, rename, fsync of the directory).
    Status save(const PersistedPr& s) const;
    // Removes the file (absent is fine) and fsyncs the directory.
    Status remove() const;
    // Whether the file's directory exists (Profile::lio: LIO writes its APTPL file on every
    // REGISTER, REGISTER AND MOVE and CLEAR, APTPL or not, and fails them when the directory is
    // missing).
    Status check_directory() const;

  private:
    std::filesystem::path file_;
};

}  // namespace prfence::sim
