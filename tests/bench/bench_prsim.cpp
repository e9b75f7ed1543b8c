// SPDX-License-Identifier: MIT
// prsim throughput and latency.
//   BM_PrsimSocket/64   PR commands over the Unix socket with 64 in flight: an alternating mix of
//   PERSISTENT
//                       RESERVE IN (READ RESERVATION) and PERSISTENT RESERVE OUT (REGISTER AND
//                       IGNORE EXISTING KEY) over 256 LUs; prints cmds/s. The daemon runs
//                       in-process on its own thread, or set PRSIM_BENCH_SOCKET=/path to measure a
//                       running `prsim` instead.
//   BM_LuPrIn / BM_LuPrOut   one PR command executed by an in-process LogicalUnit (no socket); run
//   with
//                       repetitions so that the median is printed.
//   BM_EncodeDecode     one COMMAND frame encoded and decoded, one RESPONSE frame likewise.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "interposer/lu/lu.h"
#include "interposer/prsim/server.h"
#include "uring_engine/simproto/protocol.h"
#include "uring_engine/simproto/sim_client.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/prout.h"

namespace {

using namespace prfence;
using namespace prfence::sim;

constexpr uint32_t kLuns = 256;

struct Daemon {
    std::string dir;
    std::unique_ptr<Server> srv;
    std::thread th;
    std::string path;
    Daemon() {
        if (const char* ext = std::getenv("PRSIM_BENCH_SOCKET")) {
            path = ext;
            return;
        }
        char tmpl[] = "/tmp/prsim-bench-XXXXXX";
        dir = ::mkdtemp(tmpl);
        ServerConfig cfg;
        cfg.socket_path = dir + "/prsim.sock";
        cfg.luns = kLuns;
        auto s = Server::create(cfg);
        if (!s) throw std::runtime_error(s.error().msg);
        srv = std::move(s).value();
        path = cfg.socket_path;
        th = std::thread([this] { (void)srv->run(); });
    }
    ~Daemon() {
        if (srv) {
            srv->stop();
            th.join();
            std::filesystem::remove_all(dir);
        }
    }
};

void BM_PrsimSocket(benchmark::State& state) {
    const int depth = static_cast<int>(state.range(0));
    Daemon d;
    // Connect with SimClient (HELLO), take the POWER ON unit attention of every LU, register a key,
    // then drive the raw socket with the pure frame functions, the way an io_uring transport does.
    auto c =
        SimClient::connect(d.path, proto::make_hello("iqn.2001-05.com.example:bench", 1, "bench"));
    if (!c) {
        state.SkipWithError(c.error().msg.c_str());
        return;
    }
    const auto tur = wire::test_unit_ready_cdb();
    wire::ProutParams reg;
    reg.sa_key = 0xbe7c4;
    auto regcmd =
        *wire::build_prout(wire::PrOutAction::register_and_ignore, wire::PrType::none, reg);
    for (uint32_t l = 0; l < kLuns; ++l) {
        (void)(*c)->execute(l, tur.bytes());
        (void)(*c)->execute(l, tur.bytes());
        (void)(*c)->execute(l, regcmd.cdb.bytes(), regcmd.data, 0);
    }
    const auto prin = wire::prin_cdb(wire::PrInAction::read_reservation, 64);
    const int fd = (*c)->fd();
    ::fcntl(fd, F_SETFL,
            ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // plain blocking send/recv from here on
    proto::FrameDecoder dec;
    Bytes out;
    out.reserve(64 * 128);
    uint64_t tag = 1, sent = 0, done = 0, bad = 0;
    constexpr uint64_t kBatch = 20000;
    for (auto _ : state) {
        const uint64_t target = done + kBatch;
        while (done < target) {
            out.clear();
            while (sent - done < static_cast<uint64_t>(depth) && sent < target) {
                const uint32_t lun = static_cast<uint32_t>(sent % kLuns);
                if (sent & 1)
                    (void)proto::append_command(out, tag++, lun, regcmd.cdb.bytes(), regcmd.data,
                                                0);
                else
                    (void)proto::append_command(out, tag++, lun, prin.bytes(), {}, 64);
                ++sent;
            }
            size_t off = 0;
            while (off < out.size()) {
                ssize_t n = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
                if (n <= 0) {
                    state.SkipWithError("send failed");
                    return;
                }
                off += static_cast<size_t>(n);
            }
            auto area = dec.write_area(65536);
            ssize_t n = ::recv(fd, area.data(), area.size(), 0);
            if (n <= 0) {
                state.SkipWithError("recv failed");
                return;
            }
            dec.commit(static_cast<size_t>(n));
            for (;;) {
                auto f = dec.next();
                if (!f || !*f) break;
                auto r = proto::decode_response((*f)->header.tag, (*f)->payload);
                if (!r || r->status != 0) ++bad;
                ++done;
            }
        }
    }
    state.counters["cmds/s"] =
        benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
    state.counters["not_good"] = static_cast<double>(bad);
    state.SetItemsProcessed(static_cast<int64_t>(done));
}
BENCHMARK(BM_PrsimSocket)
    ->Arg(64)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

struct LocalLu {
    std::unique_ptr<LogicalUnit> lu;
    NexusId nx = 0;
    LocalLu() {
        LuConfig cfg;
        lu = std::move(LogicalUnit::create(cfg)).value();
        wire::TransportId tid = *wire::parse_transport_id("iqn.2001-05.com.example:bench");
        nx = lu->attach(NexusIdentity{tid, 1});
        (void)lu->execute(nx, wire::test_unit_ready_cdb().bytes(),
                          {});  // the POWER ON unit attention
    }
};

void BM_LuPrIn(benchmark::State& state) {
    LocalLu l;
    wire::ProutParams reg;
    reg.sa_key = 0x1234;
    auto regcmd = *wire::build_prout(wire::PrOutAction::register_key, wire::PrType::none, reg);
    (void)l.lu->execute(l.nx, regcmd.cdb.bytes(), regcmd.data);
    const auto cdb = wire::prin_cdb(wire::PrInAction::read_reservation, 64);
    for (auto _ : state) {
        auto r = l.lu->execute(l.nx, cdb.bytes(), {});
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_LuPrIn)->Repetitions(9)->ReportAggregatesOnly(true)->Unit(benchmark::kNanosecond);

void BM_LuPrOut(benchmark::State& state) {
    LocalLu l;
    wire::ProutParams reg;
    reg.sa_key = 0x1234;
    auto regcmd =
        *wire::build_prout(wire::PrOutAction::register_and_ignore, wire::PrType::none, reg);
    for (auto _ : state) {
        auto r = l.lu->execute(l.nx, regcmd.cdb.bytes(), regcmd.data);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_LuPrOut)->Repetitions(9)->ReportAggregatesOnly(true)->Unit(benchmark::kNanosecond);

void BM_EncodeDecode(benchmark::State& state) {
    const auto cdb = wire::prin_cdb(wire::PrInAction::read_keys, 8192);
    Bytes buf;
    const Bytes data_in(24, 0);
    for (auto _ : state) {
        buf.clear();
        (void)proto::append_command(buf, 42, 7, cdb.bytes(), {}, 8192);
        auto c = proto::decode_command(42, ByteView(buf).subspan(proto::kHeaderSize));
        buf.clear();
        (void)proto::append_response(buf, c->tag, 0, 0, {}, data_in);
        auto r = proto::decode_response(42, ByteView(buf).subspan(proto::kHeaderSize));
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_EncodeDecode);

}  // namespace

BENCHMARK_MAIN();
