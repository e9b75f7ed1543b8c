// SPDX-License-Identifier: MIT
#include "uring_engine/session/multipath_keys.h"

#include <optional>
#include <set>

#include "uring_engine/common/bytes.h"

namespace prfence::engine {
namespace {

// "0xa1", "0xa1:aptpl" -> 0xa1; nullopt for "none" and anything else.
std::optional<uint64_t> parse_prkey(const std::string& reply) {
    const std::string k = reply.substr(0, reply.find(':'));
    if (k.empty() || k == "none") return std::nullopt;
    auto v = parse_hex_u64(k);
    if (!v) return std::nullopt;
    return *v;
}

// Returns false when the connection can carry no further request: a reply that did not come in
// time (a late one would be read as the answer to the next request) or a closed connection.
bool tell_one(MultipathdClient& c, MapKeyReport& r, uint64_t key, bool aptpl) {
    bool broken = false;
    // One request; a failure is kept (the first one) and reads as an empty reply.
    auto ask = [&](const std::string& cmd) -> std::string {
        if (broken) return {};
        auto rep = c.command(cmd);
        if (!rep) {
            if (r.error.empty()) r.error = "\"" + cmd + "\": " + rep.error().msg;
            broken = rep.error().code == Errc::timeout || rep.error().code == Errc::io;
            return {};
        }
        return *rep;
    };
    const std::string map = " map " + r.map;
    if (key == 0) {
        const std::string st = ask("unsetprstatus" + map);
        ask("unsetprkey" + map);  // fails unless reservation_key is "file"; the status counts
        r.key = ask("getprkey" + map);
        r.told = st == "ok";
        if (!r.told && r.error.empty())
            r.error = "multipathd answered \"" + st + "\" to unsetprstatus";
        return !broken;
    }
    // libmpathpersist spells the key in hex without 0x.
    const std::string set =
        ask("setprkey" + map + " key " + hex_u64(key).substr(2) + (aptpl ? ":aptpl" : ""));
    const std::string st = ask("setprstatus" + map);
    r.key = ask("getprkey" + map);
    const std::optional<uint64_t> has = parse_prkey(r.key);
    r.told = st == "ok" && has == key;
    if (r.told || !r.error.empty()) return !broken;
    if (st != "ok")
        r.error = "multipathd answered \"" + st + "\" to setprstatus";
    else if (!has)
        r.error = "multipathd has no key for the map (setprkey: \"" + set +
                  "\"; set reservation_key to file in multipath.conf): it will not register "
                  "returning paths";
    else
        r.error = "multipathd keeps key " + hex_u64(*has) + " for the map (setprkey: \"" + set +
                  "\"; multipath.conf's reservation_key is not file): it will not register "
                  "returning paths with ours";
    return true;
}

}  // namespace

std::optional<uint64_t> key_left_registered(const OpSpec& op) {
    switch (op.op) {
        case Operation::register_key:
        case Operation::unfence:
        case Operation::takeover:
            return op.key;
        case Operation::fence:
            return op.claim ? op.key : std::nullopt;
        case Operation::unregister:
            return uint64_t{0};
        default:
            return std::nullopt;
    }
}

std::vector<MapKeyReport> tell_multipathd(const std::vector<LunSpec>& luns,
                                          const std::vector<LunOutcome>& outcomes, uint64_t key,
                                          bool aptpl, const MultipathKeysOptions& opt) {
    std::vector<MapKeyReport> out;
    std::set<std::string> seen;
    for (size_t i = 0; i < luns.size() && i < outcomes.size(); ++i) {
        if (!outcomes[i].ok) continue;
        auto map = multipath_map_of(luns[i], opt.sysfs_root);
        if (!map || !seen.insert(*map).second) continue;
        out.push_back({i, *map, false, {}, {}});
    }
    if (out.empty()) return out;
    auto client = MultipathdClient::connect(opt.socket, opt.timeout);
    // After a request that broke the connection, the other maps are not asked: a multipathd that
    // stopped answering would cost every remaining request its whole timeout.
    const MapKeyReport* broke = nullptr;
    for (auto& r : out) {
        if (!client) {
            r.error = client.error().code == Errc::not_found
                          ? "multipathd is not running (" + client.error().msg + ")"
                          : client.error().msg;
            continue;
        }
        if (broke) {
            r.error = "not asked: multipathd stopped answering at map " + broke->map + " (" +
                      broke->error + ")";
            continue;
        }
        if (!tell_one(*client, r, key, aptpl)) broke = &r;
    }
    return out;
}

}  // namespace prfence::engine
