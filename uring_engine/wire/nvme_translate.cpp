// SPDX-License-Identifier: MIT
#include "uring_engine/wire/nvme_translate.h"

#include <algorithm>
#include <cerrno>
#include <string>

#include "uring_engine/wire/nvme_identify.h"
#include "uring_engine/wire/nvme_report.h"
#include "uring_engine/wire/nvme_status.h"
#include "uring_engine/wire/pr_types.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/prout.h"
#include "uring_engine/wire/sense.h"
#include "uring_engine/wire/status.h"

namespace prfence::wire::nvme {
namespace {

std::string hex(uint8_t v) {
    static const char* d = "0123456789abcdef";
    return std::string{"0x"} + d[v >> 4] + d[v & 15];
}

Result<Rtype> rtype_of(uint8_t scsi_type) {
    auto t = from_scsi(static_cast<PrType>(scsi_type));
    if (!t)
        return fail(Errc::unsupported, "reservation type " + hex(scsi_type) +
                                           " has no NVMe equivalent (NVMe knows the six types 1h, "
                                           "3h, 5h-8h)");
    return *t;
}

Result<Translation> translate_prout(uint32_t nsid, const Cdb& cdb, ByteView param_list) {
    const auto sa = static_cast<PrOutAction>(cdb.b[1] & 0x1f);
    const uint8_t type = cdb.b[2] & 0x0f;
    if (sa == PrOutAction::register_and_move)
        return fail(Errc::unsupported,
                    "REGISTER AND MOVE has no NVMe equivalent: NVMe registrants are hosts, and one "
                    "host cannot register another");
    if (sa == PrOutAction::replace_lost)
        return fail(Errc::unsupported,
                    "REPLACE LOST RESERVATION has no NVMe equivalent: NVMe has no lost-reservation "
                    "state");
    auto p = decode_prout_params(param_list);
    if (!p) return fail(Errc::invalid_argument, "PR OUT parameter list: " + p.error().msg);
    if (p->spec_i_pt)
        return fail(Errc::unsupported,
                    "SPEC_I_PT has no NVMe equivalent: a host registers only itself, TransportIDs "
                    "do not exist");
    if (p->all_tg_pt)
        return fail(Errc::unsupported,
                    "ALL_TG_PT has no NVMe equivalent: an NVMe registration already covers every "
                    "controller of the host");

    Translation t;
    Result<Command> c = fail(Errc::invalid_argument, "unreachable");
    switch (sa) {
        case PrOutAction::register_key:
        case PrOutAction::register_and_ignore: {
            const bool ignore = sa == PrOutAction::register_and_ignore;
            RegisterCmd r;
            r.cptpl = p->aptpl ? Cptpl::persist : Cptpl::no_change;
            r.crkey = p->key;
            r.nrkey = p->sa_key;
            if (p->sa_key == 0) {
                if (!ignore && p->key == 0)
                    return fail(Errc::unsupported,
                                "REGISTER with both keys 0 changes nothing on SCSI; NVMe cannot "
                                "express it (Unregister of an unregistered host is a conflict)");
                r.action = RegisterAction::unregister;
                r.iekey = ignore;
            } else if (ignore) {
                r.action = RegisterAction::replace;
                r.iekey = true;
                RegisterCmd fresh = r;
                fresh.action = RegisterAction::register_key;
                fresh.iekey = false;
                fresh.crkey = 0;
                auto f = register_cmd(nsid, fresh);
                if (!f) return fail(f.error());
                t.on_conflict = std::move(f).value();
            } else {
                r.action = p->key == 0 ? RegisterAction::register_key : RegisterAction::replace;
            }
            c = register_cmd(nsid, r);
            break;
        }
        case PrOutAction::reserve:
        case PrOutAction::preempt:
        case PrOutAction::preempt_and_abort: {
            auto rt = rtype_of(type);
            if (!rt) return fail(rt.error());
            AcquireCmd a;
            a.action = sa == PrOutAction::reserve   ? AcquireAction::acquire
                       : sa == PrOutAction::preempt ? AcquireAction::preempt
                                                    : AcquireAction::preempt_and_abort;
            a.rtype = static_cast<uint8_t>(*rt);
            a.crkey = p->key;
            a.prkey = p->sa_key;
            c = acquire_cmd(nsid, a);
            break;
        }
        case PrOutAction::release: {
            auto rt = rtype_of(type);
            if (!rt) return fail(rt.error());
            ReleaseCmd r;
            r.action = ReleaseAction::release;
            r.rtype = static_cast<uint8_t>(*rt);
            r.crkey = p->key;
            c = release_cmd(nsid, r);
            break;
        }
        case PrOutAction::clear: {
            ReleaseCmd r;
            r.action = ReleaseAction::clear;
            r.crkey = p->key;
            c = release_cmd(nsid, r);
            break;
        }
        default:
            return fail(Errc::invalid_argument, std::string{"PR OUT service action "} +
                                                    prout_action_name(cdb.b[1] & 0x1f) +
                                                    " is not defined");
    }
    if (!c) return fail(c.error());
    t.cmd = std::move(c).value();
    return t;
}

Result<Translation> translate_prin(uint32_t nsid, const Cdb& cdb) {
    Translation t;
    t.alloc_len = static_cast<uint16_t>(cdb.b[7] << 8 | cdb.b[8]);
    const auto sa = static_cast<PrInAction>(cdb.b[1] & 0x1f);
    switch (sa) {
        case PrInAction::read_keys:
            t.answer = Answer::read_keys;
            break;
        case PrInAction::read_reservation:
            t.answer = Answer::read_reservation;
            break;
        case PrInAction::read_full_status:
            t.answer = Answer::read_full_status;
            break;
        case PrInAction::report_capabilities: {
            t.answer = Answer::report_capabilities;
            auto c = identify_ns(nsid);
            if (!c) return fail(c.error());
            t.cmd = std::move(c).value();
            return t;
        }
        default:
            return fail(Errc::invalid_argument, std::string{"PR IN service action "} +
                                                    prin_action_name(cdb.b[1] & 0x1f) +
                                                    " is not defined");
    }
    auto c = report_cmd(nsid, true, kReportBufferLen);
    if (!c) return fail(c.error());
    t.cmd = std::move(c).value();
    return t;
}

// SCSI operation codes probe sends (SPC-4 / SBC-3).
constexpr uint8_t kOpReadCapacity10 = 0x25;
constexpr uint8_t kOpRead10 = 0x28;
constexpr uint8_t kOpSyncCache10 = 0x35;
constexpr uint8_t kOpRead16 = 0x88;
constexpr uint8_t kOpSyncCache16 = 0x91;
constexpr uint8_t kOpServiceActionIn16 = 0x9e;
constexpr uint8_t kSaReadCapacity16 = 0x10;
constexpr uint32_t kReadCapacity16Len = 32;

Result<Translation> translate_io(uint32_t nsid, const Cdb& cdb, uint32_t data_in_len) {
    Translation t;
    const uint8_t op = cdb.b[0];
    auto with = [&](Result<Command> c) -> Result<Translation> {
        if (!c) return fail(c.error());
        t.cmd = std::move(c).value();
        return t;
    };
    if (op == kOpReadCapacity10 && cdb.len >= 10) {
        t.answer = Answer::read_capacity10;
        t.alloc_len = 8;  // READ CAPACITY(10) data is 8 bytes, no allocation length
        return with(identify_ns(nsid));
    }
    if (op == kOpServiceActionIn16 && cdb.len >= 16 && (cdb.b[1] & 0x1f) == kSaReadCapacity16) {
        t.answer = Answer::read_capacity16;
        t.alloc_len = static_cast<uint16_t>(std::min(get_be32(cdb.b, 10), kReadCapacity16Len));
        return with(identify_ns(nsid));
    }
    if ((op == kOpRead10 && cdb.len >= 10) || (op == kOpRead16 && cdb.len >= 16)) {
        const bool r16 = op == kOpRead16;
        const uint64_t lba = r16 ? get_be64(cdb.b, 2) : get_be32(cdb.b, 2);
        const uint32_t blocks = r16 ? get_be32(cdb.b, 10) : get_be16(cdb.b, 7);
        if (blocks == 0)
            return fail(Errc::unsupported,
                        "a READ of 0 blocks has no NVMe equivalent (NLB counts from 1)");
        t.answer = Answer::data;
        return with(read_cmd(nsid, lba, blocks, data_in_len));
    }
    if ((op == kOpSyncCache10 && cdb.len >= 10) || (op == kOpSyncCache16 && cdb.len >= 16))
        return with(flush_cmd(nsid));
    return fail(Errc::unsupported, "operation code " + hex(op) +
                                       " has no NVMe translation (PERSISTENT RESERVE IN/OUT, READ "
                                       "CAPACITY, READ and SYNCHRONIZE CACHE have)");
}

// One row of the status table: the SCSI answer standing for an NVMe status.
struct ScsiStandIn {
    uint8_t status;
    uint8_t host;
    SenseKey key;
    uint8_t asc, ascq;
};
constexpr ScsiStandIn kGood{sam::good, did::ok, SenseKey::no_sense, 0, 0};
constexpr ScsiStandIn kConflict{sam::reservation_conflict, did::ok, SenseKey::no_sense, 0, 0};
constexpr ScsiStandIn kAborted{sam::task_aborted, did::ok, SenseKey::no_sense, 0, 0};
constexpr ScsiStandIn kTransport{sam::good, did::transport_disrupted, SenseKey::no_sense, 0, 0};
constexpr ScsiStandIn kHardware{sam::check_condition, did::ok, SenseKey::hardware_error, 0x44,
                                0x00};

constexpr ScsiStandIn cc(SenseKey k, uint8_t asc, uint8_t ascq) {
    return {sam::check_condition, did::ok, k, asc, ascq};
}

// The stand-in for each outcome category (nvme_status.h decides the category of every status), so
// that the SCSI answer and the NVMe status always read the same.
struct CategoryRow {
    Category cat;
    ScsiStandIn scsi;
};
constexpr CategoryRow kByCategory[] = {
    {Category::clean, kGood},
    {Category::reservation_conflict, kConflict},
    {Category::illegal_request, cc(SenseKey::illegal_request, 0x24, 0x00)},
    {Category::invalid_opcode, cc(SenseKey::illegal_request, 0x20, 0x00)},
    {Category::lba_out_of_range, cc(SenseKey::illegal_request, 0x21, 0x00)},
    {Category::not_ready, cc(SenseKey::not_ready, 0x04, 0x00)},
    {Category::data_protect, cc(SenseKey::data_protect, 0x27, 0x00)},
    {Category::task_aborted, kAborted},
    {Category::transport_error, kTransport},
    {Category::protection, cc(SenseKey::aborted_command, 0x10, 0x01)},
    {Category::miscompare, cc(SenseKey::miscompare, 0x1d, 0x00)},
    {Category::medium_hard, cc(SenseKey::medium_error, 0x11, 0x00)},
};

// Codes whose SCSI twin is more precise than their category's (status word without DNR/MORE).
struct CodeRow {
    uint16_t code;
    ScsiStandIn scsi;
};
constexpr CodeRow kByCode[] = {
    {status_word(sct::generic, sc::invalid_namespace), cc(SenseKey::illegal_request, 0x25, 0x00)},
    {status_word(sct::generic, sc::command_sequence_error),
     cc(SenseKey::illegal_request, 0x2c, 0x00)},
    {status_word(sct::generic, 0x84), cc(SenseKey::not_ready, 0x04, 0x04)},  // Format In Progress
    {status_word(sct::media, 0x83), cc(SenseKey::aborted_command, 0x10, 0x02)},  // app tag
    {status_word(sct::media, 0x84), cc(SenseKey::aborted_command, 0x10, 0x03)},  // ref tag
};

ScsiStandIn stand_in(const StatusInfo& s) {
    for (const auto& row : kByCode)
        if (row.code == s.code()) return row.scsi;
    for (const auto& row : kByCategory)
        if (row.cat == s.category) return row.scsi;
    return kHardware;  // Category::other: Internal Error and whatever has no closer meaning
}

void set_stand_in(NvmeAnswer& a, const ScsiStandIn& s) {
    a.status = s.status;
    a.host = s.host;
    if (s.status == sam::check_condition) a.sense = make_fixed_sense(s.key, s.asc, s.ascq);
}

void device_error(NvmeAnswer& a) {
    set_stand_in(a, kHardware);
    a.data_in.clear();
}

}  // namespace

Result<Translation> translate(uint32_t nsid, const Cdb& cdb, ByteView param_list,
                              uint32_t data_in_len) {
    const bool pr = cdb.b[0] == kOpPersistentReserveOut || cdb.b[0] == kOpPersistentReserveIn;
    if (pr && cdb.len < 10) return fail(Errc::invalid_argument, "a PR command has a 10-byte CDB");
    if (cdb.b[0] == kOpPersistentReserveOut) return translate_prout(nsid, cdb, param_list);
    if (cdb.b[0] == kOpPersistentReserveIn) return translate_prin(nsid, cdb);
    return translate_io(nsid, cdb, data_in_len);
}

NvmeAnswer answer(const Translation& t, int res, ByteView data) {
    NvmeAnswer a;
    a.res = res;
    if (res < 0) {
        // Linux passes -errno (1..4095); anything else is not an errno at all.
        a.sys_errno = res >= -4095 ? -res : EIO;
        return a;
    }
    const StatusInfo s = decode_status(res);
    set_stand_in(a, stand_in(s));
    if (!s.ok() || t.answer == Answer::none) return a;

    if (t.answer == Answer::data) {
        a.data_in.assign(data.begin(),
                         data.begin() + std::min<size_t>(data.size(), t.cmd.data_len));
        return a;
    }
    if (t.answer == Answer::read_capacity10 || t.answer == Answer::read_capacity16) {
        auto ns = parse_identify_ns(data);
        if (!ns || ns->lba_size == 0 || ns->nsze == 0) {
            device_error(a);
            return a;
        }
        const uint64_t last = ns->nsze - 1;
        if (t.answer == Answer::read_capacity10) {
            a.data_in.assign(8, 0);
            put_be32(a.data_in, 0, last > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(last));
            put_be32(a.data_in, 4, ns->lba_size);
        } else {
            a.data_in.assign(kReadCapacity16Len, 0);
            put_be64(a.data_in, 0, last);
            put_be32(a.data_in, 8, ns->lba_size);
            a.data_in.resize(t.alloc_len);
        }
        return a;
    }
    if (t.answer == Answer::report_capabilities) {
        auto ns = parse_identify_ns(data);
        if (!ns) {
            device_error(a);
            return a;
        }
        Capabilities c;
        c.ptpl_c = ns->rescap & 1;
        c.tmv = true;
        for (uint8_t rt = 1; rt <= 6; ++rt) {
            if (!(ns->rescap & (1u << rt))) continue;
            if (auto scsi = to_scsi(static_cast<Rtype>(rt))) c.type_mask |= type_mask_bit(*scsi);
        }
        c.length = 8;
        a.data_in = encode_capabilities(c, t.alloc_len);
        return a;
    }

    auto rep = parse_report(data, true);
    if (!rep) {
        device_error(a);
        return a;
    }
    switch (t.answer) {
        case Answer::read_keys: {
            ReadKeys k;
            k.generation = rep->generation;
            for (const auto& r : rep->registrants) k.keys.push_back(r.key);
            a.data_in = encode_read_keys(k, t.alloc_len);
            break;
        }
        case Answer::read_reservation: {
            ReadReservation v;
            v.generation = rep->generation;
            if (rep->rtype != 0) {
                auto scsi = to_scsi(static_cast<Rtype>(rep->rtype));
                v.reserved = true;
                v.type = scsi ? static_cast<uint8_t>(*scsi) : 0;
                if (!is_all_registrants(rep->rtype))
                    for (const auto& r : rep->registrants)
                        if (r.holds) v.key = r.key;
            }
            a.data_in = encode_read_reservation(v, t.alloc_len);
            break;
        }
        case Answer::read_full_status: {
            FullStatus f;
            f.generation = rep->generation;
            auto b = encode_full_status(f, t.alloc_len);
            if (!b) {
                device_error(a);
                return a;
            }
            a.data_in = std::move(b).value();
            break;
        }
        default:
            break;
    }
    a.report = std::move(rep).value();
    return a;
}

}  // namespace prfence::wire::nvme
