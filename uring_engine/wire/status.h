// SPDX-License-Identifier: MIT
// SAM status, Linux host and driver bytes, and the outcome categories / exit codes prfence shares
// with sg3_utils, so scripts written around sg_persist's exit codes keep working.
#pragma once

#include <cstdint>
#include <optional>

#include "uring_engine/wire/sense.h"

namespace prfence::wire {

// SAM-5 status codes.
namespace sam {
inline constexpr uint8_t good = 0x00;
inline constexpr uint8_t check_condition = 0x02;
inline constexpr uint8_t condition_met = 0x04;
inline constexpr uint8_t busy = 0x08;
inline constexpr uint8_t reservation_conflict = 0x18;
inline constexpr uint8_t task_set_full = 0x28;
inline constexpr uint8_t aca_active = 0x30;
inline constexpr uint8_t task_aborted = 0x40;
}  // namespace sam

// "GOOD", "CHECK CONDITION", "RESERVATION CONFLICT", ...; "status 0xNN" when not assigned.
const char* status_name(uint8_t status) noexcept;
// The kernel's spelling as printed by the scsi tracepoints: "SAM_STAT_RESERVATION_CONFLICT", ...
const char* sam_stat_name(uint8_t status) noexcept;

// Linux SCSI midlayer host byte (DID_*), as in sg_io_hdr.host_status.
namespace did {
inline constexpr uint8_t ok = 0x00;
inline constexpr uint8_t no_connect = 0x01;
inline constexpr uint8_t bus_busy = 0x02;
inline constexpr uint8_t time_out = 0x03;
inline constexpr uint8_t bad_target = 0x04;
inline constexpr uint8_t abort = 0x05;
inline constexpr uint8_t parity = 0x06;
inline constexpr uint8_t error = 0x07;
inline constexpr uint8_t reset = 0x08;
inline constexpr uint8_t bad_intr = 0x09;
inline constexpr uint8_t passthrough = 0x0a;
inline constexpr uint8_t soft_error = 0x0b;
inline constexpr uint8_t imm_retry = 0x0c;
inline constexpr uint8_t requeue = 0x0d;
inline constexpr uint8_t transport_disrupted = 0x0e;
inline constexpr uint8_t transport_failfast = 0x0f;
inline constexpr uint8_t target_failure =
    0x10;  // removed from the kernel in 5.x; still seen from old ones
inline constexpr uint8_t nexus_failure =
    0x11;  // older kernels' way of reporting a reservation conflict
inline constexpr uint8_t alloc_failure = 0x12;
inline constexpr uint8_t medium_error = 0x13;
inline constexpr uint8_t transport_marginal = 0x14;
}  // namespace did
// "DID_OK", "DID_NEXUS_FAILURE", ...; "DID_0xNN" when unknown.
const char* host_byte_name(uint8_t host) noexcept;
// One phrase: "no connection", "nexus failure (reservation conflict)", ...
const char* host_byte_text(uint8_t host) noexcept;

// Linux driver byte (sg_io_hdr.driver_status): low nibble, plus the old suggest bits in the high
// nibble. "DRIVER_OK", "DRIVER_SENSE", "DRIVER_TIMEOUT", ...
const char* driver_byte_name(uint8_t driver) noexcept;

// Outcome categories, numbered as sg3_utils' exit statuses (sg3_utils(8), "EXIT STATUS").
enum class Category : int {
    clean = 0,
    syntax_error = 1,
    not_ready = 2,
    medium_hard = 3,
    illegal_request = 5,
    unit_attention = 6,
    data_protect = 7,
    invalid_opcode = 9,
    copy_aborted = 10,
    aborted_command = 11,
    miscompare = 14,
    file_error = 15,
    illegal_request_with_info = 17,
    medium_hard_with_info = 18,
    no_sense = 20,
    recovered = 21,
    lba_out_of_range = 22,
    reservation_conflict = 24,
    condition_met = 25,
    busy = 26,
    task_set_full = 27,
    aca_active = 28,
    task_aborted = 29,
    contradict = 31,
    logic_error = 32,
    timeout = 33,
    transport_error = 35,
    protection = 40,
    protection_with_info = 41,
    malformed = 97,
    sense_other = 98,
    other = 99,
};

// Short name: "ok", "not ready", "reservation conflict", ...
const char* category_name(Category c) noexcept;
inline int exit_code(Category c) noexcept { return static_cast<int>(c); }

// The category of one command's completion, as sg3_utils derives it: transport failures (host byte
// other than DID_OK; DID_NEXUS_FAILURE counts as a reservation conflict, DID_TIME_OUT as a timeout)
// first, then the status, then for CHECK CONDITION the sense key / ASC (ILLEGAL REQUEST 20h/00h is
// invalid_opcode, 21h/00h lba_out_of_range; ABORTED COMMAND 10h/xx protection; RECOVERED ERROR
// counts as clean only via `recovered`). `sense` is the decoded sense if there was any.
Category categorize(uint8_t status, uint8_t host, uint8_t driver, const Sense* sense) noexcept;

// Which of two outcomes is worse, for "exit code of a batch = the worst LUN". Clean < benign
// (recovered, condition met, no sense) < transient (unit attention, not ready) < everything else <
// reservation conflict, which ranks highest because it is the one fencing scripts act on; ties go
// to the numerically larger code.
Category worse(Category a, Category b) noexcept;

}  // namespace prfence::wire
