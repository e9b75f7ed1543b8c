// SPDX-License-Identifier: MIT
#include "nl_control/daemon/daemon.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "nl_control/daemon/config.h"
#include "nl_control/daemon/notify.h"
#include "nl_control/daemon/stats.h"
#include "nl_control/daemon/worker.h"
#include "nl_control/protocol/message.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"
#include "uring_engine/common/unix_listener.h"
#include "uring_engine/policy/operations.h"
#include "uring_engine/transport/transport.h"

namespace prfence::daemon {
namespace {

// epoll data for the fixed descriptors; clients get ids from kFirstClient up.
constexpr uint64_t kListenId = 1;
constexpr uint64_t kEventId = 2;
constexpr uint64_t kSignalId = 3;
constexpr uint64_t kFirstClient = 16;
// Datagrams read from one client per wakeup, so that a chatty client cannot starve the others.

uint64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// The header to echo for a datagram nobody could split: whatever its first 16 bytes say, if it has
// them.
nl::Header raw_header(ByteView d) {
    nl::Header h;
    h.seq = 0;
    if (d.size() >= sizeof(nlmsghdr)) {
        nlmsghdr nh{};
        std::memcpy(&nh, d.data(), sizeof nh);
        h.type = nh.nlmsg_type;
        h.flags = nh.nlmsg_flags;
        h.seq = nh.nlmsg_seq;
        h.pid = nh.nlmsg_pid;
    }
    return h;
}

// Supplementary groups of a peer, from /proc (SO_PEERCRED carries only the primary gid).
std::vector<gid_t> peer_groups(pid_t pid) {
    std::vector<gid_t> out;
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Groups:", 0) != 0) continue;
        std::istringstream ss(line.substr(7));
        unsigned long g;
        while (ss >> g) out.push_back(static_cast<gid_t>(g));
        break;
    }
    return out;
}

Result<gid_t> lookup_group(const std::string& name) {
    if (!name.empty() &&
        std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return static_cast<gid_t>(std::stoul(name));
    std::vector<char> buf(16384);
    group gr{};
    group* res = nullptr;
    int r = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res);
    if (r != 0) return fail_with_errno(r, "socket group \"", name, "\"");
    if (!res)
        return fail(
            Errc::not_found,
            "socket group \"" + name + "\" does not exist (groupadd it, or change --socket-group)");
    return res->gr_gid;
}

bool is_job(uint8_t cmd) {
    switch (cmd) {
        case nl::CMD_GROUP_CREATE:
        case nl::CMD_GROUP_ADD:
        case nl::CMD_GROUP_REMOVE:
        case nl::CMD_GROUP_DELETE:
        case nl::CMD_GROUP_REFRESH:
        case nl::CMD_RUN:
            return true;
        default:
            return false;
    }
}

Job::Kind job_kind(uint8_t cmd) {
    switch (cmd) {
        case nl::CMD_GROUP_CREATE:
            return Job::Kind::create;
        case nl::CMD_GROUP_ADD:
            return Job::Kind::add;
        case nl::CMD_GROUP_REMOVE:
            return Job::Kind::remove;
        case nl::CMD_GROUP_DELETE:
            return Job::Kind::del;
        case nl::CMD_GROUP_REFRESH:
            return Job::Kind::refresh;
        default:
            return Job::Kind::run;
    }
}

}  // namespace

struct Daemon::Impl {
    struct Client {
        UniqueFd fd;
        uid_t uid = 0;
        gid_t gid = 0;
        pid_t pid = 0;
        bool authorized = false;
        bool subscribed = false;
        uint32_t event_mask = ~0u;
        std::deque<Bytes> out;
        size_t out_bytes = 0;
        uint32_t epoll_mask = 0;
    };

    DaemonOptions opt;
    Config config;  // as loaded (socket settings; groups are the engine's)
    std::string socket_path;
    std::string group_name;  // "" = only root
    std::optional<gid_t> socket_gid;
    UnixListener listener;  // closing it removes the socket file
    UniqueFd epoll_fd, event_fd, signal_fd;

    std::atomic<bool> stop_requested{false}, reload_requested{false}, cancel{false},
        is_ready{false};
    std::unique_ptr<EngineWorker> engine;
    std::unordered_map<uint64_t, Client> clients;
    uint64_t next_id = kFirstClient;
    StatsTable stats;
    uint64_t start_ns = engine::now_ns();
    uint64_t subscribers_dropped = 0;
    bool stopping = false, engine_exited = false;
    uint64_t flush_deadline = 0;
    // Apply jobs in flight without a client to answer (startup, SIGHUP): READY=1 follows each.
    unsigned pending_apply = 0;
    Bytes rbuf;
    uint64_t last_activity_ns = 0;  // the last epoll round that had work: busy-poll runs from it

    ~Impl();
    void log(const std::string& line) const {
        if (opt.log) opt.log(line);
    }
    void wake();

    // ---- socket setup

    Status bind_socket();
    Status setup_loop();
    Status add_fd(int fd, uint64_t id, uint32_t events);

    // ---- clients

    void accept_clients();
    bool authorized(const ucred& cred) const;
    void close_client(uint64_t id);
    bool over_bound(const Client& c) const;
    void update_mask(uint64_t id, Client& c);
    void queue(Client& c, Bytes msg);
    // Sends what the socket takes now. Returns false when the peer is gone (the caller closes it).
    bool flush(uint64_t id, Client& c);
    void flush_or_close(uint64_t id);
    void read_client(uint64_t id);
    void handle_datagram(uint64_t id, Client& c, ByteView d, uint64_t t0);
    void answer_error(Client& c, const nl::Header& h, int err, const std::string& msg,
                      uint32_t offset = 0);
    void ack_if_asked(Client& c, const nl::Header& h);
    void handle_message(uint64_t id, Client& c, ByteView m, uint64_t t0);
    bool group_list(Client& c, const nl::Request& req);
    nl::Health health() const;

    // ---- events

    void publish_event(const nl::Event& ev);
    void drop_subscriber(uint64_t id);

    // ---- engine completions

    void drain_completions();
    void answer_completion(Completion& done);
    void finish_apply(Completion& done);
    Status start_reload(uint64_t client, const nl::Header& h);

    // ---- signals and shutdown

    void read_signals();
    void read_eventfd();
    void begin_shutdown(const char* why);
    bool queues_empty() const;
    Status loop();
};

Daemon::Impl::~Impl() {
    if (engine) {
        cancel.store(true);
        engine->shutdown();
        engine.reset();
    }
}

void Daemon::Impl::wake() {
    const uint64_t one = 1;
    // A full counter (never, in practice) already means "wake up".
    [[maybe_unused]] ssize_t n = ::write(event_fd.get(), &one, sizeof one);
}

// ---- socket setup

Status Daemon::Impl::bind_socket() {
    UnixListenerOptions lo;
    lo.path = socket_path;
    lo.type = SOCK_SEQPACKET;
    lo.who = "prfenced";
    lo.parent_mode = 0755;
    lo.mode = opt.socket_mode ? *opt.socket_mode : config.socket_mode.value_or(0660);
    lo.gid = socket_gid;
    lo.group_name = group_name;
    PRF_TRY_ASSIGN(listener, UnixListener::bind(lo));
    return {};
}

Status Daemon::Impl::setup_loop() {
    epoll_fd.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_fd) return fail_errno("epoll_create1");
    event_fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!event_fd) return fail_errno("eventfd");
    PRF_TRY(add_fd(listener.fd(), kListenId, EPOLLIN));
    PRF_TRY(add_fd(event_fd.get(), kEventId, EPOLLIN));
    if (opt.handle_signals) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        signal_fd.reset(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
        if (!signal_fd) return fail_errno("signalfd");
        PRF_TRY(add_fd(signal_fd.get(), kSignalId, EPOLLIN));
    }
    return {};
}

Status Daemon::Impl::add_fd(int fd, uint64_t id, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return fail_errno("epoll_ctl");
    return {};
}

// ---- clients

void Daemon::Impl::accept_clients() {
    for (;;) {
        UniqueFd fd(::accept4(listener.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EINTR) continue;
            return;  // EAGAIN, or a transient error (EMFILE): the next readiness retries
        }
        if (clients.size() >= opt.max_clients) continue;  // closed: over the limit
        ucred cred{};
        socklen_t len = sizeof cred;
        Client c;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            c.uid = cred.uid;
            c.gid = cred.gid;
            c.pid = cred.pid;
            c.authorized = authorized(cred);
        }
        const uint64_t id = next_id++;
        c.epoll_mask = EPOLLIN;
        if (!add_fd(fd.get(), id, EPOLLIN)) continue;
        c.fd = std::move(fd);
        clients.emplace(id, std::move(c));
    }
}

bool Daemon::Impl::authorized(const ucred& cred) const {
    if (cred.uid == 0) return true;
    if (!socket_gid) return false;
    if (cred.gid == *socket_gid) return true;
    for (gid_t g : peer_groups(cred.pid))
        if (g == *socket_gid) return true;
    return false;
}

void Daemon::Impl::close_client(uint64_t id) {
    auto it = clients.find(id);
    if (it == clients.end()) return;
    ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
    clients.erase(it);
}

bool Daemon::Impl::over_bound(const Client& c) const {
    return c.out.size() >= opt.client_max_messages || c.out_bytes >= opt.client_max_bytes;
}

void Daemon::Impl::update_mask(uint64_t id, Client& c) {
    uint32_t want = 0;
    if (!over_bound(c)) want |= EPOLLIN;  // backpressure: a client that does not read is not read
    if (!c.out.empty()) want |= EPOLLOUT;
    if (want == c.epoll_mask) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = id;
    ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    c.epoll_mask = want;
}

void Daemon::Impl::queue(Client& c, Bytes msg) {
    c.out_bytes += msg.size();
    c.out.push_back(std::move(msg));
}

bool Daemon::Impl::flush(uint64_t id, Client& c) {
    while (!c.out.empty()) {
        const Bytes& m = c.out.front();
        ssize_t n = ::send(c.fd.get(), m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return false;
        }
        c.out_bytes -= m.size();
        c.out.pop_front();
    }
    update_mask(id, c);
    return true;
}

void Daemon::Impl::flush_or_close(uint64_t id) {
    auto it = clients.find(id);
    if (it != clients.end() && !flush(id, it->second)) close_client(id);
}

void Daemon::Impl::read_client(uint64_t id) {
    for (;;) {  // again only after EINTR
        auto it = clients.find(id);
        if (it == clients.end()) return;
        Client& c = it->second;
        if (over_bound(c)) return;
        ssize_t n = ::recv(c.fd.get(), rbuf.data(), rbuf.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            close_client(id);
            return;
        }
        if (n == 0) {  // orderly shutdown by the peer
            close_client(id);
            return;
        }
        const uint64_t t0 = engine::now_ns();
        if (static_cast<size_t>(n) > nl::kMaxDatagram) {
            const ByteView head(rbuf.data(), std::min(rbuf.size(), sizeof(nlmsghdr)));
            queue(c, nl::encode_ack(raw_header(head), EMSGSIZE,
                                    "datagram of " + std::to_string(n) +
                                        " bytes exceeds the limit of " +
                                        std::to_string(nl::kMaxDatagram)));
        } else {
            handle_datagram(id, c, ByteView(rbuf.data(), static_cast<size_t>(n)), t0);
        }
        // The client may have been dropped while handling (a CONFLICT's event overflowing itself).
        it = clients.find(id);
        if (it == clients.end()) return;
        if (!flush(id, it->second)) close_client(id);
        // One datagram per readiness: epoll (level-triggered) reports the socket again if more are
        // queued, and the common single request is spared a recv() that would only say EAGAIN.
        return;
    }
}

void Daemon::Impl::handle_datagram(uint64_t id, Client& c, ByteView d, uint64_t t0) {
    auto parts = nl::split_datagram(d);
    if (!parts) {
        // Nothing in a datagram that does not tile is executed; the connection stays usable.
        queue(c, nl::encode_ack(raw_header(d), EINVAL, parts.error().msg));
        stats.record("control", engine::now_ns() - t0, true);
        return;
    }
    for (ByteView m : *parts) {
        if (!clients.count(id)) return;
        handle_message(id, c, m, t0);
    }
}

void Daemon::Impl::answer_error(Client& c, const nl::Header& h, int err, const std::string& msg,
                                uint32_t offset) {
    queue(c, nl::encode_ack(h, err, msg, offset));
}

void Daemon::Impl::ack_if_asked(Client& c, const nl::Header& h) {
    if (h.flags & NLM_F_ACK) queue(c, nl::encode_ack(h, 0));
}

void Daemon::Impl::handle_message(uint64_t id, Client& c, ByteView m, uint64_t t0) {
    auto d = nl::decode_request(m);
    if (!d.ok()) {
        const Error& e = d.error();
        answer_error(c, nl::peek_header(m).value_or(raw_header(m)),
                     e.sys_errno ? e.sys_errno : EINVAL, e.msg, e.offset);
        stats.record("control", engine::now_ns() - t0, true);
        return;
    }
    nl::Request& req = *d;
    const nl::Header& h = req.hdr;
    const uint8_t cmd = h.cmd;
    if (!c.authorized && cmd != nl::CMD_GET_FAMILY && cmd != nl::CMD_NOOP) {
        answer_error(
            c, h, EPERM,
            "permission denied: uid " + std::to_string(c.uid) + " is neither root nor in group " +
                (group_name.empty() ? std::string("(no socket group is configured)") : group_name));
        stats.record("control", engine::now_ns() - t0, true);
        return;
    }
    if (is_job(cmd)) {
        if (stopping) {
            answer_error(c, h, ECANCELED, "prfenced is shutting down; the request was not started");
            return;
        }
        Job job;
        job.kind = job_kind(cmd);
        job.client = id;
        job.received_ns = t0;
        job.req = std::move(req);
        engine->submit(std::move(job));
        return;
    }
    bool failed = false;
    switch (cmd) {
        case nl::CMD_GET_FAMILY:
            queue(c, nl::encode_family(h));
            ack_if_asked(c, h);
            break;
        case nl::CMD_NOOP:
            queue(c, nl::encode_ack(h, 0));
            break;
        case nl::CMD_HEALTH:
            queue(c, nl::encode_health(h, health()));
            ack_if_asked(c, h);
            break;
        case nl::CMD_STATS:
            queue(c, nl::encode_stats(h, stats.snapshot()));
            ack_if_asked(c, h);
            if (req.flags & nl::STATS_RESET) stats.reset();
            break;
        case nl::CMD_GROUP_LIST:
            failed = !group_list(c, req);
            break;
        case nl::CMD_SUBSCRIBE:
            c.subscribed = true;
            c.event_mask = req.event_mask.value_or(~0u);
            queue(c, nl::encode_ack(h, 0));
            break;
        case nl::CMD_UNSUBSCRIBE:
            c.subscribed = false;
            queue(c, nl::encode_ack(h, 0));
            break;
        case nl::CMD_CONFLICT: {
            queue(c, nl::encode_ack(h, 0));
            if (req.conflict) {
                nl::Event ev;
                ev.kind = nl::EVENT_CONFLICT;
                ev.time_ns = realtime_ns();
                ev.conflict = *req.conflict;
                ev.text = req.conflict->text;
                publish_event(ev);
            }
            break;
        }
        case nl::CMD_RELOAD: {
            auto r = start_reload(id, h);
            if (!r) {
                answer_error(c, h, errno_of(r.error()), r.error().msg);
                failed = true;
            }
            break;
        }
        default:
            answer_error(c, h, EOPNOTSUPP,
                         "command " + std::to_string(cmd) + " is not a request prfenced serves");
            failed = true;
            break;
    }
    stats.record("control", engine::now_ns() - t0, failed);
}

bool Daemon::Impl::group_list(Client& c, const nl::Request& req) {
    const auto groups = engine->groups();
    const nl::Header& h = req.hdr;
    if (!req.group.empty() && !(h.flags & NLM_F_DUMP)) {
        for (const auto& g : groups)
            if (g.name == req.group) {
                queue(c, nl::encode_group_info(h, g, false));
                ack_if_asked(c, h);
                return true;
            }
        answer_error(c, h, ENOENT, "no group \"" + req.group + "\"");
        return false;
    }
    for (const auto& g : groups)
        if (req.group.empty() || g.name == req.group) queue(c, nl::encode_group_info(h, g, true));
    queue(c, nl::encode_done(h, 0));
    return true;
}

nl::Health Daemon::Impl::health() const {
    nl::Health hl;
    hl.uptime_ns = engine::now_ns() - start_ns;
    hl.pid = static_cast<uint32_t>(::getpid());
    hl.version = opt.version;
    for (const auto& g : engine->groups()) {
        ++hl.groups;
        hl.luns += g.luns;
        hl.paths_open += g.paths_open;
    }
    hl.clients = static_cast<uint32_t>(clients.size());
    for (const auto& [id, c] : clients)
        if (c.subscribed) ++hl.subscribers;
    hl.batches_running = engine->busy() ? 1 : 0;
    hl.batches_queued = static_cast<uint32_t>(engine->queued());
    hl.subscribers_dropped = subscribers_dropped;
    hl.config = opt.config_path;
    return hl;
}

// ---- events

void Daemon::Impl::publish_event(const nl::Event& ev) {
    const uint32_t bit = 1u << ev.kind;
    std::optional<Bytes> msg;
    std::vector<uint64_t> to_drop, to_flush;
    for (auto& [id, c] : clients) {
        if (!c.subscribed || !(c.event_mask & bit)) continue;
        if (!msg) msg = nl::encode_event(ev);
        if (over_bound(c) || c.out_bytes + msg->size() > opt.client_max_bytes) {
            to_drop.push_back(id);
            continue;
        }
        queue(c, *msg);
        to_flush.push_back(id);
    }
    for (uint64_t id : to_flush) flush_or_close(id);
    for (uint64_t id : to_drop) drop_subscriber(id);
}

void Daemon::Impl::drop_subscriber(uint64_t id) {
    auto it = clients.find(id);
    if (it == clients.end()) return;
    Client& c = it->second;
    const std::string why = "subscriber dropped: " + std::to_string(c.out.size()) + " messages (" +
                            std::to_string(c.out_bytes) + " bytes) unread, limit " +
                            std::to_string(opt.client_max_messages) + " messages / " +
                            std::to_string(opt.client_max_bytes) + " bytes";
    nl::Event ev;
    ev.kind = nl::EVENT_DROPPED;
    ev.time_ns = realtime_ns();
    ev.text = why;
    const Bytes m = nl::encode_event(ev);
    // Best effort: a subscriber that stopped reading most likely has a full socket too.
    (void)::send(c.fd.get(), m.data(), m.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ++subscribers_dropped;
    log("uid " + std::to_string(c.uid) + " pid " + std::to_string(c.pid) + ": " + why);
    close_client(id);
}

// ---- engine completions

void Daemon::Impl::drain_completions() {
    for (Completion& done : engine->take_completions()) {
        if (done.exited) {
            engine_exited = true;
            continue;
        }
        if (done.kind == Job::Kind::apply) {
            finish_apply(done);
        } else {
            answer_completion(done);
        }
        for (const auto& ev : done.events) publish_event(ev);
        if (done.summary) {
            nl::Event ev;
            ev.kind = nl::EVENT_OP_DONE;
            ev.time_ns = realtime_ns();
            ev.group = done.summary->group;
            ev.summary = *done.summary;
            publish_event(ev);
        }
    }
}

void Daemon::Impl::answer_completion(Completion& done) {
    if (!done.partial) {  // LUN results of a batch still running are counted when it ends
        const uint64_t now = engine::now_ns();
        std::string name;
        switch (done.kind) {
            case Job::Kind::run:
                // An operation refused before it ran (unknown group, bad values) counts under
                // "run".
                name = done.summary && done.summary->operation
                           ? engine::operation_name(*done.summary->operation)
                           : "run";
                break;
            case Job::Kind::refresh:
                name = "refresh";
                break;
            default:
                name = "group";
                break;
        }
        const bool failed = done.err != 0 || (done.summary && done.summary->batch.failed > 0);
        stats.record(name, now - done.received_ns, failed);
    }

    auto it = clients.find(done.client);
    if (it == clients.end()) return;  // the asker left: nothing waits for it
    Client& c = it->second;
    if (done.err) {
        answer_error(c, done.hdr, done.err, done.err_msg);
    } else if (!done.parts.empty()) {
        for (auto& part : done.parts) queue(c, std::move(part));
    } else if (done.group) {
        queue(c, nl::encode_group_info(done.hdr, *done.group, false));
        ack_if_asked(c, done.hdr);
    } else {
        queue(c, nl::encode_ack(done.hdr, 0));
    }
    flush_or_close(done.client);
}

void Daemon::Impl::finish_apply(Completion& done) {
    for (const auto& n : done.notes) log(n);
    if (done.client) {
        auto it = clients.find(done.client);
        if (it != clients.end()) {
            queue(it->second, nl::encode_ack(done.hdr, 0));
            flush_or_close(done.client);
        }
    }
    if (pending_apply > 0 && --pending_apply == 0 && !stopping) {
        const bool first = !is_ready.exchange(true);
        if (first)
            log("ready: " + std::to_string(engine->groups().size()) + " groups, socket " +
                socket_path);
        else
            log("configuration reloaded");
        (void)sd_notify_state("READY=1\nMAINPID=" + std::to_string(::getpid()));
    }
}

Status Daemon::Impl::start_reload(uint64_t client, const nl::Header& h) {
    if (opt.config_path.empty())
        return fail(Errc::invalid_argument, "prfenced runs without --config: nothing to reload");
    if (stopping) return fail(Errc::cancelled, "prfenced is shutting down");
    bool missing = false;
    auto cfg = load_config(opt.config_path, &missing);
    if (!cfg)
        return fail(Errc::invalid_argument,
                    cfg.error().msg + " (the current groups stay as they are)");
    // An empty configuration would delete every group: a file that vanished is a mistake, not an
    // intent.
    if (missing)
        return fail(Errc::not_found,
                    opt.config_path + ": does not exist (the current groups stay as they are)");
    if (cfg->socket != config.socket || cfg->socket_group != config.socket_group ||
        cfg->socket_mode != config.socket_mode)
        log("reload: socket settings change only at restart");
    cfg->socket = config.socket;
    cfg->socket_group = config.socket_group;
    cfg->socket_mode = config.socket_mode;
    (void)sd_notify_state("RELOADING=1");
    Job job;
    job.kind = Job::Kind::apply;
    job.client = client;
    job.req.hdr = h;
    job.received_ns = engine::now_ns();
    job.config = std::move(*cfg);
    ++pending_apply;
    engine->submit(std::move(job));
    return {};
}

// ---- signals and shutdown

void Daemon::Impl::read_signals() {
    signalfd_siginfo si{};
    while (::read(signal_fd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo == SIGHUP) {
            auto r = start_reload(0, nl::Header{});
            if (!r) log("SIGHUP: " + r.error().msg);
        } else {
            begin_shutdown(si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        }
    }
}

void Daemon::Impl::read_eventfd() {
    uint64_t v;
    [[maybe_unused]] ssize_t n = ::read(event_fd.get(), &v, sizeof v);
    if (reload_requested.exchange(false)) {
        auto r = start_reload(0, nl::Header{});
        if (!r) log("reload: " + r.error().msg);
    }
    if (stop_requested.load()) begin_shutdown("stop requested");
    drain_completions();
}

void Daemon::Impl::begin_shutdown(const char* why) {
    if (stopping) return;
    stopping = true;
    (void)sd_notify_state("STOPPING=1");
    const size_t queued = engine->queued();
    log(std::string(why) + ": stopping (" +
        (engine->busy() ? "cancelling the running batch, " : "") + std::to_string(queued) +
        " queued requests cancelled)");
    if (listener) {
        ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, listener.fd(), nullptr);
        listener.close();
    }
    cancel.store(true);
    engine->shutdown();
}

bool Daemon::Impl::queues_empty() const {
    for (const auto& [id, c] : clients)
        if (!c.out.empty()) return false;
    return true;
}

Status Daemon::Impl::loop() {
    std::vector<epoll_event> evs(256);
    for (;;) {
        int timeout = -1;
        if (stopping && engine_exited) {
            if (flush_deadline == 0)
                flush_deadline = engine::now_ns() +
                                 static_cast<uint64_t>(opt.flush_timeout.count()) * 1000000ull;
            const uint64_t now = engine::now_ns();
            if (queues_empty() || now >= flush_deadline) return {};
            timeout =
                static_cast<int>(std::min<uint64_t>((flush_deadline - now) / 1000000 + 1, 100));
        }
        // Spin within the busy-poll window after the last activity, then sleep. Not while a batch
        // runs: the engine thread (and a sim farm's emulator) need the CPUs then, and on a two-CPU
        // machine a spinning control thread takes one of them from the fence it is waiting for.
        const bool spin = timeout == -1 && last_activity_ns != 0 && !engine->busy() &&
                          engine::now_ns() - last_activity_ns <
                              static_cast<uint64_t>(opt.busy_poll.count()) * 1000ull;
        int n = ::epoll_wait(epoll_fd.get(), evs.data(), static_cast<int>(evs.size()),
                             spin ? 0 : timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("epoll_wait");
        }
        if (n > 0) last_activity_ns = engine::now_ns();
        for (int i = 0; i < n; ++i) {
            const uint64_t id = evs[static_cast<size_t>(i)].data.u64;
            const uint32_t e = evs[static_cast<size_t>(i)].events;
            if (id == kListenId) {
                if (listener) accept_clients();
            } else if (id == kEventId) {
                read_eventfd();
            } else if (id == kSignalId) {
                read_signals();
            } else {
                if (!clients.count(id)) continue;  // closed earlier in this round
                if (e & EPOLLOUT) flush_or_close(id);
                if (!clients.count(id)) continue;
                if (e & EPOLLIN)
                    read_client(id);
                else if (e & (EPOLLHUP | EPOLLERR))
                    close_client(id);
            }
        }
    }
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::create(DaemonOptions opt) {
    auto impl = std::make_unique<Impl>();
    impl->opt = std::move(opt);
    if (!impl->opt.config_path.empty()) {
        bool missing = false;
        PRF_TRY_ASSIGN(impl->config, load_config(impl->opt.config_path, &missing));
        if (missing)
            impl->log(impl->opt.config_path + ": does not exist yet; starting with no groups");
    }
    impl->socket_path = !impl->opt.socket_path.empty() ? impl->opt.socket_path
                        : !impl->config.socket.empty() ? impl->config.socket
                                                       : std::string(nl::kDefaultSocket);
    impl->group_name = impl->opt.socket_group ? *impl->opt.socket_group : impl->config.socket_group;
    if (!impl->group_name.empty()) {
        PRF_TRY_ASSIGN(impl->socket_gid, lookup_group(impl->group_name));
    }
    impl->rbuf.resize(nl::kMaxDatagram + 1);
    PRF_TRY(impl->bind_socket());
    PRF_TRY(impl->setup_loop());
    return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Status Daemon::run() {
    Impl& d = *impl_;
    EngineWorker::Options eo;
    eo.config_path = d.opt.config_path;
    eo.cancel = &d.cancel;
    eo.wake = [&d] { d.wake(); };
    d.engine = std::make_unique<EngineWorker>(std::move(eo));
    d.engine->start();
    // The configured groups open on the engine thread; the socket already answers NOOP and HEALTH.
    Job startup;
    startup.kind = Job::Kind::apply;
    startup.config = d.config;
    startup.received_ns = engine::now_ns();
    ++d.pending_apply;
    d.engine->submit(std::move(startup));
    if (d.stop_requested.load()) d.begin_shutdown("stop requested");
    Status st = d.loop();
    if (!d.stopping) d.begin_shutdown("event loop failed");
    d.engine.reset();  // joins the engine thread
    d.clients.clear();
    return st;
}

void Daemon::stop() noexcept {
    impl_->stop_requested.store(true);
    impl_->wake();
}

void Daemon::reload() noexcept {
    impl_->reload_requested.store(true);
    impl_->wake();
}

bool Daemon::ready() const noexcept { return impl_->is_ready.load(); }

const std::string& Daemon::socket_path() const { return impl_->socket_path; }

Status block_daemon_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (int r = pthread_sigmask(SIG_BLOCK, &set, nullptr); r != 0)
        return fail_with_errno(r, "pthread_sigmask");
    // A client that hangs up mid-answer must not kill the daemon (send uses MSG_NOSIGNAL; this is
    // the belt to those braces).
    ::signal(SIGPIPE, SIG_IGN);
    return {};
}

Status make_realtime(int priority) {
    if (priority < 1 || priority > 99)
        return fail(Errc::invalid_argument,
                    "realtime priority " + std::to_string(priority) + " is outside 1-99", EINVAL);
    if (::mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
        Error e = errno_error(Errc::system, errno, "mlockall");
        e.msg += " (needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK)";
        return fail(std::move(e));
    }
    sched_param sp{};
    sp.sched_priority = priority;
    if (int r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp); r != 0) {
        ::munlockall();
        Error e = errno_error(Errc::system, r, "SCHED_FIFO");
        e.msg += " (needs CAP_SYS_NICE or RLIMIT_RTPRIO)";
        return fail(std::move(e));
    }
    return {};
}

}  // namespace prfence::daemon
