// SPDX-License-Identifier: MIT
// NVMe completion status: the values io_uring returned from a real nvmet target, the field split,
// the name table and the categories (same exit codes as SCSI).
#include "uring_engine/wire/nvme_status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace prfence::wire::nvme {
namespace {

TEST(NvmeStatus, ValuesSeenFromNvmet) {
    struct Case {
        int res;
        const char* name;
        Category category;
        bool dnr;
        bool more;
    };
    const Case cases[] = {
        {0x4083, "Reservation Conflict", Category::reservation_conflict, true, false},
        {0x6083, "Reservation Conflict", Category::reservation_conflict, true, true},
        {0x6018, "Host Identifier Inconsistent Format", Category::illegal_request, true, true},
        {0x4002, "Invalid Field in Command", Category::illegal_request, true, false},
        {0x6002, "Invalid Field in Command", Category::illegal_request, true, true},
        {0x6001, "Invalid Command Opcode", Category::invalid_opcode, true, true},
        {0x0000, "Successful Completion", Category::clean, false, false},
    };
    for (const auto& c : cases) {
        auto s = decode_status(c.res);
        EXPECT_STREQ(s.name, c.name) << std::hex << c.res;
        EXPECT_EQ(s.category, c.category) << std::hex << c.res;
        EXPECT_EQ(s.dnr, c.dnr) << std::hex << c.res;
        EXPECT_EQ(s.more, c.more) << std::hex << c.res;
        EXPECT_EQ(s.sct, 0);
        EXPECT_EQ(s.code(), c.res & kScSctMask);
        EXPECT_EQ(s.err, 0);
    }
    EXPECT_EQ(exit_code(categorize(0x4083)), 24);
    EXPECT_EQ(exit_code(categorize(0x4002)), 5);
    EXPECT_EQ(exit_code(categorize(0x6001)), 9);
    EXPECT_TRUE(decode_status(0).ok());
    EXPECT_FALSE(decode_status(0x4083).ok());
}

TEST(NvmeStatus, FieldSplit) {
    // SCT 3, SC 70h (Host Pathing Error), CRD 2, MORE, DNR.
    auto s = decode_status(0x4000 | 0x2000 | (2 << 11) | 0x370);
    EXPECT_EQ(s.sct, 3);
    EXPECT_EQ(s.sc, 0x70);
    EXPECT_EQ(s.crd, 2);
    EXPECT_TRUE(s.more);
    EXPECT_TRUE(s.dnr);
    EXPECT_STREQ(s.name, "Host Pathing Error");
    EXPECT_EQ(s.category, Category::transport_error);
    // The raw completion-queue field carries the phase tag in bit 0.
    auto cqe = decode_cqe_status(static_cast<uint16_t>((0x4083 << 1) | 1));
    EXPECT_EQ(cqe.code(), 0x083);
    EXPECT_TRUE(cqe.dnr);
    EXPECT_EQ(cqe.category, Category::reservation_conflict);
}

TEST(NvmeStatus, Errno) {
    struct Case {
        int res;
        const char* name;
        Category category;
    };
    const Case cases[] = {
        {-EINVAL, "EINVAL", Category::file_error},          // NSID does not match the node
        {-EACCES, "EACCES", Category::file_error},          // write-class opcode through O_RDONLY
        {-EOPNOTSUPP, "EOPNOTSUPP", Category::file_error},  // ring without SQE128|CQE32
        {-ENOTTY, "ENOTTY", Category::file_error},
        {-EINTR, "EINTR", Category::transport_error},
        {-ETIMEDOUT, "ETIMEDOUT", Category::timeout},
        {-EIO, "EIO", Category::transport_error},
        {-EHOSTDOWN, "errno", Category::transport_error},  // not in the table
    };
    for (const auto& c : cases) {
        auto s = decode_status(c.res);
        EXPECT_STREQ(s.name, c.name) << c.res;
        EXPECT_EQ(s.category, c.category) << c.res;
        EXPECT_EQ(s.err, -c.res);
        EXPECT_FALSE(s.ok());
    }
    EXPECT_EQ(exit_code(categorize(-22)), 15);
    EXPECT_EQ(exit_code(categorize(-13)), 15);
    EXPECT_EQ(describe(decode_status(-13)), "EACCES (-13)");
    auto min = decode_status(INT32_MIN);
    EXPECT_EQ(min.category, Category::transport_error);
}

TEST(NvmeStatus, CategoriesFromTheHeaderTable) {
    EXPECT_EQ(categorize(status_word(sct::generic, sc::namespace_not_ready)), Category::not_ready);
    EXPECT_EQ(categorize(status_word(sct::generic, sc::abort_requested)), Category::task_aborted);
    EXPECT_EQ(categorize(status_word(sct::generic, sc::internal_error)), Category::other);
    EXPECT_EQ(categorize(status_word(sct::generic, sc::invalid_namespace)),
              Category::illegal_request);
    EXPECT_EQ(categorize(status_word(sct::generic, sc::command_sequence_error)),
              Category::illegal_request);
    EXPECT_EQ(categorize(status_word(sct::generic, sc::data_transfer_error)),
              Category::transport_error);
    EXPECT_EQ(categorize(status_word(sct::generic, 0x80)), Category::lba_out_of_range);
    EXPECT_EQ(categorize(status_word(sct::media, 0x85)), Category::miscompare);
    EXPECT_EQ(categorize(status_word(sct::media, 0x82)), Category::protection);
    EXPECT_EQ(categorize(status_word(sct::media, 0x86)), Category::data_protect);
    EXPECT_EQ(categorize(status_word(sct::media, 0x99)), Category::medium_hard);
    for (uint8_t sc_value : {0x00, 0x01, 0x02, 0x03, 0x60, 0x70, 0x71, 0x42})
        EXPECT_EQ(categorize(status_word(sct::path, sc_value)), Category::transport_error);
    EXPECT_EQ(categorize(status_word(sct::command_specific, 0x09)), Category::illegal_request);
    EXPECT_EQ(categorize(status_word(sct::command_specific, 0x55)), Category::illegal_request);
    EXPECT_EQ(categorize(status_word(7, 0x01)), Category::other);
    EXPECT_EQ(categorize(status_word(5, 0x01)), Category::other);
    EXPECT_EQ(categorize(status_word(sct::generic, 0x7f)), Category::other);
}

TEST(NvmeStatus, Names) {
    EXPECT_STREQ(status_name(0, 0x83), "Reservation Conflict");
    EXPECT_STREQ(status_name(0, 0x02), "Invalid Field in Command");
    EXPECT_STREQ(status_name(0, 0x18), "Host Identifier Inconsistent Format");
    EXPECT_STREQ(status_name(0, 0x0c), "Command Sequence Error");
    EXPECT_STREQ(status_name(0, 0x7f), "Unknown Generic Status");
    EXPECT_STREQ(status_name(1, 0x7f), "Unknown Command Specific Status");
    EXPECT_STREQ(status_name(2, 0x7f), "Unknown Media Error");
    EXPECT_STREQ(status_name(3, 0x7f), "Unknown Path Related Status");
    EXPECT_STREQ(status_name(7, 0x00), "Vendor Specific Status");
    EXPECT_STREQ(status_name(4, 0x00), "Reserved Status Code Type");
    EXPECT_EQ(describe(decode_status(0x4083)), "Reservation Conflict (0x4083)");
    EXPECT_EQ(describe(decode_status(0x6018)), "Host Identifier Inconsistent Format (0x6018)");
}

TEST(NvmeStatus, EveryWordDecodes) {
    // Masking: the category of a word never depends on DNR, MORE or CRD.
    for (int w = 0; w <= 0x7fff; ++w) {
        auto s = decode_status(w);
        ASSERT_NE(s.name, nullptr);
        ASSERT_EQ(s.category, categorize(w & kScSctMask)) << std::hex << w;
    }
}

}  // namespace
}  // namespace prfence::wire::nvme
