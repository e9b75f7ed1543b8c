// SPDX-License-Identifier: MIT
// Result<T>: the expected-like return type of every prfence library call.
//
// GCC 12 has no std::expected, so this is the small subset prfence needs: a value or an Error,
// never an exception for anything a device, a file or a peer can cause. Device status (CHECK
// CONDITION, RESERVATION CONFLICT, ...) is *not* an Error: it is data inside a successful Result
// (see wire/sense.h). An Error means the call itself could not be carried out: malformed input, a
// buffer too small, a system call that failed.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace prfence {

// Why a call could not be carried out. Kept coarse on purpose: callers branch on the kind, humans
// read msg.
//
// Error::sys_errno: for Errc::system always the errno of the call that failed, or of the call not
// made because it would fail (EADDRINUSE for a socket path another daemon listens on). For the
// other kinds it is optional detail, 0 when absent: the errno of the call that revealed the problem
// (ENOTTY from the ioctl a non-sg node refuses, ECONNRESET from a peer that went away) or the errno
// a protocol answers the error with (EMSGSIZE for an oversized datagram). The errno each kind
// stands for where one errno must stand for an error (error_errno in sys_error.h) is in brackets.
enum class Errc {
    invalid_argument,  // the caller's input is malformed (bad hex, unknown name, value out of
                       // range) [EINVAL]
    truncated,         // a buffer ended before a length field said it would [EINVAL]
    malformed,         // device/peer data violates its format (not merely short) [EINVAL]
    too_small,         // an output buffer cannot hold the encoding [EINVAL]
    unsupported,       // well-formed, but not something prfence implements [EOPNOTSUPP]
    system,            // an OS call failed; sys_errno is always set
    timeout,           // [ETIMEDOUT]
    cancelled,         // [ECANCELED]
    not_found,         // [ENOENT]
    io,                // transport-level failure talking to a device or peer [EIO]
};

const char* errc_name(Errc e) noexcept;

struct Error {
    Errc code = Errc::invalid_argument;
    std::string msg;
    int sys_errno = 0;  // see Errc
    uint32_t offset =
        0;  // byte offset of the offending field in a decoded input (0: none or not said)

    Error() = default;
    Error(Errc c, std::string m, int e = 0) : code(c), msg(std::move(m)), sys_errno(e) {}

    // Names the object the error is about: msg becomes "prefix: msg" (code and sys_errno kept), as
    // in `fail(std::move(r).error().with_context("sim:" + socket))`.
    Error& with_context(std::string_view prefix) & {
        msg.insert(0, ": ").insert(0, prefix);
        return *this;
    }
    Error&& with_context(std::string_view prefix) && { return std::move(with_context(prefix)); }
};

// Tag type so that `return fail(...)` converts to any Result<T>.
struct Unexpected {
    Error err;
};
inline Unexpected fail(Errc c, std::string msg, int sys_errno = 0) {
    return Unexpected{Error{c, std::move(msg), sys_errno}};
}
inline Unexpected fail(Error e) { return Unexpected{std::move(e)}; }

template <class T>
class Result;

template <class R>
inline constexpr bool is_result_v = false;
template <class T>
inline constexpr bool is_result_v<Result<T>> = true;

template <class T>
class [[nodiscard]] Result {
  public:
    using value_type = T;

    template <class U = T,
              std::enable_if_t<
                  !is_result_v<std::remove_cvref_t<U>> && std::is_constructible_v<T, U&&>, int> = 0>
    Result(U&& v)
        : v_(std::in_place_index<0>, std::forward<U>(v)) {}  // NOLINT(google-explicit-constructor)
    Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.err)) {}  // NOLINT

    // From a Result of another type whose value converts: Result<unique_ptr<Derived>> to
    // Result<unique_ptr<Base>>, so `return make_derived();` needs no unpacking. The error is moved
    // as is.
    template <class U,
              std::enable_if_t<!std::is_same_v<U, T> && std::is_constructible_v<T, U&&>, int> = 0>
    Result(Result<U>&& other)  // NOLINT(google-explicit-constructor)
        : v_(other.ok()
                 ? std::variant<T, Error>(std::in_place_index<0>, std::move(other).value())
                 : std::variant<T, Error>(std::in_place_index<1>, std::move(other).error())) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const& {
        assert(!ok());
        return std::get<1>(v_);
    }
    Error&& error() && {
        assert(!ok());
        return std::get<1>(std::move(v_));
    }

    template <class U>
    T value_or(U&& alt) const& {
        return ok() ? value() : static_cast<T>(std::forward<U>(alt));
    }

    // On error, Error::with_context(prefix); a value passes through. `return open(p).context(p);`
    Result&& context(std::string_view prefix) && {
        if (!ok()) std::get<1>(v_).with_context(prefix);
        return std::move(*this);
    }

  private:
    std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Unexpected u) : err_(std::move(u.err)), ok_(false) {}  // NOLINT
    bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    const Error& error() const& {
        assert(!ok_);
        return err_;
    }
    Error&& error() && {
        assert(!ok_);
        return std::move(err_);
    }

    // On error, Error::with_context(prefix).
    Result&& context(std::string_view prefix) && {
        if (!ok_) err_.with_context(prefix);
        return std::move(*this);
    }

  private:
    Error err_;
    bool ok_ = true;
};

using Status = Result<void>;

}  // namespace prfence

// Propagate an error from an expression yielding a Result; otherwise bind its value.
#define PRF_TRY_CAT2(a, b) a##b
#define PRF_TRY_CAT(a, b) PRF_TRY_CAT2(a, b)
#define PRF_TRY_ASSIGN_IMPL(tmp, lhs, expr)                        \
    auto tmp = (expr);                                             \
    if (!tmp.ok()) return ::prfence::fail(std::move(tmp).error()); \
    lhs = std::move(tmp).value()
#define PRF_TRY_ASSIGN(lhs, expr) PRF_TRY_ASSIGN_IMPL(PRF_TRY_CAT(prf_try_, __LINE__), lhs, expr)
#define PRF_TRY(expr)                                                              \
    do {                                                                           \
        auto prf_try_s = (expr);                                                   \
        if (!prf_try_s.ok()) return ::prfence::fail(std::move(prf_try_s).error()); \
    } while (0)
