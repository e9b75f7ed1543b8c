// SPDX-License-Identifier: MIT
// LogicalUnit: SPC-4 / SBC-3 command handling around PrState, a backing store (backing.h) and
// per-nexus unit attention queues.
#include "interposer/lu/lu.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <utility>

#include "interposer/lu/answers.h"
#include "interposer/lu/aptpl_store.h"
#include "interposer/lu/backing.h"
#include "interposer/lu/pr_state.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/sense.h"

namespace prfence::sim {
namespace {

using wire::SenseKey;

// Operation codes handled here.
constexpr uint8_t kTestUnitReady = 0x00;
constexpr uint8_t kRequestSense = 0x03;
constexpr uint8_t kInquiry = 0x12;
constexpr uint8_t kReserve6 = 0x16;
constexpr uint8_t kRelease6 = 0x17;
constexpr uint8_t kModeSense6 = 0x1a;
constexpr uint8_t kReadCapacity10 = 0x25;
constexpr uint8_t kRead10 = 0x28;
constexpr uint8_t kWrite10 = 0x2a;
constexpr uint8_t kSyncCache10 = 0x35;
constexpr uint8_t kReserve10 = 0x56;
constexpr uint8_t kRelease10 = 0x57;
constexpr uint8_t kRead16 = 0x88;
constexpr uint8_t kWrite16 = 0x8a;
constexpr uint8_t kServiceActionIn16 = 0x9e;
constexpr uint8_t kReportLuns = 0xa0;
// Only for the "lost persistent reservation information" allow list (SPC-4 5.13.5.2).
constexpr uint8_t kLogSense = 0x4d;
constexpr uint8_t kReadBuffer = 0x3c;
constexpr uint8_t kWriteBuffer = 0x3b;
constexpr uint8_t kStartStopUnit = 0x1b;
constexpr uint8_t kMaintenanceIn = 0xa3;

constexpr uint32_t kCompanyId = 0x5A7F4E;       // locally administered IEEE company id
constexpr size_t kMaxTransferBytes = 8u << 20;  // per READ/WRITE
constexpr uint32_t kMaxLun = 16383;             // single-level flat space addressing

CommandResult good() { return {}; }

CommandResult with_data(Bytes data, size_t alloc) {
    CommandResult r;
    if (data.size() > alloc) data.resize(alloc);
    r.data_in = std::move(data);
    return r;
}

CommandResult invalid_opcode() {
    CommandResult r;
    r.status = wire::sam::check_condition;
    r.sense = wire::make_fixed_sense_field_pointer(SenseKey::illegal_request, 0x20, 0, true, 0,
                                                   std::nullopt);
    return r;
}

CommandResult lba_out_of_range() { return check(SenseKey::illegal_request, 0x21, 0x00); }

CommandResult from_pr(PrCommandResult&& p) {
    CommandResult r;
    r.status = p.status;
    r.sense = std::move(p.sense);
    r.data_in = std::move(p.data_in);
    return r;
}

bool printable(const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

void put_padded(Bytes& out, size_t off, const std::string& s, size_t width) {
    for (size_t i = 0; i < width; ++i)
        out[off + i] = i < s.size() ? static_cast<uint8_t>(s[i]) : ' ';
}

// ---------------------------------------------------------------------------------------------------------

class LuImpl final : public LogicalUnit {
  public:
    LuImpl(LuConfig cfg, PrState pr, std::unique_ptr<Backing> backing,
           std::optional<AptplStore> store)
        : cfg_(std::move(cfg)),
          pr_(std::move(pr)),
          backing_(std::move(backing)),
          store_(std::move(store)) {}

    NexusId attach(const NexusIdentity& who) override;
    CommandResult execute(NexusId nexus, ByteView cdb, ByteView data_out) override;
    void queue_unit_attention(NexusId nexus, uint8_t asc, uint8_t ascq) override;
    void lose_persistent_reservations() override { pr_.lose(); }
    const LuConfig& config() const override { return cfg_; }

  private:
    struct Nexus {
        NexusIdentity id;
        std::deque<std::pair<uint8_t, uint8_t>> uas;
    };
    using Handler = CommandResult (LuImpl::*)(NexusId, ByteView, ByteView);
    struct Op {
        uint8_t opcode;
        uint8_t cdb_len;
        Handler fn;
    };
    static const Op* find_op(uint8_t opcode);

    static void push_ua(Nexus& n, uint8_t asc, uint8_t ascq);
    bool allowed_while_lost(ByteView cdb) const;

    CommandResult test_unit_ready(NexusId, ByteView, ByteView) { return good(); }
    CommandResult request_sense(NexusId, ByteView cdb, ByteView);
    CommandResult inquiry(NexusId, ByteView cdb, ByteView);
    CommandResult mode_sense6(NexusId, ByteView cdb, ByteView);
    CommandResult read_capacity10(NexusId, ByteView cdb, ByteView);
    CommandResult service_action_in16(NexusId, ByteView cdb, ByteView);
    CommandResult read10(NexusId, ByteView cdb, ByteView d) {
        return read_write(cdb, d, false, false);
    }
    CommandResult write10(NexusId, ByteView cdb, ByteView d) {
        return read_write(cdb, d, true, false);
    }
    CommandResult read16(NexusId, ByteView cdb, ByteView d) {
        return read_write(cdb, d, false, true);
    }
    CommandResult write16(NexusId, ByteView cdb, ByteView d) {
        return read_write(cdb, d, true, true);
    }
    CommandResult read_write(ByteView cdb, ByteView data_out, bool write, bool sixteen);
    CommandResult sync_cache10(NexusId, ByteView cdb, ByteView);
    CommandResult report_luns(NexusId, ByteView cdb, ByteView);
    CommandResult reserve(NexusId, ByteView cdb, ByteView);
    CommandResult release(NexusId, ByteView cdb, ByteView);
    CommandResult pr_in(NexusId, ByteView cdb, ByteView);
    CommandResult pr_out(NexusId, ByteView cdb, ByteView data_out);

    uint64_t naa() const;
    std::string serial() const;

    LuConfig cfg_;
    PrState pr_;
    std::unique_ptr<Backing> backing_;
    std::optional<AptplStore> store_;
    std::vector<Nexus> nexuses_;
    std::optional<NexusId> spc2_holder_;  // SPC-2 RESERVE(6)/(10)
};

const LuImpl::Op* LuImpl::find_op(uint8_t opcode) {
    static constexpr Op kOps[] = {
        {kTestUnitReady, 6, &LuImpl::test_unit_ready},
        {kRequestSense, 6, &LuImpl::request_sense},
        {kInquiry, 6, &LuImpl::inquiry},
        {kReserve6, 6, &LuImpl::reserve},
        {kRelease6, 6, &LuImpl::release},
        {kModeSense6, 6, &LuImpl::mode_sense6},
        {kReadCapacity10, 10, &LuImpl::read_capacity10},
        {kRead10, 10, &LuImpl::read10},
        {kWrite10, 10, &LuImpl::write10},
        {kSyncCache10, 10, &LuImpl::sync_cache10},
        {kReserve10, 10, &LuImpl::reserve},
        {kRelease10, 10, &LuImpl::release},
        {wire::kOpPersistentReserveIn, 10, &LuImpl::pr_in},
        {wire::kOpPersistentReserveOut, 10, &LuImpl::pr_out},
        {kRead16, 16, &LuImpl::read16},
        {kWrite16, 16, &LuImpl::write16},
        {kServiceActionIn16, 16, &LuImpl::service_action_in16},
        {kReportLuns, 12, &LuImpl::report_luns},
    };
    for (const auto& op : kOps)
        if (op.opcode == opcode) return &op;
    return nullptr;
}

NexusId LuImpl::attach(const NexusIdentity& who) {
    for (NexusId i = 0; i < nexuses_.size(); ++i)
        if (nexuses_[i].id == who) return i;
    Nexus n;
    n.id = who;
    // A new I_T nexus starts with a POWER ON, RESET, OR BUS DEVICE RESET OCCURRED unit attention;
    // LIO reports REPORTED LUNS DATA HAS CHANGED instead when a LUN is mapped into an existing
    // session.
    if (cfg_.profile == Profile::lio)
        n.uas.emplace_back(0x3f, 0x0e);
    else
        n.uas.emplace_back(0x29, 0x00);
    nexuses_.push_back(std::move(n));
    return static_cast<NexusId>(nexuses_.size() - 1);
}

void LuImpl::push_ua(Nexus& n, uint8_t asc, uint8_t ascq) {
    for (const auto& u : n.uas)
        if (u.first == asc && u.second == ascq) return;  // a condition is pending once
    if (asc == 0x29) {
        // Resets take precedence over every other unit attention (SAM-5 5.14).
        auto it =
            std::find_if(n.uas.begin(), n.uas.end(), [](const auto& u) { return u.first != 0x29; });
        n.uas.insert(it, {asc, ascq});
        return;
    }
    n.uas.emplace_back(asc, ascq);
}

void LuImpl::queue_unit_attention(NexusId nexus, uint8_t asc, uint8_t ascq) {
    if (nexus < nexuses_.size()) push_ua(nexuses_[nexus], asc, ascq);
}

bool LuImpl::allowed_while_lost(ByteView cdb) const {
    switch (cdb[0]) {
        case kInquiry:
        case kLogSense:
        case kReadBuffer:
        case kReportLuns:
        case kRequestSense:
        case kWriteBuffer:
            return true;
        case kMaintenanceIn:
            return cdb.size() > 1 && (cdb[1] & 0x1f) == 0x0a;  // REPORT TARGET PORT GROUPS
        case kStartStopUnit:
            return cdb.size() > 4 && (cdb[4] & 0x01) && (cdb[4] >> 4) == 0;
        case wire::kOpPersistentReserveOut:
            return cdb.size() > 1 &&
                   (cdb[1] & 0x1f) == static_cast<uint8_t>(wire::PrOutAction::replace_lost);
        default:
            return false;
    }
}

CommandResult LuImpl::execute(NexusId nexus, ByteView cdb, ByteView data_out) {
    if (nexus >= nexuses_.size()) return check(SenseKey::illegal_request, 0x25, 0x00);
    Nexus& nx = nexuses_[nexus];
    // A nexus through a target port this LU does not have cannot reach it.
    if (nx.id.target_port == 0 || nx.id.target_port > cfg_.target_ports)
        return check(SenseKey::illegal_request, 0x25, 0x00);
    if (cdb.empty()) return invalid_opcode();
    const uint8_t op = cdb[0];

    // 1. Unit attention (SAM-5 5.14): INQUIRY, REPORT LUNS and REQUEST SENSE neither report nor
    //    clear one (see request_sense; REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED).
    if (op != kInquiry && op != kReportLuns && op != kRequestSense && !nx.uas.empty()) {
        auto [asc, ascq] = nx.uas.front();
        nx.uas.pop_front();
        return check(SenseKey::unit_attention, asc, ascq);
    }
    // 2. Supported operation code, complete CDB.
    const Op* h = find_op(op);
    if (!h) return invalid_opcode();
    if (cdb.size() < h->cdb_len) return invalid_cdb(static_cast<uint16_t>(cdb.size()));
    // 3. Recoverable lost persistent reservation (SPC-4 5.13.5.3.2).
    if (pr_.lost() && !allowed_while_lost(cdb)) return check(SenseKey::data_protect, 0x44, 0x01);
    // 4. SPC-2 reservation (SPC-2 5.5.1): other nexuses may only INQUIRY, REPORT LUNS, REQUEST
    //    SENSE and RELEASE (a no-op for them); PERSISTENT RESERVE IN/OUT conflict for every
    //    initiator.
    if (spc2_holder_) {
        if (*spc2_holder_ != nexus) {
            if (op != kInquiry && op != kReportLuns && op != kRequestSense && op != kRelease6 &&
                op != kRelease10)
                return conflict();
        } else if (op == wire::kOpPersistentReserveIn || op == wire::kOpPersistentReserveOut) {
            return conflict();
        }
    }
    // 5. Persistent reservation (SPC-4 tables 65 and 66).
    if (!pr_.command_allowed(nx.id, cdb)) return conflict();
    // 6. The command.
    return (this->*(h->fn))(nexus, cdb, data_out);
}

// ---------------------------------------------------------------------------------------------------------

// SAM-5 5.14 lets REQUEST SENSE either report the unit attention and clear it, or report any
// pending sense data and preserve the unit attention. prsim does the latter (a unit attention is
// only ever consumed as the CHECK CONDITION of another command); with autosense there is no other
// pending sense data, so the answer is NO SENSE. (LIO does the former, and clears every queued unit
// attention.)
CommandResult LuImpl::request_sense(NexusId, ByteView cdb, ByteView) {
    wire::Sense s;
    s.descriptor = cdb[1] & 0x01;
    return with_data(wire::encode_sense(s), cdb[4]);
}

uint64_t LuImpl::naa() const {
    if (cfg_.naa != 0) return cfg_.naa;
    return (uint64_t{0x5} << 60) | (uint64_t{kCompanyId} << 36) | cfg_.lun;
}

std::string LuImpl::serial() const {
    if (!cfg_.serial.empty()) return cfg_.serial;
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(naa()));
    return buf;
}

CommandResult LuImpl::inquiry(NexusId nexus, ByteView cdb, ByteView) {
    const bool evpd = cdb[1] & 0x01;
    if (cdb[1] & 0x02) return invalid_cdb(1, 1);  // CMDDT (obsolete)
    const uint8_t page = cdb[2];
    const uint16_t alloc = get_be16(cdb, 3);
    if (!evpd) {
        if (page != 0) return invalid_cdb(2);
        Bytes d(36, 0);
        d[0] = 0x00;                                 // connected, direct access block device
        d[2] = 0x06;                                 // VERSION: SPC-4
        d[3] = 0x12;                                 // HISUP, RESPONSE DATA FORMAT 2
        d[4] = static_cast<uint8_t>(d.size() - 5);   // ADDITIONAL LENGTH
        d[6] = cfg_.target_ports > 1 ? 0x10 : 0x00;  // MULTIP
        d[7] = 0x02;                                 // CMDQUE
        put_padded(d, 8, cfg_.vendor, 8);
        put_padded(d, 16, cfg_.product, 16);
        put_padded(d, 32, cfg_.revision, 4);
        return with_data(std::move(d), alloc);
    }
    Bytes d(4, 0);
    d[1] = page;
    switch (page) {
        case 0x00:  // supported VPD pages
            d.insert(d.end(), {0x00, 0x80, 0x83});
            break;
        case 0x80: {  // unit serial number
            const std::string s = serial();
            d.insert(d.end(), s.begin(), s.end());
            break;
        }
        case 0x83: {  // device identification
            // NAA IEEE Registered (5h), associated with the logical unit.
            d.insert(d.end(), {0x01, 0x03, 0x00, 0x08});  // binary, LU, NAA, length 8
            Bytes n(8);
            put_be64(n, 0, naa());
            d.insert(d.end(), n.begin(), n.end());
            // Relative target port of the I_T nexus asking, associated with the target port. PIV
            // with the initiator's protocol (a nexus uses one protocol end to end).
            const NexusIdentity& who = nexuses_[nexus].id;
            const bool piv = who.initiator.protocol != wire::ProtocolId::none &&
                             static_cast<uint8_t>(who.initiator.protocol) <= 0x0b;
            const uint8_t proto = piv ? static_cast<uint8_t>(who.initiator.protocol) : 0;
            d.push_back(static_cast<uint8_t>(proto << 4 | 0x01));
            d.push_back(static_cast<uint8_t>((piv ? 0x80 : 0x00) | 0x10 | 0x04));
            d.insert(d.end(), {0x00, 0x04, 0x00, 0x00});
            d.push_back(static_cast<uint8_t>(who.target_port >> 8));
            d.push_back(static_cast<uint8_t>(who.target_port));
            break;
        }
        default:
            return invalid_cdb(2);
    }
    put_be16(d, 2, static_cast<uint16_t>(d.size() - 4));
    return with_data(std::move(d), alloc);
}

CommandResult LuImpl::mode_sense6(NexusId, ByteView cdb, ByteView) {
    const bool dbd = cdb[1] & 0x08;
    const uint8_t pc = cdb[2] >> 6;
    const uint8_t page = cdb[2] & 0x3f;
    const uint8_t subpage = cdb[3];
    const uint8_t alloc = cdb[4];
    if (pc == 3)
        return check(SenseKey::illegal_request, 0x39, 0x00);  // SAVING PARAMETERS NOT SUPPORTED
    const bool all = page == 0x3f;
    if (subpage != 0 && !(all && subpage == 0xff)) return invalid_cdb(3);
    if (!all && page != 0x08 && page != 0x0a) return invalid_cdb(2, 5);
    const bool changeable = pc == 1;

    Bytes d(4, 0);
    if (!dbd) {
        d[3] = 8;  // BLOCK DESCRIPTOR LENGTH
        Bytes bd(8, 0);
        const uint64_t n = std::min<uint64_t>(cfg_.blocks, 0xffffff);
        bd[1] = static_cast<uint8_t>(n >> 16);
        bd[2] = static_cast<uint8_t>(n >> 8);
        bd[3] = static_cast<uint8_t>(n);
        bd[5] = static_cast<uint8_t>(cfg_.block_size >> 16);
        bd[6] = static_cast<uint8_t>(cfg_.block_size >> 8);
        bd[7] = static_cast<uint8_t>(cfg_.block_size);
        d.insert(d.end(), bd.begin(), bd.end());
    }
    if (all || page == 0x08) {  // Caching: WCE reflects whether writes can sit in a volatile cache
        Bytes p(20, 0);
        p[0] = 0x08;
        p[1] = 0x12;
        if (!changeable && backing_->volatile_cache()) p[2] = 0x04;  // WCE
        d.insert(d.end(), p.begin(), p.end());
    }
    if (all || page == 0x0a) {  // Control: TST 000b, fixed-format sense, TAS 0
        Bytes p(12, 0);
        p[0] = 0x0a;
        p[1] = 0x0a;
        if (!changeable) {
            p[8] = 0xff;  // BUSY TIMEOUT PERIOD: unlimited
            p[9] = 0xff;
        }
        d.insert(d.end(), p.begin(), p.end());
    }
    d[0] = static_cast<uint8_t>(d.size() - 1);  // MODE DATA LENGTH
    return with_data(std::move(d), alloc);
}

CommandResult LuImpl::read_capacity10(NexusId, ByteView, ByteView) {
    Bytes d(8, 0);
    const uint64_t last = cfg_.blocks - 1;
    put_be32(d, 0, last > 0xffffffffULL ? 0xffffffffu : static_cast<uint32_t>(last));
    put_be32(d, 4, cfg_.block_size);
    return with_data(std::move(d), d.size());
}

CommandResult LuImpl::service_action_in16(NexusId, ByteView cdb, ByteView) {
    if ((cdb[1] & 0x1f) != 0x10) return invalid_cdb(1, 4);  // only READ CAPACITY(16)
    const uint32_t alloc = get_be32(cdb, 10);
    Bytes d(32, 0);
    put_be64(d, 0, cfg_.blocks - 1);
    put_be32(d, 8, cfg_.block_size);
    return with_data(std::move(d), alloc);
}

CommandResult LuImpl::read_write(ByteView cdb, ByteView data_out, bool write, bool sixteen) {
    if (cdb[1] & 0xe0) return invalid_cdb(1, 7);  // RDPROTECT/WRPROTECT: no protection information
    const uint64_t lba = sixteen ? get_be64(cdb, 2) : get_be32(cdb, 2);
    const uint64_t blocks = sixteen ? get_be32(cdb, 10) : get_be16(cdb, 7);
    if (lba > cfg_.blocks || blocks > cfg_.blocks - lba) return lba_out_of_range();
    if (blocks == 0) return good();
    if (blocks > kMaxTransferBytes / cfg_.block_size) return invalid_cdb(sixteen ? 10 : 7);
    const size_t bytes = blocks * cfg_.block_size;
    if (write) {
        if (data_out.size() < bytes) return check(SenseKey::illegal_request, 0x0e, 0x03);
        if (!backing_->write(lba, blocks, data_out.data()))
            return check(SenseKey::medium_error, 0x0c, 0x00);
        return good();
    }
    Bytes d(bytes);
    if (!backing_->read(lba, blocks, d.data())) return check(SenseKey::medium_error, 0x11, 0x00);
    return with_data(std::move(d), bytes);
}

CommandResult LuImpl::sync_cache10(NexusId, ByteView cdb, ByteView) {
    const uint64_t lba = get_be32(cdb, 2);
    const uint64_t blocks = get_be16(cdb, 7);  // 0: to the end of the medium
    if (lba > cfg_.blocks || blocks > cfg_.blocks - lba) return lba_out_of_range();
    if (!backing_->flush()) return check(SenseKey::medium_error, 0x0c, 0x00);
    return good();
}

CommandResult LuImpl::report_luns(NexusId nexus, ByteView cdb, ByteView) {
    const uint8_t select = cdb[2];
    if (select > 0x02) return invalid_cdb(2);
    const uint32_t alloc = get_be32(cdb, 6);
    // REPORT LUNS clears a pending REPORTED LUNS DATA HAS CHANGED for this I_T nexus.
    auto& uas = nexuses_[nexus].uas;
    uas.erase(std::remove(uas.begin(), uas.end(), std::make_pair(uint8_t{0x3f}, uint8_t{0x0e})),
              uas.end());
    Bytes d(8, 0);
    if (select != 0x01) {  // 01h: well known logical units only, of which there are none
        Bytes lun(8, 0);
        if (cfg_.lun < 256) {
            lun[1] = static_cast<uint8_t>(cfg_.lun);  // peripheral device addressing, bus 0
        } else {
            lun[0] = static_cast<uint8_t>(0x40 | (cfg_.lun >> 8));  // flat space addressing
            lun[1] = static_cast<uint8_t>(cfg_.lun);
        }
        d.insert(d.end(), lun.begin(), lun.end());
    }
    put_be32(d, 0, static_cast<uint32_t>(d.size() - 8));
    return with_data(std::move(d), alloc);
}

// SPC-2 RESERVE(6)/(10) with compatible reservation handling (SPC-4 5.13.3).
CommandResult LuImpl::reserve(NexusId nexus, ByteView cdb, ByteView) {
    if (cdb[0] == kReserve6 && (cdb[1] & 0x01)) return invalid_cdb(1, 0);  // extent reservations
    if (cdb[0] == kReserve10 && (cdb[1] & 0x12))
        return invalid_cdb(1, (cdb[1] & 0x10) ? 4 : 1);  // 3RDPTY, LONGID
    switch (pr_.spc2_verdict(nexuses_[nexus].id)) {
        case PrState::Spc2Verdict::good_no_change:
            return good();
        case PrState::Spc2Verdict::conflict:
            return conflict();
        case PrState::Spc2Verdict::process:
            break;
    }
    if (spc2_holder_ && *spc2_holder_ != nexus) return conflict();
    spc2_holder_ = nexus;
    return good();
}

CommandResult LuImpl::release(NexusId nexus, ByteView cdb, ByteView) {
    if (cdb[0] == kRelease6 && (cdb[1] & 0x01)) return invalid_cdb(1, 0);
    if (cdb[0] == kRelease10 && (cdb[1] & 0x12)) return invalid_cdb(1, (cdb[1] & 0x10) ? 4 : 1);
    switch (pr_.spc2_verdict(nexuses_[nexus].id)) {
        case PrState::Spc2Verdict::good_no_change:
            return good();
        case PrState::Spc2Verdict::conflict:
            return conflict();
        case PrState::Spc2Verdict::process:
            break;
    }
    if (spc2_holder_ && *spc2_holder_ == nexus)
        spc2_holder_.reset();  // others: GOOD, nothing released
    return good();
}

CommandResult LuImpl::pr_in(NexusId nexus, ByteView cdb, ByteView) {
    return from_pr(pr_.persistent_reserve_in(nexuses_[nexus].id, cdb));
}

CommandResult LuImpl::pr_out(NexusId nexus, ByteView cdb, ByteView data_out) {
    const NexusIdentity who = nexuses_[nexus].id;
    std::optional<PrState> before;
    if (store_) before = pr_;
    const bool aptpl_before = pr_.aptpl();
    PrCommandResult p = pr_.persistent_reserve_out(who, cdb, data_out);

    CommandResult r;
    if (p.status == wire::sam::good && p.state_changed && store_) {
        Status saved;
        const uint8_t sa = cdb[1] & 0x1f;
        if (pr_.aptpl())
            saved = store_->save(pr_.to_persisted());
        else if (aptpl_before)
            saved = store_->remove();  // APTPL turned off: a power cycle must start empty
        else if (cfg_.profile == Profile::lio &&
                 (sa == static_cast<uint8_t>(wire::PrOutAction::register_key) ||
                  sa == static_cast<uint8_t>(wire::PrOutAction::register_and_ignore) ||
                  sa == static_cast<uint8_t>(wire::PrOutAction::register_and_move) ||
                  sa == static_cast<uint8_t>(wire::PrOutAction::clear)))
            saved = store_->check_directory();  // LIO writes its file even with APTPL off
        if (!saved) {
            if (cfg_.profile != Profile::lio) {
                pr_ = std::move(*before);  // nothing happened
                return check(SenseKey::hardware_error, 0x44, 0x00);
            }
            // LIO keeps the change and answers LOGICAL UNIT COMMUNICATION FAILURE (seen on a LIO
            // target without /var/target/pr: REGISTER answered NOT READY, the key registered).
            r = check(SenseKey::not_ready, 0x08, 0x00);
        }
    }
    if (r.status == wire::sam::good) {
        r.status = p.status;
        r.sense = std::move(p.sense);
        r.data_in = std::move(p.data_in);
    }
    // Unit attentions go to every attached I_T nexus a registration covers, never the sender.
    for (const auto& ua : p.unit_attentions)
        for (NexusId i = 0; i < nexuses_.size(); ++i)
            if (i != nexus && registration_covers(ua.initiator, ua.port, nexuses_[i].id))
                push_ua(nexuses_[i], ua.asc, ua.ascq);
    for (const auto& a : p.aborted)
        for (NexusId i = 0; i < nexuses_.size(); ++i)
            if (registration_covers(a.initiator, a.port, nexuses_[i].id) &&
                std::find(r.aborted_nexuses.begin(), r.aborted_nexuses.end(), i) ==
                    r.aborted_nexuses.end())
                r.aborted_nexuses.push_back(i);
    return r;
}

}  // namespace

Result<std::unique_ptr<LogicalUnit>> LogicalUnit::create(const LuConfig& cfg) {
    if (cfg.block_size == 0 || cfg.block_size > (1u << 20))
        return fail(Errc::invalid_argument,
                    "block size " + std::to_string(cfg.block_size) + " is not 1-1048576");
    if (cfg.blocks == 0)
        return fail(Errc::invalid_argument, "a logical unit needs at least one block");
    if (cfg.blocks > (uint64_t{1} << 63) / cfg.block_size)
        return fail(Errc::invalid_argument, "capacity above 2^63 bytes");
    if (cfg.target_ports == 0)
        return fail(Errc::invalid_argument, "a logical unit needs a target port");
    if (cfg.lun > kMaxLun)
        return fail(Errc::invalid_argument, "lun " + std::to_string(cfg.lun) + " is above 16383");
    auto field = [](const std::string& v, size_t max, const char* name) -> Status {
        if (v.size() > max)
            return fail(Errc::invalid_argument, std::string(name) + " \"" + v +
                                                    "\" is longer than " + std::to_string(max) +
                                                    " characters");
        if (!printable(v))
            return fail(Errc::invalid_argument, std::string(name) + " is not printable ASCII");
        return {};
    };
    PRF_TRY(field(cfg.vendor, 8, "vendor"));
    PRF_TRY(field(cfg.product, 16, "product"));
    PRF_TRY(field(cfg.revision, 4, "revision"));
    PRF_TRY(field(cfg.serial, 64, "serial"));
    if (cfg.naa != 0 && (cfg.naa >> 60) != 0x5)
        return fail(Errc::invalid_argument,
                    "naa " + hex_u64(cfg.naa) + " is not an NAA IEEE Registered (5h) identifier");

    PrConfig pc;
    pc.target_ports = cfg.target_ports;
    pc.profile = cfg.profile;
    pc.aptpl_capable = cfg.aptpl_file.has_value();
    PrState pr(pc);
    std::optional<AptplStore> store;
    if (cfg.aptpl_file) {
        store.emplace(*cfg.aptpl_file);
        PRF_TRY_ASSIGN(std::optional<PersistedPr> persisted, store->load());
        if (persisted) {
            auto restored = PrState::from_persisted(pc, *persisted);
            if (!restored)
                return fail(Errc::malformed,
                            "APTPL file " + cfg.aptpl_file->string() + ": " + restored.error().msg);
            pr = std::move(restored).value();
        }
    }
    std::unique_ptr<Backing> backing;
    if (cfg.backing_file) {
        PRF_TRY_ASSIGN(backing, open_backing_file(*cfg.backing_file, cfg.blocks * cfg.block_size,
                                                  cfg.block_size));
    } else {
        backing = memory_backing(cfg.block_size);
    }
    return std::unique_ptr<LogicalUnit>(
        new LuImpl(cfg, std::move(pr), std::move(backing), std::move(store)));
}

}  // namespace prfence::sim
