// SPDX-License-Identifier: MIT
// Direct mode: every PR subcommand resolves its devices, opens them once, runs one batch across all LUNs
// concurrently, and prints one result per LUN. Exit code: the worst LUN's sg3_utils category.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>

#include "common/bytes.h"
#include "policy/plans.h"
#include "policy/session.h"
#include "prfence/commands.h"
#include "prfence/outcome_render.h"

namespace prfence::cli {
namespace {

std::atomic<bool> g_cancel{false};
extern "C" void on_signal(int) { g_cancel.store(true); }

struct Common {
    std::vector<std::string> devices;
    std::string initiator;
    uint16_t target_port = 1;
    bool json = false;
    bool failures_only = false;
    uint32_t timeout_ms = 20000;
    uint32_t deadline_ms = 60000;
    unsigned qd = 1024;
    std::string transport = "uring";
};

struct PrOpts {
    std::string key, victim, old_key, type, to_key;
    std::vector<std::string> tids;
    bool ignore_existing = false, aptpl = false, all_tg_pt = false, abort = false, no_abort = false;
    bool unreg = false, force = false;
    uint16_t rel_port = 0;
};

void add_common(CLI::App* sub, Common& c) {
    sub->add_option("devices", c.devices,
                    "LUNs: /dev/sdX, /dev/sgN, /dev/disk/by-id/..., /dev/mapper/NAME, globs, @listfile, "
                    "sim:SOCKET:RANGE")
        ->required();
    sub->add_option("--initiator", c.initiator, "sim LUNs: the TransportID to speak as (e.g. iqn...:node-a,i,0x1)");
    sub->add_option("--target-port", c.target_port, "sim LUNs: the relative target port to arrive through")
        ->check(CLI::Range(1, 65535));
    sub->add_flag("--json", c.json, "JSON output");
    sub->add_flag("-q,--failures-only", c.failures_only, "List only the LUNs that failed (the summary always)");
    sub->add_option("--timeout", c.timeout_ms, "Per-command timeout, ms")->check(CLI::Range(1, 3600000));
    sub->add_option("--deadline", c.deadline_ms, "Whole-batch deadline, ms")->check(CLI::Range(1, 86400000));
    sub->add_option("--qd", c.qd, "Commands in flight at most, across all LUNs")->check(CLI::Range(1, 65536));
    sub->add_option("--transport", c.transport, "sg paths: uring (sg v3 async over io_uring, default) or sgio (SG_IO on a thread pool)")
        ->check(CLI::IsMember({"uring", "sgio"}));
}

Result<uint64_t> key_arg(const std::string& text, const char* what) {
    if (text.empty()) return fail(Errc::invalid_argument, std::string(what) + " is required");
    auto k = parse_hex_u64(text);
    if (!k) return fail(Errc::invalid_argument, std::string(what) + ": " + k.error().msg);
    return k;
}

Result<wire::PrType> type_arg(const std::string& text, const char* fallback = nullptr) {
    if (text.empty()) {
        if (fallback) return wire::parse_type(fallback);
        return fail(Errc::invalid_argument, "--type is required (1 WE, 3 EA, 5 WE-RO, 6 EA-RO, 7 WE-AR, 8 EA-AR)");
    }
    return wire::parse_type(text);
}

using JobMaker = std::function<std::unique_ptr<engine::LunJob>()>;

int syntax(const std::string& msg) {
    std::fprintf(stderr, "prfence: %s\n", msg.c_str());
    return wire::exit_code(wire::Category::syntax_error);
}

int run_batch(const std::string& op, const Common& c, const Result<JobMaker>& maker) {
    if (!maker) return syntax(maker.error().msg);
    const uint64_t t_resolve = engine::now_ns();
    auto specs = engine::resolve_devices(c.devices);
    if (!specs) {
        std::fprintf(stderr, "prfence %s: cannot resolve devices:\n%s\n", op.c_str(), specs.error().msg.c_str());
        return wire::exit_code(wire::Category::file_error);
    }
    engine::SessionOptions so;
    so.initiator = c.initiator;
    so.target_port = c.target_port;
    so.sg_transport = c.transport == "sgio" ? engine::SessionOptions::SgTransport::sgio
                                            : engine::SessionOptions::SgTransport::uring;
    so.exec.max_inflight = c.qd;
    so.exec.batch_deadline = std::chrono::milliseconds(c.deadline_ms);
    so.exec.command_deadline = std::chrono::milliseconds(c.timeout_ms + 5000);
    so.exec.cancel = &g_cancel;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    const uint64_t t_open = engine::now_ns();
    auto session = engine::Session::open(*specs, so);
    if (!session) {
        std::fprintf(stderr, "prfence %s: %s\n", op.c_str(), session.error().msg.c_str());
        return wire::exit_code(wire::Category::other);
    }
    const uint64_t t_run = engine::now_ns();
    auto rep = (*session)->run([&](size_t) { return (*maker)(); });
    if (!rep) {
        std::fprintf(stderr, "prfence %s: %s\n", op.c_str(), rep.error().msg.c_str());
        return wire::exit_code(wire::Category::other);
    }
    if (c.json) {
        // Where the time outside the batch went: naming the devices (sysfs) and opening their paths.
        Json j = batch_json(op, rep->outcomes, rep->summary);
        j["summary"]["resolve_ms"] = static_cast<double>(t_open - t_resolve) / 1e6;
        j["summary"]["open_ms"] = static_cast<double>(t_run - t_open) / 1e6;
        std::cout << j.dump(2) << "\n";
    } else {
        std::cout << batch_text(op, rep->outcomes, rep->summary, c.failures_only);
    }
    return wire::exit_code(rep->summary.worst);
}

engine::PlanOptions plan_opts(const Common& c, const PrOpts& p) {
    engine::PlanOptions po;
    po.timeout_ms = c.timeout_ms;
    po.all_tg_pt = p.all_tg_pt;
    po.aptpl = p.aptpl;
    po.abort = !p.no_abort;
    return po;
}

Result<JobMaker> read_maker(wire::PrInAction a, const Common& c) {
    engine::PlanOptions po;
    po.timeout_ms = c.timeout_ms;
    return JobMaker([a, po] { return engine::make_read_job(a, po); });
}

Result<JobMaker> prout_maker(wire::PrOutAction a, const Common& c, const PrOpts& p) {
    engine::ProutSpec spec;
    spec.action = a;
    using A = wire::PrOutAction;
    switch (a) {
        case A::register_key:
        case A::register_and_ignore: {
            PRF_TRY_ASSIGN(spec.params.sa_key, key_arg(p.key, "--key"));
            if (!p.old_key.empty()) {
                if (a == A::register_and_ignore) return fail(Errc::invalid_argument, "--old-key makes no sense with --ignore-existing");
                PRF_TRY_ASSIGN(spec.params.key, key_arg(p.old_key, "--old-key"));
            }
            for (const auto& t : p.tids) {
                PRF_TRY_ASSIGN(wire::TransportId tid, wire::parse_transport_id(t));
                spec.params.transport_ids.push_back(tid);
            }
            spec.params.spec_i_pt = !spec.params.transport_ids.empty();
            if (spec.params.spec_i_pt && a == A::register_and_ignore)
                return fail(Errc::invalid_argument, "--transport-id (SPEC_I_PT) is not allowed with --ignore-existing (SPC-4)");
            break;
        }
        case A::reserve:
        case A::release: {
            PRF_TRY_ASSIGN(spec.params.key, key_arg(p.key, "--key"));
            PRF_TRY_ASSIGN(spec.type, type_arg(p.type));
            break;
        }
        case A::clear: {
            PRF_TRY_ASSIGN(spec.params.key, key_arg(p.key, "--key"));
            break;
        }
        case A::preempt:
        case A::preempt_and_abort: {
            PRF_TRY_ASSIGN(spec.params.key, key_arg(p.key, "--key"));
            PRF_TRY_ASSIGN(spec.params.sa_key, key_arg(p.victim, "--victim"));
            PRF_TRY_ASSIGN(spec.type, type_arg(p.type));
            break;
        }
        case A::register_and_move: {
            PRF_TRY_ASSIGN(spec.move.key, key_arg(p.key, "--key"));
            PRF_TRY_ASSIGN(spec.move.sa_key, key_arg(p.to_key, "--to-key"));
            PRF_TRY_ASSIGN(spec.type, type_arg(p.type));
            if (p.tids.size() != 1) return fail(Errc::invalid_argument, "move needs exactly one --transport-id (the destination)");
            PRF_TRY_ASSIGN(spec.move.transport_id, wire::parse_transport_id(p.tids[0]));
            if (p.rel_port == 0) return fail(Errc::invalid_argument, "move needs --rel-port (the destination's relative target port)");
            spec.move.rel_tgt_port = p.rel_port;
            spec.move.unreg = p.unreg;
            spec.move.aptpl = p.aptpl;
            break;
        }
        case A::replace_lost: {
            PRF_TRY_ASSIGN(spec.params.sa_key, key_arg(p.key, "--key"));
            PRF_TRY_ASSIGN(spec.type, type_arg(p.type));
            break;
        }
    }
    engine::PlanOptions po = plan_opts(c, p);
    return JobMaker([spec, po] { return engine::make_prout_job(spec, po); });
}

struct Sub {
    const char* name;
    const char* help;
    enum Kind { read, prout, unregister, fence, takeover } kind;
    wire::PrInAction in = wire::PrInAction::read_keys;
    wire::PrOutAction out = wire::PrOutAction::register_key;
};

// The subcommand table: name, help, what it runs.
const Sub kSubs[] = {
    {"keys", "READ KEYS: registered keys and generation per LUN", Sub::read, wire::PrInAction::read_keys},
    {"reservation", "READ RESERVATION: holder key and type per LUN", Sub::read, wire::PrInAction::read_reservation},
    {"caps", "REPORT CAPABILITIES per LUN", Sub::read, wire::PrInAction::report_capabilities},
    {"status", "READ FULL STATUS: every registrant with its TransportID", Sub::read, wire::PrInAction::read_full_status},
    {"register", "REGISTER --key on every path (--ignore-existing: REGISTER AND IGNORE EXISTING KEY)", Sub::prout,
     {}, wire::PrOutAction::register_key},
    {"unregister", "Remove --key's registration on every path", Sub::unregister},
    {"reserve", "RESERVE with --key and --type", Sub::prout, {}, wire::PrOutAction::reserve},
    {"release", "RELEASE with --key and --type", Sub::prout, {}, wire::PrOutAction::release},
    {"clear", "CLEAR every registration and the reservation (needs a registered --key)", Sub::prout, {},
     wire::PrOutAction::clear},
    {"preempt", "PREEMPT --victim's registrations (--abort: PREEMPT AND ABORT)", Sub::prout, {},
     wire::PrOutAction::preempt},
    {"move", "REGISTER AND MOVE the reservation to --transport-id on --rel-port", Sub::prout, {},
     wire::PrOutAction::register_and_move},
    {"replace-lost", "REPLACE LOST RESERVATION with new --key and --type", Sub::prout, {},
     wire::PrOutAction::replace_lost},
    {"fence", "Fence --victim: READ KEYS, PREEMPT AND ABORT, verify with READ RESERVATION", Sub::fence},
    {"takeover", "Forced break-in: register-and-ignore, preempt-and-abort the holder, verify (needs --force)",
     Sub::takeover},
};

}  // namespace

std::string_view chosen_subcommand(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] != '-') return argv[i];
    return {};
}

bool is_direct_subcommand(std::string_view name) {
    for (const Sub& s : kSubs)
        if (name == s.name) return true;
    return false;
}

void add_direct(CLI::App& app, Runner& run, std::string_view chosen) {
    const bool known = is_direct_subcommand(chosen);
    for (const Sub& s : kSubs) {
        if (known && chosen != s.name) continue;
        CLI::App* sub = app.add_subcommand(s.name, s.help);
        auto c = std::make_shared<Common>();
        auto p = std::make_shared<PrOpts>();
        add_common(sub, *c);
        if (s.kind != Sub::read) {
            sub->add_option("--key", p->key, "Our reservation key (hex, as sg_persist: abc123 or 0xabc123)");
            sub->add_flag("--aptpl", p->aptpl, "Activate persist through power loss");
        }
        const std::string name = s.name;
        if (name == "register") {
            sub->add_option("--old-key", p->old_key, "Change our key: the key registered now");
            sub->add_flag("--ignore-existing", p->ignore_existing, "REGISTER AND IGNORE EXISTING KEY");
            sub->add_flag("--all-tg-pt", p->all_tg_pt, "Register once for all target ports (when the LU reports ATP_C)");
        }
        if (name == "register" || name == "move")
            sub->add_option("--transport-id", p->tids, "TransportID (sg_persist syntax)");
        if (name == "reserve" || name == "release" || name == "preempt" || name == "move" || name == "replace-lost" ||
            name == "fence" || name == "takeover")
            sub->add_option("--type", p->type, "Reservation type: 1 WE, 3 EA, 5 WE-RO, 6 EA-RO, 7 WE-AR, 8 EA-AR");
        if (name == "preempt" || name == "fence") sub->add_option("--victim", p->victim, "The key to preempt");
        if (name == "preempt") sub->add_flag("--abort", p->abort, "PREEMPT AND ABORT");
        if (name == "fence" || name == "takeover")
            sub->add_flag("--no-abort", p->no_abort, "PREEMPT instead of PREEMPT AND ABORT");
        if (name == "move") {
            sub->add_option("--to-key", p->to_key, "The key registered for the destination");
            sub->add_option("--rel-port", p->rel_port, "The destination's relative target port");
            sub->add_flag("--unreg", p->unreg, "Unregister ourselves after the move");
        }
        if (name == "takeover") sub->add_flag("--force", p->force, "Really break in (preempts whoever holds the LUs)");

        sub->callback([s, c, p, &run] {
            run = [s, c, p]() -> int {
                switch (s.kind) {
                    case Sub::read:
                        return run_batch(s.name, *c, read_maker(s.in, *c));
                    case Sub::prout: {
                        wire::PrOutAction a = s.out;
                        if (a == wire::PrOutAction::register_key && p->ignore_existing) a = wire::PrOutAction::register_and_ignore;
                        if (a == wire::PrOutAction::preempt && p->abort) a = wire::PrOutAction::preempt_and_abort;
                        return run_batch(s.name, *c, prout_maker(a, *c, *p));
                    }
                    case Sub::unregister: {
                        PrOpts u = *p;
                        u.old_key = p->key;
                        u.key = "0";
                        if (p->key.empty()) return syntax("--key is required");
                        return run_batch(s.name, *c, prout_maker(wire::PrOutAction::register_key, *c, u));
                    }
                    case Sub::fence: {
                        auto key = key_arg(p->key, "--key");
                        auto victim = key_arg(p->victim, "--victim");
                        auto type = type_arg(p->type, "WE-RO");
                        if (!key) return syntax(key.error().msg);
                        if (!victim) return syntax(victim.error().msg);
                        if (!type) return syntax(type.error().msg);
                        if (*key == *victim) return syntax("--key and --victim are the same key: that would fence ourselves");
                        auto po = plan_opts(*c, *p);
                        uint64_t k = *key, v = *victim;
                        wire::PrType t = *type;
                        return run_batch(s.name, *c, JobMaker([k, v, t, po] { return engine::make_fence_job(k, v, t, po); }));
                    }
                    case Sub::takeover: {
                        if (!p->force)
                            return syntax("takeover preempts whoever holds the LUs and aborts their commands; "
                                          "add --force if that is what you want");
                        auto key = key_arg(p->key, "--key");
                        auto type = type_arg(p->type, "WE-RO");
                        if (!key) return syntax(key.error().msg);
                        if (!type) return syntax(type.error().msg);
                        auto po = plan_opts(*c, *p);
                        uint64_t k = *key;
                        wire::PrType t = *type;
                        return run_batch(s.name, *c, JobMaker([k, t, po] { return engine::make_takeover_job(k, t, po); }));
                    }
                }
                return 1;
            };
        });
    }
}

}  // namespace prfence::cli
