// SPDX-License-Identifier: MIT
// Rendering of batch results: the per-LUN table and summary line operators read, and the --json
// document harnesses parse (field names are an interface and do not change: device, ok, status,
// sense{key,asc,ascq,text}, latency_us, retries, generation, keys, reservation{key,type};
// summary{luns,ok,failed,wall_ms,p50_us, p99_us}). Shared by direct mode and daemon mode so both
// print the same thing.
#pragma once

#include <string>
#include <vector>

#include "tools/prfence/render.h"
#include "uring_engine/model/outcome.h"
#include "uring_engine/session/multipath_keys.h"
#include "uring_engine/wire/nvme_types.h"

namespace prfence::cli {

// An NVMe host identifier as the rows print it ("hostid"): 32 lowercase hex digits.
std::string hostid_hex(const wire::nvme::HostId& id);

Json outcome_json(const engine::LunOutcome& o);
Json summary_json(const engine::BatchSummary& s);
// A fence's rows also carry "states": for each of generation, keys, reservation and nvme present,
// "before" (read before the fence acted) or "after" (the state it left).
Json batch_json(const std::string& op, const std::vector<engine::LunOutcome>& outcomes,
                const engine::BatchSummary& s);

// What multipathd was told about each map (session/multipath_keys.h): "multipathd": {map, told,
// key, error} in the LU's entry of a batch_json document, and "multipathd_told" (maps told) and
// "multipathd_not_told" in its summary; nothing when no LU sits in a multipath map.
void add_multipathd_json(Json& batch, const std::vector<engine::MapKeyReport>& told);
// "multipathd: N of M multipath maps told" and a line per map not told; "" when there were none.
std::string multipathd_text(const std::vector<engine::MapKeyReport>& told);

// One row per LUN (only failed LUNs when failures_only) and the summary line.
std::string batch_text(const std::string& op, const std::vector<engine::LunOutcome>& outcomes,
                       const engine::BatchSummary& s, bool failures_only);

}  // namespace prfence::cli
