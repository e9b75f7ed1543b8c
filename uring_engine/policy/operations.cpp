// SPDX-License-Identifier: MIT
#include "uring_engine/policy/operations.h"

#include <string>

#include "uring_engine/policy/plans.h"

namespace prfence::engine {
namespace {

Result<uint64_t> need(const std::optional<uint64_t>& v, const char* what) {
    if (!v) return fail(Errc::invalid_argument, std::string(what) + " is required");
    return *v;
}

Result<wire::PrType> need_type(const std::optional<wire::PrType>& t) {
    if (!t)
        return fail(Errc::invalid_argument,
                    "--type is required (1 WE, 3 EA, 5 WE-RO, 6 EA-RO, 7 WE-AR, 8 EA-AR)");
    return *t;
}

Result<JobMaker> prout(const OpSpec& s, const PlanOptions& po) {
    ProutSpec spec;
    using A = wire::PrOutAction;
    switch (s.op) {
        case Operation::register_key:
        case Operation::unregister: {
            const bool ignore = s.ignore_existing;
            spec.action = ignore ? A::register_and_ignore : A::register_key;
            if (s.op == Operation::unregister) {
                // Unregistering is REGISTER from our key to key 0.
                PRF_TRY_ASSIGN(spec.params.key, need(s.key, "--key"));
                spec.params.sa_key = 0;
                if (ignore) spec.params.key = 0;
                break;
            }
            PRF_TRY_ASSIGN(spec.params.sa_key, need(s.key, "--key"));
            if (s.old_key) {
                if (ignore)
                    return fail(Errc::invalid_argument,
                                "--old-key makes no sense with --ignore-existing");
                spec.params.key = *s.old_key;
            }
            spec.params.transport_ids = s.transport_ids;
            spec.params.spec_i_pt = !s.transport_ids.empty();
            if (spec.params.spec_i_pt && ignore)
                return fail(
                    Errc::invalid_argument,
                    "--transport-id (SPEC_I_PT) is not allowed with --ignore-existing (SPC-4)");
            break;
        }
        case Operation::reserve:
        case Operation::release: {
            spec.action = s.op == Operation::reserve ? A::reserve : A::release;
            PRF_TRY_ASSIGN(spec.params.key, need(s.key, "--key"));
            PRF_TRY_ASSIGN(spec.type, need_type(s.type));
            break;
        }
        case Operation::clear: {
            spec.action = A::clear;
            PRF_TRY_ASSIGN(spec.params.key, need(s.key, "--key"));
            break;
        }
        case Operation::preempt: {
            spec.action = s.abort ? A::preempt_and_abort : A::preempt;
            PRF_TRY_ASSIGN(spec.params.key, need(s.key, "--key"));
            PRF_TRY_ASSIGN(spec.params.sa_key, need(s.sa_key, "--victim"));
            PRF_TRY_ASSIGN(spec.type, need_type(s.type));
            break;
        }
        case Operation::move: {
            spec.action = A::register_and_move;
            PRF_TRY_ASSIGN(spec.move.key, need(s.key, "--key"));
            PRF_TRY_ASSIGN(spec.move.sa_key, need(s.sa_key, "--to-key"));
            PRF_TRY_ASSIGN(spec.type, need_type(s.type));
            if (s.transport_ids.size() != 1)
                return fail(Errc::invalid_argument,
                            "move needs exactly one --transport-id (the destination)");
            spec.move.transport_id = s.transport_ids[0];
            if (s.rel_port == 0)
                return fail(Errc::invalid_argument,
                            "move needs --rel-port (the destination's relative target port)");
            spec.move.rel_tgt_port = s.rel_port;
            spec.move.unreg = s.unreg;
            spec.move.aptpl = s.aptpl;
            break;
        }
        case Operation::replace_lost: {
            spec.action = A::replace_lost;
            PRF_TRY_ASSIGN(spec.params.sa_key, need(s.key, "--key"));
            PRF_TRY_ASSIGN(spec.type, need_type(s.type));
            break;
        }
        default:
            return fail(Errc::invalid_argument, "not a PR OUT operation");
    }
    return JobMaker([spec, po] { return make_prout_job(spec, po); });
}

}  // namespace

Result<JobMaker> make_operation(const OpSpec& s) {
    if (!operation_name_known(s.op))
        return fail(Errc::invalid_argument,
                    "unknown operation " + std::to_string(static_cast<unsigned>(s.op)));
    if (s.timeout_ms == 0) return fail(Errc::invalid_argument, "--timeout must be at least 1 ms");
    PlanOptions po;
    po.timeout_ms = s.timeout_ms;
    po.all_tg_pt = s.all_tg_pt;
    po.aptpl = s.aptpl;
    po.abort = !s.no_abort;
    switch (s.op) {
        case Operation::read_keys:
        case Operation::read_reservation:
        case Operation::report_capabilities:
        case Operation::read_full_status: {
            static constexpr wire::PrInAction kIn[] = {
                wire::PrInAction::read_keys, wire::PrInAction::read_reservation,
                wire::PrInAction::report_capabilities, wire::PrInAction::read_full_status};
            const wire::PrInAction a = kIn[static_cast<size_t>(s.op) - 1];
            return JobMaker([a, po] { return make_read_job(a, po); });
        }
        case Operation::probe:
            return JobMaker([po] { return make_probe_job(po); });
        case Operation::fence: {
            PRF_TRY_ASSIGN(uint64_t key, need(s.key, "--key"));
            if (s.claim && key == 0)
                return fail(Errc::invalid_argument,
                            "--key 0 cannot be registered (SPC-4: a "
                            "service action key of 0 unregisters)");
            PRF_TRY_ASSIGN(uint64_t victim, need(s.sa_key, "--victim"));
            if (key == victim)
                return fail(Errc::invalid_argument,
                            "--key and --victim are the same key: that would fence ourselves");
            const wire::PrType t = s.type.value_or(wire::PrType::write_exclusive_registrants_only);
            const bool claim = s.claim;
            return JobMaker(
                [key, victim, t, po, claim] { return make_fence_job(key, victim, t, po, claim); });
        }
        case Operation::unfence: {
            PRF_TRY_ASSIGN(uint64_t key, need(s.key, "--key"));
            if (key == 0)
                return fail(Errc::invalid_argument,
                            "--key 0 cannot be registered (SPC-4: a "
                            "service action key of 0 unregisters)");
            const wire::PrType t = s.type.value_or(wire::PrType::write_exclusive_registrants_only);
            return JobMaker([key, t, po] { return make_unfence_job(key, t, po); });
        }
        case Operation::verify: {
            if (!s.key && !s.sa_key)
                return fail(Errc::invalid_argument,
                            "verify needs --victim (the key that must be gone), --key (ours, "
                            "that must be registered), or both");
            if (s.sa_key && *s.sa_key == 0)
                return fail(Errc::invalid_argument,
                            "--victim 0 is not a key (READ RESERVATION reports 0 for every "
                            "all-registrants reservation)");
            if (s.key && s.sa_key && *s.key == *s.sa_key)
                return fail(Errc::invalid_argument, "--key and --victim are the same key");
            const auto key = s.key;
            const auto victim = s.sa_key;
            return JobMaker([key, victim, po] { return make_verify_job(key, victim, po); });
        }
        case Operation::takeover: {
            if (!s.force)
                return fail(Errc::invalid_argument,
                            "takeover preempts whoever holds the LUs and aborts their commands; "
                            "add --force if that is what you want");
            PRF_TRY_ASSIGN(uint64_t key, need(s.key, "--key"));
            const wire::PrType t = s.type.value_or(wire::PrType::write_exclusive_registrants_only);
            return JobMaker([key, t, po] { return make_takeover_job(key, t, po); });
        }
        default:
            return prout(s, po);
    }
}

}  // namespace prfence::engine
