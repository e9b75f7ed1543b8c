// SPDX-License-Identifier: MIT
// PERSISTENT RESERVE OUT parameter lists (SPC-4 6.16.3, 6.16.4): the basic 24-byte list (with an
// optional SPEC_I_PT TransportID list) used by every service action but REGISTER AND MOVE, and
// REGISTER AND MOVE's own list. Encoders build the exact bytes a device expects; decoders (used by
// prsim and `prfence decode`) check every length a sender could lie about.
#pragma once

#include <cstdint>
#include <vector>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/pr_types.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::wire {

inline constexpr size_t kProutBasicLen = 24;
inline constexpr size_t kProutMoveHeaderLen = 24;

// Basic parameter list. `transport_ids` are sent only with spec_i_pt (REGISTER from an unregistered
// nexus); the list then grows by a 4-byte TRANSPORTID PARAMETER DATA LENGTH and the TransportIDs.
struct ProutParams {
    uint64_t key = 0;     // RESERVATION KEY: the sender's current key (0 when unregistered)
    uint64_t sa_key = 0;  // SERVICE ACTION RESERVATION KEY: new key (REGISTER*), victim (PREEMPT*)
    bool aptpl = false;   // ACTIVATE PERSIST THROUGH POWER LOSS
    bool all_tg_pt = false;
    bool spec_i_pt = false;
    std::vector<TransportId> transport_ids;

    bool operator==(const ProutParams&) const = default;
};

// REGISTER AND MOVE parameter list.
struct ProutMoveParams {
    uint64_t key = 0;
    uint64_t sa_key = 0;  // the key registered for the destination
    bool aptpl = false;
    bool unreg = false;         // unregister the sender after the move
    uint16_t rel_tgt_port = 0;  // RELATIVE TARGET PORT IDENTIFIER the destination nexus uses
    TransportId transport_id;   // the destination initiator

    bool operator==(const ProutMoveParams&) const = default;
};

// Encodes the basic list. Errors: spec_i_pt with no TransportIDs, TransportIDs without spec_i_pt,
// a TransportID that does not encode.
Result<Bytes> encode_prout_params(const ProutParams& p);
Result<Bytes> encode_prout_move_params(const ProutMoveParams& p);

// Decodes the basic list. `in` is the data-out buffer the CDB's PARAMETER LIST LENGTH described.
// Errors carry which check failed so an emulator can answer with the right sense: a list shorter
// than 24 bytes, or SPEC_I_PT with a TRANSPORTID PARAMETER DATA LENGTH that does not match the rest
// of the list, is a PARAMETER LIST LENGTH ERROR (1Ah/00h); a TransportID that does not decode is
// INVALID FIELD IN PARAMETER LIST (26h/00h), with the offset of the bad field. When `why` is given
// it receives the kind and offset on failure.
struct ParamError {
    enum class Kind { length, invalid_field } kind = Kind::length;
    uint16_t field_offset = 0;  // for the sense field pointer
};
Result<ProutParams> decode_prout_params(ByteView in, ParamError* why = nullptr);
Result<ProutMoveParams> decode_prout_move_params(ByteView in, ParamError* why = nullptr);

// A complete PR OUT command: CDB and parameter list, ready for any transport.
struct ProutCommand {
    Cdb cdb;
    Bytes data;
};

// Builders for each service action, with the fields SPC-4 says each one uses. `type` matters for
// RESERVE, RELEASE, PREEMPT, PREEMPT AND ABORT and REPLACE LOST RESERVATION; REGISTER* ignore it
// (sent as 0).
Result<ProutCommand> build_prout(PrOutAction sa, PrType type, const ProutParams& p);
Result<ProutCommand> build_register_and_move(PrType type, const ProutMoveParams& p);

}  // namespace prfence::wire
