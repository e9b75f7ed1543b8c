// SPDX-License-Identifier: MIT
#include "interposer/prsim/nvme_farm.h"

#include <sched.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <functional>

#include "interposer/prsim/nvme_trace.h"
#include "interposer/prsim/task_set.h"
#include "uring_engine/wire/nvme_cmd.h"
#include "uring_engine/wire/nvme_identify.h"
#include "uring_engine/wire/nvme_report.h"

namespace prfence::sim {
namespace {

namespace nv = wire::nvme;

constexpr uint16_t kDnr = nv::kStatusDnr;
constexpr uint16_t kAbortRequested = nv::status_word(nv::sct::generic, nv::sc::abort_requested);
constexpr uint16_t kNotReady = nv::status_word(nv::sct::generic, nv::sc::namespace_not_ready);
constexpr uint8_t kLbaOutOfRange = 0x80;
constexpr uint8_t kCnsNsDescriptors = 0x03;
// Identify offsets the codec does not write (NVMe base specification, Identify Controller NN;
// Identify Namespace NGUID and EUI64).
constexpr size_t kIdCtrlNn = 516;
constexpr size_t kIdNsNguid = 104;
constexpr size_t kIdNsEui64 = 120;

uint16_t err(uint8_t sc) {
    return static_cast<uint16_t>(nv::status_word(nv::sct::generic, sc) | kDnr);
}

// The SCSI opcode whose class a fault selects an NVMe command by (faults.h classes).
uint8_t fault_class_opcode(uint8_t queue, uint8_t op) {
    if (queue == 0) return 0x00;  // other
    switch (op) {
        case 0x0e:
            return 0x5e;  // pr_in
        case 0x0d:
        case 0x11:
        case 0x15:
            return 0x5f;  // pr_out
        case 0x02:
            return 0x28;  // read
        case 0x01:
        case 0x00:
            return 0x2a;  // write
        default:
            return 0x00;
    }
}

nv::HostId hostid_of(const proto::NvmeHost& h) {
    nv::HostId id{};
    std::copy(h.hostid.begin(), h.hostid.end(), id.begin());
    return id;
}

}  // namespace

uint64_t nvme_eui64(uint32_t nsid) {
    return (uint64_t{0x5A7F4E} << 40) | (uint64_t{0x80} << 32) | nsid;
}

std::array<uint8_t, 16> nvme_nguid(uint32_t nsid) {
    std::array<uint8_t, 16> g{};
    const uint64_t e = nvme_eui64(nsid);
    for (int i = 0; i < 8; ++i) g[i] = static_cast<uint8_t>(e >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) g[12 + i] = static_cast<uint8_t>(nsid >> (24 - 8 * i));
    return g;
}

NvmeFarm::NvmeFarm(const ServerConfig& cfg, FaultTable& faults, TraceSink* trace, TraceSink* dmesg,
                   Clients& clients)
    : cfg_(cfg), faults_(faults), trace_(trace), dmesg_(dmesg), clients_(clients) {
    for (uint32_t n = 1; n <= cfg.nvme.namespaces; ++n) {
        NvmePrConfig pc;
        pc.profile = cfg.nvme.profile == "spdk" ? NvmeProfile::spdk : NvmeProfile::nvmet;
        pc.nsid = n;
        ns_.push_back(std::make_unique<NvmePrState>(pc));
    }
}

uint16_t NvmeFarm::attach(uint64_t conn, const proto::NvmeHost& host) {
    // Dynamic controller model: a fresh id per connection (1..FFEFh, then around again, skipping
    // ids still in use).
    auto in_use = [&](uint16_t id) {
        return std::any_of(ctrls_.begin(), ctrls_.end(),
                           [&](const auto& kv) { return kv.second.cntlid == id; });
    };
    uint16_t id = next_cntlid_;
    for (int tries = 0; tries < 0xffef && in_use(id); ++tries) id = id >= 0xffef ? 1 : id + 1;
    next_cntlid_ = id >= 0xffef ? 1 : id + 1;
    Ctrl& c = ctrls_[conn];
    c.cntlid = id;
    const nv::HostId hid = hostid_of(host);
    auto known = std::find(instances_.begin(), instances_.end(), hid);
    c.instance = static_cast<int>(known - instances_.begin());
    if (known == instances_.end()) instances_.push_back(hid);
    c.host = host;
    c.slots.assign(cfg_.limits.max_in_flight, false);
    for (auto& ns : ns_) ns->attach(NvmeController{hostid_of(host), id});
    return id;
}

void NvmeFarm::close(uint64_t conn) {
    auto it = ctrls_.find(conn);
    if (it == ctrls_.end()) return;
    for (const auto& [tag, id] : it->second.tags) {
        auto p = pending_.find(id);
        if (p == pending_.end()) continue;
        if (p->second.held) held_.fetch_sub(1, std::memory_order_relaxed);
        pending_.erase(p);  // a heap entry, if any, is skipped when it comes due
    }
    for (auto& ns : ns_) ns->detach(it->second.cntlid);
    ctrls_.erase(it);
}

void NvmeFarm::queue_notifications(const NvmePrResult& r, uint32_t nsid) {
    for (const NvmeNotification& n : r.notifications) {
        auto it = std::find_if(ctrls_.begin(), ctrls_.end(),
                               [&](const auto& kv) { return kv.second.cntlid == n.cntlid; });
        if (it == ctrls_.end() || it->second.log.add(n.type, nsid)) continue;
        // The log was full: nvmet's kernel message (pr_info, "nvmet: " prefix) in the dmesg
        // stream, where the target's kernel and the host's share one log as in the guest.
        if (!dmesg_ && !trace_) continue;
        const int64_t t = trace_now();
        const uint64_t at = t < 0 ? 0 : static_cast<uint64_t>(t);
        char line[160];
        std::snprintf(line, sizeof line,
                      "[%5" PRIu64 ".%06" PRIu64
                      "] nvmet: a reservation log lost, cntlid:%d, log_type:%d, nsid:%d\n",
                      at / 1000000000u, (at % 1000000000u) / 1000u, int{n.cntlid},
                      static_cast<int>(n.type), static_cast<int>(nsid));
        (dmesg_ ? dmesg_ : trace_)->append(line);
    }
}

bool NvmeFarm::in_flight(uint64_t conn, uint64_t tag) const {
    auto it = ctrls_.find(conn);
    return it != ctrls_.end() && it->second.tags.count(tag) != 0;
}

size_t NvmeFarm::outstanding(uint64_t conn) const {
    auto it = ctrls_.find(conn);
    return it == ctrls_.end() ? 0 : it->second.tags.size();
}

int64_t NvmeFarm::trace_now() const {
    return cfg_.trace_clock ? cfg_.trace_clock() : monotonic_ns();
}

int NvmeFarm::trace_cpu() const {
    return cfg_.trace.cpu >= 0 ? cfg_.trace.cpu : std::max(0, ::sched_getcpu());
}

NvmeTraceEvent NvmeFarm::trace_event(const Ctrl& c, const Cmd& cmd, std::string& disk) const {
    NvmeTraceEvent e;
    e.ts_ns = trace_now();
    e.cpu = trace_cpu();
    e.ctrl_instance = c.instance;
    disk = cmd.queue == 0 ? std::string()
                          : "nvme" + std::to_string(c.instance) + "n" + std::to_string(cmd.nsid);
    e.disk = disk;
    e.qid = cmd.queue;
    e.cid = cmd.cid;
    e.opcode = cmd.opcode;
    e.nsid = cmd.nsid;
    e.cdw = cmd.cdw;
    return e;
}

void NvmeFarm::trace_setup(const Ctrl& c, const Cmd& cmd) {
    if (!trace_) return;
    std::string disk;
    const NvmeTraceEvent e = trace_event(c, cmd, disk);
    text_.clear();
    format_nvme_setup(text_, e, cfg_.trace.style);
    trace_->append(text_);
}

void NvmeFarm::trace_complete(const Ctrl& c, const Cmd& cmd, uint16_t status, uint64_t result) {
    if (!trace_ && !dmesg_) return;
    std::string disk;
    NvmeTraceEvent e = trace_event(c, cmd, disk);
    e.result = result;
    e.status = status;
    e.slba = uint64_t{cmd.cdw[0]} | (uint64_t{cmd.cdw[1]} << 32);
    e.blocks = (cmd.cdw[2] & 0xffff) + 1;
    e.block_size = cfg_.nvme.block_size;
    if (trace_) {
        text_.clear();
        format_nvme_complete(text_, e, cfg_.trace.style);
        trace_->append(text_);
    }
    text_.clear();
    format_nvme_conflict_dmesg(text_, e, cfg_.trace.style);
    if (!text_.empty()) {
        if (dmesg_)
            dmesg_->append(text_);
        else if (trace_)
            trace_->append(text_);
    }
}

void NvmeFarm::submit(uint64_t conn, const proto::NvmeCommandView& v, int64_t now_ns) {
    Ctrl& c = ctrls_.at(conn);
    commands_.fetch_add(1, std::memory_order_relaxed);
    Cmd cmd;
    cmd.conn = conn;
    cmd.tag = v.tag;
    cmd.queue = v.queue;
    cmd.opcode = v.opcode;
    cmd.nsid = v.nsid;
    cmd.cdw = v.cdw;
    cmd.data_in_len = v.data_in_len;
    cmd.arrival_ns = now_ns;
    auto free_slot = std::find(c.slots.begin(), c.slots.end(), false);
    if (free_slot == c.slots.end()) {
        // No NVMe status means "queue full"; a namespace that is not ready is retried by hosts.
        clients_.respond_nvme(conn, v.tag, kNotReady, 0, {}, 0);
        return;
    }
    *free_slot = true;
    cmd.cid = static_cast<int>(free_slot - c.slots.begin());
    trace_setup(c, cmd);
    const uint32_t fault_lun = (cmd.nsid >= 1 && cmd.nsid <= namespace_count()) ? cmd.nsid - 1 : 0;
    const NexusRef nx{0x80000000u | c.cntlid, UINT32_MAX, 0, nullptr};
    cmd.decision = faults_.decide(fault_lun, fault_class_opcode(cmd.queue, cmd.opcode), nx, now_ns);
    cmd.id = next_id_++;
    if (cmd.decision.action != Decision::Action::hold && cmd.decision.delay_ns == 0) {
        cmd.data_out = Bytes(v.data_out.begin(), v.data_out.end());
        if (run(cmd)) return;
        cmd.held = true;
        held_.fetch_add(1, std::memory_order_relaxed);
        c.tags.emplace(cmd.tag, cmd.id);
        pending_.emplace(cmd.id, std::move(cmd));
        return;
    }
    cmd.data_out = Bytes(v.data_out.begin(), v.data_out.end());
    if (cmd.decision.action == Decision::Action::hold) {
        cmd.held = true;
        held_.fetch_add(1, std::memory_order_relaxed);
    } else {
        heap_.emplace_back(now_ns + cmd.decision.delay_ns, cmd.id);
        std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    }
    c.tags.emplace(cmd.tag, cmd.id);
    pending_.emplace(cmd.id, std::move(cmd));
}

bool NvmeFarm::run(Cmd& cmd) {
    const Ctrl& c = ctrls_.at(cmd.conn);
    if (cmd.decision.action == Decision::Action::not_ready) {
        finish(cmd, kNotReady, 0, {}, 0);
        return true;
    }
    Answer a = execute(c, cmd);
    if (!a.aborted.empty()) abort_hosts(cmd.nsid, a.aborted, cmd.id);
    if (cmd.decision.action == Decision::Action::execute_then_hold) return false;
    if (a.data.size() > cmd.data_in_len) a.data.resize(cmd.data_in_len);
    finish(cmd, a.status, a.result, a.data, 0);
    return true;
}

void NvmeFarm::finish(Cmd& cmd, uint16_t status, uint64_t result, ByteView data, uint8_t flags) {
    auto it = ctrls_.find(cmd.conn);
    if (it == ctrls_.end()) return;
    Ctrl& c = it->second;
    trace_complete(c, cmd, status, result);
    clients_.respond_nvme(cmd.conn, cmd.tag, status, result, data, flags);
    if (cmd.cid >= 0 && static_cast<size_t>(cmd.cid) < c.slots.size()) c.slots[cmd.cid] = false;
}

void NvmeFarm::forget(uint64_t id) {
    auto p = pending_.find(id);
    if (p == pending_.end()) return;
    if (p->second.held) held_.fetch_sub(1, std::memory_order_relaxed);
    if (auto c = ctrls_.find(p->second.conn); c != ctrls_.end())
        c->second.tags.erase(p->second.tag);
    pending_.erase(p);
}

void NvmeFarm::abort_hosts(uint32_t nsid, const std::vector<nv::HostId>& hosts, uint64_t except) {
    std::vector<uint64_t> ids;
    for (const auto& [id, p] : pending_) {
        if (id == except || p.queue == 0 || p.nsid != nsid) continue;
        auto c = ctrls_.find(p.conn);
        if (c == ctrls_.end()) continue;
        if (std::find(hosts.begin(), hosts.end(), hostid_of(c->second.host)) != hosts.end())
            ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());  // arrival order
    for (uint64_t id : ids) {
        Cmd cmd = std::move(pending_.at(id));
        forget(id);
        aborted_.fetch_add(1, std::memory_order_relaxed);
        if (clients_.connected(cmd.conn))
            finish(cmd, kAbortRequested, 0, {}, proto::kRespAbortedByPreempt);
    }
}

void NvmeFarm::abort(uint64_t conn, uint64_t tag) {
    auto c = ctrls_.find(conn);
    if (c == ctrls_.end()) return;
    auto t = c->second.tags.find(tag);
    if (t == c->second.tags.end()) return;
    const uint64_t id = t->second;
    Cmd cmd = std::move(pending_.at(id));
    forget(id);
    aborted_.fetch_add(1, std::memory_order_relaxed);
    finish(cmd, kAbortRequested, 0, {}, proto::kRespAbortedByClient);
}

void NvmeFarm::run_due(int64_t now_ns) {
    while (!heap_.empty() && heap_.front().first <= now_ns) {
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
        const uint64_t id = heap_.back().second;
        heap_.pop_back();
        auto it = pending_.find(id);
        if (it == pending_.end()) continue;  // aborted, or its client left
        // Out of the table while it executes: its own Preempt and Abort cannot abort it.
        Cmd cmd = std::move(it->second);
        forget(id);
        if (!clients_.connected(cmd.conn)) continue;
        if (!run(cmd)) {
            cmd.held = true;
            held_.fetch_add(1, std::memory_order_relaxed);
            ctrls_.at(cmd.conn).tags.emplace(cmd.tag, cmd.id);
            pending_.emplace(cmd.id, std::move(cmd));
        }
    }
}

nlohmann::json NvmeFarm::describe() const {
    auto hex = [](const nv::HostId& id) {
        std::string s;
        char b[3];
        for (uint8_t x : id) {
            std::snprintf(b, sizeof b, "%02x", x);
            s += b;
        }
        return s;
    };
    nlohmann::json j;
    j["subnqn"] = cfg_.nvme.subnqn;
    j["namespaces"] = nlohmann::json::array();
    for (size_t i = 0; i < ns_.size(); ++i) {
        const nv::ReservationStatus st = ns_[i]->status();
        nlohmann::json regs = nlohmann::json::array();
        for (const auto& r : st.registrants)
            regs.push_back({{"hostid", hex(r.hostid)}, {"key", r.key}, {"holds", r.holds}});
        j["namespaces"].push_back({{"nsid", i + 1},
                                   {"generation", st.generation},
                                   {"rtype", st.rtype},
                                   {"registrants", regs}});
    }
    std::vector<const Ctrl*> cs;
    for (const auto& [conn, c] : ctrls_) cs.push_back(&c);
    std::sort(cs.begin(), cs.end(),
              [](const Ctrl* a, const Ctrl* b) { return a->cntlid < b->cntlid; });
    j["controllers"] = nlohmann::json::array();
    for (const Ctrl* c : cs)
        j["controllers"].push_back({{"cntlid", c->cntlid},
                                    {"hostnqn", c->host.hostnqn},
                                    {"hostid", hex(hostid_of(c->host))},
                                    {"instance", c->instance}});
    return j;
}

std::optional<int64_t> NvmeFarm::next_due() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().first;
}

// ---- the commands ----

NvmeFarm::Answer NvmeFarm::execute(const Ctrl& c, const Cmd& cmd) {
    return cmd.queue == 0 ? admin(c, cmd) : io(c, cmd);
}

NvmeFarm::Answer NvmeFarm::admin(const Ctrl& c, const Cmd& cmd) {
    Answer a;
    const NvmeController me{hostid_of(c.host), c.cntlid};
    const uint32_t n = namespace_count();
    const bool ns_ok = cmd.nsid >= 1 && cmd.nsid <= n;
    const uint8_t fid = static_cast<uint8_t>(cmd.cdw[0]);
    switch (cmd.opcode) {
        case nv::admin::identify: {
            const uint8_t cns = static_cast<uint8_t>(cmd.cdw[0]);
            if (cns == nv::kCnsController) {
                nv::IdentifyController ic;
                char serial[24];
                std::snprintf(serial, sizeof serial, "%016llx",
                              static_cast<unsigned long long>(nvme_eui64(0)));
                ic.serial = serial;
                ic.model = "prsim";
                ic.firmware = "0001";
                ic.cntlid = c.cntlid;
                ic.ver = 0x00020000;  // NVMe 2.0
                ic.ctratt = nv::kCtrattHostId128;
                ic.oncs = nv::kOncsReservations;
                ic.subnqn = cfg_.nvme.subnqn;
                a.data = nv::encode_identify_ctrl(ic);
                nv::put_le32(a.data, kIdCtrlNn, n);
            } else if (cns == nv::kCnsNamespace) {
                if (!ns_ok && cmd.nsid != nv::kNsidAll) {
                    a.status = err(nv::sc::invalid_namespace);
                    break;
                }
                nv::IdentifyNamespace in;
                if (ns_ok) in.nsze = in.ncap = in.nuse = cfg_.nvme.blocks;
                in.nmic = 1;  // shared: several controllers
                in.rescap = 0x7e | nv::rescap::iekey_13;
                in.lba_size = cfg_.nvme.block_size;
                a.data = nv::encode_identify_ns(in);
                if (ns_ok) {
                    const auto g = nvme_nguid(cmd.nsid);
                    std::copy(g.begin(), g.end(), a.data.begin() + kIdNsNguid);
                    const uint64_t e = nvme_eui64(cmd.nsid);
                    for (int i = 0; i < 8; ++i)
                        a.data[kIdNsEui64 + i] = static_cast<uint8_t>(e >> (56 - 8 * i));
                }
            } else if (cns == kCnsNsDescriptors) {
                if (!ns_ok) {
                    a.status = err(nv::sc::invalid_namespace);
                    break;
                }
                // Namespace Identification Descriptors: EUI-64 (type 1), NGUID (type 2).
                a.data.assign(nv::kIdentifyLen, 0);
                a.data[0] = 1;
                a.data[1] = 8;
                const uint64_t e = nvme_eui64(cmd.nsid);
                for (int i = 0; i < 8; ++i) a.data[4 + i] = static_cast<uint8_t>(e >> (56 - 8 * i));
                a.data[12] = 2;
                a.data[13] = 16;
                const auto g = nvme_nguid(cmd.nsid);
                std::copy(g.begin(), g.end(), a.data.begin() + 16);
            } else {
                a.status = err(nv::sc::invalid_field);
            }
            break;
        }
        case nv::admin::get_log_page: {
            const uint8_t lid = static_cast<uint8_t>(cmd.cdw[0]);
            const uint64_t numd = (cmd.cdw[0] >> 16) | (uint64_t{cmd.cdw[1] & 0xffff} << 16);
            const uint64_t len = std::min<uint64_t>(4 * (numd + 1), proto::kMaxDataLen);
            if (lid != nv::kLogReservation) {
                a.status = err(nv::sc::invalid_field);
                break;
            }
            // The controller's log, whatever the command's NSID: its entries name their namespace.
            const nv::ReservationLog entry = ctrls_.at(cmd.conn).log.take();
            const Bytes page = nv::encode_reservation_log(entry);
            a.data.assign(len, 0);
            std::copy_n(page.begin(), std::min<size_t>(page.size(), len), a.data.begin());
            break;
        }
        case nv::admin::get_features:
            if (fid == nv::kFeatHostId) {
                if (!(cmd.cdw[1] & 1)) {  // EXHID: fabrics controllers have 128-bit ids only
                    a.status = err(nv::sc::invalid_field);
                    break;
                }
                a.data.assign(c.host.hostid.begin(), c.host.hostid.end());
            } else if (fid == nv::kFeatResvMask || fid == nv::kFeatResvPersist) {
                if (!ns_ok) {
                    a.status = err(nv::sc::invalid_namespace);
                    break;
                }
                NvmePrState& ns = *ns_[cmd.nsid - 1];
                a.result =
                    fid == nv::kFeatResvMask ? ns.notification_mask(me) : (ns.ptpl() ? 1 : 0);
            } else {
                a.status = err(nv::sc::invalid_field);
            }
            break;
        case nv::admin::set_features:
            if (fid == nv::kFeatHostId) {
                // The host identifier of a fabrics controller is the one given at connect.
                a.status = err(nv::sc::command_sequence_error);
            } else if (fid == nv::kFeatResvMask) {
                if (cmd.nsid == nv::kNsidAll) {
                    for (auto& ns : ns_)
                        if (uint16_t s = ns->set_notification_mask(me, cmd.cdw[1])) a.status = s;
                } else if (ns_ok) {
                    a.status = ns_[cmd.nsid - 1]->set_notification_mask(me, cmd.cdw[1]);
                } else {
                    a.status = err(nv::sc::invalid_namespace);
                }
            } else {
                a.status = err(nv::sc::invalid_field);
            }
            break;
        default:
            a.status = err(nv::sc::invalid_opcode);
            break;
    }
    return a;
}

NvmeFarm::Answer NvmeFarm::io(const Ctrl& c, const Cmd& cmd) {
    Answer a;
    if (cmd.nsid < 1 || cmd.nsid > namespace_count()) {
        a.status = err(nv::sc::invalid_namespace);
        return a;
    }
    NvmePrState& ns = *ns_[cmd.nsid - 1];
    const NvmeController me{hostid_of(c.host), c.cntlid};
    // The codec decodes what it accepts. What it refuses beyond the data length (reserved action
    // values, RTYPE or CPTPL) still goes to the model as sent: nvmet checks the registrant and key
    // before the action value, and a Release with an RTYPE outside 1..6 is a conflict or a no-op
    // there, not an error of the command's form.
    const uint32_t cdw10 = cmd.cdw[0];
    const ByteView data = cmd.data_out;
    auto length_refused = [&](size_t want) {
        if (data.size() == want) return false;
        // nvmet's transfer-length check records an error location (MORE); SPDK sets neither bit.
        const uint16_t code = nv::status_word(nv::sct::generic, nv::sc::invalid_field);
        a.status = cfg_.nvme.profile == "spdk"
                       ? code
                       : static_cast<uint16_t>(err(nv::sc::invalid_field) | nv::kStatusMore);
        return true;
    };
    const auto action = static_cast<uint8_t>(cdw10 & 0x7);
    const bool iekey = (cdw10 & nv::kIgnoreKey) != 0;
    const auto rtype = static_cast<uint8_t>(cdw10 >> 8);
    switch (cmd.opcode) {
        case static_cast<uint8_t>(nv::Opcode::resv_register): {
            if (length_refused(nv::kRegisterDataLen)) break;
            auto d = nv::decode_register(cdw10, data);
            const nv::RegisterCmd rc =
                d ? *d
                  : nv::RegisterCmd{static_cast<nv::RegisterAction>(action), iekey,
                                    static_cast<nv::Cptpl>(cdw10 >> 30), nv::get_le64(data, 0),
                                    nv::get_le64(data, 8)};
            NvmePrResult r = ns.execute_register(me, rc);
            a.status = r.status;
            queue_notifications(r, cmd.nsid);
            break;
        }
        case static_cast<uint8_t>(nv::Opcode::resv_acquire): {
            if (length_refused(nv::kAcquireDataLen)) break;
            auto d = nv::decode_acquire(cdw10, data);
            const nv::AcquireCmd ac =
                d ? *d
                  : nv::AcquireCmd{static_cast<nv::AcquireAction>(action), iekey, rtype,
                                   nv::get_le64(data, 0), nv::get_le64(data, 8)};
            NvmePrResult r = ns.execute_acquire(me, ac);
            a.status = r.status;
            queue_notifications(r, cmd.nsid);
            if (r.status == 0) a.aborted = std::move(r.aborted);
            break;
        }
        case static_cast<uint8_t>(nv::Opcode::resv_release): {
            if (length_refused(nv::kReleaseDataLen)) break;
            auto d = nv::decode_release(cdw10, data);
            const nv::ReleaseCmd rc = d ? *d
                                        : nv::ReleaseCmd{static_cast<nv::ReleaseAction>(action),
                                                         iekey, rtype, nv::get_le64(data, 0)};
            NvmePrResult r = ns.execute_release(me, rc);
            a.status = r.status;
            queue_notifications(r, cmd.nsid);
            break;
        }
        case static_cast<uint8_t>(nv::Opcode::resv_report): {
            auto d = nv::decode_report(cdw10, cmd.cdw[1]);
            const nv::ReportCmd rc =
                d ? *d : nv::ReportCmd{cdw10, (cmd.cdw[1] & nv::kReportEds) != 0};
            NvmeReportResult r = ns.report(me, rc);
            a.status = r.status;
            if (r.status != 0) break;
            const uint64_t want = std::min<uint64_t>(nv::report_buffer_len(rc), cmd.data_in_len);
            auto enc = nv::encode_report(r.data, rc.eds, want);
            if (!enc) {
                a.status = err(nv::sc::internal_error);
                break;
            }
            a.data = std::move(enc).value();
            break;
        }
        case 0x02:  // Read
        case 0x01:  // Write
        case 0x00:  // Flush
        {
            const bool rw = cmd.opcode != 0x00;
            const uint64_t slba = uint64_t{cmd.cdw[0]} | (uint64_t{cmd.cdw[1]} << 32);
            const uint64_t nlb = uint64_t{cmd.cdw[2] & 0xffff} + 1;
            if (rw && (slba >= cfg_.nvme.blocks || nlb > cfg_.nvme.blocks - slba)) {
                a.status = err(kLbaOutOfRange);
                break;
            }
            a.status = ns.check_io(me, cmd.opcode == 0x02 ? IoKind::read : IoKind::write);
            if (a.status == 0 && cmd.opcode == 0x02)
                a.data.assign(std::min<uint64_t>(nlb * cfg_.nvme.block_size, cmd.data_in_len), 0);
            break;
        }
        default:
            a.status = err(nv::sc::invalid_opcode);
            break;
    }
    return a;
}

}  // namespace prfence::sim
