// SPDX-License-Identifier: MIT
// prexplain's parser and correlator over a realistic kernel log: 90% unrelated dmesg lines (boot,
// network, filesystems, the sd driver's own chatter) and 10% conflict-storm lines (sd "reservation
// conflict", FAILED/CDB/block lines, tracepoints) on 16 LUs. items_per_second = lines per second on
// one core; the target is 500,000.
//   BM_ParseMix       parse_line only
//   BM_PipelineMix    parse_line + Correlator::feed (NullMapper: no sysfs), events discarded
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tools/prexplain/correlate.h"
#include "tools/prexplain/parse.h"

namespace {

using namespace prfence::prexplain;

std::vector<std::string> make_mix(size_t n) {
    static const char* kUnrelated[] = {
        "e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX",
        "EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.",
        "sd 2:0:0:0: [sdb] Attached SCSI disk",
        "sd 1:0:0:3: LUN assignments on this target have changed. The Linux SCSI layer does not "
        "automatically remap LUN assignments.",
        "audit: type=1400 audit(1700000000.123:45): apparmor=\"STATUS\" operation=\"profile_load\" "
        "profile=\"unconfined\"",
        "IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready",
        "systemd[1]: Started Journal Service.",
        "scsi host1: iSCSI Initiator over TCP/IP",
        "connection1:0: detected conn error (1020)",
        "blk_update_request: I/O error, dev sr0, sector 0 op 0x0:(READ) flags 0x80700 phys_seg 1 "
        "prio class 0",
    };
    std::vector<std::string> v;
    v.reserve(n);
    char buf[512];
    for (size_t i = 0; i < n; ++i) {
        const double ts = 100.0 + static_cast<double>(i) * 1e-5;
        const unsigned lun = static_cast<unsigned>(i % 16);
        if (i % 10 != 9) {
            std::snprintf(buf, sizeof buf, "[%12.6f] %s", ts, kUnrelated[(i / 10 + i) % 10]);
        } else {
            switch ((i / 10) % 5) {
                case 0:
                    std::snprintf(buf, sizeof buf, "[%12.6f] sd 0:0:0:%u: reservation conflict", ts,
                                  lun);
                    break;
                case 1:
                    std::snprintf(buf, sizeof buf,
                                  "[%12.6f] sd 0:0:0:%u: [sd%c] tag#12 FAILED Result: "
                                  "hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s",
                                  ts, lun, 'a' + lun);
                    break;
                case 2:
                    std::snprintf(buf, sizeof buf,
                                  "[%12.6f] sd 0:0:0:%u: [sd%c] tag#12 CDB: Read(10) 28 00 00 00 "
                                  "00 00 00 00 08 00",
                                  ts, lun, 'a' + lun);
                    break;
                case 3:
                    std::snprintf(buf, sizeof buf,
                                  "[%12.6f] reservation conflict error, dev sd%c, sector 0 op "
                                  "0x0:(READ) flags 0x800 phys_seg 1 prio class 2",
                                  ts, 'a' + lun);
                    break;
                default:
                    std::snprintf(
                        buf, sizeof buf,
                        "       iscsi_ttx-217     [000] b.s4. %12.6f: scsi_dispatch_cmd_done: "
                        "host_no=0 channel=0 id=0 lun=%u data_sgl=1 prot_sgl=0 "
                        "prot_op=SCSI_PROT_NORMAL driver_tag=48 scheduler_tag=98 cmnd=(READ_10 "
                        "lba=0 txlen=8 protect=0 raw=28 00 00 00 00 00 00 00 08 00) "
                        "result=(driver=DRIVER_OK host=DID_OK message=COMMAND_COMPLETE "
                        "status=SAM_STAT_RESERVATION_CONFLICT) sense=(key=0x0 asc=0x0 ascq=0x0)",
                        ts, lun);
                    break;
            }
        }
        v.emplace_back(buf);
    }
    return v;
}

const std::vector<std::string>& mix() {
    static const std::vector<std::string> v = make_mix(100000);
    return v;
}

void BM_ParseMix(benchmark::State& state) {
    const auto& lines = mix();
    size_t hits = 0;
    for (auto _ : state) {
        for (const auto& l : lines) hits += parse_line(l).has_value();
        benchmark::DoNotOptimize(hits);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * [&] {
        int64_t b = 0;
        for (const auto& l : lines) b += static_cast<int64_t>(l.size() + 1);
        return b;
    }());
}
BENCHMARK(BM_ParseMix)->Unit(benchmark::kMillisecond);

void BM_PipelineMix(benchmark::State& state) {
    const auto& lines = mix();
    NullMapper mapper;
    std::vector<Event> out;
    for (auto _ : state) {
        Correlator c(mapper);
        for (const auto& l : lines)
            if (auto p = parse_line(l)) c.feed(*p, 0, out);
        c.finish(out);
        benchmark::DoNotOptimize(out.size());
        out.clear();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
}
BENCHMARK(BM_PipelineMix)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
