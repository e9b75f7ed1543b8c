// SPDX-License-Identifier: MIT
// fence_prfence's parameters: every parameter through stdin (as Pacemaker's fencer sends them) and
// through argv (as people and pcs give them), the fencing.py conventions, every refusal, validate()
// and the metadata's shape.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tools/fence_prfence/params.h"

namespace prfence::agent {
namespace {

using namespace std::chrono_literals;

AgentArgs in(const std::string& text) {
    auto r = parse_stdin(text);
    EXPECT_TRUE(r) << text << " -> " << r.error().msg;
    return r ? std::move(r).value() : AgentArgs{};
}

Error in_err(const std::string& text) {
    auto r = parse_stdin(text);
    EXPECT_FALSE(r) << text;
    return r ? Error{} : std::move(r).error();
}

// argv from words; argv[0] is added.
struct Argv {
    std::vector<std::string> words;
    std::vector<char*> ptrs;
    explicit Argv(std::vector<std::string> w) : words(std::move(w)) {
        words.insert(words.begin(), "fence_prfence");
        for (auto& s : words) ptrs.push_back(s.data());
        ptrs.push_back(nullptr);
    }
    int argc() const { return static_cast<int>(words.size()); }
};

AgentArgs cl(std::vector<std::string> words) {
    Argv a(std::move(words));
    auto r = parse_argv(a.argc(), a.ptrs.data());
    EXPECT_TRUE(r) << r.error().msg;
    return r ? std::move(r).value() : AgentArgs{};
}

Error cl_err(std::vector<std::string> words) {
    Argv a(std::move(words));
    auto r = parse_argv(a.argc(), a.ptrs.data());
    EXPECT_FALSE(r);
    return r ? Error{} : std::move(r).error();
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

TEST(Stdin, WhatTheFencerSendsForOff) {
    auto a = in("nodename=node-b\naction=off\nport=node-b\ndevices=/dev/sdb,/dev/sdc\n");
    EXPECT_EQ(a.action, Action::off);
    EXPECT_EQ(a.target, "node-b");
    EXPECT_EQ(a.devices, (std::vector<std::string>{"/dev/sdb", "/dev/sdc"}));
    EXPECT_FALSE(a.key);
    EXPECT_TRUE(a.warnings.empty());
}

TEST(Stdin, EveryParameter) {
    auto a =
        in("action=on\n"
           "plug=p\n"
           "port=q\n"
           "nodename=node-a\n"
           "key=0x4A5C6CEC\n"
           "key_value=hash\n"
           "group=g1\n"
           "socket=/tmp/c.sock\n"
           "type=WE-AR\n"
           "aptpl=yes\n"
           "delay=3\n"
           "deadline=40.5\n"
           "key_file=/tmp/k\n"
           "corosync_cmap_path=/opt/cmapctl\n"
           "initiator=iqn.2026-11.io.prfence:node-a,i,0x1\n"
           "verbose=true\n"
           "nodeid=1\n");
    EXPECT_EQ(a.action, Action::on);
    EXPECT_EQ(a.target, "node-a");
    EXPECT_EQ(a.key, 0x4a5c6cecu);
    EXPECT_EQ(a.key_value, cluster::KeyMethod::hash);
    EXPECT_EQ(a.group, "g1");
    EXPECT_EQ(a.socket, "/tmp/c.sock");
    EXPECT_EQ(a.type, wire::PrType::write_exclusive_all_registrants);
    EXPECT_TRUE(a.aptpl);
    EXPECT_EQ(a.delay, 3s);
    EXPECT_EQ(a.deadline, 40500ms);
    EXPECT_EQ(a.key_file, "/tmp/k");
    EXPECT_EQ(a.cmap_path, "/opt/cmapctl");
    EXPECT_EQ(a.initiator, "iqn.2026-11.io.prfence:node-a,i,0x1");
    EXPECT_TRUE(a.verbose);
    EXPECT_TRUE(a.warnings.empty()) << a.warnings.front();  // nodeid: silently accepted
}

TEST(Stdin, Defaults) {
    auto a = in("action=monitor\n");
    EXPECT_EQ(a.action, Action::monitor);
    EXPECT_EQ(a.target, "");
    EXPECT_FALSE(a.key);
    EXPECT_EQ(a.key_value, cluster::KeyMethod::id);
    EXPECT_TRUE(a.devices.empty());
    EXPECT_EQ(a.type, wire::PrType::write_exclusive_registrants_only);
    EXPECT_FALSE(a.aptpl);
    EXPECT_EQ(a.delay, 0s);
    EXPECT_EQ(a.deadline, 50s);
    EXPECT_EQ(a.key_file, "");
    EXPECT_EQ(a.cmap_path, "/usr/sbin/corosync-cmapctl");
    EXPECT_FALSE(a.verbose);
}

TEST(Stdin, TargetPrecedenceNodenameThenPlugThenPort) {
    EXPECT_EQ(in("action=off\nport=c\nplug=b\nnodename=a\n").target, "a");
    EXPECT_EQ(in("nodename=a\nplug=b\naction=off\n").target, "a");
    EXPECT_EQ(in("action=off\nport=c\nplug=b\n").target, "b");
    EXPECT_EQ(in("action=off\nport=c\n").target, "c");
}

// pcmk_host_map sends the alias as port; the key still derives from nodename, and the agent says
// so unless the key came along (pcmk_host_argument=key).
TEST(Stdin, AliasDifferingFromNodenameWarns) {
    auto a = in("action=off\nnodename=node-b\nport=bbbb0002\n");
    EXPECT_EQ(a.target, "node-b");
    ASSERT_EQ(a.warnings.size(), 1u);
    EXPECT_NE(a.warnings[0].find("port=bbbb0002 differs from nodename=node-b"), std::string::npos)
        << a.warnings[0];
    EXPECT_NE(a.warnings[0].find("pcmk_host_argument=key"), std::string::npos);
    EXPECT_TRUE(in("action=off\nnodename=node-b\nport=node-b\n").warnings.empty());
    EXPECT_TRUE(in("action=off\nnodename=node-b\nkey=bbbb0002\nport=x\n").warnings.empty());
    EXPECT_EQ(in("action=off\nnodename=node-b\nplug=x\n").warnings.size(), 1u);
}

// Values are quoted in messages with anything unprintable escaped: a NUL must not cut the message
// when it is printed as a C string, a control byte must not reach the fencer's log.
TEST(Stdin, UnprintableValuesAreEscapedInMessages) {
    auto r = parse_stdin(std::string("action=off\nkey=a\0b\x1b\n", 20));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().msg.find("'a\\x00b\\x1b'"), std::string::npos) << r.error().msg;
    auto long_value = parse_stdin("action=off\ntype=" + std::string(200, 'x') + "\n");
    ASSERT_FALSE(long_value);
    EXPECT_NE(long_value.error().msg.find("...'"), std::string::npos);
    EXPECT_LT(long_value.error().msg.size(), 200u);
}

TEST(Stdin, Actions) {
    EXPECT_EQ(in("action=on\n").action, Action::on);
    EXPECT_EQ(in("action=off\n").action, Action::off);
    EXPECT_EQ(in("action=status\n").action, Action::status);
    EXPECT_EQ(in("action=monitor\n").action, Action::monitor);
    EXPECT_EQ(in("action=metadata\n").action, Action::metadata);
    EXPECT_EQ(in("action=manpage\n").action, Action::manpage);
    EXPECT_EQ(in("action=validate-all\n").action, Action::validate_all);
    // fencing.py's aliases, and its case folding.
    EXPECT_EQ(in("action=meta-data\n").action, Action::metadata);
    EXPECT_EQ(in("action=enable\n").action, Action::on);
    EXPECT_EQ(in("action=disable\n").action, Action::off);
    EXPECT_EQ(in("action=OFF\n").action, Action::off);
}

TEST(Stdin, RebootAndListAreUnsupportedInPacemakersWords) {
    for (const char* a : {"reboot", "list", "list-status"}) {
        Error e = in_err(std::string("action=") + a + "\n");
        EXPECT_EQ(e.code, Errc::unsupported);
        EXPECT_TRUE(contains(e.msg, "unsupported action")) << e.msg;
    }
    Error e = in_err("action=explode\n");
    EXPECT_EQ(e.code, Errc::unsupported);
    EXPECT_TRUE(contains(e.msg, "unrecognised action 'explode'")) << e.msg;
}

TEST(Stdin, FencingPyConventions) {
    // '-' and '_' are the same; quotes stripped; comments and blank lines skipped; spaces and CRs.
    auto a =
        in("# a comment\n\n  action = \"off\" \r\nkey-value=hash\ncorosync-cmap-path=\"/x\"\n"
           "key_file=/k\nkey-file=/k2\n");
    EXPECT_EQ(a.action, Action::off);
    EXPECT_EQ(a.key_value, cluster::KeyMethod::hash);
    EXPECT_EQ(a.cmap_path, "/x");
    EXPECT_EQ(a.key_file, "/k2");  // the last value wins
    // Only surrounding double quotes go.
    EXPECT_EQ(in("action=off\nplug=\"a\"b\"\n").target, "a\"b");
    EXPECT_EQ(in("action=off\nplug=\"ab\n").target, "\"ab");
    // A value may contain '='.
    EXPECT_EQ(in("action=off\nplug=a=b\n").target, "a=b");
}

TEST(Stdin, LastValueWins) {
    auto a = in("action=on\ndevices=/dev/a\naction=off\ndevices=/dev/b /dev/c\nkey=1\nkey=2\n");
    EXPECT_EQ(a.action, Action::off);
    EXPECT_EQ(a.devices, (std::vector<std::string>{"/dev/b", "/dev/c"}));
    EXPECT_EQ(a.key, 2u);
}

TEST(Stdin, Booleans) {
    for (const char* t : {"1", "yes", "on", "true", "TRUE", "Yes"})
        EXPECT_TRUE(in(std::string("action=on\naptpl=") + t + "\n").aptpl) << t;
    for (const char* f : {"0", "no", "off", "false", "False"})
        EXPECT_FALSE(in(std::string("action=on\naptpl=1\naptpl=") + f + "\n").aptpl) << f;
    Error e = in_err("action=on\naptpl=maybe\n");
    EXPECT_EQ(e.code, Errc::invalid_argument);
    EXPECT_TRUE(contains(e.msg, "aptpl: not a boolean")) << e.msg;
    EXPECT_TRUE(in("action=on\nverbose=on\n").verbose);
}

TEST(Stdin, UnknownNamesWarn) {
    auto a = in("action=off\nbogus_param=1\npcmk_host_list=a b\n");
    ASSERT_EQ(a.warnings.size(), 2u);
    EXPECT_TRUE(contains(a.warnings[0], "line 2")) << a.warnings[0];
    EXPECT_TRUE(contains(a.warnings[0], "unknown parameter 'bogus_param'")) << a.warnings[0];
    EXPECT_TRUE(contains(a.warnings[1], "pcmk_host_list")) << a.warnings[1];
    // help and version are the command line's.
    a = in("action=off\nhelp=1\n");
    EXPECT_FALSE(a.help);
    ASSERT_EQ(a.warnings.size(), 1u);
}

TEST(Stdin, Devices) {
    EXPECT_EQ(in("action=off\ndevices=/dev/sda, /dev/sdb\t/dev/sdc,,\n").devices,
              (std::vector<std::string>{"/dev/sda", "/dev/sdb", "/dev/sdc"}));
    EXPECT_EQ(in("action=off\ndevices=@/etc/prfence/luns\n").devices,
              (std::vector<std::string>{"@/etc/prfence/luns"}));
    EXPECT_EQ(in("action=off\ndevices=sim:/run/prsim.sock:0-63\n").devices,
              (std::vector<std::string>{"sim:/run/prsim.sock:0-63"}));
    EXPECT_TRUE(in("action=off\ndevices=\n").devices.empty());
}

TEST(Stdin, Types) {
    EXPECT_EQ(in("action=on\ntype=1\n").type, wire::PrType::write_exclusive);
    EXPECT_EQ(in("action=on\ntype=3\n").type, wire::PrType::exclusive_access);
    EXPECT_EQ(in("action=on\ntype=5\n").type, wire::PrType::write_exclusive_registrants_only);
    EXPECT_EQ(in("action=on\ntype=6\n").type, wire::PrType::exclusive_access_registrants_only);
    EXPECT_EQ(in("action=on\ntype=7\n").type, wire::PrType::write_exclusive_all_registrants);
    EXPECT_EQ(in("action=on\ntype=8\n").type, wire::PrType::exclusive_access_all_registrants);
    EXPECT_EQ(in("action=on\ntype=WE\n").type, wire::PrType::write_exclusive);
    EXPECT_EQ(in("action=on\ntype=ea-ro\n").type, wire::PrType::exclusive_access_registrants_only);
    for (const char* bad : {"2", "4", "9", "0", "XX", ""}) {
        Error e = in_err(std::string("action=on\ntype=") + bad + "\n");
        EXPECT_EQ(e.code, Errc::invalid_argument) << bad;
        EXPECT_TRUE(contains(e.msg, "type: ")) << e.msg;
    }
}

TEST(Stdin, Keys) {
    EXPECT_EQ(in("action=off\nkey=4a5c26f7\n").key, 0x4a5c26f7u);
    EXPECT_EQ(in("action=off\nkey=0x4a5c26f7\n").key, 0x4a5c26f7u);
    EXPECT_EQ(in("action=off\nkey=0XFFFFFFFFFFFFFFFF\n").key, 0xffffffffffffffffu);
    for (const char* bad : {"xyz", "0x", "", "12345678901234567", "-1", "4a5c 26f7"}) {
        Error e = in_err(std::string("action=off\nkey=") + bad + "\n");
        EXPECT_EQ(e.code, Errc::invalid_argument) << bad;
        EXPECT_TRUE(contains(e.msg, "key: ")) << e.msg;
    }
    for (const char* zero : {"0", "0x0", "0000"}) {
        Error e = in_err(std::string("action=off\nkey=") + zero + "\n");
        EXPECT_TRUE(contains(e.msg, "0 is not a usable key")) << e.msg;
    }
    EXPECT_EQ(in("action=on\nkey_value=id\n").key_value, cluster::KeyMethod::id);
    EXPECT_EQ(in_err("action=on\nkey_value=md5\n").code, Errc::invalid_argument);
}

TEST(Stdin, Seconds) {
    EXPECT_EQ(in("action=off\ndelay=0\n").delay, 0s);
    EXPECT_EQ(in("action=off\ndelay=86400\n").delay, 86400s);
    for (const char* bad : {"x", "-1", "1.5", "", "10s", "86401", "9999999"}) {
        Error e = in_err(std::string("action=off\ndelay=") + bad + "\n");
        EXPECT_EQ(e.code, Errc::invalid_argument) << bad;
        EXPECT_TRUE(contains(e.msg, "delay: ")) << e.msg;
    }
    EXPECT_EQ(in("action=off\ndeadline=2.5\n").deadline, 2500ms);
    EXPECT_EQ(in("action=off\ndeadline=0.001\n").deadline, 1ms);
    EXPECT_EQ(in("action=off\ndeadline=7\n").deadline, 7s);
    for (const char* bad : {"0", "0.0", "1.", ".5", "1.2345", "x", "-3", "86401"}) {
        Error e = in_err(std::string("action=off\ndeadline=") + bad + "\n");
        EXPECT_TRUE(contains(e.msg, "deadline: ")) << bad << ": " << e.msg;
    }
}

TEST(Stdin, EmptyInput) {
    Error e = in_err("");
    EXPECT_EQ(e.code, Errc::invalid_argument);
    EXPECT_TRUE(contains(e.msg, "no parameters on stdin")) << e.msg;
}

TEST(Stdin, NoActionIsRefused) {
    for (const char* t :
         {"\n", "# nothing\n", "nodename=node-b\nport=node-b\ndevices=/dev/sdb\n"}) {
        Error e = in_err(t);
        EXPECT_EQ(e.code, Errc::invalid_argument);
        EXPECT_TRUE(contains(e.msg, "action: missing")) << e.msg;
    }
}

TEST(Stdin, LineWithoutEqualsNamesItsLine) {
    Error e = in_err("action=off\n\nverbose\n");
    EXPECT_EQ(e.code, Errc::invalid_argument);
    EXPECT_TRUE(contains(e.msg, "stdin line 3")) << e.msg;
    EXPECT_TRUE(contains(in_err("action=off\n=x\n").msg, "stdin line 2")) << "no name";
}

TEST(Stdin, NoFinalNewlineIsTruncation) {
    // What the fencer's cut looks like: the action arrived, the end of a long devices list did not.
    std::string text = "action=off\nnodename=node-b\ndevices=/dev/sda,/dev/sdb,/dev/s";
    Error e = in_err(text);
    EXPECT_EQ(e.code, Errc::truncated);
    EXPECT_TRUE(contains(e.msg, "input truncated")) << e.msg;
    EXPECT_TRUE(contains(e.msg, std::to_string(text.size()) + " bytes")) << e.msg;
    EXPECT_TRUE(contains(e.msg, "group=")) << e.msg;
    EXPECT_TRUE(contains(e.msg, "devices=@FILE")) << e.msg;
    EXPECT_EQ(in_err("action=off").code, Errc::truncated);
}

TEST(Stdin, OversizeIsTruncation) {
    std::string devs;
    while (devs.size() < 70000) devs += "/dev/disk/by-id/wwn-0x6001405aaaaaaaaaaaaaaaaaaaaaaaaa,";
    const std::string text = "action=off\nnodename=node-b\ndevices=" + devs + "\n";
    Error e = in_err(text);
    EXPECT_EQ(e.code, Errc::truncated);
    EXPECT_TRUE(contains(e.msg, "input truncated")) << e.msg;
    EXPECT_TRUE(contains(e.msg, std::to_string(text.size()) + " bytes")) << e.msg;
    EXPECT_TRUE(contains(e.msg, "group=")) << e.msg;
    // Exactly kMaxStdin is still taken.
    std::string fit = "action=off\nplug=";
    fit += std::string(kMaxStdin - fit.size() - 1, 'x') + "\n";
    ASSERT_EQ(fit.size(), kMaxStdin);
    EXPECT_TRUE(parse_stdin(fit));
    EXPECT_EQ(in_err(fit + "\n").code, Errc::truncated);
}

TEST(Argv, LongOptionsBothSpellings) {
    auto a = cl({"--action=on", "--plug", "node-a", "--key-value=hash", "--devices=/dev/sda",
                 "--type", "EA", "--aptpl", "--delay=2", "--deadline", "30",
                 "--corosync_cmap_path=/c", "--key-file", "/k", "--initiator=i", "--verbose"});
    EXPECT_EQ(a.action, Action::on);
    EXPECT_EQ(a.target, "node-a");
    EXPECT_EQ(a.key_value, cluster::KeyMethod::hash);
    EXPECT_EQ(a.devices, (std::vector<std::string>{"/dev/sda"}));
    EXPECT_EQ(a.type, wire::PrType::exclusive_access);
    EXPECT_TRUE(a.aptpl);
    EXPECT_EQ(a.delay, 2s);
    EXPECT_EQ(a.deadline, 30s);
    EXPECT_EQ(a.cmap_path, "/c");
    EXPECT_EQ(a.key_file, "/k");
    EXPECT_EQ(a.initiator, "i");
    EXPECT_TRUE(a.verbose);
    EXPECT_EQ(cl({"--key_value=hash"}).key_value, cluster::KeyMethod::hash);
    EXPECT_EQ(cl({"--key_file=/a"}).key_file, "/a");
    EXPECT_EQ(cl({"--corosync-cmap-path", "/b"}).cmap_path, "/b");
}

TEST(Argv, ShortOptionsAsFencingPy) {
    auto a = cl(
        {"-o", "status", "-n", "node-b", "-d", "/dev/sdb,/dev/sdc", "-k", "4a5c26f7", "-v", "-a"});
    EXPECT_EQ(a.action, Action::status);
    EXPECT_EQ(a.target, "node-b");
    EXPECT_EQ(a.devices.size(), 2u);
    EXPECT_EQ(a.key, 0x4a5c26f7u);
    EXPECT_TRUE(a.verbose);
    EXPECT_TRUE(a.aptpl);
    EXPECT_TRUE(cl({"-h"}).help);
    EXPECT_TRUE(cl({"-V"}).version);
    EXPECT_TRUE(cl({"--help"}).help);
    EXPECT_TRUE(cl({"--version"}).version);
    EXPECT_EQ(cl({"-ometadata"}).action, Action::metadata);
    EXPECT_TRUE(cl({"-va"}).aptpl);
}

TEST(Argv, EveryOtherParameter) {
    auto a =
        cl({"--port=p", "--group", "g", "--socket=/s", "--nodename=n", "--key=0x1", "--nodeid=3"});
    EXPECT_EQ(a.target, "n");
    EXPECT_EQ(a.group, "g");
    EXPECT_EQ(a.socket, "/s");
    EXPECT_EQ(a.key, 1u);
    EXPECT_EQ(cl({"--port=p"}).target, "p");
}

TEST(Argv, DefaultsAndBooleanValues) {
    auto a = cl({});
    EXPECT_EQ(a.action, Action::off);  // fabric agents default to off
    EXPECT_FALSE(a.help);
    EXPECT_FALSE(cl({"--aptpl=0"}).aptpl);
    EXPECT_TRUE(cl({"--aptpl=yes"}).aptpl);
    EXPECT_EQ(cl_err({"--aptpl=2"}).code, Errc::invalid_argument);
    // Parsing twice in one process starts over.
    EXPECT_EQ(cl({"-o", "on"}).action, Action::on);
    EXPECT_EQ(cl({"-o", "on"}).action, Action::on);
}

TEST(Argv, Aliases) {
    EXPECT_EQ(cl({"-o", "meta-data"}).action, Action::metadata);
    EXPECT_EQ(cl({"--action=enable"}).action, Action::on);
    EXPECT_EQ(cl({"--action", "disable"}).action, Action::off);
    Error e = cl_err({"-o", "reboot"});
    EXPECT_EQ(e.code, Errc::unsupported);
    EXPECT_TRUE(contains(e.msg, "unsupported action")) << e.msg;
}

TEST(Argv, Refusals) {
    EXPECT_TRUE(contains(cl_err({"--bogus=1"}).msg, "unknown option '--bogus=1'"));
    EXPECT_TRUE(contains(cl_err({"-x"}).msg, "unknown option '-x'"));
    EXPECT_TRUE(contains(cl_err({"--action"}).msg, "needs a value"));
    EXPECT_TRUE(contains(cl_err({"-k"}).msg, "needs a value"));
    EXPECT_TRUE(contains(cl_err({"off"}).msg, "unexpected argument 'off'"));
    EXPECT_TRUE(contains(cl_err({"--key=0"}).msg, "0 is not a usable key"));
    EXPECT_TRUE(contains(cl_err({"--key=zz"}).msg, "key: "));
    EXPECT_TRUE(contains(cl_err({"--type=4"}).msg, "type: "));
    EXPECT_TRUE(contains(cl_err({"--delay=soon"}).msg, "delay: not a number of seconds"));
    EXPECT_TRUE(contains(cl_err({"--deadline=0"}).msg, "deadline: "));
    EXPECT_TRUE(contains(cl_err({"--key-value=x"}).msg, "key_value: "));
}

AgentArgs base(Action act) {
    AgentArgs a;
    a.action = act;
    a.devices = {"/dev/sdb"};
    a.target = "node-b";
    return a;
}

TEST(Validate, AcceptsTheFencersCalls) {
    for (const char* t : {"nodename=node-b\naction=off\nport=node-b\ndevices=/dev/sdb\n",
                          "nodename=node-a\naction=on\nport=node-a\ndevices=/dev/sdb\nnodeid=1\n",
                          "action=monitor\ndevices=/dev/sdb\n",
                          "nodename=node1\naction=validate-all\nport=node1\ndevices=X\n",
                          "action=off\nkey=4a5c26f7\ngroup=g\nsocket=/s\n", "action=metadata\n"}) {
        auto v = validate(in(t));
        EXPECT_TRUE(v) << t << ": " << v.error().msg;
    }
}

TEST(Validate, ExactlyOneOfDevicesAndGroup) {
    AgentArgs a = base(Action::off);
    a.group = "g";
    auto v = validate(a);
    ASSERT_FALSE(v);
    EXPECT_TRUE(contains(v.error().msg, "devices= for LUs")) << v.error().msg;
    EXPECT_TRUE(contains(v.error().msg, "group= for a prfenced LUN group")) << v.error().msg;
    a.devices.clear();
    a.group.clear();
    v = validate(a);
    ASSERT_FALSE(v);
    EXPECT_TRUE(contains(v.error().msg, "give devices=")) << v.error().msg;
    EXPECT_TRUE(contains(v.error().msg, "group=")) << v.error().msg;
    // Even a monitor or validate-all needs them.
    a.action = Action::monitor;
    EXPECT_FALSE(validate(a));
    a.action = Action::validate_all;
    EXPECT_FALSE(validate(a));
}

TEST(Validate, KeyOrTargetWhereTheActionNeedsOne) {
    for (Action act : {Action::on, Action::off, Action::status}) {
        AgentArgs a = base(act);
        a.target.clear();
        auto v = validate(a);
        ASSERT_FALSE(v) << action_name(act);
        EXPECT_TRUE(contains(v.error().msg, std::string(action_name(act)) + ": needs key="))
            << v.error().msg;
        a.key = 0x4a5c26f7;
        EXPECT_TRUE(validate(a)) << action_name(act);
    }
    for (Action act : {Action::monitor, Action::validate_all, Action::metadata, Action::manpage}) {
        AgentArgs a = base(act);
        a.target.clear();
        EXPECT_TRUE(validate(a)) << action_name(act);
    }
}

TEST(Validate, DelayBelowDeadline) {
    AgentArgs a = base(Action::off);
    a.delay = 49s;
    EXPECT_TRUE(validate(a));
    a.delay = 50s;
    auto v = validate(a);
    ASSERT_FALSE(v);
    EXPECT_TRUE(contains(v.error().msg, "delay: ")) << v.error().msg;
    a.deadline = 60s;
    EXPECT_TRUE(validate(a));
}

TEST(Validate, SocketOnlyWithGroup) {
    AgentArgs a = base(Action::off);
    a.socket = "/run/x.sock";
    auto v = validate(a);
    ASSERT_FALSE(v);
    EXPECT_TRUE(contains(v.error().msg, "socket: ")) << v.error().msg;
    a.devices.clear();
    a.group = "g";
    EXPECT_TRUE(validate(a));
}

TEST(Validate, MetadataNeedsNothing) {
    AgentArgs a;
    a.action = Action::metadata;
    EXPECT_TRUE(validate(a));
    a.action = Action::manpage;
    EXPECT_TRUE(validate(a));
}

TEST(ActionName, AllOfThem) {
    EXPECT_STREQ(action_name(Action::on), "on");
    EXPECT_STREQ(action_name(Action::validate_all), "validate-all");
    // Every name parses back to its action.
    for (Action act : {Action::on, Action::off, Action::status, Action::monitor, Action::metadata,
                       Action::manpage, Action::validate_all})
        EXPECT_EQ(in(std::string("action=") + action_name(act) + "\n").action, act);
}

// The XML itself is checked against fence-agents' schema by cli/fence_prfence_metadata_test.sh;
// here, what Pacemaker reads from it.
TEST(Metadata, WhatPacemakerReads) {
    const std::string x = metadata_xml();
    EXPECT_TRUE(contains(x, "<resource-agent name=\"fence_prfence\" shortdesc=\"")) << x;
    EXPECT_TRUE(contains(x, "<action name=\"on\" on_target=\"1\" automatic=\"1\" />"));
    for (const char* act : {"off", "status", "monitor", "metadata", "manpage", "validate-all"})
        EXPECT_TRUE(contains(x, std::string("<action name=\"") + act + "\" />")) << act;
    EXPECT_FALSE(contains(x, "\"reboot\""));
    EXPECT_FALSE(contains(x, "\"list\""));
    // plug and port exist (the fencer sends the target as port=), nodeid does not (it would send
    // corosync ids nothing here uses).
    EXPECT_TRUE(contains(x,
                         "<parameter name=\"plug\" unique=\"0\" required=\"0\" "
                         "obsoletes=\"port\">"));
    EXPECT_TRUE(contains(x,
                         "<parameter name=\"port\" unique=\"0\" required=\"0\" "
                         "deprecated=\"1\">"));
    EXPECT_FALSE(contains(x, "name=\"nodeid\""));
    EXPECT_TRUE(contains(x, "<getopt mixed=\"--key-value=&lt;id|hash&gt;\" />"));
    EXPECT_TRUE(contains(x, "<content type=\"second\" default=\"50\" />"));
    EXPECT_TRUE(contains(x, "<option value=\"validate-all\" />"));
}

TEST(Metadata, EveryParameterParsesOnStdinAndArgv) {
    // Each parameter the metadata declares is one the parsers take under that name.
    const std::string x = metadata_xml();
    size_t pos = 0, n = 0;
    const std::string tag = "<parameter name=\"";
    while ((pos = x.find(tag, pos)) != std::string::npos) {
        pos += tag.size();
        const std::string name = x.substr(pos, x.find('"', pos) - pos);
        ++n;
        // A value each parameter accepts.
        std::string value = "1";
        if (name == "action") value = "status";
        if (name == "key_value") value = "hash";
        if (name == "version" || name == "help") {
            EXPECT_TRUE(cl({"--" + name}).help || cl({"--" + name}).version) << name;
            continue;
        }
        auto a = in("action=off\n" + name + "=" + value + "\n");
        EXPECT_TRUE(a.warnings.empty()) << name << ": " << a.warnings.front();
        std::string dashed = name;
        for (char& c : dashed)
            if (c == '_') c = '-';
        Argv argv({"--" + dashed + "=" + value});
        EXPECT_TRUE(parse_argv(argv.argc(), argv.ptrs.data())) << name;
    }
    EXPECT_EQ(n, 19u);
}

TEST(Usage, ListsOptions) {
    const std::string u = usage_text();
    EXPECT_TRUE(contains(u, "Usage:"));
    EXPECT_TRUE(contains(u, "-o, --action=[action]"));
    EXPECT_TRUE(contains(u, "--key-value=<id|hash>"));
    EXPECT_TRUE(contains(u, "(default 50)"));
    EXPECT_FALSE(contains(u, "nodeid"));
}

}  // namespace
}  // namespace prfence::agent
