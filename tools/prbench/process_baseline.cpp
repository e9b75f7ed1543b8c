// SPDX-License-Identifier: MIT
#include "tools/prbench/process_baseline.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>

namespace prfence::bench {

namespace {

std::string substitute(std::string w, const std::string& key, const std::string& value) {
    for (size_t p = w.find(key); p != std::string::npos; p = w.find(key, p + value.size()))
        w.replace(p, key.size(), value);
    return w;
}

}  // namespace

std::string last_line(const SpawnResult& s) {
    std::string out = s.error.empty() ? s.output : s.error;
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (auto nl = out.rfind('\n'); nl != std::string::npos) out = out.substr(nl + 1);
    return out;
}

ProcessBaseline::~ProcessBaseline() {
    if (!state_dir_.empty()) std::filesystem::remove_all(state_dir_);
}

const std::string& ProcessBaseline::fence_scsi_dir() {
    if (state_dir_.empty()) {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "prbench-fence_scsi-XXXXXX").string();
        if (::mkdtemp(tmpl.data())) state_dir_ = tmpl;
    }
    return state_dir_;
}

const std::vector<std::string>* ProcessBaseline::env(int node, const BenchLun& l,
                                                     std::string* err) {
    const engine::PathSpec& ps = node ? l.b : l.a;
    if (cfg_.prsim_run.empty() || ps.kind != engine::PathSpec::Kind::sim) return nullptr;
    const Node& nd = node ? cfg_.b : cfg_.a;
    const bool nvme = ps.nsid != 0;
    const std::string k = std::to_string(node) + "\n" + ps.sim_socket + (nvme ? "\nnvme" : "");
    auto it = envs_.find(k);
    if (it == envs_.end()) {
        std::vector<std::string> argv{cfg_.prsim_run,
                                      "--socket",
                                      ps.sim_socket,
                                      "--initiator",
                                      nd.initiator,
                                      "--target-port",
                                      std::to_string(nd.target_port)};
        // A namespace's commands must come from the host the engine speaks as for this node
        // (sim_host_of), so that registrations made while arming are the process's own.
        if (nvme) {
            if (auto h = sim_host_of(nd)) {
                argv.insert(argv.end(),
                            {"--hostnqn", h->hostnqn, "--hostid", uuid_text(h->hostid)});
            } else if (err && err->empty()) {
                *err = "node " + std::string(node ? "B" : "A") + "'s NVMe host: " + h.error().msg;
            }
        }
        if (!fence_scsi_dir().empty()) {
            argv.push_back("--redirect");
            argv.push_back("/var/run/cluster=" + fence_scsi_dir() + "/node" + std::to_string(node));
        }
        argv.push_back("--");
        argv.push_back("env");
        argv.push_back("-0");
        SpawnResult r = spawn_and_wait(argv);
        std::vector<std::string> e;
        if (r.exit_code == 0) e = parse_env0(r.output);
        const bool preload = std::any_of(e.begin(), e.end(), [](const std::string& v) {
            return v.rfind("LD_PRELOAD=", 0) == 0;
        });
        if (!preload && err && err->empty())
            *err = cfg_.prsim_run + " -- env -0 set no LD_PRELOAD (exit " +
                   std::to_string(r.exit_code) + "): " + r.output.substr(0, 200);
        it = envs_.emplace(k, std::move(e)).first;
    }
    return &it->second;
}

std::vector<std::string> ProcessBaseline::wrap(int node, const BenchLun& l) const {
    const Node& nd = node ? cfg_.b : cfg_.a;
    const engine::PathSpec& ps = node ? l.b : l.a;
    std::vector<std::string> v;
    for (const auto& w : cfg_.baseline_wrap) {
        std::string s = substitute(w, "{initiator}", nd.initiator);
        s = substitute(s, "{target_port}", std::to_string(nd.target_port));
        s = substitute(s, "{socket}", ps.sim_socket);
        v.push_back(std::move(s));
    }
    return v;
}

std::string ProcessBaseline::sg_dev(int node, const BenchLun& l) const {
    const engine::PathSpec& ps = node ? l.b : l.a;
    return ps.kind == engine::PathSpec::Kind::sim ? prsim_sg_path(ps.sim_lun) : ps.sg_node;
}

std::string uuid_text(const std::array<uint8_t, 16>& id) {
    static const char* hexd = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < id.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        s += hexd[id[i] >> 4];
        s += hexd[id[i] & 15];
    }
    return s;
}

std::string ProcessBaseline::block_dev(int node, const BenchLun& l) const {
    const engine::PathSpec& ps = node ? l.b : l.a;
    return ps.kind == engine::PathSpec::Kind::sim ? prsim_sd_path(ps.sim_lun) : ps.block;
}

int ProcessBaseline::sg_persist(const Step& s, const BenchLun& l, std::vector<uint64_t>* clat,
                                uint64_t* retries, uint64_t* lun_ns, std::string* err) {
    std::vector<std::string> argv = wrap(s.node, l);
    argv.push_back(cfg_.sg_persist);
    for (auto& a : sg_persist_args(s, cfg_)) argv.push_back(std::move(a));
    argv.push_back(sg_dev(s.node, l));
    return run_retrying(argv, env(s.node, l, err), l, clat, retries, lun_ns, err);
}

int ProcessBaseline::mpathpersist(const Step& s, const BenchLun& l, std::vector<uint64_t>* clat,
                                  uint64_t* retries, uint64_t* lun_ns, std::string* err) {
    std::vector<std::string> argv = wrap(s.node, l);
    argv.push_back(cfg_.mpathpersist);
    for (auto& a : mpathpersist_args(s, cfg_)) argv.push_back(std::move(a));
    argv.push_back(l.b_map);
    return run_retrying(argv, nullptr, l, clat, retries, lun_ns, err);
}

SpawnResult ProcessBaseline::run_once(int node, const BenchLun& l,
                                      const std::vector<std::string>& argv,
                                      std::vector<uint64_t>* clat, uint64_t* lun_ns,
                                      std::string* err) {
    std::vector<std::string> full = wrap(node, l);
    full.insert(full.end(), argv.begin(), argv.end());
    SpawnResult r = spawn_and_wait(full, env(node, l, err));
    if (clat) clat->push_back(r.elapsed_ns());
    if (lun_ns) *lun_ns += r.elapsed_ns();
    if (r.exit_code != 0 && err && err->empty()) {
        const std::string out = last_line(r);
        std::string cmd;
        for (const auto& a : full) cmd += (cmd.empty() ? "" : " ") + a;
        *err = l.name + ": `" + cmd + "` exit " + std::to_string(r.exit_code) +
               (out.empty() ? "" : ": " + out);
    }
    return r;
}

int ProcessBaseline::run_retrying(const std::vector<std::string>& argv,
                                  const std::vector<std::string>* e, const BenchLun& l,
                                  std::vector<uint64_t>* clat, uint64_t* retries, uint64_t* lun_ns,
                                  std::string* err) {
    SpawnResult r;
    for (int attempt = 0; attempt < 4; ++attempt) {
        r = spawn_and_wait(argv, e);
        if (clat) clat->push_back(r.elapsed_ns());
        if (lun_ns) *lun_ns += r.elapsed_ns();
        if (r.exit_code != 6) break;
        if (retries) ++*retries;
    }
    if (r.exit_code != 0 && err && err->empty()) {
        const std::string out = last_line(r);
        std::string cmd;
        for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        *err = l.name + ": `" + cmd + "` exit " + std::to_string(r.exit_code) +
               (out.empty() ? "" : ": " + out);
    }
    return r.exit_code;
}

}  // namespace prfence::bench
