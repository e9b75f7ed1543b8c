// SPDX-License-Identifier: MIT
// UniqueFd: closes what it owns exactly once, and nothing it gave away.
#include "uring_engine/common/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <type_traits>
#include <utility>

namespace prfence {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int new_fd() {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return fd;
}

static_assert(!std::is_copy_constructible_v<UniqueFd>);
static_assert(!std::is_copy_assignable_v<UniqueFd>);
static_assert(std::is_nothrow_move_constructible_v<UniqueFd>);
static_assert(!std::is_convertible_v<UniqueFd, bool>);  // explicit: no accidental `int n = fd;`
static_assert(!std::is_convertible_v<int, UniqueFd>);

TEST(UniqueFd, EmptyByDefaultAndForNegative) {
    UniqueFd a;
    EXPECT_FALSE(a);
    EXPECT_EQ(a.get(), -1);
    UniqueFd b(-5);  // what a failed call's result would wrap
    EXPECT_FALSE(b);
    EXPECT_EQ(b.get(), -1);
}

TEST(UniqueFd, ClosesOnDestruction) {
    int raw;
    {
        UniqueFd fd(new_fd());
        raw = fd.get();
        EXPECT_TRUE(fd);
        EXPECT_TRUE(is_open(raw));
    }
    EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFd, ReleaseGivesOwnershipAway) {
    int raw;
    {
        UniqueFd fd(new_fd());
        raw = fd.release();
        EXPECT_FALSE(fd);
        EXPECT_EQ(fd.get(), -1);
    }
    EXPECT_TRUE(is_open(raw));
    ::close(raw);
}

TEST(UniqueFd, ResetClosesTheOldOne) {
    UniqueFd fd(new_fd());
    const int first = fd.get();
    const int second_raw = new_fd();
    fd.reset(second_raw);
    EXPECT_FALSE(is_open(first));
    EXPECT_EQ(fd.get(), second_raw);
    EXPECT_TRUE(is_open(second_raw));
    fd.reset(fd.get());  // the same descriptor again: kept open
    EXPECT_TRUE(is_open(second_raw));
    fd.reset();
    EXPECT_FALSE(fd);
    EXPECT_FALSE(is_open(second_raw));
}

TEST(UniqueFd, MoveTransfersOwnership) {
    UniqueFd a(new_fd());
    const int raw = a.get();
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    EXPECT_EQ(b.get(), raw);

    UniqueFd c(new_fd());
    const int c_raw = c.get();
    c = std::move(b);  // c's own descriptor is closed, b's is now c's
    EXPECT_FALSE(is_open(c_raw));
    EXPECT_EQ(c.get(), raw);
    EXPECT_TRUE(is_open(raw));

    UniqueFd& alias = c;
    c = std::move(alias);  // self-move keeps the descriptor
    EXPECT_EQ(c.get(), raw);
    EXPECT_TRUE(is_open(raw));
}

TEST(UniqueFd, ClosingKeepsErrno) {
    UniqueFd fd(new_fd());
    errno = ENOENT;
    fd.reset();
    EXPECT_EQ(errno, ENOENT);
}

}  // namespace
}  // namespace prfence
