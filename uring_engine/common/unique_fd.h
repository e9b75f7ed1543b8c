// SPDX-License-Identifier: MIT
// UniqueFd: sole owner of a file descriptor, closed when the owner goes away.
//
// Move-only, like std::unique_ptr: moving transfers ownership and leaves the source empty (-1). An
// empty UniqueFd holds -1 and closes nothing. close(2)'s result is ignored: on Linux the descriptor
// is released even when close reports an error (EINTR, EIO), so there is nothing left to retry, and
// a write's errors belong to the write (or fsync) that a caller checks before letting go (or it
// calls ::close(fd.release()) itself). Closing leaves errno as it was, so a function that reports a
// failed call through errno may let its descriptors go on the way out.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace prfence {

class UniqueFd {
  public:
    UniqueFd() noexcept = default;
    // Takes ownership of `fd` (-1, or any negative value, means none, as a failed syscall returns
    // it).
    explicit UniqueFd(int fd) noexcept : fd_(fd < 0 ? -1 : fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        reset(o.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    // The descriptor, still owned; -1 when empty.
    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    // Gives up ownership without closing: the caller now owns the returned descriptor.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

    // Closes the held descriptor (if any) and takes `fd`. reset(get()) keeps the descriptor open.
    void reset(int fd = -1) noexcept {
        const int old = std::exchange(fd_, fd < 0 ? -1 : fd);
        if (old >= 0 && old != fd_) {
            const int saved = errno;
            ::close(old);
            errno = saved;
        }
    }

  private:
    int fd_ = -1;
};

}  // namespace prfence
