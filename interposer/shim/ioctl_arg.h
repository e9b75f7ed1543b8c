// SPDX-License-Identifier: MIT
// libprinterpose: reading and writing an ioctl's argument as the kernel's put_user / get_user do:
// a null argument is EFAULT (-1 with errno set), anything else is taken as pointing at a T.
#pragma once

#include <errno.h>

#include <cstring>

namespace prfence::shim {

// Stores v at arg; 0, or -1 with EFAULT.
template <class T>
int put_arg(void* arg, T v) {
    if (!arg) {
        errno = EFAULT;
        return -1;
    }
    std::memcpy(arg, &v, sizeof v);
    return 0;
}

// Loads the int at arg into v; 0, or -1 with EFAULT.
inline int get_int_arg(const void* arg, int& v) {
    if (!arg) {
        errno = EFAULT;
        return -1;
    }
    std::memcpy(&v, arg, sizeof v);
    return 0;
}

}  // namespace prfence::shim
