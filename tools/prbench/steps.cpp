// SPDX-License-Identifier: MIT
#include "tools/prbench/steps.h"

#include "uring_engine/common/bytes.h"

namespace prfence::bench {

engine::OpSpec op_spec(const Step& s, const Config& cfg) {
    engine::OpSpec o;
    o.timeout_ms = cfg.timeout_ms;
    switch (s.act) {
        case Act::register_new:
            o.op = engine::Operation::register_key;
            o.key = s.key;
            break;
        case Act::unregister:
            o.op = engine::Operation::unregister;
            o.key = s.key;
            break;
        case Act::register_ignore:
            o.op = engine::Operation::register_key;
            o.key = s.key;
            o.ignore_existing = true;
            break;
        case Act::reserve:
            o.op = engine::Operation::reserve;
            o.key = s.key;
            o.type = cfg.type;
            break;
        case Act::release:
            o.op = engine::Operation::release;
            o.key = s.key;
            o.type = cfg.type;
            break;
        case Act::clear:
            o.op = engine::Operation::clear;
            o.key = s.key;
            break;
        case Act::preempt:
        case Act::preempt_abort:
            o.op = engine::Operation::preempt;
            o.key = s.key;
            o.sa_key = s.sa_key;
            o.type = cfg.type;
            o.abort = s.act == Act::preempt_abort;
            break;
        case Act::read_keys:
            o.op = engine::Operation::read_keys;
            break;
        case Act::read_reservation:
            o.op = engine::Operation::read_reservation;
            break;
        case Act::caps:
            o.op = engine::Operation::report_capabilities;
            break;
        case Act::full_status:
            o.op = engine::Operation::read_full_status;
            break;
        case Act::fence:
            o.op = engine::Operation::fence;
            o.key = s.key;
            o.sa_key = s.sa_key;
            o.type = cfg.type;
            break;
        case Act::takeover:
            o.op = engine::Operation::takeover;
            o.key = s.key;
            o.type = cfg.type;
            o.force = true;
            break;
    }
    return o;
}

std::string hx(uint64_t k) { return hex_u64(k).substr(2); }

std::vector<std::string> sg_persist_args(const Step& s, const Config& cfg) {
    const std::string t = "--prout-type=" + std::to_string(static_cast<unsigned>(cfg.type));
    const std::string rk = "--param-rk=" + hx(s.key);
    const std::string sark = "--param-sark=" + hx(s.sa_key);
    switch (s.act) {
        case Act::register_new:
            return {"-n", "--out", "--register", "--param-sark=" + hx(s.key)};
        case Act::unregister:
            return {"-n", "--out", "--register", rk};
        case Act::register_ignore:
            return {"-n", "--out", "--register-ignore", "--param-sark=" + hx(s.key)};
        case Act::reserve:
            return {"-n", "--out", "--reserve", rk, t};
        case Act::release:
            return {"-n", "--out", "--release", rk, t};
        case Act::clear:
            return {"-n", "--out", "--clear", rk};
        case Act::preempt:
            return {"-n", "--out", "--preempt", rk, sark, t};
        case Act::preempt_abort:
            return {"-n", "--out", "--preempt-abort", rk, sark, t};
        case Act::read_keys:
            return {"-n", "--in", "--read-keys"};
        case Act::read_reservation:
            return {"-n", "--in", "--read-reservation"};
        case Act::caps:
            return {"-n", "--in", "--report-capabilities"};
        case Act::full_status:
            return {"-n", "--in", "--read-full-status"};
        case Act::fence:
        case Act::takeover:
            break;
    }
    return {};
}

std::vector<std::string> mpathpersist_args(const Step& s, const Config& cfg) {
    const std::string t = "--prout-type=" + std::to_string(static_cast<unsigned>(cfg.type));
    const std::string rk = "--param-rk=0x" + hx(s.key);
    const std::string sark = "--param-sark=0x" + hx(s.sa_key);
    switch (s.act) {
        case Act::register_new:
            return {"--out", "--register", "--param-sark=0x" + hx(s.key)};
        case Act::unregister:
            return {"--out", "--register", rk, "--param-sark=0x0"};
        case Act::register_ignore:
            return {"--out", "--register-ignore", "--param-sark=0x" + hx(s.key)};
        case Act::reserve:
            return {"--out", "--reserve", rk, t};
        case Act::release:
            return {"--out", "--release", rk, t};
        case Act::clear:
            return {"--out", "--clear", rk};
        case Act::preempt:
            return {"--out", "--preempt", rk, sark, t};
        case Act::preempt_abort:
            return {"--out", "--preempt-abort", rk, sark, t};
        case Act::read_keys:
            return {"--in", "--read-keys"};
        case Act::read_reservation:
            return {"--in", "--read-reservation"};
        case Act::caps:
            return {"--in", "--report-capabilities"};
        case Act::full_status:
            return {"--in", "--read-full-status"};
        case Act::fence:
        case Act::takeover:
            break;
    }
    return {};
}

Status compile(std::vector<Step>& steps, const Config& cfg) {
    for (auto& s : steps) {
        auto m = engine::make_operation(op_spec(s, cfg));
        if (!m) return fail(std::move(m).error());
        s.make = std::move(m).value();
    }
    return {};
}

bool op_needs_node_b(std::string_view op) { return op == "preempt" || op == "preempt-abort"; }

Result<Cycle> op_cycle(const std::string& op, const Config& cfg, bool have_b) {
    const uint64_t ka = cfg.a.key, kb = cfg.b.key;
    Cycle c;
    c.prep = {{0, Act::register_ignore, ka}, {0, Act::clear, ka}};
    auto m = [](int node, Act a, uint64_t k, uint64_t sa = 0) {
        return Step{node, a, k, sa, true, {}};
    };
    if (op == "register") {
        c.cycle = {m(0, Act::register_new, ka), {0, Act::unregister, ka}};
    } else if (op == "register-ignore") {
        c.cycle = {m(0, Act::register_ignore, ka)};
    } else if (op == "reserve" || op == "release") {
        c.prep.push_back({0, Act::register_ignore, ka});
        c.cycle = {{0, Act::reserve, ka}, {0, Act::release, ka}};
        c.cycle[op == "reserve" ? 0 : 1].measured = true;
    } else if (op == "preempt" || op == "preempt-abort") {
        c.prep.push_back({1, Act::register_ignore, kb});
        c.cycle = {{1, Act::release, kb},
                   {0, Act::register_ignore, ka},
                   {0, Act::reserve, ka},
                   m(1, op == "preempt" ? Act::preempt : Act::preempt_abort, kb, ka)};
    } else if (op == "clear") {
        c.cycle = {{0, Act::register_ignore, ka}};
        if (have_b) c.cycle.push_back({1, Act::register_ignore, kb});
        c.cycle.push_back(m(0, Act::clear, ka));
    } else if (op == "read-keys" || op == "read-reservation" || op == "report-capabilities" ||
               op == "read-full-status") {
        c.prep.push_back({0, Act::register_ignore, ka});
        if (have_b) c.prep.push_back({1, Act::register_ignore, kb});
        c.prep.push_back({0, Act::reserve, ka});
        const Act a = op == "read-keys"             ? Act::read_keys
                      : op == "read-reservation"    ? Act::read_reservation
                      : op == "report-capabilities" ? Act::caps
                                                    : Act::full_status;
        c.cycle = {m(0, a, 0)};
    } else {
        return fail(Errc::invalid_argument, "unknown operation " + op);
    }
    c.needs_b = op_needs_node_b(op);
    if (c.needs_b && !have_b) return c;
    PRF_TRY(compile(c.prep, cfg));
    PRF_TRY(compile(c.cycle, cfg));
    return c;
}
}  // namespace prfence::bench
