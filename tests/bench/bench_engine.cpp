// SPDX-License-Identifier: MIT
// Engine benchmarks:
//  - EngineNullPath: the executor and plans alone, against a path that answers GOOD at once through
//    the ring: CPU per command (target: under 3 us).
//  - EngineInprocFence: fence batches over in-process prsim LUs (engine + emulator cost per
//    command).
//  - EngineSimFence1000: fencing 1000 LUNs (three commands each) against a prsim daemon on this
//    machine with 2 ms per command (target: under 30 ms wall, where one at a time would take 6 s).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "interposer/prsim/server.h"
#include "tests/support/inproc_path.h"
#include "uring_engine/policy/executor.h"
#include "uring_engine/policy/plans.h"
#include "uring_engine/transport/sim_path.h"

namespace prfence::engine {
namespace {

class NullPath final : public Path {
  public:
    NullPath(Ring& ring, CompletionSink& sink) : ring_(ring), sink_(sink) {}
    const std::string& name() const override { return name_; }
    unsigned queue_depth() const override { return 16; }
    unsigned in_flight() const override { return in_flight_; }
    Status submit(uint64_t tag, const ScsiRequest& req) override {
        ops_.push_back(std::make_unique<Op>(this, tag, req.data_in_len));
        ++in_flight_;
        return ring_.post(ops_.back().get());
    }

  private:
    struct Op : Ring::Op {
        Op(NullPath* p, uint64_t t, uint32_t len) : path(p), tag(t), len(len) {}
        NullPath* path;
        uint64_t tag;
        uint32_t len;
        void complete(int, uint32_t) override {
            ScsiResponse r;
            // READ KEYS / READ RESERVATION answers with our key registered and holding.
            if (len)
                r.data_in = {0, 0, 0, 1,   0, 0, 0, 16, 0, 0, 0, 0,
                             0, 0, 0, 0xb, 0, 0, 0, 0,  0, 3, 0, 0};
            NullPath* p = path;
            uint64_t t = tag;
            --p->in_flight_;
            p->sink_.on_complete(t, std::move(r));
        }
    };
    Ring& ring_;
    CompletionSink& sink_;
    std::string name_ = "null";
    unsigned in_flight_ = 0;
    std::vector<std::unique_ptr<Op>> ops_;
};

void EngineNullPath(benchmark::State& state) {
    const size_t n = static_cast<size_t>(state.range(0));
    auto ring = std::move(Ring::create(4096)).value();
    Executor ex(*ring);
    std::vector<std::unique_ptr<NullPath>> paths;
    std::vector<LunTarget> luns;
    for (size_t i = 0; i < n; ++i) {
        paths.push_back(std::make_unique<NullPath>(*ring, ex));
        luns.push_back({"null" + std::to_string(i), {paths.back().get()}});
    }
    uint64_t commands = 0;
    for (auto _ : state) {
        auto jobs = jobs_for(
            n, [] { return make_read_job(wire::PrInAction::read_reservation, PlanOptions{}); });
        auto s = ex.run(luns, jobs);
        commands += s->commands;
    }
    state.SetItemsProcessed(static_cast<int64_t>(commands));
}
BENCHMARK(EngineNullPath)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

wire::TransportId node(const char* n) {
    wire::TransportId t;
    t.protocol = wire::ProtocolId::iscsi;
    t.format = 1;
    t.iscsi_name = std::string("iqn.2026-11.io.prfence:") + n;
    t.iscsi_isid = "1";
    return t;
}

void EngineInprocFence(benchmark::State& state) {
    const size_t n = static_cast<size_t>(state.range(0));
    auto ring = std::move(Ring::create(4096)).value();
    Executor ex(*ring);
    std::vector<std::unique_ptr<sim::LogicalUnit>> lus;
    std::vector<std::unique_ptr<InprocPath>> pa, pb;
    std::vector<LunTarget> a, b;
    for (size_t i = 0; i < n; ++i) {
        sim::LuConfig cfg;
        cfg.lun = static_cast<uint32_t>(i);
        lus.push_back(std::move(sim::LogicalUnit::create(cfg)).value());
        pa.push_back(std::make_unique<InprocPath>(*ring, ex, *lus.back(),
                                                  lus.back()->attach({node("a"), 1}), "a"));
        pb.push_back(std::make_unique<InprocPath>(*ring, ex, *lus.back(),
                                                  lus.back()->attach({node("b"), 2}), "b"));
        a.push_back({"a", {pa.back().get()}});
        b.push_back({"b", {pb.back().get()}});
    }
    auto takeover = [&](std::vector<LunTarget>& who, uint64_t key) {
        auto jobs = jobs_for(n, [key] {
            return make_takeover_job(key, wire::PrType::exclusive_access, PlanOptions{});
        });
        return ex.run(who, jobs);
    };
    (void)takeover(a, 0xa);
    (void)takeover(b, 0xb);
    uint64_t commands = 0;
    bool a_turn = true;
    for (auto _ : state) {
        // Each side re-registers (REGISTER AND IGNORE), preempts the other and verifies: a
        // failover.
        auto s = a_turn ? takeover(a, 0xa) : takeover(b, 0xb);
        commands += s->commands;
        a_turn = !a_turn;
    }
    state.SetItemsProcessed(static_cast<int64_t>(commands));
}
BENCHMARK(EngineInprocFence)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

void EngineSimFence1000(benchmark::State& state) {
    const uint32_t n = 1000;
    std::string sock = (std::filesystem::temp_directory_path() /
                        ("prfence-bench-" + std::to_string(getpid()) + ".sock"))
                           .string();
    sim::ServerConfig cfg;
    cfg.socket_path = sock;
    cfg.luns = n;
    sim::FaultSpec lat;
    lat.kind = sim::FaultKind::latency;
    lat.latency.us = static_cast<double>(state.range(0));
    cfg.faults.push_back(lat);
    auto server = std::move(sim::Server::create(std::move(cfg))).value();
    std::thread t([&] { (void)server->run(); });
    {
        auto ring = std::move(Ring::create(4096)).value();
        Executor ex(*ring);
        auto ca =
            std::move(SimConnection::open(*ring, ex, sock, "iqn.2026-11.io.prfence:a,i,0x1", 1))
                .value();
        auto cb =
            std::move(SimConnection::open(*ring, ex, sock, "iqn.2026-11.io.prfence:b,i,0x2", 2))
                .value();
        std::vector<std::unique_ptr<SimPath>> paths;
        std::vector<LunTarget> a, b;
        for (uint32_t i = 0; i < n; ++i) {
            paths.push_back(std::move(ca->path(i)).value());
            a.push_back({paths.back()->name(), {paths.back().get()}});
            paths.push_back(std::move(cb->path(i)).value());
            b.push_back({paths.back()->name(), {paths.back().get()}});
        }
        auto run = [&](std::vector<LunTarget>& who, auto make) {
            auto jobs = jobs_for(n, make);
            return ex.run(who, jobs);
        };
        auto reg = [](uint64_t k) {
            return [k] {
                ProutSpec s;
                s.action = wire::PrOutAction::register_and_ignore;
                s.params.sa_key = k;
                return make_prout_job(s, PlanOptions{});
            };
        };
        (void)run(a, reg(0xa));
        (void)run(b, reg(0xb));
        (void)run(a, [] {
            return make_takeover_job(0xa, wire::PrType::write_exclusive_registrants_only,
                                     PlanOptions{});
        });
        bool b_turn = true;
        uint64_t ok = 0, luns = 0;
        for (auto _ : state) {
            // Fence (READ KEYS, PREEMPT AND ABORT, READ RESERVATION) the other side, then let it
            // register again outside the timed region so the next iteration has a victim.
            auto s = b_turn ? run(b,
                                  [] {
                                      return make_fence_job(
                                          0xb, 0xa, wire::PrType::write_exclusive_registrants_only,
                                          PlanOptions{});
                                  })
                            : run(a, [] {
                                  return make_fence_job(
                                      0xa, 0xb, wire::PrType::write_exclusive_registrants_only,
                                      PlanOptions{});
                              });
            state.SetIterationTime(static_cast<double>(s->wall_ns) / 1e9);
            ok += s->ok;
            luns += s->luns;
            state.PauseTiming();
            if (b_turn)
                (void)run(a, reg(0xa));
            else
                (void)run(b, reg(0xb));
            b_turn = !b_turn;
            state.ResumeTiming();
        }
        state.counters["luns_ok"] =
            static_cast<double>(ok) / static_cast<double>(std::max<uint64_t>(luns, 1)) * n;
    }
    server->stop();
    t.join();
    std::filesystem::remove(sock);
}
BENCHMARK(EngineSimFence1000)
    ->Arg(2000)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(20);

}  // namespace
}  // namespace prfence::engine

BENCHMARK_MAIN();
