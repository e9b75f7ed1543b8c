// SPDX-License-Identifier: MIT
#include "tools/prexplain/ours.h"

#include <linux/netlink.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>

#include "nl_control/client/client.h"
#include "uring_engine/common/bytes.h"

namespace prfence::prexplain {

std::string canonical_lu_key(const std::string& key) {
    if (!key.starts_with("sim:")) return key;
    const size_t colon = key.rfind(':');
    if (colon <= 4) return key;
    const std::string socket = key.substr(4, colon - 4);
    std::unique_ptr<char, decltype(&::free)> real(::realpath(socket.c_str(), nullptr), &::free);
    if (!real) return key;
    return "sim:" + std::string(real.get()) + key.substr(colon);
}

void OurBook::add(const nl::GroupInfo& g, const std::vector<engine::LunSpec>& luns,
                  std::vector<std::string>& warnings) {
    OurSide side{g.name, g.key, g.initiator, g.target_port};
    struct Clash {
        const OurSide* first;
        std::string lu;
        size_t count = 0;
    };
    std::map<std::string, Clash>
        clashes;  // by the earlier group's name: one warning per pair of groups
    for (const auto& lu : luns) {
        auto [it, fresh] = by_lu_.emplace(canonical_lu_key(lu.wwid), side);
        if (fresh || it->second.key == side.key) continue;
        Clash& c = clashes[it->second.group];
        if (c.count++ == 0) {
            c.first = &it->second;
            c.lu = lu.name;
        }
    }
    auto text = [](const std::optional<uint64_t>& key) {
        return key ? hex_u64(*key) : std::string("none");
    };
    for (const auto& [name, c] : clashes)
        warnings.push_back(
            (c.count == 1 ? c.lu + " is"
                          : c.lu + " and " + std::to_string(c.count - 1) + " more LUs are") +
            " in group \"" + name + "\" (key " + text(c.first->key) + ") and group \"" + g.name +
            "\" (key " + text(side.key) + "): using \"" + name + "\" (choose with --group)");
}

const OurSide* OurBook::find(const LuIdentity& lu) const {
    const std::string& id = !lu.sim.empty() ? lu.sim : !lu.wwid.empty() ? lu.wwid : lu.key;
    auto it = by_lu_.find(canonical_lu_key(id));
    return it == by_lu_.end() ? nullptr : &it->second;
}

Result<OurBook> our_book_from_daemon(const std::string& socket, const engine::ResolveOptions& ropt,
                                     const std::vector<std::string>& only,
                                     std::vector<std::string>& warnings) {
    PRF_TRY_ASSIGN(nl::Client c, nl::Client::connect(socket));
    nl::Request req;
    req.hdr.cmd = nl::CMD_GROUP_LIST;
    req.hdr.flags = NLM_F_DUMP;
    PRF_TRY_ASSIGN(auto answers, c.call(std::move(req), std::chrono::seconds(10)));
    if (!answers.empty() && answers.back().err() != 0)
        return fail(Errc::system, "prfenced refused GROUP_LIST: " + answers.back().err_msg(),
                    answers.back().err());
    OurBook book;
    std::set<std::string> seen;
    for (const auto& a : answers) {
        if (a.kind() != nl::Answer::Kind::group) continue;
        const nl::GroupInfo& g = a.group();
        seen.insert(g.name);
        if (!only.empty() && std::find(only.begin(), only.end(), g.name) == only.end()) continue;
        auto luns = engine::resolve_devices(g.devices, ropt);
        if (!luns) {
            warnings.push_back("group \"" + g.name + "\": " + luns.error().msg);
            continue;
        }
        book.add(g, *luns, warnings);
    }
    for (const auto& name : only)
        if (!seen.count(name))
            return fail(Errc::not_found,
                        "prfenced at " + socket + " has no group \"" + name + "\"");
    return book;
}

DaemonBook::DaemonBook(Fetch fetch, std::function<void(const std::string&)> warn,
                       std::chrono::milliseconds min_interval, Clock now)
    : fetch_(std::move(fetch)),
      warn_(std::move(warn)),
      min_interval_(min_interval),
      now_(std::move(now)) {}

Status DaemonBook::fetch_now() {
    ++fetches_;
    last_ = now_();
    std::vector<std::string> warnings;
    auto b = fetch_(warnings);
    for (const auto& w : warnings) warn_(w);
    if (!b) return fail(std::move(b).error());
    book_ = std::move(*b);
    return {};
}

Status DaemonBook::load() { return fetch_now(); }

const OurSide* DaemonBook::find(const LuIdentity& lu) {
    if (const OurSide* s = book_.find(lu)) return s;
    if (now_() - last_ < min_interval_) return nullptr;
    if (auto st = fetch_now(); !st) warn_("keeping the groups read before: " + st.error().msg);
    return book_.find(lu);
}

}  // namespace prfence::prexplain
