// SPDX-License-Identifier: MIT
// main() of every GoogleTest binary of the tree. GoogleTest exits 0 when a case skipped
// (GTEST_SKIP), and ctest then counts the binary as passed: the skip would be invisible. Here a run
// in which nothing failed but a case skipped exits 77, which prfence_test registers as ctest's skip
// code, after one line per skipped case with its reason. A failure still exits non-zero as
// GoogleTest decides.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    const int rc = RUN_ALL_TESTS();
    const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
    if (rc != 0 || unit.skipped_test_count() == 0) return rc;
    for (int s = 0; s < unit.total_test_suite_count(); ++s) {
        const ::testing::TestSuite& suite = *unit.GetTestSuite(s);
        for (int i = 0; i < suite.total_test_count(); ++i) {
            const ::testing::TestInfo& test = *suite.GetTestInfo(i);
            const ::testing::TestResult& result = *test.result();
            if (!result.Skipped()) continue;
            std::string why;
            for (int p = 0; p < result.total_part_count(); ++p)
                if (result.GetTestPartResult(p).skipped())
                    why = result.GetTestPartResult(p).message();
            std::printf("SKIP: %s.%s: %s\n", suite.name(), test.name(), why.c_str());
        }
    }
    return 77;
}
