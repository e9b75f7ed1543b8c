// SPDX-License-Identifier: MIT
#include "uring_engine/wire/cdb.h"

#include <algorithm>
#include <cstdio>

namespace prfence::wire {
namespace {

struct OpRow {
    uint8_t op;
    const char* t10;
    const char* trace;  // include/trace/events/scsi.h symbol, nullptr when the kernel has none
    const char* dmesg;  // drivers/scsi/constants.c spelling
    CommandClass cls;
};

// Sorted by opcode. Classes follow SPC-4 table 66 (commands allowed in the presence of
// reservations) and SBC-3's list of medium-access commands; "always" are the ones every type allows
// from any nexus.
constexpr OpRow kOps[] = {
    {0x00, "TEST UNIT READY", "TEST_UNIT_READY", "Test Unit Ready", CommandClass::always},
    {0x03, "REQUEST SENSE", "REQUEST_SENSE", "Request Sense", CommandClass::always},
    {0x04, "FORMAT UNIT", "FORMAT_UNIT", "Format Unit/Medium", CommandClass::write},
    {0x07, "REASSIGN BLOCKS", "REASSIGN_BLOCKS", "Reassign Blocks", CommandClass::write},
    {0x08, "READ(6)", "READ_6", "Read(6)", CommandClass::read},
    {0x0a, "WRITE(6)", "WRITE_6", "Write(6)", CommandClass::write},
    {0x12, "INQUIRY", "INQUIRY", "Inquiry", CommandClass::always},
    {0x15, "MODE SELECT(6)", "MODE_SELECT", "Mode Select(6)", CommandClass::other},
    {0x16, "RESERVE(6)", "RESERVE", "Reserve(6)", CommandClass::spc2},
    {0x17, "RELEASE(6)", "RELEASE", "Release(6)", CommandClass::spc2},
    {0x1a, "MODE SENSE(6)", "MODE_SENSE", "Mode Sense(6)", CommandClass::read},
    {0x1b, "START STOP UNIT", "START_STOP", "Start/Stop Unit", CommandClass::other},
    {0x1c, "RECEIVE DIAGNOSTIC RESULTS", "RECEIVE_DIAGNOSTIC", "Receive Diagnostic",
     CommandClass::read},
    {0x1d, "SEND DIAGNOSTIC", "SEND_DIAGNOSTIC", "Send Diagnostic", CommandClass::other},
    {0x1e, "PREVENT ALLOW MEDIUM REMOVAL", "ALLOW_MEDIUM_REMOVAL", "Prevent/Allow Medium Removal",
     CommandClass::other},
    {0x25, "READ CAPACITY(10)", "READ_CAPACITY", "Read Capacity(10)", CommandClass::always},
    {0x28, "READ(10)", "READ_10", "Read(10)", CommandClass::read},
    {0x2a, "WRITE(10)", "WRITE_10", "Write(10)", CommandClass::write},
    {0x2e, "WRITE AND VERIFY(10)", "WRITE_VERIFY", "Write Verify(10)", CommandClass::write},
    {0x2f, "VERIFY(10)", "VERIFY", "Verify(10)", CommandClass::read},
    {0x34, "PRE-FETCH(10)", "PRE_FETCH", "Prefetch/Read Position", CommandClass::read},
    {0x35, "SYNCHRONIZE CACHE(10)", "SYNCHRONIZE_CACHE", "Synchronize Cache(10)",
     CommandClass::write},
    {0x3b, "WRITE BUFFER", "WRITE_BUFFER", "Write Buffer", CommandClass::other},
    {0x3c, "READ BUFFER(10)", "READ_BUFFER", "Read Buffer", CommandClass::read},
    {0x41, "WRITE SAME(10)", "WRITE_SAME", "Write Same(10)", CommandClass::write},
    {0x42, "UNMAP", "UNMAP", "Unmap/Read sub-channel", CommandClass::write},
    {0x4c, "LOG SELECT", "LOG_SELECT", "Log Select", CommandClass::other},
    {0x4d, "LOG SENSE", "LOG_SENSE", "Log Sense", CommandClass::always},
    {0x55, "MODE SELECT(10)", "MODE_SELECT_10", "Mode Select(10)", CommandClass::other},
    {0x56, "RESERVE(10)", "RESERVE_10", "Reserve(10)", CommandClass::spc2},
    {0x57, "RELEASE(10)", "RELEASE_10", "Release(10)", CommandClass::spc2},
    {0x5a, "MODE SENSE(10)", "MODE_SENSE_10", "Mode Sense(10)", CommandClass::read},
    {0x5e, "PERSISTENT RESERVE IN", "PERSISTENT_RESERVE_IN", "Persistent reserve in",
     CommandClass::always},
    {0x5f, "PERSISTENT RESERVE OUT", "PERSISTENT_RESERVE_OUT", "Persistent reserve out",
     CommandClass::pr_out},
    {0x7f, "VARIABLE LENGTH", "VARIABLE_LENGTH_CMD", "Variable length", CommandClass::other},
    {0x83, "THIRD-PARTY COPY OUT", nullptr, "Third party copy out", CommandClass::write},
    {0x84, "THIRD-PARTY COPY IN", nullptr, "Third party copy in", CommandClass::other},
    {0x88, "READ(16)", "READ_16", "Read(16)", CommandClass::read},
    {0x89, "COMPARE AND WRITE", nullptr, "Compare and Write", CommandClass::write},
    {0x8a, "WRITE(16)", "WRITE_16", "Write(16)", CommandClass::write},
    {0x8e, "WRITE AND VERIFY(16)", nullptr, "Write and verify(16)", CommandClass::write},
    {0x8f, "VERIFY(16)", "VERIFY_16", "Verify(16)", CommandClass::read},
    {0x91, "SYNCHRONIZE CACHE(16)", nullptr, "Synchronize cache(16)", CommandClass::write},
    {0x93, "WRITE SAME(16)", "WRITE_SAME_16", "Write same(16)", CommandClass::write},
    {0x9e, "SERVICE ACTION IN(16)", "SERVICE_ACTION_IN_16", "Service action in(16)",
     CommandClass::always},
    {0xa0, "REPORT LUNS", "REPORT_LUNS", "Report luns", CommandClass::always},
    {0xa3, "MAINTENANCE IN", "MAINTENANCE_IN", "Maintenance in", CommandClass::always},
    {0xa4, "MAINTENANCE OUT", "MAINTENANCE_OUT", "Maintenance out", CommandClass::other},
    {0xa8, "READ(12)", "READ_12", "Read(12)", CommandClass::read},
    {0xaa, "WRITE(12)", "WRITE_12", "Write(12)", CommandClass::write},
    {0xae, "WRITE AND VERIFY(12)", "WRITE_VERIFY_12", "Write and verify(12)", CommandClass::write},
    {0xaf, "VERIFY(12)", nullptr, "Verify(12)", CommandClass::read},
};

const OpRow* find_op(uint8_t op) noexcept {
    auto it = std::lower_bound(std::begin(kOps), std::end(kOps), op,
                               [](const OpRow& r, uint8_t v) { return r.op < v; });
    return (it != std::end(kOps) && it->op == op) ? it : nullptr;
}

// "opcode 0xNN" for every byte, built once; lets the name functions return const char* for any
// input.
struct UnknownNames {
    char text[256][16];
    UnknownNames() {
        for (int i = 0; i < 256; ++i) std::snprintf(text[i], sizeof text[i], "opcode 0x%02x", i);
    }
};
const char* unknown_name(uint8_t op) {
    static const UnknownNames names;
    return names.text[op];
}

constexpr const char* kDmesgPrIn[] = {
    "Persistent reserve in, read keys", "Persistent reserve in, read reservation",
    "Persistent reserve in, report capabilities", "Persistent reserve in, read full status"};
constexpr const char* kDmesgPrOut[] = {"Persistent reserve out, register",
                                       "Persistent reserve out, reserve",
                                       "Persistent reserve out, release",
                                       "Persistent reserve out, clear",
                                       "Persistent reserve out, preempt",
                                       "Persistent reserve out, preempt and abort",
                                       "Persistent reserve out, register and ignore existing key",
                                       "Persistent reserve out, register and move"};

Cdb make10(uint8_t op) {
    Cdb c;
    c.len = 10;
    c.b[0] = op;
    return c;
}

}  // namespace

Cdb prin_cdb(PrInAction sa, uint16_t alloc_len, uint8_t control) {
    Cdb c = make10(kOpPersistentReserveIn);
    c.b[1] = static_cast<uint8_t>(sa) & 0x1f;
    put_be16(c.b, 7, alloc_len);
    c.b[9] = control;
    return c;
}

Cdb prout_cdb(PrOutAction sa, PrType type, uint32_t param_len, uint8_t control) {
    Cdb c = make10(kOpPersistentReserveOut);
    c.b[1] = static_cast<uint8_t>(sa) & 0x1f;
    c.b[2] = static_cast<uint8_t>(type) & 0x0f;  // SCOPE 0h (LU_SCOPE) in the high nibble
    put_be32(c.b, 5, param_len);
    c.b[9] = control;
    return c;
}

Cdb test_unit_ready_cdb() {
    Cdb c;
    c.len = 6;
    return c;
}

Cdb inquiry_cdb(bool evpd, uint8_t page, uint16_t alloc_len) {
    Cdb c;
    c.len = 6;
    c.b[0] = 0x12;
    c.b[1] = evpd ? 1 : 0;
    c.b[2] = evpd ? page : 0;
    put_be16(c.b, 3, alloc_len);
    return c;
}

Cdb report_luns_cdb(uint8_t select_report, uint32_t alloc_len) {
    Cdb c;
    c.len = 12;
    c.b[0] = 0xa0;
    c.b[2] = select_report;
    put_be32(c.b, 6, alloc_len);
    return c;
}

Cdb read_capacity10_cdb() { return make10(0x25); }

Cdb read_capacity16_cdb(uint32_t alloc_len) {
    Cdb c;
    c.len = 16;
    c.b[0] = 0x9e;
    c.b[1] = 0x10;  // SERVICE ACTION: READ CAPACITY(16)
    put_be32(c.b, 10, alloc_len);
    return c;
}

Cdb read10_cdb(uint32_t lba, uint16_t blocks) {
    Cdb c = make10(0x28);
    put_be32(c.b, 2, lba);
    put_be16(c.b, 7, blocks);
    return c;
}

Cdb write10_cdb(uint32_t lba, uint16_t blocks) {
    Cdb c = make10(0x2a);
    put_be32(c.b, 2, lba);
    put_be16(c.b, 7, blocks);
    return c;
}

Cdb read16_cdb(uint64_t lba, uint32_t blocks) {
    Cdb c;
    c.len = 16;
    c.b[0] = 0x88;
    put_be64(c.b, 2, lba);
    put_be32(c.b, 10, blocks);
    return c;
}

Cdb write16_cdb(uint64_t lba, uint32_t blocks) {
    Cdb c = read16_cdb(lba, blocks);
    c.b[0] = 0x8a;
    return c;
}

Cdb synchronize_cache10_cdb() { return make10(0x35); }

Cdb reserve6_cdb() {
    Cdb c;
    c.len = 6;
    c.b[0] = 0x16;
    return c;
}

Cdb release6_cdb() {
    Cdb c;
    c.len = 6;
    c.b[0] = 0x17;
    return c;
}

size_t cdb_length_for_opcode(uint8_t opcode) noexcept {
    switch (opcode >> 5) {
        case 0:
            return 6;
        case 1:
        case 2:
            return 10;
        case 4:
            return 16;
        case 5:
            return 12;
        default:
            return 0;
    }
}

const char* command_name(uint8_t opcode) noexcept {
    const OpRow* r = find_op(opcode);
    return r ? r->t10 : unknown_name(opcode);
}

const char* tracepoint_command_name(uint8_t opcode) noexcept {
    const OpRow* r = find_op(opcode);
    return r ? r->trace : nullptr;
}

const char* dmesg_command_name(uint8_t opcode, int sa) noexcept {
    if (opcode == kOpPersistentReserveIn && sa >= 0 && sa < 4) return kDmesgPrIn[sa];
    if (opcode == kOpPersistentReserveOut && sa >= 0 && sa < 8) return kDmesgPrOut[sa];
    const OpRow* r = find_op(opcode);
    return r ? r->dmesg : unknown_name(opcode);
}

std::optional<uint8_t> opcode_from_tracepoint_name(std::string_view name) noexcept {
    for (const auto& r : kOps)
        if (r.trace && name == r.trace) return r.op;
    return std::nullopt;
}

CommandClass command_class(uint8_t opcode) noexcept {
    const OpRow* r = find_op(opcode);
    return r ? r->cls : CommandClass::other;
}

namespace {

// SBC-4's block commands (READ, WRITE, VERIFY, WRITE AND VERIFY; WRITE SAME 10/16). Where their LBA
// and transfer length sit follows from the CDB's length alone (see block_range).
constexpr uint8_t kBlockOpcodes[] = {0x08, 0x0a, 0x28, 0x2a, 0x2e, 0x2f, 0x41, 0xa8,
                                     0xaa, 0xae, 0xaf, 0x88, 0x8a, 0x8e, 0x8f, 0x93};

}  // namespace

std::optional<BlockRange> block_range(ByteView cdb) noexcept {
    if (cdb.empty() || std::find(std::begin(kBlockOpcodes), std::end(kBlockOpcodes), cdb[0]) ==
                           std::end(kBlockOpcodes))
        return std::nullopt;
    const size_t len = cdb_length_for_opcode(cdb[0]);
    if (cdb.size() < len) return std::nullopt;
    switch (len) {
        case 6:  // READ/WRITE 6: 21-bit LBA, 0 blocks means 256
            return BlockRange{((cdb[1] & 0x1fu) << 16) | (uint32_t{cdb[2]} << 8) | cdb[3],
                              cdb[4] ? cdb[4] : 256u};
        case 10:
            return BlockRange{get_be32(cdb, 2), get_be16(cdb, 7)};
        case 12:
            return BlockRange{get_be32(cdb, 2), get_be32(cdb, 6)};
        case 16:
            return BlockRange{get_be64(cdb, 2), get_be32(cdb, 10)};
        default:
            return std::nullopt;
    }
}

Result<DecodedCdb> decode_cdb(ByteView cdb) {
    if (cdb.empty()) return fail(Errc::truncated, "CDB is empty");
    DecodedCdb d;
    d.opcode = cdb[0];
    d.name = command_name(d.opcode);
    d.expected_len = cdb_length_for_opcode(d.opcode);
    if (d.expected_len != 0 && cdb.size() < d.expected_len)
        return fail(Errc::truncated, d.name + " CDB needs " + std::to_string(d.expected_len) +
                                         " bytes, got " + std::to_string(cdb.size()));
    char buf[160];
    switch (d.opcode) {
        case kOpPersistentReserveIn: {
            d.service_action = cdb[1] & 0x1f;
            d.length = get_be16(cdb, 7);
            std::snprintf(buf, sizeof buf, "%s, allocation length %u",
                          prin_action_name(*d.service_action), *d.length);
            d.detail = buf;
            break;
        }
        case kOpPersistentReserveOut: {
            d.service_action = cdb[1] & 0x1f;
            d.scope = cdb[2] >> 4;
            d.type = cdb[2] & 0x0f;
            d.length = get_be32(cdb, 5);
            std::snprintf(buf, sizeof buf, "%s, type %s (%u)%s, parameter list length %u",
                          prout_action_name(*d.service_action), type_name(*d.type), *d.type,
                          *d.scope ? ", non-LU scope" : "", *d.length);
            d.detail = buf;
            break;
        }
        case 0x12: {
            d.length = get_be16(cdb, 3);
            if (cdb[1] & 1)
                std::snprintf(buf, sizeof buf, "VPD page 0x%02x, allocation length %u", cdb[2],
                              *d.length);
            else
                std::snprintf(buf, sizeof buf, "standard data, allocation length %u", *d.length);
            d.detail = buf;
            break;
        }
        default:
            if (auto r = block_range(cdb)) {
                d.lba = r->lba;
                d.length = r->blocks;
            }
            break;
    }
    if (d.lba) {
        std::snprintf(buf, sizeof buf, "lba %llu, %u blocks",
                      static_cast<unsigned long long>(*d.lba), d.length.value_or(0));
        d.detail = buf;
    }
    return d;
}

}  // namespace prfence::wire
