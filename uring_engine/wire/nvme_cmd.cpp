// SPDX-License-Identifier: MIT
#include "uring_engine/wire/nvme_cmd.h"

#include <string>

namespace prfence::wire::nvme {
namespace {

constexpr uint32_t kActionMask = 0x7;
constexpr uint32_t kCptplShift = 30;
constexpr uint32_t kRtypeShift = 8;
constexpr uint32_t kExhid = 1u << 0;
constexpr uint32_t kRae = 1u << 15;

// Names as the specification spells the statuses the decoders answer with.
const char* answer_name(uint8_t sc_value) {
    return sc_value == sc::invalid_opcode ? "Invalid Command Opcode" : "Invalid Field in Command";
}

Unexpected refuse(Invalid* why, uint8_t sc_value, const std::string& what) {
    if (why) *why = Invalid{sct::generic, sc_value};
    return fail(Errc::malformed, what + " (a controller answers " + answer_name(sc_value) + ")");
}

Status check_data_len(const char* cmd, ByteView data, size_t want, Invalid* why) {
    if (data.size() != want)
        return refuse(why, sc::invalid_field,
                      std::string(cmd) + ": data is " + std::to_string(data.size()) +
                          " bytes, the command transfers " + std::to_string(want));
    return {};
}

Command io_out(Opcode op, uint32_t nsid, uint32_t cdw10, Bytes data) {
    Command c;
    c.opcode = static_cast<uint8_t>(op);
    c.nsid = nsid;
    c.cdw10 = cdw10;
    c.dir = DataDir::to_device;
    c.data_len = static_cast<uint32_t>(data.size());
    c.data = std::move(data);
    return c;
}

Command admin_in(uint8_t opcode, uint32_t nsid, uint32_t cdw10, uint32_t cdw11, uint32_t len) {
    Command c;
    c.admin = true;
    c.opcode = opcode;
    c.nsid = nsid;
    c.cdw10 = cdw10;
    c.cdw11 = cdw11;
    c.dir = DataDir::from_device;
    c.data_len = len;
    return c;
}

Bytes two_keys(uint64_t a, uint64_t b) {
    Bytes d(16);
    put_le64(d, 0, a);
    put_le64(d, 8, b);
    return d;
}

std::string rtype_text(uint8_t rtype) {
    return "RTYPE " + std::to_string(rtype) + " (" + rtype_name(rtype) + ")";
}

}  // namespace

DataDir data_dir_of(uint8_t opcode) noexcept {
    switch (opcode & 0x3) {
        case 0:
            return DataDir::none;
        case 2:
            return DataDir::from_device;
        default:
            return DataDir::to_device;
    }
}

Result<Command> register_cmd(uint32_t nsid, const RegisterCmd& c) {
    const auto action = static_cast<uint8_t>(c.action);
    if (action > static_cast<uint8_t>(RegisterAction::replace))
        return fail(Errc::invalid_argument,
                    "Reservation Register: action " + std::to_string(action) + " is reserved");
    const auto cptpl = static_cast<uint8_t>(c.cptpl);
    if (cptpl > 3 || cptpl == 1)
        return fail(Errc::invalid_argument,
                    "Reservation Register: CPTPL " + std::to_string(cptpl) + " is reserved");
    if (c.action != RegisterAction::unregister && c.nrkey == 0)
        return fail(Errc::invalid_argument,
                    "Reservation Register: new key 0 refused (an NVMe target keeps a host "
                    "registered with key 0, which cannot be released or unregistered "
                    "through every interface); use a non-zero key");
    uint32_t cdw10 = action | (c.iekey ? kIgnoreKey : 0) | (uint32_t{cptpl} << kCptplShift);
    const uint64_t nrkey = c.action == RegisterAction::unregister ? 0 : c.nrkey;
    return io_out(Opcode::resv_register, nsid, cdw10, two_keys(c.crkey, nrkey));
}

Result<Command> acquire_cmd(uint32_t nsid, const AcquireCmd& c) {
    const auto action = static_cast<uint8_t>(c.action);
    if (action > static_cast<uint8_t>(AcquireAction::preempt_and_abort))
        return fail(Errc::invalid_argument,
                    "Reservation Acquire: action " + std::to_string(action) + " is reserved");
    if (!is_valid_rtype(c.rtype))
        return fail(Errc::invalid_argument,
                    "Reservation Acquire: " + rtype_text(c.rtype) + " is not a reservation type");
    uint32_t cdw10 = action | (c.iekey ? kIgnoreKey : 0) | (uint32_t{c.rtype} << kRtypeShift);
    const uint64_t prkey = c.action == AcquireAction::acquire ? 0 : c.prkey;
    return io_out(Opcode::resv_acquire, nsid, cdw10, two_keys(c.crkey, prkey));
}

Result<Command> release_cmd(uint32_t nsid, const ReleaseCmd& c) {
    const auto action = static_cast<uint8_t>(c.action);
    if (action > static_cast<uint8_t>(ReleaseAction::clear))
        return fail(Errc::invalid_argument,
                    "Reservation Release: action " + std::to_string(action) + " is reserved");
    uint8_t rtype = c.rtype;
    if (c.action == ReleaseAction::release && !is_valid_rtype(rtype))
        return fail(Errc::invalid_argument,
                    "Reservation Release: " + rtype_text(rtype) + " is not a reservation type");
    if (!is_valid_rtype(rtype)) rtype = 0;
    uint32_t cdw10 = action | (c.iekey ? kIgnoreKey : 0) | (uint32_t{rtype} << kRtypeShift);
    Bytes d(kReleaseDataLen);
    put_le64(d, 0, c.crkey);
    return io_out(Opcode::resv_release, nsid, cdw10, std::move(d));
}

Result<Command> report_cmd(uint32_t nsid, bool eds, uint32_t buffer_len) {
    const uint32_t header = eds ? 64 : 24;
    if (buffer_len % 4 != 0 || buffer_len < header)
        return fail(Errc::invalid_argument, "Reservation Report: buffer of " +
                                                std::to_string(buffer_len) +
                                                " bytes; it must be a multiple of 4 and hold the " +
                                                std::to_string(header) + "-byte header");
    Command c;
    c.opcode = static_cast<uint8_t>(Opcode::resv_report);
    c.nsid = nsid;
    c.cdw10 = buffer_len / 4 - 1;
    c.cdw11 = eds ? kReportEds : 0;
    c.dir = DataDir::from_device;
    c.data_len = buffer_len;
    return c;
}

Result<Command> read_cmd(uint32_t nsid, uint64_t slba, uint32_t blocks, uint32_t buffer_len) {
    if (blocks == 0 || blocks > 0x10000)
        return fail(Errc::invalid_argument,
                    "Read: " + std::to_string(blocks) + " blocks; NLB carries 1 to 65536");
    if (buffer_len == 0)
        return fail(Errc::invalid_argument,
                    "Read: no buffer (the data length is the blocks times the block length)");
    Command c;
    c.opcode = nvm::read;
    c.nsid = nsid;
    c.cdw10 = static_cast<uint32_t>(slba);
    c.cdw11 = static_cast<uint32_t>(slba >> 32);
    c.cdw12 = blocks - 1;
    c.dir = DataDir::from_device;
    c.data_len = buffer_len;
    return c;
}

Command flush_cmd(uint32_t nsid) {
    Command c;
    c.opcode = nvm::flush;
    c.nsid = nsid;
    return c;
}

Result<Command> identify_ns(uint32_t nsid) {
    if (nsid == 0) return fail(Errc::invalid_argument, "Identify Namespace: NSID 0 names nothing");
    return admin_in(admin::identify, nsid, kCnsNamespace, 0, kIdentifyLen);
}

Command identify_ctrl() { return admin_in(admin::identify, 0, kCnsController, 0, kIdentifyLen); }

Command reservation_log_cmd(bool rae) {
    // CDW10: LID 7:0, RAE 15, NUMDL 31:16 (zero-based dword count); NUMDU (CDW11) stays 0.
    const uint32_t numdl = kReservationLogLen / 4 - 1;
    return admin_in(admin::get_log_page, kNsidAll,
                    kLogReservation | (rae ? kRae : 0) | (numdl << 16), 0, kReservationLogLen);
}

Command get_host_id_cmd(bool extended) {
    // CDW10: FID 7:0, SEL 10:8 = 0 (current value).
    return admin_in(admin::get_features, 0, kFeatHostId, extended ? kExhid : 0,
                    extended ? kHostIdExtLen : kHostIdLen);
}

Result<RegisterCmd> decode_register(uint32_t cdw10, ByteView data, Invalid* why) {
    const uint32_t action = cdw10 & kActionMask;
    if (action > static_cast<uint32_t>(RegisterAction::replace))
        return refuse(why, sc::invalid_opcode,
                      "Reservation Register: RREGA " + std::to_string(action) + " is reserved");
    const uint32_t cptpl = cdw10 >> kCptplShift;
    if (cptpl == 1)
        return refuse(why, sc::invalid_field, "Reservation Register: CPTPL 1 is reserved");
    PRF_TRY(check_data_len("Reservation Register", data, kRegisterDataLen, why));
    RegisterCmd r;
    r.action = static_cast<RegisterAction>(action);
    r.iekey = cdw10 & kIgnoreKey;
    r.cptpl = static_cast<Cptpl>(cptpl);
    r.crkey = get_le64(data, 0);
    r.nrkey = get_le64(data, 8);
    return r;
}

Result<AcquireCmd> decode_acquire(uint32_t cdw10, ByteView data, Invalid* why) {
    const uint32_t action = cdw10 & kActionMask;
    if (action > static_cast<uint32_t>(AcquireAction::preempt_and_abort))
        return refuse(why, sc::invalid_opcode,
                      "Reservation Acquire: RACQA " + std::to_string(action) + " is reserved");
    const auto rtype = static_cast<uint8_t>(cdw10 >> kRtypeShift);
    if (!is_valid_rtype(rtype))
        return refuse(why, sc::invalid_field,
                      "Reservation Acquire: " + rtype_text(rtype) + " is not a reservation type");
    PRF_TRY(check_data_len("Reservation Acquire", data, kAcquireDataLen, why));
    AcquireCmd r;
    r.action = static_cast<AcquireAction>(action);
    r.iekey = cdw10 & kIgnoreKey;
    r.rtype = rtype;
    r.crkey = get_le64(data, 0);
    r.prkey = get_le64(data, 8);
    return r;
}

Result<ReleaseCmd> decode_release(uint32_t cdw10, ByteView data, Invalid* why) {
    const uint32_t action = cdw10 & kActionMask;
    if (action > static_cast<uint32_t>(ReleaseAction::clear))
        return refuse(why, sc::invalid_opcode,
                      "Reservation Release: RRELA " + std::to_string(action) + " is reserved");
    const auto rtype = static_cast<uint8_t>(cdw10 >> kRtypeShift);
    if (action == static_cast<uint32_t>(ReleaseAction::release) && !is_valid_rtype(rtype))
        return refuse(why, sc::invalid_field,
                      "Reservation Release: " + rtype_text(rtype) + " is not a reservation type");
    PRF_TRY(check_data_len("Reservation Release", data, kReleaseDataLen, why));
    ReleaseCmd r;
    r.action = static_cast<ReleaseAction>(action);
    r.iekey = cdw10 & kIgnoreKey;
    r.rtype = rtype;
    r.crkey = get_le64(data, 0);
    return r;
}

Result<ReportCmd> decode_report(uint32_t cdw10, uint32_t cdw11, Invalid* why) {
    ReportCmd r;
    r.numd = cdw10;
    r.eds = cdw11 & kReportEds;
    const uint64_t header = r.eds ? 64 : 24;
    if (report_buffer_len(r) < header)
        return refuse(why, sc::invalid_field,
                      "Reservation Report: buffer of " + std::to_string(report_buffer_len(r)) +
                          " bytes cannot hold the " + std::to_string(header) + "-byte header");
    return r;
}

}  // namespace prfence::wire::nvme
