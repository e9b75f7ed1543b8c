// SPDX-License-Identifier: MIT
// libprinterpose's virtual names: sd letters, device numbers, path normalisation, the prefix and
// map-file rules, environment parsing and redirects (uring_engine/simproto/names.h).
#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include <map>

#include "uring_engine/simproto/names.h"

namespace prfence::shim {
namespace {

TEST(ShimNames, DiskLettersAreTheSdDriversBijectiveBase26) {
    EXPECT_EQ(disk_letters(0), "a");
    EXPECT_EQ(disk_letters(25), "z");
    EXPECT_EQ(disk_letters(26), "aa");
    EXPECT_EQ(disk_letters(701), "zz");
    EXPECT_EQ(disk_letters(702), "aaa");
    EXPECT_EQ(disk_letters(16383), "xfd");
    for (uint32_t i = 0; i < 20000; ++i) ASSERT_EQ(parse_disk_letters(disk_letters(i)), i) << i;
    EXPECT_FALSE(parse_disk_letters(""));
    EXPECT_FALSE(parse_disk_letters("A"));
    EXPECT_FALSE(parse_disk_letters("a1"));
    EXPECT_FALSE(parse_disk_letters("zzzzzz"));
}

// prsim's trace names the disks of every nexus of a farm with these letters, so indexes run past
// 32 bits and past what a name the shim parses can hold.
TEST(ShimNames, DiskLettersCoverEverySixtyFourBitIndex) {
    EXPECT_EQ(disk_letters(18277), "zzz");
    EXPECT_EQ(disk_letters(18278), "aaaa");
    EXPECT_EQ(disk_letters(475253), "zzzz");
    EXPECT_EQ(disk_letters(475254), "aaaaa");
    EXPECT_EQ(disk_letters(uint64_t{0xffffffff}), "mwlqkwv");
    EXPECT_EQ(disk_letters(uint64_t{1} << 32), "mwlqkww");
    EXPECT_EQ(disk_letters(UINT64_MAX), "gkgwbylwrxtlpp");
    // Every letter string of up to three letters, in order, from one index to the next.
    std::string prev = disk_letters(0);
    for (uint64_t i = 1; i <= 18277; ++i) {
        const std::string cur = disk_letters(i);
        ASSERT_TRUE(cur.size() > prev.size() || (cur.size() == prev.size() && cur > prev)) << i;
        prev = cur;
    }
}

TEST(ShimNames, DeviceNumbersAreTheKernels) {
    EXPECT_EQ(sg_rdev(0), makedev(21, 0));
    EXPECT_EQ(sg_rdev(300), makedev(21, 300));
    EXPECT_EQ(disk_rdev(0), makedev(8, 0));       // sda
    EXPECT_EQ(disk_rdev(15), makedev(8, 240));    // sdp
    EXPECT_EQ(disk_rdev(16), makedev(65, 0));     // sdq
    EXPECT_EQ(disk_rdev(127), makedev(71, 240));  // sddx
    EXPECT_EQ(disk_rdev(128), makedev(128, 0));   // sddy
    EXPECT_EQ(disk_rdev(255), makedev(135, 240));
    EXPECT_EQ(disk_rdev(256), makedev(8, 256));  // sdiw
    EXPECT_EQ(disk_rdev(272), makedev(65, 256));
}

TEST(ShimNames, NormalizeIsLexical) {
    char out[64];
    auto n = [&](const char* p) {
        return normalize_path(p, out, sizeof out) ? std::string(out) : "!";
    };
    EXPECT_EQ(n("/dev/prsim/sda"), "/dev/prsim/sda");
    EXPECT_EQ(n("//dev///prsim/./sda/"), "/dev/prsim/sda");
    EXPECT_EQ(n("/dev/x/../prsim/sg1"), "/dev/prsim/sg1");
    EXPECT_EQ(n("/../../dev"), "/dev");
    EXPECT_EQ(n("/"), "/");
    EXPECT_EQ(n("dev/prsim/sda"), "!");
    EXPECT_EQ(n(""), "!");
    EXPECT_FALSE(normalize_path("/a/very/long/path/that/does/not/fit/into/sixty/four/bytes/at/all",
                                out, sizeof out));
}

TEST(ShimNames, ClassifyPrefixNames) {
    Config cfg;
    auto c = [&](const char* p) { return classify(cfg, p); };
    EXPECT_EQ(c("/dev/prsim").what, PathClass::What::directory);
    auto sg = c("/dev/prsim/sg12");
    EXPECT_EQ(sg.what, PathClass::What::node);
    EXPECT_EQ(sg.node, (VirtualNode{12, NodeKind::sg}));
    auto sd = c("/dev/prsim/sdaa");
    EXPECT_EQ(sd.node, (VirtualNode{26, NodeKind::disk}));
    for (const char* p :
         {"/dev/prsimx/sg1", "/dev/prsim/sg", "/dev/prsim/sg01", "/dev/prsim/sgx", "/dev/prsim/sd1",
          "/dev/prsim/sda1", "/dev/prsim/x/sg1", "/dev/sg1", "/dev/sda", "/dev/prsim/sg99999999"})
        EXPECT_EQ(c(p).what, PathClass::What::none) << p;
    cfg.prefix.clear();
    EXPECT_EQ(c("/dev/prsim/sg1").what, PathClass::What::none);
}

TEST(ShimNames, MapFile) {
    Config cfg;
    auto exists = [](const char* p) { return std::string(p) == "/dev/null"; };
    parse_map(
        "# comment\n"
        "/dev/disk/by-id/scsi-3600 7\n"
        "  /srv/x/sg3   3  \n"
        "/srv/y 4 sg   # trailing comment\n"
        "/dev/null 1\n"
        "relative 2\n"
        "/srv/z nope\n"
        "/srv/w 5 tape\n",
        "m.txt", cfg, +exists);
    ASSERT_EQ(cfg.map.size(), 3u);
    EXPECT_EQ(classify(cfg, "/dev/disk/by-id/scsi-3600").node, (VirtualNode{7, NodeKind::disk}));
    EXPECT_EQ(classify(cfg, "/srv/x/sg3").node, (VirtualNode{3, NodeKind::sg}));
    EXPECT_EQ(classify(cfg, "/srv/y").node, (VirtualNode{4, NodeKind::sg}));
    EXPECT_NE(cfg.problem.find("m.txt:5: /dev/null exists"), std::string::npos) << cfg.problem;
    EXPECT_NE(cfg.problem.find("m.txt:6:"), std::string::npos);
    EXPECT_NE(cfg.problem.find("m.txt:7:"), std::string::npos);
    EXPECT_NE(cfg.problem.find("m.txt:8: kind must be sg, disk, nvme or nvme-ctrl"),
              std::string::npos);
}

TEST(ShimNames, LoadConfigFromEnvironment) {
    static std::map<std::string, std::string> env;
    env = {{"PRSIM_SOCKET", "/run/p.sock"},
           {"PRSIM_TARGET_PORT", "2"},
           {"PRSIM_PREFIX", "/tmp//v/"},
           {"PRSIM_REDIRECT", "/var/run/cluster=/tmp/a/cluster:bad:/x=/y"},
           {"PRSIM_TIMEOUT_MS", "500"},
           {"PRSIM_MAP", "map"}};
    EnvAccess ea{[](const char* n) -> const char* {
                     auto it = env.find(n);
                     return it == env.end() ? nullptr : it->second.c_str();
                 },
                 [](const char*, std::string& out) {
                     out = "/m/a 1\n";
                     return true;
                 },
                 [](const char*) { return false; }};
    Config cfg = load_config(ea);
    EXPECT_EQ(cfg.socket, "/run/p.sock");
    EXPECT_EQ(cfg.initiator, kDefaultInitiator);
    EXPECT_EQ(cfg.target_port, 2);
    EXPECT_EQ(cfg.prefix, "/tmp/v");
    EXPECT_EQ(cfg.max_timeout_ms, 500);
    ASSERT_EQ(cfg.redirects.size(), 2u);
    EXPECT_NE(cfg.problem.find("'bad'"), std::string::npos) << cfg.problem;
    ASSERT_EQ(cfg.map.size(), 1u);
    char buf[4096];
    EXPECT_STREQ(apply_redirect(cfg, "/var/run/cluster.key", buf, sizeof buf),
                 "/tmp/a/cluster.key");
    EXPECT_EQ(apply_redirect(cfg, "/var/run/other", buf, sizeof buf), nullptr);
    EXPECT_STREQ(apply_redirect(cfg, "/x", buf, sizeof buf), "/y");

    env = {{"PRSIM_TARGET_PORT", "0"}};
    cfg = load_config(ea);
    EXPECT_NE(cfg.problem.find("PRSIM_SOCKET is not set"), std::string::npos);
    EXPECT_NE(cfg.problem.find("PRSIM_TARGET_PORT=0"), std::string::npos);
    EXPECT_EQ(cfg.target_port, 1);
}

}  // namespace
}  // namespace prfence::shim
