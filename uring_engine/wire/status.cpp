// SPDX-License-Identifier: MIT
// SAM status names, Linux host/driver byte names, and sg3_utils-compatible outcome categories.
//
// Values checked against the kernel: DID_* in include/scsi/scsi_status.h (DID_OK 00h ..
// DID_TRANSPORT_MARGINAL 14h), the SAM_STAT_* spellings printed by include/trace/events/scsi.h
// (show_statusbyte_name), and the old DRIVER_* bytes (DRIVER_OK 0 .. DRIVER_SENSE 8, low nibble;
// SUGGEST_* in the high nibble) that sg_io_hdr.driver_status still carries. The categories follow
// sg3_utils' sg_err_category_new() and sg_err_category_sense() as behaviour, with the order
// documented in status.h.
#include "uring_engine/wire/status.h"

#include <array>
#include <cstddef>

namespace prfence::wire {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// 256 NUL-terminated names "<prefix>NN" (two lowercase hex digits), built at compile time so that
// the noexcept name functions can return a stable pointer for every byte value.
template <size_t P>
constexpr std::array<std::array<char, P + 2>, 256> padded_hex_names(const char (&prefix)[P]) {
    std::array<std::array<char, P + 2>, 256> t{};
    for (size_t v = 0; v < 256; ++v) {
        for (size_t i = 0; i + 1 < P; ++i) t[v][i] = prefix[i];
        t[v][P - 1] = kHexDigits[v >> 4];
        t[v][P] = kHexDigits[v & 15];
        t[v][P + 1] = '\0';
    }
    return t;
}

// "0x" + lowercase hex without leading zeros: how the kernel's __print_symbolic() prints a value
// that has no symbol.
constexpr std::array<std::array<char, 5>, 256> unpadded_hex_names() {
    std::array<std::array<char, 5>, 256> t{};
    for (size_t v = 0; v < 256; ++v) {
        t[v][0] = '0';
        t[v][1] = 'x';
        size_t i = 2;
        if (v >= 16) t[v][i++] = kHexDigits[v >> 4];
        t[v][i++] = kHexDigits[v & 15];
        t[v][i] = '\0';
    }
    return t;
}

constexpr auto kStatusFallback = padded_hex_names("status 0x");
constexpr auto kSamStatFallback = unpadded_hex_names();
constexpr auto kHostFallback = padded_hex_names("DID_0x");
constexpr auto kDriverFallback = padded_hex_names("DRIVER_0x");

constexpr uint8_t kSamIntermediate = 0x10;              // obsolete (linked commands)
constexpr uint8_t kSamIntermediateConditionMet = 0x14;  // obsolete
constexpr uint8_t kSamCommandTerminated = 0x22;  // obsolete; carried sense like CHECK CONDITION

constexpr uint8_t kDriverMask = 0x0f;  // the high nibble holds the old SUGGEST_* bits
constexpr uint8_t kDriverSense = 0x08;
constexpr uint8_t kDriverTimeout = 0x06;

constexpr const char* kHostNames[] = {
    "DID_OK",                   // 0x00
    "DID_NO_CONNECT",           // 0x01
    "DID_BUS_BUSY",             // 0x02
    "DID_TIME_OUT",             // 0x03
    "DID_BAD_TARGET",           // 0x04
    "DID_ABORT",                // 0x05
    "DID_PARITY",               // 0x06
    "DID_ERROR",                // 0x07
    "DID_RESET",                // 0x08
    "DID_BAD_INTR",             // 0x09
    "DID_PASSTHROUGH",          // 0x0a
    "DID_SOFT_ERROR",           // 0x0b
    "DID_IMM_RETRY",            // 0x0c
    "DID_REQUEUE",              // 0x0d
    "DID_TRANSPORT_DISRUPTED",  // 0x0e
    "DID_TRANSPORT_FAILFAST",   // 0x0f
    "DID_TARGET_FAILURE",       // 0x10
    "DID_NEXUS_FAILURE",        // 0x11
    "DID_ALLOC_FAILURE",        // 0x12
    "DID_MEDIUM_ERROR",         // 0x13
    "DID_TRANSPORT_MARGINAL",   // 0x14
};

constexpr const char* kHostTexts[] = {
    "no error",                              // DID_OK
    "no connection",                         // DID_NO_CONNECT
    "bus busy",                              // DID_BUS_BUSY
    "timed out",                             // DID_TIME_OUT
    "bad target",                            // DID_BAD_TARGET
    "aborted",                               // DID_ABORT
    "parity error",                          // DID_PARITY
    "internal error",                        // DID_ERROR
    "reset",                                 // DID_RESET
    "unexpected interrupt",                  // DID_BAD_INTR
    "passed through the midlayer",           // DID_PASSTHROUGH
    "soft error, retry",                     // DID_SOFT_ERROR
    "retry immediately",                     // DID_IMM_RETRY
    "requeued",                              // DID_REQUEUE
    "transport disrupted",                   // DID_TRANSPORT_DISRUPTED
    "transport failed fast",                 // DID_TRANSPORT_FAILFAST
    "permanent target failure",              // DID_TARGET_FAILURE
    "nexus failure (reservation conflict)",  // DID_NEXUS_FAILURE
    "space allocation failure",              // DID_ALLOC_FAILURE
    "medium error",                          // DID_MEDIUM_ERROR
    "transport marginal",                    // DID_TRANSPORT_MARGINAL
};
static_assert(std::size(kHostNames) == did::transport_marginal + 1u);
static_assert(std::size(kHostTexts) == std::size(kHostNames));

constexpr const char* kDriverNames[] = {
    "DRIVER_OK",      "DRIVER_BUSY",    "DRIVER_SOFT", "DRIVER_MEDIA", "DRIVER_ERROR",
    "DRIVER_INVALID", "DRIVER_TIMEOUT", "DRIVER_HARD", "DRIVER_SENSE",
};
static_assert(std::size(kDriverNames) == kDriverSense + 1u);

// The category of CHECK CONDITION with decoded sense.
Category categorize_sense(const Sense& s) noexcept {
    const bool info = s.information.has_value();
    switch (s.key) {
        case SenseKey::no_sense:
            return (s.asc != 0 || s.ascq != 0) ? Category::no_sense : Category::clean;
        case SenseKey::recovered_error:
            return Category::recovered;
        case SenseKey::not_ready:
            return Category::not_ready;
        case SenseKey::medium_error:
        case SenseKey::hardware_error:
        case SenseKey::blank_check:
            return info ? Category::medium_hard_with_info : Category::medium_hard;
        case SenseKey::illegal_request:
            if (s.asc == 0x20 && s.ascq == 0x00) return Category::invalid_opcode;
            if (s.asc == 0x21 && s.ascq == 0x00) return Category::lba_out_of_range;
            return info ? Category::illegal_request_with_info : Category::illegal_request;
        case SenseKey::unit_attention:
            return Category::unit_attention;
        case SenseKey::data_protect:
            return Category::data_protect;
        case SenseKey::copy_aborted:
            return Category::copy_aborted;
        case SenseKey::aborted_command:
            if (s.asc == 0x10) return info ? Category::protection_with_info : Category::protection;
            return Category::aborted_command;
        case SenseKey::miscompare:
            return Category::miscompare;
        case SenseKey::vendor_specific:
        case SenseKey::reserved_c:
        case SenseKey::volume_overflow:
        case SenseKey::completed:
            break;
    }
    return Category::sense_other;
}

// Severity for worse(): higher is worse. 0 clean, 1 benign (recovered, condition met, no sense: the
// command did its work), 2 transient (unit attention, not ready), 3 everything else, 4 reservation
// conflict.
constexpr int rank(Category c) noexcept {
    switch (c) {
        case Category::clean:
            return 0;
        case Category::recovered:
        case Category::condition_met:
        case Category::no_sense:
            return 1;
        case Category::unit_attention:
        case Category::not_ready:
            return 2;
        case Category::reservation_conflict:
            return 4;
        default:
            return 3;
    }
}

}  // namespace

const char* status_name(uint8_t status) noexcept {
    switch (status) {
        case sam::good:
            return "GOOD";
        case sam::check_condition:
            return "CHECK CONDITION";
        case sam::condition_met:
            return "CONDITION MET";
        case sam::busy:
            return "BUSY";
        case kSamIntermediate:
            return "INTERMEDIATE";
        case kSamIntermediateConditionMet:
            return "INTERMEDIATE-CONDITION MET";
        case sam::reservation_conflict:
            return "RESERVATION CONFLICT";
        case kSamCommandTerminated:
            return "COMMAND TERMINATED";
        case sam::task_set_full:
            return "TASK SET FULL";
        case sam::aca_active:
            return "ACA ACTIVE";
        case sam::task_aborted:
            return "TASK ABORTED";
        default:
            return kStatusFallback[status].data();
    }
}

const char* sam_stat_name(uint8_t status) noexcept {
    switch (status) {
        case sam::good:
            return "SAM_STAT_GOOD";
        case sam::check_condition:
            return "SAM_STAT_CHECK_CONDITION";
        case sam::condition_met:
            return "SAM_STAT_CONDITION_MET";
        case sam::busy:
            return "SAM_STAT_BUSY";
        case kSamIntermediate:
            return "SAM_STAT_INTERMEDIATE";
        case kSamIntermediateConditionMet:
            return "SAM_STAT_INTERMEDIATE_CONDITION_MET";
        case sam::reservation_conflict:
            return "SAM_STAT_RESERVATION_CONFLICT";
        case kSamCommandTerminated:
            return "SAM_STAT_COMMAND_TERMINATED";
        case sam::task_set_full:
            return "SAM_STAT_TASK_SET_FULL";
        case sam::aca_active:
            return "SAM_STAT_ACA_ACTIVE";
        case sam::task_aborted:
            return "SAM_STAT_TASK_ABORTED";
        default:
            return kSamStatFallback[status].data();
    }
}

const char* host_byte_name(uint8_t host) noexcept {
    return host < std::size(kHostNames) ? kHostNames[host] : kHostFallback[host].data();
}

const char* host_byte_text(uint8_t host) noexcept {
    return host < std::size(kHostTexts) ? kHostTexts[host] : "unknown host byte";
}

const char* driver_byte_name(uint8_t driver) noexcept {
    const uint8_t low = driver & kDriverMask;
    return low < std::size(kDriverNames) ? kDriverNames[low] : kDriverFallback[low].data();
}

const char* category_name(Category c) noexcept {
    switch (c) {
        case Category::clean:
            return "ok";
        case Category::syntax_error:
            return "syntax error";
        case Category::not_ready:
            return "not ready";
        case Category::medium_hard:
            return "medium or hardware error";
        case Category::illegal_request:
            return "illegal request";
        case Category::unit_attention:
            return "unit attention";
        case Category::data_protect:
            return "data protect";
        case Category::invalid_opcode:
            return "invalid command operation code";
        case Category::copy_aborted:
            return "copy aborted";
        case Category::aborted_command:
            return "aborted command";
        case Category::miscompare:
            return "miscompare";
        case Category::file_error:
            return "file error";
        case Category::illegal_request_with_info:
            return "illegal request, with info";
        case Category::medium_hard_with_info:
            return "medium or hardware error, with info";
        case Category::no_sense:
            return "no sense";
        case Category::recovered:
            return "recovered error";
        case Category::lba_out_of_range:
            return "LBA out of range";
        case Category::reservation_conflict:
            return "reservation conflict";
        case Category::condition_met:
            return "condition met";
        case Category::busy:
            return "busy";
        case Category::task_set_full:
            return "task set full";
        case Category::aca_active:
            return "ACA active";
        case Category::task_aborted:
            return "task aborted";
        case Category::contradict:
            return "contradictory options";
        case Category::logic_error:
            return "logic error";
        case Category::timeout:
            return "timeout";
        case Category::transport_error:
            return "transport error";
        case Category::protection:
            return "protection information error";
        case Category::protection_with_info:
            return "protection information error, with info";
        case Category::malformed:
            return "malformed response";
        case Category::sense_other:
            return "other sense";
        case Category::other:
            return "other error";
    }
    return "unknown category";
}

Category categorize(uint8_t status, uint8_t host, uint8_t driver, const Sense* sense) noexcept {
    // 1. The transport: the command may never have reached the device, whatever the status byte
    // says.
    if (host != did::ok) {
        if (host == did::nexus_failure) return Category::reservation_conflict;
        if (host == did::time_out) return Category::timeout;
        return Category::transport_error;
    }
    const uint8_t drv = driver & kDriverMask;
    if (drv == kDriverTimeout) return Category::timeout;

    // 2. The status, as the whole byte: sg3_utils masks it with 7Eh, but a status with reserved
    // bits
    //    set is not something a fencing decision should read as GOOD.
    switch (status) {
        case sam::good:
            // DRIVER_SENSE with GOOD status: sense came with the completion (sg3_utils reads it).
            if (drv == kDriverSense)
                return sense ? categorize_sense(*sense) : Category::sense_other;
            if (drv != 0) return Category::transport_error;
            return Category::clean;
        case sam::check_condition:
        case kSamCommandTerminated:
            return sense ? categorize_sense(*sense) : Category::sense_other;
        case sam::condition_met:
            return Category::condition_met;
        case sam::busy:
            return Category::busy;
        case sam::reservation_conflict:
            return Category::reservation_conflict;
        case sam::task_set_full:
            return Category::task_set_full;
        case sam::aca_active:
            return Category::aca_active;
        case sam::task_aborted:
            return Category::task_aborted;
        default:
            return Category::other;  // INTERMEDIATE (obsolete) and unassigned values
    }
}

Category worse(Category a, Category b) noexcept {
    const int ra = rank(a), rb = rank(b);
    if (ra != rb) return ra > rb ? a : b;
    return exit_code(a) >= exit_code(b) ? a : b;
}

}  // namespace prfence::wire
