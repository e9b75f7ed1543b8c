// SPDX-License-Identifier: MIT
// prsim's NVMe namespaces over the socket (protocol version 2), the daemon in-process on a
// temporary socket: two hosts registering, reporting, acquiring, preempting and releasing through
// NVME_COMMAND frames; I/O refused by the reservation; a Preempt and Abort aborting the preempted
// host's delayed commands; Identify, the notification log page (one per controller, for every
// namespace, losing entries past 64), features 81h and 82h; the trace
// lines; and hostile frames (a version-1 connection sending NVMe, bad lengths, unknown
// namespaces, wrong queues, connections without the identity a command needs). Every wait has a
// timeout.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "interposer/prsim/config.h"
#include "interposer/prsim/nvme_farm.h"
#include "interposer/prsim/server.h"
#include "uring_engine/simproto/protocol.h"
#include "uring_engine/simproto/sim_client.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/nvme_cmd.h"
#include "uring_engine/wire/nvme_identify.h"
#include "uring_engine/wire/nvme_report.h"
#include "uring_engine/wire/status.h"

namespace prfence::sim {
namespace {

namespace fs = std::filesystem;
namespace nv = wire::nvme;
using json = nlohmann::json;

constexpr uint16_t kConflictIo = 0x6083;   // nvmet: DNR | MORE | Reservation Conflict
constexpr uint16_t kConflictCmd = 0x4083;  // DNR | Reservation Conflict
constexpr uint16_t kAbortRequested = 0x0007;

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "prsim-nvme-XXXXXX").string();
        char* p = ::mkdtemp(tmpl.data());
        EXPECT_NE(p, nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

class Running {
  public:
    explicit Running(ServerConfig cfg) {
        cfg.log = [this](const std::string& s) {
            std::lock_guard<std::mutex> g(mu_);
            logs_.push_back(s);
        };
        auto s = Server::create(std::move(cfg));
        if (!s) {
            ADD_FAILURE() << "server: " << s.error().msg;
            return;
        }
        srv_ = std::move(s).value();
        th_ = std::thread([this] { EXPECT_TRUE(srv_->run().ok()); });
    }
    ~Running() { stop(); }
    void stop() {
        if (srv_ && th_.joinable()) {
            srv_->stop();
            th_.join();
        }
    }
    bool ok() const { return srv_ != nullptr; }
    const std::string& path() const { return srv_->socket_path(); }

  private:
    std::unique_ptr<Server> srv_;
    std::thread th_;
    std::mutex mu_;
    std::vector<std::string> logs_;
};

ServerConfig config(const TempDir& dir, uint32_t namespaces = 2) {
    ServerConfig c;
    c.socket_path = (dir.path / "prsim.sock").string();
    c.luns = 4;
    c.nvme.namespaces = namespaces;
    return c;
}

proto::NvmeHost host(uint8_t n) {
    proto::NvmeHost h;
    for (size_t i = 0; i < h.hostid.size(); ++i) h.hostid[i] = static_cast<uint8_t>(n * 16 + i);
    h.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:node-" + std::to_string(n);
    return h;
}

// A version-2 HELLO: NVMe host n, and a SCSI initiator unless `scsi` is false.
proto::Hello nvme_hello(uint8_t n, bool scsi = true) {
    proto::Hello h =
        proto::make_hello(scsi ? "iqn.2001-05.com.example:node-" + std::to_string(n) : "", 1, "t");
    h.max_version = proto::kVersion2;
    h.nvme_host = host(n);
    return h;
}

std::unique_ptr<SimClient> connect(const std::string& path, const proto::Hello& h) {
    auto c = SimClient::connect(path, h, 3000);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().msg);
    return c.ok() ? std::move(c).value() : nullptr;
}

proto::NvmeCommand frame_of(const nv::Command& c) {
    proto::NvmeCommand f;
    f.queue = c.admin ? proto::NvmeQueue::admin : proto::NvmeQueue::io;
    f.opcode = c.opcode;
    f.nsid = c.nsid;
    f.cdw = {c.cdw10, c.cdw11, c.cdw12, c.cdw13, c.cdw14, c.cdw15};
    f.data_out = c.data;
    f.data_in_len = c.dir == nv::DataDir::from_device ? c.data_len : 0;
    return f;
}

proto::NvmeResponse run(SimClient& c, const nv::Command& cmd) {
    auto r = c.execute_nvme(frame_of(cmd), 3000);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().msg);
    return r.ok() ? std::move(r).value() : proto::NvmeResponse{0, 0xffff, 0, 0, {}};
}

uint16_t reg(SimClient& c, uint32_t nsid, uint64_t crkey, uint64_t nrkey,
             nv::RegisterAction a = nv::RegisterAction::register_key) {
    auto cmd = nv::register_cmd(nsid, {a, false, nv::Cptpl::no_change, crkey, nrkey});
    EXPECT_TRUE(cmd.ok());
    return run(c, *cmd).status;
}

uint16_t acquire(SimClient& c, uint32_t nsid, nv::AcquireAction a, uint8_t rtype, uint64_t crkey,
                 uint64_t prkey = 0) {
    auto cmd = nv::acquire_cmd(nsid, {a, false, rtype, crkey, prkey});
    EXPECT_TRUE(cmd.ok());
    return run(c, *cmd).status;
}

nv::ReservationStatus report(SimClient& c, uint32_t nsid) {
    auto cmd = nv::report_cmd(nsid, true, 4096);
    EXPECT_TRUE(cmd.ok());
    auto r = run(c, *cmd);
    EXPECT_EQ(r.status, 0);
    auto s = nv::parse_report(r.data_in, true);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().msg);
    return s.ok() ? *s : nv::ReservationStatus{};
}

// CRKEY `key`, second key 0: the data of an Acquire.
Bytes hex_key(uint64_t key) {
    Bytes b(16, 0);
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(key >> (8 * i));
    return b;
}

proto::NvmeCommand rw(uint8_t opcode, uint32_t nsid, uint64_t slba, uint16_t blocks) {
    proto::NvmeCommand f;
    f.opcode = opcode;
    f.nsid = nsid;
    f.cdw[0] = static_cast<uint32_t>(slba);
    f.cdw[1] = static_cast<uint32_t>(slba >> 32);
    f.cdw[2] = blocks - 1u;
    if (opcode == 0x02) f.data_in_len = blocks * 512u;
    if (opcode == 0x01) f.data_out.assign(blocks * 512u, 0xab);
    return f;
}

json control(const std::string& path, const json& req) {
    auto c = SimClient::connect_raw(path, 3000);
    EXPECT_TRUE(c.ok());
    if (!c) return {};
    auto r = (*c)->control(req.dump(), 3000);
    EXPECT_TRUE(r.ok());
    return r.ok() ? json::parse(*r) : json{};
}

TEST(PrsimNvme, HelloAckCarriesControllerAndNamespaces) {
    TempDir d;
    Running s(config(d, 3));
    ASSERT_TRUE(s.ok());
    auto a = connect(s.path(), nvme_hello(1));
    auto b = connect(s.path(), nvme_hello(2, false));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->info().version, 2);
    EXPECT_EQ(a->info().namespace_count, 3u);
    EXPECT_EQ(a->info().cntlid, 1);
    EXPECT_EQ(b->info().cntlid, 2);
    // A version-1 client still gets the version-1 HELLO_ACK.
    auto v1 = connect(s.path(), proto::make_hello("iqn.2001-05.com.example:old", 1));
    ASSERT_TRUE(v1);
    EXPECT_EQ(v1->info().version, 1);
    EXPECT_EQ(v1->info().cntlid, 0xffff);
    const auto inq = wire::inquiry_cdb(false, 0, 96);
    auto r = v1->execute(0, inq.bytes(), {}, 96, 3000);
    ASSERT_TRUE(r.ok());
}

TEST(PrsimNvme, TwoHostsSeedWorkflowThroughFrames) {
    TempDir d;
    Running s(config(d));
    ASSERT_TRUE(s.ok());
    auto a = connect(s.path(), nvme_hello(1));
    auto b = connect(s.path(), nvme_hello(2));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(reg(*a, 1, 0, 0xaaaa), 0);
    EXPECT_EQ(reg(*b, 1, 0, 0xbbbb), 0);
    EXPECT_EQ(reg(*a, 1, 0, 0x1234), kConflictCmd);  // re-register with another key
    auto st = report(*b, 1);
    EXPECT_EQ(st.generation, 2u);
    ASSERT_EQ(st.registrants.size(), 2u);
    EXPECT_EQ(st.registrants[0].key, 0xaaaau);
    EXPECT_EQ(st.registrants[0].cntlid, 0xffff);  // dynamic controller model
    EXPECT_EQ(st.registrants[0].hostid, host(1).hostid);
    // Namespace 2 is separate.
    EXPECT_EQ(report(*a, 2).registrants.size(), 0u);

    EXPECT_EQ(acquire(*a, 1, nv::AcquireAction::acquire, 2, 0xaaaa), 0);  // Exclusive Access
    st = report(*a, 1);
    EXPECT_EQ(st.rtype, 2);
    EXPECT_TRUE(st.registrants[0].holds);
    // I/O of the other host is refused as nvmet refuses it; the holder's goes through.
    auto br = b->execute_nvme(rw(0x02, 1, 0, 8), 3000);
    ASSERT_TRUE(br.ok());
    EXPECT_EQ(br->status, kConflictIo);
    EXPECT_TRUE(br->data_in.empty());
    auto ar = a->execute_nvme(rw(0x02, 1, 0, 8), 3000);
    ASSERT_TRUE(ar.ok());
    EXPECT_EQ(ar->status, 0);
    EXPECT_EQ(ar->data_in, Bytes(4096, 0));
    auto aw = a->execute_nvme(rw(0x01, 1, 2040, 8), 3000);
    ASSERT_TRUE(aw.ok());
    EXPECT_EQ(aw->status, 0);
    auto oor = a->execute_nvme(rw(0x01, 1, 2041, 8), 3000);
    ASSERT_TRUE(oor.ok());
    EXPECT_EQ(oor->status, 0x4080);  // LBA Out of Range
    // Namespace 2 has no reservation.
    auto b2 = b->execute_nvme(rw(0x01, 2, 0, 1), 3000);
    ASSERT_TRUE(b2.ok());
    EXPECT_EQ(b2->status, 0);

    // B preempts A and aborts A's command still waiting for its latency.
    ASSERT_TRUE(control(s.path(), {{"op", "arm"}, {"fault", "latency,class=read,luns=0,ms=3000"}})
                    .value("ok", false));
    auto delayed = a->submit_nvme(rw(0x02, 1, 0, 1));
    ASSERT_TRUE(delayed.ok());
    EXPECT_EQ(acquire(*b, 1, nv::AcquireAction::preempt_and_abort, 2, 0xbbbb, 0xaaaa), 0);
    auto ab = a->wait_nvme(*delayed, 1000);
    ASSERT_TRUE(ab.ok()) << ab.error().msg;
    EXPECT_EQ(ab->status, kAbortRequested);
    EXPECT_EQ(ab->flags, proto::kRespAbortedByPreempt);
    ASSERT_TRUE(control(s.path(), {{"op", "disarm"}, {"all", true}}).value("ok", false));

    st = report(*b, 1);
    EXPECT_EQ(st.generation, 3u);
    ASSERT_EQ(st.registrants.size(), 1u);
    EXPECT_EQ(st.registrants[0].hostid, host(2).hostid);
    EXPECT_TRUE(st.registrants[0].holds);
    // A, no longer registered, is refused writes and its reservation commands.
    auto aw2 = a->execute_nvme(rw(0x01, 1, 0, 1), 3000);
    ASSERT_TRUE(aw2.ok());
    EXPECT_EQ(aw2->status, kConflictIo);
    EXPECT_EQ(acquire(*a, 1, nv::AcquireAction::acquire, 2, 0xaaaa), kConflictCmd);
    // A's controller has the notification.
    auto log = run(*a, nv::reservation_log_cmd());
    EXPECT_EQ(log.status, 0);
    auto entry = nv::parse_reservation_log(log.data_in);
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ(entry->type, static_cast<uint8_t>(nv::LogType::registration_preempted));
    EXPECT_EQ(entry->nsid, 1u);
    EXPECT_EQ(entry->count, 1u);
    auto empty = nv::parse_reservation_log(run(*a, nv::reservation_log_cmd()).data_in);
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty->type, 0);

    // Release by B; then anybody may write again.
    auto rel = nv::release_cmd(1, {nv::ReleaseAction::release, false, 2, 0xbbbb});
    ASSERT_TRUE(rel.ok());
    EXPECT_EQ(run(*b, *rel).status, 0);
    EXPECT_EQ(report(*b, 1).rtype, 0);
    auto aw3 = a->execute_nvme(rw(0x01, 1, 0, 1), 3000);
    ASSERT_TRUE(aw3.ok());
    EXPECT_EQ(aw3->status, 0);
    const json nv = control(s.path(), {{"op", "nvme"}});
    ASSERT_TRUE(nv.value("ok", false)) << nv.dump();
    EXPECT_EQ(nv["nvme"]["subnqn"], "nqn.2026-12.io.prfence:prsim");
    ASSERT_EQ(nv["nvme"]["namespaces"].size(), 2u);
    EXPECT_EQ(nv["nvme"]["namespaces"][0]["generation"], 3);
    EXPECT_EQ(nv["nvme"]["namespaces"][0]["registrants"][0]["hostid"],
              "202122232425262728292a2b2c2d2e2f");
    ASSERT_EQ(nv["nvme"]["controllers"].size(), 2u);
    EXPECT_EQ(nv["nvme"]["controllers"][1]["hostnqn"], host(2).hostnqn);
    EXPECT_EQ(nv["nvme"]["controllers"][1]["instance"], 1);
    auto stats = control(s.path(), {{"op", "stats"}})["stats"];
    EXPECT_GE(stats.value("nvme_commands", 0u), 20u);
    EXPECT_EQ(stats.value("nvme_namespaces", 0u), 2u);
}

TEST(PrsimNvme, ReportWithoutEdsAndBadCommands) {
    TempDir d;
    Running s(config(d));
    ASSERT_TRUE(s.ok());
    auto a = connect(s.path(), nvme_hello(1));
    ASSERT_TRUE(a);
    auto short_report = nv::report_cmd(1, false, 64);
    ASSERT_TRUE(short_report.ok());
    EXPECT_EQ(run(*a, *short_report).status,
              0x6018);  // Host Identifier Inconsistent Format, as nvmet
    // Reserved action values: Invalid Command Opcode; data of the wrong length: Invalid Field.
    proto::NvmeCommand bad;
    bad.opcode = 0x0d;
    bad.nsid = 1;
    bad.cdw[0] = 5;
    bad.data_out.assign(16, 0);
    EXPECT_EQ(a->execute_nvme(bad, 3000)->status, 0x6001);
    bad.cdw[0] = 0;
    bad.data_out.assign(8, 0);
    EXPECT_EQ(a->execute_nvme(bad, 3000)->status, 0x6002);
    // Values the codec refuses go to the model as sent, which answers as nvmet: a non-registrant's
    // reserved Acquire action is a conflict (checked first), a reserved Register action Invalid
    // Command Opcode with MORE, an Acquire RTYPE outside 1..6 Invalid Field, and a registrant that
    // does not hold the reservation releasing with RTYPE 9 changes nothing (success).
    proto::NvmeCommand raw;
    raw.opcode = 0x11;
    raw.nsid = 1;
    raw.cdw[0] = 0x0105;  // RACQA 5, RTYPE 1
    raw.data_out.assign(16, 0);
    EXPECT_EQ(a->execute_nvme(raw, 3000)->status, kConflictCmd);
    raw.opcode = 0x0d;
    raw.cdw[0] = 3;
    EXPECT_EQ(a->execute_nvme(raw, 3000)->status, 0x6001);
    EXPECT_EQ(reg(*a, 1, 0, 0x77), 0);
    EXPECT_EQ(acquire(*a, 1, nv::AcquireAction::acquire, 1, 0x77), 0);
    raw.opcode = 0x11;
    raw.cdw[0] = 0x0000;  // RTYPE 0
    raw.data_out = hex_key(0x77);
    EXPECT_EQ(a->execute_nvme(raw, 3000)->status, 0x4002);
    auto b = connect(s.path(), nvme_hello(2));
    ASSERT_TRUE(b);
    EXPECT_EQ(reg(*b, 1, 0, 0x88), 0);
    raw.opcode = 0x15;
    raw.cdw[0] = 0x0900;  // Release, RTYPE 9
    raw.data_out = Bytes(8, 0);
    raw.data_out[0] = 0x88;
    EXPECT_EQ(b->execute_nvme(raw, 3000)->status, 0);
    raw.data_out[0] = 0x77;
    EXPECT_EQ(a->execute_nvme(raw, 3000)->status, kConflictCmd);  // the holder, wrong type
    EXPECT_EQ(report(*b, 1).rtype, 1);
    // Unknown namespace, unknown opcode.
    EXPECT_EQ(reg(*a, 9, 0, 1), 0x400b);
    proto::NvmeCommand odd;
    odd.opcode = 0x7f;
    odd.nsid = 1;
    EXPECT_EQ(a->execute_nvme(odd, 3000)->status, 0x4001);
    odd.queue = proto::NvmeQueue::admin;
    odd.opcode = 0x55;
    EXPECT_EQ(a->execute_nvme(odd, 3000)->status, 0x4001);
}

TEST(PrsimNvme, IdentifyAndFeatures) {
    TempDir d;
    ServerConfig cfg = config(d);
    cfg.nvme.subnqn = "nqn.2026-12.io.prfence:test-subsys";
    cfg.nvme.blocks = 4096;
    cfg.nvme.block_size = 4096;
    Running s(std::move(cfg));
    ASSERT_TRUE(s.ok());
    auto a = connect(s.path(), nvme_hello(1));
    ASSERT_TRUE(a);
    auto ctrl = run(*a, nv::identify_ctrl());
    ASSERT_EQ(ctrl.status, 0);
    auto ic = nv::parse_identify_ctrl(ctrl.data_in);
    ASSERT_TRUE(ic.ok());
    EXPECT_EQ(ic->cntlid, a->info().cntlid);
    EXPECT_EQ(ic->subnqn, "nqn.2026-12.io.prfence:test-subsys");
    EXPECT_TRUE(ic->ctratt & nv::kCtrattHostId128);
    auto nsr = run(*a, *nv::identify_ns(2));
    ASSERT_EQ(nsr.status, 0);
    auto in = nv::parse_identify_ns(nsr.data_in);
    ASSERT_TRUE(in.ok());
    EXPECT_EQ(in->nsze, 4096u);
    EXPECT_EQ(in->lba_size, 4096u);
    EXPECT_EQ(in->rescap, 0xfe);
    const auto caps = nv::reservation_caps(*ic, *in);
    EXPECT_TRUE(caps.supported);
    EXPECT_TRUE(caps.host_id_128);
    // The NGUID and EUI-64 are derived from the NSID.
    const auto g = nvme_nguid(2);
    EXPECT_TRUE(std::equal(g.begin(), g.end(), nsr.data_in.begin() + 104));
    EXPECT_EQ(run(*a, *nv::identify_ns(3)).status, 0x400b);

    auto hid = run(*a, nv::get_host_id_cmd(true));
    EXPECT_EQ(hid.status, 0);
    const auto id1 = host(1).hostid;
    EXPECT_EQ(hid.data_in, Bytes(id1.begin(), id1.end()));
    EXPECT_EQ(run(*a, nv::get_host_id_cmd(false)).status, 0x4002);
    proto::NvmeCommand set;
    set.queue = proto::NvmeQueue::admin;
    set.opcode = nv::admin::set_features;
    set.cdw[0] = nv::kFeatHostId;
    set.data_out.assign(16, 1);
    EXPECT_EQ(a->execute_nvme(set, 3000)->status, 0x400c);  // Command Sequence Error
    set.data_out.clear();
    set.cdw[0] = nv::kFeatResvMask;
    set.cdw[1] = kMaskReservationReleased;
    set.nsid = 1;
    EXPECT_EQ(a->execute_nvme(set, 3000)->status, 0);
    set.cdw[1] = 1;  // bit 0 is not a notification type
    EXPECT_EQ(a->execute_nvme(set, 3000)->status & 0x7ff, 0x002);
    proto::NvmeCommand get = set;
    get.opcode = nv::admin::get_features;
    get.cdw[1] = 0;
    auto mask = a->execute_nvme(get, 3000);
    ASSERT_TRUE(mask.ok());
    EXPECT_EQ(mask->status, 0);
    EXPECT_EQ(mask->result, kMaskReservationReleased);
}

TEST(PrsimNvme, AbortFrameAndHeldCommands) {
    TempDir d;
    ServerConfig cfg = config(d);
    cfg.faults.push_back(*parse_fault("lost_path,class=write,luns=1"));
    Running s(std::move(cfg));
    ASSERT_TRUE(s.ok());
    auto a = connect(s.path(), nvme_hello(1));
    ASSERT_TRUE(a);
    auto t = a->submit_nvme(rw(0x01, 2, 0, 1));
    ASSERT_TRUE(t.ok());
    EXPECT_FALSE(a->wait_nvme(*t, 200).ok());  // never answered
    // The same tag again is a duplicate while it waits.
    Bytes dup;
    ASSERT_TRUE(proto::append_nvme_command(dup, *t, rw(0x01, 1, 0, 1)).ok());
    ASSERT_TRUE(a->send_raw(dup).ok());
    auto rej = a->wait_nvme(*t, 1000);
    ASSERT_FALSE(rej.ok());
    EXPECT_NE(rej.error().msg.find("duplicate_tag"), std::string::npos) << rej.error().msg;
    ASSERT_TRUE(a->abort(*t).ok());
    auto ab = a->wait_nvme(*t, 1000);
    ASSERT_TRUE(ab.ok()) << ab.error().msg;
    EXPECT_EQ(ab->status, kAbortRequested);
    EXPECT_EQ(ab->flags, proto::kRespAbortedByClient);
    // Namespace 1 is not selected by the fault.
    auto ok = a->execute_nvme(rw(0x01, 1, 0, 1), 1000);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->status, 0);
}

TEST(PrsimNvme, HostileFrames) {
    TempDir d;
    Running s(config(d));
    ASSERT_TRUE(s.ok());
    {  // A version-1 connection sending an NVMe frame: a clear fatal error.
        auto v1 = connect(s.path(), proto::make_hello("iqn.2001-05.com.example:old", 1));
        ASSERT_TRUE(v1);
        Bytes f;
        ASSERT_TRUE(proto::append_nvme_command(f, 1, rw(0x02, 1, 0, 1), proto::kVersion1).ok());
        ASSERT_TRUE(v1->send_raw(f).ok());
        EXPECT_FALSE(v1->wait_nvme(1, 2000).ok());
        ASSERT_TRUE(v1->fatal_error().has_value());
        EXPECT_EQ(v1->fatal_error()->code, static_cast<uint16_t>(proto::ErrorCode::unknown_type));
        EXPECT_NE(v1->fatal_error()->message.find("version 2"), std::string::npos);
    }
    {  // An NVMe HELLO offering only version 1.
        Bytes f;
        proto::Hello h = nvme_hello(1);
        ASSERT_TRUE(proto::append_hello(f, h).ok());
        f[proto::kHeaderSize + 1] = 1;  // max_version
        auto raw = SimClient::connect_raw(s.path(), 3000);
        ASSERT_TRUE(raw.ok());
        ASSERT_TRUE((*raw)->send_raw(f).ok());
        EXPECT_FALSE((*raw)->wait(1, 2000).ok());
        ASSERT_TRUE((*raw)->fatal_error().has_value());
        EXPECT_EQ((*raw)->fatal_error()->code, static_cast<uint16_t>(proto::ErrorCode::bad_hello));
    }
    {  // A payload whose data-out length disagrees: bad_length, fatal.
        auto a = connect(s.path(), nvme_hello(1));
        ASSERT_TRUE(a);
        Bytes f;
        ASSERT_TRUE(proto::append_nvme_command(f, 5, rw(0x01, 1, 0, 1)).ok());
        f[16 + 39] ^= 0x01;  // the data-out length field's last byte
        ASSERT_TRUE(a->send_raw(f).ok());
        EXPECT_FALSE(a->wait_nvme(5, 2000).ok());
        ASSERT_TRUE(a->fatal_error().has_value());
        EXPECT_EQ(a->fatal_error()->code, static_cast<uint16_t>(proto::ErrorCode::bad_length));
    }
    {  // Bad queue, flags, data-in length: that command only is rejected.
        auto a = connect(s.path(), nvme_hello(1));
        ASSERT_TRUE(a);
        Bytes f;
        ASSERT_TRUE(proto::append_nvme_command(f, 7, rw(0x02, 1, 0, 1)).ok());
        f[16] = 3;  // queue
        ASSERT_TRUE(a->send_raw(f).ok());
        auto r = a->wait_nvme(7, 2000);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().msg.find("bad_nvme_command"), std::string::npos);
        f[16] = 1;
        f[18] = 1;  // flags
        ASSERT_TRUE(a->send_raw(f).ok());
        r = a->wait_nvme(7, 2000);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().msg.find("flags"), std::string::npos);
        EXPECT_EQ(reg(*a, 1, 0, 5), 0);  // the connection lives on
    }
    {  // Commands a connection has no identity for.
        auto scsi_only = connect(s.path(), [] {
            auto h = proto::make_hello("iqn.2001-05.com.example:scsi", 1);
            h.max_version = proto::kVersion2;
            return h;
        }());
        ASSERT_TRUE(scsi_only);
        EXPECT_EQ(scsi_only->info().cntlid, 0xffff);
        auto r = scsi_only->execute_nvme(rw(0x02, 1, 0, 1), 2000);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().msg.find("wrong_transport"), std::string::npos);
        auto nvme_only = connect(s.path(), nvme_hello(3, false));
        ASSERT_TRUE(nvme_only);
        const auto inq = wire::inquiry_cdb(false, 0, 96);
        auto sr = nvme_only->execute(0, inq.bytes(), {}, 96, 2000);
        ASSERT_FALSE(sr.ok());
        EXPECT_NE(sr.error().msg.find("wrong_transport"), std::string::npos);
    }
}

TEST(PrsimNvme, FarmWithoutNamespacesRefusesNvmeCommands) {
    TempDir d;
    Running s(config(d, 0));
    ASSERT_TRUE(s.ok());
    auto a = connect(s.path(), nvme_hello(1));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->info().namespace_count, 0u);
    auto r = a->execute_nvme(rw(0x02, 1, 0, 1), 2000);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().msg.find("no NVMe namespaces"), std::string::npos) << r.error().msg;
}

TEST(PrsimNvme, Configuration) {
    ServerConfig cfg;
    cfg.socket_path = "/tmp/unused.sock";
    cfg.luns = 1;
    ASSERT_TRUE(apply_config_json(json::parse(R"({"nvme": {"namespaces": 3, "subnqn": "nqn.a:b",
        "block_size": 4096, "blocks": 100, "profile": "spdk"}})"),
                                  cfg)
                    .ok());
    EXPECT_EQ(cfg.nvme.namespaces, 3u);
    EXPECT_EQ(cfg.nvme.subnqn, "nqn.a:b");
    EXPECT_EQ(cfg.nvme.block_size, 4096u);
    EXPECT_EQ(cfg.nvme.blocks, 100u);
    EXPECT_TRUE(validate_config(cfg).ok());
    auto refused = [&](const char* text, const char* why) {
        ServerConfig c = cfg;
        auto st = apply_config_json(json::parse(text), c);
        if (st) st = validate_config(c);
        ASSERT_FALSE(st.ok()) << text;
        EXPECT_NE(st.error().msg.find(why), std::string::npos) << st.error().msg;
    };
    refused(R"({"nvme": {"namespaces": 2000}})", "above 1024");
    refused(R"({"nvme": {"block_size": 1000}})", "power of two");
    refused(R"({"nvme": {"blocks": 0}})", "at least 1");
    refused(R"({"nvme": {"profile": "lio"}})", "nvmet or spdk");
    refused(R"({"nvme": {"subnqn": ""}})", "1-223 printable");
    refused(R"({"nvme": {"colour": 1}})", "unknown nvme setting");
    refused(R"({"nvme": 3})", "must be an object");
}

// The notification log is the controller's, as nvmet's: A's entries from both namespaces come
// through Get Log Page in order, each naming its NSID, whatever NSID the Get Log Page names; past
// 64 entries they are lost and counted, and dmesg has nvmet's line for each lost one.
TEST(PrsimNvme, NotificationLogIsPerControllerAcrossNamespaces) {
    TempDir d;
    ServerConfig cfg = config(d);
    cfg.trace.dmesg_path = (d.path / "dmesg").string();
    cfg.trace_clock = [] { return int64_t{1234567890123}; };
    Running s(std::move(cfg));
    ASSERT_TRUE(s.ok());
    auto a = connect(s.path(), nvme_hello(1));
    auto b = connect(s.path(), nvme_hello(2));
    ASSERT_TRUE(a && b);
    auto fence_a = [&](uint32_t nsid) {  // A registers, B preempts it: one entry for A's log
        EXPECT_EQ(reg(*a, nsid, 0, 0xaaaa), 0);
        EXPECT_EQ(acquire(*b, nsid, nv::AcquireAction::preempt, 1, 0xbbbb, 0xaaaa), 0);
    };
    auto take = [&](uint32_t nsid) {
        nv::Command cmd = nv::reservation_log_cmd();
        cmd.nsid = nsid;
        auto r = run(*a, cmd);
        EXPECT_EQ(r.status, 0);
        auto e = nv::parse_reservation_log(r.data_in);
        EXPECT_TRUE(e.ok());
        return e.ok() ? *e : nv::ReservationLog{};
    };
    EXPECT_EQ(reg(*b, 1, 0, 0xbbbb), 0);
    EXPECT_EQ(reg(*b, 2, 0, 0xbbbb), 0);
    fence_a(1);
    fence_a(2);
    auto e1 = take(2);  // read through namespace 2: namespace 1's entry comes first
    EXPECT_EQ(e1.nsid, 1u);
    EXPECT_EQ(e1.count, 1u);
    EXPECT_EQ(e1.type, static_cast<uint8_t>(nv::LogType::registration_preempted));
    EXPECT_EQ(e1.available, 1);
    auto e2 = take(1);
    EXPECT_EQ(e2.nsid, 2u);
    EXPECT_EQ(e2.count, 2u);
    EXPECT_EQ(e2.available, 0);
    EXPECT_EQ(take(nv::kNsidAll).type, 0);

    for (int i = 0; i < 66; ++i) fence_a(i % 2 ? 2 : 1);  // counts 3..68: 65 and later lost
    std::vector<nv::ReservationLog> got;
    for (int i = 0; i < 70; ++i) {
        auto e = take(1);
        if (e.type == 0) break;
        got.push_back(e);
    }
    ASSERT_EQ(got.size(), 64u);
    EXPECT_EQ(got.front().count, 3u);
    EXPECT_EQ(got.front().nsid, 1u);
    EXPECT_EQ(got.front().available, 63);
    EXPECT_EQ(got[1].nsid, 2u);
    EXPECT_EQ(got.back().count, 68u);  // 66 itself, carrying the count of the last lost (68)
    EXPECT_EQ(got.back().nsid, 2u);
    s.stop();
    std::ifstream in(d.path / "dmesg");
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(),
              "[ 1234.567890] nvmet: a reservation log lost, cntlid:1, log_type:1, nsid:1\n"
              "[ 1234.567890] nvmet: a reservation log lost, cntlid:1, log_type:1, nsid:2\n");
}

TEST(PrsimNvme, TraceLinesInTheKernelsFormat) {
    TempDir d;
    ServerConfig cfg = config(d);
    cfg.trace.path = (d.path / "trace").string();
    cfg.trace.style.pid = 77;
    cfg.trace.style.kernel = {6, 12};
    cfg.trace.cpu = 1;
    cfg.trace_clock = [] { return int64_t{1234567890123}; };
    Running s(std::move(cfg));
    ASSERT_TRUE(s.ok());
    auto a = connect(s.path(), nvme_hello(1));
    auto b = connect(s.path(), nvme_hello(2));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(reg(*a, 1, 0, 0xaaaa), 0);
    EXPECT_EQ(acquire(*a, 1, nv::AcquireAction::acquire, 1, 0xaaaa), 0);
    auto w = b->execute_nvme(rw(0x01, 1, 16, 8), 3000);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->status, kConflictIo);
    s.stop();
    std::ifstream in(d.path / "trace");
    std::stringstream text;
    text << in.rdbuf();
    const std::string pre = "           prsim-77      [001] .....  1234.567890: ";
    const std::string want =
        pre +
        "nvme_setup_cmd: nvme0: disk=nvme0n1, qid=1, cmdid=0, nsid=1, flags=0x0, meta=0x0, "
        "cmd=(nvme_cmd_resv_register rrega=0:register, iekey=0, ptpl=0)\n" +
        pre +
        "nvme_complete_rq: nvme0: disk=nvme0n1, qid=1, cmdid=0, res=0, retries=0, flags=0x0, "
        "status=0\n" +
        pre +
        "nvme_setup_cmd: nvme0: disk=nvme0n1, qid=1, cmdid=0, nsid=1, flags=0x0, meta=0x0, "
        "cmd=(nvme_cmd_resv_acquire racqa=0:acquire, iekey=0, rtype=1:write exclusive)\n" +
        pre +
        "nvme_complete_rq: nvme0: disk=nvme0n1, qid=1, cmdid=0, res=0, retries=0, flags=0x0, "
        "status=0\n" +
        pre +
        "nvme_setup_cmd: nvme1: disk=nvme1n1, qid=1, cmdid=0, nsid=1, flags=0x0, meta=0x0, "
        "cmd=(nvme_cmd_write slba=16, len=7, ctrl=0x0, dsmgmt=0, reftag=0)\n" +
        pre +
        "nvme_complete_rq: nvme1: disk=nvme1n1, qid=1, cmdid=0, res=0, retries=0, flags=0x0, "
        "status=0x6083\n" +
        "[ 1234.567890] nvme1n1: I/O Cmd(0x1) @ LBA 16, 8 blocks, I/O Error (sct 0x0 / sc 0x83) "
        "MORE DNR \n"
        "[ 1234.567890] reservation conflict error, dev nvme1n1, sector 16 op 0x1:(WRITE) flags "
        "0x8800 "
        "phys_seg 1 prio class 2\n";
    EXPECT_EQ(text.str(), want);
}

}  // namespace
}  // namespace prfence::sim
