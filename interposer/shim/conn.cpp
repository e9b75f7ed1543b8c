// SPDX-License-Identifier: MIT
#include "interposer/shim/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <condition_variable>

#include "interposer/shim/real.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/simproto/sim_client.h"

namespace prfence::shim {
namespace {

constexpr int kInternalUaRetries = 5;  // the midlayer's retries for a unit attention on block I/O

// The unit attention a new I_T nexus starts with (29h/xx POWER ON, RESET, ...; LIO 3Fh/0Eh).
bool initial_ua(const std::vector<uint8_t>& s) {
    uint8_t key = 0, asc = 0, ascq = 0;
    if (s.size() >= 14 && (s[0] & 0x7e) == 0x70) {
        key = s[2] & 0x0f, asc = s[12], ascq = s[13];
    } else if (s.size() >= 4 && (s[0] & 0x7e) == 0x72) {
        key = s[1] & 0x0f, asc = s[2], ascq = s[3];
    } else {
        return false;
    }
    return key == 0x06 && (asc == 0x29 || (asc == 0x3f && ascq == 0x0e));
}

bool is_ua(const std::vector<uint8_t>& s) {
    if (s.size() >= 3 && (s[0] & 0x7e) == 0x70) return (s[2] & 0x0f) == 0x06;
    if (s.size() >= 2 && (s[0] & 0x7e) == 0x72) return (s[1] & 0x0f) == 0x06;
    return false;
}

std::string client_name() {
    char comm[32] = "";
    // program_invocation_short_name is glibc's; the pid tells the daemon's log lines apart.
    std::snprintf(comm, sizeof comm, "shim:%.16s[%d]", program_invocation_short_name,
                  static_cast<int>(::getpid()));
    for (char* c = comm; *c; ++c)
        if (*c < 0x20 || *c > 0x7e) *c = '?';
    return comm;
}

}  // namespace

int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

Conn* Conn::open(const Config& cfg, std::string& err) {
    if (!cfg.problem.empty() && cfg.socket.empty()) {
        err = cfg.problem;
        return nullptr;
    }
    auto hello = proto::make_hello(cfg.initiator, cfg.target_port, client_name());
    hello.max_version = proto::kVersion2;
    // A host NQN the protocol cannot carry (its problem is reported) leaves the process without
    // NVMe nodes rather than without any.
    if (!cfg.hostnqn.empty() && cfg.hostnqn.size() <= proto::kMaxHostNqnLen)
        hello.nvme_host = proto::NvmeHost{cfg.hostid, cfg.hostnqn};
    auto client = sim::SimClient::connect(cfg.socket, hello, cfg.connect_timeout_ms);
    if (!client) {
        err = client.error().msg;
        return nullptr;
    }
    // The handshake is SimClient's; from here on the reader thread owns the socket, so keep a
    // blocking duplicate and let the client close its own descriptor.
    int fd = ::fcntl((*client)->fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        err = errno_message("dup", errno);
        return nullptr;
    }
    int fl = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    // A daemon that stops reading (SIGSTOP) must not hang a writer forever: a send that cannot
    // complete within this time kills the connection, and its requests fail with DID_NO_CONNECT.
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake < 0) {
        err = errno_message("eventfd", errno);
        ::close(fd);
        return nullptr;
    }
    // Never deleted: a reader thread may outlive every user, and nothing in this library runs
    // destructors at exit while other threads still call in.
    Conn* c = new Conn();
    c->fd_ = fd;
    c->wake_fd_ = wake;
    c->ack_ = (*client)->info();
    c->absorb_initial_ua_ = cfg.absorb_initial_ua;
    c->socket_ = cfg.socket;
    c->seen_.assign(c->ack_.lun_count, 0);

    // The reader must not take the program's signals: block them all while it is created.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t th;
    int rc = pthread_create(&th, &attr, &Conn::reader_main, c);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (rc != 0) {
        err = errno_message("pthread_create", rc);
        ::close(fd);
        ::close(wake);
        return nullptr;  // c is leaked deliberately (small, and never reachable)
    }
    return c;
}

bool Conn::dead() const {
    std::lock_guard lk(mu_);
    return dead_;
}

std::string Conn::death_reason() const {
    std::lock_guard lk(mu_);
    return death_;
}

void Conn::abandon_in_child() {
    // Locks may be held by parent threads that do not exist here: touch nothing but our fds.
    PRSIM_REAL(close)(fd_);
    PRSIM_REAL(close)(wake_fd_);
}

void Conn::finish(Request* r, Outcome&& o) {
    o.duration_ms = static_cast<uint32_t>((now_ns() - r->start_ns) / 1000000);
    Done d = std::move(r->done);
    delete r;
    d(std::move(o));
}

bool Conn::send_frame(const std::vector<uint8_t>& frame) {
    std::lock_guard lk(send_mu_);
    size_t off = 0;
    while (off < frame.size()) {
        ssize_t n = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        // A partial frame would desynchronise the stream: the connection is over.
        ::shutdown(fd_, SHUT_RDWR);
        return false;
    }
    return true;
}

void Conn::enqueue(Request* r) {
    std::vector<uint8_t> frame;
    bool wake = false;
    std::unique_lock lk(mu_);
    if (dead_) {
        lk.unlock();
        Outcome o;
        o.host = kDidNoConnect;
        finish(r, std::move(o));
        return;
    }
    r->tag = next_tag_++;
    auto st = r->cmd.is_nvme
                  ? proto::append_nvme_command(frame, r->tag, r->cmd.nvme, ack_.version)
                  : proto::append_command(frame, r->tag, r->cmd.lun, {r->cmd.cdb, r->cmd.cdb_len},
                                          r->cmd.data_out, r->cmd.alloc_len, ack_.version);
    if (!st) {
        lk.unlock();
        Outcome o;
        o.host = kDidError;
        finish(r, std::move(o));
        return;
    }
    wake = pending_.empty();
    pending_.emplace(r->tag, r);
    deadlines_.emplace(r->deadline_ns, r->tag);
    lk.unlock();
    if (wake) {
        uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof one);
    }
    if (!send_frame(frame)) die(errno_message("sending to prsim failed", errno));
}

void Conn::submit(const Command& cmd, UaPolicy policy, Done done) {
    auto* r = new Request();
    r->cmd = cmd;
    r->policy = policy;
    r->ua_retries = policy == UaPolicy::internal ? kInternalUaRetries : 0;
    r->start_ns = now_ns();
    r->deadline_ns = r->start_ns + int64_t{cmd.timeout_ms} * 1000000;
    r->done = std::move(done);
    enqueue(r);
}

Outcome Conn::execute(const Command& cmd, UaPolicy policy) {
    struct Waiter {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        Outcome out;
    };
    auto w = std::make_shared<Waiter>();
    submit(cmd, policy, [w](Outcome&& o) {
        std::lock_guard lk(w->m);
        w->out = std::move(o);
        w->done = true;
        w->cv.notify_one();
    });
    std::unique_lock lk(w->m);
    w->cv.wait(lk, [&] { return w->done; });
    return std::move(w->out);
}

void* Conn::reader_main(void* self) {
    static_cast<Conn*>(self)->reader_loop();
    return nullptr;
}

void Conn::die(const std::string& why) {
    std::vector<Request*> all;
    {
        std::lock_guard lk(mu_);
        if (!dead_) {
            dead_ = true;
            death_ = why;
        }
        for (auto& [tag, r] : pending_) all.push_back(r);
        pending_.clear();
        deadlines_.clear();
    }
    ::shutdown(fd_, SHUT_RDWR);
    for (Request* r : all) {
        Outcome o;
        o.host = kDidNoConnect;
        finish(r, std::move(o));
    }
}

void Conn::expire(int64_t now) {
    std::vector<Request*> late;
    {
        std::lock_guard lk(mu_);
        while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
            uint64_t tag = deadlines_.begin()->second;
            deadlines_.erase(deadlines_.begin());
            auto it = pending_.find(tag);
            if (it == pending_.end()) continue;
            late.push_back(it->second);
            pending_.erase(it);
        }
    }
    for (Request* r : late) {
        // As the error handler does: abort the command at the target, report DID_TIME_OUT.
        std::vector<uint8_t> frame;
        proto::append_abort(frame, r->tag, ack_.version);
        if (!send_frame(frame)) die("sending to prsim failed");
        Outcome o;
        o.host = kDidTimeOut;
        finish(r, std::move(o));
    }
}

void Conn::on_rejected(uint64_t tag) {
    Request* r = nullptr;
    {
        std::lock_guard lk(mu_);
        auto it = pending_.find(tag);
        if (it == pending_.end()) return;
        r = it->second;
        pending_.erase(it);
        deadlines_.erase({r->deadline_ns, tag});
    }
    Outcome o;
    o.host = kDidError;
    finish(r, std::move(o));
}

void Conn::on_response(const proto::ResponseView& v) {
    Request* r = nullptr;
    bool unscanned = false;
    {
        std::lock_guard lk(mu_);
        auto it = pending_.find(v.tag);
        if (it == pending_.end()) return;  // timed out meanwhile: its ABORT raced the answer
        r = it->second;
        pending_.erase(it);
        deadlines_.erase({r->deadline_ns, v.tag});
        // Until this process has seen an LU answer a command that reports unit attentions (INQUIRY,
        // REPORT LUNS and REQUEST SENSE do not), the LU is "unscanned": the first initial unit
        // attention met there is the one the kernel's scan would have consumed. Commands sent
        // concurrently may execute in any order, so this is decided by answer, not by submission.
        const uint8_t op = r->cmd.cdb[0];
        if (op != 0x12 && op != 0xa0 && op != 0x03 && r->cmd.lun < seen_.size() &&
            !seen_[r->cmd.lun]) {
            seen_[r->cmd.lun] = 1;
            unscanned = true;
        }
    }
    if (v.status == prfence::wire::sam::check_condition) {
        std::vector<uint8_t> sense(v.sense.begin(), v.sense.end());
        bool again = false;
        if (unscanned && absorb_initial_ua_ && initial_ua(sense)) {
            again = true;
        } else if (r->policy == UaPolicy::internal && r->ua_retries > 0 && is_ua(sense)) {
            --r->ua_retries;
            again = true;
        }
        if (again) {
            // Not executed (a unit attention precedes execution): sending it again is safe.
            enqueue(r);
            return;
        }
    }
    Outcome o;
    o.status = v.status;
    o.host = v.host;
    o.sense.assign(v.sense.begin(), v.sense.end());
    o.data_in.assign(v.data_in.begin(), v.data_in.end());
    finish(r, std::move(o));
}

void Conn::on_nvme_response(const proto::NvmeResponseView& v) {
    Request* r = nullptr;
    {
        std::lock_guard lk(mu_);
        auto it = pending_.find(v.tag);
        if (it == pending_.end()) return;
        r = it->second;
        pending_.erase(it);
        deadlines_.erase({r->deadline_ns, v.tag});
    }
    Outcome o;
    o.nvme_status = v.status;
    o.nvme_result = v.result;
    o.data_in.assign(v.data_in.begin(), v.data_in.end());
    finish(r, std::move(o));
}

void Conn::reader_loop() {
    proto::FrameDecoder dec(ack_.max_payload ? ack_.max_payload : proto::kMaxPayload);
    for (;;) {
        int timeout = -1;
        {
            std::lock_guard lk(mu_);
            if (dead_) return;
            if (!deadlines_.empty()) {
                int64_t left = (deadlines_.begin()->first - now_ns()) / 1000000 + 1;
                timeout = left < 0 ? 0 : left > 1000 ? 1000 : static_cast<int>(left);
            }
        }
        pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        int n = ::poll(p, 2, timeout);
        if (n < 0 && errno != EINTR) {
            die(errno_message("poll", errno));
            return;
        }
        if (n > 0 && (p[1].revents & POLLIN)) {
            uint64_t v;
            (void)!::read(wake_fd_, &v, sizeof v);
        }
        if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            auto area = dec.write_area(65536);
            ssize_t got = ::recv(fd_, area.data(), area.size(), MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                die(got == 0 ? "prsim closed the connection"
                             : errno_message("receiving from prsim", errno));
                return;
            }
            if (got > 0) dec.commit(static_cast<size_t>(got));
            for (;;) {
                auto f = dec.next();
                if (!f) {
                    die("bad frame from prsim: " + f.error().msg);
                    return;
                }
                if (!*f) break;
                auto msg = proto::decode_server_frame(**f);
                if (!msg) {
                    die("bad frame from prsim: " + msg.error().msg);
                    return;
                }
                if (auto* r = std::get_if<proto::ResponseView>(&*msg)) {
                    on_response(*r);
                } else if (auto* n = std::get_if<proto::NvmeResponseView>(&*msg)) {
                    on_nvme_response(*n);
                } else if (auto* e = std::get_if<proto::ErrorFrame>(&*msg)) {
                    if (e->fatal || e->tag == 0) {
                        die("prsim: " + e->message);
                        return;
                    }
                    on_rejected(e->tag);
                }
            }
        }
        expire(now_ns());
    }
}

}  // namespace prfence::shim
