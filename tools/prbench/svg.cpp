// SPDX-License-Identifier: MIT
#include "tools/prbench/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "tools/prbench/stats.h"

namespace prfence::bench {
namespace {

constexpr double kW = 960, kPanelH = 420, kLeft = 90, kRight = 290, kTop = 70, kBottom = 60;

const char* color(Backend b) {
    switch (b) {
        case Backend::uring:
            return "#1f77b4";
        case Backend::sgio:
            return "#ff7f0e";
        case Backend::serial:
            return "#2ca02c";
        case Backend::sg_persist:
            return "#d62728";
        case Backend::fence_scsi:
            return "#9467bd";
        case Backend::blkpr:
            return "#8c564b";
        case Backend::mpathpersist:
            return "#e377c2";
        case Backend::nvme_cli:
            return "#7f7f7f";
    }
    return "#000000";
}
const char* label(Backend b) {
    switch (b) {
        case Backend::uring:
            return "prfence (io_uring)";
        case Backend::sgio:
            return "prfence (SG_IO pool)";
        case Backend::serial:
            return "one at a time";
        case Backend::sg_persist:
            return "sg_persist loop";
        case Backend::fence_scsi:
            return "fence_scsi";
        case Backend::blkpr:
            return "IOC_PR ioctl loop";
        case Backend::mpathpersist:
            return "mpathpersist loop";
        case Backend::nvme_cli:
            return "nvme-cli loop";
    }
    return "?";
}

std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&':
                o += "&amp;";
                break;
            case '<':
                o += "&lt;";
                break;
            case '>':
                o += "&gt;";
                break;
            case '"':
                o += "&quot;";
                break;
            default:
                o += c;
        }
    }
    return o;
}
std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return b;
}
std::string text(double x, double y, const std::string& s, const char* anchor = "middle",
                 int size = 13, const char* extra = "") {
    return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor +
           "\" font-size=\"" + std::to_string(size) + "\"" + extra + ">" + esc(s) + "</text>\n";
}
std::string line(double x1, double y1, double x2, double y2, const char* stroke, double w = 1,
                 const char* extra = "") {
    return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
           num(y2) + "\" stroke=\"" + stroke + "\" stroke-width=\"" + num(w) + "\"" + extra +
           "/>\n";
}

struct Frame {
    double x0, y0, w, h;  // plot area
    double lx0, lx1;      // log10 x range
    double y_lo, y_hi;    // y range (log10 when ylog)
    bool ylog = false;
    double X(double v) const { return x0 + (std::log10(v) - lx0) / (lx1 - lx0) * w; }
    double Y(double v) const {
        const double t = ylog ? (std::log10(v) - y_lo) / (y_hi - y_lo) : (v - y_lo) / (y_hi - y_lo);
        return y0 + h - t * h;
    }
};

// The y axis title, rotated, `gap` left of the plot, and the frame around the plot area.
std::string y_title_and_frame(const Frame& f, double gap, const std::string& title) {
    return "<text transform=\"translate(" + num(f.x0 - gap) + "," + num(f.y0 + f.h / 2) +
           ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">" + title + "</text>\n" +
           "<rect x=\"" + num(f.x0) + "\" y=\"" + num(f.y0) + "\" width=\"" + num(f.w) +
           "\" height=\"" + num(f.h) + "\" fill=\"none\" stroke=\"#333333\"/>\n";
}

// The legend, right of the plot: per backend a colour swatch, its name, and a line of detail below.
std::string legend(double x, double y, const std::vector<std::pair<Backend, std::string>>& items) {
    std::string o;
    for (size_t i = 0; i < items.size(); ++i) {
        const double yy = y + static_cast<double>(i) * 44;
        o += line(x, yy, x + 28, yy, color(items[i].first), 4);
        o += text(x + 36, yy + 5, label(items[i].first), "start", 13, " font-weight=\"bold\"");
        o += text(x + 36, yy + 23, items[i].second, "start", 12, " fill=\"#333333\"");
    }
    return o;
}

// x axis: decades of microseconds between lx0 and lx1 (log10 us).
std::string log_x_axis(const Frame& f, const std::string& title, bool us_labels) {
    std::string o;
    for (int d = static_cast<int>(std::floor(f.lx0)); d <= static_cast<int>(std::ceil(f.lx1));
         ++d) {
        const double v = std::pow(10.0, d);
        if (d < f.lx0 - 1e-9 || d > f.lx1 + 1e-9) continue;
        const double x = f.X(v);
        o += line(x, f.y0, x, f.y0 + f.h, "#dddddd");
        o += text(x, f.y0 + f.h + 18,
                  us_labels ? us_tick_label(v) : std::to_string(static_cast<long long>(v)));
        for (int m = 2; m < 10; ++m) {
            const double xm = f.X(v * m);
            if (std::log10(v * m) > f.lx1) break;
            o += line(xm, f.y0 + f.h, xm, f.y0 + f.h + 4, "#888888");
        }
    }
    o += text(f.x0 + f.w / 2, f.y0 + f.h + 42, title, "middle", 13);
    return o;
}

std::string cdf_panel(const std::vector<Measurement>& results, double top) {
    std::string o;
    // Which results: the first workload/op that has command samples; per backend the run with the
    // most LUNs, then the highest concurrency.
    const Measurement* first = nullptr;
    for (const auto& r : results)
        if (!r.skipped && !r.clat.empty()) {
            first = &r;
            break;
        }
    Frame f{kLeft, top + kTop, kW - kLeft - kRight, kPanelH - kTop - kBottom, 0, 1, 0, 1, false};
    if (!first) {
        o += text(kW / 2, top + kPanelH / 2, "no per-command latencies to plot", "middle", 14);
        return o;
    }
    std::map<Backend, const Measurement*> pick;
    for (const auto& r : results) {
        if (r.skipped || r.clat.empty() || r.workload != first->workload || r.op != first->op)
            continue;
        auto& p = pick[r.backend];
        if (!p || r.luns > p->luns || (r.luns == p->luns && r.qd > p->qd)) p = &r;
    }
    std::map<Backend, std::vector<uint64_t>> sorted;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (auto& [b, r] : pick) {
        auto& v = sorted[b];
        v = r->clat;
        std::sort(v.begin(), v.end());
        lo = std::min(lo, std::max<uint64_t>(v.front(), 1));
        hi = std::max(hi, v.back());
    }
    f.lx0 = std::floor(std::log10(static_cast<double>(lo) / 1e3));
    f.lx1 = std::ceil(std::log10(static_cast<double>(hi) / 1e3));
    if (f.lx1 <= f.lx0) f.lx1 = f.lx0 + 1;
    std::string what = first->workload == Workload::op
                           ? "operation " + first->op
                           : std::string(workload_name(first->workload));
    o += text(kW / 2, top + 28, "Command latency CDF per backend: " + what, "middle", 17,
              " font-weight=\"bold\"");
    o += text(kW / 2, top + 48,
              "each command from submission to completion (sg_persist, fence_scsi: process start "
              "to exit); further left is faster",
              "middle", 12, " fill=\"#444444\"");
    // y grid: 0..1
    for (int i = 0; i <= 10; ++i) {
        const double v = i / 10.0;
        const double y = f.Y(v);
        o += line(f.x0, y, f.x0 + f.w, y, i % 5 == 0 ? "#cccccc" : "#eeeeee");
        if (i % 2 == 0) o += text(f.x0 - 8, y + 4, std::to_string(i * 10) + "%", "end", 12);
    }
    o += log_x_axis(f, "latency per command (log scale)", true);
    o += y_title_and_frame(f, 60, "commands completed within (cumulative %)");
    std::vector<std::pair<Backend, std::string>> items;
    for (auto& [b, v] : sorted) {
        auto pts = cdf_points(v, 400);
        std::string d;
        double prev_y = f.Y(0);
        for (size_t i = 0; i < pts.size(); ++i) {
            const double x = f.X(std::max(1.0, static_cast<double>(pts[i].first)) / 1e3);
            const double y = f.Y(pts[i].second);
            d += (i == 0 ? "M" + num(x) + "," + num(prev_y) + " L" : " L") + num(x) + "," + num(y);
        }
        o += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + color(b) +
             "\" stroke-width=\"2.5\"/>\n";
        const Measurement* r = pick[b];
        const double p50 = static_cast<double>(percentile_sorted(v, 50)) / 1e3;
        char lab[160];
        std::snprintf(lab, sizeof lab, "%zu LUs, qd %u: median %s", r->luns, r->qd,
                      p50 >= 1000 ? (num(p50 / 1000) + " ms").c_str() : (num(p50) + " us").c_str());
        items.emplace_back(b, lab);
    }
    o += legend(f.x0 + f.w + 16, f.y0 + 14, items);
    return o;
}

std::string fence_panel(const std::vector<Measurement>& results, double top) {
    std::string o;
    Workload w = Workload::fence;
    bool any = std::any_of(results.begin(), results.end(), [](const Measurement& r) {
        return !r.skipped && r.workload == Workload::fence && !r.wall.empty();
    });
    if (!any) {
        w = Workload::pingpong;
        any = std::any_of(results.begin(), results.end(), [](const Measurement& r) {
            return !r.skipped && r.workload == Workload::pingpong && !r.wall.empty();
        });
    }
    const std::string name =
        w == Workload::fence ? "Mass fence" : "Failover ping-pong (one takeover)";
    if (!any) {
        o += text(kW / 2, top + 28, "Fence time against the number of LUNs", "middle", 17,
                  " font-weight=\"bold\"");
        o += text(kW / 2, top + kPanelH / 2,
                  "no fence results in this run (prbench -w fence --luns 16,64,256 ...)", "middle",
                  14);
        return o;
    }
    // Per backend: N -> median wall (ms), the highest concurrency per N.
    std::map<Backend, std::map<size_t, std::pair<unsigned, double>>> series;
    double lo = 1e300, hi = 0;
    std::set<size_t> ns;
    for (const auto& r : results) {
        if (r.skipped || r.workload != w || r.wall.empty()) continue;
        std::vector<uint64_t> v = r.wall;
        std::sort(v.begin(), v.end());
        const double med = static_cast<double>(percentile_sorted(v, 50)) / 1e6;
        auto& slot = series[r.backend][r.luns];
        if (slot.first == 0 || r.qd > slot.first) slot = {r.qd, med};
        ns.insert(r.luns);
    }
    for (auto& [b, m] : series)
        for (auto& [n, p] : m) {
            lo = std::min(lo, std::max(p.second, 1e-3));
            hi = std::max(hi, p.second);
        }
    Frame f{kLeft, top + kTop, kW - kLeft - kRight, kPanelH - kTop - kBottom, 0, 1, 0, 1, true};
    const double nlo = static_cast<double>(*ns.begin()), nhi = static_cast<double>(*ns.rbegin());
    f.lx0 = std::log10(nlo) - 0.15;
    f.lx1 = std::log10(std::max(nhi, nlo * 2)) + 0.15;
    f.y_lo = std::floor(std::log10(lo));
    f.y_hi = std::ceil(std::log10(hi));
    if (f.y_hi <= f.y_lo) f.y_hi = f.y_lo + 1;
    o += text(kW / 2, top + 28, name + ": wall time against the number of LUNs", "middle", 17,
              " font-weight=\"bold\"");
    o += text(kW / 2, top + 48,
              w == Workload::fence
                  ? "first request to the last LU verified, median per batch; lower is faster"
                  : "one node takes over every LU, median per round; lower is faster",
              "middle", 12, " fill=\"#444444\"");
    for (int d = static_cast<int>(f.y_lo); d <= static_cast<int>(f.y_hi); ++d) {
        const double v = std::pow(10.0, d);
        const double y = f.Y(v);
        o += line(f.x0, y, f.x0 + f.w, y, "#cccccc");
        o += text(f.x0 - 8, y + 4, us_tick_label(v * 1000), "end", 12);
        for (int m = 2; m < 10 && d < static_cast<int>(f.y_hi); ++m)
            o += line(f.x0, f.Y(v * m), f.x0 + f.w, f.Y(v * m), "#f0f0f0");
    }
    for (size_t n : ns) {
        const double x = f.X(static_cast<double>(n));
        o += line(x, f.y0, x, f.y0 + f.h, "#eeeeee");
        o += text(x, f.y0 + f.h + 18, std::to_string(n));
    }
    o += text(f.x0 + f.w / 2, f.y0 + f.h + 42, "LUNs fenced in one batch (log scale)");
    o += y_title_and_frame(f, 62, "wall time (log scale)");
    std::vector<std::pair<Backend, std::string>> items;
    for (auto& [b, m] : series) {
        std::string d;
        bool firstp = true;
        for (auto& [n, p] : m) {
            const double x = f.X(static_cast<double>(n)), y = f.Y(std::max(p.second, 1e-3));
            d += (firstp ? "M" : " L") + num(x) + "," + num(y);
            firstp = false;
            o += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"4\" fill=\"" + color(b) +
                 "\"/>\n";
        }
        o += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + color(b) +
             "\" stroke-width=\"2.5\"/>\n";
        const auto& last = *m.rbegin();
        items.emplace_back(b,
                           std::to_string(last.first) + " LUs in " +
                               (last.second.second >= 1000 ? num(last.second.second / 1000) + " s"
                                                           : num(last.second.second) + " ms"));
    }
    o += legend(f.x0 + f.w + 14, f.y0 + 14, items);
    return o;
}

}  // namespace

std::string us_tick_label(double us) {
    const double l = std::log10(us);
    if (std::fabs(l - std::round(l)) > 1e-6) return "";
    const int d = static_cast<int>(std::round(l));
    static const char* const units[] = {"us", "ms", "s"};
    if (d < 0) {
        char b[32];
        std::snprintf(b, sizeof b, "%g us", us);
        return b;
    }
    int u = std::min(d / 3, 2);
    const long long v = static_cast<long long>(std::llround(std::pow(10.0, d - 3 * u)));
    return std::to_string(v) + " " + units[u];
}

std::string render_svg(const std::vector<Measurement>& results, const std::string& subtitle) {
    const double h = 2 * kPanelH + 40;
    std::string o = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kW) + "\" height=\"" + num(h) +
         "\" viewBox=\"0 0 " + num(kW) + " " + num(h) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
    o += "<title>prbench: persistent-reservation latency</title>\n";
    o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    o += cdf_panel(results, 0);
    o += fence_panel(results, kPanelH);
    std::string sub = subtitle.size() > 150 ? subtitle.substr(0, 147) + "..." : subtitle;
    o += text(kW / 2, h - 12, sub, "middle", 11, " fill=\"#666666\"");
    o += "</svg>\n";
    return o;
}

}  // namespace prfence::bench
