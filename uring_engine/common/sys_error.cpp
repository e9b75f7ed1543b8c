// SPDX-License-Identifier: MIT
#include "uring_engine/common/sys_error.h"

#include <cerrno>
#include <cstring>

namespace prfence {

std::string errno_message(std::string_view what, int err) {
    char buf[128];
    // GNU strerror_r: returns either buf or a static string, never fails.
    const char* text = ::strerror_r(err, buf, sizeof buf);
    std::string s;
    s.reserve(what.size() + 2 + std::strlen(text));
    if (!what.empty()) s.append(what).append(": ");
    s.append(text);
    return s;
}

int error_errno(const Error& e) noexcept {
    switch (e.code) {
        case Errc::system:
            return e.sys_errno > 0 ? e.sys_errno : EIO;
        case Errc::not_found:
            return ENOENT;
        case Errc::io:
            return EIO;
        case Errc::timeout:
            return ETIMEDOUT;
        case Errc::cancelled:
            return ECANCELED;
        case Errc::unsupported:
            return EOPNOTSUPP;
        case Errc::invalid_argument:
        case Errc::truncated:
        case Errc::malformed:
        case Errc::too_small:
            return EINVAL;
    }
    return EINVAL;
}

Error errno_error(Errc code, int err, std::string_view what) {
    return Error{code, errno_message(what, err), err};
}

}  // namespace prfence
