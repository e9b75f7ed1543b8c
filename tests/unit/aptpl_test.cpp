// SPDX-License-Identifier: MIT
// APTPL: the state file's format and crash-safe store, and a logical unit's registrations and
// reservation surviving a power cycle (destroy and re-create from the same file). A damaged file is
// always an Error.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "interposer/lu/aptpl_store.h"
#include "tests/support/lu_test_util.h"

namespace prfence::sim::test {
namespace {

const wire::TransportId kA = iscsi("iqn.2001-05.com.example:node-a", "23d000001");
const wire::TransportId kB = sas(0x5000c50005b32001);
const wire::TransportId kO = sas(0x5000c500deadbeef);

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_file(const std::filesystem::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << s;
}

PersistedPr sample() {
    PersistedPr s;
    s.registrations.push_back({kA, 1, 0xabc123, false});
    s.registrations.push_back({kB, 2, 0x123abc, true});
    s.type = PrType::exclusive_access;
    s.holder = 1;
    return s;
}

TEST(AptplFormat, Crc32KnownAnswer) {
    EXPECT_EQ(crc32_ieee("123456789"), 0xCBF43926u);
    EXPECT_EQ(crc32_ieee(""), 0u);
}

TEST(AptplFormat, EncodesReadableVersionedTextWithChecksum) {
    auto text = encode_aptpl(sample());
    ASSERT_TRUE(text.ok());
    const std::string expected_body =
        "prsim-aptpl 1\n"
        "registrations 2\n"
        "reg 0000000000abc123 1 0 "
        "4500003069716e2e323030312d30352e636f6d2e6578616d706c653a6e6f64652d612c692c3078323364303030"
        "30303100000000\n"
        "reg 0000000000123abc 2 1 060000005000c50005b32001000000000000000000000000\n"
        "reservation 3 1\n";
    ASSERT_EQ(text->substr(0, expected_body.size()), expected_body);
    char crc[32];
    std::snprintf(crc, sizeof crc, "crc32 %08x\n", crc32_ieee(expected_body));
    EXPECT_EQ(text->substr(expected_body.size()), crc);
}

TEST(AptplFormat, RoundTrips) {
    std::vector<PersistedPr> cases;
    cases.push_back({});
    cases.push_back(sample());
    PersistedPr ar;
    ar.registrations.push_back({kO, 1, 7, false});
    ar.type = PrType::write_exclusive_all_registrants;
    cases.push_back(ar);
    for (const auto& c : cases) {
        auto text = encode_aptpl(c);
        ASSERT_TRUE(text.ok());
        auto back = decode_aptpl(*text, "x");
        ASSERT_TRUE(back.ok()) << back.error().msg;
        EXPECT_EQ(*back, c);
    }
}

TEST(AptplFormat, EveryTruncationAndEveryFlippedByteIsAnError) {
    const std::string text = *encode_aptpl(sample());
    for (size_t n = 0; n < text.size(); ++n) {
        auto r = decode_aptpl(text.substr(0, n), "f");
        EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes decoded";
    }
    for (size_t i = 0; i < text.size(); ++i) {
        for (uint8_t mask : {0x01, 0x20, 0x80}) {
            std::string t = text;
            t[i] = static_cast<char>(t[i] ^ mask);
            auto r = decode_aptpl(t, "f");
            EXPECT_FALSE(r.ok()) << "byte " << i << " ^ " << int(mask) << " decoded";
        }
    }
}

TEST(AptplFormat, NamesTheProblem) {
    const std::string text = *encode_aptpl(sample());
    auto expect_error = [](const std::string& t, const std::string& what) {
        auto r = decode_aptpl(t, "/var/lib/prsim/lu0.aptpl");
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().msg.find("/var/lib/prsim/lu0.aptpl"), std::string::npos)
            << r.error().msg;
        EXPECT_NE(r.error().msg.find(what), std::string::npos) << r.error().msg;
    };
    expect_error("", "empty");
    expect_error(text.substr(0, text.size() - 1), "line end");
    expect_error(text.substr(0, text.find("crc32")), "crc32");
    std::string v2 = text;
    v2.replace(v2.find(" 1\n"), 3, " 2\n");
    expect_error(v2, "unsupported version 2");
    expect_error("hello world\n", "not a prsim APTPL file");
    expect_error(std::string("\x00\xff\x10garbage", 10) + "\n", "not a prsim APTPL file");
    std::string key = text;
    key[key.find("abc123")] = 'f';
    expect_error(key, "checksum mismatch");
    // Well-formed and correctly checksummed, but inconsistent: still an error.
    auto reseal = [](std::string body) {
        char crc[32];
        std::snprintf(crc, sizeof crc, "crc32 %08x\n", crc32_ieee(body));
        return body + crc;
    };
    expect_error(reseal("prsim-aptpl 1\nregistrations 2\nreservation none\n"), "registrations");
    expect_error(reseal("prsim-aptpl 1\nregistrations 0\nreservation 3 0\n"), "holder");
    expect_error(reseal("prsim-aptpl 1\nregistrations 0\nreservation 7 -\n"),
                 "without registrations");
    expect_error(reseal("prsim-aptpl 1\nregistrations 0\nreservation 2 -\n"), "type");
    expect_error(reseal("prsim-aptpl 1\nregistrations 1\nreg 0000000000000000 1 0 "
                        "060000005000c50005b32001000000000000000000000000\nreservation none\n"),
                 "key is zero");
    expect_error(
        reseal("prsim-aptpl 1\nregistrations 1\nreg 0000000000000001 1 0 0600\nreservation none\n"),
        "TransportID");
}

TEST(AptplStoreTest, SaveLoadRemoveCrashSafely) {
    TempDir dir;
    AptplStore store(dir / "lu.aptpl");
    auto none = store.load();
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE(store.save(sample()).ok());
    auto back = store.load();
    ASSERT_TRUE(back.ok());
    ASSERT_TRUE(back->has_value());
    EXPECT_EQ(**back, sample());
    EXPECT_FALSE(std::filesystem::exists(dir / "lu.aptpl.tmp"));  // renamed into place
    ASSERT_TRUE(store.remove().ok());
    EXPECT_FALSE(std::filesystem::exists(dir / "lu.aptpl"));
    EXPECT_TRUE(store.remove().ok());  // absent is fine
    AptplStore nowhere(dir / "no" / "such" / "dir" / "lu.aptpl");
    auto failed = nowhere.save(sample());
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.error().msg.find("lu.aptpl.tmp"), std::string::npos);
}

class AptplLu : public ::testing::Test {
  protected:
    void power_on(Profile profile = Profile::spc4) {
        lu.reset();
        LuConfig c;
        c.aptpl_file = file;
        c.profile = profile;
        auto r = LogicalUnit::create(c);
        ASSERT_TRUE(r.ok()) << r.error().msg;
        lu = std::move(r).value();
        A = Host(lu.get(), {kA, 1});
        B = Host(lu.get(), {kB, 2});
        O = Host(lu.get(), {kO, 2});
        for (Host* h : {&A, &B, &O}) h->drain_uas();
        names = Names{};
        names.add(kA, "A");
        names.add(kB, "B");
        names.add(kO, "O");
    }
    std::string state() { return pr_summary(O, names, 2); }

    TempDir dir;
    std::filesystem::path file = dir / "lu0.aptpl";
    std::unique_ptr<LogicalUnit> lu;
    Host A, B, O;
    Names names;
};

TEST_F(AptplLu, RegistrationsAndReservationSurvivePowerCycle) {
    power_on();
    EXPECT_TRUE(O.caps().ptpl_c);
    EXPECT_FALSE(O.caps().ptpl_a);
    ASSERT_TRUE(is_good(A.reg(0, 0xa, {.aptpl = true})));
    EXPECT_TRUE(std::filesystem::exists(file));
    ASSERT_TRUE(is_good(B.reg(0, 0xb, {.aptpl = true, .all_tg_pt = true})));
    ASSERT_TRUE(is_good(A.reserve(EA_RO, 0xa)));
    EXPECT_TRUE(O.caps().ptpl_a);
    const std::string before = "gen=2 res=EA-RO holder=A:1 regs=A:1=a,B:*=b";
    EXPECT_EQ(state(), before);
    power_on();
    EXPECT_EQ(state(), "gen=0 res=EA-RO holder=A:1 regs=A:1=a,B:*=b");
    EXPECT_TRUE(O.caps().ptpl_a);
    EXPECT_TRUE(is_conflict(O.read10()));
    EXPECT_TRUE(is_good(B.write10()));
    // Every change is written while APTPL is active: PREEMPT to an all-registrants type.
    ASSERT_TRUE(is_good(B.preempt(WE_AR, 0xb, 0xa)));
    power_on();
    EXPECT_EQ(state(), "gen=0 res=WE-AR holder=all regs=B:*=b");
    // RELEASE too.
    ASSERT_TRUE(is_good(B.release(WE_AR, 0xb)));
    power_on();
    EXPECT_EQ(state(), "gen=0 res=none regs=B:*=b");
}

TEST_F(AptplLu, AptplOffRemovesTheFile) {
    power_on();
    ASSERT_TRUE(is_good(A.reg(0, 0xa, {.aptpl = true})));
    ASSERT_TRUE(std::filesystem::exists(file));
    ASSERT_TRUE(is_good(B.reg_ignore(0xb, {.aptpl = false})));  // the most recent APTPL bit decides
    EXPECT_FALSE(std::filesystem::exists(file));
    EXPECT_FALSE(O.caps().ptpl_a);
    ASSERT_TRUE(is_good(A.reserve(WE, 0xa)));  // no file writes while off
    EXPECT_FALSE(std::filesystem::exists(file));
    power_on();
    EXPECT_EQ(state(), "gen=0 res=none regs=");
    // CLEAR while active leaves an (empty) persisted state.
    ASSERT_TRUE(is_good(A.reg(0, 0xa, {.aptpl = true})));
    ASSERT_TRUE(is_good(A.clear(0xa)));
    power_on();
    EXPECT_EQ(state(), "gen=0 res=none regs=");
    EXPECT_TRUE(O.caps().ptpl_a);
}

TEST_F(AptplLu, RegisterAndMoveAndReplaceLostCarryAptpl) {
    power_on();
    ASSERT_TRUE(is_good(A.reg(0, 0xa)));
    ASSERT_TRUE(is_good(A.reserve(WE, 0xa)));
    ASSERT_TRUE(is_good(A.move(0xa, 0xb, kB, 1)));  // APTPL 0: nothing written
    EXPECT_FALSE(std::filesystem::exists(file));
    wire::ProutMoveParams m{
        .key = 0xb, .sa_key = 0xd, .aptpl = true, .rel_tgt_port = 2, .transport_id = kO};
    Host B1(lu.get(), {kB, 1});
    B1.drain_uas();
    auto data = *wire::encode_prout_move_params(m);
    ASSERT_TRUE(is_good(B1.cmd(wire::prout_cdb(PrOutAction::register_and_move, PrType::none,
                                               static_cast<uint32_t>(data.size())),
                               data)));
    EXPECT_TRUE(std::filesystem::exists(file));
    power_on();
    EXPECT_EQ(state(), "gen=0 res=WE holder=O:2 regs=A:1=a,B:1=b,O:2=d");
    lu->lose_persistent_reservations();
    ASSERT_TRUE(is_good(A.replace_lost(EA, 0xe, {.aptpl = true})));
    power_on();
    EXPECT_EQ(state(), "gen=0 res=EA holder=A:1 regs=A:1=e");
}

TEST_F(AptplLu, DamagedFileIsAnErrorAtCreate) {
    power_on();
    ASSERT_TRUE(is_good(A.reg(0, 0xa, {.aptpl = true})));
    ASSERT_TRUE(is_good(B.reg(0, 0xb, {.aptpl = true})));
    ASSERT_TRUE(is_good(A.reserve(EA, 0xa)));
    lu.reset();
    const std::string good = read_file(file);
    auto create = [&] {
        LuConfig c;
        c.aptpl_file = file;
        return LogicalUnit::create(c);
    };
    ASSERT_TRUE(create().ok());
    for (size_t n = 0; n < good.size(); ++n) {
        write_file(file, good.substr(0, n));
        auto r = create();
        ASSERT_FALSE(r.ok()) << "truncated to " << n;
        EXPECT_NE(r.error().msg.find(file.string()), std::string::npos) << r.error().msg;
    }
    for (size_t i = 0; i < good.size(); ++i) {
        std::string t = good;
        t[i] = static_cast<char>(t[i] ^ 0x04);
        write_file(file, t);
        ASSERT_FALSE(create().ok()) << "byte " << i << " flipped";
    }
    write_file(file, "garbage\x01\x02");
    EXPECT_FALSE(create().ok());
    std::string v9 = good;
    v9.replace(v9.find("aptpl 1"), 7, "aptpl 9");
    write_file(file, v9);
    auto r = create();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().msg.find("unsupported version 9"), std::string::npos) << r.error().msg;
    // Valid file, but for a logical unit with more target ports than this one.
    PersistedPr far;
    far.registrations.push_back({kB, 3, 0xb, false});
    write_file(file, *encode_aptpl(far));
    r = create();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().msg.find(file.string()), std::string::npos);
    EXPECT_NE(r.error().msg.find("target port 3"), std::string::npos) << r.error().msg;
    // The intact file still loads.
    write_file(file, good);
    EXPECT_TRUE(create().ok());
}

TEST_F(AptplLu, FailedWriteRollsBackOrReportsLikeLio) {
    file = dir / "missing-dir" / "lu0.aptpl";
    power_on();
    auto r = A.reg(0, 0xa, {.aptpl = true});
    EXPECT_TRUE(is_check(r, SenseKey::hardware_error, 0x44, 0x00));
    EXPECT_EQ(state(), "gen=0 res=none regs=");  // nothing happened
    EXPECT_TRUE(is_good(A.reg(0, 0xa)));         // APTPL off: nothing to write
    power_on(Profile::lio);
    // LIO without its /var/target/pr directory: NOT READY, although the key is registered
    // (seen on Debian 6.1's LIO) -- with APTPL off too, since LIO writes its file on every
    // REGISTER.
    r = A.reg(0, 0xa);
    EXPECT_TRUE(is_check(r, SenseKey::not_ready, 0x08, 0x00));
    EXPECT_EQ(state(), "gen=1 res=none regs=A:1=a");
    r = B.reg(0, 0xb, {.aptpl = true});
    EXPECT_TRUE(is_check(r, SenseKey::not_ready, 0x08, 0x00));
    EXPECT_EQ(state(), "gen=2 res=none regs=A:1=a,B:2=b");
    // RESERVE writes only while APTPL is active (it is, since B's REGISTER).
    EXPECT_TRUE(is_check(A.reserve(WE, 0xa), SenseKey::not_ready, 0x08, 0x00));
    EXPECT_EQ(state(), "gen=2 res=WE holder=A:1 regs=A:1=a,B:2=b");
}

}  // namespace
}  // namespace prfence::sim::test
