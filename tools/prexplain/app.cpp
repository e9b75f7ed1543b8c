// SPDX-License-Identifier: MIT
#include "tools/prexplain/app.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "nl_control/client/client.h"
#include "tools/prexplain/lookup.h"
#include "tools/prexplain/parse.h"
#include "uring_engine/common/sys_error.h"
#include "uring_engine/policy/cluster_key.h"
#include "uring_engine/wire/pr_types.h"

extern char** environ;

namespace prfence::prexplain {

namespace {

using Json = nlohmann::ordered_json;

std::string key_text(uint64_t k) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%" PRIx64, k);
    return b;
}

std::string seconds_text(int64_t ns) {
    char b[40];
    const int64_t s = ns / 1'000'000'000, us = (ns % 1'000'000'000) / 1000;
    std::snprintf(b, sizeof b, "%" PRId64 ".%06" PRId64, s, us < 0 ? -us : us);
    return b;
}

int64_t mono_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

}  // namespace

namespace {

Json null_or(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json seconds_json(bool has, int64_t ns) {
    return has ? Json(static_cast<double>(ns) / 1e9) : Json(nullptr);
}

// "READ_10 sector 2097024, 8 blocks x3".
std::string command_text(const Command& c) {
    std::string s = c.op.empty() ? std::string("command") : c.op;
    if (c.has_sector) s += " sector " + std::to_string(c.sector);
    if (c.blocks) s += ", " + std::to_string(c.blocks) + (c.blocks == 1 ? " block" : " blocks");
    if (c.count > 1) s += " x" + std::to_string(c.count);
    return s;
}

constexpr size_t kTextCommands = 4;

}  // namespace

std::string event_json(const Explained& x) {
    const Event& e = x.event;
    const Diagnosis& d = x.diag;
    Json j;
    j["class"] = class_name(d.cls);
    j["reason"] = d.reason;
    j["device"] = null_or(e.lu.device);
    j["hctl"] = null_or(e.lu.hctl);
    j["wwid"] = null_or(e.lu.wwid);
    if (!e.lu.sim.empty()) j["sim"] = e.lu.sim;
    j["op"] = null_or(e.op);
    j["access"] = access_name(e.access);
    j["sector"] = e.has_sector ? Json(e.sector) : Json(nullptr);
    j["blocks"] = e.blocks ? Json(e.blocks) : Json(nullptr);
    j["count"] = e.count;
    j["first_seen"] = seconds_json(e.has_time, e.first_seen_ns);
    j["last_seen"] = seconds_json(e.has_time, e.last_seen_ns);
    j["update"] = e.update;
    j["source"] = source_name(e.source);
    j["group"] = null_or(x.group);
    j["our_key"] = x.our_key ? Json(key_text(*x.our_key)) : Json(nullptr);
    j["holder_key"] = d.holder_key ? Json(key_text(*d.holder_key)) : Json(nullptr);
    const char* ab = d.type ? wire::type_abbrev(d.type) : "";
    j["type"] = d.type ? Json(ab && *ab ? ab : std::to_string(d.type)) : Json(nullptr);
    j["type_name"] = d.type ? Json(wire::type_name(d.type)) : Json(nullptr);
    j["registered"] = d.registered;
    Json pre = Json::array();
    for (uint64_t k : d.preempted_by) pre.push_back(key_text(k));
    j["preempted_by"] = pre;
    j["holders"] = d.holder_ids;
    // The LU's whole story: its names and every kind of command refused.
    Json paths = Json::array();
    for (const PathName& p : e.lu.paths) {
        Json q;
        q["device"] = null_or(p.device);
        q["hctl"] = null_or(p.hctl);
        paths.push_back(std::move(q));
    }
    j["paths"] = std::move(paths);
    if (e.lu.dm_device.empty() && e.lu.dm_name.empty()) {
        j["map"] = nullptr;
    } else {
        Json m;
        m["device"] = null_or(e.lu.dm_device);
        m["name"] = null_or(e.lu.dm_name);
        m["uuid"] = null_or(e.lu.dm_uuid);
        j["map"] = std::move(m);
    }
    Json cmds = Json::array();
    for (const Command& c : e.commands) {
        Json k;
        k["op"] = null_or(c.op);
        k["access"] = access_name(c.access);
        k["sector"] = c.has_sector ? Json(c.sector) : Json(nullptr);
        k["blocks"] = c.blocks ? Json(c.blocks) : Json(nullptr);
        k["device"] = null_or(c.device);
        k["hctl"] = null_or(c.hctl);
        k["count"] = c.count;
        k["first_seen"] = seconds_json(c.has_time, c.first_seen_ns);
        k["last_seen"] = seconds_json(c.has_time, c.last_seen_ns);
        cmds.push_back(std::move(k));
    }
    j["commands"] = std::move(cmds);
    j["unlisted"] = e.unlisted;
    // NVMe namespaces only: the namespace's NSID and controller, our host identifier and the
    // Report's registrants (hosts, keys, the holder), as the classification saw them.
    if (e.lu.nsid || !e.lu.ctrl.empty() || d.nvme_report || e.lu.device.starts_with("nvme")) {
        j["nsid"] = e.lu.nsid ? Json(e.lu.nsid) : Json(nullptr);
        j["ctrl"] = null_or(e.lu.ctrl);
        j["hostid"] = d.our_hostid ? Json(hostid_text(*d.our_hostid)) : Json(nullptr);
        Json regs = Json::array();
        if (d.nvme_report)
            for (const auto& r : d.nvme_report->registrants) {
                Json q;
                q["key"] = key_text(r.key);
                q["hostid"] = hostid_text(r.hostid);
                q["holds"] = r.holds;
                q["ours"] = d.our_hostid && r.hostid == *d.our_hostid;
                regs.push_back(std::move(q));
            }
        j["registrants"] = std::move(regs);
    }
    return j.dump();
}

std::string notification_json(const ExplainedNotice& x) {
    const Notification& n = x.notice;
    char aen[16];
    std::snprintf(aen, sizeof aen, "0x%06x", n.aen);
    Json j;
    j["event"] = "reservation_notification";
    j["ctrl"] = n.ctrl;
    j["aen"] = aen;
    j["log_page"] = "0x80";
    j["count"] = n.count;
    j["first_seen"] = seconds_json(n.has_time, n.first_seen_ns);
    j["last_seen"] = seconds_json(n.has_time, n.last_seen_ns);
    j["update"] = n.update;
    j["source"] = n.uevent ? "uevent" : source_name(n.source);
    j["hostid"] = x.our_hostid.empty() ? Json(nullptr) : Json(x.our_hostid);
    Json list = Json::array();
    for (const auto& ns : x.namespaces) {
        Json q;
        q["device"] = ns.device;
        q["nsid"] = ns.nsid ? Json(ns.nsid) : Json(nullptr);
        q["class"] = ns.queried ? Json(class_name(ns.diag.cls)) : Json(nullptr);
        q["reason"] = ns.queried ? Json(ns.diag.reason) : Json(nullptr);
        list.push_back(std::move(q));
    }
    j["namespaces"] = std::move(list);
    j["note"] = null_or(x.note);
    return j.dump();
}

std::string notification_text(const ExplainedNotice& x) {
    const Notification& n = x.notice;
    char aen[16];
    std::snprintf(aen, sizeof aen, "0x%06x", n.aen);
    std::string s = n.ctrl + ": " + (n.update ? "again: " : "") +
                    "reservation notification (NVME_AEN=" + aen + ", log page 0x80)";
    if (!x.namespaces.empty()) {
        std::string bad;
        size_t fine = 0, unqueried = 0;
        for (const auto& ns : x.namespaces) {
            if (!ns.queried) {
                ++unqueried;
                continue;
            }
            if (ns.diag.cls == ConflictClass::transient) {
                ++fine;
                continue;
            }
            bad += (bad.empty() ? "" : "; ") + ns.device + " " + class_name(ns.diag.cls) + ": " +
                   ns.diag.reason;
        }
        s += ": " + std::to_string(x.namespaces.size()) + " namespace" +
             (x.namespaces.size() == 1 ? "" : "s");
        if (!bad.empty()) s += "; " + bad;
        if (fine) s += "; " + std::to_string(fine) + " where our writes would pass now";
        if (unqueried) s += "; " + std::to_string(unqueried) + " not queried";
    }
    if (!x.note.empty()) s += "; " + x.note;
    s += " (" + std::to_string(n.count) + (n.count == 1 ? " notification" : " notifications");
    if (n.has_time)
        s += ", " + (n.count == 1
                         ? "at " + seconds_text(n.first_seen_ns)
                         : seconds_text(n.first_seen_ns) + " to " + seconds_text(n.last_seen_ns));
    s += ")";
    return s;
}

std::string event_text(const Explained& x) {
    const Event& e = x.event;
    std::string s = !e.lu.device.empty()      ? e.lu.device
                    : !e.lu.sim.empty()       ? e.lu.sim
                    : !e.lu.dm_device.empty() ? e.lu.dm_device
                                              : std::string("?");
    if (!e.lu.hctl.empty()) s += " [" + e.lu.hctl + "]";
    if (e.lu.nsid) s += " nsid " + std::to_string(e.lu.nsid);
    if (!e.lu.wwid.empty()) s += " " + e.lu.wwid;
    if (!e.lu.sim.empty() && !e.lu.device.empty()) s += " " + e.lu.sim;
    if (!e.lu.dm_name.empty() || (!e.lu.dm_device.empty() && !e.lu.device.empty())) {
        s += ", map " + (e.lu.dm_name.empty() ? e.lu.dm_device : e.lu.dm_name);
        if (!e.lu.dm_name.empty() && !e.lu.dm_device.empty()) s += " (" + e.lu.dm_device + ")";
    }
    if (e.lu.paths.size() > 1) {
        s += ", paths";
        for (const PathName& p : e.lu.paths) {
            s += " " + (p.device.empty() ? std::string("?") : p.device);
            if (!p.hctl.empty()) s += " [" + p.hctl + "]";
        }
    }
    if (!x.group.empty()) s += " (group " + x.group + ")";
    s += ": ";
    if (e.update) s += "still conflicting: ";
    if (e.commands.empty()) {
        Command c;
        c.op = e.op;
        c.has_sector = e.has_sector;
        c.sector = e.sector;
        c.blocks = e.blocks;
        s += command_text(c);
    }
    uint64_t more = e.unlisted;
    for (size_t i = 0; i < e.commands.size(); ++i) {
        if (i >= kTextCommands) {
            more += e.commands[i].count;
            continue;
        }
        if (i) s += "; ";
        s += command_text(e.commands[i]);
    }
    if (more) s += "; " + std::to_string(more) + " more";
    s += ": ";
    s += class_name(x.diag.cls);
    if (!x.diag.reason.empty()) s += ": " + x.diag.reason;
    s += " (" + std::to_string(e.count) + (e.count == 1 ? " conflict" : " conflicts");
    if (e.has_time) {
        s += ", " + (e.count == 1
                         ? "at " + seconds_text(e.first_seen_ns)
                         : seconds_text(e.first_seen_ns) + " to " + seconds_text(e.last_seen_ns));
    }
    s += ")";
    return s;
}

namespace {

// prexplain's classes in the control protocol's numbering (family.h ConflictClass).
nl::ConflictClass wire_class(ConflictClass c) {
    switch (c) {
        case ConflictClass::fenced:
            return nl::CONFLICT_FENCED;
        case ConflictClass::reserved_by_other:
            return nl::CONFLICT_RESERVED_BY_OTHER;
        case ConflictClass::not_registered:
            return nl::CONFLICT_NOT_REGISTERED;
        case ConflictClass::reserved_spc2:
            return nl::CONFLICT_RESERVED_SPC2;
        case ConflictClass::transient:
            return nl::CONFLICT_TRANSIENT;
        case ConflictClass::unknown:
            break;
    }
    return nl::CONFLICT_UNKNOWN;
}

// Sends each event to prfenced as CMD_CONFLICT; the daemon hands it to its subscribers. One
// connection, kept; a daemon that went away is reconnected to once per event, so a restart of
// prfenced loses at most the events of the seconds it was down.
class ForwardSink final : public EventSink {
  public:
    explicit ForwardSink(std::string socket, nl::Client c)
        : socket_(std::move(socket)), client_(std::move(c)) {}
    Status send(const Explained& x, std::string_view) override {
        nl::Request req;
        req.hdr.cmd = nl::CMD_CONFLICT;
        nl::Conflict c;
        const Event& e = x.event;
        c.cls = wire_class(x.diag.cls);
        c.device = e.lu.device;
        c.hctl = e.lu.hctl;
        c.wwid = e.lu.wwid;
        c.op = e.op;
        c.sector = e.sector;
        c.count = e.count;
        c.first_seen_ns = e.has_time ? static_cast<uint64_t>(e.first_seen_ns) : 0;
        c.last_seen_ns = e.has_time ? static_cast<uint64_t>(e.last_seen_ns) : 0;
        c.our_key = x.our_key;
        c.holder_key = x.diag.holder_key;
        if (x.diag.type) c.type = x.diag.type;
        c.text = event_text(x);
        req.conflict = std::move(c);
        auto answers =
            client_
                ? client_->call(req, std::chrono::milliseconds(1000))
                : Result<std::vector<nl::Answer>>(fail(Errc::system, "not connected", ENOTCONN));
        if (!answers) {
            auto again = nl::Client::connect(socket_);
            if (!again) return fail(again.error());
            client_ = std::move(again).value();
            answers = client_->call(req, std::chrono::milliseconds(1000));
            if (!answers) return fail(answers.error());
        }
        if (!answers->empty() && answers->back().err() != 0)
            return fail(Errc::system,
                        "prfenced refused the conflict event: " + answers->back().err_msg(),
                        answers->back().err());
        return {};
    }

  private:
    std::string socket_;
    std::optional<nl::Client> client_;
};

}  // namespace

Result<std::unique_ptr<EventSink>> open_forward_sink(const std::string& socket) {
    PRF_TRY_ASSIGN(nl::Client c, nl::Client::connect(socket));
    return std::unique_ptr<EventSink>(new ForwardSink(socket, std::move(c)));
}

namespace {

struct Options {
    std::vector<std::string> files;
    bool kmsg = false;
    bool trace = false;
    bool uevent = false;
    std::vector<std::string> follow;
    std::string key;
    std::string key_file;
    bool no_query = false;
    std::string initiator;
    uint16_t target_port = 1;
    std::string sim;
    bool json = false;
    std::string forward;
    std::string daemon;  // --daemon: our keys (and sim initiators) from prfenced's groups
    std::vector<std::string> groups;    // --group: only these of the daemon's groups are ours
    std::optional<uint64_t> key_value;  // --key, parsed
    std::string on_fenced;
    std::string sys = "/sys";
    std::string dev = "/dev";
    std::string tracefs;
};

// One input: a file descriptor read in chunks and split into lines.
struct Input {
    std::string name;
    int fd = -1;
    bool live = false;      // keep reading after EOF
    bool pollable = false;  // FIFOs, /dev/kmsg, trace_pipe; regular files are re-read on a timer
    bool kmsg = false;      // one record per read(); EPIPE means records were overwritten
    bool uevent = false;    // a netlink uevent socket: one message per read, '\0'-separated
    std::string partial;
    bool eof = false;
};

class Pipeline {
  public:
    Pipeline(const Options& o, LuMapper& mapper, PrQuerier* querier, EventSink* sink,
             OurSides* book, bool live)
        : o_(o),
          mapper_(mapper),
          corr_(mapper, CorrelateOptions{.hold = !live}),
          querier_(querier),
          sink_(sink),
          book_(book) {
        if (o.key_value) our_key_ = *o.key_value;
    }

    void line(std::string_view l, int64_t arrival) {
        if (auto p = parse_line(l)) {
            corr_.feed(*p, arrival, events_);
            corr_.take_notifications(notices_);
            if (!events_.empty() || !notices_.empty()) flush();
        }
    }
    void tick(int64_t now) {
        corr_.tick(now, events_);
        flush();
    }
    void finish() {
        corr_.finish(events_);
        corr_.take_notifications(notices_);
        flush();
    }
    std::optional<int64_t> deadline() const { return corr_.next_deadline(); }
    bool any() const { return any_; }

  private:
    void flush() {
        for (auto& ev : events_) handle(std::move(ev));
        events_.clear();
        for (auto& n : notices_) handle_notice(std::move(n));
        notices_.clear();
        std::cout.flush();
    }

    // A reservation notification: the controller's namespaces (sysfs) and, queried, what each says
    // now about our host. The log page itself is not read: see the man page.
    void handle_notice(Notification n) {
        any_ = true;
        ExplainedNotice x;
        const auto hostid = controller_hostid(o_.sys, n.ctrl);
        if (hostid) x.our_hostid = hostid_text(*hostid);
        size_t queried = 0;
        for (const std::string& name : controller_namespaces(o_.sys, n.ctrl)) {
            ExplainedNotice::Namespace ns;
            ns.device = name;
            const std::optional<LuIdentity> id = mapper_.by_name(name);
            if (id) ns.nsid = id->nsid;
            if (id && querier_ && !o_.no_query && queried < kMaxNoticeQueries) {
                ++queried;
                std::optional<uint64_t> key = our_key_;
                const OurSide* side = book_ ? book_->find(*id) : nullptr;
                if (!key && side) key = side->key;
                PrSnapshot snap = querier_->query(*id);
                snap.our_key = key;
                ns.diag = classify(snap, Access::write);
                ns.queried = true;
                if (ns.diag.cls == ConflictClass::fenced && !o_.on_fenced.empty() &&
                    fired_.insert(id->key).second) {
                    Explained e;
                    e.event.lu = *id;
                    e.diag = ns.diag;
                    e.our_key = key;
                    run_hook(e);
                }
            }
            x.namespaces.push_back(std::move(ns));
        }
        if (x.namespaces.empty())
            x.note = "no namespaces of " + n.ctrl + " in " + o_.sys + "/class/nvme; ";
        else if (queried < x.namespaces.size() && querier_ && !o_.no_query)
            x.note = std::to_string(x.namespaces.size() - queried) +
                     " namespaces not queried (at most " + std::to_string(kMaxNoticeQueries) +
                     " per notification); ";
        x.note += "the entries are in log page 0x80: nvme resv-notif-log /dev/" + n.ctrl;
        x.notice = std::move(n);
        if (o_.json)
            std::cout << notification_json(x) << '\n';
        else
            std::cout << notification_text(x) << '\n';
    }

    void handle(Event ev) {
        any_ = true;
        Explained x;
        x.our_key = our_key_;
        if (const OurSide* side = book_ ? book_->find(ev.lu) : nullptr) {
            x.group = side->group;
            if (!x.our_key) x.our_key = side->key;  // --key wins over the daemon's configuration
        }
        if (o_.no_query || !querier_) {
            x.diag.cls = ConflictClass::unknown;
            x.diag.reason = "not queried (--no-query)";
        } else {
            PrSnapshot snap = querier_->query(ev.lu);
            snap.our_key = x.our_key;
            x.diag = classify(snap, ev.access);
        }
        x.event = std::move(ev);
        const std::string json = event_json(x);
        if (o_.json)
            std::cout << json << '\n';
        else
            std::cout << event_text(x) << '\n';
        if (sink_) {
            if (auto st = sink_->send(x, json); !st.ok())
                std::cerr << "prexplain: --forward: " << st.error().msg << '\n';
        }
        if (x.diag.cls == ConflictClass::fenced && !o_.on_fenced.empty() &&
            fired_.insert(x.event.lu.key).second)
            run_hook(x);
    }

    void run_hook(const Explained& x) {
        std::cout.flush();
        std::vector<std::string> env;
        for (char** e = environ; e && *e; ++e)
            if (!std::string_view(*e).starts_with("PREXPLAIN_")) env.emplace_back(*e);
        const auto& lu = x.event.lu;
        env.push_back("PREXPLAIN_DEVICE=" + (!lu.device.empty()      ? "/dev/" + lu.device
                                             : !lu.dm_device.empty() ? "/dev/" + lu.dm_device
                                                                     : lu.sim));
        env.push_back("PREXPLAIN_MAP=" +
                      (lu.dm_name.empty() ? std::string() : "/dev/mapper/" + lu.dm_name));
        env.push_back("PREXPLAIN_WWID=" + lu.wwid);
        env.push_back("PREXPLAIN_HCTL=" + lu.hctl);
        env.push_back("PREXPLAIN_HOLDER_KEY=" + (x.diag.holder_key ? key_text(*x.diag.holder_key)
                                                 : x.diag.preempted_by.empty()
                                                     ? std::string()
                                                     : key_text(x.diag.preempted_by.front())));
        env.push_back(std::string("PREXPLAIN_CLASS=") + class_name(x.diag.cls));
        std::vector<char*> envp;
        for (auto& s : env) envp.push_back(s.data());
        envp.push_back(nullptr);
        std::string cmd = o_.on_fenced;
        char sh[] = "/bin/sh", dash_c[] = "-c";
        char* argv[] = {sh, dash_c, cmd.data(), nullptr};
        pid_t pid;
        if (int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, envp.data()); rc != 0) {
            std::cerr << "prexplain: --on-fenced: cannot run /bin/sh: " << std::strerror(rc)
                      << '\n';
            return;
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            std::cerr << "prexplain: --on-fenced hook failed for " << lu.key << " (status "
                      << status << ")\n";
    }

    static constexpr size_t kMaxNoticeQueries = 256;
    const Options& o_;
    LuMapper& mapper_;
    Correlator corr_;
    PrQuerier* querier_;
    EventSink* sink_;
    OurSides* book_;
    std::optional<uint64_t> our_key_;
    std::vector<Event> events_;
    std::vector<Notification> notices_;
    std::set<std::string> fired_;
    bool any_ = false;
};

// Splits what one read() returned into lines; the last, unterminated part waits for more.
void feed_chunk(Input& in, const char* data, size_t n, Pipeline& p) {
    const int64_t now = mono_ns();
    size_t start = 0;
    if (!in.partial.empty()) {
        const char* nl = static_cast<const char*>(std::memchr(data, '\n', n));
        if (!nl) {
            if (in.partial.size() < (1u << 16)) in.partial.append(data, n);
            return;
        }
        in.partial.append(data, static_cast<size_t>(nl - data));
        p.line(in.partial, now);
        in.partial.clear();
        start = static_cast<size_t>(nl - data) + 1;
    }
    while (start < n) {
        const char* nl = static_cast<const char*>(std::memchr(data + start, '\n', n - start));
        if (!nl) {
            in.partial.assign(data + start, n - start);
            return;
        }
        p.line(std::string_view(data + start, static_cast<size_t>(nl - (data + start))), now);
        start = static_cast<size_t>(nl - data) + 1;
    }
}

// A uevent message is "ACTION@DEVPATH" then "KEY=VALUE" strings, each '\0'-terminated: each is
// one line, as udevadm monitor --property prints them.
bool drain_uevent(Input& in, Pipeline& p, std::vector<char>& buf) {
    for (;;) {
        const ssize_t r = ::recv(in.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR && !g_stop) continue;
            if (errno == EAGAIN || errno == EINTR) return true;
            if (errno == ENOBUFS) continue;  // the socket overflowed: events were lost
            std::cerr << "prexplain: " << in.name << ": " << std::strerror(errno) << '\n';
            return false;
        }
        const int64_t now = mono_ns();
        for (std::string_view l :
             uevent_lines(std::string_view(buf.data(), static_cast<size_t>(r))))
            p.line(l, now);
    }
}

// Reads what is available; false on a read error.
bool drain(Input& in, Pipeline& p, std::vector<char>& buf) {
    if (in.uevent) return drain_uevent(in, p, buf);
    for (;;) {
        ssize_t r = ::read(in.fd, buf.data(), buf.size());
        if (r > 0) {
            feed_chunk(in, buf.data(), static_cast<size_t>(r), p);
            if (in.kmsg && in.partial.empty()) continue;
            continue;
        }
        if (r == 0) {
            if (!in.live) {
                if (!in.partial.empty()) {
                    p.line(in.partial, mono_ns());
                    in.partial.clear();
                }
                in.eof = true;
            }
            return true;
        }
        if (errno == EINTR) {
            if (g_stop) return true;
            continue;
        }
        if (errno == EAGAIN) return true;
        if (in.kmsg && errno == EPIPE)
            continue;  // the ring buffer overwrote records we had not read
        std::cerr << "prexplain: " << in.name << ": " << std::strerror(errno) << '\n';
        return false;
    }
}

// The tracefs instance of --trace: our own, so the global trace is left alone; removed on exit.
class TraceInstance {
  public:
    ~TraceInstance() { remove(); }
    Result<std::string> create(const std::string& root_hint) {
        std::vector<std::string> roots;
        if (!root_hint.empty()) roots.push_back(root_hint);
        roots.push_back("/sys/kernel/tracing");
        roots.push_back("/sys/kernel/debug/tracing");
        std::string why;
        for (const auto& r : roots) {
            const std::string dir = r + "/instances/prexplain-" + std::to_string(::getpid());
            if (::mkdir(dir.c_str(), 0700) != 0) {
                why += (why.empty() ? "" : "; ") + dir + ": " + std::strerror(errno);
                continue;
            }
            dir_ = dir;
            for (const char* ev : {"/events/scsi/scsi_dispatch_cmd_done/enable",
                                   "/events/block/block_rq_complete/enable"}) {
                int fd = ::open((dir + ev).c_str(), O_WRONLY | O_CLOEXEC);
                if (fd < 0 || ::write(fd, "1", 1) != 1) {
                    const int e = errno;
                    if (fd >= 0) ::close(fd);
                    remove();
                    return fail_with_errno(e, dir, ev);
                }
                ::close(fd);
            }
            // Reservation notifications, where the nvme module is loaded (its events appear with
            // it): optional, a host without NVMe has nothing to report there.
            if (int fd = ::open((dir + "/events/nvme/nvme_async_event/enable").c_str(),
                                O_WRONLY | O_CLOEXEC);
                fd >= 0) {
                if (::write(fd, "1", 1) != 1) nvme_error_ = std::strerror(errno);
                ::close(fd);
            }
            return dir + "/trace_pipe";
        }
        return fail(Errc::system, "cannot create a tracefs instance: " + why);
    }
    void remove() {
        if (dir_.empty()) return;
        ::rmdir(dir_.c_str());  // the kernel tears the instance down with its events
        dir_.clear();
    }

    // Why the nvme_async_event tracepoint could not be enabled ("" when it was, or is absent).
    const std::string& nvme_error() const { return nvme_error_; }

  private:
    std::string dir_;
    std::string nvme_error_;
};

// The kernel's uevents (NETLINK_KOBJECT_UEVENT, multicast group 1: what udevd itself reads).
Result<Input> open_uevent() {
    Input in;
    in.name = "uevent netlink socket";
    in.fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
    if (in.fd < 0) return fail_errno("socket(NETLINK_KOBJECT_UEVENT)");
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = 1;
    if (::bind(in.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int e = errno;
        ::close(in.fd);
        return fail_with_errno(e, "bind(NETLINK_KOBJECT_UEVENT)");
    }
    in.live = in.pollable = in.uevent = true;
    return in;
}

Result<Input> open_input(const std::string& path, bool live) {
    Input in;
    in.name = path;
    in.live = live;
    if (path == "-") {
        in.fd = ::dup(0);
        if (in.fd < 0) return fail_errno("stdin");
        return in;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail_errno(path);
    if (S_ISDIR(st.st_mode)) return fail(Errc::invalid_argument, path + ": is a directory");
    // A FIFO opened read-write never sees EOF when its writer (prsim) restarts.
    const bool fifo = S_ISFIFO(st.st_mode);
    int flags = O_CLOEXEC | (fifo && live ? O_RDWR | O_NONBLOCK : O_RDONLY);
    in.fd = ::open(path.c_str(), flags);
    if (in.fd < 0) return fail_errno(path);
    in.pollable = fifo || S_ISCHR(st.st_mode);
    return in;
}

int live_loop(std::vector<Input>& inputs, Pipeline& p) {
    std::vector<char> buf(1 << 20);
    // A followed regular file cannot be polled; inotify says when it grew, so a conflict is read as
    // soon as it is written instead of at the next timer tick (the 20 ms tick stays as a fallback
    // where inotify is unavailable, e.g. some network filesystems).
    int ino = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    bool watched_all = ino >= 0;
    if (ino >= 0)
        for (auto& in : inputs)
            if (!in.pollable && ::inotify_add_watch(ino, in.name.c_str(), IN_MODIFY) < 0)
                watched_all = false;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    int rc = kExitOk;
    while (!g_stop) {
        std::vector<pollfd> fds;
        bool timer = false;
        for (auto& in : inputs) {
            if (in.pollable)
                fds.push_back({in.fd, POLLIN, 0});
            else
                timer = true;
        }
        if (ino >= 0) fds.push_back({ino, POLLIN, 0});
        int timeout = timer && !watched_all ? 20 : 1000;
        if (auto d = p.deadline()) {
            const int64_t ms = (*d - mono_ns() + 999'999) / 1'000'000;
            timeout = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(timeout, ms)));
        }
        int n = ::poll(fds.data(), fds.size(), timeout);
        if (n < 0 && errno != EINTR) {
            std::cerr << "prexplain: poll: " << std::strerror(errno) << '\n';
            rc = kExitInput;
            break;
        }
        if (ino >= 0) {
            char ev[4096];
            while (::read(ino, ev, sizeof ev) > 0) {
            }
        }
        for (auto& in : inputs)
            if (!drain(in, p, buf)) {
                rc = kExitInput;
                g_stop = 1;
            }
        p.tick(mono_ns());
    }
    if (ino >= 0) ::close(ino);
    p.finish();
    return rc;
}

}  // namespace

int run(int argc, char** argv) {
    Options o;
    CLI::App app{
        "prexplain: say why I/O hit a SCSI or NVMe reservation conflict, from kernel logs, "
        "tracepoints and uevents.\n"
        "Reads saved dmesg / journalctl / trace text (FILE..., '-' for stdin: one event per LU at\n"
        "the end), or live: --kmsg, --trace, --follow FILE (an event per LU at once, updates as\n"
        "lines arrive). Exit: 0 no conflict, 24 conflicts, 1 usage, 15 unreadable input.",
        "prexplain"};
    app.set_version_flag("-V,--version", "prexplain " PRFENCE_VERSION);
    app.add_option("files", o.files, "saved kernel log or trace files ('-' = stdin)");
    app.add_flag("--kmsg", o.kmsg, "follow /dev/kmsg from now on");
    app.add_flag("--trace", o.trace,
                 "live tracepoints (scsi_dispatch_cmd_done, block_rq_complete, and "
                 "nvme_async_event where the nvme module is loaded) from a tracefs instance of our "
                 "own");
    app.add_flag("--uevent", o.uevent,
                 "live kernel uevents (netlink): NVMe reservation notifications (NVME_AEN)");
    app.add_option("--tracefs", o.tracefs,
                   "tracefs mount point for --trace (default /sys/kernel/tracing)");
    // One value per --follow, so that "--follow F1 F2" is F1 followed and F2 a file (an error).
    app.add_option("--follow", o.follow, "tail a growing file or FIFO (prsim --trace); repeatable")
        ->allow_extra_args(false);
    app.add_option("--key", o.key,
                   "our reservation key (hex, as prfence and sg_persist: abc123 or 0xabc123)");
    app.add_option("--key-file", o.key_file,
                   "our key from a cluster key file, as fence_scsi and fence_prfence write it "
                   "(/var/run/cluster.key; older fence_scsi: /var/run/cluster/fence_scsi.key)");
    app.add_flag("--no-query", o.no_query, "do not ask the LU (classification UNKNOWN)");
    app.add_option("--initiator", o.initiator, "sim LUNs: the TransportID to query as");
    app.add_option("--target-port", o.target_port, "sim LUNs: the relative target port");
    app.add_option("--sim", o.sim, "the prsim socket: H:C:T:L in the input names its LUN L");
    app.add_flag("--json", o.json, "one JSON object per line");
    app.add_option("--forward", o.forward, "send events to prfenced's subscribers through SOCKET");
    app.add_option(
        "--daemon", o.daemon,
        "take our key per LU (and sim LUs' initiator) from the groups of prfenced at SOCKET; "
        "--key and --initiator win");
    app.add_option("--group", o.groups, "with --daemon: only this group is ours (repeatable)")
        ->allow_extra_args(false);
    app.add_option("--on-fenced", o.on_fenced,
                   "run CMD (/bin/sh -c) once per fenced LU; env PREXPLAIN_DEVICE, PREXPLAIN_MAP, "
                   "PREXPLAIN_WWID, PREXPLAIN_HOLDER_KEY");
    app.add_option("--sys", o.sys, "sysfs root (tests)");
    app.add_option("--dev", o.dev, "/dev root (tests)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? kExitOk : kExitUsage;
    }
    auto usage = [](const std::string& m) {
        std::cerr << "prexplain: " << m << '\n';
        return kExitUsage;
    };
    const bool live = o.kmsg || o.trace || o.uevent || !o.follow.empty();
    if (o.files.empty() && !live)
        return usage(
            "nothing to read: give FILE..., '-', --kmsg, --trace, --uevent or --follow FILE");
    if (!o.files.empty() && live)
        return usage(
            "FILE arguments and live inputs (--kmsg, --trace, --uevent, --follow) do not mix");
    if (!o.groups.empty() && o.daemon.empty())
        return usage("--group names one of prfenced's groups: give --daemon SOCKET too");
    if (!o.key.empty() && !o.key_file.empty())
        return usage("--key and --key-file both name our key: give one");
    if (!o.key_file.empty()) {
        auto k = cluster::read_key_file(o.key_file);
        if (!k) return usage("--key-file: " + k.error().msg);
        o.key_value = *k;
    }
    if (!o.key.empty()) {
        // Keys are hex with or without 0x, as prfence and sg_persist take them.
        auto k = parse_hex_u64(o.key);
        if (!k) return usage("--key " + o.key + ": " + k.error().msg);
        o.key_value = *k;
    }
    std::unique_ptr<EventSink> sink;
    if (!o.forward.empty()) {
        auto s = open_forward_sink(o.forward);
        if (!s.ok()) return usage(s.error().msg);
        sink = std::move(*s);
    }

    engine::ResolveOptions ropt{.sysfs_root = o.sys, .dev_root = o.dev};
    std::optional<DaemonBook> book;
    if (!o.daemon.empty()) {
        book.emplace(
            [&o, &ropt](std::vector<std::string>& w) {
                return our_book_from_daemon(o.daemon, ropt, o.groups, w);
            },
            [](const std::string& w) { std::cerr << "prexplain: --daemon: " << w << '\n'; });
        if (auto st = book->load(); !st) return usage("--daemon: " + st.error().msg);
    }
    SysfsMapper mapper(ropt, o.sim);
    engine::SessionOptions sopt;
    sopt.initiator = o.initiator;
    sopt.target_port = o.target_port;
    EngineQuerier querier(mapper, ropt, sopt, book ? &*book : nullptr);
    Pipeline p(o, mapper, o.no_query ? nullptr : &querier, sink.get(), book ? &*book : nullptr,
               live);

    if (!live) {
        std::vector<char> buf(1 << 20);
        int rc = kExitOk;
        for (const auto& f : o.files) {
            auto in = open_input(f, false);
            if (!in.ok()) {
                std::cerr << "prexplain: " << in.error().msg << '\n';
                rc = kExitInput;
                continue;
            }
            while (!in->eof)
                if (!drain(*in, p, buf)) {
                    rc = kExitInput;
                    break;
                }
            ::close(in->fd);
        }
        p.finish();
        if (rc != kExitOk) return rc;
        return p.any() ? kExitConflicts : kExitOk;
    }

    std::vector<Input> inputs;
    TraceInstance instance;
    if (o.kmsg) {
        Input in;
        in.name = "/dev/kmsg";
        in.fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (in.fd < 0) {
            std::cerr << "prexplain: /dev/kmsg: " << std::strerror(errno) << '\n';
            return kExitInput;
        }
        ::lseek(in.fd, 0, SEEK_END);  // from now on: older records are history, not news
        in.live = in.pollable = in.kmsg = true;
        inputs.push_back(std::move(in));
    }
    if (o.trace) {
        auto pipe = instance.create(o.tracefs);
        if (!pipe.ok()) {
            std::cerr << "prexplain: --trace: " << pipe.error().msg << '\n';
            return kExitInput;
        }
        Input in;
        in.name = *pipe;
        in.fd = ::open(pipe->c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (in.fd < 0) {
            std::cerr << "prexplain: " << *pipe << ": " << std::strerror(errno) << '\n';
            return kExitInput;
        }
        in.live = in.pollable = true;
        inputs.push_back(std::move(in));
        if (!instance.nvme_error().empty())
            std::cerr << "prexplain: --trace: nvme_async_event not enabled: "
                      << instance.nvme_error() << '\n';
    }
    if (o.uevent) {
        auto in = open_uevent();
        if (!in.ok()) {
            std::cerr << "prexplain: --uevent: " << in.error().msg << '\n';
            for (auto& i : inputs) ::close(i.fd);
            return kExitInput;
        }
        inputs.push_back(std::move(*in));
    }
    for (const auto& f : o.follow) {
        auto in = open_input(f, true);
        if (!in.ok()) {
            std::cerr << "prexplain: " << in.error().msg << '\n';
            for (auto& i : inputs) ::close(i.fd);
            return kExitInput;
        }
        if (in->pollable) ::fcntl(in->fd, F_SETFL, ::fcntl(in->fd, F_GETFL) | O_NONBLOCK);
        inputs.push_back(std::move(*in));
    }
    int rc = live_loop(inputs, p);
    for (auto& i : inputs) ::close(i.fd);  // trace_pipe closed before the instance goes
    instance.remove();
    if (rc != kExitOk) return rc;
    return p.any() ? kExitConflicts : kExitOk;
}

}  // namespace prfence::prexplain
