// SPDX-License-Identifier: MIT
// NVMe reservation commands and the admin commands around them, as the dwords and data buffer that
// go into Linux's struct nvme_uring_cmd / struct nvme_passthru_cmd
// (include/uapi/linux/nvme_ioctl.h) or into prsim's NVMe frames. Encoders build what a host sends;
// decoders (prsim's NVMe model) turn CDW10/CDW11 and the data buffer back into the commands of
// nvme_types.h, and say which status a controller answers to what they refuse.
//
// Layouts (NVM Command Set specification, Reservation Register / Report / Acquire / Release; the
// same fields Linux's drivers/nvme/host/pr.c and drivers/nvme/target/pr.c encode and decode):
//
//   command   opcode  CDW10                                       CDW11   data (little-endian)
//   Register  0Dh     2:0 RREGA, 3 IEKEY, 31:30 CPTPL             -       le64 CRKEY, le64 NRKEY
//   Acquire   11h     2:0 RACQA, 3 IEKEY, 15:8 RTYPE              -       le64 CRKEY, le64 PRKEY
//   Release   15h     2:0 RRELA, 3 IEKEY, 15:8 RTYPE              -       le64 CRKEY
//   Report    0Eh     NUMD (zero-based dword count of the buffer) 0 EDS   Reservation Status (in)
#pragma once

#include <cstdint>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/result.h"
#include "uring_engine/wire/nvme_types.h"

namespace prfence::wire::nvme {

inline constexpr size_t kRegisterDataLen = 16;
inline constexpr size_t kAcquireDataLen = 16;
inline constexpr size_t kReleaseDataLen = 8;
inline constexpr size_t kHostIdLen = 8;      // Host Identifier, EXHID=0
inline constexpr size_t kHostIdExtLen = 16;  // Host Identifier, EXHID=1
inline constexpr uint8_t kCnsNamespace = 0x00;
inline constexpr uint8_t kCnsController = 0x01;

enum class DataDir : uint8_t { none, to_device, from_device };

// The direction an opcode implies (bits 1:0: 01b host to controller, 10b controller to host; 00b
// no data). 11b (bidirectional) is reported as to_device.
DataDir data_dir_of(uint8_t opcode) noexcept;

// One command. `admin` commands go to the controller node (/dev/nvmeX, NVME_URING_CMD_ADMIN), the
// others to a namespace node (/dev/ngXnY, NVME_URING_CMD_IO) whose NSID must be `nsid`.
//  - to_device: `data` holds the bytes to send and data_len == data.size().
//  - from_device: `data` is empty; the caller provides a buffer of data_len bytes.
//  - none: data empty, data_len 0.
struct Command {
    bool admin = false;
    uint8_t opcode = 0;
    uint32_t nsid = 0;
    uint32_t cdw10 = 0;
    uint32_t cdw11 = 0;
    uint32_t cdw12 = 0;
    uint32_t cdw13 = 0;
    uint32_t cdw14 = 0;
    uint32_t cdw15 = 0;
    DataDir dir = DataDir::none;
    Bytes data;
    uint32_t data_len = 0;

    bool operator==(const Command&) const = default;
};

// Reservation Register. Refused (Errc::invalid_argument, nothing to send):
//  - NRKEY 0 with Register or Replace. Key 0 is not special to NVMe targets: Linux's nvmet keeps a
//    host registered (and holding) with key 0, and Linux's block PR interface, for which 0 means
//    "no key", then cannot release or unregister it. So prfence never sets 0 as a new key.
//    Unregister sends NRKEY 0 (the field is not used there).
//  - An action or CPTPL value outside the enums (reserved on the wire).
Result<Command> register_cmd(uint32_t nsid, const RegisterCmd& c);
// Reservation Acquire. Refused: RTYPE outside 1..6, an action outside the enum. PRKEY is sent for
// preempt and preempt-and-abort only (zeroed for acquire).
Result<Command> acquire_cmd(uint32_t nsid, const AcquireCmd& c);
// Reservation Release. Refused: an action outside the enum; for release, RTYPE outside 1..6 (Clear
// ignores RTYPE and sends 0 when it is not a type).
Result<Command> release_cmd(uint32_t nsid, const ReleaseCmd& c);
// Reservation Report into a buffer of `buffer_len` bytes (NUMD = buffer_len / 4 - 1). Refused: a
// length that is not a multiple of 4 or is shorter than the header of the chosen layout (24 bytes,
// 64 with `eds`). nvmet wants at least 64 bytes either way and 128-bit host identifiers, i.e. eds.
Result<Command> report_cmd(uint32_t nsid, bool eds, uint32_t buffer_len);

// Read (02h) of `blocks` logical blocks from `slba` into a buffer of `buffer_len` bytes: blocks
// times the namespace's block length, which only the namespace knows (Identify). CDW10/11 SLBA,
// CDW12 bits 15:0 NLB zero-based. Refused: 0 or more than 65536 blocks, an empty buffer.
Result<Command> read_cmd(uint32_t nsid, uint64_t slba, uint32_t blocks, uint32_t buffer_len);
// Flush (00h): no data, no dwords.
Command flush_cmd(uint32_t nsid);

// Identify Namespace (CNS 0) / Identify Controller (CNS 1): admin 06h, 4096 bytes in. NSID 0 is
// refused for the namespace; kNsidAll asks for the capabilities common to all namespaces.
Result<Command> identify_ns(uint32_t nsid);
Command identify_ctrl();
// Get Log Page 80h (Reservation Notification), 64 bytes, NSID all. With `rae` (Retain
// Asynchronous Event) clear, reading the page re-arms the reservation AEN.
Command reservation_log_cmd(bool rae = false);
// Get Features 81h (Host Identifier), current value. `extended` sets EXHID (CDW11 bit 0): 16
// bytes back instead of 8; fabrics controllers (nvmet) only answer the extended form.
Command get_host_id_cmd(bool extended = true);

// What a controller answers a command the decoders refuse. The status has no DNR/MORE: nvmet sets
// DNR on every reservation error; the model adds what it wants.
struct Invalid {
    uint8_t sct = sct::generic;
    uint8_t sc = sc::invalid_field;
    uint16_t word() const noexcept { return status_word(sct, sc); }
    bool operator==(const Invalid&) const = default;
};

// Decoders over the dwords and the data buffer a host sent. Each error's message names the field
// and the status; `why`, when given, receives that status:
//  - reserved RREGA / RACQA / RRELA values: Invalid Command Opcode (what nvmet answers);
//  - reserved CPTPL (1), RTYPE outside 1..6 on Acquire and Release (not Clear): Invalid Field;
//  - a data buffer of any other length than the command's (16, 16, 8 bytes): Invalid Field, as
//    nvmet's transfer-length check answers for PRP (non-SGL) commands.
// Reserved CDW10 bits are ignored, as the specification asks of a controller. IEKEY is decoded as
// sent: whether a target honours it (nvmet refuses it on Acquire and Release) is its policy.
Result<RegisterCmd> decode_register(uint32_t cdw10, ByteView data, Invalid* why = nullptr);
Result<AcquireCmd> decode_acquire(uint32_t cdw10, ByteView data, Invalid* why = nullptr);
Result<ReleaseCmd> decode_release(uint32_t cdw10, ByteView data, Invalid* why = nullptr);
// Report: a buffer shorter than the chosen layout's header is Invalid Field. The buffer length is
// 4 * (numd + 1), up to 16 GiB, so callers compute it as 64-bit (report_buffer_len).
Result<ReportCmd> decode_report(uint32_t cdw10, uint32_t cdw11, Invalid* why = nullptr);
inline uint64_t report_buffer_len(const ReportCmd& c) noexcept {
    return 4 * (uint64_t{c.numd} + 1);
}

}  // namespace prfence::wire::nvme
