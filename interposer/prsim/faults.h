// SPDX-License-Identifier: MIT
// prsim fault injection: what can go wrong between an initiator and a LU, armed per LU (or the
// whole farm) from the command line, the config file, or at run time over the control protocol.
//
// A fault is a FaultSpec; the FaultTable holds the armed ones and decides, for each arriving
// command, what happens to it: executed now or after a latency, answered BUSY / TASK SET FULL / NOT
// READY without being executed, held forever (timeout, lost path), or executed with its answer
// lost. The table is pure logic: the server owns the clock, the LUs and the sockets.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "uring_engine/common/result.h"
#include "uring_engine/wire/transport_id.h"

namespace prfence::sim {

// Command classes faults select on.
enum class CmdClass : uint8_t { pr_in = 0, pr_out = 1, read = 2, write = 3, other = 4 };
inline constexpr uint8_t kAllClasses = 0x1f;
inline constexpr uint8_t class_bit(CmdClass c) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(c));
}
CmdClass classify(uint8_t opcode) noexcept;
const char* class_name(CmdClass c) noexcept;
// "pr_in,pr_out" / "all" -> bit set; errors name the unknown word.
Result<uint8_t> parse_classes(std::string_view text);
std::string classes_to_string(uint8_t bits);

// A set of LU numbers: "all", or ranges and single numbers ("0-99,200,4000-4095").
class LunSet {
  public:
    static LunSet all() { return LunSet(); }
    static Result<LunSet> parse(std::string_view text);
    bool contains(uint32_t lun) const;
    bool is_all() const { return ranges_.empty(); }
    std::string to_string() const;

  private:
    std::vector<std::pair<uint32_t, uint32_t>> ranges_;  // inclusive; empty = all
};

enum class FaultKind : uint8_t {
    latency,        // delay before the command executes (fixed, uniform or log-normal)
    timeout,        // the command never completes (optionally: executes, but its answer is lost)
    busy,           // status BUSY, not executed
    task_set_full,  // status TASK SET FULL, not executed
    not_ready,  // CHECK CONDITION, NOT READY, 04h/01h LOGICAL UNIT IS IN PROCESS OF BECOMING READY
    unit_attention,  // each (nexus, LU)'s next n commands get a UNIT ATTENTION, default 3Fh/0Eh as
                     // LIO
    lost_path,  // commands of the selected nexuses are never answered (a dead path / target port)
    answer,     // answered as given, not executed: a SAM status (default CHECK CONDITION) with
                // fixed-format sense (key, asc, ascq; INFORMATION when info is given), and/or a
                // Linux host byte (DID_*): every status a device or a transport can report
};
const char* fault_kind_name(FaultKind k) noexcept;

struct Latency {
    enum class Dist : uint8_t { fixed, uniform, lognormal };
    Dist dist = Dist::fixed;
    double us = 0;      // fixed
    double min_us = 0;  // uniform
    double max_us = 0;
    double median_us = 0;  // log-normal: exp(ln(median) + sigma * N(0,1))
    double sigma = 0;
};

struct FaultSpec {
    FaultKind kind = FaultKind::latency;
    LunSet luns;                    // which LUs (default all)
    uint8_t classes = kAllClasses;  // which command classes
    // Which nexuses (all unset = every nexus).
    std::optional<uint32_t> host;
    std::optional<uint16_t> target_port;
    std::optional<wire::TransportId> initiator;
    double probability = 1.0;   // chance that a matching command is affected
    uint64_t count = 0;         // disarm after affecting this many commands (0 = never)
    uint64_t duration_ms = 0;   // disarm this long after arming (0 = never)
    Latency latency;            // latency
    bool executed = false;      // timeout: execute the command, then lose its answer
    uint8_t asc = 0, ascq = 0;  // unit_attention (default 3Fh/0Eh), not_ready (default 04h/01h)
    uint32_t ua_count = 1;      // unit_attention: how many commands of each (nexus, LU) get it
    // answer: the status, the sense key (asc and ascq above), the INFORMATION field (sets VALID)
    // and the host byte.
    uint8_t status = 0x02;
    uint8_t sense_key = 0;
    std::optional<uint32_t> info;
    uint8_t host_byte = 0;
};

// Parses a fault from JSON (text starting with '{') or the compact form
//   KIND[,key=value]...   e.g.
//   latency,class=pr_out,dist=lognormal,median_us=200,sigma=0.5,luns=0-99,200
// Keys: luns, class, host, port, initiator, p (probability), count, for_ms, dist, us, min_us,
// max_us, median_us, sigma, executed, asc, ascq (hex), n (UAs per nexus); for answer: status, key,
// host_byte (hex) and info (decimal), e.g. answer,key=3,asc=11,ascq=0 (MEDIUM ERROR) or
// answer,status=0,host_byte=1 (DID_NO_CONNECT). A token without '=' continues the previous value,
// so lists ("luns=0-9,20", "class=pr_in,pr_out") and TransportIDs with commas work.
Result<FaultSpec> parse_fault(std::string_view text);
Result<FaultSpec> fault_from_json(const nlohmann::json& j);
nlohmann::json fault_to_json(const FaultSpec& f);

// The nexus a command came through, as the fault table sees it.
struct NexusRef {
    uint32_t key = 0;  // the server's index of this I_T nexus (stable for the daemon's life)
    uint32_t host = 0;
    uint16_t target_port = 1;
    const wire::TransportId* initiator = nullptr;
};

struct Decision {
    enum class Action : uint8_t {
        execute,
        hold,
        execute_then_hold,
        busy,
        task_set_full,
        not_ready,
        answer
    };
    Action action = Action::execute;
    int64_t delay_ns = 0;
    uint8_t asc = 0, ascq = 0;  // not_ready, answer
    // answer: status, sense key, INFORMATION (when has_info) and host byte.
    uint8_t status = 0, sense_key = 0, host_byte = 0;
    bool has_info = false;
    uint32_t info = 0;
    struct Ua {
        uint8_t asc, ascq;
        uint32_t count;
    };
    std::array<Ua, 4> uas{};  // unit attentions to queue before executing (first n_uas)
    uint8_t n_uas = 0;
};

class FaultTable {
  public:
    explicit FaultTable(uint64_t seed = 0x9e3779b97f4a7c15ull) : rng_(seed) {}

    // Arms a fault and returns its id (ids are never reused).
    uint32_t arm(FaultSpec spec, int64_t now_ns);
    bool disarm(uint32_t id);
    size_t disarm_all();
    // [{"id":1,"hits":3,"fault":{...}}, ...]
    nlohmann::json list(int64_t now_ns);
    bool empty() const { return armed_.empty(); }
    size_t size() const { return armed_.size(); }

    // What happens to a command arriving now.
    Decision decide(uint32_t lun, uint8_t opcode, const NexusRef& nexus, int64_t now_ns);

  private:
    struct Armed {
        uint32_t id = 0;
        FaultSpec spec;
        uint64_t hits = 0;
        int64_t expires_ns = 0;                           // 0 = never
        std::unordered_map<uint64_t, uint32_t> ua_given;  // (nexus key << 32) | lun -> UAs queued
    };
    void expire(int64_t now_ns);
    bool matches(const Armed& a, uint32_t lun, CmdClass cls, const NexusRef& nx);
    int64_t sample_ns(const Latency& l);

    std::vector<Armed> armed_;
    uint32_t next_id_ = 1;
    std::mt19937_64 rng_;
};

}  // namespace prfence::sim
