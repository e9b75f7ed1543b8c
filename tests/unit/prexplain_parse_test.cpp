// SPDX-License-Identifier: MIT
// prexplain's line parser: every kernel format (the lines of a Debian 6.1 guest with LIO, the
// tests/vm captures),
// every framing (dmesg, dmesg -x/-T, /dev/kmsg, journalctl short/-precise/-iso/-monotonic, ftrace),
// every line prsim's trace code generates for each --kernel-format, and lines that must be skipped.
#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "interposer/prsim/nvme_trace.h"
#include "interposer/prsim/trace.h"
#include "tools/prexplain/correlate.h"
#include "tools/prexplain/parse.h"

namespace prfence::prexplain {
namespace {

// Keeps a composed line alive: a ParsedLine's views point into the line it was parsed from.
std::string_view hold(std::string s) {
    static std::deque<std::string> lines;
    return lines.emplace_back(std::move(s));
}

ParsedLine must(std::string_view line) {
    auto p = parse_line(line);
    EXPECT_TRUE(p.has_value()) << line;
    return p.value_or(ParsedLine{});
}

TEST(PrexplainParse, SdConflictAllFramings) {
    struct Case {
        const char* line;
        Source source;
        int64_t ts;
    } cases[] = {
        {"[   20.093091] sd 1:0:1:0: reservation conflict", Source::dmesg, 20'093'091'000},
        {"kern  :err   : [   20.093091] sd 1:0:1:0: reservation conflict", Source::dmesg,
         20'093'091'000},
        {"6,1234,20093091,-;sd 1:0:1:0: reservation conflict", Source::kmsg, 20'093'091'000},
        {"6,1234,20093091,-,caller=T12;sd 1:0:1:0: reservation conflict", Source::kmsg,
         20'093'091'000},
        {"[   12.345678] node-a kernel: sd 1:0:1:0: reservation conflict", Source::journal,
         12'345'678'000},
        {"Jan 02 00:00:01 node-a kernel: sd 1:0:1:0: reservation conflict", Source::journal,
         86'401'000'000'000},
        {"Jan  2 00:00:01.500000 node-a kernel: sd 1:0:1:0: reservation conflict", Source::journal,
         86'401'500'000'000},
        {"1970-01-02T00:00:01+0000 node-a kernel: sd 1:0:1:0: reservation conflict",
         Source::journal, 86'401'000'000'000},
        {"[Fri Jan  2 00:00:01 2026] sd 1:0:1:0: reservation conflict", Source::dmesg,
         86'401'000'000'000},
        {"sd 1:0:1:0: reservation conflict", Source::bare, 0},
    };
    for (const auto& c : cases) {
        ParsedLine p = must(c.line);
        EXPECT_EQ(p.kind, LineKind::sd_conflict) << c.line;
        EXPECT_EQ(p.source, c.source) << c.line;
        EXPECT_TRUE(p.conflict);
        EXPECT_EQ(p.hctl, (Hctl{1, 0, 1, 0})) << c.line;
        EXPECT_EQ(p.has_time, c.source != Source::bare) << c.line;
        if (c.source != Source::bare) {
            EXPECT_EQ(p.ts_ns, c.ts) << c.line;
        }
    }
}

TEST(PrexplainParse, FailedResultAndCdb) {
    ParsedLine f = must(
        "[   20.094063] sd 1:0:0:0: [sdq] tag#105 FAILED Result: hostbyte=DID_OK "
        "driverbyte=DRIVER_OK cmd_age=0s");
    EXPECT_EQ(f.kind, LineKind::failed_result);
    EXPECT_EQ(f.disk, "sdq");
    EXPECT_EQ(f.tag, 105);
    EXPECT_EQ(f.host_byte, "DID_OK");
    EXPECT_EQ(f.driver_byte, "DRIVER_OK");
    EXPECT_FALSE(f.conflict);
    // Older kernels: no tag, DID_NEXUS_FAILURE.
    ParsedLine o = must(
        "[ 5.1] sd 2:0:0:3: [sdc] FAILED Result: hostbyte=DID_NEXUS_FAILURE driverbyte=DRIVER_OK");
    EXPECT_EQ(o.tag, -1);
    EXPECT_TRUE(o.conflict);
    ParsedLine o2 =
        must("[ 5.1] sd 2:0:0:3: [sdc]  Result: hostbyte=DID_NEXUS_FAILURE driverbyte=DRIVER_OK");
    EXPECT_EQ(o2.kind, LineKind::failed_result);

    ParsedLine c = must(
        "[   20.094426] sd 1:0:0:0: [sdq] tag#105 CDB: Read(10) 28 00 00 00 10 00 00 00 08 00");
    EXPECT_EQ(c.kind, LineKind::cdb);
    EXPECT_EQ(c.op, "Read(10)");
    EXPECT_EQ(c.opcode, 0x28);
    EXPECT_EQ(c.sector, 0x1000u);
    EXPECT_EQ(c.count, 8u);
    ParsedLine c3 = must(
        "[ 1.0] sd 2:0:0:0: [sdb] CDB: Write(16): 8a 00 00 00 00 00 00 00 00 20 00 00 00 01 00 00");
    EXPECT_EQ(c3.op, "Write(16)");
    EXPECT_EQ(c3.sector, 0x20u);
    EXPECT_EQ(c3.count, 1u);
    // WRITE SAME (16) and WRITE AND VERIFY (10) address blocks too (wire::block_range's table).
    ParsedLine ws = must(
        "[ 1.0] sd 2:0:0:0: [sdb] tag#9 CDB: Write same(16) 93 00 00 00 00 00 00 00 01 00 00 00 00 "
        "80 00 00");
    EXPECT_TRUE(ws.has_sector);
    EXPECT_EQ(ws.sector, 0x100u);
    EXPECT_EQ(ws.count, 0x80u);
    ParsedLine wv =
        must("[ 1.0] sd 2:0:0:0: [sdb] CDB: Write and verify(10) 2e 00 00 00 00 40 00 00 02 00");
    EXPECT_EQ(wv.sector, 0x40u);
    EXPECT_EQ(wv.count, 2u);
    ParsedLine cut = must("[ 1.0] sd 2:0:0:0: [sdb] CDB: Read(16) 88 00 00 00 00 00 00 00 00 20");
    EXPECT_EQ(cut.opcode, 0x88);
    EXPECT_FALSE(cut.has_sector) << "a CDB cut short in the log gives no range";
    ParsedLine pr = must(
        "[ 1.0] sd 2:0:0:0: [sdb] tag#3 CDB: Persistent reserve out, preempt and abort 5f 05 03 00 "
        "00 00 00 00 18 00");
    EXPECT_EQ(pr.op, "Persistent reserve out, preempt and abort");
    EXPECT_EQ(pr.opcode, 0x5f);
    EXPECT_FALSE(pr.has_sector);
}

TEST(PrexplainParse, BlockErrorEveryGeneration) {
    struct Case {
        const char* line;
        const char* status;
        bool conflict;
    } cases[] = {
        {"[   20.094562] blk_update_request: critical nexus error, dev sdq, sector 0 op 0x0:(READ) "
         "flags 0x800 phys_seg 1 prio class 0",
         "critical nexus", true},
        {"[   20.094562] critical nexus error, dev sdq, sector 0 op 0x0:(READ) flags 0x800 "
         "phys_seg 1 prio class 2",
         "critical nexus", true},
        {"[   20.094562] reservation conflict error, dev sdq, sector 0 op 0x0:(READ) flags 0x800 "
         "phys_seg 1 prio class 2",
         "reservation conflict", true},
        {"[    4.000000] print_req_error: critical nexus error, dev sdq, sector 0",
         "critical nexus", true},
        {"[    4.000000] blk_update_request: I/O error, dev sdq, sector 0 op 0x1:(WRITE) flags 0x0 "
         "phys_seg 1 prio class 0",
         "I/O", false},
    };
    for (const auto& c : cases) {
        ParsedLine p = must(c.line);
        EXPECT_EQ(p.kind, LineKind::block_error) << c.line;
        EXPECT_EQ(p.status, c.status) << c.line;
        EXPECT_EQ(p.conflict, c.conflict) << c.line;
        EXPECT_EQ(p.disk, "sdq");
        EXPECT_TRUE(p.has_sector);
        EXPECT_EQ(p.sector, 0u);
    }
    EXPECT_EQ(must(cases[0].line).op, "READ");
    EXPECT_EQ(must(cases[4].line).op, "WRITE");
    EXPECT_EQ(must(cases[3].line).op, "");
}

TEST(PrexplainParse, BufferIo) {
    ParsedLine p = must("[  9.9] Buffer I/O error on dev sdc1, logical block 42, async page read");
    EXPECT_EQ(p.kind, LineKind::buffer_io);
    EXPECT_EQ(p.disk, "sdc1");
    EXPECT_EQ(p.sector, 42u);
    EXPECT_FALSE(p.conflict);
}

TEST(PrexplainParse, TraceCmdDone) {
    const std::string base =
        "       iscsi_ttx-185     [000] b.s4.    43.991683: scsi_dispatch_cmd_done: host_no=0 "
        "channel=0 id=0 lun=1 data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL ";
    const std::string cmnd =
        "cmnd=(READ_10 lba=16 txlen=8 protect=0 raw=28 00 00 00 00 10 00 00 08 00) ";
    const std::string res =
        "result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
        "status=SAM_STAT_RESERVATION_CONFLICT)";
    for (const std::string& line :
         {base + "driver_tag=15 scheduler_tag=36 " + cmnd + res, base + cmnd + res,
          base + "driver_tag=15 scheduler_tag=36 " + cmnd + res +
              " sense=(key=0x0 asc=0x0 ascq=0x0)",
          "<idle>-0     [001]    43.991683: scsi_dispatch_cmd_done: host_no=0 channel=0 id=0 lun=1 "
          "data_sgl=1 prot_sgl=0 prot_op=SCSI_PROT_NORMAL " +
              cmnd + res}) {
        ParsedLine p = must(line);
        EXPECT_EQ(p.source, Source::trace) << line;
        EXPECT_EQ(p.kind, LineKind::trace_cmd_done);
        EXPECT_TRUE(p.conflict) << line;
        EXPECT_EQ(p.hctl, (Hctl{0, 0, 0, 1}));
        EXPECT_EQ(p.ts_ns, 43'991'683'000);
        EXPECT_EQ(p.op, "READ_10");
        EXPECT_EQ(p.opcode, 0x28);
        EXPECT_EQ(p.sector, 16u);
        EXPECT_EQ(p.count, 8u);
        EXPECT_EQ(p.status, "SAM_STAT_RESERVATION_CONFLICT");
        EXPECT_EQ(p.host_byte, "DID_OK");
    }
    ParsedLine s = must(hold(base + cmnd +
                             "result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
                             "status=SAM_STAT_CHECK_CONDITION) sense=(key=0x6 asc=0x2a ascq=0x5)"));
    EXPECT_FALSE(s.conflict);
    EXPECT_TRUE(s.has_sense);
    EXPECT_EQ(s.sense_key, 6);
    EXPECT_EQ(s.asc, 0x2a);
    EXPECT_EQ(s.ascq, 5);
    ParsedLine n = must(hold(base + cmnd +
                             "result=(driver=DRIVER_OK host=DID_NEXUS_FAILURE "
                             "message=COMMAND_COMPLETE status=SAM_STAT_GOOD)"));
    EXPECT_TRUE(n.conflict);
    ParsedLine pr = must(
        hold(base + "cmnd=(PERSISTENT_RESERVE_OUT - raw=5f 01 03 00 00 00 00 00 18 00) " + res));
    EXPECT_EQ(pr.op, "PERSISTENT_RESERVE_OUT");
    EXPECT_EQ(pr.opcode, 0x5f);
    EXPECT_FALSE(pr.has_sector);
    // A bare tracepoint line, as the trace buffer holds it on a Debian 6.1 guest.
    ParsedLine b =
        must(hold("scsi_dispatch_cmd_done: host_no=1 channel=0 id=1 lun=0 data_sgl=1 prot_sgl=0 "
                  "prot_op=SCSI_PROT_NORMAL driver_tag=21 scheduler_tag=207 " +
                  cmnd + res));
    EXPECT_EQ(b.hctl, (Hctl{1, 0, 1, 0}));
    EXPECT_TRUE(b.conflict);
}

TEST(PrexplainParse, TraceRqComplete) {
    ParsedLine a = must(
        "     ksoftirqd/0-14      [000] ..s..    43.992607: block_rq_complete: 8,16 RS () 0 + 8 "
        "[-52]");
    EXPECT_EQ(a.kind, LineKind::trace_rq_complete);
    EXPECT_TRUE(a.conflict);
    EXPECT_EQ(a.major, 8u);
    EXPECT_EQ(a.minor, 16u);
    EXPECT_EQ(a.op, "RS");
    EXPECT_EQ(a.sector, 0u);
    EXPECT_EQ(a.count, 8u);
    EXPECT_EQ(a.error, -52);
    EXPECT_EQ(a.status, "-52");
    ParsedLine b = must(
        "       iscsi_ttx-217     [000] ..s1.    48.007771: block_rq_complete: 8,16 RS () 0 + 8 "
        "be,0,4 [-52]");
    EXPECT_TRUE(b.conflict);
    ParsedLine c = must(
        "       iscsi_ttx-185     [000] ..s1.    44.248288: block_rq_complete: 8,16 N () "
        "18446744073709551615 + 0 [-52]");
    EXPECT_TRUE(c.conflict);
    EXPECT_EQ(c.sector, UINT64_MAX);
    ParsedLine d = must(
        "     ksoftirqd/0-14      [000] ..s..    43.992161: block_rq_complete: 8,16 RS () 0 + 0 "
        "[0]");
    EXPECT_FALSE(d.conflict);
    ParsedLine e = must(
        "  kworker-1 [000] 1.0: block_rq_complete: 8,0 N (5f 01 03 00 00 00 00 00 18 00) 0 + 0 "
        "[-52]");
    EXPECT_TRUE(e.conflict);
}

TEST(PrexplainParse, SkipsUnrelatedAndMalformed) {
    for (const char* l : {
             "",
             "[    0.000000] Linux version 6.1.0-56-amd64",
             "[   23.1] sd 1:0:0:0: LUN assignments on this target have changed.",
             "[   23.1] sd 1:0:0:0: [sdq]",
             "[   23.1] sd 1:0:0:0: [] Attached SCSI disk",
             "[   23.1] scsi_io_completion_action: 6 callbacks suppressed",
             "# tracer: nop",
             " SUBSYSTEM=scsi",
             " DEVICE=+scsi:1:0:0:0",
             "[   20.093091] sd 1:0:1: reservation conflict",
             "[   20.093091] sd 1:0:1:0: reservation conflict and more",
             "[   20.093091] sd 1:0:1:0: [sdq tag#1 FAILED Result: hostbyte=DID_OK",
             "[   20.093091 sd 1:0:1:0: reservation conflict",
             "critical nexus error, dev , sector 0",
             "block_rq_complete: 8,16 RS () 0 + 8 [-52",
             "block_rq_complete: 8,16 RS () x + 8 [-52]",
             "scsi_dispatch_cmd_done: host_no=0 channel=0 id=0 cmnd=(READ_10 raw=28) "
             "result=(status=X)",
             "scsi_dispatch_cmd_done: host_no=0 channel=0 id=0 lun=1 cmnd=(READ_10 raw=28",
             "6,1234,20093091;sd 1:0:1:0",
         }) {
        EXPECT_FALSE(parse_line(l).has_value()) << l;
    }
}

// Any other "sd H:C:T:L: [sdX] ..." line ties the disk name to its address, and is no conflict.
TEST(PrexplainParse, SdNameLines) {
    ParsedLine a = must("[    2.110431] sd 2:0:0:0: [sdb] Attached SCSI disk");
    EXPECT_EQ(a.kind, LineKind::sd_name);
    EXPECT_FALSE(a.conflict);
    EXPECT_EQ(a.hctl, (Hctl{2, 0, 0, 0}));
    EXPECT_EQ(a.disk, "sdb");
    EXPECT_EQ(a.tag, -1);
    ParsedLine s = must("sd 11:0:0:1: [sdc] tag#16 Sense Key : Illegal Request [current]");
    EXPECT_EQ(s.kind, LineKind::sd_name);
    EXPECT_EQ(s.disk, "sdc");
    EXPECT_EQ(s.tag, 16);
    EXPECT_EQ(s.source, Source::bare);
    // The block layer's lines on a device-mapper map.
    ParsedLine d = must(
        "critical nexus error, dev dm-0, sector 64 op 0x1:(WRITE) flags 0x8800 phys_seg 1 prio "
        "class 2");
    EXPECT_EQ(d.kind, LineKind::block_error);
    EXPECT_TRUE(d.conflict);
    EXPECT_EQ(d.disk, "dm-0");
    EXPECT_EQ(d.sector, 64u);
    EXPECT_EQ(d.op, "WRITE");
    ParsedLine b = must("Buffer I/O error on dev dm-0, logical block 0, lost async page write");
    EXPECT_EQ(b.kind, LineKind::buffer_io);
    EXPECT_EQ(b.disk, "dm-0");
}

TEST(PrexplainParse, Hctl) {
    EXPECT_EQ(parse_hctl("1:0:2:300"), (Hctl{1, 0, 2, 300}));
    EXPECT_FALSE(parse_hctl("1:0:2").has_value());
    EXPECT_FALSE(parse_hctl("1:0:2:3x").has_value());
}

// Every line prsim's trace code writes, for each kernel generation it imitates, parses to the
// fields it was generated from.
TEST(PrexplainParse, EveryPrsimFormat) {
    using namespace prfence::sim;
    for (const char* kv : {"5.10", "5.15", "5.16", "6.0", "6.1", "6.4", "6.5", "6.12"}) {
        auto ver = parse_kernel_version(kv);
        ASSERT_TRUE(ver.ok());
        TraceStyle st;
        st.kernel = *ver;
        st.pid = 1234;
        const std::vector<std::vector<uint8_t>> cdbs = {
            {0x28, 0, 0, 0, 0x10, 0, 0, 0, 8, 0},
            {0x2a, 0, 0, 0, 0x20, 0, 0, 0, 1, 0},
            {0x08, 0, 0, 7, 4, 0},
            {0x88, 0, 0, 0, 0, 0, 0, 0, 0x30, 0, 0, 0, 2, 0, 0},
            {0x5f, 0x01, 0x03, 0, 0, 0, 0, 0, 0x18, 0},
            {0x5e, 0x00, 0, 0, 0, 0, 0, 0x20, 0, 0},
        };
        for (const auto& cdb : cdbs) {
            CompletionEvent e;
            e.ts_ns = 1234'567'890'123;
            e.host = 3;
            e.channel = 0;
            e.id = 1;
            e.lun = 77;
            e.driver_tag = 5;
            e.cdb = ByteView(cdb.data(), cdb.size());
            e.data_len = 4096;
            e.status = 0x18;
            e.disk = "sdrdv";
            std::string text;
            format_cmd_done(text, e, st);
            format_conflict_dmesg(text, e, st);
            std::istringstream is(text);
            std::string line;
            int lines = 0, conflicts = 0;
            while (std::getline(is, line)) {
                ++lines;
                auto p = parse_line(line);
                ASSERT_TRUE(p.has_value()) << kv << ": " << line;
                conflicts += p->conflict;
                if (p->kind == LineKind::trace_cmd_done || p->kind == LineKind::sd_conflict ||
                    p->kind == LineKind::failed_result || p->kind == LineKind::cdb) {
                    EXPECT_EQ(p->hctl, (Hctl{3, 0, 1, 77})) << line;
                }
                if (p->kind == LineKind::trace_cmd_done || p->kind == LineKind::cdb) {
                    EXPECT_EQ(p->opcode, cdb[0]) << line;
                }
                if (p->kind == LineKind::block_error) {
                    EXPECT_EQ(p->disk, "sdrdv");
                    EXPECT_EQ(p->op, cdb[0] == 0x2a ? "WRITE" : "READ") << line;
                }
                if (p->kind != LineKind::trace_cmd_done) {
                    EXPECT_EQ(p->source, Source::dmesg);
                } else {
                    EXPECT_EQ(p->ts_ns, 1234'567'890'000) << line;
                }
            }
            const bool block = is_block_io(cdb[0]);
            EXPECT_EQ(lines, block ? 5 : 2) << kv;
            EXPECT_EQ(conflicts, block ? 3 : 2) << kv;  // cmd_done, sd, block line
        }
    }
}

// The real captures: every conflict line of the Debian guests is recognised.
TEST(PrexplainParse, VmCaptures) {
    for (const char* f : {"dmesg-6.1.txt", "dmesg-6.12.txt", "trace-6.1.txt", "trace-6.12.txt"}) {
        std::ifstream in(std::string(PRFENCE_VM_FIXTURES) + "/" + f);
        ASSERT_TRUE(in) << f;
        std::string line;
        int conflict_lines = 0, hits = 0;
        while (std::getline(in, line)) {
            const bool has_conflict = line.find("reservation conflict") != std::string::npos ||
                                      line.find("critical nexus") != std::string::npos ||
                                      line.find("RESERVATION_CONFLICT") != std::string::npos ||
                                      line.find("[-52]") != std::string::npos;
            auto p = parse_line(line);
            if (has_conflict) {
                ++conflict_lines;
                ASSERT_TRUE(p.has_value()) << f << ": " << line;
                EXPECT_TRUE(p->conflict) << line;
            }
            hits += p.has_value();
        }
        EXPECT_GT(conflict_lines, 3) << f;
        EXPECT_GE(hits, conflict_lines) << f;
    }
}

// NVMe: the two lines a write refused by a reservation leaves on a 7.3 kernel (nvmet, the tests/vm
// nvme topology; the first ends with a blank), every framing, the verbose build's names, the
// passthrough form, other statuses.
TEST(PrexplainParse, NvmeConflictLines) {
    const std::string nv =
        "nvme1n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x83) MORE DNR ";
    const std::string blk =
        "reservation conflict error, dev nvme1n4, sector 0 op 0x1:(WRITE) flags 0x8800 phys_seg 1 "
        "prio class 2";
    for (const std::string& prefix :
         {std::string(), std::string("[  101.203344] "), std::string("3,812,101203344,-;"),
          std::string("Dec 06 07:40:01 node-b kernel: ")}) {
        ParsedLine p = must(hold(prefix + nv));
        EXPECT_EQ(p.kind, LineKind::nvme_error) << prefix;
        EXPECT_TRUE(p.nvme);
        EXPECT_TRUE(p.conflict);
        EXPECT_EQ(p.disk, "nvme1n4");
        EXPECT_EQ(p.op, "I/O Cmd");
        EXPECT_TRUE(p.has_opcode);
        EXPECT_EQ(p.opcode, 0x01);
        EXPECT_TRUE(p.has_sector);
        EXPECT_EQ(p.sector, 0u);
        EXPECT_EQ(p.count, 1u);
        EXPECT_EQ(p.status, "I/O Error");
        EXPECT_EQ(p.sct, 0);
        EXPECT_EQ(p.sc, 0x83);
        EXPECT_TRUE(p.more);
        EXPECT_TRUE(p.dnr);
        ParsedLine b = must(hold(prefix + blk));
        EXPECT_EQ(b.kind, LineKind::block_error);
        EXPECT_TRUE(b.conflict);
        EXPECT_EQ(b.disk, "nvme1n4");
        EXPECT_EQ(b.op, "WRITE");
        EXPECT_EQ(b.sector, 0u);
    }
    // Without the trailing blank (a log that strips it), without MORE, a read, a large LBA.
    ParsedLine r = must(
        "nvme0n12: I/O Cmd(0x2) @ LBA 2097144, 8 blocks, I/O Error (sct 0x0 / sc "
        "0x83) DNR");
    EXPECT_TRUE(r.conflict);
    EXPECT_EQ(r.disk, "nvme0n12");
    EXPECT_EQ(r.opcode, 0x02);
    EXPECT_EQ(r.sector, 2097144u);
    EXPECT_EQ(r.count, 8u);
    EXPECT_FALSE(r.more);
    EXPECT_TRUE(r.dnr);
    // CONFIG_NVME_VERBOSE_ERRORS names the command and the status.
    ParsedLine v = must(
        "[   55.1] nvme0n1: Write(0x1) @ LBA 8, 8 blocks, Reservation Conflict "
        "(sct 0x0 / sc 0x83) DNR ");
    EXPECT_TRUE(v.conflict);
    EXPECT_EQ(v.op, "Write");
    EXPECT_EQ(v.status, "Reservation Conflict");
    // A path of a native multipath head.
    ParsedLine h = must(
        "nvme1c2n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x83) "
        "MORE DNR ");
    EXPECT_TRUE(h.conflict);
    EXPECT_EQ(h.disk, "nvme1c2n4");
    // The passthrough form (passthru_err_log_enabled): no LBA, the command dwords after DNR.
    ParsedLine t = must(
        "nvme0n1: Reservation Acquire(0x11), Reservation Conflict (sct 0x0 / sc "
        "0x83) DNR cdw10=0x201 cdw11=0x0 cdw12=0x0 cdw13=0x0 cdw14=0x0 cdw15=0x0");
    EXPECT_EQ(t.kind, LineKind::nvme_error);
    EXPECT_TRUE(t.conflict);
    EXPECT_FALSE(t.has_sector);
    EXPECT_EQ(t.opcode, 0x11);
    EXPECT_EQ(t.op, "Reservation Acquire");
    ParsedLine t2 = must(
        "nvme0n1: I/O Cmd(0x2), I/O Error (sct 0x0 / sc 0x83) cdw10=0x0 "
        "cdw11=0x0 cdw12=0x7 cdw13=0x0 cdw14=0x0 cdw15=0x0");
    EXPECT_TRUE(t2.conflict);
    EXPECT_FALSE(t2.more || t2.dnr);
    // Other statuses parse but are not conflicts; admin commands name the controller.
    ParsedLine o =
        must("nvme0n1: I/O Cmd(0x2) @ LBA 0, 8 blocks, I/O Error (sct 0x2 / sc 0x81) DNR ");
    EXPECT_FALSE(o.conflict);
    EXPECT_EQ(o.sct, 2);
    EXPECT_EQ(o.sc, 0x81);
    ParsedLine f =
        must("nvme0n1: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x2) DNR ");
    EXPECT_FALSE(f.conflict);
    ParsedLine a = must("nvme0: Admin Cmd(0x6), I/O Error (sct 0x0 / sc 0x83) DNR ");
    EXPECT_EQ(a.kind, LineKind::nvme_error);
    EXPECT_FALSE(a.conflict);
    // Before 6.5 the block layer said "critical nexus" for the same status.
    ParsedLine n = must(
        "critical nexus error, dev nvme0n1, sector 16 op 0x1:(WRITE) flags 0x8800 "
        "phys_seg 1 prio class 2");
    EXPECT_TRUE(n.conflict);
    EXPECT_EQ(n.disk, "nvme0n1");
    // Malformed: nothing.
    for (const char* bad : {
             "nvme1n4: I/O Cmd(0x1) @ LBA x, 1 blocks, I/O Error (sct 0x0 / sc 0x83)",
             "nvme1n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x9 / sc 0x83)",
             "nvme1n4: I/O Cmd(0x1ff) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x83)",
             "nvme1n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x183)",
             "nvme1n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0 / sc 0x83) garbage",
             "nvme1n4: I/O Cmd(0x1) @ LBA 0, 1 blocks, I/O Error (sct 0x0",
             "nvme nvme0: failed to connect queue: 0 ret=-18",
             "nvme1n4: p1 p2",
         })
        EXPECT_FALSE(parse_line(bad).has_value()) << bad;
}

TEST(PrexplainParse, NvmeNotifications) {
    // The tracepoint, as trace_pipe and trace-cmd print it, and without the symbol.
    for (const char* line : {
             "   kworker/0:1H-54      [000] .....   230.114421: nvme_async_event: nvme0: "
             "NVME_AEN=0x800006 [NVME_AER_CSS]",
             "kworker/0:1H-54 [000] 230.114421: nvme_async_event: nvme0: NVME_AEN=0x800006 "
             "[0x800006]",
         }) {
        ParsedLine p = must(line);
        EXPECT_EQ(p.kind, LineKind::nvme_aen) << line;
        EXPECT_EQ(p.source, Source::trace);
        EXPECT_TRUE(p.has_time);
        EXPECT_EQ(p.ts_ns, 230'114'421'000);
        EXPECT_EQ(p.ctrl, "nvme0");
        EXPECT_EQ(p.aen, 0x800006u);
        EXPECT_TRUE(is_reservation_aen(p.aen));
        EXPECT_FALSE(p.conflict);
    }
    ParsedLine bare = must("nvme_async_event: nvme12: NVME_AEN=0x000002 [NVME_AER_NOTICE]");
    EXPECT_EQ(bare.ctrl, "nvme12");
    EXPECT_FALSE(is_reservation_aen(bare.aen));
    EXPECT_FALSE(is_reservation_aen(0x810006));  // another info value
    EXPECT_FALSE(is_reservation_aen(0x800002));  // a notice, not I/O command specific status
    // udevadm monitor --kernel --property, and the netlink message's strings.
    ParsedLine k =
        must("KERNEL[230.114500] change   /devices/virtual/nvme-fabrics/ctl/nvme0 (nvme)");
    EXPECT_EQ(k.kind, LineKind::uevent_dev);
    EXPECT_EQ(k.ctrl, "nvme0");
    EXPECT_TRUE(k.has_time);
    EXPECT_EQ(k.ts_ns, 230'114'500'000);
    ParsedLine u =
        must("UDEV  [230.120001] change   /devices/pci0000:00/0000:00:04.0/nvme/nvme3 (nvme)");
    EXPECT_EQ(u.ctrl, "nvme3");
    EXPECT_EQ(must("DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme0").ctrl, "nvme0");
    EXPECT_EQ(must("change@/devices/virtual/nvme-fabrics/ctl/nvme1").ctrl, "nvme1");
    ParsedLine e = must("NVME_AEN=0x800006");
    EXPECT_EQ(e.kind, LineKind::uevent_aen);
    EXPECT_EQ(e.aen, 0x800006u);
    const char msg[] =
        "change@/devices/virtual/nvme-fabrics/ctl/nvme0\0ACTION=change\0"
        "DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme0\0SUBSYSTEM=nvme\0"
        "NVME_AEN=0x800006\0SEQNUM=4711\0";
    const auto lines = uevent_lines(std::string_view(msg, sizeof msg - 1));
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_EQ(lines[0], "change@/devices/virtual/nvme-fabrics/ctl/nvme0");
    EXPECT_EQ(lines[4], "NVME_AEN=0x800006");
    EXPECT_TRUE(uevent_lines(std::string_view("libudev\0\xfe\xed\xca\xfe", 12)).empty());
    for (const char* bad : {
             "KERNEL[230.1] change   /devices/virtual/block/sda (block)",
             "KERNEL[230.1] change   /devices/virtual/nvme-fabrics/ctl/nvme0n1 (nvme)",
             "DEVPATH=/devices/virtual/block/loop0",
             "NVME_AEN=0x1ffffffff",
             "NVME_AEN=0x800006 trailing",
             "nvme_async_event: nvme0: NVME_AEN=zz [NVME_AER_CSS]",
             "nvme_async_event: nvme0n1: NVME_AEN=0x800006 [NVME_AER_CSS]",
         })
        EXPECT_FALSE(parse_line(bad).has_value()) << bad;
}

// prsim's NVMe conflict lines (the host's two dmesg lines for a refused read or write) for every
// kernel format and block size: recognised, and one story per namespace with the command's range.
TEST(PrexplainParse, EveryPrsimNvmeFormat) {
    using namespace prfence::sim;
    for (const char* kv : {"5.10", "5.15", "6.1", "6.4", "6.5", "6.12"}) {
        auto ver = parse_kernel_version(kv);
        ASSERT_TRUE(ver.ok());
        TraceStyle st;
        st.kernel = *ver;
        for (uint32_t bs : {512u, 4096u})
            for (uint8_t opcode : {uint8_t{0x01}, uint8_t{0x02}}) {
                NvmeTraceEvent e;
                e.ts_ns = 77'000'001'000;
                e.disk = "nvme3n2";
                e.qid = 1;
                e.opcode = opcode;
                e.nsid = 2;
                e.status = 0x6083;
                e.slba = 40;
                e.blocks = 8;
                e.block_size = bs;
                std::string text;
                format_nvme_conflict_dmesg(text, e, st);
                std::istringstream is(text);
                std::string line;
                NullMapper m;
                Correlator c(m, CorrelateOptions{.hold = true});
                std::vector<Event> out;
                int lines = 0;
                while (std::getline(is, line)) {
                    ++lines;
                    auto p = parse_line(line);
                    ASSERT_TRUE(p.has_value()) << kv << ": " << line;
                    EXPECT_TRUE(p->conflict) << line;
                    EXPECT_EQ(p->disk, "nvme3n2") << line;
                    c.feed(*p, 0, out);
                }
                EXPECT_EQ(lines, 2) << kv;
                c.finish(out);
                ASSERT_EQ(out.size(), 1u) << kv << " " << bs;
                EXPECT_EQ(out[0].count, 1u);
                EXPECT_EQ(out[0].op, opcode == 0x01 ? "Write" : "Read");
                EXPECT_EQ(out[0].sector, 40u * bs / 512);
                EXPECT_EQ(out[0].blocks, 8u);
            }
    }
}

}  // namespace
}  // namespace prfence::prexplain
