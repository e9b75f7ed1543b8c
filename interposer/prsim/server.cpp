// SPDX-License-Identifier: MIT
#include "interposer/prsim/server.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <unordered_map>
#include <vector>

#include "interposer/prsim/control.h"
#include "interposer/prsim/nexus_registry.h"
#include "interposer/prsim/nvme_farm.h"
#include "interposer/prsim/task_set.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unix_listener.h"
#include "uring_engine/simproto/protocol.h"
#include "uring_engine/wire/nvme_types.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::sim {
namespace {

using json = nlohmann::json;

constexpr uint64_t kListenerId = 1;
constexpr uint64_t kTimerId = 2;
constexpr uint64_t kWakeId = 3;
constexpr uint64_t kTraceId = 4;
constexpr uint64_t kDmesgId = 5;
constexpr uint64_t kFirstConnId = 16;

struct Conn {
    uint64_t id = 0;
    int fd = -1;
    pid_t peer_pid = 0;
    proto::FrameDecoder dec;
    Bytes out;
    size_t out_off = 0;
    uint32_t events = EPOLLIN;  // what epoll watches for
    bool dirty = false;
    bool paused = false;           // output at the limit: not reading this client's commands
    int64_t last_progress_ns = 0;  // last time some of its output was written
    bool dead = false;
    bool hello_done = false;
    uint8_t version = proto::kVersion1;
    NexusRec* nexus = nullptr;  // none: a version-2 connection of an NVMe host only
    bool nvme = false;          // attached to the NVMe subsystem (a controller of its own)
    std::string name;
    explicit Conn(uint32_t max_payload) : dec(max_payload) {}
    size_t unsent() const { return out.size() - out_off; }
};

}  // namespace

// Everything here belongs to the loop thread except `stopping` and the counters, which stop() and
// stats() use from any thread.
struct Server::Impl final : TaskSet::Clients, NvmeFarm::Clients {
    ServerConfig cfg;
    std::vector<std::unique_ptr<LogicalUnit>> lus;
    FaultTable faults;
    std::unique_ptr<TraceSink> trace;
    std::unique_ptr<TraceSink> dmesg;
    // Built by init(), after what they reference.
    std::unique_ptr<NexusRegistry> nexuses;
    std::unique_ptr<TaskSet> tasks;
    std::unique_ptr<NvmeFarm> nvme;
    std::unique_ptr<Control> control;
    UnixListener listener;  // closing it removes the socket file
    int ep = -1, timer_fd = -1, wake_fd = -1;
    std::atomic<bool> stopping{false};

    std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
    uint64_t next_conn_id = kFirstConnId;
    std::vector<uint64_t> dirty;
    std::vector<uint64_t> to_close;
    std::vector<uint64_t> resumed;     // unpaused: complete frames may wait in their decoders
    std::vector<uint64_t> paused_ids;  // watched for stalls

    int64_t timer_armed_for = 0;  // 0 = disarmed

    std::atomic<uint64_t> st_accepted{0}, st_active{0}, st_cut{0}, st_commands{0}, st_responses{0},
        st_trace_dropped{0};

    ~Impl();
    Status init();
    Status bind_socket();
    Status run();
    void log(const std::string& s) {
        if (cfg.log) cfg.log(s);
    }

    // connections
    void accept_all();
    void on_readable(Conn& c);
    void process_frames(Conn& c);
    bool over_limit(Conn& c);
    void send_some(Conn& c);
    void update_interest(Conn& c);
    void check_stalls(int64_t now);
    void handle_frame(Conn& c, const proto::Frame& f);
    void handle_hello(Conn& c, const proto::Hello& h);
    void handle_command(Conn& c, const proto::CommandView& cmd);
    void handle_nvme_command(Conn& c, const proto::NvmeCommandView& cmd);
    void reject(Conn& c, uint64_t tag, proto::ErrorCode code, const std::string& why);
    void handle_control(Conn& c, uint64_t tag, const std::string& text);
    json counters() const;
    void cut_off(Conn& c, proto::ErrorCode code, const std::string& why, bool send_error = true);
    void close_conn(uint64_t id);
    void flush_conn(Conn& c);
    void mark_dirty(Conn& c);
    Conn* find_conn(uint64_t id) {
        auto it = conns.find(id);
        return it == conns.end() ? nullptr : it->second.get();
    }

    // TaskSet::Clients
    bool connected(uint64_t conn) const override;
    void respond(uint64_t conn, uint64_t tag, uint8_t status, uint8_t host, ByteView sense,
                 ByteView data_in, uint8_t flags) override;
    void respond_nvme(uint64_t conn, uint64_t tag, uint16_t status, uint64_t result,
                      ByteView data_in, uint8_t flags) override;
    void arm_timer();
};

Server::Impl::~Impl() {
    for (auto& [id, c] : conns)
        if (c->fd >= 0) ::close(c->fd);
    for (int fd : {ep, timer_fd, wake_fd})
        if (fd >= 0) ::close(fd);
}

Status Server::Impl::bind_socket() {
    UnixListenerOptions lo;
    lo.path = cfg.socket_path;
    lo.backlog = 512;
    PRF_TRY_ASSIGN(listener, UnixListener::bind(lo));
    return {};
}

Status Server::Impl::init() {
    PRF_TRY(validate_config(cfg));
    if (cfg.state_dir) {
        std::error_code ec;
        std::filesystem::create_directories(*cfg.state_dir, ec);
        if (ec)
            return fail(Errc::system,
                        "cannot create state dir " + cfg.state_dir->string() + ": " + ec.message());
    }
    lus.reserve(cfg.luns);
    for (uint32_t l = 0; l < cfg.luns; ++l) {
        auto lc = lu_config_for(cfg, l);
        if (!lc) return fail(lc.error().code, "LU " + std::to_string(l) + ": " + lc.error().msg);
        auto lu = LogicalUnit::create(*lc);
        if (!lu)
            return fail(lu.error().code, "LU " + std::to_string(l) + ": " + lu.error().msg,
                        lu.error().sys_errno);
        lus.push_back(std::move(lu).value());
    }
    faults = FaultTable(cfg.seed);
    const int64_t now = monotonic_ns();
    for (const auto& f : cfg.faults) faults.arm(f, now);

    nexuses = std::make_unique<NexusRegistry>(cfg);
    if (cfg.trace.style.pid == 0) cfg.trace.style.pid = static_cast<int>(::getpid());

    if (!cfg.trace.path.empty()) {
        PRF_TRY_ASSIGN(trace, TraceSink::open(cfg.trace.path, cfg.trace.max_buffer));
    }
    if (!cfg.trace.dmesg_path.empty()) {
        PRF_TRY_ASSIGN(dmesg, TraceSink::open(cfg.trace.dmesg_path, cfg.trace.max_buffer));
    }
    tasks = std::make_unique<TaskSet>(cfg, lus, faults, trace.get(), dmesg.get(), *this);
    nvme = std::make_unique<NvmeFarm>(cfg, faults, trace.get(), dmesg.get(), *this);
    control = std::make_unique<Control>(
        faults, lus, *nexuses, [this] { return counters(); }, [this] { return nvme->describe(); });

    ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return fail_errno("epoll_create1");
    timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd < 0) return fail_errno("timerfd_create");
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) return fail_errno("eventfd");
    PRF_TRY(bind_socket());

    auto add = [&](int fd, uint32_t events, uint64_t id) -> Status {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = id;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) return fail_errno("epoll_ctl");
        return {};
    };
    PRF_TRY(add(listener.fd(), EPOLLIN, kListenerId));
    PRF_TRY(add(timer_fd, EPOLLIN, kTimerId));
    PRF_TRY(add(wake_fd, EPOLLIN, kWakeId));
    if (trace && trace->pollable()) PRF_TRY(add(trace->fd(), EPOLLOUT | EPOLLET, kTraceId));
    if (dmesg && dmesg->pollable()) PRF_TRY(add(dmesg->fd(), EPOLLOUT | EPOLLET, kDmesgId));
    return {};
}

// ---- connections ----

void Server::Impl::accept_all() {
    for (;;) {
        int fd = ::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno == EMFILE || errno == ENFILE)
                log(errno_message("prsim: cannot accept a client", errno));
            return;  // EAGAIN and transient errors (ECONNABORTED, ...) alike
        }
        auto c = std::make_unique<Conn>(cfg.limits.max_payload);
        c->id = next_conn_id++;
        c->fd = fd;
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) c->peer_pid = cred.pid;
        c->name = "client " + std::to_string(c->id - kFirstConnId + 1) + " (pid " +
                  std::to_string(c->peer_pid) + ")";
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = c->id;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            ::close(fd);
            continue;
        }
        ++st_accepted;
        ++st_active;
        tasks->open(c->id);
        conns.emplace(c->id, std::move(c));
    }
}

void Server::Impl::mark_dirty(Conn& c) {
    if (!c.dirty) {
        c.dirty = true;
        dirty.push_back(c.id);
    }
}

void Server::Impl::cut_off(Conn& c, proto::ErrorCode code, const std::string& why,
                           bool send_error) {
    if (c.dead) return;
    c.dead = true;
    if (send_error) {
        proto::append_error(c.out, 0, code, true, why, c.version);
        mark_dirty(c);
    }
    std::string who = c.name;
    if (c.nexus) who += ", " + c.nexus->label;
    log("prsim: " + who + " cut off: " + proto::error_code_name(code) + ": " + why);
    ++st_cut;
    to_close.push_back(c.id);
}

void Server::Impl::close_conn(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Conn& c = *it->second;
    // Last words (a fatal ERROR frame) best effort, never waiting.
    if (c.unsent() > 0)
        (void)::send(c.fd, c.out.data() + c.out_off, c.unsent(), MSG_NOSIGNAL | MSG_DONTWAIT);
    tasks->close(id);  // its commands waiting in the task set are forgotten, unanswered
    nvme->close(id);
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    --st_active;
    conns.erase(it);
}

void Server::Impl::send_some(Conn& c) {
    while (c.unsent() > 0) {
        ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.unsent(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.out_off += static_cast<size_t>(n);
            c.last_progress_ns = monotonic_ns();
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        // The peer is gone: nothing more will be delivered to it.
        if (!c.dead) {
            c.dead = true;
            to_close.push_back(c.id);
        }
        c.out.clear();
        c.out_off = 0;
        return;
    }
    if (c.unsent() == 0) {
        c.out.clear();
        c.out_off = 0;
    } else if (c.out_off > (1u << 20) && c.out_off > c.out.size() / 2) {
        c.out.erase(c.out.begin(), c.out.begin() + static_cast<ptrdiff_t>(c.out_off));
        c.out_off = 0;
    }
}

void Server::Impl::update_interest(Conn& c) {
    if (c.dead) return;
    const uint32_t want =
        (c.paused ? 0u : uint32_t{EPOLLIN}) | (c.unsent() > 0 ? uint32_t{EPOLLOUT} : 0u);
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c.id;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
}

void Server::Impl::flush_conn(Conn& c) {
    c.dirty = false;
    send_some(c);
    if (c.paused && !c.dead && c.unsent() <= cfg.limits.max_output / 2) {
        c.paused = false;
        resumed.push_back(c.id);
    }
    update_interest(c);
}

// Backpressure: a client whose unsent output reached the limit is not read until it has taken half
// of it.
bool Server::Impl::over_limit(Conn& c) {
    if (c.unsent() < cfg.limits.max_output) return false;
    send_some(c);
    if (c.dead || c.unsent() < cfg.limits.max_output) return c.dead;
    if (!c.paused) {
        c.paused = true;
        c.last_progress_ns = monotonic_ns();
        paused_ids.push_back(c.id);
        update_interest(c);
    }
    return true;
}

void Server::Impl::check_stalls(int64_t now) {
    const int64_t stall_ns = int64_t{cfg.limits.stall_ms} * 1000000;
    std::erase_if(paused_ids, [&](uint64_t id) {
        Conn* c = find_conn(id);
        if (!c || c->dead || !c->paused) return true;
        if (now - c->last_progress_ns < stall_ns) return false;
        cut_off(*c, proto::ErrorCode::output_overflow,
                "client is not reading its responses (" + std::to_string(c->unsent()) +
                    " bytes unsent for " + std::to_string((now - c->last_progress_ns) / 1000000) +
                    " ms, limit " + std::to_string(cfg.limits.max_output) + ")",
                /*send_error=*/false);
        return true;
    });
}

void Server::Impl::process_frames(Conn& c) {
    for (;;) {
        if (c.dead || c.paused) return;
        auto f = c.dec.next();
        if (!f) {
            cut_off(c, c.dec.error_code(), f.error().msg);
            return;
        }
        if (!*f) return;
        handle_frame(c, **f);
        if (over_limit(c)) return;
    }
}

void Server::Impl::on_readable(Conn& c) {
    size_t budget = cfg.limits.read_budget;
    while (!c.dead && !c.paused && budget > 0) {
        auto area = c.dec.write_area(65536);
        const size_t want = std::min(area.size(), budget);
        ssize_t n = ::recv(c.fd, area.data(), want, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            c.dead = true;
            to_close.push_back(c.id);
            return;
        }
        if (n == 0) {
            // The client went away. Nothing of it survives but what it already did to the LUs.
            const size_t outstanding = tasks->outstanding(c.id) + nvme->outstanding(c.id);
            if (c.dec.buffered() > 0 || outstanding > 0)
                log("prsim: " + c.name + (c.nexus ? ", " + c.nexus->label : std::string()) +
                    " disconnected with " + std::to_string(outstanding) +
                    " command(s) outstanding" + (c.dec.buffered() ? " and a partial frame" : ""));
            c.dead = true;
            to_close.push_back(c.id);
            return;
        }
        c.dec.commit(static_cast<size_t>(n));
        budget -= static_cast<size_t>(n);
        process_frames(c);
        if (static_cast<size_t>(n) < want) return;  // drained for now
    }
}

void Server::Impl::handle_frame(Conn& c, const proto::Frame& f) {
    const auto type = static_cast<proto::FrameType>(f.header.type);
    if (type != proto::FrameType::hello && f.header.version != c.version) {
        cut_off(c, proto::ErrorCode::bad_version,
                proto::frame_type_name(f.header.type) + " frame carries protocol version " +
                    std::to_string(f.header.version) + "; this connection speaks version " +
                    std::to_string(c.version));
        return;
    }
    auto msg = proto::decode_client_frame(f);
    if (!msg) {
        cut_off(c, proto::payload_error_code(msg.error()), msg.error().msg);
        return;
    }
    if (auto* h = std::get_if<proto::Hello>(&*msg)) {
        if (c.hello_done) {
            cut_off(c, proto::ErrorCode::duplicate_hello, "HELLO sent twice on one connection");
            return;
        }
        handle_hello(c, *h);
    } else if (auto* cmd = std::get_if<proto::CommandView>(&*msg)) {
        if (!c.hello_done) {
            cut_off(c, proto::ErrorCode::not_hello, "COMMAND before HELLO");
            return;
        }
        handle_command(c, *cmd);
    } else if (auto* a = std::get_if<proto::Abort>(&*msg)) {
        if (!c.hello_done) {
            cut_off(c, proto::ErrorCode::not_hello, "ABORT before HELLO");
            return;
        }
        tasks->abort(c.id, a->tag);
        nvme->abort(c.id, a->tag);
    } else if (auto* ctl = std::get_if<proto::Control>(&*msg)) {
        handle_control(c, ctl->tag, ctl->json);
    } else if (auto* n = std::get_if<proto::NvmeCommandView>(&*msg)) {
        if (!c.hello_done) {
            cut_off(c, proto::ErrorCode::not_hello, "NVME_COMMAND before HELLO");
            return;
        }
        if (c.version < proto::kVersion2) {
            cut_off(c, proto::ErrorCode::unknown_type,
                    "NVME_COMMAND needs protocol version 2; this connection speaks version " +
                        std::to_string(c.version));
            return;
        }
        handle_nvme_command(c, *n);
    }
}

void Server::Impl::handle_hello(Conn& c, const proto::Hello& h) {
    const uint8_t chosen = std::min(h.max_version, proto::kMaxVersion);
    if (chosen < std::max(h.min_version, proto::kMinVersion)) {
        cut_off(c, proto::ErrorCode::version_unsupported,
                "client offers protocol versions " + std::to_string(h.min_version) + "-" +
                    std::to_string(h.max_version) + "; this server speaks " +
                    std::to_string(proto::kMinVersion) + "-" + std::to_string(proto::kMaxVersion));
        return;
    }
    if (h.target_port == 0 || h.target_port > cfg.target_ports) {
        cut_off(c, proto::ErrorCode::bad_hello,
                "target port " + std::to_string(h.target_port) +
                    " does not exist (the farm has ports 1-" + std::to_string(cfg.target_ports) +
                    ")");
        return;
    }
    if (h.nvme_host && chosen < proto::kVersion2) {
        cut_off(c, proto::ErrorCode::bad_hello,
                "an NVMe host needs protocol version 2; the HELLO offers versions " +
                    std::to_string(h.min_version) + "-" + std::to_string(h.max_version));
        return;
    }
    NexusRec* nexus = nullptr;
    if (!h.initiator.empty()) {
        auto tid = proto::hello_initiator(h);
        if (!tid) {
            cut_off(c, proto::ErrorCode::bad_hello, "initiator TransportID: " + tid.error().msg);
            return;
        }
        auto nx = nexuses->find_or_add(*tid, h.target_port);
        if (!nx) {
            cut_off(c, proto::ErrorCode::bad_hello, nx.error().msg);
            return;
        }
        nexus = *nx;
    }
    c.hello_done = true;
    c.version = chosen;
    c.nexus = nexus;
    uint16_t cntlid = 0xffff;
    if (h.nvme_host && nvme->namespace_count() > 0) {
        cntlid = nvme->attach(c.id, *h.nvme_host);
        c.nvme = true;
        c.name += " (" + h.nvme_host->hostnqn + ", controller " + std::to_string(cntlid) + ")";
    }
    if (!h.client_name.empty()) c.name += " \"" + h.client_name + "\"";
    proto::HelloAck ack;
    ack.version = chosen;
    ack.target_port = h.target_port;
    ack.lun_count = cfg.luns;
    ack.host = c.nexus ? c.nexus->host : 0;
    ack.channel = 0;
    ack.target_id = c.nexus ? c.nexus->target_id : 0;
    ack.max_payload = cfg.limits.max_payload;
    ack.max_in_flight = cfg.limits.max_in_flight;
    ack.cntlid = cntlid;
    ack.namespace_count = nvme->namespace_count();
    proto::append_hello_ack(c.out, ack);
    mark_dirty(c);
}

void Server::Impl::reject(Conn& c, uint64_t tag, proto::ErrorCode code, const std::string& why) {
    proto::append_error(c.out, tag, code, false, why, c.version);
    mark_dirty(c);
}

void Server::Impl::handle_nvme_command(Conn& c, const proto::NvmeCommandView& cmd) {
    if (tasks->in_flight(c.id, cmd.tag) || nvme->in_flight(c.id, cmd.tag)) {
        reject(c, cmd.tag, proto::ErrorCode::duplicate_tag,
               "tag " + std::to_string(cmd.tag) + " is still in flight");
        return;
    }
    if (!c.nvme) {
        reject(c, cmd.tag, proto::ErrorCode::wrong_transport,
               nvme->namespace_count() == 0
                   ? "this farm has no NVMe namespaces (prsim --nvme-namespaces)"
                   : "this connection declared no NVMe host in its HELLO");
        return;
    }
    if (cmd.queue > 1 || cmd.flags != 0 || cmd.data_in_len > proto::kMaxDataLen) {
        reject(c, cmd.tag, proto::ErrorCode::bad_nvme_command,
               cmd.queue > 1 ? "queue " + std::to_string(cmd.queue) + " is not 0 (admin) or 1 (I/O)"
               : cmd.flags   ? "flags " + std::to_string(cmd.flags) + " must be 0"
                             : "data-in length " + std::to_string(cmd.data_in_len) + " above " +
                                 std::to_string(proto::kMaxDataLen));
        return;
    }
    ++st_commands;
    nvme->submit(c.id, cmd, monotonic_ns());
}

void Server::Impl::handle_command(Conn& c, const proto::CommandView& cmd) {
    if (!c.nexus) {
        reject(c, cmd.tag, proto::ErrorCode::wrong_transport,
               "this connection declared no SCSI initiator in its HELLO");
        return;
    }
    if (tasks->in_flight(c.id, cmd.tag) || nvme->in_flight(c.id, cmd.tag)) {
        proto::append_error(c.out, cmd.tag, proto::ErrorCode::duplicate_tag, false,
                            "tag " + std::to_string(cmd.tag) + " is still in flight", c.version);
        mark_dirty(c);
        return;
    }
    if (cmd.cdb_len == 0 || cmd.cdb_len > proto::kMaxCdbLen || cmd.alloc_len > proto::kMaxDataLen) {
        proto::append_error(c.out, cmd.tag, proto::ErrorCode::bad_cdb, false,
                            cmd.alloc_len > proto::kMaxDataLen
                                ? "allocation length " + std::to_string(cmd.alloc_len) + " above " +
                                      std::to_string(proto::kMaxDataLen)
                                : "CDB length " + std::to_string(cmd.cdb_len) + " is not 1-16",
                            c.version);
        mark_dirty(c);
        return;
    }
    ++st_commands;
    tasks->submit(c.id, *c.nexus, cmd, monotonic_ns());
}

// ---- the task set's side: answers and the timer ----

bool Server::Impl::connected(uint64_t conn) const {
    auto it = conns.find(conn);
    return it != conns.end() && !it->second->dead;
}

void Server::Impl::respond(uint64_t conn, uint64_t tag, uint8_t status, uint8_t host,
                           ByteView sense, ByteView data_in, uint8_t flags) {
    Conn* c = find_conn(conn);
    if (!c || c->dead) return;
    ++st_responses;
    if (!proto::append_response(c->out, tag, status, host, sense, data_in, flags, c->version)) {
        // data-in above the protocol maximum: cannot happen with allocation lengths checked on
        // arrival.
        (void)proto::append_response(
            c->out, tag, wire::sam::check_condition, wire::did::ok,
            wire::make_fixed_sense(wire::SenseKey::hardware_error, 0x44, 0x00), {}, flags,
            c->version);
    }
    if (c->unsent() >= cfg.limits.max_output) {
        send_some(*c);
        // Delayed completions keep coming while a paused client does not read: twice the limit is
        // the end.
        if (!c->dead && c->unsent() > 2 * cfg.limits.max_output) {
            cut_off(*c, proto::ErrorCode::output_overflow,
                    "client is not reading its responses (" + std::to_string(c->unsent()) +
                        " bytes unsent, limit " + std::to_string(cfg.limits.max_output) + ")",
                    /*send_error=*/false);
            return;
        }
    }
    mark_dirty(*c);
}

void Server::Impl::respond_nvme(uint64_t conn, uint64_t tag, uint16_t status, uint64_t result,
                                ByteView data_in, uint8_t flags) {
    Conn* c = find_conn(conn);
    if (!c || c->dead) return;
    ++st_responses;
    if (!proto::append_nvme_response(c->out, tag, status, result, data_in, flags, c->version))
        (void)proto::append_nvme_response(
            c->out, tag,
            static_cast<uint16_t>(wire::nvme::kStatusDnr | wire::nvme::sc::internal_error), 0, {},
            flags, c->version);
    if (c->unsent() >= cfg.limits.max_output) {
        send_some(*c);
        if (!c->dead && c->unsent() > 2 * cfg.limits.max_output) {
            cut_off(*c, proto::ErrorCode::output_overflow,
                    "client is not reading its responses (" + std::to_string(c->unsent()) +
                        " bytes unsent, limit " + std::to_string(cfg.limits.max_output) + ")",
                    /*send_error=*/false);
            return;
        }
    }
    mark_dirty(*c);
}

void Server::Impl::arm_timer() {
    auto next = tasks->next_due();
    if (const auto n2 = nvme->next_due(); n2 && (!next || *n2 < *next)) next = n2;
    const int64_t due = next ? std::max<int64_t>(*next, 1) : 0;
    if (due == timer_armed_for) return;
    itimerspec its{};
    if (due) {
        its.it_value.tv_sec = due / 1000000000;
        its.it_value.tv_nsec = due % 1000000000;
    }
    ::timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, nullptr);
    timer_armed_for = due;
}

// ---- control ----

json Server::Impl::counters() const {
    json s;
    s["connections_accepted"] = st_accepted.load();
    s["connections_active"] = st_active.load();
    s["clients_cut_off"] = st_cut.load();
    s["commands"] = st_commands.load();
    s["responses"] = st_responses.load();
    s["delayed"] = tasks->delayed();
    s["held"] = tasks->held() + nvme->held();
    s["aborted"] = tasks->aborted() + nvme->aborted();
    s["nvme_commands"] = nvme->commands();
    s["nvme_namespaces"] = nvme->namespace_count();
    s["trace_dropped_events"] =
        (trace ? trace->dropped_events() : 0) + (dmesg ? dmesg->dropped_events() : 0);
    s["trace_written_bytes"] =
        (trace ? trace->written_bytes() : 0) + (dmesg ? dmesg->written_bytes() : 0);
    return s;
}

void Server::Impl::handle_control(Conn& c, uint64_t tag, const std::string& body) {
    proto::append_control_reply(c.out, tag, control->reply(body, monotonic_ns()), c.version);
    mark_dirty(c);
}

// ---- the loop ----

Status Server::Impl::run() {
    std::array<epoll_event, 256> events{};
    while (!stopping.load(std::memory_order_relaxed)) {
        const int wait_ms =
            (!resumed.empty() || !dirty.empty()) ? 0 : (!paused_ids.empty() ? 50 : -1);
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), wait_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("epoll_wait");
        }
        bool timer_fired = false;
        for (int i = 0; i < n; ++i) {
            const uint64_t id = events[i].data.u64;
            const uint32_t ev = events[i].events;
            if (id == kListenerId) {
                accept_all();
            } else if (id == kTimerId) {
                uint64_t exp;
                while (::read(timer_fd, &exp, sizeof exp) > 0) {
                }
                timer_armed_for = 0;
                timer_fired = true;
            } else if (id == kWakeId) {
                uint64_t v;
                (void)!::read(wake_fd, &v, sizeof v);
            } else if (id == kTraceId || id == kDmesgId) {
                // flushed below
            } else if (Conn* c = find_conn(id)) {
                if (c->dead) continue;
                if (c->paused && (ev & (EPOLLHUP | EPOLLERR))) {
                    c->dead = true;  // gone while we were not reading it
                    to_close.push_back(c->id);
                    continue;
                }
                if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(*c);
                if ((ev & EPOLLOUT) && !c->dead) mark_dirty(*c);
            }
        }
        if (const auto due = tasks->next_due(); timer_fired || (due && *due <= monotonic_ns()))
            tasks->run_due(monotonic_ns());
        if (const auto due = nvme->next_due(); timer_fired || (due && *due <= monotonic_ns()))
            nvme->run_due(monotonic_ns());
        // Write what is ready; clients unpaused by that get their already-received commands
        // handled, and so on a few rounds (the next epoll_wait does not block while some are left).
        for (int round = 0; round < 8; ++round) {
            std::vector<uint64_t> now_resumed;
            now_resumed.swap(resumed);
            for (uint64_t id : now_resumed)
                if (Conn* c = find_conn(id); c && !c->dead && !c->paused) process_frames(*c);
            std::vector<uint64_t> now_dirty;
            now_dirty.swap(dirty);
            for (uint64_t id : now_dirty)
                if (Conn* c = find_conn(id)) flush_conn(*c);
            if (resumed.empty() && dirty.empty()) break;
        }
        if (!paused_ids.empty()) check_stalls(monotonic_ns());
        for (uint64_t id : to_close) close_conn(id);
        to_close.clear();
        if (trace) trace->flush();
        if (dmesg) dmesg->flush();
        if (trace || dmesg)
            st_trace_dropped.store(
                (trace ? trace->dropped_events() : 0) + (dmesg ? dmesg->dropped_events() : 0),
                std::memory_order_relaxed);
        arm_timer();
    }
    // Orderly stop: tell every client, best effort.
    for (auto& [id, c] : conns)
        proto::append_error(c->out, 0, proto::ErrorCode::shutting_down, true, "prsim is stopping",
                            c->version);
    std::vector<uint64_t> ids;
    for (auto& [id, c] : conns) ids.push_back(id);
    for (uint64_t id : ids) close_conn(id);
    if (trace) trace->flush();
    if (dmesg) dmesg->flush();
    return {};
}

// ---- Server ----

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(ServerConfig cfg) {
    auto impl = std::make_unique<Impl>();
    impl->cfg = std::move(cfg);
    PRF_TRY(impl->init());
    return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Status Server::run() { return impl_->run(); }

void Server::stop() noexcept {
    impl_->stopping.store(true, std::memory_order_relaxed);
    const uint64_t one = 1;
    (void)!::write(impl_->wake_fd, &one, sizeof one);
}

const std::string& Server::socket_path() const { return impl_->cfg.socket_path; }
uint32_t Server::lun_count() const { return impl_->cfg.luns; }

ServerStats Server::stats() const {
    ServerStats s;
    s.connections_accepted = impl_->st_accepted.load();
    s.connections_active = impl_->st_active.load();
    s.clients_cut_off = impl_->st_cut.load();
    s.commands = impl_->st_commands.load();
    s.responses = impl_->st_responses.load();
    s.delayed = impl_->tasks->delayed();
    s.held = impl_->tasks->held() + impl_->nvme->held();
    s.aborted = impl_->tasks->aborted() + impl_->nvme->aborted();
    s.trace_dropped_events = impl_->st_trace_dropped.load();
    return s;
}

}  // namespace prfence::sim
