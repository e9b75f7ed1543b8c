// SPDX-License-Identifier: MIT
// A prsim farm inside the test process: sim::Server on its own thread and a fresh temporary socket,
// so engine, daemon and CLI tests run against real prsim semantics without a separate process.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "interposer/prsim/server.h"

namespace prfence::testing {

class SimFarm {
  public:
    explicit SimFarm(uint32_t luns, std::vector<sim::FaultSpec> faults = {}) {
        static std::atomic<int> counter{0};
        socket =
            (std::filesystem::temp_directory_path() / ("prfence-farm-" + std::to_string(getpid()) +
                                                       "-" + std::to_string(counter++) + ".sock"))
                .string();
        sim::ServerConfig cfg;
        cfg.socket_path = socket;
        cfg.luns = luns;
        cfg.faults = std::move(faults);
        auto s = sim::Server::create(std::move(cfg));
        if (!s.ok()) {
            ADD_FAILURE() << s.error().msg;
            return;
        }
        server = std::move(s).value();
        thread = std::thread([this] { (void)server->run(); });
    }
    SimFarm(const SimFarm&) = delete;
    SimFarm& operator=(const SimFarm&) = delete;
    // Stops serving (clients see the daemon vanish); the socket file goes with the destructor.
    void stop() {
        if (server) server->stop();
        if (thread.joinable()) thread.join();
    }
    ~SimFarm() {
        stop();
        std::filesystem::remove(socket);
    }
    // "sim:SOCKET:RANGE", as prfence and prfenced take LUNs.
    std::string luns(const char* range) const { return "sim:" + socket + ":" + range; }

    std::unique_ptr<sim::Server> server;
    std::thread thread;
    std::string socket;
};

}  // namespace prfence::testing
