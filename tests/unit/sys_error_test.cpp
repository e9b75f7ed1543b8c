// SPDX-License-Identifier: MIT
// fail_errno and friends, Error::with_context / Result::context, and converting construction of
// Result<unique_ptr<Derived>> into Result<unique_ptr<Base>>.
#include "uring_engine/common/sys_error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "uring_engine/common/result.h"

namespace prfence {
namespace {

Status failing_call(int err, const std::string& path) {
    errno = err;
    return fail_errno("bind ", path);
}

TEST(SysError, FailErrnoReadsErrnoAndJoinsPieces) {
    const Status st = failing_call(EADDRINUSE, "/run/x.sock");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, Errc::system);
    EXPECT_EQ(st.error().sys_errno, EADDRINUSE);
    EXPECT_EQ(st.error().msg, std::string("bind /run/x.sock: ") + std::strerror(EADDRINUSE));
}

TEST(SysError, FailErrnoWithAKind) {
    errno = ENOENT;
    Result<int> r = fail_errno(Errc::not_found, "open ", std::string_view("/dev/sg9"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    EXPECT_EQ(r.error().sys_errno, ENOENT);
    EXPECT_EQ(r.error().msg, std::string("open /dev/sg9: ") + std::strerror(ENOENT));
}

TEST(SysError, ErrnoReadBeforeAnyTextIsBuilt) {
    // The pieces are joined after errno is saved, so whatever joining them does to errno (here a
    // piece long enough to allocate) cannot change the errno reported.
    const std::string long_piece(4096, 'x');
    errno = EPERM;
    Status st = fail_errno("chown ", long_piece, " to group ", "prfence");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().sys_errno, EPERM);
    EXPECT_NE(st.error().msg.find(std::strerror(EPERM)), std::string::npos);
    EXPECT_EQ(st.error().msg.rfind("chown xxx", 0), 0u);
}

TEST(SysError, FailWithASavedErrno) {
    errno = 0;
    Status st = fail_with_errno(EAGAIN, "pthread_create");
    EXPECT_EQ(st.error().code, Errc::system);
    EXPECT_EQ(st.error().sys_errno, EAGAIN);
    EXPECT_EQ(st.error().msg, std::string("pthread_create: ") + std::strerror(EAGAIN));
    Status io = fail_with_errno(Errc::io, EPIPE, "send");
    EXPECT_EQ(io.error().code, Errc::io);
    EXPECT_EQ(io.error().sys_errno, EPIPE);
}

TEST(SysError, ErrnoMessageAndError) {
    EXPECT_EQ(errno_message("stat /x", ENOENT), std::string("stat /x: ") + std::strerror(ENOENT));
    EXPECT_EQ(errno_message("", ENOENT), std::strerror(ENOENT));
    errno = EACCES;
    Status bare = fail_errno();
    EXPECT_EQ(bare.error().msg, std::strerror(EACCES));
    EXPECT_EQ(bare.error().sys_errno, EACCES);
    // An errno strerror does not know still gives a text, never an empty one.
    EXPECT_EQ(errno_message("x", 99999).rfind("x: ", 0), 0u);
    EXPECT_GT(errno_message("x", 99999).size(), 3u);
    const Error e = errno_error(Errc::io, ECONNRESET, "recv");
    EXPECT_EQ(e.code, Errc::io);
    EXPECT_EQ(e.sys_errno, ECONNRESET);
}

TEST(SysError, OneErrnoPerError) {
    EXPECT_EQ(error_errno(Error{Errc::system, "x", EMFILE}), EMFILE);
    EXPECT_EQ(error_errno(Error{Errc::system, "x"}), EIO);
    // The other kinds stand for their own errno, whatever detail sys_errno holds.
    EXPECT_EQ(error_errno(Error{Errc::invalid_argument, "x", EMSGSIZE}), EINVAL);
    EXPECT_EQ(error_errno(Error{Errc::truncated, "x"}), EINVAL);
    EXPECT_EQ(error_errno(Error{Errc::malformed, "x"}), EINVAL);
    EXPECT_EQ(error_errno(Error{Errc::too_small, "x"}), EINVAL);
    EXPECT_EQ(error_errno(Error{Errc::unsupported, "x"}), EOPNOTSUPP);
    EXPECT_EQ(error_errno(Error{Errc::timeout, "x"}), ETIMEDOUT);
    EXPECT_EQ(error_errno(Error{Errc::cancelled, "x"}), ECANCELED);
    EXPECT_EQ(error_errno(Error{Errc::not_found, "x", ENXIO}), ENOENT);
    EXPECT_EQ(error_errno(Error{Errc::io, "x", ECONNRESET}), EIO);
}

TEST(ErrorContext, WithContextPrefixesAndKeepsTheRest) {
    Error e{Errc::not_found, "LUN 7 does not exist", ENOENT};
    e.with_context("sim:/run/prsim.sock");
    EXPECT_EQ(e.msg, "sim:/run/prsim.sock: LUN 7 does not exist");
    EXPECT_EQ(e.code, Errc::not_found);
    EXPECT_EQ(e.sys_errno, ENOENT);
    Error chained = Error{Errc::io, "short read"}.with_context("LU 3").with_context("farm");
    EXPECT_EQ(chained.msg, "farm: LU 3: short read");
}

Result<int> parse(bool good) {
    if (good) return 42;
    return fail(Errc::invalid_argument, "not a number");
}

TEST(ErrorContext, ResultContext) {
    Result<int> bad = parse(false).context("config line 3");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().msg, "config line 3: not a number");
    Result<int> good = parse(true).context("config line 3");
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 42);

    Status st = Status(fail(Errc::timeout, "no answer")).context("prfenced");
    EXPECT_EQ(st.error().msg, "prfenced: no answer");
    EXPECT_EQ(st.error().code, Errc::timeout);
    EXPECT_TRUE(Status().context("unused").ok());
}

struct Base {
    virtual ~Base() = default;
    virtual int id() const = 0;
};
struct Derived : Base {
    int id() const override { return 7; }
};

Result<std::unique_ptr<Derived>> make_derived(bool good) {
    if (good) return std::make_unique<Derived>();
    return fail(Errc::system, "socket: Too many open files", EMFILE);
}

Result<std::unique_ptr<Base>> make_base(bool good) { return make_derived(good); }

TEST(ResultConversion, DerivedToBaseKeepsValueOrError) {
    auto b = make_base(true);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ((*b)->id(), 7);

    auto e = make_base(false);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, Errc::system);
    EXPECT_EQ(e.error().sys_errno, EMFILE);
    EXPECT_EQ(e.error().msg, "socket: Too many open files");

    // A named local converts on return too, and with context on the way.
    auto local = make_derived(false);
    Result<std::unique_ptr<Base>> moved = std::move(local).context("sim");
    EXPECT_EQ(moved.error().msg, "sim: socket: Too many open files");
}

TEST(ResultConversion, ArithmeticValuesConvert) {
    Result<int> i = 5;
    Result<long> l = std::move(i);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(*l, 5L);
    // A Result is not mistaken for a value of a type it explicitly converts to (bool).
    Result<bool> from_result = Result<int>(0);
    ASSERT_TRUE(from_result.ok());
    EXPECT_FALSE(*from_result);
    static_assert(!std::is_constructible_v<Result<std::unique_ptr<Derived>>,
                                           Result<std::unique_ptr<Base>>&&>);
}

}  // namespace
}  // namespace prfence
