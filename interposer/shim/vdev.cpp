// SPDX-License-Identifier: MIT
// libprinterpose: opening virtual nodes and passing each call to its node kind.
#undef _FORTIFY_SOURCE
#include "interposer/shim/vdev.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "interposer/shim/disk_node.h"
#include "interposer/shim/nvme_node.h"
#include "interposer/shim/sg_node.h"

namespace prfence::shim {

int open_virtual(const VirtualNode& node, const std::string& path, int flags) {
    if ((flags & O_CREAT) && (flags & O_EXCL)) {
        errno = EEXIST;
        return -1;
    }
    if (flags & O_DIRECTORY) {
        errno = ENOTDIR;
        return -1;
    }
    Conn* conn = connection();
    if (!conn) {
        errno = ENXIO;
        return -1;
    }
    const bool nvme = node.kind == NodeKind::nvme_ns || node.kind == NodeKind::nvme_ctrl;
    if (nvme ? (conn->ack().cntlid == 0xffff ||
                (node.kind == NodeKind::nvme_ns && node.lun > conn->ack().namespace_count))
             : node.lun >= conn->lun_count()) {
        errno = ENOENT;  // no such device node: the farm has fewer LUs or namespaces
        return -1;
    }
    // The eventfd is the readiness each node kind documents: sg counts unread completions, a disk
    // is always readable.
    const bool sg = node.kind == NodeKind::sg;
    int efl = (flags & O_CLOEXEC ? EFD_CLOEXEC : 0) | (flags & O_NONBLOCK ? EFD_NONBLOCK : 0) |
              (sg ? EFD_SEMAPHORE : 0);
    int fd = ::eventfd(sg ? 0 : 1, efl);
    if (fd < 0) return -1;  // EMFILE / ENFILE as open() would report them
    auto h = std::make_shared<Handle>();
    h->node = node;
    h->path = path;
    register_fd(fd, h);
    return fd;
}

namespace {

bool is_nvme(const Handle& h) {
    return h.node.kind == NodeKind::nvme_ns || h.node.kind == NodeKind::nvme_ctrl;
}

}  // namespace

int vdev_ioctl(int, Handle& h, unsigned long req, void* arg) {
    if (h.node.kind == NodeKind::sg) return sg_ioctl(h, req, arg);
    if (is_nvme(h)) return nvme_ioctl(h, req, arg);
    return disk_ioctl(h, req, arg);
}

ssize_t vdev_read(int fd, Handle& h, void* buf, size_t count, const off_t* at) {
    if (is_nvme(h)) {
        errno = EINVAL;
        return -1;
    }
    if (h.node.kind != NodeKind::sg) return disk_read(h, buf, count, at);
    if (at) {
        errno = ESPIPE;
        return -1;
    }
    return sg_read(fd, h, buf, count);
}

ssize_t vdev_write(int, Handle& h, const void* buf, size_t count, const off_t* at) {
    if (is_nvme(h)) {
        errno = EINVAL;
        return -1;
    }
    if (h.node.kind != NodeKind::sg) return disk_write(h, buf, count, at);
    if (at) {
        errno = ESPIPE;
        return -1;
    }
    return sg_write(h, buf, count);
}

off_t vdev_lseek(Handle& h, off_t off, int whence) {
    if (is_nvme(h)) {
        errno = EINVAL;
        return -1;
    }
    if (h.node.kind == NodeKind::sg) {
        errno = ESPIPE;
        return -1;
    }
    return disk_lseek(h, off, whence);
}

int vdev_fsync(Handle& h) {
    if (h.node.kind == NodeKind::sg || is_nvme(h)) {
        errno = EINVAL;
        return -1;
    }
    return disk_fsync(h);
}

void fill_stat(const VirtualNode* node, struct stat* st) {
    std::memset(st, 0, sizeof *st);
    // Timestamps of when this process first looked (a device node's times are rarely meaningful).
    static const time_t t0 = ::time(nullptr);
    st->st_dev = makedev(0, 5);  // devtmpfs
    st->st_uid = ::geteuid();
    st->st_gid = ::getegid();
    st->st_blksize = 4096;
    st->st_atime = st->st_mtime = st->st_ctime = t0;
    if (!node) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        st->st_ino = 0x7072730000ULL;
        return;
    }
    st->st_nlink = 1;
    if (node->kind == NodeKind::sg) {
        st->st_mode = S_IFCHR | 0660;
        st->st_rdev = sg_rdev(node->lun);
        st->st_ino = 0x7072730000ULL + 2 * uint64_t{node->lun} + 1;
    } else if (node->kind == NodeKind::nvme_ns) {
        st->st_mode = S_IFBLK | 0660;
        st->st_rdev = nvme_ns_rdev(node->lun);
        st->st_ino = 0x7072740000ULL + uint64_t{node->lun};
    } else if (node->kind == NodeKind::nvme_ctrl) {
        st->st_mode = S_IFCHR | 0660;
        st->st_rdev = nvme_ctrl_rdev();
        st->st_ino = 0x7072740000ULL;
    } else {
        st->st_mode = S_IFBLK | 0660;
        st->st_rdev = disk_rdev(node->lun);
        st->st_ino = 0x7072730000ULL + 2 * uint64_t{node->lun} + 2;
    }
}

}  // namespace prfence::shim
