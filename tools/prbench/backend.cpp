// SPDX-License-Identifier: MIT
#include "tools/prbench/backend.h"

#include <time.h>

#include <algorithm>
#include <cerrno>

namespace prfence::bench {

namespace {

using SgT = engine::SgTransport;

// clang-format off
constexpr BackendInfo kBackends[] = {
    // id                   name            engine sweeps_qd transport   tool                   make
    {Backend::uring,        "uring",        true,  true,     SgT::uring, nullptr,               make_engine_backend},
    {Backend::sgio,         "sgio",         true,  true,     SgT::sgio,  nullptr,               make_engine_backend},
    {Backend::serial,       "serial",       true,  false,    SgT::uring, nullptr,               make_engine_backend},
    {Backend::sg_persist,   "sg_persist",   false, false,    SgT::uring, &Config::sg_persist,   make_sg_persist_backend},
    {Backend::fence_scsi,   "fence_scsi",   false, false,    SgT::uring, &Config::fence_scsi,   make_fence_scsi_backend},
    {Backend::blkpr,        "blkpr",        false, false,    SgT::uring, nullptr,               make_blkpr_backend},
    {Backend::mpathpersist, "mpathpersist", false, false,    SgT::uring, &Config::mpathpersist, make_mpathpersist_backend},
    {Backend::nvme_cli,     "nvme-cli",     false, false,    SgT::uring, &Config::nvme,         make_nvme_cli_backend},
};
// clang-format on

}  // namespace

const BackendInfo& backend_info(Backend b) {
    for (const auto& r : kBackends)
        if (r.id == b) return r;
    return kBackends[0];  // unreachable: every enumerator has its row
}

const char* backend_name(Backend b) {
    for (const auto& r : kBackends)
        if (r.id == b) return r.name;
    return "?";
}

std::optional<Backend> parse_backend(std::string_view name) {
    for (const auto& r : kBackends)
        if (name == r.name) return r.id;
    return std::nullopt;
}

bool is_engine_backend(Backend b) { return backend_info(b).engine; }

void add_lun_time(Measurement& m, size_t lun, uint64_t ns) {
    LunTime& t = m.luns_time[lun];
    t.max_ns = std::max(t.max_ns, ns);
    t.sum_ns += ns;
    ++t.n;
}

void sleep_until_ns(uint64_t t) {
    const uint64_t now = engine::now_ns();
    if (t <= now) return;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(t / 1000000000ull);
    ts.tv_nsec = static_cast<long>(t % 1000000000ull);
    // engine::now_ns() is CLOCK_MONOTONIC.
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

}  // namespace prfence::bench
