// SPDX-License-Identifier: MIT
// prbench: persistent-reservation latency, measured on real LUNs or prsim, prfence against the way
// it is done today (sg_persist loops, fence_scsi). main parses options and renders; the measuring
// is in matrix.cpp (what runs) and the backends (backend.h), the statistics in stats.cpp, the
// outputs in report.cpp and svg.cpp.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tools/prbench/bench.h"
#include "tools/prbench/report.h"
#include "tools/prbench/spawn.h"
#include "tools/prbench/svg.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/devices/resolve.h"

namespace {

namespace bench = prfence::bench;

std::vector<std::string> split_list(const std::vector<std::string>& in) {
    std::vector<std::string> out;
    for (const auto& s : in) {
        std::stringstream ss(s);
        std::string item;
        while (std::getline(ss, item, ','))
            if (!item.empty()) out.push_back(item);
    }
    return out;
}

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "prbench: %s\n", msg.c_str());
    return 1;
}

std::string self_dir() {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string p(buf, static_cast<size_t>(n));
    auto slash = p.rfind('/');
    return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool write_file(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
    return static_cast<bool>(f.flush());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "prbench: SCSI persistent-reservation latency on real LUNs or prsim; prfence against "
        "sg_persist loops,\n"
        "fence_scsi and the SG_IO pool. Output like fio: clat percentiles (usec), IOPS, JSON with "
        "fio's field names.",
        "prbench"};
    app.set_version_flag("-V,--version", "prbench " PRFENCE_VERSION);
    app.footer(
        "\nExamples:\n"
        "  prsim --socket /tmp/s --luns 256 --fault latency,ms=1 &\n"
        "  prbench -w op --op read-keys,register-ignore --qd 1,8,64,all sim:/tmp/s:0-255\n"
        "  prbench -w fence --luns 16,64,256 -b uring,serial,sg_persist --plot fence.svg "
        "sim:/tmp/s:0-255\n"
        "  prbench -w fence -b uring,sgio,sg_persist,fence_scsi /dev/sd[b-z] --node-b @nodeb.list "
        "--output-format json\n"
        "  prbench -w op --op read-keys --rate 2000 sim:/tmp/s:0-63      # paced: coordinated "
        "omission corrected\n"
        "  prbench -w fence -b uring,blkpr,mpathpersist --key-b a1 @victim.list --node-b "
        "/dev/mapper/3600*   # node B multipathed\n"
        "  prbench -w fence -b uring,blkpr,nvme-cli /dev/ng0n* --node-b /dev/ng1n*   # NVMe "
        "namespaces, two hosts\n"
        "Node A drives the LUs named by DEVICES, node B the same LUs through --node-b (real LUNs: "
        "the other\n"
        "session's nodes, in the same order). For prsim LUNs node B is the same LUNs through a "
        "second initiator.");

    std::vector<std::string> devices, node_b, workloads{"op"}, ops{"read-keys"}, backends{"uring"},
        qds{"all"}, ns{"all"};
    std::string initiator_a = "iqn.2026-11.io.prfence:node-a,i,0x1",
                initiator_b = "iqn.2026-11.io.prfence:node-b,i,0x2";
    uint16_t port_a = 1, port_b = 2;
    std::string key_a = "abc123", key_b = "123abc", type = "EA";
    bench::Config cfg;
    std::string output_format = "normal", output, json_out, plot, baseline_wrap, prsim_run;
    bool quiet = false;
    size_t slowest = 5;

    app.add_option(
           "devices", devices,
           "Node A's LUNs: /dev/sdX, /dev/sgN, by-id links, globs, @listfile, sim:SOCKET:RANGE")
        ->required();
    app.add_option("-w,--workload", workloads, "op, fence, pingpong (comma list)")->delimiter(',');
    app.add_option("--op", ops,
                   "Operations for -w op (comma list, or all): register, register-ignore, reserve, "
                   "release, preempt, "
                   "preempt-abort, clear, read-keys, read-reservation, report-capabilities, "
                   "read-full-status")
        ->delimiter(',');
    app.add_option(
           "-b,--backend", backends,
           "uring, sgio, serial, sg_persist, fence_scsi, blkpr, mpathpersist, nvme-cli, all "
           "(comma list)")
        ->delimiter(',');
    app.add_option("--qd", qds,
                   "Concurrency sweep: commands in flight at most (numbers, or all = one per LUN)")
        ->delimiter(',');
    app.add_option("--luns", ns, "LUN-count sweep: the first N of DEVICES (numbers, or all)")
        ->delimiter(',');
    app.add_option("--iterations", cfg.iterations,
                   "op: measured cycles per LUN (default: enough for ~2000 samples, at least 10)");
    app.add_option("--rounds", cfg.rounds,
                   "fence: measured batches; pingpong: measured takeovers (default 5)");
    app.add_option(
        "--warmup", cfg.warmup,
        "op: cycles per LUN discarded first; fence/pingpong: rounds discarded (default 1)");
    app.add_option(
           "--rate", cfg.rate,
           "Paced mode: op: operations/s across all LUNs; fence/pingpong: rounds/s. Latency is "
           "then also "
           "measured from each command's intended send time (coordinated omission corrected)")
        ->check(CLI::PositiveNumber);
    app.add_option("--baseline-iterations", cfg.baseline_iterations,
                   "sg_persist, op workload: cycles per LUN (default 1)");
    app.add_option("--baseline-rounds", cfg.baseline_rounds,
                   "sg_persist and fence_scsi: fence/pingpong rounds (default 1)");
    app.add_option(
        "--node-b", node_b,
        "Node B's devices (the same LUs through the other session, same order); repeatable");
    app.add_option("--initiator", initiator_a,
                   "prsim: node A's TransportID (default iqn.2026-11.io.prfence:node-a,i,0x1)");
    app.add_option("--target-port", port_a, "prsim: node A's relative target port (default 1)")
        ->check(CLI::Range(1, 65535));
    app.add_option("--initiator-b", initiator_b,
                   "prsim: node B's TransportID (default iqn.2026-11.io.prfence:node-b,i,0x2)");
    app.add_option("--target-port-b", port_b, "prsim: node B's relative target port (default 2)")
        ->check(CLI::Range(1, 65535));
    app.add_option("--key-a", key_a, "Node A's reservation key, hex (default abc123)");
    app.add_option("--key-b", key_b, "Node B's reservation key, hex (default 123abc)");
    app.add_option("--type", type, "Reservation type (default EA = 3)");
    app.add_option("--timeout", cfg.timeout_ms, "Per-command timeout, ms (default 20000)")
        ->check(CLI::Range(1, 3600000));
    std::string arm = "reserve";
    app.add_option("--arm", arm,
                   "fence: how each round is armed: reserve (B registers and clears, A and B "
                   "register, A reserves; "
                   "default) or takeover (A's takeover plan, PREEMPT AND ABORT of B)")
        ->check(CLI::IsMember({"reserve", "takeover"}));
    app.add_option("--settle", cfg.settle_ms,
                   "fence: ms to wait between arming and the measured batch (default 0)");
    app.add_option("--sgio-threads", cfg.sgio_threads, "SG_IO pool threads (default 8)")
        ->check(CLI::Range(1, 1024));
    app.add_option("--sg-persist", cfg.sg_persist, "sg_persist to run (default: from PATH)");
    app.add_option("--fence-scsi", cfg.fence_scsi, "fence_scsi to run (default: from PATH)");
    app.add_option("--mpathpersist", cfg.mpathpersist,
                   "mpathpersist to run (default: from PATH); --key-b must be multipath.conf's "
                   "reservation_key");
    app.add_option("--nvme", cfg.nvme,
                   "nvme-cli to run (default: nvme from PATH); per namespace: resv-report --eds, "
                   "resv-acquire --racqa=2, resv-report --eds");
    app.add_option(
        "--baseline-wrap", baseline_wrap,
        "Words before every baseline command, e.g. 'prsim-run --socket {socket} --initiator "
        "{initiator} "
        "--target-port {target_port} --'; {socket}, {initiator}, {target_port} are the node's");
    app.add_option(
        "--prsim-run", prsim_run,
        "prsim's LD_PRELOAD runner for baselines on prsim LUNs (default: next to prbench, "
        "../../interposer/prsim-run from it, or PATH)");
    app.add_option("--output-format", output_format, "normal, json, or normal,json")
        ->check(CLI::IsMember({"normal", "json", "normal,json", "json,normal"}));
    app.add_option("--output", output, "Write the output to FILE instead of stdout");
    app.add_option("--json", json_out, "Also write the JSON to FILE");
    app.add_option("--plot", plot,
                   "Write an SVG: latency CDF per backend, and fence time against N LUNs");
    app.add_option("--slowest", slowest, "LUNs listed as the slowest per result (default 5)");
    app.add_flag("-q,--quiet", quiet, "No progress lines on stderr");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 1;
    }

    // ---- options -> Config
    cfg.arm_takeover = arm == "takeover";
    cfg.workloads.clear();
    for (const auto& w : split_list(workloads)) {
        auto v = bench::parse_workload(w);
        if (!v) return usage_error("unknown workload " + w + " (op, fence, pingpong)");
        cfg.workloads.push_back(*v);
    }
    cfg.ops.clear();
    for (const auto& o : split_list(ops)) {
        if (o == "all") {
            for (const char* n : bench::kOpNames) cfg.ops.push_back(n);
        } else if (bench::is_op_name(o)) {
            cfg.ops.push_back(o);
        } else {
            return usage_error("unknown operation " + o);
        }
    }
    cfg.backends.clear();
    for (const auto& b : split_list(backends)) {
        if (b == "all") {
            cfg.backends = {bench::Backend::uring,        bench::Backend::sgio,
                            bench::Backend::serial,       bench::Backend::sg_persist,
                            bench::Backend::fence_scsi,   bench::Backend::blkpr,
                            bench::Backend::mpathpersist, bench::Backend::nvme_cli};
            continue;
        }
        auto v = bench::parse_backend(b);
        if (!v)
            return usage_error(
                "unknown backend " + b +
                " (uring, sgio, serial, sg_persist, fence_scsi, blkpr, mpathpersist, nvme-cli, "
                "all)");
        cfg.backends.push_back(*v);
    }
    auto numbers = [](const std::vector<std::string>& in, const char* what,
                      auto& outv) -> std::string {
        outv.clear();
        for (const auto& s : split_list(in)) {
            if (s == "all") {
                outv.push_back(0);
                continue;
            }
            char* end = nullptr;
            unsigned long v = std::strtoul(s.c_str(), &end, 10);
            if (!end || *end || v == 0)
                return std::string(what) + ": " + s + " is not a positive number or all";
            outv.push_back(static_cast<std::remove_reference_t<decltype(outv[0])>>(v));
        }
        return {};
    };
    if (auto e = numbers(qds, "--qd", cfg.qds); !e.empty()) return usage_error(e);
    if (auto e = numbers(ns, "--luns", cfg.ns); !e.empty()) return usage_error(e);
    auto ka = prfence::parse_hex_u64(key_a);
    auto kb = prfence::parse_hex_u64(key_b);
    if (!ka) return usage_error("--key-a: " + ka.error().msg);
    if (!kb) return usage_error("--key-b: " + kb.error().msg);
    if (*ka == 0 || *kb == 0 || *ka == *kb)
        return usage_error("--key-a and --key-b must be two different non-zero keys");
    auto t = prfence::wire::parse_type(type);
    if (!t) return usage_error("--type: " + t.error().msg);
    cfg.type = *t;
    cfg.a = {initiator_a, port_a, *ka};
    cfg.b = {initiator_b, port_b, *kb};

    // ---- devices
    auto a = prfence::engine::resolve_devices(devices);
    if (!a) {
        std::fprintf(stderr, "prbench: cannot resolve devices:\n%s\n", a.error().msg.c_str());
        return 15;
    }
    std::vector<prfence::engine::LunSpec> b;
    if (!node_b.empty()) {
        auto rb = prfence::engine::resolve_devices(node_b);
        if (!rb) {
            std::fprintf(stderr, "prbench: cannot resolve --node-b devices:\n%s\n",
                         rb.error().msg.c_str());
            return 15;
        }
        b = std::move(rb).value();
        if (b.size() != a->size())
            return usage_error("--node-b names " + std::to_string(b.size()) + " LUs, DEVICES " +
                               std::to_string(a->size()));
    }
    bool any_sim = false;
    for (size_t i = 0; i < a->size(); ++i) {
        const auto& spec = (*a)[i];
        bench::BenchLun l;
        l.name = spec.name;
        l.wwid = spec.wwid;
        l.a = spec.paths.at(0);
        if (l.a.kind == prfence::engine::PathSpec::Kind::sim) {
            any_sim = true;
            l.b = l.a;  // the same LU through node B's initiator
            l.has_b = true;
        } else if (!b.empty()) {
            if (b[i].wwid != spec.wwid)
                return usage_error("--node-b's LU " + std::to_string(i) + " (" + b[i].name + ", " +
                                   b[i].wwid + ") is not " + spec.name + " (" + spec.wwid +
                                   "): give node B's devices in the same order");
            l.b = b[i].paths.at(0);
            l.has_b = true;
            l.b_paths = b[i].paths;
            l.b_map = bench::dm_map_node(b[i]);
        }
        cfg.luns.push_back(std::move(l));
    }

    // ---- baselines on prsim: the LD_PRELOAD runner
    if (!baseline_wrap.empty()) {
        cfg.baseline_wrap = bench::split_words(baseline_wrap);
    } else if (any_sim) {
        std::string runner = prsim_run;
        if (runner.empty()) {
            const std::string here = self_dir();
            for (const std::string& c : {here + "/prsim-run", here + "/../../interposer/prsim-run",
                                         here + "/../interposer/prsim-run"})
                if (access(c.c_str(), X_OK) == 0) {
                    runner = c;
                    break;
                }
            if (runner.empty()) runner = bench::find_executable("prsim-run");
        } else if (access(runner.c_str(), X_OK) != 0) {
            return usage_error("--prsim-run " + runner + ": not an executable");
        }
        cfg.prsim_run = runner;
    }
    if (!quiet)
        cfg.progress = [](const std::string& s) {
            std::fprintf(stderr, "prbench: %s\n", s.c_str());
        };

    auto results = bench::run(cfg);
    if (!results) {
        std::fprintf(stderr, "prbench: %s\n", results.error().msg.c_str());
        return 99;
    }

    bench::RunInfo info;
    info.version = PRFENCE_VERSION;
    for (int i = 0; i < argc; ++i) info.command_line += (i ? " " : "") + std::string(argv[i]);
    for (const auto& d : devices) info.devices += (info.devices.empty() ? "" : " ") + d;
    info.warmup = cfg.warmup;
    info.rounds = cfg.rounds;
    info.iterations = cfg.iterations;
    info.slowest = slowest;

    std::string text;
    const bool want_normal = output_format.find("normal") != std::string::npos;
    const bool want_json = output_format.find("json") != std::string::npos;
    std::string json;
    if (want_json || !json_out.empty()) json = bench::render_json(*results, info).dump(2) + "\n";
    if (want_normal) text += bench::render_text(*results, info);
    if (want_json) text += json;
    if (output.empty()) {
        std::cout << text;
        std::cout.flush();
    } else if (!write_file(output, text)) {
        return usage_error("cannot write " + output);
    }
    if (!json_out.empty() && !write_file(json_out, json))
        return usage_error("cannot write " + json_out);
    if (!plot.empty() &&
        !write_file(
            plot, bench::render_svg(*results, "prbench " PRFENCE_VERSION ": " + info.command_line)))
        return usage_error("cannot write " + plot);
    size_t errors = 0;
    for (const auto& r : *results) errors += r.errors;
    return errors ? 2 : 0;
}
