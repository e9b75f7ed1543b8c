// SPDX-License-Identifier: MIT
// APTPL survives a crash: 16 initiators register with APTPL in a burst, prsim is killed with
// SIGKILL in the middle, and after a restart from the same --state-dir every acknowledged
// registration is there (each initiator's key is the last one acknowledged, or the one in flight
// when the daemon died).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "uring_engine/simproto/sim_client.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/prout.h"

namespace prfence::sim {
namespace {

namespace fs = std::filesystem;

pid_t start_prsim(const std::string& sock, const fs::path& state) {
    const char* bin = std::getenv("PRSIM_BIN");
    if (!bin) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, bin, "--socket", sock.c_str(), "--luns", "4", "--state-dir", state.c_str(),
              static_cast<char*>(nullptr));
        _exit(127);
    }
    for (int i = 0; i < 100 && !fs::exists(sock); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return pid;
}

std::string initiator(int i) {
    return "iqn.2026-11.io.prfence:h" + std::to_string(i) + ",i,0x" + std::to_string(100 + i);
}

TEST(PrsimAptpl, KillDashNineMidBurstLosesNothingAcknowledged) {
    if (!std::getenv("PRSIM_BIN")) GTEST_SKIP() << "PRSIM_BIN not set";
    // Whatever ends the test (a failed ASSERT included), the daemon is stopped and its directory
    // goes.
    struct Leftovers {
        fs::path dir;
        pid_t pid = -1;
        ~Leftovers() {
            if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
            }
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    } left{fs::temp_directory_path() / ("prsim-aptpl-" + std::to_string(getpid()))};
    const fs::path& dir = left.dir;
    pid_t& pid = left.pid;
    fs::create_directories(dir / "state");
    std::string sock = (dir / "s.sock").string();
    pid = start_prsim(sock, dir / "state");
    ASSERT_GT(pid, 0);

    constexpr int kClients = 16;
    struct Track {
        std::map<uint32_t, uint64_t> acked, sent;  // per LUN
    };
    std::vector<Track> track(kClients);
    std::atomic<bool> go{true};
    std::atomic<uint64_t> acks{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            auto c = SimClient::connect(sock, proto::make_hello(initiator(i), 1, "burst"));
            if (!c.ok()) return;
            for (uint64_t seq = 1; go.load(); ++seq) {
                uint32_t lun = static_cast<uint32_t>(seq % 4);
                uint64_t key = (uint64_t(i + 1) << 32) | seq;
                auto cmd = wire::build_prout(wire::PrOutAction::register_and_ignore,
                                             wire::PrType::none, {.sa_key = key, .aptpl = true});
                track[i].sent[lun] = key;
                auto r = (*c)->execute(lun, cmd->cdb.bytes(), cmd->data, 0, 2000);
                if (!r.ok()) return;  // the daemon died
                if (r->status == 0) {
                    track[i].acked[lun] = key;
                    acks.fetch_add(1);
                }
            }
        });
    }
    // Let the burst run until plenty is acknowledged, then kill without warning.
    for (int i = 0; i < 200 && acks.load() < 400; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
    go = false;
    for (auto& t : threads) t.join();
    ASSERT_GT(acks.load(), 16u) << "the burst never got going";
    fs::remove(sock);

    pid = start_prsim(sock, dir / "state");
    ASSERT_GT(pid, 0);
    auto c = SimClient::connect(
        sock, proto::make_hello("iqn.2026-11.io.prfence:checker,i,0x1", 1, "check"));
    ASSERT_TRUE(c.ok()) << c.error().msg;
    size_t checked = 0;
    for (uint32_t lun = 0; lun < 4; ++lun) {
        Result<proto::Response> r = fail(Errc::io, "");
        for (int attempt = 0; attempt < 3; ++attempt) {  // the first command reports POWER ON
            r = (*c)->execute(
                lun, wire::prin_cdb(wire::PrInAction::read_full_status, 16384).bytes(), {}, 16384);
            ASSERT_TRUE(r.ok()) << r.error().msg;
            if (r->status == 0) break;
        }
        ASSERT_EQ(r->status, 0);
        auto fsr = wire::parse_full_status(r->data_in);
        ASSERT_TRUE(fsr.ok()) << fsr.error().msg;
        for (int i = 0; i < kClients; ++i) {
            auto acked = track[i].acked.find(lun);
            if (acked == track[i].acked.end()) continue;
            const uint64_t sent = track[i].sent[lun];
            auto want = wire::parse_transport_id(initiator(i));
            ASSERT_TRUE(want.ok());
            bool found = false;
            for (const auto& e : fsr->entries) {
                if (!wire::same_initiator(e.transport_id, *want)) continue;
                found = true;
                EXPECT_TRUE(e.key == acked->second || e.key == sent)
                    << "lun " << lun << " initiator " << i << ": key " << std::hex << e.key
                    << ", acknowledged " << acked->second << ", in flight " << sent;
            }
            EXPECT_TRUE(found) << "lun " << lun << ": acknowledged registration of initiator " << i
                               << " lost";
            ++checked;
        }
    }
    EXPECT_GT(checked, 0u);
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    pid = -1;
}

}  // namespace
}  // namespace prfence::sim
