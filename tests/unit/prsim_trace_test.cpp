// SPDX-License-Identifier: MIT
// prsim's kernel-format text: the scsi_dispatch_cmd_done line and the reservation-conflict dmesg
// lines, byte-exact per kernel generation, and the fault spec parser. The 6.1 READ(10) vectors are
// the lines a Debian 6.1 guest with LIO printed (seen in the QEMU guest) with ftrace's / dmesg's
// prefixes.
#include <gtest/gtest.h>

#include <string>

#include "interposer/prsim/config.h"
#include "interposer/prsim/faults.h"
#include "interposer/prsim/trace.h"
#include "tests/support/test_util.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/sense.h"

namespace prfence::sim {
namespace {

using test::hex;

struct Fixture {
    Bytes cdb;
    CompletionEvent e;
    TraceStyle st;
    Fixture(const Bytes& c, uint8_t status, const char* kernel) : cdb(c) {
        e.ts_ns = 1234567890123;  // 1234.567890123 s: ftrace rounds to 1234.567890, dmesg truncates
        e.cpu = 0;
        e.host = 1;
        e.id = 1;
        e.lun = 0;
        e.driver_tag = 21;
        e.cdb = cdb;
        e.data_len = 4096;
        e.status = status;
        e.disk = "sdb";
        st.pid = 1234;
        st.kernel = *parse_kernel_version(kernel);
    }
    std::string done() {
        std::string s;
        format_cmd_done(s, e, st);
        return s;
    }
    std::string dmesg() {
        std::string s;
        format_conflict_dmesg(s, e, st);
        return s;
    }
};

const Bytes kRead10 = hex("28 00 00 00 00 00 00 00 08 00");
const char* const kCtx =
    "           prsim-1234    [000] .....  1234.567890: scsi_dispatch_cmd_done: ";

TEST(PrsimTrace, Read10ConflictKernel61) {
    Fixture f(kRead10, 0x18, "6.1");
    EXPECT_EQ(
        f.done(),
        std::string(kCtx) +
            "host_no=1 channel=0 id=1 lun=0 data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL "
            "driver_tag=21 scheduler_tag=21 cmnd=(READ_10 lba=0 txlen=8 protect=0 raw=28 00 00 00 "
            "00 00 00 00 08 00) result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
            "status=SAM_STAT_RESERVATION_CONFLICT)\n");
    EXPECT_EQ(
        f.dmesg(),
        "[ 1234.567890] sd 1:0:1:0: reservation conflict\n"
        "[ 1234.567890] sd 1:0:1:0: [sdb] tag#21 FAILED Result: hostbyte=DID_OK "
        "driverbyte=DRIVER_OK "
        "cmd_age=0s\n"
        "[ 1234.567890] sd 1:0:1:0: [sdb] tag#21 CDB: Read(10) 28 00 00 00 00 00 00 00 08 00\n"
        "[ 1234.567890] critical nexus error, dev sdb, sector 0 op 0x0:(READ) flags 0x800 phys_seg "
        "1 "
        "prio class 2\n");
}

TEST(PrsimTrace, Read10ConflictKernel515) {
    Fixture f(kRead10, 0x18, "5.15");
    EXPECT_EQ(f.done(),
              std::string(kCtx) +
                  "host_no=1 channel=0 id=1 lun=0 data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL "
                  "cmnd=(READ_10 lba=0 txlen=8 protect=0 raw=28 00 00 00 00 00 00 00 08 00) "
                  "result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
                  "status=SAM_STAT_RESERVATION_CONFLICT)\n");
    const std::string d = f.dmesg();
    EXPECT_NE(
        d.find("\n[ 1234.567890] blk_update_request: critical nexus error, dev sdb, sector 0 op "
               "0x0:(READ) flags 0x800 phys_seg 1 prio class 2\n"),
        std::string::npos)
        << d;
}

TEST(PrsimTrace, Write16ConflictKernel612) {
    // WRITE(16) of 16 blocks at LBA 0x100 on a 4096-byte-block LU: sector = LBA * 8.
    Fixture f(hex("8a 00 00 00 00 00 00 00 01 00 00 00 00 10 00 00"), 0x18, "6.12");
    f.e.block_size = 4096;
    f.e.data_len = 65536;
    f.e.cmd_age_ns = 2'500'000'000;
    EXPECT_EQ(
        f.done(),
        std::string(kCtx) +
            "host_no=1 channel=0 id=1 lun=0 data_sgl=16 prot_sgl=0 prot_op=SCSI_PROT_NORMAL "
            "driver_tag=21 scheduler_tag=21 cmnd=(WRITE_16 lba=256 txlen=16 protect=0 raw=8a 00 "
            "00 00 00 00 00 00 01 00 00 00 00 10 00 00) result=(driver=DRIVER_OK host=DID_OK "
            "message=COMMAND_COMPLETE status=SAM_STAT_RESERVATION_CONFLICT) sense=(key=0x0 "
            "asc=0x0 ascq=0x0)\n");
    EXPECT_EQ(f.dmesg(),
              "[ 1234.567890] sd 1:0:1:0: reservation conflict\n"
              "[ 1234.567890] sd 1:0:1:0: [sdb] tag#21 FAILED Result: hostbyte=DID_OK "
              "driverbyte=DRIVER_OK "
              "cmd_age=2s\n"
              "[ 1234.567890] sd 1:0:1:0: [sdb] tag#21 CDB: Write(16) 8a 00 00 00 00 00 00 00 01 "
              "00 00 00 00 10 "
              "00 00\n"
              "[ 1234.567890] reservation conflict error, dev sdb, sector 2048 op 0x1:(WRITE) "
              "flags 0x8800 "
              "phys_seg 16 prio class 2\n");
}

TEST(PrsimTrace, PrOutConflictIsPassthrough) {
    // PR OUT (REGISTER) answered RESERVATION CONFLICT: the tracepoint has no parser for it ("-")
    // and the kernel prints only the midlayer's line for a SG_IO command.
    Fixture f(hex("5f 00 00 00 00 00 00 00 18 00"), 0x18, "6.1");
    f.e.data_len = 24;
    EXPECT_EQ(
        f.done(),
        std::string(kCtx) +
            "host_no=1 channel=0 id=1 lun=0 data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL "
            "driver_tag=21 scheduler_tag=21 cmnd=(PERSISTENT_RESERVE_OUT - raw=5f 00 00 00 00 00 "
            "00 00 18 00) result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
            "status=SAM_STAT_RESERVATION_CONFLICT)\n");
    EXPECT_EQ(f.dmesg(), "[ 1234.567890] sd 1:0:1:0: reservation conflict\n");
}

TEST(PrsimTrace, CheckConditionSenseOnlyFrom65) {
    Bytes sense = wire::make_fixed_sense(wire::SenseKey::unit_attention, 0x29, 0x00);
    Fixture f(hex("5e 00 00 00 00 00 00 20 00 00"), 0x02, "6.12");
    f.e.sense = sense;
    f.e.data_len = 8192;
    const std::string s = f.done();
    EXPECT_NE(s.find("data_sgl=2 "), std::string::npos) << s;
    EXPECT_NE(s.find("cmnd=(PERSISTENT_RESERVE_IN - raw=5e 00 00 00 00 00 00 20 00 00)"),
              std::string::npos)
        << s;
    EXPECT_NE(s.find("status=SAM_STAT_CHECK_CONDITION) sense=(key=0x6 asc=0x29 ascq=0x0)\n"),
              std::string::npos)
        << s;
    Fixture g(hex("5e 00 00 00 00 00 00 20 00 00"), 0x02, "6.4");
    g.e.sense = sense;
    EXPECT_EQ(g.done().find("sense="), std::string::npos);
    EXPECT_TRUE(g.dmesg().empty());  // only conflicts print dmesg lines
}

TEST(PrsimTrace, CdbParsersAndUnknownOpcodes) {
    EXPECT_EQ(ftrace_cmnd(hex("08 1f ff ff 00 00")),
              "READ_6 lba=2097151 txlen=256 raw=08 1f ff ff 00 00");
    EXPECT_EQ(ftrace_cmnd(hex("41 08 00 00 00 10 00 00 01 00")),
              "WRITE_SAME lba=16 txlen=1 protect=0 unmap=1 raw=41 08 00 00 00 10 00 00 01 00");
    EXPECT_EQ(ftrace_cmnd(hex("a8 20 00 00 00 01 00 00 00 02 00 00")),
              "READ_12 lba=1 txlen=2 protect=1 raw=a8 20 00 00 00 01 00 00 00 02 00 00");
    EXPECT_EQ(ftrace_cmnd(hex("9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00")),
              "SERVICE_ACTION_IN_16 READ_CAPACITY_16 lba=0 alloc_len=32 raw=9e 10 00 00 00 00 00 "
              "00 00 00 00 00 00 "
              "20 00 00");
    EXPECT_EQ(ftrace_cmnd(hex("00 00 00 00 00 00")), "TEST_UNIT_READY - raw=00 00 00 00 00 00");
    EXPECT_EQ(ftrace_cmnd(hex("c1 00 00 00 00 00")), "0xc1 - raw=c1 00 00 00 00 00");
    // A CDB shorter than its opcode needs never reads past what was sent.
    EXPECT_EQ(ftrace_cmnd(hex("28 00 00")), "READ_10 lba=0 txlen=0 protect=0 raw=28 00 00");
    EXPECT_EQ(ftrace_cmnd(hex("42 00 00 00 00 00 00 00 00 00")),
              "UNMAP regions=268435455 raw=42 00 00 00 00 00 00 00 00 00");
}

TEST(PrsimTrace, TimestampsAndWidth) {
    Fixture f(kRead10, 0, "6.1");
    f.e.ts_ns = 123456'999'999'600;  // ftrace rounds up into the next second, dmesg does not
    f.e.cpu = 1;
    f.st.comm = "a-very-long-command-name";
    f.e.status = 0x18;
    const std::string s = f.done();
    EXPECT_EQ(s.substr(0, 50), " a-very-long-com-1234    [001] ..... 123457.000000");
    EXPECT_EQ(f.dmesg().substr(0, 16), "[123456.999999] ");
}

TEST(PrsimTrace, SdNames) {
    EXPECT_EQ(sd_disk_name(0), "sda");
    EXPECT_EQ(sd_disk_name(1), "sdb");
    EXPECT_EQ(sd_disk_name(25), "sdz");
    EXPECT_EQ(sd_disk_name(26), "sdaa");
    EXPECT_EQ(sd_disk_name(701), "sdzz");
    EXPECT_EQ(sd_disk_name(702), "sdaaa");
    EXPECT_EQ(sd_disk_name(18277), "sdzzz");
    EXPECT_EQ(sd_disk_name(18278), "sdaaaa");
    EXPECT_EQ(sd_disk_name((1 * 2 + 1) * 4096 + 5),
              "sdrdv");  // the example in PROTOCOL.md section 6
}

TEST(PrsimTrace, KernelVersions) {
    EXPECT_TRUE(parse_kernel_version("6.12").ok());
    EXPECT_FALSE(parse_kernel_version("6").ok());
    EXPECT_FALSE(parse_kernel_version("4.19").ok());
    EXPECT_FALSE(parse_kernel_version("6.1x").ok());
    auto v = *parse_kernel_version("5.16");
    EXPECT_FALSE(v.blk_update_prefix());
    EXPECT_FALSE(v.has_tags());
    EXPECT_EQ(kernel_version_string(v), "5.16");
}

TEST(PrsimFaults, ParseCompactAndJson) {
    auto f =
        parse_fault("latency,class=pr_out,dist=lognormal,median_us=200,sigma=0.5,luns=0-99,200");
    ASSERT_TRUE(f.ok()) << f.error().msg;
    EXPECT_EQ(f->kind, FaultKind::latency);
    EXPECT_EQ(f->latency.dist, Latency::Dist::lognormal);
    EXPECT_TRUE(f->luns.contains(200));
    EXPECT_TRUE(f->luns.contains(99));
    EXPECT_FALSE(f->luns.contains(100));
    EXPECT_EQ(f->classes, class_bit(CmdClass::pr_out));
    auto g = parse_fault(R"({"kind":"unit_attention","luns":"3","n":5})");
    ASSERT_TRUE(g.ok()) << g.error().msg;
    EXPECT_EQ(g->asc, 0x3f);
    EXPECT_EQ(g->ascq, 0x0e);
    EXPECT_EQ(g->ua_count, 5u);
    auto h = parse_fault("lost_path,initiator=iqn.2001-05.com.example:node-a,i,0x23d000001,port=2");
    ASSERT_TRUE(h.ok()) << h.error().msg;
    ASSERT_TRUE(h->initiator.has_value());
    EXPECT_EQ(h->initiator->iscsi_isid, "23d000001");
    EXPECT_EQ(h->target_port, 2);
    auto nr = parse_fault("not_ready,for_ms=100");
    ASSERT_TRUE(nr.ok());
    EXPECT_EQ(nr->asc, 0x04);
    EXPECT_EQ(nr->ascq, 0x01);
    auto an = parse_fault("answer,key=b,asc=10,ascq=1,info=9,host_byte=0");
    ASSERT_TRUE(an.ok()) << an.error().msg;
    EXPECT_EQ(an->status, 0x02);  // CHECK CONDITION unless told otherwise
    EXPECT_EQ(an->sense_key, 0xb);
    EXPECT_EQ(an->asc, 0x10);
    EXPECT_EQ(an->info, 9u);
    auto aj = parse_fault(R"({"kind":"answer","status":24,"host_byte":17})");
    ASSERT_TRUE(aj.ok()) << aj.error().msg;
    EXPECT_EQ(aj->status, 0x18);  // JSON numbers are the byte's value
    EXPECT_EQ(aj->host_byte, 0x11);
    // Round trip through JSON.
    for (const auto* spec : {&*f, &*an, &*aj}) {
        auto back = fault_from_json(fault_to_json(*spec));
        ASSERT_TRUE(back.ok()) << back.error().msg;
        EXPECT_EQ(fault_to_json(*back), fault_to_json(*spec));
    }
    for (const char* bad : {"", "explode", "latency,bogus=1", "latency,class=writes", "busy,p=1.5",
                            "latency,dist=uniform,min_us=5,max_us=1", "latency,dist=lognormal",
                            "busy,luns=9-3", "timeout,port=0", "{\"kind\":1}", "{", "ua,n=0",
                            "answer,key=10", "answer,status=100", "answer,host_byte=x"})
        EXPECT_FALSE(parse_fault(bad).ok()) << bad;
}

TEST(PrsimFaults, TableDecides) {
    FaultTable t(1);
    const wire::TransportId tid = *wire::parse_transport_id("iqn.2001-05.com.example:node-a");
    NexusRef nx{0, 1, 1, &tid};
    EXPECT_EQ(t.decide(0, 0x5f, nx, 0).action, Decision::Action::execute);
    const uint32_t lat = t.arm(*parse_fault("latency,class=pr_out,us=250"), 0);
    EXPECT_EQ(t.decide(0, 0x5f, nx, 0).delay_ns, 250000);
    EXPECT_EQ(t.decide(0, 0x5e, nx, 0).delay_ns, 0);
    t.arm(*parse_fault("busy,luns=1,count=2"), 0);
    EXPECT_EQ(t.decide(1, 0x28, nx, 0).action, Decision::Action::busy);
    EXPECT_EQ(t.decide(1, 0x28, nx, 0).action, Decision::Action::busy);
    EXPECT_EQ(t.decide(1, 0x28, nx, 0).action, Decision::Action::execute);  // count ran out
    t.arm(*parse_fault("lost_path,port=2"), 0);
    NexusRef other{1, 1, 2, &tid};
    EXPECT_EQ(t.decide(0, 0x5f, other, 0).action, Decision::Action::hold);
    EXPECT_EQ(t.decide(0, 0x5f, nx, 0).action, Decision::Action::execute);
    const uint32_t ua = t.arm(*parse_fault("unit_attention,n=2"), 0);
    auto d = t.decide(5, 0x00, nx, 0);
    ASSERT_EQ(d.n_uas, 1);
    EXPECT_EQ(d.uas[0].asc, 0x3f);
    EXPECT_EQ(t.decide(5, 0x12, nx, 0).n_uas, 0);  // INQUIRY does not take a unit attention
    EXPECT_EQ(t.decide(5, 0x00, nx, 0).n_uas, 1);
    EXPECT_EQ(t.decide(5, 0x00, nx, 0).n_uas, 0);  // n=2 per (nexus, LU)
    EXPECT_EQ(t.decide(6, 0x00, nx, 0).n_uas, 1);
    t.arm(*parse_fault("not_ready,for_ms=10"), 0);
    EXPECT_EQ(t.decide(7, 0x00, nx, 0).action, Decision::Action::not_ready);
    EXPECT_EQ(t.decide(7, 0x12, nx, 0).action, Decision::Action::execute);  // INQUIRY is answered
    EXPECT_EQ(t.decide(7, 0x00, nx, 11'000'000).action, Decision::Action::execute);  // expired
    EXPECT_TRUE(t.disarm(lat));
    EXPECT_TRUE(t.disarm(ua));
    EXPECT_FALSE(t.disarm(lat));
    EXPECT_EQ(t.list(0).size(), 1u);  // the lost path
    EXPECT_EQ(t.disarm_all(), 1u);
    // Log-normal and uniform delays stay within sane bounds.
    t.arm(*parse_fault("latency,dist=uniform,min_us=10,max_us=20"), 0);
    for (int i = 0; i < 100; ++i) {
        int64_t ns = t.decide(0, 0x28, nx, 0).delay_ns;
        EXPECT_GE(ns, 10000);
        EXPECT_LE(ns, 20000);
    }
}

TEST(PrsimConfig, JsonFileSettings) {
    ServerConfig cfg;
    auto j = nlohmann::json::parse(R"({
        "socket": "/run/prsim.sock", "luns": 64, "target_ports": 4, "state_dir": "/var/lib/prsim",
        "kernel_format": "6.12",
        "trace": {"path": "/tmp/t", "comm": "kworker/0:1H", "scheduler": "none", "cpu": 1},
        "defaults": {"block_size": 4096, "blocks": 1024, "vendor": "LIO-ORG"},
        "lu": [{"luns": "8-15", "profile": "lio", "backing_file": "/srv/lu{lun}.img"},
               {"luns": 9, "blocks": 8}],
        "hosts": {"iqn.2001-05.com.example:node-a": 7},
        "target_port_ids": {"2": 5},
        "faults": ["busy,luns=3", {"kind": "latency", "class": "pr_out", "us": 50}],
        "limits": {"max_in_flight": 64, "max_output": 1048576, "stall_ms": 100}
    })");
    ASSERT_TRUE(apply_config_json(j, cfg).ok());
    ASSERT_TRUE(validate_config(cfg).ok());
    EXPECT_EQ(cfg.luns, 64u);
    EXPECT_EQ(cfg.trace.style.kernel.minor, 12);
    EXPECT_FALSE(cfg.trace.style.scheduler_tags);
    EXPECT_EQ(cfg.trace.cpu, 1);
    EXPECT_EQ(cfg.faults.size(), 2u);
    EXPECT_EQ(cfg.hosts.size(), 1u);
    EXPECT_EQ(cfg.port_ids.at(2), 5);
    EXPECT_EQ(cfg.limits.stall_ms, 100u);
    auto l0 = lu_config_for(cfg, 0);
    ASSERT_TRUE(l0.ok());
    EXPECT_EQ(l0->block_size, 4096u);
    EXPECT_EQ(l0->vendor, "LIO-ORG");
    EXPECT_EQ(l0->profile, Profile::spc4);
    EXPECT_EQ(l0->target_ports, 4);
    EXPECT_EQ(l0->aptpl_file->string(), "/var/lib/prsim/lun00000.aptpl");
    auto l9 = lu_config_for(cfg, 9);
    ASSERT_TRUE(l9.ok());
    EXPECT_EQ(l9->profile, Profile::lio);
    EXPECT_EQ(l9->blocks, 8u);
    EXPECT_EQ(l9->lun, 9u);
    EXPECT_EQ(l9->backing_file->string(), "/srv/lu9.img");
    for (const char* bad :
         {R"({"lunz": 3})", R"({"luns": -1})", R"({"defaults": {"block_size": 1000}})",
          R"({"lu": [{"profile": "lio"}]})", R"({"faults": ["nonsense"]})",
          R"({"hosts": {"not a tid": 1}})", R"({"trace": {"irq_flags": "d"}})",
          R"({"kernel_format": "4.9"})", R"({"limits": {"max_output": 10}})"}) {
        ServerConfig c;
        EXPECT_FALSE(apply_config_json(nlohmann::json::parse(bad), c).ok()) << bad;
    }
    ServerConfig ports;
    ASSERT_TRUE(
        apply_config_json(
            nlohmann::json::parse(R"({"socket":"s","luns":1,"target_port_ids":{"3":1}})"), ports)
            .ok());
    EXPECT_FALSE(validate_config(ports).ok());  // port 3 of a 2-port farm
}

}  // namespace
}  // namespace prfence::sim
