// SPDX-License-Identifier: MIT
// Shared by the prsim logical unit tests: hosts (I_T nexuses) that drive a LogicalUnit with real
// CDBs and parameter lists built by the wire codec, and a one-line summary of the whole PR state
// read back through PERSISTENT RESERVE IN, so a scenario can assert registrants, holder, type and
// generation after each step.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "interposer/lu/lu.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/prout.h"
#include "uring_engine/wire/sense.h"

namespace prfence::sim::test {

using wire::PrInAction;
using wire::PrOutAction;
using wire::PrType;
using wire::SenseKey;

inline constexpr PrType WE = PrType::write_exclusive;
inline constexpr PrType EA = PrType::exclusive_access;
inline constexpr PrType WE_RO = PrType::write_exclusive_registrants_only;
inline constexpr PrType EA_RO = PrType::exclusive_access_registrants_only;
inline constexpr PrType WE_AR = PrType::write_exclusive_all_registrants;
inline constexpr PrType EA_AR = PrType::exclusive_access_all_registrants;
inline constexpr PrType kAllTypes[] = {WE, EA, WE_RO, EA_RO, WE_AR, EA_AR};

inline wire::TransportId iscsi(const std::string& name, const std::string& isid = "") {
    wire::TransportId t;
    t.protocol = wire::ProtocolId::iscsi;
    t.iscsi_name = name;
    if (!isid.empty()) {
        t.format = 1;
        t.iscsi_isid = isid;
    }
    return t;
}

inline wire::TransportId sas(uint64_t address) {
    wire::TransportId t;
    t.protocol = wire::ProtocolId::sas;
    t.name = address;
    return t;
}

// Options of a basic PR OUT parameter list.
struct Out {
    uint64_t key = 0;
    uint64_t sa_key = 0;
    bool aptpl = false;
    bool all_tg_pt = false;
    std::vector<wire::TransportId> spec_i_pt;  // non-empty sets SPEC_I_PT
};

inline std::string describe(const CommandResult& r) {
    std::ostringstream o;
    o << wire::status_name(r.status);
    if (r.status == wire::sam::check_condition) {
        auto s = wire::decode_sense(r.sense);
        o << " [" << (s ? wire::describe_sense(*s) : std::string("undecodable sense")) << "]";
    }
    return o.str();
}

// One I_T nexus.
class Host {
  public:
    Host() = default;
    Host(LogicalUnit* lu, NexusIdentity who) : lu_(lu), who_(std::move(who)) {
        id_ = lu_->attach(who_);
    }

    NexusId id() const { return id_; }
    const NexusIdentity& who() const { return who_; }

    CommandResult cmd(const wire::Cdb& c, ByteView data = {}) {
        return lu_->execute(id_, c.bytes(), data);
    }
    CommandResult raw(const Bytes& cdb, const Bytes& data = {}) {
        return lu_->execute(id_, cdb, data);
    }

    CommandResult prout(PrOutAction sa, PrType type, const Out& o) {
        wire::ProutParams p;
        p.key = o.key;
        p.sa_key = o.sa_key;
        p.aptpl = o.aptpl;
        p.all_tg_pt = o.all_tg_pt;
        p.spec_i_pt = !o.spec_i_pt.empty();
        p.transport_ids = o.spec_i_pt;
        auto data = wire::encode_prout_params(p);
        EXPECT_TRUE(data.ok());
        auto cdb = wire::prout_cdb(sa, type, static_cast<uint32_t>(data->size()));
        return cmd(cdb, *data);
    }
    CommandResult reg(uint64_t key, uint64_t sa_key, Out o = {}) {
        o.key = key;
        o.sa_key = sa_key;
        return prout(PrOutAction::register_key, PrType::none, o);
    }
    CommandResult reg_ignore(uint64_t sa_key, Out o = {}) {
        o.sa_key = sa_key;
        return prout(PrOutAction::register_and_ignore, PrType::none, o);
    }
    CommandResult reserve(PrType t, uint64_t key) {
        return prout(PrOutAction::reserve, t, {.key = key});
    }
    CommandResult release(PrType t, uint64_t key) {
        return prout(PrOutAction::release, t, {.key = key});
    }
    CommandResult clear(uint64_t key) {
        return prout(PrOutAction::clear, PrType::none, {.key = key});
    }
    CommandResult preempt(PrType t, uint64_t key, uint64_t victim) {
        return prout(PrOutAction::preempt, t, {.key = key, .sa_key = victim});
    }
    CommandResult preempt_abort(PrType t, uint64_t key, uint64_t victim) {
        return prout(PrOutAction::preempt_and_abort, t, {.key = key, .sa_key = victim});
    }
    CommandResult replace_lost(PrType t, uint64_t new_key, Out o = {}) {
        o.sa_key = new_key;
        return prout(PrOutAction::replace_lost, t, o);
    }
    CommandResult move(uint64_t key, uint64_t sa_key, const wire::TransportId& to, uint16_t port,
                       bool unreg = false, PrType t = PrType::none) {
        wire::ProutMoveParams m;
        m.key = key;
        m.sa_key = sa_key;
        m.unreg = unreg;
        m.rel_tgt_port = port;
        m.transport_id = to;
        auto data = wire::encode_prout_move_params(m);
        EXPECT_TRUE(data.ok());
        return cmd(
            wire::prout_cdb(PrOutAction::register_and_move, t, static_cast<uint32_t>(data->size())),
            *data);
    }

    CommandResult prin(PrInAction sa, uint16_t alloc = 8192) {
        return cmd(wire::prin_cdb(sa, alloc));
    }
    wire::ReadKeys keys() {
        auto r = prin(PrInAction::read_keys);
        EXPECT_EQ(r.status, wire::sam::good) << describe(r);
        auto k = wire::parse_read_keys(r.data_in);
        return k ? *k : wire::ReadKeys{};
    }
    wire::ReadReservation reservation() {
        auto r = prin(PrInAction::read_reservation);
        EXPECT_EQ(r.status, wire::sam::good) << describe(r);
        auto k = wire::parse_read_reservation(r.data_in);
        return k ? *k : wire::ReadReservation{};
    }
    wire::FullStatus full_status() {
        auto r = prin(PrInAction::read_full_status);
        EXPECT_EQ(r.status, wire::sam::good) << describe(r);
        auto k = wire::parse_full_status(r.data_in);
        EXPECT_TRUE(k.ok()) << (k ? "" : k.error().msg);
        return k ? *k : wire::FullStatus{};
    }
    wire::Capabilities caps() {
        auto r = prin(PrInAction::report_capabilities);
        EXPECT_EQ(r.status, wire::sam::good) << describe(r);
        auto k = wire::parse_capabilities(r.data_in);
        return k ? *k : wire::Capabilities{};
    }

    CommandResult read10(uint32_t lba = 0, uint16_t n = 1) { return cmd(wire::read10_cdb(lba, n)); }
    CommandResult write10(uint32_t lba = 0, uint16_t n = 1, uint8_t fill = 0xa5) {
        Bytes data(size_t{n} * lu_->config().block_size, fill);
        return cmd(wire::write10_cdb(lba, n), data);
    }
    CommandResult tur() { return cmd(wire::test_unit_ready_cdb()); }

    // Drains pending unit attentions (TEST UNIT READY until GOOD); returns them as "asc/ascq"
    // strings.
    std::vector<std::string> drain_uas() {
        std::vector<std::string> out;
        for (int i = 0; i < 64; ++i) {
            auto r = tur();
            if (r.status == wire::sam::good) break;
            auto s = wire::decode_sense(r.sense);
            if (r.status != wire::sam::check_condition || !s ||
                s->key != SenseKey::unit_attention) {
                ADD_FAILURE() << "TEST UNIT READY answered " << describe(r);
                break;
            }
            char buf[16];
            std::snprintf(buf, sizeof buf, "%02X/%02X", s->asc, s->ascq);
            out.push_back(buf);
        }
        return out;
    }

  private:
    LogicalUnit* lu_ = nullptr;
    NexusIdentity who_;
    NexusId id_ = 0;
};

// Assertions on one CommandResult.
inline ::testing::AssertionResult is_good(const CommandResult& r) {
    if (r.status == wire::sam::good) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected GOOD, got " << describe(r);
}
inline ::testing::AssertionResult is_conflict(const CommandResult& r) {
    if (r.status == wire::sam::reservation_conflict && r.sense.empty())
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected RESERVATION CONFLICT, got " << describe(r);
}
inline ::testing::AssertionResult is_check(const CommandResult& r, SenseKey key, uint8_t asc,
                                           uint8_t ascq) {
    auto s = wire::decode_sense(r.sense);
    if (r.status == wire::sam::check_condition && s && s->key == key && s->asc == asc &&
        s->ascq == ascq)
        return ::testing::AssertionSuccess();
    char buf[96];
    std::snprintf(buf, sizeof buf, "expected CHECK CONDITION %s %02Xh/%02Xh, got ",
                  wire::sense_key_name(key), asc, ascq);
    return ::testing::AssertionFailure() << buf << describe(r);
}
// ILLEGAL REQUEST with SKSV and a field pointer: cd (CDB or parameter list), byte, and optionally
// bit.
inline ::testing::AssertionResult is_illegal(const CommandResult& r, uint8_t asc, bool cd,
                                             uint16_t byte,
                                             std::optional<uint8_t> bit = std::nullopt) {
    auto base = is_check(r, SenseKey::illegal_request, asc, 0);
    if (!base) return base;
    auto s = wire::decode_sense(r.sense);
    if (!s->field_pointer)
        return ::testing::AssertionFailure() << "no field pointer in " << describe(r);
    const auto& fp = *s->field_pointer;
    if (fp.cd != cd || fp.byte != byte || fp.bpv != bit.has_value() || (bit && fp.bit != *bit))
        return ::testing::AssertionFailure()
               << "field pointer " << (fp.cd ? "CDB" : "parameter list") << " byte " << fp.byte
               << (fp.bpv ? " bit " + std::to_string(fp.bit) : "") << ", expected "
               << (cd ? "CDB" : "parameter list") << " byte " << byte
               << (bit ? " bit " + std::to_string(*bit) : "");
    return ::testing::AssertionSuccess();
}

// A fresh directory under the system temp directory, removed with everything in it at scope exit.
class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "prsim_test_XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

// Names TransportIDs for summaries.
class Names {
  public:
    void add(const wire::TransportId& t, const std::string& name) { names_.push_back({t, name}); }
    std::string of(const wire::TransportId& t) const {
        for (const auto& [k, v] : names_)
            if (wire::same_initiator(k, t)) return v;
        return wire::format_transport_id(t);
    }

  private:
    std::vector<std::pair<wire::TransportId, std::string>> names_;
};

inline std::string hexkey(uint64_t k) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(k));
    return buf;
}

// "gen=2 res=EA holder=A:1 regs=A:1=abc123,B:1=123abc" read through `observer` with READ KEYS, READ
// RESERVATION and READ FULL STATUS; inconsistencies between the three are test failures. ALL_TG_PT
// descriptors show the port as '*'; an all-registrants reservation shows holder=all.
inline std::string pr_summary(Host& observer, const Names& names, uint16_t target_ports) {
    auto keys = observer.keys();
    auto res = observer.reservation();
    auto full = observer.full_status();
    EXPECT_EQ(keys.generation, res.generation);
    EXPECT_EQ(keys.generation, full.generation);
    std::vector<uint64_t> expanded;
    std::ostringstream regs;
    std::string holder;
    int holders = 0;
    for (size_t i = 0; i < full.entries.size(); ++i) {
        const auto& e = full.entries[i];
        const std::string who =
            names.of(e.transport_id) + ":" + (e.all_tg_pt ? "*" : std::to_string(e.rel_tgt_port));
        regs << (i ? "," : "") << who << "=" << hexkey(e.key);
        for (int n = 0; n < (e.all_tg_pt ? target_ports : 1); ++n) expanded.push_back(e.key);
        if (e.holder) {
            ++holders;
            holder = who;
            EXPECT_TRUE(res.reserved) << "R_HOLDER set without a reservation";
            EXPECT_EQ(e.type, res.type);
        }
    }
    auto sorted_keys = keys.keys;
    std::sort(sorted_keys.begin(), sorted_keys.end());
    std::sort(expanded.begin(), expanded.end());
    EXPECT_EQ(sorted_keys, expanded) << "READ KEYS and READ FULL STATUS disagree";
    std::ostringstream o;
    o << "gen=" << keys.generation << " res=";
    if (!res.reserved) {
        o << "none";
        EXPECT_EQ(holders, 0);
    } else {
        o << wire::type_abbrev(res.type);
        const bool all_reg = wire::is_all_registrants(static_cast<PrType>(res.type));
        if (all_reg) {
            EXPECT_EQ(res.key, 0u) << "all-registrants READ RESERVATION key must be 0";
            EXPECT_EQ(static_cast<size_t>(holders), full.entries.size());
            o << " holder=all";
        } else {
            EXPECT_EQ(holders, 1) << "exactly one holder descriptor expected";
            o << " holder=" << holder;
            for (const auto& e : full.entries)
                if (e.holder) {
                    EXPECT_EQ(e.key, res.key) << "READ RESERVATION key is not the holder's";
                }
        }
    }
    o << " regs=" << regs.str();
    return o.str();
}

}  // namespace prfence::sim::test
