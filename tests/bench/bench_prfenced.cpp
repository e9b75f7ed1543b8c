// SPDX-License-Identifier: MIT
// prfenced benchmarks, printed rather than asserted (the machine decides the absolute numbers):
//  - control round trip: N CMD_NOOP calls through the client library, p50 / p99 / max (target: p99
//    at most 50 us), beside the machine's own floor (a bare socket ping-pong) and its vCPU stalls;
//  - fencing 1000 sim LUNs with 2 ms per command through the daemon (request sent to NLMSG_DONE
//    received, answer decoded) against the same batch on a direct engine Session opened beforehand,
//    both on one prsim farm, in alternating rounds (target: daemon at most 1.2x direct).
// The daemon core and the farm run on threads of this process, as in
// tests/integration/prfenced_test.cpp.
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "interposer/prsim/server.h"
#include "nl_control/client/client.h"
#include "nl_control/daemon/daemon.h"
#include "uring_engine/devices/resolve.h"
#include "uring_engine/policy/operations.h"
#include "uring_engine/session/session.h"

namespace prfence {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* kNodeA = "iqn.2026-11.io.prfence:node-a,i,0x23d000001";
const char* kNodeB = "iqn.2026-11.io.prfence:node-b,i,0x23d000002";

double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// CPU time of the whole process (every thread: client, daemon, engine, the farm), in ms.
double cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double pct(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bench_prfenced: %s\n", what.c_str());
    std::exit(1);
}

template <class T>
T must(Result<T> r, const char* what) {
    if (!r.ok()) die(std::string(what) + ": " + r.error().msg);
    return std::move(r).value();
}

nl::Summary g_last;

// One RUN through the daemon; returns the number of LUNs that ended ok (its summary in g_last).
size_t run(nl::Client& c, const std::string& group, engine::OpSpec spec) {
    nl::Request r;
    r.hdr.cmd = nl::CMD_RUN;
    r.group = group;
    r.op = std::move(spec);
    r.has_operation = true;
    auto answers = must(c.call(std::move(r), std::chrono::milliseconds(120000)), "RUN");
    for (const auto& a : answers) {
        if (a.err()) die("RUN: " + a.err_msg());
        if (a.kind() == nl::Answer::Kind::summary) {
            g_last = a.summary();
            return a.summary().batch.ok;
        }
    }
    die("RUN: no summary");
}

engine::OpSpec op(engine::Operation o, std::optional<uint64_t> key,
                  std::optional<uint64_t> sa_key = {}, std::optional<wire::PrType> type = {}) {
    engine::OpSpec s;
    s.op = o;
    s.key = key;
    s.sa_key = sa_key;
    s.type = type;
    return s;
}

// The machine's own noise, for reading the round-trip tail: a thread that only reads the clock for
// one second, counting the gaps in which it did not run. On a virtual machine these are the host
// taking the vCPU away; an operation of T us spanning two CPUs meets one with probability ~ 2 *
// rate * T.
void print_machine_stalls() {
    const auto start = Clock::now();
    auto prev = start;
    long over20 = 0, over40 = 0;
    double worst = 0;
    for (auto now = Clock::now(); now - start < std::chrono::seconds(1); now = Clock::now()) {
        const double gap = us(now - prev);
        prev = now;
        over20 += gap > 20;
        over40 += gap > 40;
        worst = std::max(worst, gap);
    }
    std::printf(
        "machine: a clock-reading thread stalled %ld times > 20 us and %ld times > 40 us in 1 s "
        "(worst %.0f us)\n",
        over20, over40, worst);
}

// The floor under the control round trip on this machine: the same kind of socket, two threads that
// spin on it, 36-byte messages (a NOOP's size), no protocol at all. prfenced's NOOP cannot beat it.
void print_socket_floor(int calls) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) die("socketpair");
    std::thread echo([fd = sv[1]] {
        char b[256];
        for (;;) {
            const ssize_t n = ::recv(fd, b, sizeof b, MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0) return;
            (void)::send(fd, b, static_cast<size_t>(n), MSG_NOSIGNAL);
        }
    });
    std::vector<double> rtt;
    rtt.reserve(static_cast<size_t>(calls));
    char b[256] = {};
    for (int i = 0; i < calls; ++i) {
        const auto t0 = Clock::now();
        if (::send(sv[0], b, 36, MSG_NOSIGNAL) != 36) die("send");
        while (::recv(sv[0], b, sizeof b, MSG_DONTWAIT) <= 0) {
        }
        rtt.push_back(us(Clock::now() - t0));
    }
    ::shutdown(sv[0], SHUT_RDWR);
    echo.join();
    ::close(sv[0]);
    ::close(sv[1]);
    std::printf(
        "socket floor (SOCK_SEQPACKET ping-pong between two spinning threads, no protocol, %d "
        "calls): "
        "p50 %.1f us, p99 %.1f us\n",
        calls, pct(rtt, 0.5), pct(rtt, 0.99));
}

long env_or(const char* name, long dflt) {
    const char* v = std::getenv(name);
    return v && *v ? std::atol(v) : dflt;
}

int main_() {
    const int noops = static_cast<int>(env_or("PRFENCED_BENCH_NOOPS", 20000));
    // Knobs for comparing settings on one machine: the client's spin window, the daemon's busy-poll
    // window (microseconds), and SCHED_FIFO for every thread of the process (prfenced --realtime).
    const long spin_us = env_or("PRFENCED_BENCH_SPIN_US", 100);
    const long busy_us = env_or("PRFENCED_BENCH_BUSY_POLL_US", 100);
    const long rt = env_or("PRFENCED_BENCH_RT", 0);
    if (rt) {
        if (auto st = daemon::make_realtime(static_cast<int>(rt)); !st)
            die(("PRFENCED_BENCH_RT: " + st.error().msg).c_str());
    }
    std::printf("settings: client spin %ld us, daemon busy-poll %ld us, %s\n", spin_us, busy_us,
                rt ? ("SCHED_FIFO " + std::to_string(rt)).c_str() : "SCHED_OTHER");
    print_machine_stalls();
    print_socket_floor(noops);
    const int rounds = static_cast<int>(std::max(1L, env_or("PRFENCED_BENCH_ROUNDS", 11)));
    const auto tmp = fs::temp_directory_path() / ("bench-prfenced-" + std::to_string(getpid()));
    fs::create_directories(tmp);

    sim::FaultSpec lat;
    lat.kind = sim::FaultKind::latency;
    lat.latency.us = 2000;
    sim::ServerConfig sc;
    sc.socket_path = (tmp / "farm.sock").string();
    sc.luns = 1000;
    sc.faults = {lat};
    auto farm = must(sim::Server::create(std::move(sc)), "prsim");
    std::thread farm_thread([&] { (void)farm->run(); });

    daemon::DaemonOptions o;
    o.socket_path = (tmp / "control.sock").string();
    o.busy_poll = std::chrono::microseconds(busy_us);
    auto d = must(daemon::Daemon::create(std::move(o)), "prfenced");
    std::thread daemon_thread([&] { (void)d->run(); });
    while (!d->ready()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto c = must(nl::Client::connect(d->socket_path()), "connect");
    c.set_spin(std::chrono::microseconds(spin_us));

    // ---- control round trip
    std::vector<double> rtt;
    rtt.reserve(static_cast<size_t>(noops));
    for (int i = 0; i < noops; ++i) {
        nl::Request r;
        r.hdr.cmd = nl::CMD_NOOP;
        const auto t0 = Clock::now();
        auto a = must(c.call(std::move(r)), "NOOP");
        rtt.push_back(us(Clock::now() - t0));
        if (a.empty() || a.back().err()) die("NOOP refused");
    }
    std::printf(
        "noop round trip (%d calls): p50 %.1f us, p99 %.1f us, max %.1f us (target p99 <= 50 us)\n",
        noops, pct(rtt, 0.5), pct(rtt, 0.99), *std::max_element(rtt.begin(), rtt.end()));
    std::printf("  p90 %.1f, p95 %.1f, p98 %.1f, p99.5 %.1f, p99.9 %.1f us\n", pct(rtt, 0.90),
                pct(rtt, 0.95), pct(rtt, 0.98), pct(rtt, 0.995), pct(rtt, 0.999));

    {
        // The daemon's own view: receive to answer queued, without the scheduler's share of the
        // trip.
        nl::Request r;
        r.hdr.cmd = nl::CMD_STATS;
        for (const auto& a : must(c.call(std::move(r)), "STATS"))
            if (a.kind() == nl::Answer::Kind::stats)
                for (const auto& s : a.stats())
                    if (s.name == "control")
                        std::printf(
                            "  in the daemon: mean %.1f us, p99 <= %.0f us (histogram bucket), max "
                            "%.1f us\n",
                            static_cast<double>(s.sum_ns) /
                                static_cast<double>(std::max<uint64_t>(s.count, 1)) / 1e3,
                            static_cast<double>(s.p99_ns) / 1e3,
                            static_cast<double>(s.max_ns) / 1e3);
    }

    // ---- fence 1000 LUNs: the daemon against a direct Session
    const std::string luns = "sim:" + farm->socket_path() + ":0-999";
    for (auto [name, node, port] : {std::tuple{"a", kNodeA, 1}, std::tuple{"b", kNodeB, 2}}) {
        nl::Request r;
        r.hdr.cmd = nl::CMD_GROUP_CREATE;
        r.group = name;
        r.devices = {luns};
        r.initiator = node;
        r.target_port = static_cast<uint16_t>(port);
        for (const auto& a :
             must(c.call(std::move(r), std::chrono::milliseconds(120000)), "GROUP_CREATE"))
            if (a.err()) die("GROUP_CREATE: " + a.err_msg());
    }
    // Direct mode as a third node, B2: its own Session, opened before the clock starts, as the
    // daemon's.
    engine::SessionOptions so;
    so.initiator = "iqn.2026-11.io.prfence:node-c,i,0x23d000003";
    so.target_port = 2;
    auto direct = must(engine::Session::open(must(engine::resolve_devices({luns}), "resolve"), so),
                       "Session::open");
    const auto fence_maker =
        must(engine::make_operation(op(engine::Operation::fence, 0xc, 0xa)), "make_operation");
    const auto fence_b = op(engine::Operation::fence, 0xb, 0xa);
    auto direct_run = [&](const engine::OpSpec& spec) {
        const auto make = must(engine::make_operation(spec), "make_operation");
        return must(direct->run([&](size_t) { return make(); }), "direct run");
    };
    // Each round starts from nothing: A registers and reserves, the fencer registers, fences A
    // (timed), then clears everything for the next round.
    auto a_holds = [&] {
        run(c, "a", op(engine::Operation::register_key, 0xa));
        run(c, "a",
            op(engine::Operation::reserve, 0xa, {},
               wire::PrType::write_exclusive_registrants_only));
    };
    std::vector<double> via_daemon, via_direct, daemon_batch, daemon_queued, daemon_cpu, direct_cpu;
    std::vector<engine::LunOutcome> sample;  // a real fence's outcomes, for timing the codec below
    for (int i = 0; i < rounds; ++i) {
        a_holds();
        run(c, "b", op(engine::Operation::register_key, 0xb));
        double c0 = cpu_ms();
        auto t0 = Clock::now();
        const size_t ok = run(c, "b", fence_b);
        via_daemon.push_back(us(Clock::now() - t0) / 1000);
        daemon_cpu.push_back(cpu_ms() - c0);
        daemon_batch.push_back(static_cast<double>(g_last.batch.wall_ns) / 1e6);
        daemon_queued.push_back(static_cast<double>(g_last.queued_ns) / 1e6);
        if (ok != 1000) die("daemon fence: " + std::to_string(ok) + " of 1000 ok");
        run(c, "b", op(engine::Operation::clear, 0xb));

        a_holds();
        (void)direct_run(op(engine::Operation::register_key, 0xc));
        c0 = cpu_ms();
        t0 = Clock::now();
        auto rep = must(direct->run([&](size_t) { return fence_maker(); }), "direct fence");
        via_direct.push_back(us(Clock::now() - t0) / 1000);
        direct_cpu.push_back(cpu_ms() - c0);
        if (rep.summary.ok != 1000)
            die("direct fence: " + std::to_string(rep.summary.ok) + " of 1000 ok");
        sample = rep.outcomes;
        (void)direct_run(op(engine::Operation::clear, 0xc));
    }
    // Rounds alternate daemon and direct, so a change in the host's load hits both: the per-round
    // ratio is the figure to read, its spread says how much the host moved.
    std::vector<double> ratio, tail;
    for (size_t i = 0; i < via_daemon.size(); ++i) {
        ratio.push_back(via_daemon[i] / via_direct[i]);
        tail.push_back(via_daemon[i] - daemon_batch[i] - daemon_queued[i]);
    }
    const double dm = pct(via_daemon, 0.5), xm = pct(via_direct, 0.5);
    std::printf(
        "fence 1000 sim LUNs @ 2 ms, median of %d: daemon %.2f ms, direct %.2f ms, ratio %.2f "
        "(target <= 1.2)\n",
        rounds, dm, xm, dm / xm);
    std::printf(
        "  per-round ratio: min %.2f, median %.2f, max %.2f; rounds at most 1.2: %ld of %d\n",
        pct(ratio, 0), pct(ratio, 0.5), pct(ratio, 1),
        static_cast<long>(
            std::count_if(ratio.begin(), ratio.end(), [](double r) { return r <= 1.2; })),
        rounds);
    std::printf(
        "  daemon's batch alone %.2f ms (engine wall), queued %.3f ms; after the batch (last "
        "results, "
        "summary, socket, client's decoding) %.2f ms\n",
        pct(daemon_batch, 0.5), pct(daemon_queued, 0.5), pct(tail, 0.5));
    std::printf(
        "  CPU time of all threads during the fence (the farm's included): daemon %.2f ms, direct "
        "%.2f ms "
        "(%u CPUs: a fence is CPU-bound when CPU time nears CPUs x wall time)\n",
        pct(daemon_cpu, 0.5), pct(direct_cpu, 0.5), std::thread::hardware_concurrency());
    {
        // The protocol's share of the difference: 1000 outcomes encoded into parts, then decoded.
        std::vector<double> enc, dec;
        size_t bytes = 0, parts = 0;
        for (int i = 0; i < 20; ++i) {
            nl::Summary sum;
            sum.batch.luns = sample.size();
            auto t0 = Clock::now();
            nl::Header req;
            req.cmd = nl::CMD_RUN;
            req.seq = 7;
            auto msgs = nl::encode_run_answer(req, sample, sum);
            enc.push_back(us(Clock::now() - t0) / 1000);
            t0 = Clock::now();
            for (const auto& m : msgs)
                if (auto a = nl::decode_answer(m); !a.ok()) die("decode_answer: " + a.error().msg);
            dec.push_back(us(Clock::now() - t0) / 1000);
            parts = msgs.size();
            bytes = 0;
            for (const auto& m : msgs) bytes += m.size();
        }
        std::printf(
            "  the codec alone, 1000 outcomes: encode %.2f ms, decode %.2f ms (%zu parts, %zu "
            "bytes)\n",
            pct(enc, 0.5), pct(dec, 0.5), parts, bytes);
    }

    d->stop();
    daemon_thread.join();
    farm->stop();
    farm_thread.join();
    fs::remove_all(tmp);
    return 0;
}

}  // namespace
}  // namespace prfence

int main() { return prfence::main_(); }
