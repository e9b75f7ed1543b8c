// SPDX-License-Identifier: MIT
// fence_scsi-compatible keys: the formula against vectors computed with Python's hashlib the way
// fence_scsi.py computes them, nodelist parsing, corosync-cmapctl through fake programs, key files.
#include "uring_engine/policy/cluster_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace prfence::cluster {
namespace {

namespace fs = std::filesystem;

class TempDir {
  public:
    TempDir() {
        std::string t = (fs::temp_directory_path() / "cluster_key_test.XXXXXX").string();
        if (::mkdtemp(t.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
        path_ = t;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }
    // An executable shell script (the fake corosync-cmapctl).
    std::string script(const std::string& name, const std::string& body) const {
        const std::string p = *this / name;
        std::ofstream(p) << "#!/bin/sh\n" << body;
        ::chmod(p.c_str(), 0755);
        return p;
    }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(*this / name) << text;
    }
    std::string read(const std::string& name) const {
        std::ifstream f(*this / name);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }

  private:
    fs::path path_;
};

constexpr char kNodelist[] =
    "nodelist.local_node_pos (u32) = 0\n"
    "nodelist.node.0.name (str) = node-a\n"
    "nodelist.node.0.nodeid (u32) = 7\n"
    "nodelist.node.0.ring0_addr (str) = 10.0.0.1\n"
    "nodelist.node.1.name (str) = node-aa\n"
    "nodelist.node.1.nodeid (u32) = 3\n"
    "nodelist.node.1.ring0_addr (str) = 10.0.0.2\n"
    "nodelist.node.2.name (str) = node-b\n"
    "nodelist.node.2.nodeid (u32) = 1\n"
    "nodelist.node.12.name (str) = node-m\n";

// The header's example, checked with python3: md5("prfence") starts 4a5c, md5("node-a") 6cec,
// md5("node-b") 26f7.
TEST(HashKey, FenceScsiVectors) {
    EXPECT_EQ(*hash_key("prfence", "node-a"), 0x4a5c6cecu);
    EXPECT_EQ(*hash_key("prfence", "node-b"), 0x4a5c26f7u);
    EXPECT_EQ(*hash_key("mycluster", "alpha"), 0x6c9d2c17u);
    EXPECT_EQ(*hash_key("hacluster", "node1"), 0xfb0c1645u);
    EXPECT_EQ(*hash_key("hacluster", "node2"), 0xfb0c7888u);
}

TEST(HashKey, LeadingZerosOfTheClusterHashDisappear) {
    // md5("x15") starts 0e39: fence_scsi's string "0e396cec" loses its zero, the value is the same.
    EXPECT_EQ(*hash_key("x15", "node-a"), 0xe396cecu);
    EXPECT_EQ(key_text(*hash_key("x15", "node-a")), "e396cec");
}

TEST(HashKey, ZeroKeyIsRefused) {
    // md5("c2327") and md5("n30952") both start 0000.
    auto k = hash_key("c2327", "n30952");
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, Errc::invalid_argument);
    EXPECT_NE(k.error().msg.find("is 0"), std::string::npos) << k.error().msg;
    EXPECT_EQ(*hash_key("c2327", "node-a"), 0x6cecu);
}

TEST(IdKey, PositionInTheNodelistNotTheNodeid) {
    EXPECT_EQ(*id_key("prfence", "node-a", kNodelist), 0x4a5c0000u);
    EXPECT_EQ(*id_key("prfence", "node-aa", kNodelist), 0x4a5c0001u);
    EXPECT_EQ(*id_key("prfence", "node-b", kNodelist), 0x4a5c0002u);
    // "%.4d" of 12 is "0012", read as hex.
    EXPECT_EQ(*id_key("prfence", "node-m", kNodelist), 0x4a5c0012u);
    EXPECT_EQ(*id_key("x15", "node-m", kNodelist), 0xe390012u);
    EXPECT_EQ(*id_key("mycluster", "node-a", kNodelist), 0x6c9d0000u);
}

TEST(IdKey, PrefixNamesDoNotMatch) {
    // node-aa first: a prefix match of "node-a" would take position 0.
    constexpr char list[] =
        "nodelist.node.0.name (str) = node-aa\n"
        "nodelist.node.1.name (str) = node-a\n";
    EXPECT_EQ(*id_key("prfence", "node-a", list), 0x4a5c0001u);
    EXPECT_EQ(*id_key("prfence", "node-aa", list), 0x4a5c0000u);
    auto k = id_key("prfence", "node", list);
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, Errc::not_found);
}

TEST(IdKey, AbsentNodeIsNotFound) {
    for (const char* node : {"node-c", "10.0.0.1", "7", ""}) {
        auto k = id_key("prfence", node, kNodelist);
        ASSERT_FALSE(k) << node;
        EXPECT_EQ(k.error().code, Errc::not_found) << node;
        EXPECT_NE(k.error().msg.find(std::string("'") + node + "'"), std::string::npos)
            << k.error().msg;
    }
    EXPECT_FALSE(id_key("prfence", "node-a", ""));
    EXPECT_FALSE(id_key("prfence", "node-a", "nodelist.node.x.name (str) = node-a\n"));
    EXPECT_FALSE(id_key("prfence", "node-a", "nodelist.node.0.name (u32) = node-a\n"));
}

TEST(IdKey, CarriageReturnsAndNoFinalNewline) {
    EXPECT_EQ(*id_key("prfence", "node-b", "nodelist.node.3.name (str) = node-b"), 0x4a5c0003u);
    EXPECT_EQ(*id_key("prfence", "node-b", "nodelist.node.3.name (str) = node-b\r\n"), 0x4a5c0003u);
}

TEST(IdKey, ZeroKeyIsRefused) {
    auto k = id_key("c2327", "node-a", kNodelist);
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, Errc::invalid_argument);
    EXPECT_EQ(*id_key("c2327", "node-b", kNodelist), 0x2u);
}

TEST(ClusterName, Parse) {
    EXPECT_EQ(*parse_cluster_name("totem.cluster_name (str) = prfence\n"), "prfence");
    EXPECT_EQ(*parse_cluster_name("totem.cluster_name (str) = prfence"), "prfence");
    EXPECT_EQ(*parse_cluster_name("other (str) = x\ntotem.cluster_name (str) = hacluster\n"),
              "hacluster");
    for (const char* bad : {"", "\n", "totem.cluster_name (str) = \n", "totem.version (u32) = 2\n",
                            "totem.cluster_name (u32) = 5\n"}) {
        auto n = parse_cluster_name(bad);
        ASSERT_FALSE(n) << bad;
        EXPECT_EQ(n.error().code, Errc::malformed);
    }
}

TEST(RunCmapctl, CannedOutputAndArgumentsWithoutShell) {
    TempDir d;
    const std::string prog = d.script("cmapctl", "printf '%s|%s\\n' \"$#\" \"$1\"\n");
    auto out = run_cmapctl(prog, "totem.cluster_name");
    ASSERT_TRUE(out) << out.error().msg;
    EXPECT_EQ(*out, "1|totem.cluster_name\n");
    // Shell metacharacters reach the program as one argument, unexpanded.
    out = run_cmapctl(prog, "a b;$(echo x)*");
    ASSERT_TRUE(out) << out.error().msg;
    EXPECT_EQ(*out, "1|a b;$(echo x)*\n");
}

TEST(RunCmapctl, NonZeroExitNamesProgramStatusAndStderr) {
    TempDir d;
    const std::string prog =
        d.script("corosync-cmapctl",
                 "echo 'Failed to initialize the cmap API. Error CS_ERR_LIBRARY' >&2\n"
                 "exit 1\n");
    auto out = run_cmapctl(prog, "nodelist");
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::io);
    EXPECT_NE(out.error().msg.find("corosync-cmapctl nodelist exited with 1"), std::string::npos)
        << out.error().msg;
    EXPECT_NE(out.error().msg.find("CS_ERR_LIBRARY"), std::string::npos) << out.error().msg;
    EXPECT_NE(out.error().msg.find("is corosync running?"), std::string::npos) << out.error().msg;
}

TEST(RunCmapctl, MissingProgram) {
    TempDir d;
    auto out = run_cmapctl(d / "no-such-cmapctl", "nodelist");
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::not_found);
    EXPECT_NE(out.error().msg.find(d / "no-such-cmapctl"), std::string::npos) << out.error().msg;
    out = run_cmapctl("", "nodelist");
    EXPECT_FALSE(out);
}

TEST(RunCmapctl, NotExecutable) {
    TempDir d;
    d.write("plain", "not a program\n");
    auto out = run_cmapctl(d / "plain", "nodelist");
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::system);
    EXPECT_EQ(out.error().sys_errno, EACCES);
}

TEST(RunCmapctl, KilledBySignal) {
    TempDir d;
    const std::string prog = d.script("cmapctl", "kill -9 $$\n");
    auto out = run_cmapctl(prog, "nodelist");
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::io);
    EXPECT_NE(out.error().msg.find("signal 9"), std::string::npos) << out.error().msg;
}

TEST(RunCmapctl, HungProgramIsKilledAtTheBound) {
    TempDir d;
    const std::string prog = d.script("cmapctl", "exec sleep 30\n");
    const auto t0 = std::chrono::steady_clock::now();
    auto out = run_cmapctl(prog, "nodelist", std::chrono::milliseconds(300));
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::timeout);
    EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(RunCmapctl, OversizeOutputIsRefused) {
    TempDir d;
    const std::string prog = d.script("cmapctl", "exec yes nodelist.node.0.name\n");
    auto out = run_cmapctl(prog, "nodelist");
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, Errc::too_small);
    EXPECT_NE(out.error().msg.find(std::to_string(kMaxCmapctlOutput)), std::string::npos);
}

// A fake corosync-cmapctl answering the two keys fence_scsi asks for.
std::string fake_corosync(const TempDir& d, const std::string& cluster) {
    std::string nodelist;
    for (const char* c = kNodelist; *c; ++c)
        nodelist += *c == '\n' ? std::string("\\n") : std::string(1, *c);
    return d.script("corosync-cmapctl",
                    "case \"$1\" in\n"
                    "totem.cluster_name) echo 'totem.cluster_name (str) = " +
                        cluster +
                        "' ;;\n"
                        "nodelist) printf '" +
                        nodelist +
                        "' ;;\n"
                        "*) echo \"unknown $1\" >&2; exit 1 ;;\n"
                        "esac\n");
}

TEST(DeriveKey, BothMethodsThroughCmapctl) {
    TempDir d;
    const std::string prog = fake_corosync(d, "prfence");
    auto k = derive_key(KeyMethod::hash, "node-a", prog);
    ASSERT_TRUE(k) << k.error().msg;
    EXPECT_EQ(*k, 0x4a5c6cecu);
    EXPECT_EQ(*derive_key(KeyMethod::hash, "node-b", prog), 0x4a5c26f7u);
    // hash does not need the node in the nodelist.
    EXPECT_EQ(*derive_key(KeyMethod::hash, "node-z", prog), *hash_key("prfence", "node-z"));
    EXPECT_EQ(*derive_key(KeyMethod::id, "node-a", prog), 0x4a5c0000u);
    EXPECT_EQ(*derive_key(KeyMethod::id, "node-b", prog), 0x4a5c0002u);
    auto absent = derive_key(KeyMethod::id, "node-z", prog);
    ASSERT_FALSE(absent);
    EXPECT_EQ(absent.error().code, Errc::not_found);
    EXPECT_NE(absent.error().msg.find("node-z"), std::string::npos);
    EXPECT_FALSE(derive_key(KeyMethod::hash, "", prog));
}

TEST(DeriveKey, CmapctlFailuresAreNamed) {
    TempDir d;
    auto k = derive_key(KeyMethod::hash, "node-a", d / "missing");
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, Errc::not_found);
    EXPECT_NE(k.error().msg.find("node-a"), std::string::npos);
    const std::string garbled = d.script("garbled", "echo 'totem.version (u32) = 2'\n");
    k = derive_key(KeyMethod::id, "node-a", garbled);
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, Errc::malformed);
    const std::string dead = d.script("dead", "exit 1\n");
    k = derive_key(KeyMethod::id, "node-a", dead);
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, Errc::io);
}

TEST(KeyFile, WriteThenReadAsFenceScsiDoes) {
    TempDir d;
    const std::string p = d / "run/cluster/deeper/cluster.key";  // directories created
    ASSERT_TRUE(write_key_file(p, 0x4a5c6cec));
    EXPECT_EQ(d.read("run/cluster/deeper/cluster.key"), "4a5c6cec\n");
    EXPECT_EQ(*read_key_file(p), 0x4a5c6cecu);
    // Replaced whole; no temporary left behind.
    ASSERT_TRUE(write_key_file(p, 0xe396cec));
    EXPECT_EQ(d.read("run/cluster/deeper/cluster.key"), "e396cec\n");
    size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(d / "run/cluster/deeper")) ++files;
    EXPECT_EQ(files, 1u);
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(KeyFile, WriteRefusesZeroAndAFileInTheWay) {
    TempDir d;
    EXPECT_FALSE(write_key_file(d / "k", 0));
    d.write("file", "x");
    auto r = write_key_file(d / "file/k", 1);
    ASSERT_FALSE(r);
}

TEST(KeyFile, ReadsFenceScsiSpellings) {
    TempDir d;
    d.write("a", "4A5C6CEC\n");
    EXPECT_EQ(*read_key_file(d / "a"), 0x4a5c6cecu);
    d.write("b", "  0x4a5c0000  \nsecond line ignored\n");
    EXPECT_EQ(*read_key_file(d / "b"), 0x4a5c0000u);
    d.write("c", "4a5c26f7");
    EXPECT_EQ(*read_key_file(d / "c"), 0x4a5c26f7u);
}

TEST(KeyFile, BadContents) {
    TempDir d;
    for (const char* bad : {"", "\n", "zz\n", "0\n", "12345678901234567\n", "4a5c 6cec\n"}) {
        d.write("k", bad);
        auto k = read_key_file(d / "k");
        ASSERT_FALSE(k) << bad;
        EXPECT_EQ(k.error().code, Errc::malformed) << bad;
        EXPECT_NE(k.error().msg.find(d / "k"), std::string::npos) << k.error().msg;
    }
}

TEST(KeyFile, FallbackToTheOlderLocation) {
    TempDir d;
    const std::string now = d / "cluster.key", old = d / "cluster/fence_scsi.key";
    ASSERT_TRUE(write_key_file(old, 0x4a5c0001));
    EXPECT_EQ(*read_first_key_file({now, old}), 0x4a5c0001u);
    ASSERT_TRUE(write_key_file(now, 0x4a5c0002));
    EXPECT_EQ(*read_first_key_file({now, old}), 0x4a5c0002u);
    // A present but bad file is an error, not a reason to read an older one.
    d.write("cluster.key", "garbage\n");
    auto k = read_first_key_file({now, old});
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, Errc::malformed);
}

TEST(KeyFile, NoneFoundNamesEveryPath) {
    TempDir d;
    auto k = read_first_key_file({d / "a.key", d / "b.key"});
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().code, Errc::not_found);
    EXPECT_NE(k.error().msg.find(d / "a.key"), std::string::npos) << k.error().msg;
    EXPECT_NE(k.error().msg.find(d / "b.key"), std::string::npos) << k.error().msg;
    auto one = read_key_file(d / "a.key");
    ASSERT_FALSE(one);
    EXPECT_EQ(one.error().code, Errc::not_found);
}

TEST(KeyFile, DefaultPathsAreFenceScsis) {
    EXPECT_STREQ(kKeyFile, "/var/run/cluster.key");
    EXPECT_STREQ(kOldKeyFile, "/var/run/cluster/fence_scsi.key");
    EXPECT_EQ(key_text(0x4a5c0000), "4a5c0000");
    EXPECT_EQ(key_text(0xABCDEF0123456789ull), "abcdef0123456789");
}

}  // namespace
}  // namespace prfence::cluster
