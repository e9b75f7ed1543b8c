// SPDX-License-Identifier: MIT
// JSON and text renderings of decoded wire data, shared by every prfence subcommand so that
// `decode`, direct mode and daemon mode print the same fields the same way. Keys are always "0x..."
// hex strings (JSON numbers lose precision above 2^53).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/prout.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::cli {

using Json = nlohmann::ordered_json;

Json to_json(const wire::Sense& s);
Json to_json(const wire::DecodedCdb& c);
Json to_json(const wire::ReadKeys& k);
Json to_json(const wire::ReadReservation& r);
Json to_json(const wire::Capabilities& c);
Json to_json(const wire::FullStatus& f);
Json to_json(const wire::TransportId& t);
Json to_json(const wire::ProutParams& p);
Json to_json(const wire::ProutMoveParams& p);

std::string to_text(const wire::Sense& s);
std::string to_text(const wire::DecodedCdb& c);
std::string to_text(const wire::ReadKeys& k);
std::string to_text(const wire::ReadReservation& r);
std::string to_text(const wire::Capabilities& c);
std::string to_text(const wire::FullStatus& f);
std::string to_text(const wire::ProutParams& p);
std::string to_text(const wire::ProutMoveParams& p);

}  // namespace prfence::cli
