// SPDX-License-Identifier: MIT
#include "uring_engine/common/sys_error.h"

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

Error errno_error(Errc code, int err, std::string_view what) {
    return Error{code, errno_message(what, err), err};
}

}  // namespace prfence
