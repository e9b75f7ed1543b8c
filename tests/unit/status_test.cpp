// SPDX-License-Identifier: MIT
#include "uring_engine/wire/status.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace prfence::wire {
namespace {

using test::hex;

const std::vector<Category> kAllCategories = {
    Category::clean,
    Category::syntax_error,
    Category::not_ready,
    Category::medium_hard,
    Category::illegal_request,
    Category::unit_attention,
    Category::data_protect,
    Category::invalid_opcode,
    Category::copy_aborted,
    Category::aborted_command,
    Category::miscompare,
    Category::file_error,
    Category::illegal_request_with_info,
    Category::medium_hard_with_info,
    Category::no_sense,
    Category::recovered,
    Category::lba_out_of_range,
    Category::reservation_conflict,
    Category::condition_met,
    Category::busy,
    Category::task_set_full,
    Category::aca_active,
    Category::task_aborted,
    Category::contradict,
    Category::logic_error,
    Category::timeout,
    Category::transport_error,
    Category::protection,
    Category::protection_with_info,
    Category::malformed,
    Category::sense_other,
    Category::other,
};

TEST(StatusName, AssignedAndUnassigned) {
    EXPECT_STREQ(status_name(0x00), "GOOD");
    EXPECT_STREQ(status_name(0x02), "CHECK CONDITION");
    EXPECT_STREQ(status_name(0x04), "CONDITION MET");
    EXPECT_STREQ(status_name(0x08), "BUSY");
    EXPECT_STREQ(status_name(0x10), "INTERMEDIATE");
    EXPECT_STREQ(status_name(0x14), "INTERMEDIATE-CONDITION MET");
    EXPECT_STREQ(status_name(0x18), "RESERVATION CONFLICT");
    EXPECT_STREQ(status_name(0x22), "COMMAND TERMINATED");
    EXPECT_STREQ(status_name(0x28), "TASK SET FULL");
    EXPECT_STREQ(status_name(0x30), "ACA ACTIVE");
    EXPECT_STREQ(status_name(0x40), "TASK ABORTED");
    EXPECT_STREQ(status_name(0x01), "status 0x01");
    EXPECT_STREQ(status_name(0x7e), "status 0x7e");
    EXPECT_STREQ(status_name(0xff), "status 0xff");
    for (int v = 0; v < 256; ++v) ASSERT_NE(status_name(static_cast<uint8_t>(v))[0], '\0');
}

TEST(SamStatName, KernelTracepointSpellings) {
    EXPECT_STREQ(sam_stat_name(sam::good), "SAM_STAT_GOOD");
    EXPECT_STREQ(sam_stat_name(sam::check_condition), "SAM_STAT_CHECK_CONDITION");
    EXPECT_STREQ(sam_stat_name(sam::condition_met), "SAM_STAT_CONDITION_MET");
    EXPECT_STREQ(sam_stat_name(sam::busy), "SAM_STAT_BUSY");
    EXPECT_STREQ(sam_stat_name(0x10), "SAM_STAT_INTERMEDIATE");
    EXPECT_STREQ(sam_stat_name(0x14), "SAM_STAT_INTERMEDIATE_CONDITION_MET");
    EXPECT_STREQ(sam_stat_name(sam::reservation_conflict), "SAM_STAT_RESERVATION_CONFLICT");
    EXPECT_STREQ(sam_stat_name(0x22), "SAM_STAT_COMMAND_TERMINATED");
    EXPECT_STREQ(sam_stat_name(sam::task_set_full), "SAM_STAT_TASK_SET_FULL");
    EXPECT_STREQ(sam_stat_name(sam::aca_active), "SAM_STAT_ACA_ACTIVE");
    EXPECT_STREQ(sam_stat_name(sam::task_aborted), "SAM_STAT_TASK_ABORTED");
    // Unknown values: as __print_symbolic() prints them, "0x%lx".
    EXPECT_STREQ(sam_stat_name(0x01), "0x1");
    EXPECT_STREQ(sam_stat_name(0x1a), "0x1a");
    EXPECT_STREQ(sam_stat_name(0xff), "0xff");
}

TEST(HostByte, NamesMatchKernelValues) {
    const char* names[] = {"DID_OK",
                           "DID_NO_CONNECT",
                           "DID_BUS_BUSY",
                           "DID_TIME_OUT",
                           "DID_BAD_TARGET",
                           "DID_ABORT",
                           "DID_PARITY",
                           "DID_ERROR",
                           "DID_RESET",
                           "DID_BAD_INTR",
                           "DID_PASSTHROUGH",
                           "DID_SOFT_ERROR",
                           "DID_IMM_RETRY",
                           "DID_REQUEUE",
                           "DID_TRANSPORT_DISRUPTED",
                           "DID_TRANSPORT_FAILFAST",
                           "DID_TARGET_FAILURE",
                           "DID_NEXUS_FAILURE",
                           "DID_ALLOC_FAILURE",
                           "DID_MEDIUM_ERROR",
                           "DID_TRANSPORT_MARGINAL"};
    for (int v = 0; v <= 0x14; ++v) EXPECT_STREQ(host_byte_name(static_cast<uint8_t>(v)), names[v]);
    EXPECT_STREQ(host_byte_name(did::nexus_failure), "DID_NEXUS_FAILURE");
    EXPECT_STREQ(host_byte_name(did::transport_marginal), "DID_TRANSPORT_MARGINAL");
    EXPECT_STREQ(host_byte_name(0x15), "DID_0x15");
    EXPECT_STREQ(host_byte_name(0xff), "DID_0xff");
}

TEST(HostByte, Texts) {
    EXPECT_STREQ(host_byte_text(did::ok), "no error");
    EXPECT_STREQ(host_byte_text(did::no_connect), "no connection");
    EXPECT_STREQ(host_byte_text(did::nexus_failure), "nexus failure (reservation conflict)");
    EXPECT_STREQ(host_byte_text(did::time_out), "timed out");
    EXPECT_STREQ(host_byte_text(0x15), "unknown host byte");
    std::set<std::string> seen;
    for (int v = 0; v <= 0x14; ++v) seen.insert(host_byte_text(static_cast<uint8_t>(v)));
    EXPECT_EQ(seen.size(), 0x15u);  // one distinct phrase per code
}

TEST(DriverByte, LowNibbleNamesSuggestBitsIgnored) {
    const char* names[] = {"DRIVER_OK",      "DRIVER_BUSY",  "DRIVER_SOFT",
                           "DRIVER_MEDIA",   "DRIVER_ERROR", "DRIVER_INVALID",
                           "DRIVER_TIMEOUT", "DRIVER_HARD",  "DRIVER_SENSE"};
    for (int v = 0; v <= 8; ++v) {
        EXPECT_STREQ(driver_byte_name(static_cast<uint8_t>(v)), names[v]);
        EXPECT_STREQ(driver_byte_name(static_cast<uint8_t>(v | 0x10)), names[v]);  // SUGGEST_RETRY
        EXPECT_STREQ(driver_byte_name(static_cast<uint8_t>(v | 0x80)), names[v]);  // SUGGEST_SENSE
    }
    EXPECT_STREQ(driver_byte_name(0x28), "DRIVER_SENSE");
    EXPECT_STREQ(driver_byte_name(0x09), "DRIVER_0x09");
    EXPECT_STREQ(driver_byte_name(0xff), "DRIVER_0x0f");
}

TEST(CategoryName, DistinctAndMatchingExitCodes) {
    std::set<std::string> names;
    for (Category c : kAllCategories) {
        const std::string n = category_name(c);
        EXPECT_FALSE(n.empty());
        names.insert(n);
    }
    EXPECT_EQ(names.size(), kAllCategories.size());
    EXPECT_STREQ(category_name(Category::clean), "ok");
    EXPECT_STREQ(category_name(Category::reservation_conflict), "reservation conflict");
    EXPECT_STREQ(category_name(Category::not_ready), "not ready");
    EXPECT_STREQ(category_name(static_cast<Category>(123)), "unknown category");
    // sg3_utils' exit statuses
    EXPECT_EQ(exit_code(Category::clean), 0);
    EXPECT_EQ(exit_code(Category::unit_attention), 6);
    EXPECT_EQ(exit_code(Category::reservation_conflict), 24);
    EXPECT_EQ(exit_code(Category::timeout), 33);
    EXPECT_EQ(exit_code(Category::other), 99);
}

struct CategorizeCase {
    const char* what;
    uint8_t status;
    uint8_t host;
    uint8_t driver;
    const char* sense_hex;  // nullptr: no sense
    Category expected;
};

class Categorize : public ::testing::TestWithParam<CategorizeCase> {};

TEST_P(Categorize, Table) {
    const CategorizeCase& c = GetParam();
    std::optional<Sense> sense;
    if (c.sense_hex) {
        auto r = decode_sense(hex(c.sense_hex));
        ASSERT_TRUE(r.ok()) << c.what;
        sense = *r;
    }
    EXPECT_EQ(categorize(c.status, c.host, c.driver, sense ? &*sense : nullptr), c.expected)
        << c.what << ": got "
        << category_name(categorize(c.status, c.host, c.driver, sense ? &*sense : nullptr));
}

// Fixed-format sense with key/ASC/ASCQ, optionally with the VALID bit and INFORMATION set.
#define FIXED(key, asc, ascq) \
    "70 00 " key " 00 00 00 00 0a 00 00 00 00 " asc " " ascq " 00 00 00 00"
#define FIXED_INFO(key, asc, ascq) \
    "f0 00 " key " 00 00 10 00 0a 00 00 00 00 " asc " " ascq " 00 00 00 00"

constexpr uint8_t kGood = sam::good, kCheck = sam::check_condition;

const CategorizeCase kCases[] = {
    {"good", kGood, 0, 0, nullptr, Category::clean},
    {"good with stray sense, no DRIVER_SENSE", kGood, 0, 0, FIXED("06", "2a", "05"),
     Category::clean},
    {"unit attention", kCheck, 0, 0, FIXED("06", "2a", "05"), Category::unit_attention},
    {"unit attention, descriptor", kCheck, 0, 0, "72 06 29 07 00 00 00 00",
     Category::unit_attention},
    {"not ready", kCheck, 0, 0, FIXED("02", "04", "01"), Category::not_ready},
    {"not ready, standby", kCheck, 0, 0, FIXED("02", "04", "0b"), Category::not_ready},
    {"medium error", kCheck, 0, 0, FIXED("03", "11", "00"), Category::medium_hard},
    {"medium error with info", kCheck, 0, 0, FIXED_INFO("03", "11", "00"),
     Category::medium_hard_with_info},
    {"hardware error", kCheck, 0, 0, FIXED("04", "44", "00"), Category::medium_hard},
    {"hardware error with info", kCheck, 0, 0, FIXED_INFO("04", "44", "00"),
     Category::medium_hard_with_info},
    {"blank check", kCheck, 0, 0, FIXED("08", "00", "05"), Category::medium_hard},
    {"invalid opcode", kCheck, 0, 0, FIXED("05", "20", "00"), Category::invalid_opcode},
    {"invalid opcode, descriptor", kCheck, 0, 0, "72 05 20 00 00 00 00 00",
     Category::invalid_opcode},
    {"lba out of range", kCheck, 0, 0, FIXED("05", "21", "00"), Category::lba_out_of_range},
    {"invalid element address", kCheck, 0, 0, FIXED("05", "21", "01"), Category::illegal_request},
    {"invalid field in cdb", kCheck, 0, 0, FIXED("05", "24", "00"), Category::illegal_request},
    {"invalid field in parameter list", kCheck, 0, 0, FIXED("05", "26", "00"),
     Category::illegal_request},
    {"invalid release of PR", kCheck, 0, 0, FIXED("05", "26", "04"), Category::illegal_request},
    {"illegal request with info", kCheck, 0, 0, FIXED_INFO("05", "24", "00"),
     Category::illegal_request_with_info},
    {"illegal request, info descriptor", kCheck, 0, 0,
     "72 05 24 00 00 00 00 0c 00 0a 80 00 00 00 00 00 00 00 00 01",
     Category::illegal_request_with_info},
    {"data protect", kCheck, 0, 0, FIXED("07", "27", "00"), Category::data_protect},
    {"copy aborted", kCheck, 0, 0, FIXED("0a", "0d", "01"), Category::copy_aborted},
    {"aborted command", kCheck, 0, 0, FIXED("0b", "47", "00"), Category::aborted_command},
    {"aborted command, I_T nexus loss", kCheck, 0, 0, FIXED("0b", "29", "07"),
     Category::aborted_command},
    {"protection", kCheck, 0, 0, FIXED("0b", "10", "01"), Category::protection},
    {"protection with info", kCheck, 0, 0, FIXED_INFO("0b", "10", "03"),
     Category::protection_with_info},
    {"miscompare", kCheck, 0, 0, FIXED("0e", "1d", "00"), Category::miscompare},
    {"recovered", kCheck, 0, 0, FIXED("01", "17", "01"), Category::recovered},
    {"no sense, nothing", kCheck, 0, 0, FIXED("00", "00", "00"), Category::clean},
    {"no sense, operation in progress", kCheck, 0, 0, FIXED("00", "00", "16"), Category::no_sense},
    {"no sense, asc only", kCheck, 0, 0, FIXED("00", "5d", "00"), Category::no_sense},
    {"vendor specific key", kCheck, 0, 0, FIXED("09", "80", "00"), Category::sense_other},
    {"reserved key", kCheck, 0, 0, FIXED("0c", "00", "00"), Category::sense_other},
    {"volume overflow", kCheck, 0, 0, FIXED("0d", "00", "02"), Category::sense_other},
    {"completed", kCheck, 0, 0, FIXED("0f", "00", "00"), Category::sense_other},
    {"check condition without sense", kCheck, 0, 0, nullptr, Category::sense_other},
    {"command terminated with sense", 0x22, 0, 0, FIXED("06", "2a", "03"),
     Category::unit_attention},
    {"command terminated without sense", 0x22, 0, 0, nullptr, Category::sense_other},
    {"condition met", sam::condition_met, 0, 0, nullptr, Category::condition_met},
    {"busy", sam::busy, 0, 0, nullptr, Category::busy},
    {"reservation conflict", sam::reservation_conflict, 0, 0, nullptr,
     Category::reservation_conflict},
    {"task set full", sam::task_set_full, 0, 0, nullptr, Category::task_set_full},
    {"aca active", sam::aca_active, 0, 0, nullptr, Category::aca_active},
    {"task aborted", sam::task_aborted, 0, 0, nullptr, Category::task_aborted},
    {"intermediate (obsolete)", 0x10, 0, 0, nullptr, Category::other},
    {"unassigned status", 0x7e, 0, 0, nullptr, Category::other},
    {"reserved bits of status", 0x80, 0, 0, nullptr, Category::other},
    {"nexus failure", kGood, did::nexus_failure, 0, nullptr, Category::reservation_conflict},
    {"nexus failure beats status", kCheck, did::nexus_failure, 0, FIXED("06", "2a", "05"),
     Category::reservation_conflict},
    {"host time out", kGood, did::time_out, 0, nullptr, Category::timeout},
    {"host no connect", kGood, did::no_connect, 0, nullptr, Category::transport_error},
    {"host transport disrupted", kCheck, did::transport_disrupted, 0, FIXED("06", "29", "00"),
     Category::transport_error},
    {"host error", kGood, did::error, 0, nullptr, Category::transport_error},
    {"unknown host byte", kGood, 0x40, 0, nullptr, Category::transport_error},
    {"driver timeout", kGood, 0, 0x06, nullptr, Category::timeout},
    {"driver timeout with suggest bits", kGood, 0, 0x26, nullptr, Category::timeout},
    {"driver sense with good status", kGood, 0, 0x08, FIXED("06", "2a", "05"),
     Category::unit_attention},
    {"driver sense with suggest bits", kGood, 0, 0x18, FIXED("02", "04", "01"),
     Category::not_ready},
    {"driver sense, no sense buffer", kGood, 0, 0x08, nullptr, Category::sense_other},
    {"driver error", kGood, 0, 0x04, nullptr, Category::transport_error},
    {"suggest bits only", kGood, 0, 0x10, nullptr, Category::clean},
    {"check condition, driver sense", kCheck, 0, 0x08, FIXED("05", "20", "00"),
     Category::invalid_opcode},
};

#undef FIXED
#undef FIXED_INFO

INSTANTIATE_TEST_SUITE_P(All, Categorize, ::testing::ValuesIn(kCases));

TEST(CategorizeCoverage, EverySenseAndStatusCategoryIsReached) {
    std::set<Category> reached;
    for (const CategorizeCase& c : kCases) reached.insert(c.expected);
    for (Category c : kAllCategories) {
        switch (c) {
            // Categories of the tool, not of a command's completion.
            case Category::syntax_error:
            case Category::file_error:
            case Category::contradict:
            case Category::logic_error:
            case Category::malformed:
                continue;
            default:
                EXPECT_TRUE(reached.count(c)) << category_name(c);
        }
    }
}

TEST(Worse, Ordering) {
    EXPECT_EQ(worse(Category::clean, Category::recovered), Category::recovered);
    EXPECT_EQ(worse(Category::recovered, Category::clean), Category::recovered);
    EXPECT_EQ(worse(Category::recovered, Category::unit_attention), Category::unit_attention);
    EXPECT_EQ(worse(Category::recovered, Category::not_ready), Category::not_ready);
    // the command did its work: condition met and no sense are benign, below the transient tier
    EXPECT_EQ(worse(Category::condition_met, Category::unit_attention), Category::unit_attention);
    EXPECT_EQ(worse(Category::no_sense, Category::not_ready), Category::not_ready);
    EXPECT_EQ(worse(Category::no_sense, Category::recovered),
              Category::recovered);  // same tier: larger code
    // unit attention and not ready are one tier: the larger code wins
    EXPECT_EQ(worse(Category::not_ready, Category::unit_attention), Category::unit_attention);
    EXPECT_EQ(worse(Category::unit_attention, Category::not_ready), Category::unit_attention);
    // anything else beats the transient ones, even with a smaller code
    EXPECT_EQ(worse(Category::unit_attention, Category::medium_hard), Category::medium_hard);
    EXPECT_EQ(worse(Category::unit_attention, Category::syntax_error), Category::syntax_error);
    EXPECT_EQ(worse(Category::not_ready, Category::busy), Category::busy);
    // ties among the rest go to the larger code
    EXPECT_EQ(worse(Category::illegal_request, Category::busy), Category::busy);
    EXPECT_EQ(worse(Category::timeout, Category::transport_error), Category::transport_error);
    EXPECT_EQ(worse(Category::other, Category::malformed), Category::other);
    // reservation conflict beats everything
    for (Category c : kAllCategories) {
        EXPECT_EQ(worse(Category::reservation_conflict, c), Category::reservation_conflict);
        EXPECT_EQ(worse(c, Category::reservation_conflict), Category::reservation_conflict);
    }
}

TEST(Worse, IsATotalOrder) {
    for (Category a : kAllCategories) {
        EXPECT_EQ(worse(a, a), a);
        EXPECT_EQ(worse(Category::clean, a), a);
        for (Category b : kAllCategories) {
            const Category w = worse(a, b);
            EXPECT_TRUE(w == a || w == b);
            EXPECT_EQ(w, worse(b, a));
            for (Category c : kAllCategories)
                EXPECT_EQ(worse(worse(a, b), c), worse(a, worse(b, c)));
        }
    }
}

TEST(Worse, BatchExitCode) {
    const std::vector<Category> luns = {Category::clean, Category::unit_attention,
                                        Category::recovered, Category::clean};
    Category batch = Category::clean;
    for (Category c : luns) batch = worse(batch, c);
    EXPECT_EQ(exit_code(batch), 6);
    batch = worse(batch, Category::reservation_conflict);
    batch = worse(batch, Category::other);
    EXPECT_EQ(exit_code(batch), 24);
}

}  // namespace
}  // namespace prfence::wire
