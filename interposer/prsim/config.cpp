// SPDX-License-Identifier: MIT
#include "interposer/prsim/config.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "uring_engine/common/sys_error.h"

namespace prfence::sim {
namespace {

using json = nlohmann::json;

Status expect(bool ok, const std::string& what) {
    if (!ok) return fail(Errc::invalid_argument, what);
    return {};
}

Result<uint64_t> get_uint(const json& v, const std::string& key, uint64_t max) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
        return fail(Errc::invalid_argument,
                    "config: \"" + key + "\" must be a non-negative integer");
    uint64_t x = v.get<uint64_t>();
    if (x > max)
        return fail(Errc::invalid_argument, "config: \"" + key + "\" above " + std::to_string(max));
    return x;
}

Result<std::string> get_string(const json& v, const std::string& key) {
    if (!v.is_string())
        return fail(Errc::invalid_argument, "config: \"" + key + "\" must be a string");
    return v.get<std::string>();
}

std::string substitute_lun(std::string s, uint32_t lun) {
    const std::string pat = "{lun}";
    char num[16];
    std::snprintf(num, sizeof num, "%u", lun);
    for (size_t p = s.find(pat); p != std::string::npos; p = s.find(pat, p)) {
        s.replace(p, pat.size(), num);
        p += std::strlen(num);
    }
    return s;
}

// Applies one LU settings object to a LuConfig.
Status apply_lu_settings(const json& j, LuConfig& c, uint32_t lun) {
    if (!j.is_object())
        return fail(Errc::invalid_argument, "config: LU settings must be an object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const json& v = it.value();
        if (k == "luns") continue;
        if (k == "block_size") {
            PRF_TRY_ASSIGN(uint64_t bs, get_uint(v, k, 1u << 20));
            PRF_TRY(expect(bs >= 512 && (bs & (bs - 1)) == 0,
                           "config: block_size must be a power of two >= 512"));
            c.block_size = static_cast<uint32_t>(bs);
        } else if (k == "blocks") {
            PRF_TRY_ASSIGN(c.blocks, get_uint(v, k, uint64_t{1} << 48));
            PRF_TRY(expect(c.blocks > 0, "config: blocks must be positive"));
        } else if (k == "backing_file") {
            PRF_TRY_ASSIGN(std::string s, get_string(v, k));
            c.backing_file = substitute_lun(s, lun);
        } else if (k == "vendor") {
            PRF_TRY_ASSIGN(c.vendor, get_string(v, k));
            PRF_TRY(expect(c.vendor.size() <= 8, "config: vendor is at most 8 characters"));
        } else if (k == "product") {
            PRF_TRY_ASSIGN(c.product, get_string(v, k));
            PRF_TRY(expect(c.product.size() <= 16, "config: product is at most 16 characters"));
        } else if (k == "revision") {
            PRF_TRY_ASSIGN(c.revision, get_string(v, k));
            PRF_TRY(expect(c.revision.size() <= 4, "config: revision is at most 4 characters"));
        } else if (k == "serial") {
            PRF_TRY_ASSIGN(std::string s, get_string(v, k));
            c.serial = substitute_lun(s, lun);
        } else if (k == "naa") {
            if (v.is_string()) {
                PRF_TRY_ASSIGN(c.naa, parse_hex_u64(v.get<std::string>()));
            } else {
                PRF_TRY_ASSIGN(c.naa, get_uint(v, k, UINT64_MAX));
            }
            if (c.naa) c.naa += lun;  // one base for a range: each LU gets its own identifier
        } else if (k == "profile") {
            PRF_TRY_ASSIGN(std::string p, get_string(v, k));
            if (p == "spc4")
                c.profile = Profile::spc4;
            else if (p == "lio")
                c.profile = Profile::lio;
            else
                return fail(Errc::invalid_argument, "config: profile must be \"spc4\" or \"lio\"");
        } else {
            return fail(Errc::invalid_argument, "config: unknown LU setting \"" + k + "\"");
        }
    }
    return {};
}

Status apply_trace(const json& t, ServerConfig& cfg) {
    if (!t.is_object()) return fail(Errc::invalid_argument, "config: \"trace\" must be an object");
    for (auto it = t.begin(); it != t.end(); ++it) {
        const std::string& k = it.key();
        const json& v = it.value();
        if (k == "path") {
            PRF_TRY_ASSIGN(cfg.trace.path, get_string(v, "trace.path"));
        } else if (k == "dmesg") {
            PRF_TRY_ASSIGN(cfg.trace.dmesg_path, get_string(v, "trace.dmesg"));
        } else if (k == "kernel_format") {
            PRF_TRY_ASSIGN(std::string s, get_string(v, "trace.kernel_format"));
            PRF_TRY_ASSIGN(cfg.trace.style.kernel, parse_kernel_version(s));
        } else if (k == "comm") {
            PRF_TRY_ASSIGN(cfg.trace.style.comm, get_string(v, "trace.comm"));
        } else if (k == "pid") {
            PRF_TRY_ASSIGN(uint64_t pid, get_uint(v, "trace.pid", 4194304));
            cfg.trace.style.pid = static_cast<int>(pid);
        } else if (k == "cpu") {
            PRF_TRY_ASSIGN(uint64_t cpu, get_uint(v, "trace.cpu", 8191));
            cfg.trace.cpu = static_cast<int>(cpu);
        } else if (k == "irq_flags") {
            PRF_TRY_ASSIGN(cfg.trace.style.irq_flags, get_string(v, "trace.irq_flags"));
            PRF_TRY(expect(cfg.trace.style.irq_flags.size() == 5,
                           "config: trace.irq_flags is 5 characters"));
        } else if (k == "scheduler") {
            PRF_TRY_ASSIGN(std::string s, get_string(v, "trace.scheduler"));
            PRF_TRY(expect(s == "none" || s == "mq-deadline",
                           "config: trace.scheduler is none or mq-deadline"));
            cfg.trace.style.scheduler_tags = s != "none";
        } else if (k == "prio_class") {
            PRF_TRY_ASSIGN(uint64_t p, get_uint(v, "trace.prio_class", 7));
            cfg.trace.style.prio_class = static_cast<unsigned>(p);
        } else if (k == "max_buffer") {
            PRF_TRY_ASSIGN(cfg.trace.max_buffer,
                           get_uint(v, "trace.max_buffer", uint64_t{1} << 32));
        } else {
            return fail(Errc::invalid_argument, "config: unknown trace setting \"" + k + "\"");
        }
    }
    return {};
}

}  // namespace

std::string aptpl_file_name(uint32_t lun) {
    char b[32];
    std::snprintf(b, sizeof b, "lun%05u.aptpl", lun);
    return b;
}

Status apply_config_json(const json& j, ServerConfig& cfg) {
    if (!j.is_object())
        return fail(Errc::invalid_argument, "config: the top level must be a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& k = it.key();
        const json& v = it.value();
        if (k == "socket") {
            PRF_TRY_ASSIGN(cfg.socket_path, get_string(v, k));
        } else if (k == "luns") {
            PRF_TRY_ASSIGN(uint64_t n, get_uint(v, k, 1u << 20));
            cfg.luns = static_cast<uint32_t>(n);
        } else if (k == "target_ports") {
            PRF_TRY_ASSIGN(uint64_t n, get_uint(v, k, 65535));
            PRF_TRY(expect(n >= 1, "config: target_ports must be at least 1"));
            cfg.target_ports = static_cast<uint16_t>(n);
        } else if (k == "state_dir") {
            PRF_TRY_ASSIGN(std::string s, get_string(v, k));
            cfg.state_dir = s;
        } else if (k == "kernel_format") {
            PRF_TRY_ASSIGN(std::string s, get_string(v, k));
            PRF_TRY_ASSIGN(cfg.trace.style.kernel, parse_kernel_version(s));
        } else if (k == "trace") {
            PRF_TRY(apply_trace(v, cfg));
        } else if (k == "defaults") {
            PRF_TRY(expect(v.is_object(), "config: \"defaults\" must be an object"));
            for (auto d = v.begin(); d != v.end(); ++d) cfg.lu_defaults[d.key()] = d.value();
            LuConfig probe;
            PRF_TRY(apply_lu_settings(cfg.lu_defaults, probe, 0));
        } else if (k == "lu") {
            PRF_TRY(expect(v.is_array(),
                           "config: \"lu\" must be an array of {\"luns\": ..., settings}"));
            for (const auto& e : v) {
                PRF_TRY(expect(e.is_object() && e.contains("luns"),
                               "config: each \"lu\" entry needs \"luns\""));
                LuOverride o;
                if (e["luns"].is_number_unsigned()) {
                    PRF_TRY_ASSIGN(o.luns,
                                   LunSet::parse(std::to_string(e["luns"].get<uint64_t>())));
                } else {
                    PRF_TRY_ASSIGN(std::string s, get_string(e["luns"], "lu.luns"));
                    PRF_TRY_ASSIGN(o.luns, LunSet::parse(s));
                }
                o.settings = e;
                LuConfig probe;
                PRF_TRY(apply_lu_settings(o.settings, probe, 0));
                cfg.lu_overrides.push_back(std::move(o));
            }
        } else if (k == "hosts") {
            PRF_TRY(
                expect(v.is_object(), "config: \"hosts\" maps TransportID text to a host number"));
            for (auto h = v.begin(); h != v.end(); ++h) {
                auto tid = wire::parse_transport_id(h.key());
                if (!tid) return fail(Errc::invalid_argument, "config: hosts: " + tid.error().msg);
                PRF_TRY_ASSIGN(uint64_t n, get_uint(h.value(), "hosts." + h.key(), 1u << 30));
                cfg.hosts.emplace_back(std::move(tid).value(), static_cast<uint32_t>(n));
            }
        } else if (k == "first_host") {
            PRF_TRY_ASSIGN(uint64_t n, get_uint(v, k, 1u << 30));
            cfg.first_host = static_cast<uint32_t>(n);
        } else if (k == "target_port_ids") {
            PRF_TRY(expect(v.is_object(),
                           "config: \"target_port_ids\" maps a port number to a SCSI target id"));
            for (auto p = v.begin(); p != v.end(); ++p) {
                unsigned port = 0;
                if (std::sscanf(p.key().c_str(), "%u", &port) != 1 || port == 0 || port > 65535)
                    return fail(Errc::invalid_argument,
                                "config: target_port_ids: bad port \"" + p.key() + "\"");
                PRF_TRY_ASSIGN(uint64_t id,
                               get_uint(p.value(), "target_port_ids." + p.key(), 65535));
                cfg.port_ids[static_cast<uint16_t>(port)] = static_cast<uint16_t>(id);
            }
        } else if (k == "faults") {
            PRF_TRY(expect(v.is_array(), "config: \"faults\" must be an array"));
            for (const auto& f : v) {
                auto spec = f.is_string() ? parse_fault(f.get<std::string>()) : fault_from_json(f);
                if (!spec)
                    return fail(Errc::invalid_argument, "config: faults: " + spec.error().msg);
                cfg.faults.push_back(std::move(spec).value());
            }
        } else if (k == "limits") {
            PRF_TRY(expect(v.is_object(), "config: \"limits\" must be an object"));
            for (auto l = v.begin(); l != v.end(); ++l) {
                if (l.key() == "max_in_flight") {
                    PRF_TRY_ASSIGN(uint64_t n, get_uint(l.value(), "limits.max_in_flight", 65536));
                    PRF_TRY(expect(n >= 1, "config: limits.max_in_flight must be at least 1"));
                    cfg.limits.max_in_flight = static_cast<uint32_t>(n);
                } else if (l.key() == "max_output") {
                    PRF_TRY_ASSIGN(cfg.limits.max_output,
                                   get_uint(l.value(), "limits.max_output", uint64_t{1} << 34));
                    PRF_TRY(expect(cfg.limits.max_output >= 4096,
                                   "config: limits.max_output must be at least 4096"));
                } else if (l.key() == "max_nexuses") {
                    PRF_TRY_ASSIGN(uint64_t n, get_uint(l.value(), "limits.max_nexuses", 1u << 20));
                    PRF_TRY(expect(n >= 1, "config: limits.max_nexuses must be at least 1"));
                    cfg.limits.max_nexuses = static_cast<uint32_t>(n);
                } else if (l.key() == "stall_ms") {
                    PRF_TRY_ASSIGN(uint64_t n, get_uint(l.value(), "limits.stall_ms", 3600000));
                    PRF_TRY(expect(n >= 1, "config: limits.stall_ms must be at least 1"));
                    cfg.limits.stall_ms = static_cast<uint32_t>(n);
                } else if (l.key() == "max_payload") {
                    PRF_TRY_ASSIGN(uint64_t n,
                                   get_uint(l.value(), "limits.max_payload", proto::kMaxPayload));
                    PRF_TRY(expect(n >= 1024, "config: limits.max_payload must be at least 1024"));
                    cfg.limits.max_payload = static_cast<uint32_t>(n);
                } else {
                    return fail(Errc::invalid_argument,
                                "config: unknown limit \"" + l.key() + "\"");
                }
            }
        } else if (k == "nvme") {
            PRF_TRY(expect(v.is_object(), "config: \"nvme\" must be an object"));
            for (auto n = v.begin(); n != v.end(); ++n) {
                const std::string key = "nvme." + n.key();
                if (n.key() == "namespaces") {
                    PRF_TRY_ASSIGN(uint64_t x, get_uint(n.value(), key, 1024));
                    cfg.nvme.namespaces = static_cast<uint32_t>(x);
                } else if (n.key() == "subnqn") {
                    PRF_TRY_ASSIGN(cfg.nvme.subnqn, get_string(n.value(), key));
                } else if (n.key() == "block_size") {
                    PRF_TRY_ASSIGN(uint64_t x, get_uint(n.value(), key, 1u << 16));
                    cfg.nvme.block_size = static_cast<uint32_t>(x);
                } else if (n.key() == "blocks") {
                    PRF_TRY_ASSIGN(cfg.nvme.blocks, get_uint(n.value(), key, uint64_t{1} << 48));
                } else if (n.key() == "profile") {
                    PRF_TRY_ASSIGN(cfg.nvme.profile, get_string(n.value(), key));
                } else {
                    return fail(Errc::invalid_argument,
                                "config: unknown nvme setting \"" + n.key() + "\"");
                }
            }
        } else if (k == "seed") {
            PRF_TRY_ASSIGN(cfg.seed, get_uint(v, k, UINT64_MAX));
        } else {
            return fail(Errc::invalid_argument, "config: unknown key \"" + k + "\"");
        }
    }
    return {};
}

Status load_config_file(const std::string& path, ServerConfig& cfg) {
    std::ifstream in(path);
    if (!in) return fail_errno("cannot read config file ", path);
    std::stringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
    if (j.is_discarded()) return fail(Errc::invalid_argument, path + ": not valid JSON");
    auto st = apply_config_json(j, cfg);
    if (!st) return fail(st.error().code, path + ": " + st.error().msg);
    return {};
}

Result<LuConfig> lu_config_for(const ServerConfig& cfg, uint32_t lun) {
    LuConfig c;
    PRF_TRY(apply_lu_settings(cfg.lu_defaults, c, lun));
    for (const auto& o : cfg.lu_overrides)
        if (o.luns.contains(lun)) PRF_TRY(apply_lu_settings(o.settings, c, lun));
    c.lun = lun;
    c.target_ports = cfg.target_ports;
    if (cfg.state_dir) c.aptpl_file = *cfg.state_dir / aptpl_file_name(lun);
    return c;
}

Status validate_config(const ServerConfig& cfg) {
    if (cfg.socket_path.empty()) return fail(Errc::invalid_argument, "no socket path (--socket)");
    if (cfg.luns == 0)
        return fail(Errc::invalid_argument, "the farm needs at least one LU (--luns)");
    if (cfg.target_ports == 0)
        return fail(Errc::invalid_argument, "target_ports must be at least 1");
    for (const auto& [port, id] : cfg.port_ids) {
        (void)id;
        if (port > cfg.target_ports)
            return fail(Errc::invalid_argument, "target_port_ids names port " +
                                                    std::to_string(port) + " but the farm has " +
                                                    std::to_string(cfg.target_ports));
    }
    if (cfg.nvme.namespaces > 1024)
        return fail(Errc::invalid_argument, "at most 1024 NVMe namespaces");
    if (cfg.nvme.namespaces > 0) {
        const uint32_t bs = cfg.nvme.block_size;
        if (bs < 512 || bs > 65536 || (bs & (bs - 1)) != 0)
            return fail(Errc::invalid_argument,
                        "nvme.block_size must be a power of two from 512 to 65536");
        if (cfg.nvme.blocks == 0)
            return fail(Errc::invalid_argument, "nvme.blocks must be at least 1");
        if (cfg.nvme.profile != "nvmet" && cfg.nvme.profile != "spdk")
            return fail(Errc::invalid_argument,
                        "nvme.profile must be nvmet or spdk, not \"" + cfg.nvme.profile + "\"");
        const auto& q = cfg.nvme.subnqn;
        if (q.empty() || q.size() > 223 ||
            q.find_first_not_of(" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") != std::string::npos)
            return fail(Errc::invalid_argument,
                        "nvme.subnqn must be 1-223 printable ASCII characters");
    }
    // Settings errors show up once, for the first LU they apply to.
    if (auto c = lu_config_for(cfg, 0); !c) return fail(c.error());
    for (const auto& o : cfg.lu_overrides) {
        LuConfig c;
        PRF_TRY(apply_lu_settings(o.settings, c, 0));
    }
    return {};
}

}  // namespace prfence::sim
