// SPDX-License-Identifier: MIT
// prexplain --daemon's book of "our" keys: LUs found by WWID or by prsim socket + LUN whatever the
// socket path's spelling, --key-less groups, and an LU claimed by two groups with different keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tools/prexplain/ours.h"

namespace prfence::prexplain {
namespace {

namespace fs = std::filesystem;

engine::LunSpec lun(const std::string& name, const std::string& wwid) {
    engine::LunSpec s;
    s.name = name;
    s.wwid = wwid;
    return s;
}

nl::GroupInfo group(const std::string& name, std::optional<uint64_t> key,
                    const std::string& initiator = {}) {
    nl::GroupInfo g;
    g.name = name;
    g.key = key;
    g.initiator = initiator;
    if (!initiator.empty()) g.target_port = 2;
    return g;
}

TEST(OurBook, FindsLusByWwidAndSimSocketWhateverTheSpelling) {
    const fs::path dir =
        fs::temp_directory_path() / ("prexplain-ours-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "prsim.sock").put('x');
    fs::create_symlink(dir / "prsim.sock", dir / "link.sock");

    OurBook book;
    std::vector<std::string> warnings;
    book.add(group("db", 0xabc123),
             {lun("/dev/sdb", "naa.6001405aaaa"), lun("/dev/sdc", "naa.6001405bbbb")}, warnings);
    book.add(group("sim", 0x123abc, "iqn.x:node-b,i,0x2"),
             {lun("sim:" + (dir / "link.sock").string() + ":7",
                  "sim:" + (dir / "link.sock").string() + ":7")},
             warnings);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(book.size(), 3u);

    LuIdentity sdc;
    sdc.key = sdc.wwid = "naa.6001405bbbb";
    sdc.device = "sdc";
    ASSERT_NE(book.find(sdc), nullptr);
    EXPECT_EQ(book.find(sdc)->group, "db");
    EXPECT_EQ(book.find(sdc)->key, 0xabc123u);

    // The log names the socket as prexplain --sim was given it: another path to the same file.
    LuIdentity s7;
    s7.sim = s7.key = "sim:" + (dir / "." / "prsim.sock").string() + ":7";
    ASSERT_NE(book.find(s7), nullptr);
    EXPECT_EQ(book.find(s7)->key, 0x123abcu);
    EXPECT_EQ(book.find(s7)->initiator, "iqn.x:node-b,i,0x2");
    EXPECT_EQ(book.find(s7)->target_port, 2);

    LuIdentity s8 = s7;
    s8.sim = s8.key = "sim:" + (dir / "prsim.sock").string() + ":8";
    EXPECT_EQ(book.find(s8), nullptr);
    LuIdentity unknown;
    unknown.key = "hctl:9:0:0:0";
    EXPECT_EQ(book.find(unknown), nullptr);
    fs::remove_all(dir);
}

TEST(OurBook, AnLuInTwoGroupsWithDifferentKeysKeepsTheFirstAndWarns) {
    OurBook book;
    std::vector<std::string> warnings;
    book.add(group("a", 0x1), {lun("/dev/sdb", "naa.1")}, warnings);
    book.add(group("b", 0x1), {lun("/dev/sdb", "naa.1")}, warnings);  // same key: no doubt
    EXPECT_TRUE(warnings.empty());
    book.add(group("c", std::nullopt), {lun("/dev/sdb", "naa.1")}, warnings);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0],
              "/dev/sdb is in group \"a\" (key 0x1) and group \"c\" (key none): using \"a\" "
              "(choose with --group)");
    // Many LUs claimed twice: one warning for the pair of groups, not one per LU.
    warnings.clear();
    book.add(group("d", 0x2), {lun("/dev/sdc", "naa.2"), lun("/dev/sdd", "naa.3")}, warnings);
    book.add(group("e", 0x3),
             {lun("/dev/sdc", "naa.2"), lun("/dev/sdd", "naa.3"), lun("/dev/sdb", "naa.1")},
             warnings);
    ASSERT_EQ(warnings.size(), 2u);
    EXPECT_EQ(warnings[0],
              "/dev/sdb is in group \"a\" (key 0x1) and group \"e\" (key 0x3): using \"a\" (choose "
              "with --group)");
    EXPECT_EQ(warnings[1],
              "/dev/sdc and 1 more LUs are in group \"d\" (key 0x2) and group \"e\" (key 0x3): "
              "using \"d\" (choose with --group)");
    LuIdentity id;
    id.key = id.wwid = "naa.1";
    ASSERT_NE(book.find(id), nullptr);
    EXPECT_EQ(book.find(id)->group, "a");
}

TEST(OurBook, CanonicalKeysLeaveWhatIsNotASimSocketAlone) {
    EXPECT_EQ(canonical_lu_key("naa.6001405"), "naa.6001405");
    EXPECT_EQ(canonical_lu_key("sim:"), "sim:");
    EXPECT_EQ(canonical_lu_key("sim::3"), "sim::3");
    EXPECT_EQ(canonical_lu_key("sim:/nonexistent/prsim.sock:3"), "sim:/nonexistent/prsim.sock:3");
}

TEST(DaemonBook, AnUnknownLuFetchesAgainAtMostOncePerInterval) {
    using namespace std::chrono_literals;
    auto t = std::chrono::steady_clock::time_point{} + 1h;
    int calls = 0;
    bool daemon_up = true;
    std::vector<std::string> warned;
    DaemonBook book(
        [&](std::vector<std::string>& w) -> Result<OurBook> {
            ++calls;
            if (!daemon_up) return fail(Errc::system, "prfenced is gone");
            OurBook b;
            std::vector<engine::LunSpec> luns{lun("/dev/sdb", "naa.1")};
            if (calls >= 2)
                luns.push_back(lun("/dev/sdc", "naa.2"));  // a group grew after the start
            b.add(group("db", 0xabc123), luns, w);
            w.push_back("fetch " + std::to_string(calls));
            return b;
        },
        [&](const std::string& m) { warned.push_back(m); }, 5s, [&] { return t; });
    ASSERT_TRUE(book.load().ok());
    LuIdentity sdb, sdc, other;
    sdb.key = sdb.wwid = "naa.1";
    sdc.key = sdc.wwid = "naa.2";
    other.key = other.wwid = "naa.9";
    EXPECT_NE(book.find(sdb), nullptr);
    EXPECT_EQ(book.find(sdc), nullptr);  // within the interval of the first fetch: no second one
    EXPECT_EQ(calls, 1);
    t += 6s;
    ASSERT_NE(book.find(sdc),
              nullptr);  // unknown and the interval passed: fetched again, now known
    EXPECT_EQ(book.find(sdc)->key, 0xabc123u);
    EXPECT_EQ(calls, 2);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(book.find(other), nullptr);  // a storm of unknown LUs
    EXPECT_EQ(calls, 2);
    t += 6s;
    daemon_up = false;
    EXPECT_EQ(book.find(other), nullptr);
    EXPECT_EQ(calls, 3);
    EXPECT_NE(book.find(sdc), nullptr);  // the old book is kept when the daemon is gone
    EXPECT_EQ(warned,
              (std::vector<std::string>{"fetch 1", "fetch 2",
                                        "keeping the groups read before: prfenced is gone"}));
}

TEST(DaemonBook, AFailedFirstFetchIsTheCallersError) {
    DaemonBook book(
        [](std::vector<std::string>&) -> Result<OurBook> {
            return fail(Errc::system, "no daemon");
        },
        [](const std::string&) {});
    auto st = book.load();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().msg, "no daemon");
}

TEST(OurBook, UnreachableDaemonIsAnErrorNamingThePath) {
    std::vector<std::string> warnings;
    auto b = our_book_from_daemon("/nonexistent/prfenced.sock", {}, {}, warnings);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().msg.find("/nonexistent/prfenced.sock"), std::string::npos) << b.error().msg;
}

}  // namespace
}  // namespace prfence::prexplain
