// SPDX-License-Identifier: MIT
#include "tools/prexplain/lookup.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "uring_engine/policy/operations.h"
#include "uring_engine/wire/status.h"

namespace prfence::prexplain {

namespace {

std::string base_name(const std::string& p) {
    size_t s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

LuIdentity identity_of(const engine::LunSpec& spec) {
    LuIdentity id;
    id.key = spec.wwid;
    if (!spec.wwid.starts_with("hctl:") && !spec.wwid.starts_with("sim:")) id.wwid = spec.wwid;
    if (!spec.paths.empty()) {
        const auto& p = spec.paths.front();
        id.hctl = p.hctl;
        if (!p.block.empty()) id.device = base_name(p.block);
        if (p.kind == engine::PathSpec::Kind::nvme) {
            id.nsid = p.nsid;
            id.ctrl = p.ctrl;
            if (id.device.empty() && base_name(p.ng_node).starts_with("ng"))
                id.device = "nvme" + base_name(p.ng_node).substr(2);
        }
        if (p.kind == engine::PathSpec::Kind::sim)
            id.sim = "sim:" + p.sim_socket + ":" + std::to_string(p.sim_lun);
    }
    for (const auto& p : spec.paths)
        if (p.kind == engine::PathSpec::Kind::sg)
            id.paths.push_back(
                PathName{p.block.empty() ? std::string() : base_name(p.block), p.hctl});
    return id;
}

// The first line of a sysfs attribute, "" when it cannot be read.
std::string attr(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return {};
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
    return line;
}

// The dm-multipath map holding a disk (<sysfs>/block/sdX/holders/dm-N with an "mpath-" uuid), ""
// when there is none.
std::string multipath_holder(const std::string& sys, const std::string& disk) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (fs::directory_iterator it(sys + "/block/" + disk + "/holders", ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string dm = it->path().filename().string();
        if (dm.starts_with("dm-") && attr(sys + "/block/" + dm + "/dm/uuid").starts_with("mpath-"))
            return dm;
    }
    return {};
}

}  // namespace

std::optional<wire::nvme::HostId> controller_hostid(const std::string& sysfs_root,
                                                    const std::string& ctrl) {
    namespace fs = std::filesystem;
    if (ctrl.empty()) return std::nullopt;
    if (ctrl.starts_with("nvme-subsys")) {
        // A native multipath head: every controller of one host in the subsystem carries the
        // host's identifier; the first that has one speaks for the host.
        std::vector<std::string> ctrls;
        std::error_code ec;
        for (fs::directory_iterator it(sysfs_root + "/class/nvme-subsystem/" + ctrl, ec), end;
             !ec && it != end; it.increment(ec)) {
            const std::string n = it->path().filename().string();
            if (n.starts_with("nvme") && n.size() > 4 &&
                n.find_first_not_of("0123456789", 4) == std::string::npos)
                ctrls.push_back(n);
        }
        std::sort(ctrls.begin(), ctrls.end());
        for (const auto& c : ctrls)
            if (auto id = parse_hostid(attr(sysfs_root + "/class/nvme/" + c + "/hostid")))
                return id;
        return std::nullopt;
    }
    return parse_hostid(attr(sysfs_root + "/class/nvme/" + ctrl + "/hostid"));
}

std::vector<std::string> controller_namespaces(const std::string& sysfs_root,
                                               const std::string& ctrl) {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    std::error_code ec;
    const std::string prefix = ctrl + "n";
    for (fs::directory_iterator it(sysfs_root + "/class/nvme/" + ctrl, ec), end; !ec && it != end;
         it.increment(ec)) {
        const std::string n = it->path().filename().string();
        if (n.starts_with(prefix) && n.size() > prefix.size() &&
            n.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
            out.push_back(n);
        // A path of a native multipath head (nvmeXcYnZ) stands for the head nvmeXnZ.
        if (n.starts_with("nvme") && n.find('c') != std::string::npos) {
            const size_t c = n.find('c'), nn = n.find('n', c);
            if (nn != std::string::npos && n.substr(c + 1, nn - c - 1) == ctrl.substr(4) &&
                n.find_first_not_of("0123456789", nn + 1) == std::string::npos)
                out.push_back(n.substr(0, c) + n.substr(nn));
        }
    }
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

SysfsMapper::SysfsMapper(engine::ResolveOptions opt, std::string sim_socket)
    : opt_(std::move(opt)), sim_(std::move(sim_socket)) {}

std::optional<LuIdentity> SysfsMapper::lookup(const std::string& name) {
    if (auto it = cache_.find(name); it != cache_.end()) return it->second;
    std::optional<LuIdentity> id;
    if (auto spec = engine::resolve_kernel_name(name, opt_); spec.ok()) {
        id = identity_of(*spec);
        // The map over the LU, when a multipath map holds it: its names, and its paths (a log
        // line names one path; the LU is queried, and named, through all of them).
        std::string dm = name.starts_with("dm-") ? name
                         : id->device.empty()    ? std::string()
                                                 : multipath_holder(opt_.sysfs_root, id->device);
        if (!dm.empty()) {
            id->dm_device = dm;
            id->dm_name = attr(opt_.sysfs_root + "/block/" + dm + "/dm/name");
            id->dm_uuid = attr(opt_.sysfs_root + "/block/" + dm + "/dm/uuid");
            if (dm != name)
                if (auto map = engine::resolve_kernel_name(dm, opt_);
                    map.ok() && map->wwid == spec->wwid && map->paths.size() > spec->paths.size()) {
                    *spec = std::move(*map);
                    const LuIdentity all = identity_of(*spec);
                    for (const PathName& p : all.paths)
                        if (std::find(id->paths.begin(), id->paths.end(), p) == id->paths.end())
                            id->paths.push_back(p);
                }
        }
        specs_.emplace(id->key, std::move(*spec));
    }
    cache_.emplace(name, id);
    return id;
}

std::optional<LuIdentity> SysfsMapper::by_hctl(const Hctl& h) {
    const std::string hctl = std::to_string(h.host) + ":" + std::to_string(h.channel) + ":" +
                             std::to_string(h.id) + ":" + std::to_string(h.lun);
    if (!sim_.empty()) {
        if (h.lun > 65535) return std::nullopt;
        LuIdentity id;
        id.sim = "sim:" + sim_ + ":" + std::to_string(h.lun);
        id.key = id.sim;
        id.hctl = hctl;
        if (!specs_.count(id.key)) {
            engine::LunSpec spec;
            spec.name = id.sim;
            spec.wwid = id.sim;
            engine::PathSpec p;
            p.kind = engine::PathSpec::Kind::sim;
            p.sim_socket = sim_;
            p.sim_lun = static_cast<uint32_t>(h.lun);
            spec.paths.push_back(p);
            specs_.emplace(id.key, std::move(spec));
        }
        return id;
    }
    return lookup(hctl);
}

std::optional<LuIdentity> SysfsMapper::by_name(std::string_view kernel_name) {
    if (!sim_.empty()) return std::nullopt;  // prsim's disk names exist nowhere in sysfs
    return lookup(std::string(kernel_name));
}

std::optional<LuIdentity> SysfsMapper::by_devnum(uint32_t major, uint32_t minor) {
    if (!sim_.empty()) return std::nullopt;
    return lookup(std::to_string(major) + ":" + std::to_string(minor));
}

const engine::LunSpec* SysfsMapper::spec(const std::string& key) const {
    auto it = specs_.find(key);
    return it == specs_.end() ? nullptr : &it->second;
}

EngineQuerier::EngineQuerier(const SysfsMapper& mapper, engine::ResolveOptions ropt,
                             engine::SessionOptions sopt, OurSides* book)
    : mapper_(mapper), ropt_(std::move(ropt)), sopt_(std::move(sopt)), book_(book) {}

PrSnapshot EngineQuerier::query(const LuIdentity& lu) {
    PrSnapshot snap;
    engine::LunSpec spec;
    if (const engine::LunSpec* s = mapper_.spec(lu.key)) {
        spec = *s;
    } else {
        // Not mapped through sysfs: try what the lines named once more (the device may have
        // appeared since), else give up.
        const std::string name = !lu.hctl.empty() ? lu.hctl : lu.device;
        if (name.empty()) {
            snap.query_error = "no SCSI address or device name to query";
            return snap;
        }
        auto r = engine::resolve_kernel_name(name, ropt_);
        if (!r.ok()) {
            snap.query_error = r.error().msg;
            return snap;
        }
        spec = std::move(*r);
    }
    engine::SessionOptions so = sopt_;
    if (so.initiator.empty() && book_) {
        if (const OurSide* side = book_->find(lu); side && !side->initiator.empty()) {
            so.initiator = side->initiator;
            so.target_port = side->target_port.value_or(1);
        }
    }
    auto session = engine::Session::open({spec}, so);
    if (!session.ok()) {
        snap.query_error = session.error().msg;
        return snap;
    }
    auto run = [&](engine::Operation op) -> std::optional<engine::LunOutcome> {
        engine::OpSpec os;
        os.op = op;
        os.timeout_ms = 5000;
        auto maker = engine::make_operation(os);
        if (!maker.ok()) {
            snap.query_error = maker.error().msg;
            return std::nullopt;
        }
        auto rep = (*session)->run([&](size_t) { return (*maker)(); });
        if (!rep.ok()) {
            snap.query_error = rep.error().msg;
            return std::nullopt;
        }
        if (rep->outcomes.empty()) {
            snap.query_error = "no outcome";
            return std::nullopt;
        }
        return rep->outcomes.front();
    };
    auto keys = run(engine::Operation::read_keys);
    if (!keys) return snap;
    // An NVMe namespace: one Report says everything (keys, reservation, registrant hosts); our
    // host is the one whose identifier the namespace's controller carries.
    if (keys->nvme_report) {
        snap.nvme_report = keys->nvme_report;
        for (const auto& p : spec.paths)
            if (p.kind == engine::PathSpec::Kind::nvme && !snap.our_hostid)
                snap.our_hostid = controller_hostid(ropt_.sysfs_root, p.ctrl);
        // With our host identifier the Report decides alone: no second and third Report.
        if (snap.our_hostid && keys->ok) {
            if (keys->keys) snap.keys = keys->keys;
            snap.query_error.clear();
            return snap;
        }
    }
    if (keys->status == wire::sam::reservation_conflict) {
        snap.spc2_reserved = true;
        return snap;
    }
    if (!keys->ok || !keys->keys) {
        snap.query_error =
            "READ KEYS: " + (keys->error.empty() ? std::string("failed") : keys->error);
        return snap;
    }
    snap.keys = keys->keys;
    auto res = run(engine::Operation::read_reservation);
    if (!res) return snap;
    if (res->status == wire::sam::reservation_conflict) {
        snap.spc2_reserved = true;
        return snap;
    }
    if (!res->ok || !res->reservation) {
        snap.query_error =
            "READ RESERVATION: " + (res->error.empty() ? std::string("failed") : res->error);
        return snap;
    }
    snap.reservation = res->reservation;
    if (auto fs = run(engine::Operation::read_full_status); fs && fs->ok && fs->full_status)
        snap.full_status = fs->full_status;
    snap.query_error.clear();
    return snap;
}

}  // namespace prfence::prexplain
