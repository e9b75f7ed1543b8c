// SPDX-License-Identifier: MIT
#include "uring_engine/wire/prout.h"

namespace prfence::wire {
namespace {

Unexpected param_fail(ParamError* why, ParamError::Kind kind, uint16_t off, Errc code,
                      std::string msg) {
    if (why) *why = ParamError{kind, off};
    return fail(code, std::move(msg));
}

}  // namespace

Result<Bytes> encode_prout_params(const ProutParams& p) {
    if (p.spec_i_pt && p.transport_ids.empty())
        return fail(Errc::invalid_argument, "SPEC_I_PT set but no TransportIDs given");
    if (!p.spec_i_pt && !p.transport_ids.empty())
        return fail(Errc::invalid_argument, "TransportIDs given without SPEC_I_PT");
    Bytes out(kProutBasicLen, 0);
    put_be64(out, 0, p.key);
    put_be64(out, 8, p.sa_key);
    out[20] = static_cast<uint8_t>((p.spec_i_pt ? 0x08 : 0) | (p.all_tg_pt ? 0x04 : 0) |
                                   (p.aptpl ? 0x01 : 0));
    if (!p.spec_i_pt) return out;
    Bytes tids;
    for (const auto& t : p.transport_ids) {
        PRF_TRY_ASSIGN(Bytes one, encode_transport_id(t));
        tids.insert(tids.end(), one.begin(), one.end());
    }
    out.resize(kProutBasicLen + 4);
    put_be32(out, kProutBasicLen, static_cast<uint32_t>(tids.size()));
    out.insert(out.end(), tids.begin(), tids.end());
    return out;
}

Result<Bytes> encode_prout_move_params(const ProutMoveParams& p) {
    PRF_TRY_ASSIGN(Bytes tid, encode_transport_id(p.transport_id));
    Bytes out(kProutMoveHeaderLen, 0);
    put_be64(out, 0, p.key);
    put_be64(out, 8, p.sa_key);
    out[17] = static_cast<uint8_t>((p.unreg ? 0x02 : 0) | (p.aptpl ? 0x01 : 0));
    put_be16(out, 18, p.rel_tgt_port);
    put_be32(out, 20, static_cast<uint32_t>(tid.size()));
    out.insert(out.end(), tid.begin(), tid.end());
    return out;
}

Result<ProutParams> decode_prout_params(ByteView in, ParamError* why) {
    using K = ParamError::Kind;
    if (in.size() < kProutBasicLen)
        return param_fail(
            why, K::length, 0, Errc::truncated,
            "PR OUT parameter list is " + std::to_string(in.size()) + " bytes; at least 24 needed");
    ProutParams p;
    p.key = get_be64(in, 0);
    p.sa_key = get_be64(in, 8);
    p.spec_i_pt = in[20] & 0x08;
    p.all_tg_pt = in[20] & 0x04;
    p.aptpl = in[20] & 0x01;
    if (!p.spec_i_pt) {
        // SPC-4 6.16.3: without SPEC_I_PT the list is exactly 24 bytes.
        if (in.size() != kProutBasicLen)
            return param_fail(why, K::length, 0, Errc::malformed,
                              "PR OUT parameter list is " + std::to_string(in.size()) +
                                  " bytes; 24 expected without SPEC_I_PT");
        return p;
    }
    if (in.size() < kProutBasicLen + 4)
        return param_fail(why, K::length, 24, Errc::truncated,
                          "SPEC_I_PT set but the list has no TRANSPORTID PARAMETER DATA LENGTH");
    uint32_t tid_len = get_be32(in, kProutBasicLen);
    if (size_t{tid_len} != in.size() - kProutBasicLen - 4)
        return param_fail(why, K::length, 24, Errc::malformed,
                          "TRANSPORTID PARAMETER DATA LENGTH " + std::to_string(tid_len) + " but " +
                              std::to_string(in.size() - kProutBasicLen - 4) + " bytes follow");
    auto list = decode_transport_id_list(in.subspan(kProutBasicLen + 4));
    if (!list)
        return param_fail(why, K::invalid_field, 28, Errc::malformed,
                          "SPEC_I_PT TransportID list: " + list.error().msg);
    if (list->empty())
        return param_fail(why, K::invalid_field, 24, Errc::malformed,
                          "SPEC_I_PT set but no TransportIDs");
    p.transport_ids = std::move(list).value();
    return p;
}

Result<ProutMoveParams> decode_prout_move_params(ByteView in, ParamError* why) {
    using K = ParamError::Kind;
    if (in.size() < kProutMoveHeaderLen)
        return param_fail(why, K::length, 0, Errc::truncated,
                          "REGISTER AND MOVE parameter list is " + std::to_string(in.size()) +
                              " bytes; at least 24 needed");
    ProutMoveParams p;
    p.key = get_be64(in, 0);
    p.sa_key = get_be64(in, 8);
    p.unreg = in[17] & 0x02;
    p.aptpl = in[17] & 0x01;
    p.rel_tgt_port = get_be16(in, 18);
    uint32_t tid_len = get_be32(in, 20);
    if (size_t{tid_len} != in.size() - kProutMoveHeaderLen)
        return param_fail(why, K::length, 20, Errc::malformed,
                          "TRANSPORTID PARAMETER DATA LENGTH " + std::to_string(tid_len) + " but " +
                              std::to_string(in.size() - kProutMoveHeaderLen) + " bytes follow");
    auto tid = decode_transport_id(in.subspan(kProutMoveHeaderLen));
    if (!tid)
        return param_fail(why, K::invalid_field, 24, Errc::malformed,
                          "REGISTER AND MOVE TransportID: " + tid.error().msg);
    if (tid->length != tid_len)
        return param_fail(why, K::invalid_field, 24, Errc::malformed,
                          "REGISTER AND MOVE carries exactly one TransportID; " +
                              std::to_string(tid_len - tid->length) + " bytes left over");
    p.transport_id = std::move(tid->tid);
    return p;
}

Result<ProutCommand> build_prout(PrOutAction sa, PrType type, const ProutParams& p) {
    if (sa == PrOutAction::register_and_move)
        return fail(Errc::invalid_argument, "REGISTER AND MOVE has its own parameter list");
    bool typed = sa == PrOutAction::reserve || sa == PrOutAction::release ||
                 sa == PrOutAction::preempt || sa == PrOutAction::preempt_and_abort ||
                 sa == PrOutAction::replace_lost;
    if (typed && !is_valid_type(static_cast<uint8_t>(type)))
        return fail(Errc::invalid_argument, std::string(prout_action_name(sa)) +
                                                " needs a reservation type (1, 3, 5, 6, 7 or 8)");
    if (p.spec_i_pt && sa != PrOutAction::register_key)
        return fail(Errc::invalid_argument, "SPEC_I_PT is only valid with REGISTER");
    PRF_TRY_ASSIGN(Bytes data, encode_prout_params(p));
    ProutCommand c;
    c.cdb = prout_cdb(sa, typed ? type : PrType::none, static_cast<uint32_t>(data.size()));
    c.data = std::move(data);
    return c;
}

Result<ProutCommand> build_register_and_move(PrType type, const ProutMoveParams& p) {
    if (!is_valid_type(static_cast<uint8_t>(type)))
        return fail(Errc::invalid_argument,
                    "REGISTER AND MOVE needs a reservation type (1, 3, 5, 6, 7 or 8)");
    PRF_TRY_ASSIGN(Bytes data, encode_prout_move_params(p));
    ProutCommand c;
    c.cdb = prout_cdb(PrOutAction::register_and_move, type, static_cast<uint32_t>(data.size()));
    c.data = std::move(data);
    return c;
}

}  // namespace prfence::wire
