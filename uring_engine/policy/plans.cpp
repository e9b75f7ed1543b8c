// SPDX-License-Identifier: MIT
#include "uring_engine/policy/plans.h"

#include <algorithm>
#include <cstring>

#include "uring_engine/common/bytes.h"
#include "uring_engine/policy/path_failure.h"
#include "uring_engine/wire/nvme_status.h"

namespace prfence::engine {
namespace {

std::string describe_failure(const ScsiResponse& r, const std::optional<wire::Sense>& sense) {
    if (r.timed_out) return "timed out";
    if (r.nvme && !r.nvme->refused.empty()) return r.nvme->refused;
    if (r.nvme && r.nvme->res > 0)  // NVMe's own words: they are what its logs and tools print
        return "NVMe " + wire::nvme::describe(wire::nvme::decode_status(r.nvme->res));
    if (r.sys_errno) return std::string("transport error: ") + std::strerror(r.sys_errno);
    if (r.host != 0)
        return std::string("host byte ") + wire::host_byte_name(r.host) + " (" +
               wire::host_byte_text(r.host) + ")";
    if (r.status == wire::sam::check_condition && sense) return wire::describe_sense(*sense);
    return wire::status_name(r.status);
}

class JobBase : public LunJob {
  public:
    // Path failures are handled here, before the plan sees the answer (policy/path_failure.h): a
    // command that needs one path goes again down the next path not known dead; a registration,
    // which needs every path, lets the plan skip the dead one (register_answer).
    std::optional<Command> step(const LunTarget& lun, const ScsiResponse* last) final {
        if (!last) {
            outcome_.paths.clear();
            for (const Path* p : lun.paths) outcome_.paths.push_back({p->name(), {}, {}});
        }
        last_pf_.reset();
        if (last && pending_) {
            const unsigned p = pending_->path;
            last_pf_ = path_failure(*last);
            if (last_pf_) {
                mark_dead(p, last_pf_->why);
                if (!per_path_) {
                    if (auto alt = next_live(p)) {
                        if (last_pf_->maybe_sent && pending_->req.cdb.len > 0 &&
                            pending_->req.cdb.b[0] == kPrOutOpcode)
                            maybe_sent_ = lun.paths[p]->name() + " (" + last_pf_->why + ")";
                        cur_ = path_ = *alt;
                        pending_->path = *alt;
                        return *pending_;
                    }
                }
            } else if (p < outcome_.paths.size() &&
                       outcome_.paths[p].state == PathOutcome::State::unused) {
                outcome_.paths[p].state = PathOutcome::State::answered;
            }
        }
        per_path_ = false;
        std::optional<Command> c = advance(lun, last);
        if (c)
            pending_ = *c;
        else
            finish(lun);
        return c;
    }

  protected:
    explicit JobBase(const PlanOptions& opt) : opt_(opt) {}

    // The plan's own step: as LunJob::step, with path failures of single-path commands already
    // handled (failed over while another path is left; delivered when none is).
    virtual std::optional<Command> advance(const LunTarget& lun, const ScsiResponse* last) = 0;

    // Records one answer in the outcome; true when the command succeeded (GOOD, or a recovered
    // error).
    bool record(const ScsiResponse& r, const char* step) {
        outcome_.status = r.status;
        outcome_.sys_errno = r.sys_errno;
        outcome_.timed_out = r.timed_out;
        outcome_.sense.reset();
        outcome_.nvme_status = r.nvme ? r.nvme->res : 0;
        if (r.nvme && r.nvme->report) outcome_.nvme_report = r.nvme->report;
        if (!r.sense.empty())
            if (auto s = wire::decode_sense(r.sense); s.ok()) outcome_.sense = std::move(s).value();
        wire::Category c = response_category(r);
        if (c == wire::Category::clean || c == wire::Category::recovered) return true;
        outcome_.ok = false;
        outcome_.category = c;
        outcome_.step = step;
        outcome_.error = describe_failure(r, outcome_.sense);
        return false;
    }

    std::nullopt_t succeed(std::string note = {}) {
        outcome_.ok = true;
        outcome_.category = wire::Category::clean;
        outcome_.error = std::move(note);
        return std::nullopt;
    }
    std::nullopt_t fail_with(wire::Category c, std::string step, std::string why) {
        outcome_.ok = false;
        outcome_.category = c;
        outcome_.step = std::move(step);
        outcome_.error = std::move(why);
        return std::nullopt;
    }

    Command prin(unsigned path, wire::PrInAction sa, uint16_t alloc) const {
        Command c;
        c.path = path;
        c.req.cdb = wire::prin_cdb(sa, alloc);
        c.req.data_in_len = alloc;
        c.req.timeout_ms = opt_.timeout_ms;
        return c;
    }
    Result<Command> prout(unsigned path, wire::PrOutAction sa, wire::PrType type,
                          const wire::ProutParams& p) const {
        PRF_TRY_ASSIGN(wire::ProutCommand pc, wire::build_prout(sa, type, p));
        Command c;
        c.path = path;
        c.req.cdb = pc.cdb;
        c.req.data_out = std::move(pc.data);
        c.req.timeout_ms = opt_.timeout_ms;
        return c;
    }

    // Parses a PR IN answer into the outcome. Returns a re-issue size when the answer was truncated
    // by our allocation length and a larger one would fetch it all; 0 when done.
    uint16_t absorb_prin(wire::PrInAction sa, const ScsiResponse& r, uint16_t alloc, bool* parsed) {
        *parsed = false;
        // Parses with `parse` into `slot`; the answer's truncation decides whether to re-issue
        // larger.
        auto take = [&](auto parse, auto& slot) -> uint16_t {
            auto v = parse(ByteView(r.data_in));
            if (!v) {
                fail_with(wire::Category::malformed, wire::prin_action_name(sa),
                          "answer failed sanity checks: " + v.error().msg);
                return 0;
            }
            *parsed = true;
            slot = std::move(v).value();
            if constexpr (requires { slot->needed; }) {
                if (slot->truncated && slot->needed > alloc && alloc < 0xffff)
                    return static_cast<uint16_t>(std::min<uint32_t>(slot->needed, 0xffff));
            }
            return 0;
        };
        switch (sa) {
            case wire::PrInAction::read_keys:
                return take(wire::parse_read_keys, outcome_.keys);
            case wire::PrInAction::read_reservation:
                return take(wire::parse_read_reservation, outcome_.reservation);
            case wire::PrInAction::report_capabilities:
                return take(wire::parse_capabilities, outcome_.caps);
            case wire::PrInAction::read_full_status:
                return take(wire::parse_full_status, outcome_.full_status);
        }
        return 0;
    }

    // Records a READ RESERVATION answer and parses it; nullptr when the command failed or the
    // answer is malformed (the outcome already says so).
    const wire::ReadReservation* reservation_answer(const ScsiResponse& r) {
        if (!record(r, "READ RESERVATION")) return nullptr;
        bool parsed = false;
        absorb_prin(wire::PrInAction::read_reservation, r, 8192, &parsed);
        return parsed ? &*outcome_.reservation : nullptr;
    }

    // A PR OUT command, or the outcome's failure when its parameters do not encode.
    std::optional<Command> prout_or_fail(wire::PrOutAction sa, wire::PrType type,
                                         const wire::ProutParams& p) {
        auto c = prout(cur_, sa, type, p);
        if (!c)
            return fail_with(wire::Category::syntax_error, wire::prout_action_name(sa),
                             c.error().msg);
        return std::move(c).value();
    }
    wire::PrOutAction preempt_action() const {
        return opt_.abort ? wire::PrOutAction::preempt_and_abort : wire::PrOutAction::preempt;
    }

    // REGISTER AND IGNORE EXISTING KEY of `key` down `path`: each path is its own I_T nexus and
    // needs its own registration. Remembers the path for register_answer.
    std::optional<Command> register_on(unsigned path, uint64_t key) {
        path_ = path;
        per_path(key != 0);
        auto c = prout(path, wire::PrOutAction::register_and_ignore, wire::PrType::none,
                       {.sa_key = key, .aptpl = opt_.aptpl});
        if (!c)
            return fail_with(wire::Category::syntax_error, "REGISTER AND IGNORE EXISTING KEY",
                             c.error().msg);
        return std::move(c).value();
    }

    // The answer to one REGISTER of a register-on-every-path loop (path_ is the path it went
    // down). more: send the next path's (path_ + 1); done: every path was tried and at least one
    // nexus took the registration (cur_ is the first that did, for the commands that follow);
    // failed: the outcome says why (the LU refused on a path, or every path is dead).
    enum class Reg { more, done, failed };
    Reg register_answer(const ScsiResponse& r, const LunTarget& lun, const char* step) {
        if (last_pf_) {
            record(r, step);  // the LU's result only if no path takes the registration
        } else if (!record(r, step)) {
            if (lun.paths.size() > 1) outcome_.error += " (path " + lun.paths[path_]->name() + ")";
            return Reg::failed;
        } else {
            if (registering_key_) outcome_.paths[path_].state = PathOutcome::State::registered;
            if (!first_done_) first_done_ = path_;
            cover_same_scope(lun);
        }
        if (auto n = next_reg_path(lun, path_)) {
            next_ = *n;
            return Reg::more;
        }
        if (!first_done_) return Reg::failed;
        cur_ = *first_done_;
        return Reg::done;
    }
    // Paths that share a registration scope with path_ (Path::registration_scope: an NVMe host's
    // controllers) took the registration with it: they are not sent their own, which NVMe would
    // count twice, or, for an unregister, answer with a conflict.
    void cover_same_scope(const LunTarget& lun) {
        const std::string& scope = lun.paths[path_]->registration_scope();
        if (scope.empty()) return;
        covered_.resize(lun.paths.size(), false);
        for (unsigned q = 0; q < lun.paths.size(); ++q) {
            if (q == path_ || lun.paths[q]->registration_scope() != scope) continue;
            covered_[q] = true;
            if (registering_key_ && q < outcome_.paths.size() &&
                outcome_.paths[q].state != PathOutcome::State::dead)
                outcome_.paths[q].state = PathOutcome::State::registered;
        }
    }
    // The path register_answer chose when it said Reg::more.
    unsigned next_reg() const { return next_; }
    // The next path after `after` a register-on-every-path loop still sends to.
    std::optional<unsigned> next_reg_path(const LunTarget& lun, unsigned after) const {
        for (unsigned q = after + 1; q < lun.paths.size(); ++q)
            if (q >= covered_.size() || !covered_[q]) return q;
        return std::nullopt;
    }
    // After a RESERVE that succeeded: the outcome's reservation is what the LU holds now, not what
    // READ RESERVATION said before it (RESERVE does not change the generation, SPC-4 5.13.2).
    void reserved_now(uint64_t key, wire::PrType type) {
        if (!outcome_.reservation) outcome_.reservation.emplace();
        outcome_.reservation->reserved = true;
        outcome_.reservation->key = wire::is_all_registrants(type) ? 0 : key;
        outcome_.reservation->type = static_cast<uint8_t>(type);
    }
    // After reserved_now on an NVMe namespace: its Report (the nvme part of the outcome) was read
    // before the Acquire and would contradict the reservation, so the state is read back once.
    // A command to send, or nullopt when there is nothing to read back.
    std::optional<Command> nvme_read_back() const {
        if (!outcome_.nvme_report) return std::nullopt;
        return prin(cur_, wire::PrInAction::read_reservation, 8192);
    }
    // The answer to nvme_read_back: success with `note` whatever it says (the Acquire did succeed);
    // a Report that failed leaves no Report in the outcome rather than the one from before.
    std::nullopt_t nvme_read_back_answer(const ScsiResponse& r, std::string note) {
        const auto reservation = outcome_.reservation;
        if (!reservation_answer(r)) {
            outcome_.nvme_report.reset();
            outcome_.reservation = reservation;
            note += (note.empty() ? "" : "; ") + std::string("the Report after it failed");
        }
        return succeed(std::move(note));
    }
    // The registering phase of fence --claim, unfence and takeover: REGISTER AND IGNORE EXISTING
    // KEY of `key` down every path, dead paths skipped. nullopt with *over true when the loop is
    // done (go on with the plan), with *over false when the job ended (the outcome says why).
    std::optional<Command> register_loop(const ScsiResponse& r, const LunTarget& lun, uint64_t key,
                                         bool* over) {
        *over = false;
        switch (register_answer(r, lun, "REGISTER AND IGNORE EXISTING KEY")) {
            case Reg::more:
                return register_on(next_, key);
            case Reg::done:
                *over = true;
                return std::nullopt;
            case Reg::failed:
                break;
        }
        return std::nullopt;
    }

    static uint16_t default_alloc(wire::PrInAction sa) {
        switch (sa) {
            case wire::PrInAction::read_keys:
                return 8192;
            case wire::PrInAction::read_reservation:
                return 8192;
            case wire::PrInAction::report_capabilities:
                return 8;
            case wire::PrInAction::read_full_status:
                return wire::kDefaultFullStatusAlloc;
        }
        return 8192;
    }

    // The command being built is meant for its path only: a registration, of a key or of key 0.
    void per_path(bool registers_key) {
        per_path_ = true;
        registering_key_ = registers_key;
    }
    bool any_dead() const {
        for (const auto& p : outcome_.paths)
            if (p.state == PathOutcome::State::dead) return true;
        return false;
    }

    PlanOptions opt_;
    unsigned path_ = 0;  // the path register_on (or ProutJob::issue) used last
    unsigned cur_ = 0;   // the path single-path commands go down (moves on when one dies)

  private:
    static constexpr uint8_t kPrOutOpcode = 0x5f;

    void mark_dead(unsigned p, const std::string& why) {
        if (p >= outcome_.paths.size()) return;
        outcome_.paths[p].state = PathOutcome::State::dead;
        outcome_.paths[p].error = why;
    }
    // The first path after `from` (wrapping) not known dead.
    std::optional<unsigned> next_live(unsigned from) const {
        const size_t n = outcome_.paths.size();
        for (size_t k = 1; k < n; ++k) {
            const unsigned p = static_cast<unsigned>((from + k) % n);
            if (outcome_.paths[p].state != PathOutcome::State::dead) return p;
        }
        return std::nullopt;
    }
    // The outcome as the paths left it: a LU that is ok with a dead path is degraded and says
    // which; a LU whose every path died (of several) says so.
    void finish(const LunTarget& lun) {
        auto& paths = outcome_.paths;
        std::string dead;
        size_t n_dead = 0, n_registered = 0;
        for (const auto& p : paths) {
            if (p.state == PathOutcome::State::registered) ++n_registered;
            if (p.state != PathOutcome::State::dead) continue;
            ++n_dead;
            dead += (dead.empty() ? "" : "; ") + p.name + " (" + p.error + ")";
        }
        if (lun.paths.size() > 1 && n_dead == paths.size() && !outcome_.ok) {
            outcome_.error = "every path is dead: " + dead;
        } else if (outcome_.ok && n_dead > 0) {
            outcome_.degraded = true;
            std::string note = n_registered ? "registered on " + std::to_string(n_registered) +
                                                  " of " + std::to_string(paths.size()) + " paths; "
                                            : std::string();
            note += "dead: " + dead;
            if (!n_registered)
                for (const auto& p : paths)
                    if (p.state == PathOutcome::State::answered) note += "; answered by " + p.name;
            outcome_.error = outcome_.error.empty() ? note : outcome_.error + "; " + note;
        }
        if (!outcome_.ok && !maybe_sent_.empty() &&
            outcome_.category == wire::Category::reservation_conflict)
            outcome_.error += "; the same command failed first on " + maybe_sent_ +
                              " and may have taken effect there";
    }

    std::optional<Command> pending_;      // the command in flight, as the plan asked for it
    bool per_path_ = false;               // pending_ is meant for its path only (a registration)
    bool registering_key_ = false;        // ... and registers a key (not key 0)
    std::optional<unsigned> first_done_;  // the first path a registration succeeded on
    unsigned next_ = 0;          // the path register_answer chose for the next registration
    std::vector<bool> covered_;  // paths a registration reached through another (same scope)
    std::string maybe_sent_;     // a PR OUT failed over after a failure that may have sent it

  protected:
    std::optional<PathFailure> last_pf_;  // the last answer's path failure, if it was one
};

class ReadJob final : public JobBase {
  public:
    ReadJob(wire::PrInAction sa, const PlanOptions& opt)
        : JobBase(opt), sa_(sa), alloc_(default_alloc(sa)) {}

    std::optional<Command> advance(const LunTarget&, const ScsiResponse* last) override {
        if (!last) return prin(cur_, sa_, alloc_);
        if (!record(*last, wire::prin_action_name(sa_))) return std::nullopt;
        bool parsed = false;
        uint16_t again = absorb_prin(sa_, *last, alloc_, &parsed);
        if (!parsed) return std::nullopt;
        if (again && !reissued_) {
            reissued_ = true;
            alloc_ = again;
            return prin(cur_, sa_, alloc_);
        }
        return succeed();
    }

  private:
    wire::PrInAction sa_;
    uint16_t alloc_;
    bool reissued_ = false;
};

bool is_register_action(wire::PrOutAction a) {
    return a == wire::PrOutAction::register_key || a == wire::PrOutAction::register_and_ignore;
}

class ProutJob final : public JobBase {
  public:
    ProutJob(const ProutSpec& spec, const PlanOptions& opt) : JobBase(opt), spec_(spec) {
        spec_.params.aptpl = spec_.params.aptpl || opt.aptpl;
    }

    std::optional<Command> advance(const LunTarget& lun, const ScsiResponse* last) override {
        const char* name = wire::prout_action_name(spec_.action);
        if (!last) {
            if (is_register_action(spec_.action) && opt_.all_tg_pt && !lun.paths.empty() &&
                !lun.paths[0]->registration_scope().empty()) {
                // Registrations shared by scope (NVMe hosts) have no ALL_TG_PT to fall back
                // from: the path is asked for it, and refuses it saying why, rather than the
                // option being dropped without a word.
                once_ = true;
                return issue(first_path(), lun);
            }
            if (is_register_action(spec_.action) && opt_.all_tg_pt && lun.paths.size() > 1) {
                phase_ = Phase::caps;
                return prin(cur_, wire::PrInAction::report_capabilities, 8);
            }
            return issue(first_path(), lun);
        }
        if (phase_ == Phase::caps) {
            // An LU that cannot do ALL_TG_PT gets the registration down every path instead.
            bool parsed = false;
            if (last->status == wire::sam::good)
                absorb_prin(wire::PrInAction::report_capabilities, *last, 8, &parsed);
            outcome_.ok = true;  // a failed capabilities query is not the outcome
            once_ = parsed && outcome_.caps && outcome_.caps->atp_c;
            phase_ = Phase::prout;
            return issue(first_path(), lun);
        }
        if (every_path()) {
            switch (register_answer(*last, lun, name)) {
                case Reg::more:
                    return issue(next_reg(), lun);
                case Reg::done:
                    // A dead nexus keeps whatever registration it had: unregistering did not
                    // reach it.
                    return succeed(spec_.params.sa_key == 0 && any_dead()
                                       ? "a dead path keeps its registration, if it had one"
                                       : std::string());
                case Reg::failed:
                    return std::nullopt;
            }
        }
        if (!record(*last, name)) {
            if (lun.paths.size() > 1) outcome_.error += " (path " + lun.paths[path_]->name() + ")";
            return std::nullopt;
        }
        return succeed();
    }

  private:
    enum class Phase { prout, caps };

    // REGISTER and REGISTER AND IGNORE EXISTING KEY go down every path (each its own nexus),
    // unless once with ALL_TG_PT; everything else down one.
    bool every_path() const { return is_register_action(spec_.action) && !once_; }
    unsigned first_path() const { return every_path() ? 0 : cur_; }

    std::optional<Command> issue(unsigned path, const LunTarget&) {
        path_ = path;
        if (every_path()) per_path(spec_.params.sa_key != 0);
        if (spec_.action == wire::PrOutAction::register_and_move) {
            auto pc = wire::build_register_and_move(spec_.type, spec_.move);
            if (!pc)
                return fail_with(wire::Category::syntax_error, "REGISTER AND MOVE", pc.error().msg);
            Command c;
            c.path = path;
            c.req.cdb = pc->cdb;
            c.req.data_out = std::move(pc->data);
            c.req.timeout_ms = opt_.timeout_ms;
            return c;
        }
        wire::ProutParams p = spec_.params;
        p.all_tg_pt = p.all_tg_pt || once_;
        auto c = prout(path, spec_.action, spec_.type, p);
        if (!c)
            return fail_with(wire::Category::syntax_error, wire::prout_action_name(spec_.action),
                             c.error().msg);
        return std::move(c).value();
    }

    ProutSpec spec_;
    Phase phase_ = Phase::prout;
    bool once_ = false;  // one registration with ALL_TG_PT covers every path
};

class FenceJob final : public JobBase {
  public:
    FenceJob(uint64_t key, uint64_t victim, wire::PrType type, const PlanOptions& opt, bool claim)
        : JobBase(opt), key_(key), victim_(victim), type_(type), claim_(claim) {}

    std::optional<Command> advance(const LunTarget& lun, const ScsiResponse* last) override {
        switch (phase_) {
            case Phase::start:
                if (claim_) {
                    phase_ = Phase::registering;
                    return register_on(0, key_);
                }
                return read_keys();
            case Phase::registering: {
                bool over = false;
                auto next = register_loop(*last, lun, key_, &over);
                if (!over) return next;
                return read_keys();
            }
            case Phase::keys: {
                if (!record(*last, "READ KEYS")) return std::nullopt;
                bool parsed = false;
                absorb_prin(wire::PrInAction::read_keys, *last, 8192, &parsed);
                if (!parsed) return std::nullopt;
                const auto& keys = outcome_.keys->keys;
                auto has = [&](uint64_t k) {
                    return std::find(keys.begin(), keys.end(), k) != keys.end();
                };
                if (!has(key_))
                    return fail_with(
                        wire::Category::reservation_conflict, "READ KEYS",
                        "our key " + hex_u64(key_) + " is not registered here: register it first");
                if (!has(victim_)) {
                    note_ = "victim " + hex_u64(victim_) + " was not registered (already fenced)";
                    phase_ = Phase::verify;
                    return prin(cur_, wire::PrInAction::read_reservation, 8192);
                }
                phase_ = Phase::preempt;
                return prout_or_fail(preempt_action(), type_, {.key = key_, .sa_key = victim_});
            }
            case Phase::preempt:
                if (!record(*last, opt_.abort ? "PREEMPT AND ABORT" : "PREEMPT"))
                    return std::nullopt;
                phase_ = Phase::verify;
                return prin(cur_, wire::PrInAction::read_reservation, 8192);
            case Phase::verify: {
                const wire::ReadReservation* res = reservation_answer(*last);
                if (!res) return std::nullopt;
                const auto& r = *res;
                if (r.reserved && r.key == victim_ && victim_ != 0)
                    return fail_with(wire::Category::reservation_conflict, "READ RESERVATION",
                                     "verification failed: " + hex_u64(victim_) +
                                         " still holds the reservation");
                if (!r.reserved && claim_) {
                    phase_ = Phase::reserve;
                    return prout_or_fail(wire::PrOutAction::reserve, type_, {.key = key_});
                }
                if (!r.reserved && note_.empty())
                    note_ = "no reservation is held (the victim's registration is gone)";
                return succeed(note_);
            }
            case Phase::reserve:
                // Another node may have reserved between our READ RESERVATION and RESERVE: its
                // reservation fences the victim as well as ours would (the victim is no longer
                // registered), so a conflict here is checked, not reported.
                if (last->status == wire::sam::reservation_conflict) {
                    phase_ = Phase::reread;
                    return prin(cur_, wire::PrInAction::read_reservation, 8192);
                }
                if (!record(*last, "RESERVE")) return std::nullopt;
                reserved_now(key_, type_);
                note_ = join_note(note_, "nobody held the LU: reserved it");
                if (auto c = nvme_read_back()) {
                    phase_ = Phase::read_back;
                    return c;
                }
                return succeed(note_);
            case Phase::read_back:
                return nvme_read_back_answer(*last, note_);
            case Phase::reread: {
                const wire::ReadReservation* res = reservation_answer(*last);
                if (!res) return std::nullopt;
                if (!res->reserved || (res->key == victim_ && victim_ != 0))
                    return fail_with(wire::Category::reservation_conflict, "RESERVE",
                                     "RESERVE was refused and the LU is " +
                                         (res->reserved ? "held by the victim"
                                                        : std::string("still not reserved")));
                return succeed(join_note(note_, "another node reserved it meanwhile"));
            }
        }
        return std::nullopt;
    }

  private:
    enum class Phase { start, registering, keys, preempt, verify, reserve, reread, read_back };
    std::optional<Command> read_keys() {
        phase_ = Phase::keys;
        return prin(cur_, wire::PrInAction::read_keys, 8192);
    }
    static std::string join_note(const std::string& a, const std::string& b) {
        return a.empty() ? b : a + "; " + b;
    }
    uint64_t key_, victim_;
    wire::PrType type_;
    bool claim_;
    Phase phase_ = Phase::start;
    std::string note_;
};

class UnfenceJob final : public JobBase {
  public:
    UnfenceJob(uint64_t key, wire::PrType type, const PlanOptions& opt)
        : JobBase(opt), key_(key), type_(type) {}

    std::optional<Command> advance(const LunTarget& lun, const ScsiResponse* last) override {
        switch (phase_) {
            case Phase::start:
                phase_ = Phase::registering;
                return register_on(0, key_);
            case Phase::registering: {
                bool over = false;
                auto next = register_loop(*last, lun, key_, &over);
                if (!over) return next;
                phase_ = Phase::read;
                return prin(cur_, wire::PrInAction::read_reservation, 8192);
            }
            case Phase::read:
            case Phase::reread: {
                const wire::ReadReservation* res = reservation_answer(*last);
                if (!res) return std::nullopt;
                if (res->reserved)
                    return succeed(phase_ == Phase::reread ? "another node reserved it meanwhile"
                                                           : std::string());
                if (phase_ == Phase::reread)
                    return fail_with(wire::Category::reservation_conflict, "RESERVE",
                                     "RESERVE was refused yet nobody holds the reservation");
                phase_ = Phase::reserve;
                return prout_or_fail(wire::PrOutAction::reserve, type_, {.key = key_});
            }
            case Phase::reserve:
                // Another node may have reserved between our READ RESERVATION and RESERVE: a
                // conflict then is that node's reservation, which unfencing accepts.
                if (last->status == wire::sam::reservation_conflict) {
                    phase_ = Phase::reread;
                    return prin(cur_, wire::PrInAction::read_reservation, 8192);
                }
                if (!record(*last, "RESERVE")) return std::nullopt;
                reserved_now(key_, type_);
                if (auto c = nvme_read_back()) {
                    phase_ = Phase::read_back;
                    return c;
                }
                return succeed("nobody held the LU: reserved it");
            case Phase::read_back:
                return nvme_read_back_answer(*last, "nobody held the LU: reserved it");
        }
        return std::nullopt;
    }

  private:
    enum class Phase { start, registering, read, reserve, reread, read_back };
    uint64_t key_;
    wire::PrType type_;
    Phase phase_ = Phase::start;
};

class VerifyJob final : public JobBase {
  public:
    VerifyJob(std::optional<uint64_t> key, std::optional<uint64_t> victim, const PlanOptions& opt)
        : JobBase(opt), key_(key), victim_(victim) {}

    std::optional<Command> advance(const LunTarget&, const ScsiResponse* last) override {
        if (!last) return prin(cur_, wire::PrInAction::read_keys, alloc_);
        if (!outcome_.keys) {
            if (!record(*last, "READ KEYS")) return std::nullopt;
            bool parsed = false;
            const uint16_t again = absorb_prin(wire::PrInAction::read_keys, *last, alloc_, &parsed);
            if (!parsed) return std::nullopt;
            if (again && alloc_ != again) {
                alloc_ = again;
                outcome_.keys.reset();
                return prin(cur_, wire::PrInAction::read_keys, alloc_);
            }
            const auto& keys = outcome_.keys->keys;
            auto has = [&](uint64_t k) {
                return std::find(keys.begin(), keys.end(), k) != keys.end();
            };
            if (victim_ && has(*victim_))
                return fail_with(wire::Category::reservation_conflict, "READ KEYS",
                                 "not fenced: " + hex_u64(*victim_) + " is still registered");
            if (key_ && !has(*key_))
                return fail_with(wire::Category::reservation_conflict, "READ KEYS",
                                 "our key " + hex_u64(*key_) + " is not registered");
            return prin(cur_, wire::PrInAction::read_reservation, 8192);
        }
        const wire::ReadReservation* res = reservation_answer(*last);
        if (!res) return std::nullopt;
        if (!res->reserved)
            return fail_with(wire::Category::reservation_conflict, "READ RESERVATION",
                             "no reservation is held: an unregistered node may still write");
        if (victim_ && *victim_ != 0 && res->key == *victim_)
            return fail_with(wire::Category::reservation_conflict, "READ RESERVATION",
                             "not fenced: " + hex_u64(*victim_) + " holds the reservation");
        return succeed("fenced");
    }

  private:
    std::optional<uint64_t> key_, victim_;
    uint16_t alloc_ = 8192;
};

class TakeoverJob final : public JobBase {
  public:
    TakeoverJob(uint64_t key, wire::PrType type, const PlanOptions& opt)
        : JobBase(opt), key_(key), type_(type) {}

    std::optional<Command> advance(const LunTarget& lun, const ScsiResponse* last) override {
        switch (phase_) {
            case Phase::start:
                phase_ = Phase::registering;
                return register_on(0, key_);
            case Phase::registering: {
                bool over = false;
                auto next = register_loop(*last, lun, key_, &over);
                if (!over) return next;
                phase_ = Phase::read;
                return prin(cur_, wire::PrInAction::read_reservation, 8192);
            }
            case Phase::read: {
                const wire::ReadReservation* res = reservation_answer(*last);
                if (!res) return std::nullopt;
                const auto& r = *res;
                if (r.reserved && r.key == key_ && r.type == static_cast<uint8_t>(type_)) {
                    phase_ = Phase::verify;  // already ours
                    return prin(cur_, wire::PrInAction::read_reservation, 8192);
                }
                phase_ = Phase::acquire;
                if (!r.reserved)
                    return prout_or_fail(wire::PrOutAction::reserve, type_, {.key = key_});
                // All-registrants reservations report key 0: preempting key 0 takes them over.
                return prout_or_fail(preempt_action(), type_, {.key = key_, .sa_key = r.key});
            }
            case Phase::acquire:
                if (!record(*last, "acquire")) return std::nullopt;
                phase_ = Phase::verify;
                return prin(cur_, wire::PrInAction::read_reservation, 8192);
            case Phase::verify: {
                const wire::ReadReservation* res = reservation_answer(*last);
                if (!res) return std::nullopt;
                const auto& r = *res;
                bool ours =
                    r.reserved &&
                    (r.key == key_ ||
                     (r.key == 0 && wire::is_all_registrants(static_cast<wire::PrType>(r.type))));
                if (!ours)
                    return fail_with(
                        wire::Category::reservation_conflict, "READ RESERVATION",
                        "verification failed: the reservation is " +
                            (r.reserved ? "held by " + hex_u64(r.key) : std::string("not held")));
                return succeed();
            }
        }
        return std::nullopt;
    }

  private:
    enum class Phase { start, registering, read, acquire, verify };
    uint64_t key_;
    wire::PrType type_;
    Phase phase_ = Phase::start;
};

}  // namespace

std::unique_ptr<LunJob> make_read_job(wire::PrInAction what, const PlanOptions& opt) {
    return std::make_unique<ReadJob>(what, opt);
}
std::unique_ptr<LunJob> make_prout_job(const ProutSpec& spec, const PlanOptions& opt) {
    return std::make_unique<ProutJob>(spec, opt);
}
class ProbeJob final : public JobBase {
  public:
    explicit ProbeJob(const PlanOptions& opt) : JobBase(opt) {}

    std::optional<Command> advance(const LunTarget&, const ScsiResponse* last) override {
        switch (phase_) {
            case Phase::start:
                phase_ = Phase::capacity;
                return io(wire::read_capacity10_cdb(), 8);
            case Phase::capacity: {
                if (!record(*last, "READ CAPACITY(10)")) return std::nullopt;
                // Block 0 is read whole, so the block length decides the buffer; an LU answering
                // something no disk has would make us allocate nonsense.
                const uint32_t block = last->data_in.size() >= 8 ? get_be32(last->data_in, 4) : 0;
                if (block < 512 || block > (1u << 20))
                    return fail_with(wire::Category::other, "READ CAPACITY(10)",
                                     "implausible logical block length " + std::to_string(block));
                phase_ = Phase::read;
                return io(wire::read10_cdb(0, 1), block);
            }
            case Phase::read:
                if (!record(*last, "READ(10)")) return std::nullopt;
                phase_ = Phase::write;
                return io(wire::synchronize_cache10_cdb(), 0);
            case Phase::write:
                if (!record(*last, "SYNCHRONIZE CACHE(10)")) {
                    if (outcome_.status == wire::sam::reservation_conflict)
                        outcome_.error += " (reads are allowed)";
                    return std::nullopt;
                }
                return succeed("read and write access");
        }
        return std::nullopt;
    }

  private:
    Command io(wire::Cdb cdb, uint32_t data_in) const {
        Command c;
        c.path = cur_;
        c.req.cdb = cdb;
        c.req.data_in_len = data_in;
        c.req.timeout_ms = opt_.timeout_ms;
        return c;
    }
    enum class Phase { start, capacity, read, write };
    Phase phase_ = Phase::start;
};

std::unique_ptr<LunJob> make_probe_job(const PlanOptions& opt) {
    return std::make_unique<ProbeJob>(opt);
}

std::unique_ptr<LunJob> make_fence_job(uint64_t key, uint64_t victim, wire::PrType type,
                                       const PlanOptions& opt, bool claim) {
    return std::make_unique<FenceJob>(key, victim, type, opt, claim);
}
std::unique_ptr<LunJob> make_unfence_job(uint64_t key, wire::PrType type, const PlanOptions& opt) {
    return std::make_unique<UnfenceJob>(key, type, opt);
}
std::unique_ptr<LunJob> make_verify_job(std::optional<uint64_t> key, std::optional<uint64_t> victim,
                                        const PlanOptions& opt) {
    return std::make_unique<VerifyJob>(key, victim, opt);
}
std::unique_ptr<LunJob> make_takeover_job(uint64_t key, wire::PrType type, const PlanOptions& opt) {
    return std::make_unique<TakeoverJob>(key, type, opt);
}

}  // namespace prfence::engine
