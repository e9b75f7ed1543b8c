// SPDX-License-Identifier: MIT
// libprinterpose: the exported entry points. Each one decides in a few instructions whether its
// path or descriptor is virtual; everything else goes straight to the C library's definition
// (PRSIM_REAL), so a real path or descriptor is never touched. The symbol list is exports.map.
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "interposer/shim/fdtable.h"
#include "interposer/shim/process.h"
#include "interposer/shim/real.h"
#include "interposer/shim/vdev.h"
#include "uring_engine/simproto/names.h"

// Entry points the headers declare only under _FORTIFY_SOURCE, or no longer declare (the stat
// wrappers of glibc < 2.33, still called by binaries built against older glibc).
extern "C" {
int __open_2(const char* path, int flags);
int __open64_2(const char* path, int flags);
int __openat_2(int dirfd, const char* path, int flags);
int __openat64_2(int dirfd, const char* path, int flags);
ssize_t __read_chk(int fd, void* buf, size_t nbytes, size_t buflen);
ssize_t __pread64_chk(int fd, void* buf, size_t nbytes, off64_t offset, size_t buflen);
char* __realpath_chk(const char* path, char* resolved, size_t resolvedlen) noexcept;
ssize_t __readlink_chk(const char* path, char* buf, size_t len, size_t buflen) noexcept;
int __xstat(int ver, const char* path, struct stat* st) noexcept;
int __xstat64(int ver, const char* path, struct stat64* st) noexcept;
int __lxstat(int ver, const char* path, struct stat* st) noexcept;
int __lxstat64(int ver, const char* path, struct stat64* st) noexcept;
int __fxstat(int ver, int fd, struct stat* st) noexcept;
int __fxstat64(int ver, int fd, struct stat64* st) noexcept;
int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags) noexcept;
int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st, int flags) noexcept;
}

namespace {

using namespace prfence::shim;

static_assert(sizeof(struct stat) == sizeof(struct stat64), "x86_64/aarch64 layout assumed");

// A path as the shim sees it.
struct Looked {
    PathClass pc;
    char norm[PATH_MAX];
};

// True when `path` names a virtual node or the prefix directory, in the process that owns the
// shim's state (a vfork child, sharing its parent's memory, sees only the real file system).
bool look(const char* path, Looked& l) {
    if (!path || path[0] != '/') return false;
    if (!normalize_path(path, l.norm, sizeof l.norm)) return false;
    l.pc = classify(config(), l.norm);
    return l.pc.what != PathClass::What::none && owner_process();
}

// Whether a looked-up node exists: an LU the farm does not have has no device node (ENOENT). When
// prsim is unreachable the node still exists, as the node of a dead device does.
bool node_exists(const Looked& l) {
    if (l.pc.what != PathClass::What::node) return true;
    Conn* c = connection();
    return !c || l.pc.node.lun < c->lun_count();
}

// The path with PRSIM_REDIRECT applied (for the open, stat and access families).
const char* redirected(const char* path, char* buf) {
    if (!path || path[0] != '/') return path;
    const char* r = apply_redirect(config(), path, buf, PATH_MAX);
    return r ? r : path;
}

// The headers declare most path arguments nonnull, but programs do pass NULL (statx with
// AT_EMPTY_PATH): the checks live here, and the library is built with
// -fno-delete-null-pointer-checks so that they stay.
bool empty_path(const char* path) { return !path || path[0] == '\0'; }

bool at_path_is_absolute_or_cwd(int dirfd, const char* path) {
    return path && (path[0] == '/' || dirfd == AT_FDCWD);
}

// open()'s answer for a virtual path; false when the path is not virtual.
bool open_looked(const char* path, int flags, int& result) {
    Looked l;
    if (!look(path, l)) return false;
    if (l.pc.what == PathClass::What::directory) {
        // The prefix directory exists for stat() but cannot be listed.
        errno = (flags & O_ACCMODE) != O_RDONLY ? EISDIR : EACCES;
        result = -1;
        return true;
    }
    result = open_virtual(l.pc.node, l.norm, flags);
    return true;
}

mode_t mode_arg(int flags, va_list ap) {
    if (flags & (O_CREAT | O_TMPFILE)) return static_cast<mode_t>(va_arg(ap, int));
    return 0;
}

int stat_looked(const char* path, struct stat* st, bool& handled) {
    Looked l;
    handled = look(path, l);
    if (!handled) return 0;
    if (!node_exists(l)) {
        errno = ENOENT;
        return -1;
    }
    fill_stat(l.pc.what == PathClass::What::node ? &l.pc.node : nullptr, st);
    return 0;
}

bool fstat_virtual(int fd, struct stat* st) {
    if (!maybe_virtual_fd(fd)) return false;
    auto h = lookup_fd(fd);
    if (!h) return false;
    fill_stat(&h->node, st);
    return true;
}

int access_looked(const char* path, int mode, bool& handled) {
    Looked l;
    handled = look(path, l);
    if (!handled) return 0;
    if (!node_exists(l)) {
        errno = ENOENT;
        return -1;
    }
    if ((mode & X_OK) && l.pc.what == PathClass::What::node) {
        errno = EACCES;
        return -1;
    }
    return 0;
}

// readlink("/proc/self/fd/N") of a virtual descriptor names the virtual device, as the kernel
// would name /dev/sgN; a virtual node itself is not a symbolic link.
bool readlink_looked(const char* path, char* buf, size_t len, ssize_t& r) {
    if (!path) return false;
    Looked l;
    if (look(path, l)) {
        errno = EINVAL;
        r = -1;
        return true;
    }
    const char* rest = nullptr;
    if (std::strncmp(path, "/proc/self/fd/", 14) == 0) {
        rest = path + 14;
    } else if (std::strncmp(path, "/proc/", 6) == 0) {
        char* end = nullptr;
        long pid = std::strtol(path + 6, &end, 10);
        if (end && std::strncmp(end, "/fd/", 4) == 0 && pid == ::getpid()) rest = end + 4;
    }
    if (!rest || !*rest) return false;
    char* end = nullptr;
    long fd = std::strtol(rest, &end, 10);
    if (*end || fd < 0 || fd > INT_MAX || !maybe_virtual_fd(static_cast<int>(fd))) return false;
    auto h = lookup_fd(static_cast<int>(fd));
    if (!h) return false;
    const size_t n = std::min(len, h->path.size());
    std::memcpy(buf, h->path.data(), n);
    r = static_cast<ssize_t>(n);
    return true;
}

char* realpath_looked(const char* path, char* resolved, bool& handled) {
    Looked l;
    handled = look(path, l);
    if (!handled) return nullptr;
    if (!node_exists(l)) {
        errno = ENOENT;
        return nullptr;
    }
    if (resolved) {
        std::strcpy(resolved, l.norm);
        return resolved;
    }
    return ::strdup(l.norm);
}

// The descriptor-facing calls: the handle when fd is virtual (and this process owns the table).
std::shared_ptr<Handle> vfd(int fd) {
    if (!maybe_virtual_fd(fd)) return nullptr;
    if (!owner_process()) return nullptr;
    return lookup_fd(fd);
}

ssize_t do_read(int fd, void* buf, size_t n, const off_t* at, bool& handled) {
    auto h = vfd(fd);
    handled = h != nullptr;
    return handled ? vdev_read(fd, *h, buf, n, at) : 0;
}

ssize_t do_write(int fd, const void* buf, size_t n, const off_t* at, bool& handled) {
    auto h = vfd(fd);
    handled = h != nullptr;
    return handled ? vdev_write(fd, *h, buf, n, at) : 0;
}

// After a successful dup of a virtual descriptor the new number shares its handle.
int after_dup(int oldfd, int newfd) {
    if (newfd < 0 || newfd == oldfd) return newfd;
    if (auto h = vfd(oldfd)) register_fd(newfd, h);
    return newfd;
}

// ---- fopen of a virtual device: a FILE whose I/O goes through the handle ------------------------

ssize_t cookie_read(void* c, char* buf, size_t n) {
    return ::read(static_cast<int>(reinterpret_cast<intptr_t>(c)), buf, n);
}
ssize_t cookie_write(void* c, const char* buf, size_t n) {
    return ::write(static_cast<int>(reinterpret_cast<intptr_t>(c)), buf, n);
}
int cookie_seek(void* c, off64_t* off, int whence) {
    off64_t r = ::lseek64(static_cast<int>(reinterpret_cast<intptr_t>(c)), *off, whence);
    if (r < 0) return -1;
    *off = r;
    return 0;
}
int cookie_close(void* c) { return ::close(static_cast<int>(reinterpret_cast<intptr_t>(c))); }

bool fopen_looked(const char* path, const char* mode, FILE*& f) {
    Looked l;
    if (!look(path, l)) return false;
    f = nullptr;
    if (l.pc.what != PathClass::What::node || !mode) {
        errno = l.pc.what == PathClass::What::node ? EINVAL : EISDIR;
        return true;
    }
    int flags = O_RDONLY;
    if (mode[0] == 'w' || mode[0] == 'a') flags = O_WRONLY;
    if (std::strchr(mode, '+')) flags = O_RDWR;
    if (std::strchr(mode, 'e')) flags |= O_CLOEXEC;
    int fd = open_virtual(l.pc.node, l.norm, flags);
    if (fd < 0) return true;
    cookie_io_functions_t io{&cookie_read, &cookie_write, &cookie_seek, &cookie_close};
    f = ::fopencookie(reinterpret_cast<void*>(static_cast<intptr_t>(fd)), mode, io);
    if (!f) {
        int e = errno;
        ::close(fd);
        errno = e;
    }
    return true;
}

__attribute__((constructor)) void shim_init() {
    (void)owner_process();
    pthread_atfork(&atfork_prepare, &atfork_parent, &atfork_child);
}

}  // namespace

#define PRSIM_EXPORT extern "C" __attribute__((visibility("default")))

// ---- open family -------------------------------------------------------------------------------

namespace {
// An open by path: the virtual node's descriptor when `lookup` (the path is ours to look at), else
// the real call given the path as redirected.
template <class Real>
int open_common(bool lookup, const char* path, int flags, Real&& real) {
    int r;
    if (lookup && open_looked(path, flags, r)) return r;
    char buf[PATH_MAX];
    return real(redirected(path, buf));
}

template <class Real>
FILE* fopen_common(const char* path, const char* mode, Real&& real) {
    FILE* f;
    if (fopen_looked(path, mode, f)) return f;
    char buf[PATH_MAX];
    return real(redirected(path, buf));
}

// dup2/dup3 onto a virtual descriptor replace it: it is forgotten once the real call succeeded.
template <class Real>
int dup_onto(int oldfd, int newfd, Real&& real) {
    const bool replace = oldfd != newfd && maybe_virtual_fd(newfd) && owner_process();
    int r = real();
    if (r >= 0 && replace) unregister_fd(newfd);
    return after_dup(oldfd, r);
}

int after_fcntl(int fd, int cmd, int r) {
    return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC ? after_dup(fd, r) : r;
}
}  // namespace

PRSIM_EXPORT int open(const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common(true, path, flags,
                       [&](const char* p) { return PRSIM_REAL(open)(p, flags, mode); });
}

PRSIM_EXPORT int open64(const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common(true, path, flags,
                       [&](const char* p) { return PRSIM_REAL(open64)(p, flags, mode); });
}

PRSIM_EXPORT int __open_2(const char* path, int flags) {
    return open_common(true, path, flags,
                       [&](const char* p) { return PRSIM_REAL(__open_2)(p, flags); });
}

PRSIM_EXPORT int __open64_2(const char* path, int flags) {
    return open_common(true, path, flags,
                       [&](const char* p) { return PRSIM_REAL(__open64_2)(p, flags); });
}

PRSIM_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common(at_path_is_absolute_or_cwd(dirfd, path), path, flags,
                       [&](const char* p) { return PRSIM_REAL(openat)(dirfd, p, flags, mode); });
}

PRSIM_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_common(at_path_is_absolute_or_cwd(dirfd, path), path, flags,
                       [&](const char* p) { return PRSIM_REAL(openat64)(dirfd, p, flags, mode); });
}

PRSIM_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
    return open_common(at_path_is_absolute_or_cwd(dirfd, path), path, flags,
                       [&](const char* p) { return PRSIM_REAL(__openat_2)(dirfd, p, flags); });
}

PRSIM_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
    return open_common(at_path_is_absolute_or_cwd(dirfd, path), path, flags,
                       [&](const char* p) { return PRSIM_REAL(__openat64_2)(dirfd, p, flags); });
}

PRSIM_EXPORT int creat(const char* path, mode_t mode) {
    return open_common(true, path, O_WRONLY | O_CREAT | O_TRUNC,
                       [&](const char* p) { return PRSIM_REAL(creat)(p, mode); });
}

PRSIM_EXPORT int creat64(const char* path, mode_t mode) {
    return open_common(true, path, O_WRONLY | O_CREAT | O_TRUNC,
                       [&](const char* p) { return PRSIM_REAL(creat64)(p, mode); });
}

PRSIM_EXPORT FILE* fopen(const char* __restrict path, const char* __restrict mode) {
    return fopen_common(path, mode, [&](const char* p) { return PRSIM_REAL(fopen)(p, mode); });
}

PRSIM_EXPORT FILE* fopen64(const char* __restrict path, const char* __restrict mode) {
    return fopen_common(path, mode, [&](const char* p) { return PRSIM_REAL(fopen64)(p, mode); });
}

// ---- descriptors -------------------------------------------------------------------------------

PRSIM_EXPORT int close(int fd) {
    if (maybe_virtual_fd(fd) && owner_process()) unregister_fd(fd);
    return PRSIM_REAL(close)(fd);
}

PRSIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags) noexcept {
    // Forgotten before they are closed (as in close()): once closed, the numbers may be handed
    // out again. CLOSE_RANGE_CLOEXEC (4) only marks them.
    if (first <= last && !(flags & 4) && owner_process()) unregister_range(first, last);
    return PRSIM_REAL(close_range)(first, last, flags);
}

PRSIM_EXPORT void closefrom(int lowfd) noexcept {
    if (lowfd >= 0 && owner_process()) unregister_range(static_cast<unsigned>(lowfd), ~0u);
    PRSIM_REAL(closefrom)(lowfd);
}

PRSIM_EXPORT int dup(int fd) noexcept {
    int r = PRSIM_REAL(dup)(fd);
    return after_dup(fd, r);
}

PRSIM_EXPORT int dup2(int oldfd, int newfd) noexcept {
    return dup_onto(oldfd, newfd, [&] { return PRSIM_REAL(dup2)(oldfd, newfd); });
}

PRSIM_EXPORT int dup3(int oldfd, int newfd, int flags) noexcept {
    return dup_onto(oldfd, newfd, [&] { return PRSIM_REAL(dup3)(oldfd, newfd, flags); });
}

PRSIM_EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);  // int or pointer: both travel in one register
    va_end(ap);
    return after_fcntl(fd, cmd, PRSIM_REAL(fcntl)(fd, cmd, arg));
}

PRSIM_EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    return after_fcntl(fd, cmd, PRSIM_REAL(fcntl64)(fd, cmd, arg));
}

PRSIM_EXPORT int ioctl(int fd, unsigned long req, ...) noexcept {
    va_list ap;
    va_start(ap, req);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    if (auto h = vfd(fd)) return vdev_ioctl(fd, *h, req, arg);
    return PRSIM_REAL(ioctl)(fd, req, arg);
}

PRSIM_EXPORT ssize_t read(int fd, void* buf, size_t n) {
    bool handled;
    ssize_t r = do_read(fd, buf, n, nullptr, handled);
    return handled ? r : PRSIM_REAL(read)(fd, buf, n);
}

PRSIM_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
    if (n > buflen) ::abort();  // what the fortified C library does: a buffer overflow
    return read(fd, buf, n);
}

PRSIM_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
    bool handled;
    ssize_t r = do_write(fd, buf, n, nullptr, handled);
    return handled ? r : PRSIM_REAL(write)(fd, buf, n);
}

PRSIM_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
    bool handled;
    ssize_t r = do_read(fd, buf, n, &off, handled);
    return handled ? r : PRSIM_REAL(pread)(fd, buf, n, off);
}

PRSIM_EXPORT ssize_t pread64(int fd, void* buf, size_t n, off64_t off) {
    bool handled;
    off_t o = off;
    ssize_t r = do_read(fd, buf, n, &o, handled);
    return handled ? r : PRSIM_REAL(pread64)(fd, buf, n, off);
}

PRSIM_EXPORT ssize_t __pread64_chk(int fd, void* buf, size_t n, off64_t off, size_t buflen) {
    if (n > buflen) ::abort();
    return pread64(fd, buf, n, off);
}

PRSIM_EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
    bool handled;
    ssize_t r = do_write(fd, buf, n, &off, handled);
    return handled ? r : PRSIM_REAL(pwrite)(fd, buf, n, off);
}

PRSIM_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
    bool handled;
    off_t o = off;
    ssize_t r = do_write(fd, buf, n, &o, handled);
    return handled ? r : PRSIM_REAL(pwrite64)(fd, buf, n, off);
}

PRSIM_EXPORT off_t lseek(int fd, off_t off, int whence) noexcept {
    if (auto h = vfd(fd)) return vdev_lseek(*h, off, whence);
    return PRSIM_REAL(lseek)(fd, off, whence);
}

PRSIM_EXPORT off64_t lseek64(int fd, off64_t off, int whence) noexcept {
    if (auto h = vfd(fd)) return vdev_lseek(*h, off, whence);
    return PRSIM_REAL(lseek64)(fd, off, whence);
}

PRSIM_EXPORT int fsync(int fd) {
    if (auto h = vfd(fd)) return vdev_fsync(*h);
    return PRSIM_REAL(fsync)(fd);
}

PRSIM_EXPORT int fdatasync(int fd) {
    if (auto h = vfd(fd)) return vdev_fsync(*h);
    return PRSIM_REAL(fdatasync)(fd);
}

PRSIM_EXPORT int posix_fadvise(int fd, off_t off, off_t len, int advice) noexcept {
    if (vfd(fd)) return 0;
    return PRSIM_REAL(posix_fadvise)(fd, off, len, advice);
}

PRSIM_EXPORT int posix_fadvise64(int fd, off64_t off, off64_t len, int advice) noexcept {
    if (vfd(fd)) return 0;
    return PRSIM_REAL(posix_fadvise64)(fd, off, len, advice);
}

// ---- stat family -------------------------------------------------------------------------------

namespace {
// A stat call by path: the virtual node's answer, or the real call (given the path as redirected).
template <class St, class Real>
int stat_common(const char* path, St* st, Real&& real) {
    bool handled;
    int r = stat_looked(path, reinterpret_cast<struct stat*>(st), handled);
    if (handled) return r;
    char buf[PATH_MAX];
    return real(redirected(path, buf));
}

// The same for the access family.
template <class Real>
int access_common(const char* path, int mode, Real&& real) {
    bool handled;
    int r = access_looked(path, mode, handled);
    if (handled) return r;
    char buf[PATH_MAX];
    return real(redirected(path, buf));
}
}  // namespace

PRSIM_EXPORT int stat(const char* __restrict path, struct stat* __restrict st) noexcept {
    return stat_common(path, st, [&](const char* p) { return PRSIM_REAL(stat)(p, st); });
}

PRSIM_EXPORT int stat64(const char* __restrict path, struct stat64* __restrict st) noexcept {
    return stat_common(path, st, [&](const char* p) { return PRSIM_REAL(stat64)(p, st); });
}

PRSIM_EXPORT int lstat(const char* __restrict path, struct stat* __restrict st) noexcept {
    return stat_common(path, st, [&](const char* p) { return PRSIM_REAL(lstat)(p, st); });
}

PRSIM_EXPORT int lstat64(const char* __restrict path, struct stat64* __restrict st) noexcept {
    return stat_common(path, st, [&](const char* p) { return PRSIM_REAL(lstat64)(p, st); });
}

PRSIM_EXPORT int fstat(int fd, struct stat* st) noexcept {
    if (fstat_virtual(fd, st)) return 0;
    return PRSIM_REAL(fstat)(fd, st);
}

PRSIM_EXPORT int fstat64(int fd, struct stat64* st) noexcept {
    if (fstat_virtual(fd, reinterpret_cast<struct stat*>(st))) return 0;
    return PRSIM_REAL(fstat64)(fd, st);
}

namespace {
template <class Real, class St>
int fstatat_common(Real real, int dirfd, const char* path, St* st, int flags) {
    if (empty_path(path) && (flags & AT_EMPTY_PATH)) {
        if (fstat_virtual(dirfd, reinterpret_cast<struct stat*>(st))) return 0;
        return real(dirfd, path, st, flags);
    }
    if (at_path_is_absolute_or_cwd(dirfd, path)) {
        bool handled;
        int r = stat_looked(path, reinterpret_cast<struct stat*>(st), handled);
        if (handled) return r;
    }
    char buf[PATH_MAX];
    return real(dirfd, redirected(path, buf), st, flags);
}
}  // namespace

PRSIM_EXPORT int fstatat(int dirfd, const char* __restrict path, struct stat* __restrict st,
                         int flags) noexcept {
    return fstatat_common(PRSIM_REAL(fstatat), dirfd, path, st, flags);
}

PRSIM_EXPORT int fstatat64(int dirfd, const char* __restrict path, struct stat64* __restrict st,
                           int flags) noexcept {
    return fstatat_common(PRSIM_REAL(fstatat64), dirfd, path, st, flags);
}

PRSIM_EXPORT int statx(int dirfd, const char* __restrict path, int flags, unsigned int mask,
                       struct statx* __restrict stx) noexcept {
    struct stat st;
    bool handled = false;
    if (empty_path(path) && (flags & AT_EMPTY_PATH)) {
        handled = fstat_virtual(dirfd, &st);
    } else if (at_path_is_absolute_or_cwd(dirfd, path)) {
        stat_looked(path, &st, handled);
    }
    if (!handled) {
        char buf[PATH_MAX];
        return PRSIM_REAL(statx)(dirfd, redirected(path, buf), flags, mask, stx);
    }
    std::memset(stx, 0, sizeof *stx);
    stx->stx_mask = STATX_BASIC_STATS;
    stx->stx_blksize = static_cast<uint32_t>(st.st_blksize);
    stx->stx_nlink = static_cast<uint32_t>(st.st_nlink);
    stx->stx_uid = st.st_uid;
    stx->stx_gid = st.st_gid;
    stx->stx_mode = static_cast<uint16_t>(st.st_mode);
    stx->stx_ino = st.st_ino;
    stx->stx_atime.tv_sec = stx->stx_mtime.tv_sec = stx->stx_ctime.tv_sec = st.st_mtime;
    stx->stx_rdev_major = major(st.st_rdev);
    stx->stx_rdev_minor = minor(st.st_rdev);
    stx->stx_dev_major = major(st.st_dev);
    stx->stx_dev_minor = minor(st.st_dev);
    return 0;
}

// glibc < 2.33 binaries call these; ver is _STAT_VER (the kernel layout on x86_64).
PRSIM_EXPORT int __xstat(int ver, const char* path, struct stat* st) noexcept {
    return stat_common(path, st, [&](const char* p) { return PRSIM_REAL(__xstat)(ver, p, st); });
}

PRSIM_EXPORT int __xstat64(int ver, const char* path, struct stat64* st) noexcept {
    return stat_common(path, st, [&](const char* p) { return PRSIM_REAL(__xstat64)(ver, p, st); });
}

PRSIM_EXPORT int __lxstat(int ver, const char* path, struct stat* st) noexcept {
    return stat_common(path, st, [&](const char* p) { return PRSIM_REAL(__lxstat)(ver, p, st); });
}

PRSIM_EXPORT int __lxstat64(int ver, const char* path, struct stat64* st) noexcept {
    return stat_common(path, st, [&](const char* p) { return PRSIM_REAL(__lxstat64)(ver, p, st); });
}

PRSIM_EXPORT int __fxstat(int ver, int fd, struct stat* st) noexcept {
    if (fstat_virtual(fd, st)) return 0;
    return PRSIM_REAL(__fxstat)(ver, fd, st);
}

PRSIM_EXPORT int __fxstat64(int ver, int fd, struct stat64* st) noexcept {
    if (fstat_virtual(fd, reinterpret_cast<struct stat*>(st))) return 0;
    return PRSIM_REAL(__fxstat64)(ver, fd, st);
}

PRSIM_EXPORT int __fxstatat(int ver, int dirfd, const char* path, struct stat* st,
                            int flags) noexcept {
    return fstatat_common([ver](int d, const char* p, struct stat* s,
                                int f) { return PRSIM_REAL(__fxstatat)(ver, d, p, s, f); },
                          dirfd, path, st, flags);
}

PRSIM_EXPORT int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st,
                              int flags) noexcept {
    return fstatat_common([ver](int d, const char* p, struct stat64* s,
                                int f) { return PRSIM_REAL(__fxstatat64)(ver, d, p, s, f); },
                          dirfd, path, st, flags);
}

// ---- access, realpath, readlink ----------------------------------------------------------------

PRSIM_EXPORT int access(const char* path, int mode) noexcept {
    return access_common(path, mode, [&](const char* p) { return PRSIM_REAL(access)(p, mode); });
}

PRSIM_EXPORT int euidaccess(const char* path, int mode) noexcept {
    return access_common(path, mode,
                         [&](const char* p) { return PRSIM_REAL(euidaccess)(p, mode); });
}

PRSIM_EXPORT int eaccess(const char* path, int mode) noexcept {
    return access_common(path, mode, [&](const char* p) { return PRSIM_REAL(eaccess)(p, mode); });
}

PRSIM_EXPORT int faccessat(int dirfd, const char* path, int mode, int flags) noexcept {
    if (at_path_is_absolute_or_cwd(dirfd, path)) {
        bool handled;
        int r = access_looked(path, mode, handled);
        if (handled) return r;
    }
    char buf[PATH_MAX];
    return PRSIM_REAL(faccessat)(dirfd, redirected(path, buf), mode, flags);
}

PRSIM_EXPORT char* realpath(const char* __restrict path, char* __restrict resolved) noexcept {
    bool handled;
    char* r = realpath_looked(path, resolved, handled);
    if (handled) return r;
    return PRSIM_REAL(realpath)(path, resolved);
}

PRSIM_EXPORT char* __realpath_chk(const char* path, char* resolved, size_t resolvedlen) noexcept {
    if (resolvedlen < PATH_MAX) ::abort();
    return realpath(path, resolved);
}

PRSIM_EXPORT char* canonicalize_file_name(const char* path) noexcept {
    bool handled;
    char* r = realpath_looked(path, nullptr, handled);
    if (handled) return r;
    return PRSIM_REAL(canonicalize_file_name)(path);
}

PRSIM_EXPORT ssize_t readlink(const char* __restrict path, char* __restrict buf,
                              size_t len) noexcept {
    ssize_t r;
    if (readlink_looked(path, buf, len, r)) return r;
    return PRSIM_REAL(readlink)(path, buf, len);
}

PRSIM_EXPORT ssize_t __readlink_chk(const char* path, char* buf, size_t len,
                                    size_t buflen) noexcept {
    if (len > buflen) ::abort();
    return readlink(path, buf, len);
}

PRSIM_EXPORT ssize_t readlinkat(int dirfd, const char* __restrict path, char* __restrict buf,
                                size_t len) noexcept {
    ssize_t r;
    if (at_path_is_absolute_or_cwd(dirfd, path) && readlink_looked(path, buf, len, r)) return r;
    return PRSIM_REAL(readlinkat)(dirfd, path, buf, len);
}
