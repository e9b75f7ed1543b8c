// SPDX-License-Identifier: MIT
// An NVMe namespace driven through io_uring passthrough: IORING_OP_URING_CMD with NVME_URING_CMD_IO
// on the namespace's generic character device (/dev/ngXnY), whose CQE carries the NVMe status
// (drivers/nvme/host/ioctl.c, Linux 5.19 and later). The engine speaks SCSI persistent
// reservations; each request is translated into its NVMe reservation command on the way down and
// its completion back into a SCSI answer (uring_engine/wire/nvme_translate.h), with the NVMe status
// and Report kept in ScsiResponse::nvme.
//
// - The ring must have 128-byte SQEs (IORING_SETUP_SQE128: the NVMe command does not fit a 64-byte
//   SQE) and 32-byte CQEs (IORING_SETUP_CQE32); NVMe passthrough refuses other rings with
//   -EOPNOTSUPP. PathSet creates such a ring when a set contains NVMe paths.
// - The node is opened O_RDWR: without CAP_SYS_ADMIN the kernel allows write-class opcodes
//   (Register, Acquire, Release) only through an fd opened for writing.
// - The NSID comes from NVME_IOCTL_ID on the node and must match the one sysfs gave: the kernel
//   refuses a command whose NSID is not the node's (-EINVAL).
// - REGISTER AND IGNORE EXISTING KEY may take two commands (Replace with IEKEY; Register when that
//   meets Reservation Conflict); the request completes once, with the last one's answer.
// - Admin commands (Identify Namespace, for REPORT CAPABILITIES) go through the
// NVME_IOCTL_ADMIN_CMD
//   ioctl on the same node, inline: io_uring takes admin commands only on the controller node.
// - A SCSI command NVMe cannot express completes at once, nothing sent, as CHECK CONDITION ILLEGAL
//   REQUEST INVALID FIELD IN CDB with the reason in ScsiResponse::nvme->refused.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>

#include "uring_engine/transport/ring.h"
#include "uring_engine/transport/transport.h"
#include "uring_engine/wire/nvme_translate.h"

namespace prfence::engine {

class NvmePath final : public Path {
  public:
    static constexpr unsigned kMaxQueue = 64;

    // Opens `node` (a /dev/ngXnY generic node) for namespace `nsid`. Errors name the node: ENOENT,
    // EACCES, a node that is not an NVMe namespace (NVME_IOCTL_ID fails), an NSID other than
    // `nsid`, a ring without 128-byte SQEs.
    // `host_id`: the host identifier of the node's controller (sysfs), "" when unknown; it makes
    // the registration scope.
    static Result<std::unique_ptr<NvmePath>> open(Ring& ring, CompletionSink& sink,
                                                  const std::string& node, uint32_t nsid,
                                                  const std::string& host_id = {});
    ~NvmePath() override;

    const std::string& name() const override { return name_; }
    unsigned queue_depth() const override { return kMaxQueue; }
    unsigned in_flight() const override { return in_flight_; }
    Status submit(uint64_t tag, const ScsiRequest& req) override;
    const std::string& registration_scope() const override { return scope_; }

  private:
    NvmePath(Ring& ring, CompletionSink& sink, int fd, std::string name, uint32_t nsid);

    struct Slot;
    struct CmdOp : Ring::Op {
        NvmePath* path = nullptr;
        Slot* slot = nullptr;
        void complete(int res, uint32_t flags) override;
    };
    struct Slot {
        bool busy = false;
        bool fallback_sent = false;
        uint64_t tag = 0;
        uint64_t start_ns = 0;
        wire::nvme::Translation t;
        const wire::nvme::Command* sent = nullptr;  // t.cmd or *t.on_conflict
        Bytes buf;
        CmdOp op;
    };

    Status start(Slot& s, const wire::nvme::Command& c);
    void finish(Slot& s, int res);
    void refuse(Slot& s, std::string why);

    Ring& ring_;
    CompletionSink& sink_;
    int fd_ = -1;
    std::string name_;
    uint32_t nsid_ = 0;
    std::string scope_;
    unsigned in_flight_ = 0;
    std::array<Slot, kMaxQueue> slots_{};
};

}  // namespace prfence::engine
