// SPDX-License-Identifier: MIT
// What reaches fence_prfence from outside: its stdin (the fencer's key=value lines, cut at any byte
// by a full pipe) and corosync-cmapctl's output. Accepted input must also pass the invariants the
// actions rely on.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tools/fence_prfence/params.h"
#include "uring_engine/policy/cluster_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace prfence;
    std::string_view s(reinterpret_cast<const char*>(data), size);
    if (auto a = agent::parse_stdin(s); a.ok()) {
        // Only whole input is accepted: the fencer ends every line with a newline.
        if (s.empty() || s.back() != '\n' || s.size() > agent::kMaxStdin) std::abort();
        if (a->key && *a->key == 0) std::abort();
        (void)agent::validate(*a);
    }
    (void)cluster::parse_cluster_name(s);
    (void)cluster::id_key("prfence", "node-a", s);
    return 0;
}
