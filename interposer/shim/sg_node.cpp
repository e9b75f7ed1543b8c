// SPDX-License-Identifier: MIT
// libprinterpose: the sg node and the sg v3 interface.
#undef _FORTIFY_SOURCE
#include "interposer/shim/sg_node.h"

#include <errno.h>
#include <fcntl.h>
#include <scsi/scsi.h>
#include <scsi/scsi_ioctl.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "interposer/shim/ioctl_arg.h"
#include "interposer/shim/process.h"
#include "interposer/shim/real.h"

namespace prfence::shim {
namespace {

// The Linux sg driver's version: 3.5.36. Below 4.0.0, sg3_utils drives sg nodes with the v3
// interface (sg_io_hdr), which is the one implemented here.
constexpr int kSgVersion = 30536;
// Not in glibc's <scsi/sg.h> (the kernel's include/uapi/scsi/sg.h has them).
constexpr int kSgDxferUnknown = -5;
constexpr unsigned long kSgGetAccessCount = 0x2289;
constexpr uint8_t kDriverSense = 0x08;

// ---- sg_io_hdr <-> Command / Outcome --------------------------------------------------------

bool reads_data(int dir) {
    return dir == SG_DXFER_FROM_DEV || dir == SG_DXFER_TO_FROM_DEV || dir == kSgDxferUnknown;
}

// Builds the command an sg_io_hdr describes; 0 or an errno (the sg driver's for an sg node, the
// block layer's for a disk).
int command_from_hdr(const sg_io_hdr_t& h, const Handle& hd, Command& c) {
    const bool sg = hd.node.kind == NodeKind::sg;
    if (h.interface_id != 'S') return sg ? ENOSYS : EINVAL;
    if (h.cmd_len < 1 || h.cmd_len > 16 || !h.cmdp) return EINVAL;
    if (h.dxfer_len > proto::kMaxDataLen) return sg ? ENOMEM : EIO;
    c.lun = hd.node.lun;
    std::memcpy(c.cdb, h.cmdp, h.cmd_len);
    c.cdb_len = h.cmd_len;
    c.timeout_ms = clamp_timeout(static_cast<int>(h.timeout));
    if (h.dxfer_direction == SG_DXFER_TO_DEV && h.dxfer_len > 0) {
        if (!h.dxferp) return EFAULT;
        c.data_out.resize(h.dxfer_len);
        if (h.iovec_count > 0) {
            const auto* iov = static_cast<const sg_iovec_t*>(h.dxferp);
            size_t off = 0;
            for (unsigned i = 0; i < h.iovec_count && off < h.dxfer_len; ++i) {
                size_t n = std::min(iov[i].iov_len, h.dxfer_len - off);
                std::memcpy(c.data_out.data() + off, iov[i].iov_base, n);
                off += n;
            }
            c.data_out.resize(off);
        } else {
            std::memcpy(c.data_out.data(), h.dxferp, h.dxfer_len);
        }
    } else if (reads_data(h.dxfer_direction)) {
        if (h.dxfer_len > 0 && !h.dxferp) return EFAULT;
        c.alloc_len = h.dxfer_len;
    }
    return 0;
}

// Fills the output fields of an sg_io_hdr as the sg driver does, copying data-in and sense to the
// caller's buffers.
void reply_into_hdr(sg_io_hdr_t& h, const Outcome& o) {
    size_t copied = 0;
    if (reads_data(h.dxfer_direction) && h.dxfer_len > 0 && h.dxferp) {
        const size_t n = std::min<size_t>(o.data_in.size(), h.dxfer_len);
        if (h.iovec_count > 0) {
            auto* iov = static_cast<sg_iovec_t*>(h.dxferp);
            for (unsigned i = 0; i < h.iovec_count && copied < n; ++i) {
                size_t k = std::min(iov[i].iov_len, n - copied);
                std::memcpy(iov[i].iov_base, o.data_in.data() + copied, k);
                copied += k;
            }
        } else {
            std::memcpy(h.dxferp, o.data_in.data(), n);
            copied = n;
        }
        h.resid = static_cast<int>(h.dxfer_len - copied);
    } else {
        h.resid = 0;
    }
    h.status = o.status;
    h.masked_status = static_cast<unsigned char>((o.status >> 1) & 0x7f);
    h.msg_status = 0;
    h.host_status = o.host;
    const size_t sb = h.sbp ? std::min<size_t>(o.sense.size(), h.mx_sb_len) : 0;
    if (sb) std::memcpy(h.sbp, o.sense.data(), sb);
    h.sb_len_wr = static_cast<unsigned char>(sb);
    h.driver_status =
        (o.status == prfence::wire::sam::check_condition || sb > 0) ? kDriverSense : 0;
    h.duration = o.duration_ms;
    h.info = (h.status || h.host_status || h.driver_status) ? SG_INFO_CHECK : SG_INFO_OK;
}

// ---- asynchronous commands ------------------------------------------------------------------

void signal_completion(Handle& h) {
    // One eventfd count per completed command (the handle's lock is held).
    if (!h.fds.empty()) (void)::eventfd_write(h.fds.front(), 1);
    h.cv.notify_all();
}

// ---- ioctl arguments ----------------------------------------------------------------------

// An int the sg driver refuses when negative, with the errno it uses for that ioctl.
int get_nonneg_int(const void* arg, int& v, int neg_errno) {
    if (get_int_arg(arg, v)) return -1;
    if (v < 0) {
        errno = neg_errno;
        return -1;
    }
    return 0;
}

// An int argument taken as a flag (nonzero = on).
int set_flag(const void* arg, bool& flag) {
    int v = 0;
    if (get_int_arg(arg, v)) return -1;
    flag = v != 0;
    return 0;
}

}  // namespace

ssize_t sg_write(Handle& h, const void* buf, size_t count) {
    if (count < sizeof(sg_io_hdr_t)) {
        errno = count < 36 ? EIO : EINVAL;  // shorter than even the old sg_header
        return -1;
    }
    sg_io_hdr_t hdr;
    std::memcpy(&hdr, buf, sizeof hdr);
    if (hdr.interface_id != 'S') {
        errno = ENOSYS;  // the pre-v3 sg_header interface is not implemented
        return -1;
    }
    Command c;
    if (int e = command_from_hdr(hdr, h, c)) {
        errno = e;
        return -1;
    }
    {
        std::lock_guard lk(h.mu);
        if (h.inflight + h.done.size() >= SG_MAX_QUEUE) {
            errno = EDOM;  // the sg driver's answer to a 17th queued command
            return -1;
        }
        ++h.inflight;
    }
    // The handle lives as long as a command of it is in flight; once every descriptor is closed
    // the answer is dropped (keep_orphan aside, as the sg driver does).
    auto done = [hp = h.shared_from_this(), hdr](Outcome&& o) {
        std::lock_guard lk(hp->mu);
        if (hp->inflight > 0) --hp->inflight;
        if (hp->fds.empty()) return;
        hp->done.push_back(Handle::Done{hdr, std::move(o)});
        signal_completion(*hp);
    };
    Conn* conn = connection();
    if (!conn) {
        done(no_connection());
    } else {
        conn->submit(c, UaPolicy::passthrough, std::move(done));
    }
    return static_cast<ssize_t>(count);
}

ssize_t sg_read(int fd, Handle& h, void* buf, size_t count) {
    if (count < sizeof(sg_io_hdr_t)) {
        errno = EINVAL;
        return -1;
    }
    int want = -1;
    std::unique_lock lk(h.mu);
    if (h.force_pack_id) {
        sg_io_hdr_t q;
        std::memcpy(&q, buf, sizeof q);
        want = q.pack_id;
    }
    for (;;) {
        auto it = std::find_if(h.done.begin(), h.done.end(), [&](const Handle::Done& d) {
            return want == -1 || d.hdr.pack_id == want;
        });
        if (it != h.done.end()) {
            Handle::Done d = std::move(*it);
            h.done.erase(it);
            eventfd_t v;
            (void)::eventfd_read(fd, &v);  // count >= 1 while done is not empty: never blocks
            lk.unlock();
            reply_into_hdr(d.hdr, d.out);
            std::memcpy(buf, &d.hdr, sizeof d.hdr);
            return sizeof d.hdr;
        }
        if (PRSIM_REAL(fcntl)(fd, F_GETFL) & O_NONBLOCK) {
            errno = EAGAIN;
            return -1;
        }
        // Blocks as the sg driver does until a command completes; every command in flight ends
        // by its deadline (or at once when prsim goes away), so this never waits past that.
        h.cv.wait_for(lk, std::chrono::milliseconds(200));
    }
}

int scsi_common_ioctl(Handle& h, unsigned long req, void* arg, bool& handled) {
    const bool sg = h.node.kind == NodeKind::sg;
    handled = true;
    switch (req) {
        case SG_IO: {
            if (!arg) {
                errno = EFAULT;
                return -1;
            }
            sg_io_hdr_t hdr;
            std::memcpy(&hdr, arg, sizeof hdr);
            Command c;
            if (int e = command_from_hdr(hdr, h, c)) {
                errno = e;
                return -1;
            }
            Outcome o = run_command(c, UaPolicy::passthrough);
            reply_into_hdr(hdr, o);
            std::memcpy(arg, &hdr, sizeof hdr);
            return 0;
        }
        case SG_GET_VERSION_NUM:
            return put_arg<int>(arg, kSgVersion);
        case SG_GET_TIMEOUT: {
            std::lock_guard lk(h.mu);
            return h.timeout_ticks;  // the sg driver returns it as the ioctl's value
        }
        case SG_SET_TIMEOUT: {
            int v = 0;
            if (get_nonneg_int(arg, v, EIO)) return -1;
            std::lock_guard lk(h.mu);
            h.timeout_ticks = v;
            return 0;
        }
        case SG_GET_RESERVED_SIZE: {
            std::lock_guard lk(h.mu);
            return put_arg<int>(arg, h.reserved_size);
        }
        case SG_SET_RESERVED_SIZE: {
            int v = 0;
            if (get_nonneg_int(arg, v, EINVAL)) return -1;
            std::lock_guard lk(h.mu);
            h.reserved_size = std::min<int>(v, static_cast<int>(proto::kMaxDataLen));
            return 0;
        }
        case SG_EMULATED_HOST:
            return put_arg<int>(arg, 0);
        case SCSI_IOCTL_GET_IDLUN:
        case SCSI_IOCTL_GET_BUS_NUMBER:
        case SG_GET_SCSI_ID: {
            Conn* conn = connection();
            if (!conn) {
                errno = ENXIO;
                return -1;
            }
            const auto& a = conn->ack();
            if (req == SCSI_IOCTL_GET_BUS_NUMBER)
                return put_arg<int>(arg, static_cast<int>(a.host));
            if (req == SCSI_IOCTL_GET_IDLUN) {
                struct {
                    int dev_id;
                    int host_unique_id;
                } id{static_cast<int>((a.target_id & 0xff) | ((h.node.lun & 0xff) << 8) |
                                      ((a.channel & 0xff) << 16) | ((a.host & 0xff) << 24)),
                     static_cast<int>(a.host)};
                return put_arg(arg, id);
            }
            if (!sg) {
                errno = ENOTTY;
                return -1;
            }
            struct sg_scsi_id s {};
            s.host_no = static_cast<int>(a.host);
            s.channel = a.channel;
            s.scsi_id = a.target_id;
            s.lun = static_cast<int>(h.node.lun);
            s.scsi_type = 0;  // TYPE_DISK
            s.h_cmd_per_lun = 32;
            s.d_queue_depth = 32;
            return put_arg(arg, s);
        }
        case SCSI_IOCTL_PROBE_HOST: {
            int len = 0;
            if (get_int_arg(arg, len)) return -1;
            const char name[] = "prsim (libprinterpose)";
            const size_t n = std::min<size_t>(len > 0 ? static_cast<size_t>(len) : 0, sizeof name);
            std::memcpy(arg, name, n);
            return 1;
        }
        default:
            handled = false;
            return 0;
    }
}

int sg_ioctl(Handle& h, unsigned long req, void* arg) {
    bool handled = false;
    const int r = scsi_common_ioctl(h, req, arg, handled);
    if (handled) return r;
    {
        std::lock_guard lk(h.mu);
        switch (req) {
            case SG_SET_FORCE_PACK_ID:
                return set_flag(arg, h.force_pack_id);
            case SG_GET_PACK_ID:
                return put_arg<int>(arg, h.done.empty() ? -1 : h.done.front().hdr.pack_id);
            case SG_GET_NUM_WAITING:
                return put_arg<int>(arg, static_cast<int>(h.done.size()));
            case SG_GET_SG_TABLESIZE:
                return put_arg<int>(arg, 128);
            case SG_SET_COMMAND_Q:
                return set_flag(arg, h.command_q);
            case SG_GET_COMMAND_Q:
                return put_arg<int>(arg, h.command_q ? 1 : 0);
            case SG_SET_KEEP_ORPHAN:
                return set_flag(arg, h.keep_orphan);
            case SG_GET_KEEP_ORPHAN:
                return put_arg<int>(arg, h.keep_orphan ? 1 : 0);
            case SG_GET_LOW_DMA:
                return put_arg<int>(arg, 0);
            case SG_SET_FORCE_LOW_DMA:
            case SG_SET_DEBUG:
            case SG_NEXT_CMD_LEN:
                return 0;
            case kSgGetAccessCount:
                return put_arg<int>(arg, static_cast<int>(h.fds.size()));
            case SG_SCSI_RESET:
                return 0;  // nothing to reset: prsim has no transport state to recover
            case SG_GET_REQUEST_TABLE: {
                if (!arg) {
                    errno = EFAULT;
                    return -1;
                }
                std::memset(arg, 0, sizeof(sg_req_info_t) * SG_MAX_QUEUE);
                auto* t = static_cast<sg_req_info_t*>(arg);
                size_t i = 0;
                for (const auto& d : h.done) {
                    if (i == SG_MAX_QUEUE) break;
                    t[i].req_state = 2;  // completed, ready to be read
                    t[i].orphan = 0;
                    t[i].sg_io_owned = 0;
                    t[i].problem = d.out.status || d.out.host;
                    t[i].pack_id = d.hdr.pack_id;
                    t[i].usr_ptr = d.hdr.usr_ptr;
                    t[i].duration = d.out.duration_ms;
                    ++i;
                }
                return 0;
            }
            default:
                break;
        }
    }
    errno = ENOTTY;
    return -1;
}

}  // namespace prfence::shim
