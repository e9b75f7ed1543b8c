// SPDX-License-Identifier: MIT
// The fallback transport: synchronous SG_IO ioctls on a small thread pool, handed back to the
// ring's thread through Ring::post_from_thread. It works on any SCSI device node the kernel accepts
// SG_IO on (sd and sg alike) and is the baseline the io_uring sg transport is measured against.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/transport.h"

namespace prfence::engine {

// Worker threads shared by every SgioPath of one Session.
class SgioPool {
  public:
    explicit SgioPool(Ring& ring, unsigned threads = 8);
    ~SgioPool();
    SgioPool(const SgioPool&) = delete;
    SgioPool& operator=(const SgioPool&) = delete;

    struct Job : Ring::Op {
        virtual void run() = 0;  // on a worker thread
    };
    void enqueue(Job* job);
    Ring& ring() { return ring_; }

  private:
    void worker();
    Ring& ring_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job*> queue_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

class SgioPath final : public Path {
  public:
    // Opens `dev` O_RDWR|O_NONBLOCK (kept open). Errors name the device.
    static Result<std::unique_ptr<SgioPath>> open(SgioPool& pool, CompletionSink& sink,
                                                  const std::string& dev, unsigned depth = 4);
    ~SgioPath() override;
    const std::string& name() const override { return name_; }
    unsigned queue_depth() const override { return depth_; }
    unsigned in_flight() const override { return in_flight_; }
    Status submit(uint64_t tag, const ScsiRequest& req) override;

  private:
    SgioPath(SgioPool& pool, CompletionSink& sink, int fd, std::string name, unsigned depth)
        : pool_(pool), sink_(sink), fd_(fd), name_(std::move(name)), depth_(depth) {}
    struct Cmd;
    SgioPool& pool_;
    CompletionSink& sink_;
    int fd_;
    std::string name_;
    unsigned depth_;
    unsigned in_flight_ = 0;
};

}  // namespace prfence::engine
