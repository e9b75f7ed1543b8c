// SPDX-License-Identifier: MIT
// fail_errno: the one way a failed system call becomes an Error.
//
//     if (::bind(fd, ...) != 0) return fail_errno("bind ", path);
//
// yields Errc::system, msg "bind /run/x.sock: Address already in use", sys_errno EADDRINUSE. errno
// is read on entry, before any text is built: an allocation or a strerror call may change errno,
// and in `fail(Errc::system, text + strerror(errno), errno)` the order in which the arguments are
// evaluated is unspecified. `what` is therefore given as pieces (literals, strings, string_views)
// that are joined after errno is saved. An argument that is itself built in the call (`"bind " +
// path`, std::to_string(n)) runs before fail_errno does: pass pieces instead, or save errno first
// and use fail_with_errno.
#pragma once

#include <cerrno>
#include <concepts>
#include <string>
#include <string_view>

#include "uring_engine/common/result.h"

namespace prfence {

// "what: strerror(err)" (strerror's text for err, thread-safe); the text alone when `what` is
// empty, for a caller that adds the object itself (Error::with_context).
std::string errno_message(std::string_view what, int err);

// An Error of kind `code` for a call that failed with `err`: msg errno_message(what, err),
// sys_errno err.
Error errno_error(Errc code, int err, std::string_view what);

// The one errno that stands for `e`: sys_errno for Errc::system (EIO should it be missing),
// otherwise the kind's own, as result.h lists them (not_found ENOENT, unsupported EOPNOTSUPP, ...).
int error_errno(const Error& e) noexcept;

namespace detail {
template <class... Parts>
std::string join_parts(const Parts&... parts) {
    std::string s;
    (s.append(std::string_view(parts)), ...);
    return s;
}
}  // namespace detail

template <class T>
concept TextPiece = std::convertible_to<const T&, std::string_view>;

// A call that failed with `err` (already saved, or returned by the call, as pthread_* and
// posix_spawn do). Errc::system unless a kind is given.
template <TextPiece... Parts>
Unexpected fail_with_errno(Errc code, int err, const Parts&... what) {
    return Unexpected{errno_error(code, err, detail::join_parts(what...))};
}
template <TextPiece... Parts>
Unexpected fail_with_errno(int err, const Parts&... what) {
    return fail_with_errno(Errc::system, err, what...);
}

// The system call that just failed: errno is read first. Errc::system unless a kind is given (e.g.
// Errc::not_found for an open that failed with ENOENT, when the caller branches on it).
template <TextPiece... Parts>
Unexpected fail_errno(Errc code, const Parts&... what) {
    const int err = errno;
    return fail_with_errno(code, err, what...);
}
template <TextPiece... Parts>
Unexpected fail_errno(const Parts&... what) {
    const int err = errno;
    return fail_with_errno(Errc::system, err, what...);
}

}  // namespace prfence
