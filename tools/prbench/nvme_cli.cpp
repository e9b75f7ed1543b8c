// SPDX-License-Identifier: MIT
#include "tools/prbench/nvme_cli.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "uring_engine/common/bytes.h"

namespace prfence::bench {

std::string nvme_cli_device(const engine::PathSpec& p) {
    if (p.kind == engine::PathSpec::Kind::sim) return prsim_nvme_path(p.nsid);
    return p.block.empty() ? p.ng_node : p.block;
}

std::vector<std::string> nvme_report_args(const std::string& dev, uint32_t nsid) {
    return {"resv-report", dev, "--namespace-id=" + std::to_string(nsid), "--eds",
            "--output-format=json"};
}

std::vector<std::string> nvme_preempt_abort_args(const std::string& dev, uint32_t nsid,
                                                 uint64_t key, uint64_t victim, uint8_t rtype) {
    return {"resv-acquire",
            dev,
            "--namespace-id=" + std::to_string(nsid),
            "--crkey=" + std::to_string(key),
            "--prkey=" + std::to_string(victim),
            "--rtype=" + std::to_string(rtype),
            "--racqa=2"};
}

namespace {

using nlohmann::json;

// A JSON number or a string of decimal digits as an unsigned 64-bit value.
Result<uint64_t> number(const json& o, const char* name) {
    auto it = o.find(name);
    if (it == o.end()) return fail(Errc::malformed, std::string("no \"") + name + "\"");
    if (it->is_number_unsigned()) return it->get<uint64_t>();
    if (it->is_number_integer()) return static_cast<uint64_t>(it->get<int64_t>());
    if (it->is_string()) {
        const std::string s = it->get<std::string>();
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (!s.empty() && ec == std::errc() && end == s.data() + s.size()) return v;
    }
    return fail(Errc::malformed, std::string("\"") + name + "\" is not a number: " + it->dump());
}

}  // namespace

Result<NvmeCliReport> parse_nvme_report(std::string_view text) {
    const size_t open = text.find('{');
    const size_t close = text.rfind('}');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
        return fail(Errc::malformed, "no JSON object in nvme-cli's output");
    const json j = json::parse(text.substr(open, close - open + 1), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(Errc::malformed, "nvme-cli's output is not a JSON object");
    NvmeCliReport r;
    PRF_TRY_ASSIGN(uint64_t gen, number(j, "gen"));
    PRF_TRY_ASSIGN(uint64_t rtype, number(j, "rtype"));
    PRF_TRY_ASSIGN(uint64_t regctl, number(j, "regctl"));
    r.gen = static_cast<uint32_t>(gen);
    r.rtype = static_cast<uint32_t>(rtype);
    auto list = j.find("regctlext");
    if (list == j.end()) list = j.find("regctls");
    if (list == j.end()) {
        if (regctl != 0)
            return fail(Errc::malformed,
                        "regctl " + std::to_string(regctl) + " but no registrant list");
        return r;
    }
    if (!list->is_array()) return fail(Errc::malformed, "the registrant list is not an array");
    for (const json& e : *list) {
        if (!e.is_object()) return fail(Errc::malformed, "a registrant is not an object");
        NvmeCliReport::Registrant g;
        PRF_TRY_ASSIGN(uint64_t cntlid, number(e, "cntlid"));
        PRF_TRY_ASSIGN(uint64_t rcsts, number(e, "rcsts"));
        PRF_TRY_ASSIGN(g.rkey, number(e, "rkey"));
        g.cntlid = static_cast<uint32_t>(cntlid);
        g.rcsts = static_cast<uint32_t>(rcsts);
        if (auto h = e.find("hostid"); h != e.end())
            g.hostid = h->is_string() ? h->get<std::string>() : h->dump();
        r.regs.push_back(std::move(g));
    }
    if (r.regs.size() != regctl)
        return fail(Errc::malformed, "regctl " + std::to_string(regctl) + " but " +
                                         std::to_string(r.regs.size()) + " registrants listed");
    return r;
}

std::string nvme_check_before(const NvmeCliReport& r, uint64_t key) {
    for (const auto& g : r.regs)
        if (g.rkey == key) return {};
    return "the fencer's key " + hex_u64(key) + " is not registered (" +
           std::to_string(r.regs.size()) + " registrants)";
}

std::string nvme_check_after(const NvmeCliReport& r, uint64_t key, uint64_t victim, uint8_t rtype) {
    const NvmeCliReport::Registrant* holder = nullptr;
    for (const auto& g : r.regs) {
        if (g.rkey == victim) return "the victim's key " + hex_u64(victim) + " is still registered";
        if (g.rcsts & 1) holder = &g;
    }
    if (r.rtype == 0 || !holder) return "no reservation, not held by " + hex_u64(key);
    if (holder->rkey != key)
        return "the reservation is held by " + hex_u64(holder->rkey) + ", not by " + hex_u64(key);
    if (r.rtype != rtype)
        return "reservation type " + std::to_string(r.rtype) + ", not " + std::to_string(rtype);
    return {};
}

NvmeCliFence nvme_cli_fence(ProcessBaseline& bl, const Config& cfg, const BenchLun& l,
                            uint8_t rtype, std::vector<uint64_t>* clat) {
    NvmeCliFence f;
    const std::string dev = nvme_cli_device(l.b);
    const uint32_t nsid = l.b.nsid;
    auto cmd = [&](std::vector<std::string> args) {
        args.insert(args.begin(), cfg.nvme);
        return bl.run_once(1, l, args, clat, &f.ns, &f.error);
    };
    auto report = [&](const char* which) -> Result<NvmeCliReport> {
        SpawnResult s = cmd(nvme_report_args(dev, nsid));
        if (s.exit_code != 0) return fail(Errc::io, f.error);
        auto r = parse_nvme_report(s.output);
        if (!r) return fail(Errc::malformed, l.name + ": " + which + ": " + r.error().msg);
        return r;
    };
    auto r0 = report("the first resv-report");
    if (!r0) {
        f.error = r0.error().msg;
        return f;
    }
    if (auto e = nvme_check_before(*r0, cfg.b.key); !e.empty()) {
        f.error = l.name + ": before the preempt: " + e;
        return f;
    }
    if (cmd(nvme_preempt_abort_args(dev, nsid, cfg.b.key, cfg.a.key, rtype)).exit_code != 0)
        return f;
    auto r1 = report("the verifying resv-report");
    if (!r1) {
        f.error = r1.error().msg;
        return f;
    }
    if (auto e = nvme_check_after(*r1, cfg.b.key, cfg.a.key, rtype); !e.empty()) {
        f.error = l.name + ": after resv-acquire --racqa=2: " + e;
        return f;
    }
    f.ok = true;
    return f;
}

}  // namespace prfence::bench
