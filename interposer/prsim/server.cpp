// SPDX-License-Identifier: MIT
#include "interposer/prsim/server.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "uring_engine/simproto/protocol.h"
#include "uring_engine/wire/cdb.h"
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
constexpr NexusId kNoNexus = UINT32_MAX;

int64_t mono_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

std::string sys_msg(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// A key equal for TransportIDs that name the same initiator port (wire::same_initiator).
std::string initiator_key(wire::TransportId t) {
    if (t.protocol == wire::ProtocolId::iscsi) {
        for (auto& ch : t.iscsi_name)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (!t.iscsi_isid.empty())
            if (auto c = wire::canonical_isid(t.iscsi_isid); c.ok()) t.iscsi_isid = *c;
    }
    if (auto b = wire::encode_transport_id(t); b.ok()) return std::string(b->begin(), b->end());
    return wire::format_transport_id(t);
}

struct NexusRec {
    uint32_t index = 0;
    wire::TransportId initiator;
    uint16_t target_port = 1;
    uint32_t host = 0;
    uint16_t target_id = 0;
    uint64_t disk_base = 0;  // sd index of LUN 0 on this nexus
    std::vector<NexusId> lu_nexus;
    std::string label;
};

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
    NexusRec* nexus = nullptr;
    std::string name;
    std::unordered_map<uint64_t, uint64_t>
        tags;                     // client tag -> pending id, for commands held here
    std::vector<uint64_t> slots;  // driver-tag bitmap
    explicit Conn(uint32_t max_payload) : dec(max_payload) {}
    size_t unsent() const { return out.size() - out_off; }
};

struct Pending {
    uint64_t id = 0;
    uint64_t conn_id = 0;
    uint64_t tag = 0;
    uint32_t lun = 0;
    uint32_t nexus_index = 0;
    NexusId lu_nexus = kNoNexus;
    uint8_t cdb_len = 0;
    std::array<uint8_t, proto::kMaxCdbLen> cdb{};
    Bytes data_out;
    uint32_t alloc_len = 0;
    Decision decision;
    int64_t arrival_ns = 0;
    int slot = 0;
    bool held = false;
};

}  // namespace

struct Server::Impl {
    ServerConfig cfg;
    std::vector<std::unique_ptr<LogicalUnit>> lus;
    FaultTable faults;
    std::unique_ptr<TraceSink> trace;
    std::unique_ptr<TraceSink> dmesg;
    int listen_fd = -1, ep = -1, timer_fd = -1, wake_fd = -1;
    bool socket_bound = false;
    std::atomic<bool> stopping{false};

    std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
    uint64_t next_conn_id = kFirstConnId;
    std::vector<uint64_t> dirty;
    std::vector<uint64_t> to_close;
    std::vector<uint64_t> resumed;     // unpaused: complete frames may wait in their decoders
    std::vector<uint64_t> paused_ids;  // watched for stalls

    std::vector<std::unique_ptr<NexusRec>> nexuses;
    std::unordered_map<std::string, uint32_t> nexus_by_key;  // initiator key + port
    std::unordered_map<std::string, uint32_t> host_by_key;   // initiator key -> host number
    std::vector<uint32_t> reserved_hosts;                    // configured host numbers
    uint32_t next_host = 0;
    uint16_t id_span = 1;

    std::unordered_map<uint64_t, Pending> pending;
    // Pending ids per LU: PREEMPT AND ABORT looks at its own LU's task set only. Scanning every
    // pending command instead made fencing 1000 LUs, each with its PREEMPT AND ABORT pending,
    // quadratic (5% of the whole benchmark's CPU).
    std::vector<std::vector<uint64_t>> pending_by_lun;
    uint64_t next_pending = 1;
    std::vector<std::pair<int64_t, uint64_t>> heap;  // min-heap of (due, pending id)
    int64_t timer_armed_for = 0;                     // 0 = disarmed

    std::string text;  // trace formatting scratch

    std::atomic<uint64_t> st_accepted{0}, st_active{0}, st_cut{0}, st_commands{0}, st_responses{0},
        st_delayed{0}, st_held{0}, st_aborted{0}, st_trace_dropped{0};

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
    void handle_abort(Conn& c, uint64_t tag);
    void handle_control(Conn& c, uint64_t tag, const std::string& text);
    json control_json(const json& req);
    void cut_off(Conn& c, proto::ErrorCode code, const std::string& why, bool send_error = true);
    void close_conn(uint64_t id);
    void flush_conn(Conn& c);
    void mark_dirty(Conn& c);
    Conn* find_conn(uint64_t id) {
        auto it = conns.find(id);
        return it == conns.end() ? nullptr : it->second.get();
    }

    // commands
    int alloc_slot(Conn& c);
    void free_slot(Conn& c, int slot);
    NexusId lu_nexus_for(NexusRec& nx, uint32_t lun);
    bool execute(Conn* c, uint64_t tag, uint32_t lun, NexusRec& nx, NexusId lun_nexus, ByteView cdb,
                 ByteView data_out, uint32_t alloc_len, const Decision& d, int slot,
                 int64_t arrival_ns, uint64_t self_pending);
    void respond(Conn* c, uint64_t tag, uint8_t status, ByteView sense, ByteView data_in,
                 uint8_t flags);
    void emit_trace(const NexusRec& nx, uint32_t lun, int slot, ByteView cdb, uint32_t data_len,
                    uint8_t status, ByteView sense, int64_t arrival_ns);
    void abort_nexuses(uint32_t lun, const std::vector<NexusId>& victims, uint64_t except);
    void finish_pending(uint64_t pid, uint8_t flags);  // answers TASK ABORTED and forgets it
    void forget_pending(std::unordered_map<uint64_t, Pending>::iterator it);
    void add_pending(Pending&& p);
    std::unordered_map<uint64_t, Pending>::iterator erase_pending(std::unordered_map<uint64_t, Pending>::iterator it);
    void run_due(int64_t now);
    void arm_timer();
};

Server::Impl::~Impl() {
    for (auto& [id, c] : conns)
        if (c->fd >= 0) ::close(c->fd);
    for (int fd : {listen_fd, ep, timer_fd, wake_fd})
        if (fd >= 0) ::close(fd);
    if (socket_bound) ::unlink(cfg.socket_path.c_str());
}

Status Server::Impl::bind_socket() {
    sockaddr_un addr{};
    if (cfg.socket_path.size() >= sizeof addr.sun_path)
        return fail(Errc::invalid_argument, "socket path too long: " + cfg.socket_path);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, cfg.socket_path.data(), cfg.socket_path.size());
    listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd < 0) return fail(Errc::system, sys_msg("socket"), errno);
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno != EADDRINUSE)
            return fail(Errc::system, sys_msg(("bind " + cfg.socket_path).c_str()), errno);
        // Someone listening there, or a stale file from a daemon that died?
        int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live =
            probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        if (probe >= 0) ::close(probe);
        if (live)
            return fail(Errc::system, "another daemon is listening on " + cfg.socket_path,
                        EADDRINUSE);
        struct stat st {};
        if (::stat(cfg.socket_path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
            return fail(Errc::system, cfg.socket_path + " exists and is not a socket", EADDRINUSE);
        ::unlink(cfg.socket_path.c_str());
        if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            return fail(Errc::system, sys_msg(("bind " + cfg.socket_path).c_str()), errno);
    }
    socket_bound = true;
    if (::listen(listen_fd, 512) != 0) return fail(Errc::system, sys_msg("listen"), errno);
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
    const int64_t now = mono_ns();
    for (const auto& f : cfg.faults) faults.arm(f, now);

    uint16_t max_id = 0;
    for (uint32_t p = 1; p <= cfg.target_ports; ++p) {
        auto it = cfg.port_ids.find(static_cast<uint16_t>(p));
        max_id = std::max<uint16_t>(
            max_id, it != cfg.port_ids.end() ? it->second : static_cast<uint16_t>(p - 1));
    }
    id_span = static_cast<uint16_t>(max_id + 1);
    for (const auto& [tid, host] : cfg.hosts) {
        host_by_key[initiator_key(tid)] = host;
        reserved_hosts.push_back(host);
    }
    next_host = cfg.first_host;
    if (cfg.trace.style.pid == 0) cfg.trace.style.pid = static_cast<int>(::getpid());

    if (!cfg.trace.path.empty()) {
        PRF_TRY_ASSIGN(trace, TraceSink::open(cfg.trace.path, cfg.trace.max_buffer));
    }
    if (!cfg.trace.dmesg_path.empty()) {
        PRF_TRY_ASSIGN(dmesg, TraceSink::open(cfg.trace.dmesg_path, cfg.trace.max_buffer));
    }

    ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return fail(Errc::system, sys_msg("epoll_create1"), errno);
    timer_fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (timer_fd < 0) return fail(Errc::system, sys_msg("timerfd_create"), errno);
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) return fail(Errc::system, sys_msg("eventfd"), errno);
    PRF_TRY(bind_socket());

    auto add = [&](int fd, uint32_t events, uint64_t id) -> Status {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = id;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            return fail(Errc::system, sys_msg("epoll_ctl"), errno);
        return {};
    };
    PRF_TRY(add(listen_fd, EPOLLIN, kListenerId));
    PRF_TRY(add(timer_fd, EPOLLIN, kTimerId));
    PRF_TRY(add(wake_fd, EPOLLIN, kWakeId));
    if (trace && trace->pollable()) PRF_TRY(add(trace->fd(), EPOLLOUT | EPOLLET, kTraceId));
    if (dmesg && dmesg->pollable()) PRF_TRY(add(dmesg->fd(), EPOLLOUT | EPOLLET, kDmesgId));
    return {};
}

// ---- connections ----

void Server::Impl::accept_all() {
    for (;;) {
        int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno == EMFILE || errno == ENFILE)
                log("prsim: cannot accept a client: " + std::string(std::strerror(errno)));
            return;  // EAGAIN and transient errors (ECONNABORTED, ...) alike
        }
        auto c = std::make_unique<Conn>(cfg.limits.max_payload);
        c->id = next_conn_id++;
        c->fd = fd;
        c->slots.assign((cfg.limits.max_in_flight + 63) / 64, 0);
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
    for (auto& [tag, pid] : c.tags) {
        auto p = pending.find(pid);
        if (p != pending.end()) {
            if (p->second.held) --st_held;
            erase_pending(p);  // its heap entry, if any, is skipped when it comes due
        }
    }
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
            c.last_progress_ns = mono_ns();
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
        c.last_progress_ns = mono_ns();
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
            if (c.dec.buffered() > 0 || !c.tags.empty())
                log("prsim: " + c.name + (c.nexus ? ", " + c.nexus->label : std::string()) +
                    " disconnected with " + std::to_string(c.tags.size()) +
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
        handle_abort(c, a->tag);
    } else if (auto* ctl = std::get_if<proto::Control>(&*msg)) {
        handle_control(c, ctl->tag, ctl->json);
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
    auto tid = proto::hello_initiator(h);
    if (!tid) {
        cut_off(c, proto::ErrorCode::bad_hello, "initiator TransportID: " + tid.error().msg);
        return;
    }
    const std::string ikey = initiator_key(*tid);
    std::string nkey(2, '\0');  // target port (2 bytes), then the initiator
    nkey[0] = static_cast<char>(h.target_port >> 8);
    nkey[1] = static_cast<char>(h.target_port & 0xff);
    nkey += ikey;
    NexusRec* nx;
    if (auto it = nexus_by_key.find(nkey); it != nexus_by_key.end()) {
        nx = nexuses[it->second].get();
    } else {
        if (nexuses.size() >= cfg.limits.max_nexuses) {
            cut_off(c, proto::ErrorCode::bad_hello,
                    "the farm already has " + std::to_string(nexuses.size()) +
                        " I_T nexuses (the limit)");
            return;
        }
        uint32_t host;
        if (auto hk = host_by_key.find(ikey); hk != host_by_key.end()) {
            host = hk->second;
        } else {
            while (std::find(reserved_hosts.begin(), reserved_hosts.end(), next_host) !=
                   reserved_hosts.end())
                ++next_host;
            host = next_host++;
            host_by_key[ikey] = host;
        }
        auto rec = std::make_unique<NexusRec>();
        rec->index = static_cast<uint32_t>(nexuses.size());
        rec->initiator = *tid;
        rec->target_port = h.target_port;
        rec->host = host;
        auto pid = cfg.port_ids.find(h.target_port);
        rec->target_id =
            pid != cfg.port_ids.end() ? pid->second : static_cast<uint16_t>(h.target_port - 1);
        rec->disk_base = (uint64_t{host} * id_span + rec->target_id) * cfg.luns;
        rec->lu_nexus.assign(cfg.luns, kNoNexus);
        rec->label = wire::format_transport_id(*tid) + " via port " +
                     std::to_string(h.target_port) + " (host " + std::to_string(host) + ")";
        nx = rec.get();
        nexus_by_key.emplace(nkey, rec->index);
        nexuses.push_back(std::move(rec));
    }
    c.hello_done = true;
    c.version = chosen;
    c.nexus = nx;
    if (!h.client_name.empty()) c.name += " \"" + h.client_name + "\"";
    proto::HelloAck ack;
    ack.version = chosen;
    ack.target_port = h.target_port;
    ack.lun_count = cfg.luns;
    ack.host = nx->host;
    ack.channel = 0;
    ack.target_id = nx->target_id;
    ack.max_payload = cfg.limits.max_payload;
    ack.max_in_flight = cfg.limits.max_in_flight;
    proto::append_hello_ack(c.out, ack);
    mark_dirty(c);
}

int Server::Impl::alloc_slot(Conn& c) {
    for (size_t w = 0; w < c.slots.size(); ++w) {
        if (c.slots[w] != ~uint64_t{0}) {
            const int bit = std::countr_one(c.slots[w]);
            const int slot = static_cast<int>(w * 64) + bit;
            if (static_cast<uint32_t>(slot) >= cfg.limits.max_in_flight) return -1;
            c.slots[w] |= uint64_t{1} << bit;
            return slot;
        }
    }
    return -1;
}

void Server::Impl::free_slot(Conn& c, int slot) {
    if (slot < 0) return;
    c.slots[static_cast<size_t>(slot) / 64] &= ~(uint64_t{1} << (slot % 64));
}

NexusId Server::Impl::lu_nexus_for(NexusRec& nx, uint32_t lun) {
    NexusId& id = nx.lu_nexus[lun];
    if (id == kNoNexus) id = lus[lun]->attach(NexusIdentity{nx.initiator, nx.target_port});
    return id;
}

void Server::Impl::respond(Conn* c, uint64_t tag, uint8_t status, ByteView sense, ByteView data_in,
                           uint8_t flags) {
    if (!c || c->dead) return;
    ++st_responses;
    if (!proto::append_response(c->out, tag, status, wire::did::ok, sense, data_in, flags,
                                c->version)) {
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

void Server::Impl::emit_trace(const NexusRec& nx, uint32_t lun, int slot, ByteView cdb,
                              uint32_t data_len, uint8_t status, ByteView sense,
                              int64_t arrival_ns) {
    if (!trace && !dmesg) return;
    CompletionEvent e;
    const int64_t now = mono_ns();
    e.ts_ns = cfg.trace_clock ? cfg.trace_clock() : now;
    e.cpu = cfg.trace.cpu >= 0 ? cfg.trace.cpu : std::max(0, ::sched_getcpu());
    e.host = nx.host;
    e.channel = 0;
    e.id = nx.target_id;
    e.lun = lun;
    e.driver_tag = slot < 0 ? 0 : slot;
    e.cdb = cdb;
    e.data_len = data_len;
    e.status = status;
    e.host_byte = wire::did::ok;
    e.sense = sense;
    e.cmd_age_ns = now - arrival_ns;
    e.block_size = lun < lus.size() ? lus[lun]->config().block_size : 512;
    const std::string disk = sd_disk_name(nx.disk_base + lun);
    e.disk = disk;
    if (trace) {
        text.clear();
        format_cmd_done(text, e, cfg.trace.style);
        trace->append(text);
    }
    if (status == wire::sam::reservation_conflict) {
        text.clear();
        format_conflict_dmesg(text, e, cfg.trace.style);
        if (dmesg)
            dmesg->append(text);
        else if (trace)
            trace->append(text);
    }
}

bool Server::Impl::execute(Conn* c, uint64_t tag, uint32_t lun, NexusRec& nx, NexusId lun_nexus,
                           ByteView cdb, ByteView data_out, uint32_t alloc_len, const Decision& d,
                           int slot, int64_t arrival_ns, uint64_t self_pending) {
    LogicalUnit& lu = *lus[lun];
    for (uint8_t i = 0; i < d.n_uas; ++i)
        for (uint32_t k = 0; k < d.uas[i].count; ++k)
            lu.queue_unit_attention(lun_nexus, d.uas[i].asc, d.uas[i].ascq);
    CommandResult r;
    switch (d.action) {
        case Decision::Action::busy:
            r.status = wire::sam::busy;
            break;
        case Decision::Action::task_set_full:
            r.status = wire::sam::task_set_full;
            break;
        case Decision::Action::not_ready:
            r.status = wire::sam::check_condition;
            r.sense = wire::make_fixed_sense(wire::SenseKey::not_ready, d.asc, d.ascq);
            break;
        default:
            r = lu.execute(lun_nexus, cdb, data_out);
            break;
    }
    if (r.data_in.size() > alloc_len) r.data_in.resize(alloc_len);
    if (!r.aborted_nexuses.empty()) abort_nexuses(lun, r.aborted_nexuses, self_pending);
    if (d.action == Decision::Action::execute_then_hold)
        return false;  // executed; the answer is "lost"
    const uint32_t data_len = data_out.empty() ? alloc_len : static_cast<uint32_t>(data_out.size());
    emit_trace(nx, lun, slot, cdb, data_len, r.status, r.sense, arrival_ns);
    respond(c, tag, r.status, r.sense, r.data_in, 0);
    return true;
}

void Server::Impl::handle_command(Conn& c, const proto::CommandView& cmd) {
    if (c.tags.count(cmd.tag)) {
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
    NexusRec& nx = *c.nexus;
    const ByteView cdb = cmd.cdb_bytes();
    const int64_t now = mono_ns();
    const int slot = alloc_slot(c);
    if (slot < 0) {  // the task set is full
        if (cmd.lun < cfg.luns)
            emit_trace(nx, cmd.lun, 0, cdb, cmd.alloc_len, wire::sam::task_set_full, {}, now);
        respond(&c, cmd.tag, wire::sam::task_set_full, {}, {}, 0);
        return;
    }
    if (cmd.lun >= cfg.luns) {
        // SPC-4: a command to a LU that does not exist: ILLEGAL REQUEST, LOGICAL UNIT NOT
        // SUPPORTED.
        respond(&c, cmd.tag, wire::sam::check_condition,
                wire::make_fixed_sense(wire::SenseKey::illegal_request, 0x25, 0), {}, 0);
        free_slot(c, slot);
        return;
    }
    const NexusId lun_nexus = lu_nexus_for(nx, cmd.lun);
    const Decision d = faults.decide(
        cmd.lun, cdb[0], NexusRef{nx.index, nx.host, nx.target_port, &nx.initiator}, now);
    // The command as it waits: for its delay, forever (held), or, executed with its answer lost, held
    // like a command that never completes (its data-out is spent then).
    auto make_pending = [&](bool with_data) {
        Pending p;
        p.id = next_pending++;
        p.conn_id = c.id;
        p.tag = cmd.tag;
        p.lun = cmd.lun;
        p.nexus_index = nx.index;
        p.lu_nexus = lun_nexus;
        p.cdb_len = cmd.cdb_len;
        p.cdb = cmd.cdb;
        if (with_data) p.data_out.assign(cmd.data_out.begin(), cmd.data_out.end());
        p.alloc_len = cmd.alloc_len;
        p.decision = d;
        p.arrival_ns = now;
        p.slot = slot;
        return p;
    };
    if (d.action != Decision::Action::hold && d.delay_ns == 0) {
        if (!execute(&c, cmd.tag, cmd.lun, nx, lun_nexus, cdb, cmd.data_out, cmd.alloc_len, d, slot,
                     now, 0)) {
            Pending p = make_pending(false);
            p.held = true;
            ++st_held;
            c.tags.emplace(cmd.tag, p.id);
            add_pending(std::move(p));
            return;
        }
        free_slot(c, slot);
        return;
    }
    Pending p = make_pending(true);
    if (d.action == Decision::Action::hold) {
        p.held = true;
        ++st_held;
    } else {
        ++st_delayed;
        heap.emplace_back(now + d.delay_ns, p.id);
        std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
    c.tags.emplace(cmd.tag, p.id);
    add_pending(std::move(p));
}

void Server::Impl::forget_pending(std::unordered_map<uint64_t, Pending>::iterator it) {
    Pending& p = it->second;
    if (p.held) --st_held;
    if (Conn* c = find_conn(p.conn_id)) {
        c->tags.erase(p.tag);
        free_slot(*c, p.slot);
    }
    erase_pending(it);
}

void Server::Impl::add_pending(Pending&& p) {
    if (p.lun >= pending_by_lun.size()) pending_by_lun.resize(p.lun + 1);
    pending_by_lun[p.lun].push_back(p.id);
    pending.emplace(p.id, std::move(p));
}

std::unordered_map<uint64_t, Pending>::iterator Server::Impl::erase_pending(
    std::unordered_map<uint64_t, Pending>::iterator it) {
    auto& ids = pending_by_lun[it->second.lun];
    ids.erase(std::find(ids.begin(), ids.end(), it->first));
    return pending.erase(it);
}

void Server::Impl::finish_pending(uint64_t pid, uint8_t flags) {
    auto it = pending.find(pid);
    if (it == pending.end()) return;
    Pending& p = it->second;
    Conn* c = find_conn(p.conn_id);
    ++st_aborted;
    if (c && !c->dead) {
        emit_trace(*nexuses[p.nexus_index], p.lun, p.slot, ByteView(p.cdb.data(), p.cdb_len),
                   p.data_out.empty() ? p.alloc_len : static_cast<uint32_t>(p.data_out.size()),
                   wire::sam::task_aborted, {}, p.arrival_ns);
        respond(c, p.tag, wire::sam::task_aborted, {}, {}, flags);
    }
    forget_pending(it);
}

void Server::Impl::abort_nexuses(uint32_t lun, const std::vector<NexusId>& victims,
                                 uint64_t except) {
    // SPC-4 5.13.11.2.4: the preempted nexuses' tasks in this LU's task set are aborted. With TAS=1
    // each aborted command is answered TASK ABORTED (the PREEMPT AND ABORT itself is not among
    // them).
    std::vector<uint64_t> ids;
    if (lun < pending_by_lun.size())
        for (uint64_t id : pending_by_lun[lun]) {
            const Pending& p = pending.at(id);
            if (id != except && std::find(victims.begin(), victims.end(), p.lu_nexus) != victims.end())
                ids.push_back(id);
        }
    std::sort(ids.begin(), ids.end());  // arrival order
    for (uint64_t id : ids) finish_pending(id, proto::kRespAbortedByPreempt);
}

void Server::Impl::handle_abort(Conn& c, uint64_t tag) {
    auto it = c.tags.find(tag);
    if (it == c.tags.end()) return;  // already answered (or never seen): nothing to abort
    finish_pending(it->second, proto::kRespAbortedByClient);
}

void Server::Impl::run_due(int64_t now) {
    while (!heap.empty() && heap.front().first <= now) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<>());
        const uint64_t pid = heap.back().second;
        heap.pop_back();
        auto it = pending.find(pid);
        if (it == pending.end()) continue;  // aborted or its client left
        // Take it out of the table while it executes, so that its own PREEMPT AND ABORT cannot
        // abort it.
        Pending p = std::move(it->second);
        erase_pending(it);
        Conn* c = find_conn(p.conn_id);
        if (!c || c->dead) continue;
        c->tags.erase(p.tag);
        NexusRec& nx = *nexuses[p.nexus_index];
        const bool answered =
            execute(c, p.tag, p.lun, nx, p.lu_nexus, ByteView(p.cdb.data(), p.cdb_len), p.data_out,
                    p.alloc_len, p.decision, p.slot, p.arrival_ns, p.id);
        c = find_conn(p.conn_id);  // still there: closing is deferred
        if (answered) {
            free_slot(*c, p.slot);
        } else {
            p.held = true;
            ++st_held;
            c->tags.emplace(p.tag, p.id);
            add_pending(std::move(p));
        }
    }
}

void Server::Impl::arm_timer() {
    int64_t due = heap.empty() ? 0 : std::max<int64_t>(heap.front().first, 1);
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

json Server::Impl::control_json(const json& req) {
    if (!req.is_object() || !req.contains("op") || !req["op"].is_string())
        return {{"ok", false}, {"error", "expected {\"op\": ...}"}};
    const std::string op = req["op"].get<std::string>();
    const int64_t now = mono_ns();
    if (op == "ping") return {{"ok", true}, {"version", proto::kMaxVersion}, {"luns", cfg.luns}};
    if (op == "arm") {
        if (!req.contains("fault")) return {{"ok", false}, {"error", "arm needs \"fault\""}};
        const json& f = req["fault"];
        auto spec = f.is_string() ? parse_fault(f.get<std::string>()) : fault_from_json(f);
        if (!spec) return {{"ok", false}, {"error", spec.error().msg}};
        const uint32_t id = faults.arm(std::move(spec).value(), now);
        return {{"ok", true}, {"id", id}};
    }
    if (op == "disarm") {
        if (req.contains("all") && req["all"].is_boolean() && req["all"].get<bool>())
            return {{"ok", true}, {"disarmed", faults.disarm_all()}};
        if (!req.contains("id") || !req["id"].is_number_unsigned())
            return {{"ok", false}, {"error", "disarm needs \"id\" or \"all\": true"}};
        const bool found = faults.disarm(req["id"].get<uint32_t>());
        if (!found)
            return {
                {"ok", false},
                {"error", "no armed fault with id " + std::to_string(req["id"].get<uint64_t>())}};
        return {{"ok", true}, {"disarmed", 1}};
    }
    if (op == "list") return {{"ok", true}, {"faults", faults.list(now)}};
    if (op == "stats") {
        json s;
        s["connections_accepted"] = st_accepted.load();
        s["connections_active"] = st_active.load();
        s["clients_cut_off"] = st_cut.load();
        s["commands"] = st_commands.load();
        s["responses"] = st_responses.load();
        s["delayed"] = st_delayed.load();
        s["held"] = st_held.load();
        s["aborted"] = st_aborted.load();
        s["nexuses"] = nexuses.size();
        s["luns"] = cfg.luns;
        s["faults_armed"] = faults.size();
        s["trace_dropped_events"] =
            (trace ? trace->dropped_events() : 0) + (dmesg ? dmesg->dropped_events() : 0);
        s["trace_written_bytes"] =
            (trace ? trace->written_bytes() : 0) + (dmesg ? dmesg->written_bytes() : 0);
        return {{"ok", true}, {"stats", s}};
    }
    if (op == "lose_pr") {
        // One-shot fault: the LUs lose their persistent reservation information (SPC-4 5.13.5.3.2).
        LunSet which;
        if (req.contains("luns")) {
            if (!req["luns"].is_string())
                return {{"ok", false}, {"error", "\"luns\" must be a string like \"0-9\""}};
            auto l = LunSet::parse(req["luns"].get<std::string>());
            if (!l) return {{"ok", false}, {"error", l.error().msg}};
            which = *l;
        }
        uint32_t n = 0;
        for (uint32_t l = 0; l < cfg.luns; ++l)
            if (which.contains(l)) {
                lus[l]->lose_persistent_reservations();
                ++n;
            }
        return {{"ok", true}, {"luns_affected", n}};
    }
    if (op == "nexuses") {
        json arr = json::array();
        for (const auto& n : nexuses)
            arr.push_back({{"initiator", wire::format_transport_id(n->initiator)},
                           {"target_port", n->target_port},
                           {"host", n->host},
                           {"channel", 0},
                           {"id", n->target_id},
                           {"first_disk", sd_disk_name(n->disk_base)}});
        return {{"ok", true}, {"nexuses", arr}};
    }
    return {
        {"ok", false},
        {"error", "unknown op \"" + op + "\" (ping, arm, disarm, list, stats, nexuses, lose_pr)"}};
}

void Server::Impl::handle_control(Conn& c, uint64_t tag, const std::string& body) {
    json req = json::parse(body, nullptr, /*allow_exceptions=*/false);
    json reply = req.is_discarded()
                     ? json{{"ok", false}, {"error", "control message is not valid JSON"}}
                     : control_json(req);
    proto::append_control_reply(c.out, tag, reply.dump(), c.version);
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
            return fail(Errc::system, sys_msg("epoll_wait"), errno);
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
        if (timer_fired || (!heap.empty() && heap.front().first <= mono_ns())) run_due(mono_ns());
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
        if (!paused_ids.empty()) check_stalls(mono_ns());
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
    s.delayed = impl_->st_delayed.load();
    s.held = impl_->st_held.load();
    s.aborted = impl_->st_aborted.load();
    s.trace_dropped_events = impl_->st_trace_dropped.load();
    return s;
}

}  // namespace prfence::sim
