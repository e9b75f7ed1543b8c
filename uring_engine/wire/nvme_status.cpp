// SPDX-License-Identifier: MIT
// Names from the NVMe base specification's status code tables (Generic Command Status, Command
// Specific Status, Media and Data Integrity Errors, Path Related Status); the same values as
// Linux's NVME_SC_* in include/linux/nvme.h. The categories are documented in nvme_status.h.
#include "uring_engine/wire/nvme_status.h"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>

namespace prfence::wire::nvme {
namespace {

struct Row {
    uint8_t sct;
    uint8_t sc;
    const char* name;
    Category category;
};

constexpr Row kRows[] = {
    {sct::generic, 0x00, "Successful Completion", Category::clean},
    {sct::generic, 0x01, "Invalid Command Opcode", Category::invalid_opcode},
    {sct::generic, 0x02, "Invalid Field in Command", Category::illegal_request},
    {sct::generic, 0x03, "Command ID Conflict", Category::other},
    {sct::generic, 0x04, "Data Transfer Error", Category::transport_error},
    {sct::generic, 0x05, "Commands Aborted due to Power Loss Notification", Category::task_aborted},
    {sct::generic, 0x06, "Internal Error", Category::other},
    {sct::generic, 0x07, "Command Abort Requested", Category::task_aborted},
    {sct::generic, 0x08, "Command Aborted due to SQ Deletion", Category::task_aborted},
    {sct::generic, 0x09, "Command Aborted due to Failed Fused Command", Category::task_aborted},
    {sct::generic, 0x0a, "Command Aborted due to Missing Fused Command", Category::task_aborted},
    {sct::generic, 0x0b, "Invalid Namespace or Format", Category::illegal_request},
    {sct::generic, 0x0c, "Command Sequence Error", Category::illegal_request},
    {sct::generic, 0x0d, "Invalid SGL Segment Descriptor", Category::illegal_request},
    {sct::generic, 0x0e, "Invalid Number of SGL Descriptors", Category::illegal_request},
    {sct::generic, 0x0f, "Data SGL Length Invalid", Category::illegal_request},
    {sct::generic, 0x10, "Metadata SGL Length Invalid", Category::illegal_request},
    {sct::generic, 0x11, "SGL Descriptor Type Invalid", Category::illegal_request},
    {sct::generic, 0x18, "Host Identifier Inconsistent Format", Category::illegal_request},
    {sct::generic, 0x20, "Namespace is Write Protected", Category::data_protect},
    {sct::generic, 0x21, "Command Interrupted", Category::transport_error},
    {sct::generic, 0x22, "Transient Transport Error", Category::transport_error},
    {sct::generic, 0x80, "LBA Out of Range", Category::lba_out_of_range},
    {sct::generic, 0x81, "Capacity Exceeded", Category::other},
    {sct::generic, 0x82, "Namespace Not Ready", Category::not_ready},
    {sct::generic, 0x83, "Reservation Conflict", Category::reservation_conflict},
    {sct::generic, 0x84, "Format In Progress", Category::not_ready},
    {sct::command_specific, 0x00, "Completion Queue Invalid", Category::illegal_request},
    {sct::command_specific, 0x01, "Invalid Queue Identifier", Category::illegal_request},
    {sct::command_specific, 0x02, "Invalid Queue Size", Category::illegal_request},
    {sct::command_specific, 0x09, "Invalid Log Page", Category::illegal_request},
    {sct::command_specific, 0x0a, "Invalid Format", Category::illegal_request},
    {sct::command_specific, 0x0d, "Feature Identifier Not Saveable", Category::illegal_request},
    {sct::command_specific, 0x0e, "Feature Not Changeable", Category::illegal_request},
    {sct::command_specific, 0x0f, "Feature Not Namespace Specific", Category::illegal_request},
    {sct::command_specific, 0x80, "Conflicting Attributes", Category::illegal_request},
    {sct::command_specific, 0x81, "Invalid Protection Information", Category::illegal_request},
    {sct::command_specific, 0x82, "Attempted Write to Read Only Range", Category::data_protect},
    {sct::media, 0x80, "Write Fault", Category::medium_hard},
    {sct::media, 0x81, "Unrecovered Read Error", Category::medium_hard},
    {sct::media, 0x82, "End-to-end Guard Check Error", Category::protection},
    {sct::media, 0x83, "End-to-end Application Tag Check Error", Category::protection},
    {sct::media, 0x84, "End-to-end Reference Tag Check Error", Category::protection},
    {sct::media, 0x85, "Compare Failure", Category::miscompare},
    {sct::media, 0x86, "Access Denied", Category::data_protect},
    {sct::media, 0x87, "Deallocated or Unwritten Logical Block", Category::medium_hard},
    {sct::path, 0x00, "Internal Path Error", Category::transport_error},
    {sct::path, 0x01, "Asymmetric Access Persistent Loss", Category::transport_error},
    {sct::path, 0x02, "Asymmetric Access Inaccessible", Category::transport_error},
    {sct::path, 0x03, "Asymmetric Access Transition", Category::transport_error},
    {sct::path, 0x60, "Controller Pathing Error", Category::transport_error},
    {sct::path, 0x70, "Host Pathing Error", Category::transport_error},
    {sct::path, 0x71, "Command Aborted By Host", Category::transport_error},
};

const Row* find(uint8_t sct_value, uint8_t sc_value) noexcept {
    for (const auto& r : kRows)
        if (r.sct == sct_value && r.sc == sc_value) return &r;
    return nullptr;
}

// Codes without a row: the category their type implies.
Category fallback_category(uint8_t sct_value) noexcept {
    switch (sct_value) {
        case sct::command_specific:
            return Category::illegal_request;
        case sct::media:
            return Category::medium_hard;
        case sct::path:
            return Category::transport_error;
        default:
            return Category::other;
    }
}

struct ErrnoRow {
    int err;
    const char* name;
    Category category;
};
constexpr ErrnoRow kErrnos[] = {
    {EACCES, "EACCES", Category::file_error},
    {EPERM, "EPERM", Category::file_error},
    {EINVAL, "EINVAL", Category::file_error},
    {ENOTTY, "ENOTTY", Category::file_error},
    {EOPNOTSUPP, "EOPNOTSUPP", Category::file_error},
    {EBADF, "EBADF", Category::file_error},
    {ENOENT, "ENOENT", Category::file_error},
    {ENXIO, "ENXIO", Category::file_error},
    {ENODEV, "ENODEV", Category::file_error},
    {ETIMEDOUT, "ETIMEDOUT", Category::timeout},
    {EINTR, "EINTR", Category::transport_error},
    {ECANCELED, "ECANCELED", Category::transport_error},
    {EIO, "EIO", Category::transport_error},
    {ENOLINK, "ENOLINK", Category::transport_error},
    {EAGAIN, "EAGAIN", Category::transport_error},
    {ENOMEM, "ENOMEM", Category::transport_error},
};

const ErrnoRow* find_errno(int err) noexcept {
    for (const auto& r : kErrnos)
        if (r.err == err) return &r;
    return nullptr;
}

}  // namespace

const char* status_name(uint8_t sct_value, uint8_t sc_value) noexcept {
    if (const Row* r = find(sct_value, sc_value)) return r->name;
    switch (sct_value) {
        case sct::generic:
            return "Unknown Generic Status";
        case sct::command_specific:
            return "Unknown Command Specific Status";
        case sct::media:
            return "Unknown Media Error";
        case sct::path:
            return "Unknown Path Related Status";
        case 7:
            return "Vendor Specific Status";
        default:
            return "Reserved Status Code Type";
    }
}

StatusInfo decode_status(int res) noexcept {
    StatusInfo s;
    s.res = res;
    if (res < 0) {
        // INT_MIN has no positive twin; no errno is that large anyway.
        s.err = res == INT32_MIN ? 0 : -res;
        const ErrnoRow* r = find_errno(s.err);
        s.name = r ? r->name : "errno";
        s.category = r ? r->category : Category::transport_error;
        return s;
    }
    const auto word = static_cast<uint16_t>(res & 0x7fff);
    s.sc = static_cast<uint8_t>(word & 0xff);
    s.sct = static_cast<uint8_t>((word & kScSctMask) >> 8);
    s.crd = static_cast<uint8_t>((word & kStatusCrd) >> 11);
    s.more = word & kStatusMore;
    s.dnr = word & kStatusDnr;
    s.name = status_name(s.sct, s.sc);
    if (const Row* r = find(s.sct, s.sc))
        s.category = r->category;
    else
        s.category = fallback_category(s.sct);
    return s;
}

Category categorize(int res) noexcept { return decode_status(res).category; }

std::string describe(const StatusInfo& s) {
    char buf[16];
    if (s.res < 0) return std::string(s.name) + " (" + std::to_string(s.res) + ")";
    std::snprintf(buf, sizeof buf, "0x%x", static_cast<unsigned>(s.res & 0x7fff));
    return std::string(s.name) + " (" + buf + ")";
}

}  // namespace prfence::wire::nvme
