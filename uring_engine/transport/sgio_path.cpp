// SPDX-License-Identifier: MIT
#include "uring_engine/transport/sgio_path.h"

#include <fcntl.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "uring_engine/common/sys_error.h"
#include "uring_engine/common/unique_fd.h"

namespace prfence::engine {

SgioPool::SgioPool(Ring& ring, unsigned threads) : ring_(ring) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { worker(); });
}

SgioPool::~SgioPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void SgioPool::enqueue(Job* job) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(job);
    }
    cv_.notify_one();
}

void SgioPool::worker() {
    for (;;) {
        Job* job = nullptr;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping
            job = queue_.front();
            queue_.pop_front();
        }
        job->run();
        ring_.post_from_thread(job, 0);
    }
}

struct SgioPath::Cmd : SgioPool::Job {
    SgioPath* path = nullptr;
    uint64_t tag = 0;
    uint64_t start_ns = 0;
    ScsiRequest req;
    uint8_t sense[96]{};
    Bytes data;
    ScsiResponse rsp;

    void run() override {
        sg_io_hdr_t h{};
        h.interface_id = 'S';
        h.cmd_len = req.cdb.len;
        h.cmdp = req.cdb.b.data();
        h.mx_sb_len = sizeof sense;
        h.sbp = sense;
        h.timeout = req.timeout_ms;
        switch (req.dir()) {
            case DataDir::to_device:
                h.dxfer_direction = SG_DXFER_TO_DEV;
                h.dxferp = req.data_out.data();
                h.dxfer_len = static_cast<unsigned>(req.data_out.size());
                break;
            case DataDir::from_device:
                data.assign(req.data_in_len, 0);
                h.dxfer_direction = SG_DXFER_FROM_DEV;
                h.dxferp = data.data();
                h.dxfer_len = req.data_in_len;
                break;
            case DataDir::none:
                h.dxfer_direction = SG_DXFER_NONE;
                break;
        }
        if (ioctl(path->fd_, SG_IO, &h) != 0) {
            rsp.sys_errno = errno;
            return;
        }
        rsp.status = h.status;
        rsp.host = static_cast<uint8_t>(h.host_status);
        rsp.driver = static_cast<uint8_t>(h.driver_status);
        if (h.sb_len_wr > 0)
            rsp.sense.assign(sense, sense + std::min<unsigned>(h.sb_len_wr, sizeof sense));
        if (req.dir() == DataDir::from_device) {
            data.resize(data.size() - std::min<size_t>(data.size(), h.resid > 0 ? h.resid : 0));
            rsp.data_in = std::move(data);
        }
        rsp.timed_out = h.host_status == 0x03 || (h.driver_status & 0x0f) == 0x06;
    }
    void complete(int, uint32_t) override {
        std::unique_ptr<Cmd> own(this);
        --path->in_flight_;
        rsp.latency_ns = now_ns() - start_ns;
        path->sink_.on_complete(tag, std::move(rsp));
    }
};

Result<std::unique_ptr<SgioPath>> SgioPath::open(SgioPool& pool, CompletionSink& sink,
                                                 const std::string& dev, unsigned depth) {
    UniqueFd fd(::open(dev.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return fail_errno(dev);
    int version = 0;
    if (ioctl(fd.get(), SG_GET_VERSION_NUM, &version) != 0) {
        const int e = errno;
        return fail(Errc::invalid_argument,
                    dev + ": does not accept SG_IO (" + errno_message("", e) + ")", e);
    }
    return std::unique_ptr<SgioPath>(new SgioPath(pool, sink, fd.release(), dev, depth));
}

SgioPath::~SgioPath() {
    if (fd_ >= 0) close(fd_);
}

Status SgioPath::submit(uint64_t tag, const ScsiRequest& req) {
    if (in_flight_ >= depth_) return fail(Errc::too_small, name_ + ": queue full");
    auto* c = new Cmd;
    c->path = this;
    c->tag = tag;
    c->req = req;
    c->start_ns = now_ns();
    ++in_flight_;
    pool_.enqueue(c);
    return {};
}

}  // namespace prfence::engine
