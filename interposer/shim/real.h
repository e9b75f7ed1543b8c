// SPDX-License-Identifier: MIT
// libprinterpose: the C library's own definitions of the calls the shim interposes, resolved once
// with dlsym(RTLD_NEXT). The shim reaches the real system through these, never through its own
// exported names (which would come back to it).
#pragma once

#include <dlfcn.h>

namespace prfence::shim::real {

// PRSIM_REAL(open) is the C library's open, with the type of the declaration in scope.
template <class F>
F resolve(const char* name) {
    return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

}  // namespace prfence::shim::real

#define PRSIM_REAL(name)                                                           \
    ([]() {                                                                        \
        static auto fn = ::prfence::shim::real::resolve<decltype(&::name)>(#name); \
        return fn;                                                                 \
    }())
