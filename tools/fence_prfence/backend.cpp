// SPDX-License-Identifier: MIT
#include "tools/fence_prfence/backend.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "nl_control/client/client.h"
#include "nl_control/protocol/family.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/devices/resolve.h"
#include "uring_engine/policy/operations.h"
#include "uring_engine/session/multipath_keys.h"
#include "uring_engine/session/session.h"

namespace prfence::agent {
namespace {

// Whole milliseconds left until `deadline`, at least 1: a batch asked to end in 0 ms would be
// refused, and the deadline check afterwards reports the overrun anyway.
uint32_t ms_left(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<uint32_t>(std::clamp<int64_t>(left, 1, 86400000));
}

class DirectBackend final : public Backend {
  public:
    explicit DirectBackend(const AgentArgs& a) : args_(a) {}

    Result<Batch> run(const engine::OpSpec& spec, Clock::time_point deadline) override {
        PRF_TRY_ASSIGN(engine::JobMaker maker, engine::make_operation(spec));
        if (!session_) {
            PRF_TRY_ASSIGN(specs_, engine::resolve_devices(args_.devices, roots()));
            engine::SessionOptions so;
            so.initiator = args_.initiator;
            so.sysfs_root = args_.sysfs_root;
            so.sg_transport =
                args_.transport == "sgio" ? engine::SgTransport::sgio : engine::SgTransport::uring;
            PRF_TRY_ASSIGN(session_, engine::Session::open(specs_, so));
        }
        // The session's executor options were fixed at open; each batch gets what is left.
        engine::ExecOptions eo = session_->executor().options();
        eo.batch_deadline = std::chrono::milliseconds(ms_left(deadline));
        session_->executor().set_options(eo);
        PRF_TRY_ASSIGN(engine::Session::Report rep, session_->run([&](size_t) { return maker(); }));
        Batch b{std::move(rep.outcomes), rep.summary, {}};
        if (auto key = engine::key_left_registered(spec)) {
            engine::MultipathKeysOptions mo;
            if (!args_.multipathd_socket.empty()) mo.socket = args_.multipathd_socket;
            mo.sysfs_root = args_.sysfs_root;
            mo.timeout = std::min(mo.timeout, std::chrono::milliseconds(ms_left(deadline)));
            for (const auto& r : engine::tell_multipathd(specs_, b.outcomes, *key, spec.aptpl, mo))
                if (!r.told)
                    b.warnings.push_back("multipathd not told key " + hex_u64(*key) + " for map " +
                                         r.map + " (" + b.outcomes[r.lun].device + "): " + r.error);
        }
        return b;
    }

    Result<std::string> check(Clock::time_point) override {
        PRF_TRY_ASSIGN(auto specs, engine::resolve_devices(args_.devices, roots()));
        size_t paths = 0;
        for (const auto& s : specs) paths += s.paths.size();
        return std::to_string(specs.size()) + " LUs (" + std::to_string(paths) + " paths) resolve";
    }

  private:
    engine::ResolveOptions roots() const {
        return engine::ResolveOptions{.sysfs_root = args_.sysfs_root, .dev_root = args_.dev_root};
    }

    AgentArgs args_;
    std::vector<engine::LunSpec> specs_;  // as the session was opened
    std::unique_ptr<engine::Session> session_;
};

class DaemonBackend final : public Backend {
  public:
    explicit DaemonBackend(const AgentArgs& a) : args_(a) {
        if (args_.socket.empty()) args_.socket = nl::kDefaultSocket;
    }

    Result<Batch> run(const engine::OpSpec& spec, Clock::time_point deadline) override {
        PRF_TRY(connect(deadline));
        nl::Request req;
        req.hdr.cmd = nl::CMD_RUN;
        req.group = args_.group;
        req.op = spec;
        req.has_operation = true;
        // prfenced ends the batch itself; the call waits a little longer for its answer.
        req.deadline_ms = ms_left(deadline);
        PRF_TRY_ASSIGN(auto answers,
                       client_->call(std::move(req), std::chrono::milliseconds(ms_left(deadline) +
                                                                               kAnswerGraceMs)));
        PRF_TRY(refusal(answers));
        PRF_TRY_ASSIGN(nl::RunAnswer run, nl::assemble_run_answer(answers));
        return Batch{std::move(run.outcomes), run.summary.batch};
    }

    Result<std::string> check(Clock::time_point deadline) override {
        PRF_TRY(connect(deadline));
        nl::Request req;
        req.hdr.cmd = nl::CMD_GROUP_LIST;
        req.group = args_.group;
        PRF_TRY_ASSIGN(auto answers,
                       client_->call(std::move(req), std::chrono::milliseconds(ms_left(deadline))));
        PRF_TRY(refusal(answers));
        for (const auto& a : answers)
            if (a.kind() == nl::Answer::Kind::group && a.group().name == args_.group) {
                const nl::GroupInfo& g = a.group();
                std::string line = "prfenced at " + args_.socket + " has group " + g.name + ": " +
                                   std::to_string(g.luns) + " LUs, " +
                                   std::to_string(g.paths_open) + " paths open";
                for (const auto& p : g.problems) line += "; problem: " + p;
                return line;
            }
        return fail(Errc::not_found, "prfenced at " + args_.socket + " has no group \"" +
                                         args_.group + "\" (prfence --daemon group list)");
    }

  private:
    static constexpr uint32_t kAnswerGraceMs = 2000;

    Result<void> connect(Clock::time_point deadline) {
        if (client_) return {};
        // A hung prfenced must cost no more than what is left of our deadline.
        auto c =
            nl::Client::connect_checked(args_.socket, std::chrono::milliseconds(ms_left(deadline)));
        if (!c) return fail(std::move(c).error().with_context("prfenced"));
        client_.emplace(std::move(c).value());
        return {};
    }

    // prfenced's refusal, if it refused (its extended-ack text).
    Result<void> refusal(const std::vector<nl::Answer>& answers) const {
        for (const auto& a : answers)
            if (a.err() != 0) {
                const std::string why = a.err_msg().empty() ? std::strerror(a.err()) : a.err_msg();
                return fail(a.err() == ENOENT ? Errc::not_found : Errc::invalid_argument,
                            "prfenced refused: " + why);
            }
        return {};
    }

    AgentArgs args_;
    std::optional<nl::Client> client_;
};

}  // namespace

std::unique_ptr<Backend> direct_backend(const AgentArgs& args) {
    return std::make_unique<DirectBackend>(args);
}
std::unique_ptr<Backend> daemon_backend(const AgentArgs& args) {
    return std::make_unique<DaemonBackend>(args);
}

}  // namespace prfence::agent
