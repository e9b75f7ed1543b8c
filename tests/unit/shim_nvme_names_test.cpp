// SPDX-License-Identifier: MIT
// libprinterpose's NVMe names and host identity (uring_engine/simproto/names.h): PREFIX/nvme0nN
// and PREFIX/nvme0, map-file kinds, device numbers, UUID parsing and how PRSIM_HOSTNQN /
// PRSIM_HOSTID become the host a process speaks as.
#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include <map>
#include <string>

#include "uring_engine/simproto/names.h"

namespace prfence::shim {
namespace {

std::map<std::string, std::string> g_env;
std::string g_map;

Config load(std::map<std::string, std::string> env, std::string map = "") {
    g_env = std::move(env);
    g_map = std::move(map);
    EnvAccess ea{[](const char* n) -> const char* {
                     auto it = g_env.find(n);
                     return it == g_env.end() ? nullptr : it->second.c_str();
                 },
                 [](const char*, std::string& out) {
                     out = g_map;
                     return true;
                 },
                 [](const char* p) { return std::string(p) == "/dev/null"; }};
    return load_config(ea);
}

TEST(ShimNvmeNames, PrefixNames) {
    Config cfg = load({{"PRSIM_SOCKET", "/s"}});
    EXPECT_EQ(classify(cfg, "/dev/prsim/nvme0n1").node, (VirtualNode{1, NodeKind::nvme_ns}));
    EXPECT_EQ(classify(cfg, "/dev/prsim/nvme0n12").node, (VirtualNode{12, NodeKind::nvme_ns}));
    EXPECT_EQ(classify(cfg, "/dev/prsim/nvme0").node, (VirtualNode{0, NodeKind::nvme_ctrl}));
    for (const char* p : {"/dev/prsim/nvme0n0", "/dev/prsim/nvme0n", "/dev/prsim/nvme1n1",
                          "/dev/prsim/nvme0n1p1", "/dev/prsim/nvme", "/dev/prsim/nvme00n1"})
        EXPECT_EQ(classify(cfg, p).what, PathClass::What::none) << p;
    EXPECT_EQ(nvme_ns_rdev(1), makedev(259, 0));
    EXPECT_EQ(nvme_ns_rdev(7), makedev(259, 6));
    EXPECT_EQ(major(nvme_ctrl_rdev()), 250u);
}

TEST(ShimNvmeNames, MapFileKinds) {
    Config cfg = load({{"PRSIM_SOCKET", "/s"}, {"PRSIM_MAP", "m"}},
                      "/dev/nvme5n1 2 nvme\n/x/ctl 0 nvme-ctrl\n/dev/nvme3n4 4\n/dev/nvme3 0\n"
                      "/bad 0 nvme\n/worse 1 tape\n/dev/null 1 nvme\n");
    EXPECT_EQ(classify(cfg, "/dev/nvme5n1").node, (VirtualNode{2, NodeKind::nvme_ns}));
    EXPECT_EQ(classify(cfg, "/x/ctl").node, (VirtualNode{0, NodeKind::nvme_ctrl}));
    EXPECT_EQ(classify(cfg, "/dev/nvme3n4").node, (VirtualNode{4, NodeKind::nvme_ns}));
    EXPECT_EQ(classify(cfg, "/dev/nvme3").node, (VirtualNode{0, NodeKind::nvme_ctrl}));
    EXPECT_EQ(classify(cfg, "/bad").what, PathClass::What::none);
    EXPECT_NE(cfg.problem.find("namespace ids start at 1"), std::string::npos) << cfg.problem;
    EXPECT_NE(cfg.problem.find("kind must be sg, disk, nvme or nvme-ctrl"), std::string::npos);
    EXPECT_NE(cfg.problem.find("/dev/null exists"), std::string::npos);
}

TEST(ShimNvmeNames, Uuids) {
    auto u = parse_uuid("aaaaaaaa-0000-4000-8000-0000000000Ff");
    ASSERT_TRUE(u);
    EXPECT_EQ((*u)[0], 0xaa);
    EXPECT_EQ((*u)[15], 0xff);
    EXPECT_EQ(uuid_text(*u), "aaaaaaaa-0000-4000-8000-0000000000ff");
    EXPECT_TRUE(parse_uuid("aaaaaaaa000040008000000000000001"));
    for (const char* bad :
         {"", "aaaaaaaa-0000-4000-8000-00000000000", "aaaaaaaa-0000-4000-8000-0000000000001",
          "aaaaaaaa00-00-4000-8000-000000000001", "gaaaaaaa-0000-4000-8000-000000000001",
          "aaaaaaaa-0000-4000-8000-00000000000-"})
        EXPECT_FALSE(parse_uuid(bad)) << bad;
}

TEST(ShimNvmeNames, HostIdentity) {
    // Neither: the defaults.
    Config d = load({{"PRSIM_SOCKET", "/s"}});
    EXPECT_EQ(uuid_text(d.hostid), kDefaultHostId);
    EXPECT_EQ(d.hostnqn, std::string("nqn.2014-08.org.nvmexpress:uuid:") + kDefaultHostId);
    // The identifier from a UUID NQN.
    Config a = load({{"PRSIM_SOCKET", "/s"},
                     {"PRSIM_HOSTNQN",
                      "nqn.2014-08.org.nvmexpress:uuid:12345678-0000-4000-8000-00000000000a"}});
    EXPECT_EQ(uuid_text(a.hostid), "12345678-0000-4000-8000-00000000000a");
    // Another NQN: a stable hash of it, different per NQN.
    Config h1 = load({{"PRSIM_SOCKET", "/s"}, {"PRSIM_HOSTNQN", "nqn.2026-12.io.example:node-a"}});
    Config h2 = load({{"PRSIM_SOCKET", "/s"}, {"PRSIM_HOSTNQN", "nqn.2026-12.io.example:node-a"}});
    Config h3 = load({{"PRSIM_SOCKET", "/s"}, {"PRSIM_HOSTNQN", "nqn.2026-12.io.example:node-b"}});
    EXPECT_EQ(h1.hostid, h2.hostid);
    EXPECT_NE(h1.hostid, h3.hostid);
    EXPECT_EQ(h1.hostnqn, "nqn.2026-12.io.example:node-a");
    // The identifier alone names the NQN; both given are taken as they are.
    Config i =
        load({{"PRSIM_SOCKET", "/s"}, {"PRSIM_HOSTID", "cccccccc-0000-4000-8000-000000000003"}});
    EXPECT_EQ(i.hostnqn, "nqn.2014-08.org.nvmexpress:uuid:cccccccc-0000-4000-8000-000000000003");
    Config b = load({{"PRSIM_SOCKET", "/s"},
                     {"PRSIM_HOSTNQN", "nqn.x:y"},
                     {"PRSIM_HOSTID", "cccccccc-0000-4000-8000-000000000003"}});
    EXPECT_EQ(b.hostnqn, "nqn.x:y");
    EXPECT_EQ(uuid_text(b.hostid), "cccccccc-0000-4000-8000-000000000003");
    Config bad = load({{"PRSIM_SOCKET", "/s"}, {"PRSIM_HOSTID", "node-a"}});
    EXPECT_NE(bad.problem.find("PRSIM_HOSTID=node-a is not a UUID"), std::string::npos);
    Config lng = load({{"PRSIM_SOCKET", "/s"}, {"PRSIM_HOSTNQN", std::string(300, 'n')}});
    EXPECT_NE(lng.problem.find("longer than 223"), std::string::npos);
    EXPECT_TRUE(lng.hostnqn.empty());
    Config ctl = load({{"PRSIM_SOCKET", "/s"}, {"PRSIM_HOSTNQN", "nqn.a\tb"}});
    EXPECT_TRUE(ctl.hostnqn.empty());
    EXPECT_NE(ctl.problem.find("not printable"), std::string::npos);
}

}  // namespace
}  // namespace prfence::shim
