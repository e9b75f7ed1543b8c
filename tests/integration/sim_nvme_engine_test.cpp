// SPDX-License-Identifier: MIT
// The engine on prsim's NVMe namespaces (protocol version 2), the daemon in-process on a temporary
// socket: every operation through a Session as prfence runs it, from two hosts; SCSI LUs and
// namespaces in one batch; the SCSI features NVMe refuses; two connections of one host sharing one
// registration; the NVMe host identity prfence derives; and the errors an operator meets (a
// namespace the farm does not have, a prsim without namespaces, a prsim of protocol version 1).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "interposer/prsim/config.h"
#include "interposer/prsim/server.h"
#include "uring_engine/common/unique_fd.h"
#include "uring_engine/devices/resolve.h"
#include "uring_engine/policy/operations.h"
#include "uring_engine/policy/plans.h"
#include "uring_engine/session/path_set.h"
#include "uring_engine/session/session.h"
#include "uring_engine/simproto/names.h"
#include "uring_engine/simproto/protocol.h"

namespace prfence::engine {
namespace {

namespace fs = std::filesystem;
namespace proto = sim::proto;

const char* kNodeA = "iqn.2026-11.io.prfence:node-a,i,0x23d000001";
const char* kNodeB = "iqn.2026-11.io.prfence:node-b,i,0x23d000002";

std::string temp_socket(const char* what) {
    static std::atomic<int> counter{0};
    return (fs::temp_directory_path() /
            ("prfence-simnvme-" + std::string(what) + "-" + std::to_string(getpid()) + "-" +
             std::to_string(counter++) + ".sock"))
        .string();
}

// A prsim farm with `luns` LUs and `namespaces` NVMe namespaces.
class Farm {
  public:
    Farm(uint32_t luns, uint32_t namespaces) : socket(temp_socket("farm")) {
        sim::ServerConfig cfg;
        cfg.socket_path = socket;
        cfg.luns = luns;
        cfg.nvme.namespaces = namespaces;
        auto s = sim::Server::create(std::move(cfg));
        if (!s.ok()) {
            ADD_FAILURE() << s.error().msg;
            return;
        }
        server = std::move(s).value();
        thread = std::thread([this] { (void)server->run(); });
    }
    ~Farm() {
        if (server) server->stop();
        if (thread.joinable()) thread.join();
        fs::remove(socket);
    }
    std::string arg(const char* list) const { return "sim:" + socket + ":" + list; }

    std::string socket;
    std::unique_ptr<sim::Server> server;
    std::thread thread;
};

// One prfence run: resolve, open a Session as `initiator`, run the operation on every LU.
struct Batch {
    std::vector<LunOutcome> outcomes;
    BatchSummary summary;
    std::vector<Session::Lun> luns;
};
Batch run_op(const std::vector<std::string>& args, const char* initiator, const OpSpec& spec,
             const std::string& hostnqn = {}, const std::string& hostid = {}) {
    Batch r;
    auto specs = resolve_devices(args);
    EXPECT_TRUE(specs.ok()) << specs.error().msg;
    if (!specs) return r;
    SessionOptions so;
    so.initiator = initiator ? initiator : "";
    so.hostnqn = hostnqn;
    so.hostid = hostid;
    so.exec.batch_deadline = std::chrono::milliseconds(10000);
    auto session = Session::open(*specs, so);
    EXPECT_TRUE(session.ok()) << session.error().msg;
    if (!session) return r;
    auto maker = make_operation(spec);
    EXPECT_TRUE(maker.ok()) << maker.error().msg;
    if (!maker) return r;
    auto rep = (*session)->run([&](size_t) { return (*maker)(); });
    EXPECT_TRUE(rep.ok());
    if (!rep) return r;
    r.outcomes = std::move(rep->outcomes);
    r.summary = rep->summary;
    r.luns = (*session)->luns();
    return r;
}

OpSpec op(Operation o, std::optional<uint64_t> key = std::nullopt,
          std::optional<uint64_t> sa_key = std::nullopt) {
    OpSpec s;
    s.op = o;
    s.key = key;
    s.sa_key = sa_key;
    s.timeout_ms = 5000;
    return s;
}

std::string hex(const wire::nvme::HostId& id) { return shim::uuid_text(id); }

// The host identifier prfence speaks as when given only --initiator.
std::string derived_hostid(const char* initiator) {
    auto h = sim_nvme_host(initiator, "", "");
    EXPECT_TRUE(h.ok());
    return h ? hex(h->hostid) : std::string();
}

bool all_ok(const Batch& r, size_t n) {
    EXPECT_EQ(r.outcomes.size(), n);
    bool ok = r.outcomes.size() == n;
    for (const auto& o : r.outcomes) {
        EXPECT_TRUE(o.ok) << o.device << ": " << o.error;
        ok = ok && o.ok;
    }
    return ok;
}

TEST(SimNvmeEngine, EveryStepOnNamespacesFromTwoHosts) {
    Farm farm(1, 4);
    ASSERT_TRUE(farm.server);
    const std::vector<std::string> ns{farm.arg("ns1-4")};
    ASSERT_TRUE(all_ok(run_op(ns, kNodeA, op(Operation::register_key, 0xa)), 4));
    auto reserve = op(Operation::reserve, 0xa);
    reserve.type = wire::PrType::write_exclusive_registrants_only;
    ASSERT_TRUE(all_ok(run_op(ns, kNodeA, reserve), 4));
    ASSERT_TRUE(all_ok(run_op(ns, kNodeB, op(Operation::register_key, 0xb)), 4));

    Batch keys = run_op(ns, kNodeB, op(Operation::read_keys));
    ASSERT_TRUE(all_ok(keys, 4));
    for (const auto& o : keys.outcomes) {
        ASSERT_TRUE(o.keys);
        EXPECT_EQ(o.keys->keys, (std::vector<uint64_t>{0xa, 0xb})) << o.device;
        EXPECT_EQ(o.nvme_status, 0);
        ASSERT_TRUE(o.nvme_report) << o.device;
        EXPECT_EQ(o.nvme_report->registrants.size(), 2u);
    }
    EXPECT_EQ(keys.outcomes[2].device, "sim:" + farm.socket + ":ns3");

    // READ FULL STATUS (prfence status): the registrants are hosts, by host identifier.
    Batch status = run_op(ns, kNodeA, op(Operation::read_full_status));
    ASSERT_TRUE(all_ok(status, 4));
    for (const auto& o : status.outcomes) {
        ASSERT_TRUE(o.nvme_report);
        std::map<uint64_t, std::pair<std::string, bool>> by_key;
        for (const auto& g : o.nvme_report->registrants) by_key[g.key] = {hex(g.hostid), g.holds};
        EXPECT_EQ(by_key[0xa], std::make_pair(derived_hostid(kNodeA), true));
        EXPECT_EQ(by_key[0xb], std::make_pair(derived_hostid(kNodeB), false));
    }

    // B fences A: Report, Acquire with Preempt and Abort, Report.
    auto fence = op(Operation::fence, 0xb, 0xa);
    Batch fenced = run_op(ns, kNodeB, fence);
    ASSERT_TRUE(all_ok(fenced, 4));
    EXPECT_EQ(fenced.summary.commands, 12u);
    for (const auto& o : fenced.outcomes) {
        ASSERT_TRUE(o.reservation);
        EXPECT_EQ(o.reservation->key, 0xbu);
        ASSERT_TRUE(o.nvme_report);
        ASSERT_EQ(o.nvme_report->registrants.size(), 1u);
        EXPECT_EQ(hex(o.nvme_report->registrants[0].hostid), derived_hostid(kNodeB));
        EXPECT_TRUE(o.nvme_report->registrants[0].holds);
    }
    // The fenced host is refused what needs a registration: a conflict, exit code 24's category.
    Batch refused = run_op(ns, kNodeA, reserve);
    ASSERT_EQ(refused.outcomes.size(), 4u);
    for (const auto& o : refused.outcomes) {
        EXPECT_FALSE(o.ok);
        EXPECT_EQ(o.category, wire::Category::reservation_conflict) << o.error;
    }
    // Release and unregister leave the namespaces empty.
    auto release = op(Operation::release, 0xb);
    release.type = wire::PrType::write_exclusive_registrants_only;
    ASSERT_TRUE(all_ok(run_op(ns, kNodeB, release), 4));
    ASSERT_TRUE(all_ok(run_op(ns, kNodeB, op(Operation::unregister, 0xb)), 4));
    Batch empty = run_op(ns, kNodeA, op(Operation::read_keys));
    ASSERT_TRUE(all_ok(empty, 4));
    for (const auto& o : empty.outcomes) EXPECT_TRUE(o.keys && o.keys->keys.empty());
}

// REGISTER AND IGNORE EXISTING KEY is Replace with IEKEY, and Register when that meets a
// Reservation Conflict (the host is not registered): two commands on one tag, one answer.
TEST(SimNvmeEngine, RegisterIgnoringExistingKeyFallsBackOnConflict) {
    Farm farm(1, 2);
    ASSERT_TRUE(farm.server);
    const std::vector<std::string> ns{farm.arg("ns1-2")};
    auto reg = op(Operation::register_key, 0xa);
    reg.ignore_existing = true;
    Batch first = run_op(ns, kNodeA, reg);
    ASSERT_TRUE(all_ok(first, 2));
    EXPECT_EQ(first.summary.commands, 2u);  // the fallback is the same command to the executor
    Batch keys = run_op(ns, kNodeB, op(Operation::read_keys));
    ASSERT_TRUE(all_ok(keys, 2));
    for (const auto& o : keys.outcomes) EXPECT_EQ(o.keys->keys, std::vector<uint64_t>{0xa});
    // Registered now: the Replace itself succeeds, the key changes.
    reg.key = 0xc;
    ASSERT_TRUE(all_ok(run_op(ns, kNodeA, reg), 2));
    keys = run_op(ns, kNodeB, op(Operation::read_keys));
    ASSERT_TRUE(all_ok(keys, 2));
    for (const auto& o : keys.outcomes) EXPECT_EQ(o.keys->keys, std::vector<uint64_t>{0xc});
    // fence --claim registers that way too, then preempts.
    auto claim = op(Operation::fence, 0xb, 0xc);
    claim.claim = true;
    Batch fenced = run_op(ns, kNodeB, claim);
    ASSERT_TRUE(all_ok(fenced, 2));
    for (const auto& o : fenced.outcomes) {
        ASSERT_TRUE(o.nvme_report);
        ASSERT_EQ(o.nvme_report->registrants.size(), 1u);
        EXPECT_EQ(o.nvme_report->registrants[0].key, 0xbu);
    }
}

TEST(SimNvmeEngine, MixedBatchOfLusAndNamespaces) {
    Farm farm(3, 3);
    ASSERT_TRUE(farm.server);
    const std::vector<std::string> mixed{farm.arg("0-1,ns1-2"), farm.arg("ns3,2")};
    auto specs = resolve_devices(mixed);
    ASSERT_TRUE(specs.ok()) << specs.error().msg;
    std::vector<std::string> wwids;
    for (const auto& s : *specs) wwids.push_back(s.wwid);
    const std::string p = "sim:" + farm.socket + ":";
    EXPECT_EQ(wwids, (std::vector<std::string>{p + "0", p + "1", p + "ns1", p + "ns2", p + "ns3",
                                               p + "2"}));

    ASSERT_TRUE(all_ok(run_op(mixed, kNodeA, op(Operation::register_key, 0xa)), 6));
    auto reserve = op(Operation::reserve, 0xa);
    reserve.type = wire::PrType::write_exclusive_registrants_only;
    ASSERT_TRUE(all_ok(run_op(mixed, kNodeA, reserve), 6));
    ASSERT_TRUE(all_ok(run_op(mixed, kNodeB, op(Operation::register_key, 0xb)), 6));
    Batch fenced = run_op(mixed, kNodeB, op(Operation::fence, 0xb, 0xa));
    ASSERT_TRUE(all_ok(fenced, 6));
    for (const auto& o : fenced.outcomes) {
        ASSERT_TRUE(o.reservation) << o.device;
        EXPECT_EQ(o.reservation->key, 0xbu) << o.device;
        const bool is_ns = o.device.find(":ns") != std::string::npos;
        EXPECT_EQ(o.nvme_report.has_value(), is_ns) << o.device;
    }
    // One connection carried both kinds (one HELLO with the NVMe host).
    EXPECT_EQ(farm.server->stats().connections_accepted, 4u);
}

TEST(SimNvmeEngine, ScsiFeaturesWithoutNvmeTwinAreRefused) {
    Farm farm(1, 2);
    ASSERT_TRUE(farm.server);
    const std::vector<std::string> args{farm.arg("0,ns1")};
    ASSERT_TRUE(all_ok(run_op(args, kNodeA, op(Operation::register_key, 0xa)), 2));

    auto all_tg = op(Operation::register_key, 0xc, std::nullopt);
    all_tg.old_key = 0xa;
    all_tg.all_tg_pt = true;
    Batch r = run_op(args, kNodeA, all_tg);
    ASSERT_EQ(r.outcomes.size(), 2u);
    EXPECT_TRUE(r.outcomes[0].ok) << r.outcomes[0].error;  // the LU: one path, ALL_TG_PT unneeded
    EXPECT_FALSE(r.outcomes[1].ok);
    EXPECT_EQ(r.outcomes[1].category, wire::Category::illegal_request);
    EXPECT_NE(r.outcomes[1].error.find("ALL_TG_PT has no NVMe equivalent"), std::string::npos)
        << r.outcomes[1].error;

    auto move = op(Operation::move, 0xa, 0xd);
    move.type = wire::PrType::write_exclusive;
    move.rel_port = 2;
    move.transport_ids.push_back(*wire::parse_transport_id(kNodeB));
    Batch m = run_op({farm.arg("ns1")}, kNodeA, move);
    ASSERT_EQ(m.outcomes.size(), 1u);
    EXPECT_FALSE(m.outcomes[0].ok);
    EXPECT_EQ(m.outcomes[0].category, wire::Category::illegal_request);
    EXPECT_NE(m.outcomes[0].error.find("REGISTER AND MOVE has no NVMe equivalent"),
              std::string::npos)
        << m.outcomes[0].error;
    // Nothing was sent for either: the namespace still has A's first key only.
    Batch keys = run_op({farm.arg("ns1")}, kNodeA, op(Operation::read_keys));
    ASSERT_TRUE(all_ok(keys, 1));
    EXPECT_EQ(keys.outcomes[0].keys->keys, std::vector<uint64_t>{0xa});
}

// Two connections of one host (two SCSI nexuses, one NVMe host) reach a namespace as two paths of
// one LU: they are one registration scope, so REGISTER goes once and the target counts one
// registrant. Two hosts are two scopes.
TEST(SimNvmeEngine, TwoConnectionsOfOneHostRegisterOnce) {
    Farm farm(1, 2);
    ASSERT_TRUE(farm.server);
    auto host = sim_nvme_host(kNodeA, "", "");
    ASSERT_TRUE(host.ok());
    auto set = std::move(PathSet::create()).value();
    PathSpec ns1;
    ns1.kind = PathSpec::Kind::sim;
    ns1.sim_socket = farm.socket;
    ns1.nsid = 1;
    Nexus port1{kNodeA, 1, *host}, port2{kNodeA, 2, *host};
    Path* a = std::move(set->open(ns1, port1)).value();
    Path* b = std::move(set->open(ns1, port2)).value();
    EXPECT_EQ(set->connections(), 2u);
    EXPECT_EQ(a->name(), "sim:" + farm.socket + ":ns1");
    EXPECT_EQ(a->registration_scope(), "nvme-host:" + hex(host->hostid));
    EXPECT_EQ(a->registration_scope(), b->registration_scope());

    std::vector<LunTarget> luns{{"ns1", {a, b}}};
    auto run = [&](const OpSpec& s) {
        auto maker = make_operation(s);
        EXPECT_TRUE(maker.ok());
        auto jobs = jobs_for(1, [&] { return (*maker)(); });
        auto sum = set->executor().run(luns, jobs);
        EXPECT_TRUE(sum.ok());
        return std::make_pair(sum ? *sum : BatchSummary{}, jobs[0]->outcome());
    };
    auto [reg, reg_o] = run(op(Operation::register_key, 0xa));
    EXPECT_TRUE(reg_o.ok) << reg_o.error;
    EXPECT_EQ(reg.commands, 1u);
    auto [keys, keys_o] = run(op(Operation::read_keys));
    ASSERT_TRUE(keys_o.keys);
    EXPECT_EQ(keys_o.keys->keys, std::vector<uint64_t>{0xa});
    auto [unreg, unreg_o] = run(op(Operation::unregister, 0xa));
    EXPECT_TRUE(unreg_o.ok) << unreg_o.error;  // a second Unregister would be a conflict
    EXPECT_EQ(unreg.commands, 1u);

    // Another host through the same nexus name is a connection and a scope of its own.
    auto other = sim_nvme_host(kNodeB, "", "");
    ASSERT_TRUE(other.ok());
    Path* c = std::move(set->open(ns1, Nexus{kNodeA, 1, *other})).value();
    EXPECT_EQ(set->connections(), 3u);
    EXPECT_NE(c->registration_scope(), a->registration_scope());
    luns = {{"ns1", {a, c}}};
    auto [reg2, reg2_o] = run(op(Operation::register_key, 0xa));
    EXPECT_TRUE(reg2_o.ok) << reg2_o.error;
    EXPECT_EQ(reg2.commands, 2u);
    auto [keys2, keys2_o] = run(op(Operation::read_keys));
    ASSERT_TRUE(keys2_o.keys);
    EXPECT_EQ(keys2_o.keys->keys, (std::vector<uint64_t>{0xa, 0xa}));
}

TEST(SimNvmeEngine, HostIdentity) {
    // Derived from the initiator: stable, different per node, an NQN made of the identifier.
    auto a1 = sim_nvme_host(kNodeA, "", ""), a2 = sim_nvme_host(kNodeA, "", "");
    auto b = sim_nvme_host(kNodeB, "", "");
    ASSERT_TRUE(a1.ok() && a2.ok() && b.ok());
    EXPECT_EQ(*a1, *a2);
    EXPECT_NE(a1->hostid, b->hostid);
    EXPECT_EQ(a1->hostnqn, "nqn.2014-08.org.nvmexpress:uuid:" + hex(a1->hostid));
    // An NQN ending in a UUID gives the identifier; another NQN is hashed (as prsim-run does).
    auto u = sim_nvme_host(
        kNodeA, "nqn.2014-08.org.nvmexpress:uuid:0123abcd-0000-4000-8000-00000000000a", "");
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(hex(u->hostid), "0123abcd-0000-4000-8000-00000000000a");
    auto q1 = sim_nvme_host("", "nqn.2026-12.io.example:node-a", "");
    auto q2 = sim_nvme_host(kNodeB, "nqn.2026-12.io.example:node-a", "");
    ASSERT_TRUE(q1.ok() && q2.ok());
    EXPECT_EQ(q1->hostid, q2->hostid);
    EXPECT_EQ(q1->hostnqn, "nqn.2026-12.io.example:node-a");
    // A host identifier alone: 32 hex digits, dashes anywhere, either case.
    auto id = sim_nvme_host("", "", "0123ABCD00004000-8000-00000000000A");
    ASSERT_TRUE(id.ok()) << id.error().msg;
    EXPECT_EQ(hex(id->hostid), "0123abcd-0000-4000-8000-00000000000a");
    EXPECT_EQ(id->hostnqn, "nqn.2014-08.org.nvmexpress:uuid:0123abcd-0000-4000-8000-00000000000a");
    // Refused, saying what a host identifier / NQN is.
    for (const char* bad :
         {"0123", "0123abcd-0000-4000-8000-00000000000a0", "xyz",
          "g123abcd-0000-4000-8000-00000000000a", "0123abcd 0000 4000 8000 00000000000a"}) {
        auto e = sim_nvme_host(kNodeA, "", bad);
        ASSERT_FALSE(e.ok()) << bad;
        EXPECT_NE(e.error().msg.find("32 hex digits"), std::string::npos) << e.error().msg;
    }
    EXPECT_FALSE(sim_nvme_host(kNodeA, std::string(224, 'q'), "").ok());
    EXPECT_FALSE(sim_nvme_host(kNodeA, "nqn.bad\tname", "").ok());
    auto none = sim_nvme_host("", "", "");
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().msg.find("--hostnqn"), std::string::npos);
}

TEST(SimNvmeEngine, GivenHostIdIsTheRegistrant) {
    Farm farm(1, 1);
    ASSERT_TRUE(farm.server);
    const std::vector<std::string> ns{farm.arg("ns1")};
    // No initiator at all: a connection with an NVMe host only.
    ASSERT_TRUE(all_ok(run_op(ns, nullptr, op(Operation::register_key, 0xa), "",
                              "0123abcd-0000-4000-8000-00000000000a"),
                       1));
    Batch st = run_op(ns, kNodeB, op(Operation::read_full_status));
    ASSERT_TRUE(all_ok(st, 1));
    ASSERT_TRUE(st.outcomes[0].nvme_report);
    ASSERT_EQ(st.outcomes[0].nvme_report->registrants.size(), 1u);
    EXPECT_EQ(hex(st.outcomes[0].nvme_report->registrants[0].hostid),
              "0123abcd-0000-4000-8000-00000000000a");
    // A bad identifier reaching the Session fails the namespace's open with the reason.
    Batch bad = run_op(ns, kNodeA, op(Operation::read_keys), "", "nothex");
    ASSERT_EQ(bad.outcomes.size(), 1u);
    EXPECT_FALSE(bad.outcomes[0].ok);
    EXPECT_NE(bad.outcomes[0].error.find("32 hex digits"), std::string::npos)
        << bad.outcomes[0].error;
}

TEST(SimNvmeEngine, NamespaceBeyondTheFarm) {
    Farm farm(1, 2);
    ASSERT_TRUE(farm.server);
    Batch r = run_op({farm.arg("ns2-3,0")}, kNodeA, op(Operation::read_keys));
    ASSERT_EQ(r.outcomes.size(), 3u);
    EXPECT_TRUE(r.outcomes[0].ok) << r.outcomes[0].error;
    EXPECT_TRUE(r.outcomes[2].ok) << r.outcomes[2].error;
    EXPECT_FALSE(r.outcomes[1].ok);
    EXPECT_EQ(r.outcomes[1].category, wire::Category::file_error);
    EXPECT_NE(r.outcomes[1].error.find("sim:" + farm.socket +
                                       ":ns3: namespace 3 does not exist (the farm has ns1-ns2)"),
              std::string::npos)
        << r.outcomes[1].error;
}

TEST(SimNvmeEngine, PrsimWithoutNamespaces) {
    Farm farm(2, 0);
    ASSERT_TRUE(farm.server);
    Batch r = run_op({farm.arg("0,ns1")}, kNodeA, op(Operation::read_keys));
    ASSERT_EQ(r.outcomes.size(), 2u);
    EXPECT_TRUE(r.outcomes[0].ok) << r.outcomes[0].error;
    EXPECT_FALSE(r.outcomes[1].ok);
    EXPECT_NE(r.outcomes[1].error.find("sim:" + farm.socket +
                                       ":ns1: prsim serves no NVMe namespaces (start it with "
                                       "--nvme-namespaces N)"),
              std::string::npos)
        << r.outcomes[1].error;
}

// A prsim of protocol version 1, as it answered before NVMe: a HELLO it cannot parse (one with an
// NVMe host) is a fatal bad_length; any other gets a version-1 HELLO_ACK. Serves `conns`
// connections, then stops.
class VersionOneServer {
  public:
    explicit VersionOneServer(int conns) : socket(temp_socket("v1")) {
        fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket.c_str());
        if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
            ::listen(fd_.get(), 8) != 0) {
            ADD_FAILURE() << "bind " << socket;
            return;
        }
        thread_ = std::thread([this, conns] {
            for (int i = 0; i < conns; ++i) serve_one();
        });
    }
    ~VersionOneServer() {
        ::shutdown(fd_.get(), SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        fs::remove(socket);
    }
    std::string socket;
    std::atomic<int> refused{0}, accepted{0};

  private:
    void serve_one() {
        UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (c.get() < 0) return;
        proto::FrameDecoder dec;
        uint8_t buf[4096];
        for (;;) {
            ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
            if (n <= 0) return;
            dec.feed(ByteView(buf, static_cast<size_t>(n)));
            auto f = dec.next();
            if (!f || !*f) continue;
            auto hello = proto::decode_hello((*f)->payload);
            Bytes out;
            if (!hello || hello->nvme_host) {
                proto::append_error(out, 0, proto::ErrorCode::bad_length, true, "bad HELLO length");
                ++refused;
            } else {
                proto::HelloAck ack;
                ack.version = proto::kVersion1;
                ack.lun_count = 2;
                ack.max_in_flight = 64;
                proto::append_hello_ack(out, ack);
                ++accepted;
            }
            (void)::send(c.get(), out.data(), out.size(), MSG_NOSIGNAL);
            if (!hello || hello->nvme_host) return;
            // Keep the connection until the client goes.
            while (::recv(c.get(), buf, sizeof buf, 0) > 0) {
            }
            return;
        }
    }
    UniqueFd fd_;
    std::thread thread_;
};

TEST(SimNvmeEngine, PrsimOfProtocolVersionOne) {
    {
        // LUNs and a namespace of one socket: the LUNs still open (asked again without the NVMe
        // host), the namespace says why it cannot.
        VersionOneServer v1(2);
        auto specs = resolve_devices({"sim:" + v1.socket + ":0,ns1"});
        ASSERT_TRUE(specs.ok());
        SessionOptions so;
        so.initiator = kNodeA;
        auto s = Session::open(*specs, so);
        ASSERT_TRUE(s.ok());
        const auto& luns = (*s)->luns();
        ASSERT_EQ(luns.size(), 2u);
        EXPECT_EQ(luns[0].target.paths.size(), 1u) << luns[0].open_error;
        EXPECT_TRUE(luns[1].target.paths.empty());
        EXPECT_NE(luns[1].open_error.find("sim:" + v1.socket + ":ns1: "), std::string::npos)
            << luns[1].open_error;
        EXPECT_NE(luns[1].open_error.find("protocol version 1"), std::string::npos)
            << luns[1].open_error;
        s->reset();
        EXPECT_EQ(v1.refused, 1);
        EXPECT_EQ(v1.accepted, 1);
    }
    {
        // Namespaces only, no initiator to fall back to: the socket's error says it.
        VersionOneServer v1(1);
        Batch r = run_op({"sim:" + v1.socket + ":ns1"}, nullptr, op(Operation::read_keys), "",
                         "0123abcd-0000-4000-8000-00000000000a");
        ASSERT_EQ(r.outcomes.size(), 1u);
        EXPECT_FALSE(r.outcomes[0].ok);
        EXPECT_NE(r.outcomes[0].error.find("sim:" + v1.socket), std::string::npos)
            << r.outcomes[0].error;
        EXPECT_NE(r.outcomes[0].error.find("protocol version 1"), std::string::npos)
            << r.outcomes[0].error;
    }
}

TEST(SimNvmeEngine, ResolutionOfNamespaceLists) {
    auto ok = resolve_devices({"sim:/s:ns1-ns3,ns2,0,ns5"});
    ASSERT_TRUE(ok.ok()) << ok.error().msg;
    std::vector<std::string> w;
    for (const auto& l : *ok) {
        w.push_back(l.wwid);
        ASSERT_EQ(l.paths.size(), 1u);
        EXPECT_EQ(l.paths[0].kind, PathSpec::Kind::sim);
    }
    EXPECT_EQ(w, (std::vector<std::string>{"sim:/s:ns1", "sim:/s:ns2", "sim:/s:ns3", "sim:/s:0",
                                           "sim:/s:ns5"}));
    EXPECT_EQ((*ok)[0].paths[0].nsid, 1u);
    EXPECT_EQ((*ok)[3].paths[0].nsid, 0u);
    EXPECT_EQ((*ok)[3].paths[0].sim_lun, 0u);
    for (const auto& [arg, msg] : std::vector<std::pair<std::string, std::string>>{
             {"sim:/s:ns0", "ns0 is not a namespace"},
             {"sim:/s:ns", "is not a namespace ID"},
             {"sim:/s:ns4-2", "range ns4-2 is reversed (write ns2-4)"},
             {"sim:/s:nsx", "'x' is not a namespace ID"},
             {"sim:/s:ns70000", "namespace 70000 is above 65535"},
             {"sim:/s:ns1-", "'ns1-' is not a namespace range"}}) {
        auto e = resolve_devices({arg});
        ASSERT_FALSE(e.ok()) << arg;
        EXPECT_NE(e.error().msg.find(msg), std::string::npos) << arg << ": " << e.error().msg;
    }
}

}  // namespace
}  // namespace prfence::engine
