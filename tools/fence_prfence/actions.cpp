// SPDX-License-Identifier: MIT
#include "tools/fence_prfence/actions.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/policy/cluster_key.h"
#include "uring_engine/wire/status.h"

namespace prfence::agent {
namespace {

std::string ms_text(uint64_t ns) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f ms", static_cast<double>(ns) / 1e6);
    return b;
}

// Writes `text` to `path` whole or not at all (a temporary file renamed over it).
Result<void> write_whole(const std::string& path, const std::string& text) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        if (!(f << text) || !f.flush()) return fail_errno("cannot write ", tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("cannot rename ", tmp);
    return {};
}

std::string beside_key_file(const AgentArgs& a, const char* name) {
    const std::filesystem::path key = a.key_file.empty() ? cluster::kKeyFile : a.key_file;
    return (key.parent_path() / name).string();
}

// corosync's cluster name as `on` last asked for it, beside the key file. It changes only with a
// restart of the whole cluster, after which every node is unfenced again and writes it anew; the
// file spares `off` a corosync-cmapctl process (6-7 ms here) in the middle of a failover. The
// nodelist (key_value=id) is always asked for: positions change as nodes are added at run time.
std::string cluster_name_file(const AgentArgs& a) {
    return beside_key_file(a, "fence_prfence.cluster_name");
}

std::optional<std::string> cached_cluster_name(const AgentArgs& a) {
    std::ifstream f(cluster_name_file(a));
    std::string name;
    if (!std::getline(f, name) || name.empty() || name.size() > 256) return std::nullopt;
    return name;
}

// The target's key: `key`, or fence_scsi's formula over the node name (asking corosync). With
// `refresh`, the cluster name comes from corosync and is recorded for the next calls.
Result<uint64_t> target_key(const AgentArgs& a, bool refresh = false) {
    if (a.key) return *a.key;
    if (a.target.empty())
        return fail(Errc::invalid_argument,
                    "no key: give key=, or nodename=/plug= to derive fence_scsi's key from");
    std::optional<std::string> name;
    if (refresh) {
        auto q = cluster::query_cluster_name(a.cmap_path);
        if (!q) return fail(std::move(q).error().with_context("key for node '" + a.target + "'"));
        name = std::move(q).value();
        PRF_TRY(write_whole(cluster_name_file(a), *name + "\n"));
    } else {
        name = cached_cluster_name(a);
    }
    // derive_key's errors already name the node.
    return cluster::derive_key(a.key_value, a.target, a.cmap_path, name);
}

// The file fence_prfence_check reads to find the LUs `on` registered on: the parameters that name
// them, in the agent's own stdin format, next to the key file.
std::string args_file(const AgentArgs& a) { return args_file_path(a.key_file); }

Result<void> write_args_file(const AgentArgs& a) {
    std::string text;
    if (!a.group.empty()) {
        text += "group=" + a.group + "\n";
        if (!a.socket.empty()) text += "socket=" + a.socket + "\n";
    } else {
        text += "devices=";
        for (size_t i = 0; i < a.devices.size(); ++i) text += (i ? "," : "") + a.devices[i];
        text += "\n";
    }
    if (!a.initiator.empty()) text += "initiator=" + a.initiator + "\n";
    return write_whole(args_file(a), text);
}

// One line per LU that failed: "DEVICE: STEP: why".
std::string failure_lines(const Batch& b, const std::vector<bool>& failed,
                          const std::vector<std::string>& why) {
    std::string s;
    for (size_t i = 0; i < b.outcomes.size(); ++i)
        if (failed[i]) s += "  " + b.outcomes[i].device + ": " + why[i] + "\n";
    return s;
}

std::string outcome_why(const engine::LunOutcome& o) {
    std::string s = o.step.empty() ? std::string() : o.step + ": ";
    s += o.error.empty() ? wire::category_name(o.category) : o.error;
    return s;
}

// The batch could not run: say why, and whether the deadline was the reason.
int batch_error(const char* action, const Error& e, Io& io) {
    io.err += std::string("fence_prfence: ") + action + " failed: " + e.msg + "\n";
    return 1;
}

bool past(Clock::time_point deadline) { return Clock::now() >= deadline; }

// The batch's warnings on stderr: they change neither the outcome nor the exit status.
void add_warnings(const char* action, const Batch& b, Io& io) {
    for (const auto& w : b.warnings)
        io.err += std::string("fence_prfence: ") + action + ": warning: " + w + "\n";
}

int action_on(const AgentArgs& a, Backend& be, Clock::time_point deadline, Io& io) {
    auto key = target_key(a, true);
    if (!key) return batch_error("on", key.error(), io);
    // The key file first: a later `off` from this node needs it even if some LUs failed here.
    if (auto w = cluster::write_key_file(a.key_file, *key); !w)
        return batch_error("on", w.error(), io);
    if (auto w = write_args_file(a); !w) return batch_error("on", w.error(), io);
    engine::OpSpec spec;
    spec.op = engine::Operation::unfence;
    spec.key = *key;
    spec.type = a.type;
    spec.aptpl = a.aptpl;
    auto b = be.run(spec, deadline);
    if (!b) return batch_error("on", b.error(), io);
    add_warnings("on", *b, io);
    std::vector<bool> failed(b->outcomes.size());
    std::vector<std::string> why(b->outcomes.size());
    size_t n = 0;
    for (size_t i = 0; i < b->outcomes.size(); ++i)
        if (!b->outcomes[i].ok) {
            failed[i] = true;
            why[i] = outcome_why(b->outcomes[i]);
            ++n;
        }
    if (n) {
        io.err += "fence_prfence: on: key " + hex_u64(*key) + " not in place on " +
                  std::to_string(n) + " of " + std::to_string(b->outcomes.size()) + " LUs" +
                  (b->summary.deadline_hit ? " (deadline reached)" : "") + ":\n" +
                  failure_lines(*b, failed, why);
        return 1;
    }
    io.out += "Success: key " + hex_u64(*key) + " registered on " +
              std::to_string(b->outcomes.size()) + " LUs in " + ms_text(b->summary.wall_ns) + "\n";
    return 0;
}

int action_off(const AgentArgs& a, Backend& be, Clock::time_point deadline, Io& io) {
    auto victim = target_key(a);
    if (!victim) return batch_error("off", victim.error(), io);
    auto ours = cluster::read_key_file(a.key_file);
    if (!ours) {
        // An absent file is already reported as "has this node been unfenced?"; other errors
        // (unreadable, not a key) name only the path, so say which file that is.
        Error e = std::move(ours).error();
        if (e.code != Errc::not_found) e.msg = "this node's key file: " + e.msg;
        return batch_error("off", e, io);
    }
    if (*ours == *victim)
        return batch_error("off",
                           Error{Errc::invalid_argument, "the victim's key " + hex_u64(*victim) +
                                                             " is our own: refusing to fence "
                                                             "ourselves"},
                           io);
    if (a.delay.count() > 0) {
        if (Clock::now() + a.delay >= deadline)
            return batch_error("off", Error{Errc::invalid_argument, "delay outlasts the deadline"},
                               io);
        std::this_thread::sleep_for(a.delay);
    }
    engine::OpSpec spec;
    spec.op = engine::Operation::fence;
    spec.key = *ours;
    spec.sa_key = *victim;
    spec.type = a.type;
    spec.aptpl = a.aptpl;
    spec.claim = true;
    auto fenced = be.run(spec, deadline);
    if (!fenced) return batch_error("off", fenced.error(), io);
    add_warnings("off", *fenced, io);
    // The second batch reads back what the first did, from every LU, whatever the first said: an
    // LU whose answer was lost may be fenced all the same, and one that said yes is checked.
    engine::OpSpec check;
    check.op = engine::Operation::verify;
    check.key = *ours;
    check.sa_key = *victim;
    std::optional<Batch> verified;
    if (!past(deadline)) {
        auto v = be.run(check, deadline);
        if (!v) return batch_error("off", v.error(), io);
        verified = std::move(v).value();
    }
    const size_t n = fenced->outcomes.size();
    std::vector<bool> failed(n);
    std::vector<std::string> why(n);
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) {
        const auto& f = fenced->outcomes[i];
        const engine::LunOutcome* v =
            verified && i < verified->outcomes.size() ? &verified->outcomes[i] : nullptr;
        if (v && v->ok) continue;
        failed[i] = true;
        ++bad;
        if (!f.ok) why[i] = outcome_why(f);
        if (v) why[i] += (why[i].empty() ? "" : "; ") + std::string("verify: ") + outcome_why(*v);
        if (!v) why[i] += (why[i].empty() ? "" : "; ") + std::string("not verified");
    }
    const bool deadline_hit =
        fenced->summary.deadline_hit || !verified || (verified && verified->summary.deadline_hit);
    if (bad) {
        io.err += "fence_prfence: off: " + hex_u64(*victim) + " is not fenced on " +
                  std::to_string(bad) + " of " + std::to_string(n) + " LUs" +
                  (deadline_hit ? " (the agent's deadline was reached)" : "") + ":\n" +
                  failure_lines(*fenced, failed, why);
        return 1;
    }
    io.out += "Success: " + (a.target.empty() ? std::string() : a.target + " ") + "(key " +
              hex_u64(*victim) + ") fenced on " + std::to_string(n) + " LUs in " +
              ms_text(fenced->summary.wall_ns + verified->summary.wall_ns) + "\n";
    return 0;
}

// READ KEYS on every LU: 0 registered somewhere, 2 nowhere that answered, 1 no LU answered.
int registered_status(uint64_t key, Backend& be, Clock::time_point deadline, Io& io,
                      const char* action) {
    engine::OpSpec spec;
    spec.op = engine::Operation::read_keys;
    auto b = be.run(spec, deadline);
    if (!b) return batch_error(action, b.error(), io);
    size_t answered = 0, holding = 0;
    for (const auto& o : b->outcomes) {
        if (!o.ok || !o.keys) continue;
        ++answered;
        if (std::find(o.keys->keys.begin(), o.keys->keys.end(), key) != o.keys->keys.end())
            ++holding;
    }
    if (answered == 0) {
        io.err += std::string("fence_prfence: ") + action + ": no LU answered READ KEYS";
        if (!b->outcomes.empty())
            io.err += " (" + b->outcomes[0].device + ": " + outcome_why(b->outcomes[0]) + ")";
        io.err += "\n";
        return 1;
    }
    if (holding) {
        io.out += "Status: ON\n";
        return 0;
    }
    io.out += "Status: OFF\n";
    return 2;
}

int action_status(const AgentArgs& a, Backend& be, Clock::time_point deadline, Io& io) {
    auto key = target_key(a);
    if (!key) return batch_error("status", key.error(), io);
    return registered_status(*key, be, deadline, io, "status");
}

int action_monitor(Backend& be, Clock::time_point deadline, Io& io) {
    auto r = be.check(deadline);
    if (!r) return batch_error("monitor", r.error(), io);
    if (!r->empty()) io.out += *r + "\n";
    return 0;
}

}  // namespace

std::string args_file_path(const std::string& key_file) {
    AgentArgs a;
    a.key_file = key_file;
    return beside_key_file(a, "fence_prfence.args");
}

int run_action(const AgentArgs& a, Backend* backend, Clock::time_point started, Io& io) {
    for (const auto& w : a.warnings) io.err += "fence_prfence: " + w + "\n";
    switch (a.action) {
        case Action::metadata:
        case Action::manpage:
            io.out += metadata_xml();
            return 0;
        case Action::validate_all:
            if (auto v = validate(a); !v) return batch_error("validate-all", v.error(), io);
            return 0;
        default:
            break;
    }
    if (auto v = validate(a); !v) return batch_error(action_name(a.action), v.error(), io);
    if (!backend)
        return batch_error(action_name(a.action),
                           Error{Errc::invalid_argument, "no devices= and no group="}, io);
    const Clock::time_point deadline = started + a.deadline;
    switch (a.action) {
        case Action::on:
            return action_on(a, *backend, deadline, io);
        case Action::off:
            return action_off(a, *backend, deadline, io);
        case Action::status:
            return action_status(a, *backend, deadline, io);
        case Action::monitor:
            return action_monitor(*backend, deadline, io);
        default:
            return 1;
    }
}

int run_check(const std::vector<std::string>& argv, const AgentArgs& a, Backend* backend,
              Clock::time_point started, Io& io) {
    if (argv.size() >= 2 && argv[0] == "repair") {
        // watchdog(8): a failed test is retried as `repair EXITCODE`; a failed repair reboots.
        // There is nothing to repair: the node lost its registration and must not write.
        int code = 2;
        const std::string& t = argv[1];
        if (int n = 0;
            std::from_chars(t.data(), t.data() + t.size(), n).ptr == t.data() + t.size() && n > 0 &&
            n < 256)
            code = n;
        io.err += "fence_prfence_check: repair " + argv[1] + ": this node was fenced\n";
        return code;
    }
    if (argv.empty() || argv[0] != "test") {
        io.err += "usage: fence_prfence_check test | repair EXITCODE [--key-file PATH]\n";
        return 1;
    }
    auto key = cluster::read_key_file(a.key_file);
    if (!key || !backend) return 0;  // never unfenced: nothing to lose
    engine::OpSpec spec;
    spec.op = engine::Operation::read_keys;
    auto b = backend->run(spec, started + a.deadline);
    if (!b) {
        // prfenced down or no LU resolving says nothing about our registrations; rebooting every
        // node of a cluster because a daemon restarted would be the larger outage.
        io.err += "fence_prfence_check: cannot read the keys (" + b.error().msg + ")\n";
        return 0;
    }
    std::string lost;
    size_t n = 0;
    for (const auto& o : b->outcomes) {
        if (!o.ok || !o.keys) continue;
        if (std::find(o.keys->keys.begin(), o.keys->keys.end(), *key) == o.keys->keys.end()) {
            lost += "  " + o.device + "\n";
            ++n;
        }
    }
    if (n == 0) return 0;
    io.err += "fence_prfence_check: our key " + hex_u64(*key) + " is gone from " +
              std::to_string(n) + " LUs: this node was fenced\n" + lost;
    return 2;
}

}  // namespace prfence::agent
