// SPDX-License-Identifier: MIT
// prbench's statistics and renderers on known data: exact percentiles (nearest rank), mean and
// sample standard deviation, CDF points, the log2 histogram, fio's text block and JSON field names,
// the SVG's tick labels and the prsim shim's device names.
#include <gtest/gtest.h>

#include <numeric>

#include "tools/prbench/bench.h"
#include "tools/prbench/report.h"
#include "tools/prbench/spawn.h"
#include "tools/prbench/stats.h"
#include "tools/prbench/svg.h"

namespace {

using namespace prfence::bench;

std::vector<uint64_t> one_to(uint64_t n) {
    std::vector<uint64_t> v(n);
    std::iota(v.begin(), v.end(), 1);
    return v;
}

TEST(Percentile, NearestRankOnOneToHundred) {
    auto v = one_to(100);
    EXPECT_EQ(percentile_sorted(v, 1), 1u);
    EXPECT_EQ(percentile_sorted(v, 5), 5u);
    EXPECT_EQ(percentile_sorted(v, 50), 50u);
    EXPECT_EQ(percentile_sorted(v, 90), 90u);
    EXPECT_EQ(percentile_sorted(v, 99), 99u);
    EXPECT_EQ(percentile_sorted(v, 99.5), 100u);  // rank ceil(99.5) = 100
    EXPECT_EQ(percentile_sorted(v, 99.99), 100u);
    EXPECT_EQ(percentile_sorted(v, 100), 100u);
    EXPECT_EQ(percentile_sorted(v, 0), 1u);
}

TEST(Percentile, SmallAndOddSets) {
    std::vector<uint64_t> ten{10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
    EXPECT_EQ(percentile_sorted(ten, 50), 50u);  // rank 5 exactly, not 6
    EXPECT_EQ(percentile_sorted(ten, 10), 10u);
    EXPECT_EQ(percentile_sorted(ten, 10.01), 20u);
    EXPECT_EQ(percentile_sorted(ten, 95), 100u);
    EXPECT_EQ(percentile_sorted(ten, 1), 10u);
    std::vector<uint64_t> one{42};
    for (double p : kFioPercentiles) EXPECT_EQ(percentile_sorted(one, p), 42u);
    std::vector<uint64_t> none;
    EXPECT_EQ(percentile_sorted(none, 50), 0u);
    // 1000 samples: p99.9 is the 999th, p99.95 and p99.99 the 1000th.
    auto k = one_to(1000);
    EXPECT_EQ(percentile_sorted(k, 99.9), 999u);
    EXPECT_EQ(percentile_sorted(k, 99.95), 1000u);
    EXPECT_EQ(percentile_sorted(k, 0.1), 1u);
}

TEST(Summary, MeanStddevMinMaxAndOrder) {
    std::vector<uint64_t> v{9, 2, 4, 4, 5, 4, 7, 5};  // mean 5, sum of squares 32
    LatencySummary s = summarize(v);
    EXPECT_EQ(s.n, 8u);
    EXPECT_EQ(s.min, 2u);
    EXPECT_EQ(s.max, 9u);
    EXPECT_DOUBLE_EQ(s.mean, 5.0);
    EXPECT_NEAR(s.stddev, std::sqrt(32.0 / 7.0), 1e-12);  // sample standard deviation, as fio
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
    ASSERT_EQ(s.percentiles.size(), std::size(kFioPercentiles));
    EXPECT_EQ(s.at(50), 4u);  // rank 4 of 2 4 4 4 5 5 7 9
    EXPECT_EQ(s.at(60), 5u);  // rank ceil(4.8) = 5
    EXPECT_EQ(s.at(99.99), 9u);
    for (size_t i = 1; i < s.percentiles.size(); ++i)
        EXPECT_LE(s.percentiles[i - 1].second, s.percentiles[i].second);
}

TEST(Summary, LargeNanosecondValuesKeepPrecision) {
    std::vector<uint64_t> v{1'000'000'000'001ull, 1'000'000'000'003ull};
    LatencySummary s = summarize(v);
    EXPECT_DOUBLE_EQ(s.mean, 1'000'000'000'002.0);
    EXPECT_NEAR(s.stddev, std::sqrt(2.0), 1e-3);
    std::vector<uint64_t> e;
    LatencySummary z = summarize(e);
    EXPECT_EQ(z.n, 0u);
    EXPECT_EQ(z.stddev, 0.0);
}

TEST(Cdf, PointsAreExactForSmallSetsAndDownsampledForLarge) {
    std::vector<uint64_t> v{1, 2, 2, 3};
    auto p = cdf_points(v);
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(p[0], (std::pair<uint64_t, double>{1, 0.25}));
    EXPECT_EQ(p[1], (std::pair<uint64_t, double>{2, 0.75}));
    EXPECT_EQ(p[2], (std::pair<uint64_t, double>{3, 1.0}));
    auto big = one_to(10000);
    auto q = cdf_points(big, 101);
    ASSERT_EQ(q.size(), 101u);
    EXPECT_EQ(q.front().first, 1u);
    EXPECT_EQ(q.back().first, 10000u);
    EXPECT_DOUBLE_EQ(q.back().second, 1.0);
    EXPECT_EQ(q[50].first, 5000u);  // index 50 * 9999 / 100 = 4999 -> value 5000
    for (size_t i = 1; i < q.size(); ++i) EXPECT_LT(q[i - 1].second, q[i].second);
}

TEST(Histogram, Log2Buckets) {
    LogHistogram h;
    for (uint64_t v : {0ull, 1ull, 2ull, 3ull, 4ull, 1023ull, 1024ull, 1'000'000ull}) h.add(v);
    ASSERT_EQ(h.buckets.size(), 20u);  // 1'000'000 < 2^20
    EXPECT_EQ(h.buckets[0], 2u);       // 0 and 1
    EXPECT_EQ(h.buckets[1], 2u);       // 2, 3
    EXPECT_EQ(h.buckets[2], 1u);       // 4
    EXPECT_EQ(h.buckets[9], 1u);       // 1023
    EXPECT_EQ(h.buckets[10], 1u);      // 1024
    EXPECT_EQ(h.buckets[19], 1u);      // 1'000'000
    EXPECT_EQ(h.total(), 8u);
}

TEST(Report, FioBlockLayout) {
    std::vector<uint64_t> v;
    for (uint64_t i = 1; i <= 100; ++i) v.push_back(i * 1000);  // 1..100 us
    LatencySummary s = summarize(v);
    const std::string got = fio_block("clat", s, "    ");
    const std::string want =
        "    clat (usec): min=1, max=100, avg=50.50, stdev=29.01\n"
        "    clat percentiles (usec):\n"
        "     |  1.00th=[  1],  5.00th=[  5], 10.00th=[ 10], 20.00th=[ 20],\n"
        "     | 30.00th=[ 30], 40.00th=[ 40], 50.00th=[ 50], 60.00th=[ 60],\n"
        "     | 70.00th=[ 70], 80.00th=[ 80], 90.00th=[ 90], 95.00th=[ 95],\n"
        "     | 99.00th=[ 99], 99.50th=[100], 99.90th=[100], 99.95th=[100],\n"
        "     | 99.99th=[100]\n";
    EXPECT_EQ(got, want);
}

TEST(Report, JsonHasFioFieldNamesInOrder) {
    std::vector<uint64_t> v = one_to(1000);
    auto j = latency_json(v);
    for (const char* k : {"min", "max", "mean", "stddev", "N", "percentile"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_EQ(j["N"], 1000);
    EXPECT_EQ(j["percentile"]["99.900000"], 999);
    EXPECT_EQ(j["percentile"]["1.000000"], 10);
    EXPECT_EQ(j["percentile"].begin().key(), "1.000000");  // fio's order, not alphabetical
    EXPECT_EQ(j["percentile"].size(), std::size(kFioPercentiles));
}

TEST(Report, ResultJsonAndText) {
    Measurement r;
    r.workload = Workload::fence;
    r.op = "fence";
    r.backend = Backend::uring;
    r.luns = 2;
    r.qd = 2;
    r.ops = 4;
    r.runtime_ns = 2'000'000;
    r.clat = {1000, 2000, 3000, 4000};
    r.wall = {1'000'000, 1'000'000};
    r.luns_time = {{"lu0", 5000, 9000, 2}, {"lu1", 7000, 9000, 2}};
    std::vector<Measurement> rs{r};
    RunInfo info;
    info.version = "0.0";
    auto j = render_json(rs, info);
    const auto& job = j["jobs"][0];
    EXPECT_EQ(job["jobname"], "fence-uring-n2-qd2");
    EXPECT_EQ(job["clat_ns"]["N"], 4);
    EXPECT_EQ(job["wall_ns"]["N"], 2);
    EXPECT_DOUBLE_EQ(job["iops"].get<double>(), 2000.0);
    EXPECT_EQ(job["slowest_luns"][0]["name"], "lu1");
    const std::string text = render_text(rs, info);
    EXPECT_NE(text.find("IOPS=2000"), std::string::npos) << text;
    EXPECT_NE(text.find("slowest LUNs: lu1 7us, lu0 5us"), std::string::npos) << text;
    EXPECT_NE(text.find("wall (msec): min=1.00"), std::string::npos) << text;
}

TEST(Svg, TickLabelsAndWellFormedEnvelope) {
    EXPECT_EQ(us_tick_label(1), "1 us");
    EXPECT_EQ(us_tick_label(100), "100 us");
    EXPECT_EQ(us_tick_label(1000), "1 ms");
    EXPECT_EQ(us_tick_label(10000), "10 ms");
    EXPECT_EQ(us_tick_label(1e6), "1 s");
    EXPECT_EQ(us_tick_label(1e7), "10 s");
    EXPECT_EQ(us_tick_label(2000), "");
    Measurement r;
    r.op = "read-keys";
    r.luns = 1;
    r.qd = 1;
    r.clat = {1000, 5000, 9000};
    std::string svg = render_svg({r}, "a <subtitle> & more");
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
    EXPECT_NE(svg.find("a &lt;subtitle&gt; &amp; more"), std::string::npos);
    EXPECT_NE(svg.find("no fence results"), std::string::npos);
}

TEST(Names, ShimDevicePathsAndWords) {
    EXPECT_EQ(prsim_sd_path(0), "/dev/prsim/sda");
    EXPECT_EQ(prsim_sd_path(25), "/dev/prsim/sdz");
    EXPECT_EQ(prsim_sd_path(26), "/dev/prsim/sdaa");
    EXPECT_EQ(prsim_sd_path(701), "/dev/prsim/sdzz");
    EXPECT_EQ(prsim_sd_path(702), "/dev/prsim/sdaaa");
    EXPECT_EQ(prsim_sg_path(17), "/dev/prsim/sg17");
    EXPECT_EQ(prsim_sd_path(27), "/dev/prsim/sdab");
    EXPECT_EQ(split_words("prsim-run --socket '/tmp/a b' --initiator \"x,i,0x1\" --"),
              (std::vector<std::string>{"prsim-run", "--socket", "/tmp/a b", "--initiator",
                                        "x,i,0x1", "--"}));
    EXPECT_TRUE(split_words("   ").empty());
}

TEST(Spawn, TimesAProcessAndKeepsItsOutput) {
    auto r = spawn_and_wait({"sh", "-c", "echo hello; echo oops >&2; exit 3"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.output.find("hello"), std::string::npos);
    EXPECT_NE(r.output.find("oops"), std::string::npos);
    EXPECT_GT(r.elapsed_ns(), 0u);
    auto s = spawn_and_wait({"sleep", "0.05"});
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_GE(s.elapsed_ns(), 50'000'000u);
    auto missing = spawn_and_wait({"/nonexistent/prbench-no-such-tool"});
    EXPECT_NE(missing.exit_code, 0);
}

}  // namespace
