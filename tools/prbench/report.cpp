// SPDX-License-Identifier: MIT
#include "tools/prbench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

namespace prfence::bench {
namespace {

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}
std::string us_int(uint64_t ns) { return std::to_string((ns + 500) / 1000); }
std::string ms(double ns) { return fmt("%.2f", ns / 1e6); }

std::string human_count(double v) {
    if (v >= 1e6) return fmt("%.2fM", v / 1e6);
    if (v >= 1e4) return fmt("%.1fk", v / 1e3);
    return fmt("%.0f", v);
}

double median_of(std::vector<uint64_t> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return static_cast<double>(percentile_sorted(v, 50));
}

}  // namespace

nlohmann::ordered_json latency_json(std::vector<uint64_t>& samples) {
    LatencySummary s = summarize(samples);
    nlohmann::ordered_json j;
    j["min"] = s.min;
    j["max"] = s.max;
    j["mean"] = s.mean;
    j["stddev"] = s.stddev;
    j["N"] = s.n;
    nlohmann::ordered_json p = nlohmann::ordered_json::object();
    for (const auto& [q, v] : s.percentiles) {
        char key[32];
        std::snprintf(key, sizeof key, "%f", q);  // fio: "99.900000"
        p[key] = v;
    }
    j["percentile"] = p;
    return j;
}

std::string job_name(const Measurement& r) {
    std::string n = r.op + "-" + backend_name(r.backend) + "-n" + std::to_string(r.luns) + "-qd" +
                    std::to_string(r.qd);
    if (r.rate > 0) n += "-rate" + fmt("%g", r.rate);
    return n;
}

std::string fio_block(const std::string& what, const LatencySummary& s, const std::string& indent) {
    std::string o;
    o += indent + what + " (usec): min=" + us_int(s.min) + ", max=" + us_int(s.max) +
         ", avg=" + fmt("%.2f", s.mean / 1e3) + ", stdev=" + fmt("%.2f", s.stddev / 1e3) + "\n";
    o += indent + what + " percentiles (usec):\n";
    size_t width = 1;
    for (const auto& [q, v] : s.percentiles) width = std::max(width, us_int(v).size());
    for (size_t i = 0; i < s.percentiles.size(); ++i) {
        const auto& [q, v] = s.percentiles[i];
        // fio: "     |  1.00th=[  241],  5.00th=[  289], 10.00th=[  302], 20.00th=[  318],"
        if (i % 4 == 0) o += indent + " |";
        std::string val = us_int(v);
        o += " " + fmt("%5.2f", q) + "th=[" + std::string(width - val.size(), ' ') + val + "]";
        o += (i + 1 == s.percentiles.size()) ? "\n" : (i % 4 == 3 ? ",\n" : ",");
    }
    return o;
}

std::vector<LunTime> slowest_luns(const Measurement& r, size_t k) {
    std::vector<LunTime> v;
    for (const auto& t : r.luns_time)
        if (t.n) v.push_back(t);
    std::sort(v.begin(), v.end(),
              [](const LunTime& a, const LunTime& b) { return a.max_ns > b.max_ns; });
    if (v.size() > k) v.resize(k);
    return v;
}

std::string render_text(std::vector<Measurement>& results, const RunInfo& info) {
    std::string o;
    for (Measurement& r : results) {
        o += job_name(r) + ": (workload=" + workload_name(r.workload) + ", op=" + r.op +
             ", backend=" + backend_name(r.backend) + ", luns=" + std::to_string(r.luns) +
             ", qd=" + std::to_string(r.qd) +
             (r.rate > 0 ? ", rate=" + fmt("%g", r.rate) + "/s" : std::string()) + ")\n";
        if (r.skipped) {
            o += "  skipped: " + r.note + "\n\n";
            continue;
        }
        const char* unit = r.workload == Workload::op ? "ops" : "LU-ops";
        o += "  " + r.op + ": IOPS=" + human_count(r.iops()) + " (" + unit + "/s), " + unit + "=" +
             std::to_string(r.ops) + ", errors=" + std::to_string(r.errors) +
             ", retries=" + std::to_string(r.retries) + ", warmup=" + std::to_string(r.warmup) +
             ", runt=" + std::to_string((r.runtime_ns + 500000) / 1000000) + "msec\n";
        if (!r.wall.empty()) {
            std::vector<uint64_t> w = r.wall;
            LatencySummary s = summarize(w);
            o += "    wall (msec): min=" + ms(static_cast<double>(s.min)) +
                 ", max=" + ms(static_cast<double>(s.max)) + ", avg=" + ms(s.mean) +
                 ", stdev=" + ms(s.stddev) + ", median=" + ms(static_cast<double>(s.at(50))) +
                 ", batches=" + std::to_string(s.n) + "  (first submission to last LU done)\n";
        }
        if (!r.arm.empty()) {
            std::vector<uint64_t> w = r.arm;
            LatencySummary s = summarize(w);
            o += "    arming (msec): min=" + ms(static_cast<double>(s.min)) +
                 ", max=" + ms(static_cast<double>(s.max)) +
                 ", median=" + ms(static_cast<double>(s.at(50))) +
                 "  (before each batch, not in wall)\n";
        }
        if (!r.wall_lat.empty()) {
            LatencySummary s = summarize(r.wall_lat);
            o += "    wall from intended start (msec): min=" + ms(static_cast<double>(s.min)) +
                 ", max=" + ms(static_cast<double>(s.max)) + ", avg=" + ms(s.mean) +
                 ", median=" + ms(static_cast<double>(s.at(50))) + "\n";
        }
        if (!r.clat.empty()) o += fio_block("clat", summarize(r.clat));
        if (!r.lat.empty()) {
            o += "    (paced: lat = intended send time to completion, coordinated omission "
                 "corrected)\n";
            o += fio_block("lat", summarize(r.lat));
        }
        auto slow = slowest_luns(r, info.slowest);
        if (!slow.empty()) {
            o += "    slowest LUNs:";
            for (size_t i = 0; i < slow.size(); ++i)
                o += std::string(i ? "," : "") + " " + slow[i].name + " " + us_int(slow[i].max_ns) +
                     "us";
            o += "\n";
        }
        if (!r.note.empty()) o += "    note: " + r.note + "\n";
        if (!r.first_error.empty()) o += "    first error: " + r.first_error + "\n";
        o += "\n";
    }

    // Comparison: per (workload, op, N), each backend at its highest concurrency, against
    // sg_persist.
    struct Key {
        int w;
        std::string op;
        size_t n;
        bool operator<(const Key& k) const { return std::tie(w, op, n) < std::tie(k.w, k.op, k.n); }
    };
    std::map<Key, std::vector<const Measurement*>> groups;
    for (const Measurement& r : results)
        if (!r.skipped) groups[{static_cast<int>(r.workload), r.op, r.luns}].push_back(&r);
    if (!groups.empty()) {
        o += "Comparison (each backend at its highest concurrency; x = sg_persist's figure / this "
             "one)\n";
        char line[256];
        std::snprintf(line, sizeof line, "  %-9s %-17s %5s  %-11s %5s %12s %10s %10s %8s\n",
                      "workload", "op", "luns", "backend", "qd", "wall_med_ms", "p50_us", "p99_us",
                      "x_sgp");
        o += line;
        for (auto& [k, rs] : groups) {
            std::map<Backend, const Measurement*> best;
            for (const Measurement* r : rs) {
                auto& b = best[r->backend];
                if (!b || r->qd > b->qd) b = r;
            }
            auto figure = [&](const Measurement* r) {
                // fence/pingpong: median batch wall; op: median command latency.
                if (!r->wall.empty()) return median_of(r->wall);
                return median_of(r->clat);
            };
            const Measurement* sgp =
                best.count(Backend::sg_persist) ? best[Backend::sg_persist] : nullptr;
            const double fs = sgp ? figure(sgp) : 0;
            for (auto& [b, r] : best) {
                std::vector<uint64_t> c = r->clat;
                LatencySummary s = summarize(c);
                const double fr = figure(r);  // with samples of wall, their median
                std::string x = "-";
                if (sgp && fr > 0) x = fmt("%.1f", fs / fr);
                std::snprintf(
                    line, sizeof line, "  %-9s %-17s %5zu  %-11s %5u %12s %10s %10s %8s\n",
                    workload_name(r->workload), r->op.c_str(), r->luns, backend_name(b), r->qd,
                    r->wall.empty() ? "-" : ms(fr).c_str(), s.n ? us_int(s.at(50)).c_str() : "-",
                    s.n ? us_int(s.at(99)).c_str() : "-", x.c_str());
                o += line;
            }
        }
    }
    return o;
}

nlohmann::ordered_json render_json(std::vector<Measurement>& results, const RunInfo& info) {
    nlohmann::ordered_json j;
    j["prbench version"] = "prbench-" + info.version;
    const std::time_t now = std::time(nullptr);
    j["timestamp"] = static_cast<int64_t>(now);
    char tbuf[64];
    std::strftime(tbuf, sizeof tbuf, "%a %b %e %H:%M:%S %Y", std::localtime(&now));
    j["time"] = tbuf;
    j["clock"] = "CLOCK_MONOTONIC";
    j["global options"] = {{"command_line", info.command_line},
                           {"devices", info.devices},
                           {"warmup", info.warmup},
                           {"rounds", info.rounds},
                           {"iterations", info.iterations}};
    nlohmann::ordered_json jobs = nlohmann::ordered_json::array();
    for (Measurement& r : results) {
        nlohmann::ordered_json x;
        x["jobname"] = job_name(r);
        x["workload"] = workload_name(r.workload);
        x["op"] = r.op;
        x["backend"] = backend_name(r.backend);
        x["luns"] = r.luns;
        x["qd"] = r.qd;
        x["rate"] = r.rate;
        x["skipped"] = r.skipped;
        x["note"] = r.note;
        x["ops"] = r.ops;
        x["total_ios"] = r.ops;
        x["errors"] = r.errors;
        x["error"] = r.errors ? 1 : 0;
        x["retries"] = r.retries;
        x["warmup"] = r.warmup;
        x["runtime"] = r.runtime_ns / 1000000;  // fio: msec
        x["runtime_ns"] = r.runtime_ns;
        x["iops"] = r.iops();
        x["first_error"] = r.first_error;
        x["clat_ns"] = latency_json(r.clat);
        LogHistogram h;
        for (uint64_t v : r.clat) h.add(v);
        nlohmann::ordered_json hist = nlohmann::ordered_json::object();
        for (size_t b = 0; b < h.buckets.size(); ++b)
            if (h.buckets[b]) hist[std::to_string(b == 0 ? 0 : (1ull << b))] = h.buckets[b];
        x["clat_hist_log2_ns"] = hist;  // lower bound of each power-of-two bucket -> count
        if (!r.lat.empty()) x["lat_ns"] = latency_json(r.lat);
        if (!r.wall.empty()) {
            std::vector<uint64_t> w = r.wall;
            x["wall_ns"] = latency_json(w);
            x["wall_ns"]["samples"] = r.wall;
        }
        if (!r.arm.empty())
            x["arm_ns"] = r.arm;  // fence: per measured round, the arming (not in wall_ns)
        if (!r.wall_lat.empty()) x["wall_lat_ns"] = latency_json(r.wall_lat);
        nlohmann::ordered_json slow = nlohmann::ordered_json::array();
        for (const auto& t : slowest_luns(r, info.slowest))
            slow.push_back({{"name", t.name},
                            {"max_ns", t.max_ns},
                            {"mean_ns", t.n ? t.sum_ns / t.n : 0},
                            {"N", t.n}});
        x["slowest_luns"] = slow;
        jobs.push_back(std::move(x));
    }
    j["jobs"] = jobs;
    return j;
}

}  // namespace prfence::bench
