// SPDX-License-Identifier: MIT
#include "tools/prfence/render.h"

#include <cstdio>

#include "uring_engine/wire/pr_types.h"

namespace prfence::cli {
namespace {

std::string hx8(uint8_t v) {
    char b[8];
    std::snprintf(b, sizeof b, "0x%02x", v);
    return b;
}

Json type_json(uint8_t type) {
    Json j;
    j["value"] = type;
    j["name"] = wire::type_name(type);
    if (*wire::type_abbrev(type)) j["abbrev"] = wire::type_abbrev(type);
    return j;
}

void truncation_note(std::string& out, bool truncated, uint32_t needed) {
    if (truncated)
        out += "  (answer truncated: the device has " + std::to_string(needed) +
               " bytes; re-issue with a larger allocation length)\n";
}

}  // namespace

Json to_json(const wire::Sense& s) {
    Json j;
    j["response_code"] = hx8(s.response_code);
    j["format"] = s.descriptor ? "descriptor" : "fixed";
    j["deferred"] = s.deferred;
    j["key"] = static_cast<int>(s.key);
    j["key_name"] = wire::sense_key_name(s.key);
    j["asc"] = hx8(s.asc);
    j["ascq"] = hx8(s.ascq);
    j["text"] = wire::asc_ascq_text(s.asc, s.ascq);
    if (s.information) j["information"] = hex_u64(*s.information);
    if (s.command_specific) j["command_specific"] = hex_u64(*s.command_specific);
    if (s.fru) j["fru"] = *s.fru;
    if (s.progress) j["progress_percent"] = static_cast<double>(*s.progress) * 100.0 / 65536.0;
    if (s.field_pointer) {
        Json f;
        f["in"] = s.field_pointer->cd ? "cdb" : "parameter data";
        f["byte"] = s.field_pointer->byte;
        if (s.field_pointer->bpv) f["bit"] = s.field_pointer->bit;
        j["field_pointer"] = f;
    }
    if (s.filemark) j["filemark"] = true;
    if (s.eom) j["eom"] = true;
    if (s.ili) j["ili"] = true;
    if (!s.descriptors.empty()) {
        Json d = Json::array();
        for (const auto& desc : s.descriptors)
            d.push_back({{"type", hx8(desc.type)}, {"body", hex_string(desc.body)}});
        j["descriptors"] = d;
    }
    j["truncated"] = s.truncated;
    j["summary"] = wire::describe_sense(s);
    return j;
}

Json to_json(const wire::DecodedCdb& c) {
    Json j;
    j["opcode"] = hx8(c.opcode);
    j["name"] = c.name;
    if (!c.detail.empty()) j["detail"] = c.detail;
    if (c.service_action) {
        j["service_action"] = *c.service_action;
        j["service_action_name"] = c.opcode == wire::kOpPersistentReserveIn
                                       ? wire::prin_action_name(*c.service_action)
                                       : wire::prout_action_name(*c.service_action);
    }
    if (c.type) j["type"] = type_json(*c.type);
    if (c.scope) j["scope"] = *c.scope;
    if (c.length) j["length"] = *c.length;
    if (c.lba) j["lba"] = *c.lba;
    return j;
}

Json to_json(const wire::ReadKeys& k) {
    Json j;
    j["generation"] = k.generation;
    Json keys = Json::array();
    for (uint64_t key : k.keys) keys.push_back(hex_u64(key));
    j["keys"] = keys;
    j["truncated"] = k.truncated;
    if (k.truncated) j["needed"] = k.needed;
    return j;
}

Json to_json(const wire::ReadReservation& r) {
    Json j;
    j["generation"] = r.generation;
    if (r.reserved) {
        j["reservation"] = {
            {"key", hex_u64(r.key)}, {"type", type_json(r.type)}, {"scope", r.scope}};
    } else {
        j["reservation"] = nullptr;
    }
    j["truncated"] = r.truncated;
    return j;
}

Json to_json(const wire::Capabilities& c) {
    Json j;
    j["rlr_c"] = c.rlr_c;
    j["crh"] = c.crh;
    j["sip_c"] = c.sip_c;
    j["atp_c"] = c.atp_c;
    j["ptpl_c"] = c.ptpl_c;
    j["tmv"] = c.tmv;
    j["allow_commands"] = c.allow_commands;
    j["ptpl_a"] = c.ptpl_a;
    Json types = Json::array();
    for (uint8_t t : {1, 3, 5, 6, 7, 8})
        if (c.supports(static_cast<wire::PrType>(t))) types.push_back(wire::type_abbrev(t));
    j["types"] = types;
    j["truncated"] = c.truncated;
    return j;
}

Json to_json(const wire::TransportId& t) {
    Json j;
    j["protocol"] = wire::protocol_name(t.protocol);
    j["id"] = wire::format_transport_id(t);
    return j;
}

Json to_json(const wire::FullStatus& f) {
    Json j;
    j["generation"] = f.generation;
    Json regs = Json::array();
    for (const auto& e : f.entries) {
        Json r;
        r["key"] = hex_u64(e.key);
        r["holder"] = e.holder;
        if (e.holder) r["type"] = type_json(e.type);
        r["all_tg_pt"] = e.all_tg_pt;
        r["relative_target_port"] = e.rel_tgt_port;
        r["transport_id"] = to_json(e.transport_id);
        regs.push_back(r);
    }
    j["registrants"] = regs;
    j["truncated"] = f.truncated;
    if (f.truncated) j["needed"] = f.needed;
    return j;
}

Json to_json(const wire::ProutParams& p) {
    Json j;
    j["key"] = hex_u64(p.key);
    j["sa_key"] = hex_u64(p.sa_key);
    j["aptpl"] = p.aptpl;
    j["all_tg_pt"] = p.all_tg_pt;
    j["spec_i_pt"] = p.spec_i_pt;
    Json tids = Json::array();
    for (const auto& t : p.transport_ids) tids.push_back(to_json(t));
    j["transport_ids"] = tids;
    return j;
}

Json to_json(const wire::ProutMoveParams& p) {
    Json j;
    j["key"] = hex_u64(p.key);
    j["sa_key"] = hex_u64(p.sa_key);
    j["aptpl"] = p.aptpl;
    j["unreg"] = p.unreg;
    j["relative_target_port"] = p.rel_tgt_port;
    j["transport_id"] = to_json(p.transport_id);
    return j;
}

std::string to_text(const wire::Sense& s) {
    std::string out = wire::describe_sense(s) + "\n";
    out += std::string("  ") + (s.descriptor ? "descriptor" : "fixed") + " format (response code " +
           hx8(s.response_code) + "), " + (s.deferred ? "deferred error" : "current error") + "\n";
    for (const auto& d : s.descriptors)
        out += "  descriptor type " + hx8(d.type) + ": " + hex_string(d.body) + "\n";
    if (s.truncated) out += "  (sense buffer truncated: fields past the end are missing)\n";
    return out;
}

std::string to_text(const wire::DecodedCdb& c) {
    std::string out = c.name;
    if (!c.detail.empty()) out += ": " + c.detail;
    return out + "\n";
}

std::string to_text(const wire::ReadKeys& k) {
    std::string out = "  PR generation=" + hex_u64(k.generation) + ", ";
    if (k.keys.empty()) {
        out += "there are NO registered reservation keys\n";
    } else {
        out += std::to_string(k.keys.size()) + " registered reservation key" +
               (k.keys.size() == 1 ? "" : "s") + " follow" + (k.keys.size() == 1 ? "s" : "") +
               ":\n";
        for (uint64_t key : k.keys) out += "    " + hex_u64(key) + "\n";
    }
    truncation_note(out, k.truncated, k.needed);
    return out;
}

std::string to_text(const wire::ReadReservation& r) {
    std::string out = "  PR generation=" + hex_u64(r.generation) + ", ";
    if (!r.reserved) {
        out += "there is NO reservation held\n";
    } else {
        out += "Reservation follows:\n    Key=" + hex_u64(r.key) + "\n    scope: " +
               (r.scope == 0 ? std::string("LU_SCOPE") : "scope " + std::to_string(r.scope)) +
               ",  type: " + wire::type_name(r.type) + "\n";
    }
    truncation_note(out, r.truncated, r.needed);
    return out;
}

std::string to_text(const wire::Capabilities& c) {
    auto yn = [](bool b) { return b ? "1" : "0"; };
    std::string out = "Report capabilities response:\n";
    out += std::string("  Replace Lost Reservation Capable(RLR_C): ") + yn(c.rlr_c) + "\n";
    out += std::string("  Compatible Reservation Handling(CRH): ") + yn(c.crh) + "\n";
    out += std::string("  Specify Initiator Ports Capable(SIP_C): ") + yn(c.sip_c) + "\n";
    out += std::string("  All Target Ports Capable(ATP_C): ") + yn(c.atp_c) + "\n";
    out += std::string("  Persist Through Power Loss Capable(PTPL_C): ") + yn(c.ptpl_c) + "\n";
    out += std::string("  Type Mask Valid(TMV): ") + yn(c.tmv) + "\n";
    out += "  Allow Commands: " + std::to_string(c.allow_commands) + "\n";
    out += std::string("  Persist Through Power Loss Active(PTPL_A): ") + yn(c.ptpl_a) + "\n";
    if (c.tmv) {
        out += "    Support indicated in Type mask:\n";
        for (uint8_t t : {7, 6, 5, 3, 1, 8})
            out += std::string("      ") + wire::type_name(t) + ": " +
                   yn(c.supports(static_cast<wire::PrType>(t))) + "\n";
    }
    if (c.truncated) out += "  (answer truncated)\n";
    return out;
}

std::string to_text(const wire::FullStatus& f) {
    std::string out = "  PR generation=" + hex_u64(f.generation) + "\n";
    if (f.entries.empty()) out += "  No full status descriptors\n";
    for (const auto& e : f.entries) {
        out += "    Key=" + hex_u64(e.key) + "\n";
        out += std::string("      All target ports bit ") + (e.all_tg_pt ? "set" : "clear") + "\n";
        out += "      Relative port address: " + hex_u64(e.rel_tgt_port) + "\n";
        if (e.holder)
            out += std::string("      << Reservation holder >>\n      scope: LU_SCOPE,  type: ") +
                   wire::type_name(e.type) + "\n";
        else
            out += "      not reservation holder\n";
        out += "      Transport Id of initiator:\n        " +
               wire::describe_transport_id(e.transport_id) + "\n";
    }
    truncation_note(out, f.truncated, f.needed);
    return out;
}

std::string to_text(const wire::ProutParams& p) {
    std::string out = "  RESERVATION KEY=" + hex_u64(p.key) +
                      "\n  SERVICE ACTION RESERVATION KEY=" + hex_u64(p.sa_key) + "\n";
    out += std::string("  APTPL=") + (p.aptpl ? "1" : "0") +
           " ALL_TG_PT=" + (p.all_tg_pt ? "1" : "0") + " SPEC_I_PT=" + (p.spec_i_pt ? "1" : "0") +
           "\n";
    for (const auto& t : p.transport_ids)
        out += "  TransportID: " + wire::describe_transport_id(t) + "\n";
    return out;
}

std::string to_text(const wire::ProutMoveParams& p) {
    std::string out = "  RESERVATION KEY=" + hex_u64(p.key) +
                      "\n  SERVICE ACTION RESERVATION KEY=" + hex_u64(p.sa_key) + "\n";
    out += std::string("  APTPL=") + (p.aptpl ? "1" : "0") + " UNREG=" + (p.unreg ? "1" : "0") +
           " RELATIVE TARGET PORT=" + std::to_string(p.rel_tgt_port) + "\n";
    out += "  TransportID: " + wire::describe_transport_id(p.transport_id) + "\n";
    return out;
}

}  // namespace prfence::cli
