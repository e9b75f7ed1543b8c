// SPDX-License-Identifier: MIT
// Random persistent-reservation sequences from three I_T nexuses (seeded and reproducible: a
// failure prints its seed and step; PRSIM_PROPERTY_SEED=<n> reruns one seed), thousands of steps,
// with invariants checked after every step through PERSISTENT RESERVE IN by an observer that never
// registers:
//   - the holder is registered (unless all-registrants, or no reservation); exactly one holder
//   descriptor
//     for the other types; READ RESERVATION reports its key (zero for all-registrants);
//   - an all-registrants reservation disappears with its last registrant (no registrations ->
//   none);
//   - PRgeneration never decreases and changes by exactly one on a successful REGISTER, REGISTER
//   AND
//     IGNORE EXISTING KEY, REGISTER AND MOVE, CLEAR, PREEMPT or PREEMPT AND ABORT, and not at all
//     on RESERVE, RELEASE, failures, or REGISTER with key 0 from an unregistered nexus (REPLACE
//     LOST RESERVATION sets it to zero);
//   - READ KEYS lists each registered I_T nexus once, and READ FULL STATUS agrees with READ KEYS
//   and READ
//     RESERVATION.
// A second run drives PrState directly and checks its internal invariants after each command.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <random>
#include <set>

#include "interposer/lu/pr_state.h"
#include "tests/support/lu_test_util.h"

namespace prfence::sim::test {
namespace {

const wire::TransportId kIds[] = {
    iscsi("iqn.2001-05.com.example:node-a", "23d000001"), sas(0x5000c50005b32001),
    iscsi("iqn.2001-05.com.example:node-a", "23d000002"),  // same node, another port (ISID)
};
const uint16_t kPorts[] = {1, 2, 2};
const wire::TransportId kObserver = sas(0x5000c500deadbeef);
constexpr uint64_t kKeys[] = {0, 1, 2, 3, 0x10};

struct Observed {
    bool ok = false;
    uint32_t generation = 0;
    std::vector<uint64_t> keys;
    wire::ReadReservation res;
    wire::FullStatus full;
};

std::vector<uint64_t> seeds() {
    if (const char* s = std::getenv("PRSIM_PROPERTY_SEED")) return {std::strtoull(s, nullptr, 0)};
    std::vector<uint64_t> v;
    for (uint64_t i = 1; i <= 24; ++i) v.push_back(0x5eed0000 + i);
    return v;
}

class Runner {
  public:
    explicit Runner(uint64_t seed) : rng_(seed) {
        LuConfig c;
        c.target_ports = 2;
        lu_ = std::move(LogicalUnit::create(c)).value();
        for (int i = 0; i < 3; ++i) {
            hosts_[i] = Host(lu_.get(), {kIds[i], kPorts[i]});
            hosts_[i].drain_uas();
        }
        obs_ = Host(lu_.get(), {kObserver, 1});
        obs_.drain_uas();
    }

    Observed observe() {
        Observed o;
        auto k = obs_.prin(PrInAction::read_keys);
        auto r = obs_.prin(PrInAction::read_reservation);
        auto f = obs_.prin(PrInAction::read_full_status, 65535);
        if (k.status != wire::sam::good || r.status != wire::sam::good ||
            f.status != wire::sam::good)
            return o;
        auto pk = wire::parse_read_keys(k.data_in);
        auto pr = wire::parse_read_reservation(r.data_in);
        auto pf = wire::parse_full_status(f.data_in);
        EXPECT_TRUE(pk.ok() && pr.ok() && pf.ok());
        if (!pk || !pr || !pf) return o;
        o.ok = true;
        o.generation = pk->generation;
        o.keys = pk->keys;
        o.res = *pr;
        o.full = *pf;
        return o;
    }

    // The invariants that hold after every step.
    void check(const Observed& o) {
        ASSERT_TRUE(o.ok);
        EXPECT_EQ(o.res.generation, o.generation);
        EXPECT_EQ(o.full.generation, o.generation);
        std::vector<uint64_t> expanded;
        std::set<std::pair<std::string, uint16_t>> nexuses;
        int holders = 0;
        for (const auto& e : o.full.entries) {
            EXPECT_NE(e.key, 0u);
            const std::string tid = wire::format_transport_id(e.transport_id);
            if (e.all_tg_pt) {
                for (uint16_t p = 1; p <= 2; ++p) {
                    expanded.push_back(e.key);
                    EXPECT_TRUE(nexuses.insert({tid, p}).second)
                        << "I_T nexus reported twice: " << tid;
                }
            } else {
                expanded.push_back(e.key);
                EXPECT_TRUE(nexuses.insert({tid, e.rel_tgt_port}).second)
                    << "I_T nexus reported twice: " << tid;
            }
            if (e.holder) {
                ++holders;
                EXPECT_TRUE(o.res.reserved);
                EXPECT_EQ(e.type, o.res.type);
            } else {
                EXPECT_EQ(e.type, 0);
            }
        }
        auto keys = o.keys;
        std::sort(keys.begin(), keys.end());
        std::sort(expanded.begin(), expanded.end());
        EXPECT_EQ(keys, expanded) << "READ KEYS and READ FULL STATUS disagree";
        if (o.keys.empty()) {
            EXPECT_FALSE(o.res.reserved) << "reservation without registrations";
        }
        if (o.res.reserved) {
            ASSERT_TRUE(wire::is_valid_type(o.res.type));
            if (wire::is_all_registrants(static_cast<PrType>(o.res.type))) {
                EXPECT_EQ(o.res.key, 0u);
                EXPECT_EQ(static_cast<size_t>(holders), o.full.entries.size())
                    << "every registrant holds";
            } else {
                EXPECT_EQ(holders, 1) << "holder must be registered, exactly once";
                for (const auto& e : o.full.entries) {
                    if (e.holder) {
                        EXPECT_EQ(e.key, o.res.key);
                    }
                }
            }
        } else {
            EXPECT_EQ(holders, 0);
        }
    }

    uint64_t pick_key(int h, const Observed& o) {
        // Mostly the nexus' current key (so commands succeed), otherwise any key from the pool.
        if (rng_() % 4 != 0) {
            for (const auto& e : o.full.entries)
                if (wire::same_initiator(e.transport_id, kIds[h]) &&
                    (e.all_tg_pt || e.rel_tgt_port == kPorts[h]))
                    return e.key;
        }
        return kKeys[rng_() % std::size(kKeys)];
    }
    PrType pick_type(const Observed& o) {
        if (o.res.reserved && rng_() % 2) return static_cast<PrType>(o.res.type);
        if (rng_() % 20 == 0) return static_cast<PrType>(2);  // invalid
        return kAllTypes[rng_() % std::size(kAllTypes)];
    }

    // Runs one command, retrying while a unit attention answers it.
    CommandResult run(int h, const std::function<CommandResult(Host&)>& f) {
        for (int i = 0; i < 16; ++i) {
            auto r = f(hosts_[h]);
            auto s = wire::decode_sense(r.sense);
            if (r.status == wire::sam::check_condition && s && s->key == SenseKey::unit_attention)
                continue;
            return r;
        }
        ADD_FAILURE() << "unit attentions never end";
        return {};
    }

    void step(int n) {
        const Observed before = observe();
        if (!lost_) check(before);
        const int h = static_cast<int>(rng_() % 3);
        const int other = static_cast<int>((h + 1 + rng_() % 2) % 3);
        const uint64_t key = pick_key(h, before);
        const uint64_t sa_key = kKeys[rng_() % std::size(kKeys)];
        const PrType type = pick_type(before);
        bool was_registered = false;
        for (const auto& e : before.full.entries)
            if (wire::same_initiator(e.transport_id, kIds[h]) &&
                (e.all_tg_pt || e.rel_tgt_port == kPorts[h]))
                was_registered = true;

        enum Kind { gen_bump, reg, none, replace };
        Kind kind = none;
        CommandResult r;
        const unsigned op = lost_ ? (rng_() % 3 ? 11 : 10) : static_cast<unsigned>(rng_() % 13);
        switch (op) {
            case 0:
            case 1: {
                Out o{.all_tg_pt = rng_() % 8 == 0};
                if (!was_registered && rng_() % 6 == 0) o.spec_i_pt = {kIds[other]};
                r = run(h, [&](Host& x) {
                    return x.reg(was_registered ? key : (rng_() % 5 ? 0 : key), sa_key, o);
                });
                kind = reg;
                break;
            }
            case 2:
                r = run(h, [&](Host& x) {
                    return x.reg_ignore(sa_key, {.all_tg_pt = rng_() % 8 == 0});
                });
                kind = reg;
                break;
            case 3:
                r = run(h, [&](Host& x) { return x.reserve(type, key); });
                break;
            case 4:
                r = run(h, [&](Host& x) { return x.release(type, key); });
                break;
            case 5:
                if (rng_() % 4 == 0) {
                    r = run(h, [&](Host& x) { return x.clear(key); });
                    kind = gen_bump;
                } else {
                    r = run(h, [&](Host& x) { return x.read10(); });
                }
                break;
            case 6: {
                const uint64_t victim = rng_() % 3 ? pick_key(other, before) : sa_key;
                r = run(h, [&](Host& x) { return x.preempt(type, key, victim); });
                kind = gen_bump;
                break;
            }
            case 7: {
                const uint64_t victim = rng_() % 3 ? pick_key(other, before) : sa_key;
                r = run(h, [&](Host& x) { return x.preempt_abort(type, key, victim); });
                kind = gen_bump;
                for (NexusId id : r.aborted_nexuses) EXPECT_LT(id, 4u);
                break;
            }
            case 8: {
                const uint16_t port = kPorts[other];
                r = run(h, [&](Host& x) {
                    return x.move(key, sa_key, kIds[other], port, rng_() % 3 == 0);
                });
                kind = gen_bump;
                break;
            }
            case 9:
                r = run(h, [&](Host& x) { return rng_() % 2 ? x.write10() : x.read10(); });
                break;
            case 10:
                r = run(h, [&](Host& x) { return x.replace_lost(type, sa_key); });
                kind = replace;
                break;
            case 11:
                r = run(h, [&](Host& x) { return x.prin(static_cast<PrInAction>(rng_() % 4)); });
                break;
            case 12:
                if (rng_() % 10 == 0) {
                    lu_->lose_persistent_reservations();
                    lost_ = true;
                    return;
                }
                r = run(h, [&](Host& x) { return x.tur(); });
                break;
        }
        ASSERT_TRUE(r.status == wire::sam::good || r.status == wire::sam::check_condition ||
                    r.status == wire::sam::reservation_conflict);
        if (lost_) {
            if (kind == replace && r.status == wire::sam::good) {
                lost_ = false;
                const Observed after = observe();
                check(after);
                EXPECT_EQ(after.generation, 0u)
                    << "REPLACE LOST RESERVATION sets PRgeneration to zero";
            } else if (op != 11 || r.status != wire::sam::good) {
                EXPECT_TRUE(is_check(r, SenseKey::data_protect, 0x44, 0x01) || kind == replace)
                    << describe(r);
            }
            return;
        }
        const Observed after = observe();
        check(after);
        uint32_t expected = before.generation;
        if (r.status == wire::sam::good) {
            if (kind == gen_bump) ++expected;
            if (kind == reg) {
                // REGISTER with SA key 0 from an unregistered nexus does nothing -- unless
                // ALL_TG_PT made it act on the same initiator's registrations through the other
                // target port.
                const bool noop = !was_registered && sa_key == 0 && after.keys == before.keys;
                if (!noop) ++expected;
            }
        }
        EXPECT_EQ(after.generation, expected)
            << "after op " << op << ": " << describe(r) << " (step " << n << ")";
        ++steps_checked_;
    }

    int steps_checked() const { return steps_checked_; }

  private:
    std::mt19937_64 rng_;
    std::unique_ptr<LogicalUnit> lu_;
    Host hosts_[3];
    Host obs_;
    bool lost_ = false;
    int steps_checked_ = 0;
};

TEST(PrProperties, RandomSequencesKeepTheInvariants) {
    int total = 0;
    for (uint64_t seed : seeds()) {
        Runner run(seed);
        for (int n = 0; n < 1500; ++n) {
            SCOPED_TRACE("seed=" + std::to_string(seed) + " step=" + std::to_string(n) +
                         " (rerun with PRSIM_PROPERTY_SEED=" + std::to_string(seed) + ")");
            run.step(n);
            if (::testing::Test::HasFailure()) return;
        }
        total += run.steps_checked();
    }
    EXPECT_GT(total, 10000);
}

// The state machine alone: random commands (including malformed ones) from three nexuses on two
// ports, PrState::check_invariants after each, and unit attentions never addressed to the sender's
// registration.
TEST(PrProperties, StateMachineInternalInvariants) {
    for (uint64_t seed : seeds()) {
        std::mt19937_64 rng(seed);
        PrState s({.target_ports = 2,
                   .profile = seed % 2 ? Profile::lio : Profile::spc4,
                   .aptpl_capable = true});
        const NexusIdentity who[] = {{kIds[0], 1}, {kIds[1], 2}, {kIds[2], 2}};
        for (int n = 0; n < 3000; ++n) {
            SCOPED_TRACE("seed=" + std::to_string(seed) + " step=" + std::to_string(n));
            const auto& w = who[rng() % 3];
            if (rng() % 200 == 0) s.lose();
            wire::ProutParams p;
            p.key = kKeys[rng() % std::size(kKeys)];
            if (const PrRegistration* me = s.find(w); me && rng() % 4) p.key = me->key;
            p.sa_key = kKeys[rng() % std::size(kKeys)];
            p.all_tg_pt = rng() % 6 == 0;
            p.aptpl = rng() % 5 == 0;
            if (rng() % 8 == 0) {
                p.spec_i_pt = true;
                p.transport_ids = {kIds[rng() % 3]};
            }
            Bytes data;
            const auto sa = static_cast<uint8_t>(rng() % 10);
            if (sa == 7) {
                data = *wire::encode_prout_move_params(
                    {.key = p.key,
                     .sa_key = p.sa_key,
                     .unreg = rng() % 2 == 0,
                     .rel_tgt_port = static_cast<uint16_t>(rng() % 3),
                     .transport_id = kIds[rng() % 3]});
            } else {
                data = *wire::encode_prout_params(p);
            }
            if (rng() % 30 == 0) data.resize(rng() % data.size());
            Bytes cdb(10, 0);
            cdb[0] = 0x5f;
            cdb[1] = sa;
            cdb[2] = static_cast<uint8_t>(rng() % 16 == 0 ? rng() : rng() % 9);
            put_be32(cdb, 5, static_cast<uint32_t>(data.size()));
            const uint32_t gen_before = s.generation();
            const auto r = s.persistent_reserve_out(w, cdb, data);
            ASSERT_EQ(s.check_invariants(), "");
            if (r.status != wire::sam::good) {
                EXPECT_EQ(s.generation(), gen_before) << "a failed command changed PRgeneration";
                EXPECT_TRUE(r.unit_attentions.empty());
            }
            if (const PrRegistration* me = s.find(w)) {
                for (const auto& ua : r.unit_attentions) {
                    EXPECT_FALSE(ua.port == me->port && ua.initiator == me->initiator)
                        << "UA to the sender";
                }
            }
            Bytes in = {0x5e, static_cast<uint8_t>(rng() % 5), 0, 0, 0, 0, 0, 0x10, 0x00, 0};
            const auto q = s.persistent_reserve_in(w, in);
            ASSERT_TRUE(q.status == wire::sam::good || q.status == wire::sam::check_condition);
        }
    }
}

}  // namespace
}  // namespace prfence::sim::test
