// SPDX-License-Identifier: MIT
#include "interposer/prsim/faults.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "uring_engine/wire/cdb.h"

namespace prfence::sim {
namespace {

using json = nlohmann::json;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

template <class T>
Result<T> parse_uint(std::string_view s, const char* what, int base = 10) {
    s = trim(s);
    if (base == 16 && (s.starts_with("0x") || s.starts_with("0X"))) s.remove_prefix(2);
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        return fail(Errc::invalid_argument,
                    std::string(what) + ": not a number: \"" + std::string(s) + "\"");
    return v;
}

Result<double> parse_double(std::string_view s, const char* what) {
    s = trim(s);
    std::string tmp(s);
    char* end = nullptr;
    double v = std::strtod(tmp.c_str(), &end);
    if (tmp.empty() || end != tmp.c_str() + tmp.size() || !std::isfinite(v) || v < 0)
        return fail(Errc::invalid_argument,
                    std::string(what) + ": not a non-negative number: \"" + tmp + "\"");
    return v;
}

Result<bool> parse_bool(std::string_view s, const char* what) {
    s = trim(s);
    if (s == "1" || s == "true" || s == "yes") return true;
    if (s == "0" || s == "false" || s == "no") return false;
    return fail(Errc::invalid_argument,
                std::string(what) + ": expected true or false, got \"" + std::string(s) + "\"");
}

Result<FaultKind> parse_kind(std::string_view s) {
    s = trim(s);
    for (auto k :
         {FaultKind::latency, FaultKind::timeout, FaultKind::busy, FaultKind::task_set_full,
          FaultKind::not_ready, FaultKind::unit_attention, FaultKind::lost_path, FaultKind::answer})
        if (s == fault_kind_name(k)) return k;
    if (s == "tsf") return FaultKind::task_set_full;
    if (s == "ua") return FaultKind::unit_attention;
    return fail(Errc::invalid_argument, "unknown fault kind \"" + std::string(s) +
                                            "\" (latency, timeout, busy, task_set_full, not_ready, "
                                            "unit_attention, lost_path, answer)");
}

const char* dist_name(Latency::Dist d) {
    switch (d) {
        case Latency::Dist::fixed:
            return "fixed";
        case Latency::Dist::uniform:
            return "uniform";
        case Latency::Dist::lognormal:
            return "lognormal";
    }
    return "fixed";
}

void set_defaults(FaultSpec& f, bool asc_given) {
    if (asc_given) return;
    if (f.kind == FaultKind::unit_attention) {
        f.asc = 0x3f;  // REPORTED LUNS DATA HAS CHANGED, what LIO sends each nexus first
        f.ascq = 0x0e;
    } else if (f.kind == FaultKind::not_ready) {
        f.asc = 0x04;  // LOGICAL UNIT IS IN PROCESS OF BECOMING READY
        f.ascq = 0x01;
    }
}

// Applies one key=value to a spec under construction.
Status apply_key(FaultSpec& f, std::string_view key, std::string_view val, bool& asc_given,
                 bool& dist_given) {
    key = trim(key);
    if (key == "luns" || key == "lun") {
        PRF_TRY_ASSIGN(f.luns, LunSet::parse(val));
    } else if (key == "class" || key == "classes") {
        PRF_TRY_ASSIGN(f.classes, parse_classes(val));
    } else if (key == "host") {
        PRF_TRY_ASSIGN(f.host, parse_uint<uint32_t>(val, "host"));
    } else if (key == "port" || key == "target_port") {
        PRF_TRY_ASSIGN(uint16_t p, parse_uint<uint16_t>(val, "port"));
        if (p == 0) return fail(Errc::invalid_argument, "port: target ports are 1-based");
        f.target_port = p;
    } else if (key == "initiator") {
        PRF_TRY_ASSIGN(f.initiator, wire::parse_transport_id(trim(val)));
    } else if (key == "p" || key == "probability") {
        PRF_TRY_ASSIGN(f.probability, parse_double(val, "probability"));
        if (f.probability > 1) return fail(Errc::invalid_argument, "probability must be 0..1");
    } else if (key == "count") {
        PRF_TRY_ASSIGN(f.count, parse_uint<uint64_t>(val, "count"));
    } else if (key == "for_ms" || key == "duration_ms") {
        PRF_TRY_ASSIGN(f.duration_ms, parse_uint<uint64_t>(val, "for_ms"));
    } else if (key == "dist") {
        val = trim(val);
        dist_given = true;
        if (val == "fixed")
            f.latency.dist = Latency::Dist::fixed;
        else if (val == "uniform")
            f.latency.dist = Latency::Dist::uniform;
        else if (val == "lognormal" || val == "log-normal")
            f.latency.dist = Latency::Dist::lognormal;
        else
            return fail(Errc::invalid_argument, "dist: expected fixed, uniform or lognormal");
    } else if (key == "us") {
        PRF_TRY_ASSIGN(f.latency.us, parse_double(val, "us"));
    } else if (key == "ms") {
        PRF_TRY_ASSIGN(double ms, parse_double(val, "ms"));
        f.latency.us = ms * 1000;
    } else if (key == "min_us") {
        PRF_TRY_ASSIGN(f.latency.min_us, parse_double(val, "min_us"));
    } else if (key == "max_us") {
        PRF_TRY_ASSIGN(f.latency.max_us, parse_double(val, "max_us"));
    } else if (key == "median_us") {
        PRF_TRY_ASSIGN(f.latency.median_us, parse_double(val, "median_us"));
    } else if (key == "sigma") {
        PRF_TRY_ASSIGN(f.latency.sigma, parse_double(val, "sigma"));
    } else if (key == "executed") {
        PRF_TRY_ASSIGN(f.executed, parse_bool(val, "executed"));
    } else if (key == "asc") {
        PRF_TRY_ASSIGN(f.asc, parse_uint<uint8_t>(val, "asc", 16));
        asc_given = true;
    } else if (key == "ascq") {
        PRF_TRY_ASSIGN(f.ascq, parse_uint<uint8_t>(val, "ascq", 16));
        asc_given = true;
    } else if (key == "status") {
        PRF_TRY_ASSIGN(f.status, parse_uint<uint8_t>(val, "status", 16));
    } else if (key == "key" || key == "sense_key") {
        PRF_TRY_ASSIGN(f.sense_key, parse_uint<uint8_t>(val, "key", 16));
        if (f.sense_key > 0xf) return fail(Errc::invalid_argument, "key: a sense key is 0-f");
    } else if (key == "info") {
        PRF_TRY_ASSIGN(f.info, parse_uint<uint32_t>(val, "info"));
    } else if (key == "host_byte") {
        PRF_TRY_ASSIGN(f.host_byte, parse_uint<uint8_t>(val, "host_byte", 16));
    } else if (key == "n") {
        PRF_TRY_ASSIGN(f.ua_count, parse_uint<uint32_t>(val, "n"));
        if (f.ua_count == 0 || f.ua_count > 1000000)
            return fail(Errc::invalid_argument, "n must be 1-1000000");
    } else {
        return fail(Errc::invalid_argument, "unknown fault key \"" + std::string(key) + "\"");
    }
    return {};
}

Status finish(FaultSpec& f, bool asc_given, bool dist_given) {
    set_defaults(f, asc_given);
    if (f.kind == FaultKind::latency) {
        if (!dist_given) {
            if (f.latency.median_us > 0)
                f.latency.dist = Latency::Dist::lognormal;
            else if (f.latency.max_us > 0)
                f.latency.dist = Latency::Dist::uniform;
        }
        switch (f.latency.dist) {
            case Latency::Dist::fixed:
                break;
            case Latency::Dist::uniform:
                if (f.latency.max_us < f.latency.min_us)
                    return fail(Errc::invalid_argument, "uniform latency: max_us below min_us");
                break;
            case Latency::Dist::lognormal:
                if (f.latency.median_us <= 0)
                    return fail(Errc::invalid_argument, "log-normal latency needs median_us > 0");
                break;
        }
        // Keep delays sane: an hour at most (use timeout for "never").
        const double worst = std::max({f.latency.us, f.latency.max_us, f.latency.median_us});
        if (worst > 3600e6)
            return fail(Errc::invalid_argument, "latency above one hour; use a timeout fault");
    }
    return {};
}

}  // namespace

CmdClass classify(uint8_t opcode) noexcept {
    if (opcode == wire::kOpPersistentReserveIn) return CmdClass::pr_in;
    if (opcode == wire::kOpPersistentReserveOut) return CmdClass::pr_out;
    switch (wire::command_class(opcode)) {
        case wire::CommandClass::read:
            return CmdClass::read;
        case wire::CommandClass::write:
            return CmdClass::write;
        default:
            return CmdClass::other;
    }
}

const char* class_name(CmdClass c) noexcept {
    switch (c) {
        case CmdClass::pr_in:
            return "pr_in";
        case CmdClass::pr_out:
            return "pr_out";
        case CmdClass::read:
            return "read";
        case CmdClass::write:
            return "write";
        case CmdClass::other:
            return "other";
    }
    return "other";
}

Result<uint8_t> parse_classes(std::string_view text) {
    uint8_t bits = 0;
    while (!text.empty()) {
        auto comma = text.find_first_of(",+|");
        auto word = trim(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (word.empty()) continue;
        if (word == "all") {
            bits = kAllClasses;
            continue;
        }
        bool found = false;
        for (auto c : {CmdClass::pr_in, CmdClass::pr_out, CmdClass::read, CmdClass::write,
                       CmdClass::other}) {
            if (word == class_name(c)) {
                bits |= class_bit(c);
                found = true;
            }
        }
        if (word == "pr") {
            bits |= class_bit(CmdClass::pr_in) | class_bit(CmdClass::pr_out);
            found = true;
        }
        if (!found)
            return fail(Errc::invalid_argument,
                        "unknown command class \"" + std::string(word) +
                            "\" (pr_in, pr_out, pr, read, write, other, all)");
    }
    if (bits == 0) return fail(Errc::invalid_argument, "empty command class list");
    return bits;
}

std::string classes_to_string(uint8_t bits) {
    if ((bits & kAllClasses) == kAllClasses) return "all";
    std::string s;
    for (auto c :
         {CmdClass::pr_in, CmdClass::pr_out, CmdClass::read, CmdClass::write, CmdClass::other}) {
        if (bits & class_bit(c)) {
            if (!s.empty()) s += ',';
            s += class_name(c);
        }
    }
    return s;
}

Result<LunSet> LunSet::parse(std::string_view text) {
    LunSet set;
    text = trim(text);
    if (text == "all" || text == "*") return set;
    while (!text.empty()) {
        auto comma = text.find_first_of(",+");
        auto item = trim(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (item.empty()) continue;
        auto dash = item.find('-');
        PRF_TRY_ASSIGN(uint32_t lo, parse_uint<uint32_t>(item.substr(0, dash), "luns"));
        uint32_t hi = lo;
        if (dash != std::string_view::npos) {
            PRF_TRY_ASSIGN(hi, parse_uint<uint32_t>(item.substr(dash + 1), "luns"));
        }
        if (hi < lo)
            return fail(Errc::invalid_argument,
                        "luns: range " + std::string(item) + " runs backwards");
        set.ranges_.emplace_back(lo, hi);
    }
    if (set.ranges_.empty()) return fail(Errc::invalid_argument, "luns: empty list (use \"all\")");
    return set;
}

bool LunSet::contains(uint32_t lun) const {
    if (ranges_.empty()) return true;
    for (const auto& [lo, hi] : ranges_)
        if (lun >= lo && lun <= hi) return true;
    return false;
}

std::string LunSet::to_string() const {
    if (ranges_.empty()) return "all";
    std::string s;
    for (const auto& [lo, hi] : ranges_) {
        if (!s.empty()) s += ',';
        s += std::to_string(lo);
        if (hi != lo) s += "-" + std::to_string(hi);
    }
    return s;
}

const char* fault_kind_name(FaultKind k) noexcept {
    switch (k) {
        case FaultKind::latency:
            return "latency";
        case FaultKind::timeout:
            return "timeout";
        case FaultKind::busy:
            return "busy";
        case FaultKind::task_set_full:
            return "task_set_full";
        case FaultKind::not_ready:
            return "not_ready";
        case FaultKind::unit_attention:
            return "unit_attention";
        case FaultKind::lost_path:
            return "lost_path";
        case FaultKind::answer:
            return "answer";
    }
    return "latency";
}

Result<FaultSpec> parse_fault(std::string_view text) {
    text = trim(text);
    if (text.starts_with("{")) {
        json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) return fail(Errc::invalid_argument, "fault: not valid JSON");
        return fault_from_json(j);
    }
    // Split on commas; tokens without '=' continue the previous value.
    std::vector<std::pair<std::string, std::string>> kv;
    std::string kind;
    bool first = true;
    while (!text.empty() || first) {
        auto comma = text.find(',');
        std::string_view tok = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (first) {
            kind = std::string(trim(tok));
            first = false;
            continue;
        }
        auto eq = tok.find('=');
        if (eq == std::string_view::npos) {
            if (kv.empty())
                return fail(Errc::invalid_argument,
                            "fault: \"" + std::string(tok) + "\" is not key=value");
            kv.back().second += ",";
            kv.back().second += tok;
        } else {
            kv.emplace_back(std::string(tok.substr(0, eq)), std::string(tok.substr(eq + 1)));
        }
    }
    FaultSpec f;
    PRF_TRY_ASSIGN(f.kind, parse_kind(kind));
    bool asc_given = false, dist_given = false;
    for (const auto& [k, v] : kv) PRF_TRY(apply_key(f, k, v, asc_given, dist_given));
    PRF_TRY(finish(f, asc_given, dist_given));
    return f;
}

Result<FaultSpec> fault_from_json(const json& j) {
    if (!j.is_object()) return fail(Errc::invalid_argument, "fault: expected a JSON object");
    auto kind_it = j.find("kind");
    if (kind_it == j.end() || !kind_it->is_string())
        return fail(Errc::invalid_argument,
                    "fault: missing \"kind\" (latency, timeout, busy, ...)");
    FaultSpec f;
    PRF_TRY_ASSIGN(f.kind, parse_kind(kind_it->get<std::string>()));
    bool asc_given = false, dist_given = false;
    for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "kind") continue;
        std::string val;
        const json& v = it.value();
        if (v.is_string()) {
            val = v.get<std::string>();
        } else if (v.is_boolean()) {
            val = v.get<bool>() ? "true" : "false";
        } else if (v.is_number_unsigned() || v.is_number_integer()) {
            // The byte-valued keys are hex in the compact form; a JSON number is their value.
            const bool hex_key = it.key() == "asc" || it.key() == "ascq" || it.key() == "status" ||
                                 it.key() == "key" || it.key() == "sense_key" ||
                                 it.key() == "host_byte";
            val = hex_key ? ([&] {
                char b[8];
                std::snprintf(b, sizeof b, "%x", static_cast<unsigned>(v.get<int64_t>() & 0xff));
                return std::string(b);
            })()
                          : std::to_string(v.get<int64_t>());
            if (v.get<int64_t>() < 0)
                return fail(Errc::invalid_argument,
                            "fault: \"" + it.key() + "\" must not be negative");
        } else if (v.is_number_float()) {
            char b[64];
            std::snprintf(b, sizeof b, "%.17g", v.get<double>());
            val = b;
        } else if (v.is_array()) {
            for (const auto& e : v) {
                if (!val.empty()) val += ',';
                if (e.is_string())
                    val += e.get<std::string>();
                else if (e.is_number_unsigned())
                    val += std::to_string(e.get<uint64_t>());
                else
                    return fail(Errc::invalid_argument,
                                "fault: \"" + it.key() + "\" list holds a non-string");
            }
        } else {
            return fail(Errc::invalid_argument,
                        "fault: \"" + it.key() + "\" has an unsupported JSON type");
        }
        PRF_TRY(apply_key(f, it.key(), val, asc_given, dist_given));
    }
    PRF_TRY(finish(f, asc_given, dist_given));
    return f;
}

json fault_to_json(const FaultSpec& f) {
    json j;
    j["kind"] = fault_kind_name(f.kind);
    j["luns"] = f.luns.to_string();
    j["class"] = classes_to_string(f.classes);
    if (f.host) j["host"] = *f.host;
    if (f.target_port) j["port"] = *f.target_port;
    if (f.initiator) j["initiator"] = wire::format_transport_id(*f.initiator);
    if (f.probability != 1.0) j["p"] = f.probability;
    if (f.count) j["count"] = f.count;
    if (f.duration_ms) j["for_ms"] = f.duration_ms;
    char hex[8];
    switch (f.kind) {
        case FaultKind::latency:
            j["dist"] = dist_name(f.latency.dist);
            if (f.latency.dist == Latency::Dist::fixed) j["us"] = f.latency.us;
            if (f.latency.dist == Latency::Dist::uniform) {
                j["min_us"] = f.latency.min_us;
                j["max_us"] = f.latency.max_us;
            }
            if (f.latency.dist == Latency::Dist::lognormal) {
                j["median_us"] = f.latency.median_us;
                j["sigma"] = f.latency.sigma;
            }
            break;
        case FaultKind::timeout:
            j["executed"] = f.executed;
            break;
        case FaultKind::answer:
            std::snprintf(hex, sizeof hex, "%02x", f.status);
            j["status"] = hex;
            std::snprintf(hex, sizeof hex, "%x", f.sense_key);
            j["key"] = hex;
            if (f.info) j["info"] = *f.info;
            std::snprintf(hex, sizeof hex, "%02x", f.host_byte);
            j["host_byte"] = hex;
            std::snprintf(hex, sizeof hex, "%02x", f.asc);
            j["asc"] = hex;
            std::snprintf(hex, sizeof hex, "%02x", f.ascq);
            j["ascq"] = hex;
            break;
        case FaultKind::unit_attention:
            j["n"] = f.ua_count;
            [[fallthrough]];
        case FaultKind::not_ready:
            std::snprintf(hex, sizeof hex, "%02x", f.asc);
            j["asc"] = hex;
            std::snprintf(hex, sizeof hex, "%02x", f.ascq);
            j["ascq"] = hex;
            break;
        default:
            break;
    }
    return j;
}

// ---- FaultTable ----

uint32_t FaultTable::arm(FaultSpec spec, int64_t now_ns) {
    Armed a;
    a.id = next_id_++;
    a.expires_ns = spec.duration_ms ? now_ns + static_cast<int64_t>(spec.duration_ms) * 1000000 : 0;
    a.spec = std::move(spec);
    armed_.push_back(std::move(a));
    return armed_.back().id;
}

bool FaultTable::disarm(uint32_t id) {
    auto it =
        std::find_if(armed_.begin(), armed_.end(), [&](const Armed& a) { return a.id == id; });
    if (it == armed_.end()) return false;
    armed_.erase(it);
    return true;
}

size_t FaultTable::disarm_all() {
    size_t n = armed_.size();
    armed_.clear();
    return n;
}

void FaultTable::expire(int64_t now_ns) {
    std::erase_if(armed_, [&](const Armed& a) {
        return (a.expires_ns && now_ns >= a.expires_ns) || (a.spec.count && a.hits >= a.spec.count);
    });
}

json FaultTable::list(int64_t now_ns) {
    expire(now_ns);
    json arr = json::array();
    for (const auto& a : armed_) {
        json e;
        e["id"] = a.id;
        e["hits"] = a.hits;
        if (a.expires_ns) e["remaining_ms"] = (a.expires_ns - now_ns) / 1000000;
        e["fault"] = fault_to_json(a.spec);
        arr.push_back(std::move(e));
    }
    return arr;
}

bool FaultTable::matches(const Armed& a, uint32_t lun, CmdClass cls, const NexusRef& nx) {
    const FaultSpec& s = a.spec;
    if (!(s.classes & class_bit(cls))) return false;
    if (!s.luns.contains(lun)) return false;
    if (s.host && *s.host != nx.host) return false;
    if (s.target_port && *s.target_port != nx.target_port) return false;
    if (s.initiator && (!nx.initiator || !wire::same_initiator(*s.initiator, *nx.initiator)))
        return false;
    if (s.probability < 1.0) {
        std::uniform_real_distribution<double> u(0.0, 1.0);
        if (u(rng_) >= s.probability) return false;
    }
    return true;
}

int64_t FaultTable::sample_ns(const Latency& l) {
    double us = 0;
    switch (l.dist) {
        case Latency::Dist::fixed:
            us = l.us;
            break;
        case Latency::Dist::uniform: {
            std::uniform_real_distribution<double> u(l.min_us, l.max_us);
            us = l.max_us > l.min_us ? u(rng_) : l.min_us;
            break;
        }
        case Latency::Dist::lognormal: {
            std::lognormal_distribution<double> d(std::log(l.median_us), l.sigma);
            us = l.sigma > 0 ? d(rng_) : l.median_us;
            break;
        }
    }
    us = std::min(us, 3600e6);
    return static_cast<int64_t>(us * 1000.0);
}

Decision FaultTable::decide(uint32_t lun, uint8_t opcode, const NexusRef& nx, int64_t now_ns) {
    Decision d;
    if (armed_.empty()) return d;
    expire(now_ns);
    const CmdClass cls = classify(opcode);
    // INQUIRY, REPORT LUNS and REQUEST SENSE are answered by a LU that is becoming ready.
    const bool ready_exempt = opcode == 0x12 || opcode == 0xa0 || opcode == 0x03;

    // Terminal outcome by precedence: lost path, timeout, then BUSY / TASK SET FULL / NOT READY
    // (first armed).
    Armed* terminal = nullptr;
    int terminal_rank = 99;
    auto rank = [](FaultKind k) {
        switch (k) {
            case FaultKind::lost_path:
                return 0;
            case FaultKind::timeout:
                return 1;
            case FaultKind::busy:
            case FaultKind::task_set_full:
            case FaultKind::not_ready:
            case FaultKind::answer:
                return 2;
            default:
                return 99;
        }
    };
    std::array<Armed*, 16> delays{};
    size_t n_delays = 0;
    std::array<Armed*, 4> uas{};
    size_t n_uas = 0;
    for (auto& a : armed_) {
        const FaultKind k = a.spec.kind;
        if (k == FaultKind::not_ready && ready_exempt) continue;
        if (k == FaultKind::unit_attention) {
            // INQUIRY, REPORT LUNS and REQUEST SENSE do not report unit attentions: they do not
            // count.
            if (ready_exempt || n_uas == uas.size()) continue;
            auto it = a.ua_given.find((uint64_t{nx.key} << 32) | lun);
            if (it != a.ua_given.end() && it->second >= a.spec.ua_count) continue;
            if (!matches(a, lun, cls, nx)) continue;
            uas[n_uas++] = &a;
            continue;
        }
        const int r = rank(k);
        if (r >= terminal_rank && k != FaultKind::latency)
            continue;  // a stronger outcome already won
        if (k == FaultKind::latency && n_delays == delays.size()) continue;
        if (!matches(a, lun, cls, nx)) continue;
        if (k == FaultKind::latency) {
            delays[n_delays++] = &a;
        } else {
            terminal = &a;
            terminal_rank = r;
        }
    }
    if (terminal) {
        ++terminal->hits;
        switch (terminal->spec.kind) {
            case FaultKind::lost_path:
                d.action = Decision::Action::hold;
                break;
            case FaultKind::timeout:
                d.action = terminal->spec.executed ? Decision::Action::execute_then_hold
                                                   : Decision::Action::hold;
                break;
            case FaultKind::busy:
                d.action = Decision::Action::busy;
                break;
            case FaultKind::task_set_full:
                d.action = Decision::Action::task_set_full;
                break;
            case FaultKind::not_ready:
                d.action = Decision::Action::not_ready;
                d.asc = terminal->spec.asc;
                d.ascq = terminal->spec.ascq;
                break;
            case FaultKind::answer:
                d.action = Decision::Action::answer;
                d.status = terminal->spec.status;
                d.sense_key = terminal->spec.sense_key;
                d.asc = terminal->spec.asc;
                d.ascq = terminal->spec.ascq;
                d.has_info = terminal->spec.info.has_value();
                d.info = terminal->spec.info.value_or(0);
                d.host_byte = terminal->spec.host_byte;
                break;
            default:
                break;
        }
    }
    if (d.action != Decision::Action::hold) {
        for (size_t i = 0; i < n_delays; ++i) {
            ++delays[i]->hits;
            d.delay_ns += sample_ns(delays[i]->spec.latency);
        }
    }
    if (d.action == Decision::Action::execute || d.action == Decision::Action::execute_then_hold) {
        for (size_t i = 0; i < n_uas; ++i) {
            Armed* a = uas[i];
            ++a->ua_given[(uint64_t{nx.key} << 32) | lun];
            ++a->hits;
            d.uas[d.n_uas++] = Decision::Ua{a->spec.asc, a->spec.ascq, 1};
        }
    }
    if (terminal || n_delays || n_uas) expire(now_ns);  // count-limited faults that just ran out
    return d;
}

}  // namespace prfence::sim
