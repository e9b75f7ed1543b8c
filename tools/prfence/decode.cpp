// SPDX-License-Identifier: MIT
// `prfence decode`: turns hex an operator pasted (from sg_persist --hex, dmesg, a trace, a packet
// capture) into names. Exit codes: 0 decoded, 1 syntax error (bad option or hex), 97 the bytes do
// not decode as the chosen kind (sg3_utils' "malformed response").
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "tools/prfence/commands.h"
#include "tools/prfence/render.h"
#include "uring_engine/common/bytes.h"
#include "uring_engine/wire/status.h"

namespace prfence::cli {
namespace {

struct DecodeOpts {
    bool sense = false, cdb = false, prout = false, move = false, tid = false;
    std::string prin;  // keys|reservation|caps|full
    int err = -1;
    bool json = false;
    std::vector<std::string> hex;
};

int emit(const DecodeOpts& o, const Json& j, const std::string& text) {
    if (o.json)
        std::cout << j.dump(2) << "\n";
    else
        std::cout << text;
    return 0;
}

int malformed(const std::string& what, const Error& e) {
    std::fprintf(stderr, "prfence decode: not a valid %s: %s\n", what.c_str(), e.msg.c_str());
    return wire::exit_code(wire::Category::malformed);
}

int run_decode(const DecodeOpts& o) {
    if (o.err >= 0) {
        auto c = static_cast<wire::Category>(o.err);
        const char* name = wire::category_name(c);
        Json j{{"exit_code", o.err}, {"meaning", name}};
        return emit(o, j, "exit status " + std::to_string(o.err) + ": " + name + "\n");
    }

    std::string text;
    if (o.hex.empty()) {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        for (const auto& h : o.hex) text += h + " ";
    }

    if (o.tid) {
        // A TransportID may be given as text (sg_persist's forms) or as hex bytes.
        std::string t = text;
        while (!t.empty() && (t.back() == ' ' || t.back() == '\n')) t.pop_back();
        auto parsed = wire::parse_transport_id(t);
        if (!parsed) return malformed("TransportID", parsed.error());
        auto enc = wire::encode_transport_id(*parsed);
        Json j = to_json(*parsed);
        if (enc) j["bytes"] = hex_string(*enc);
        return emit(o, j,
                    wire::describe_transport_id(*parsed) + "\n" +
                        (enc ? "  bytes: " + hex_string(*enc) + "\n" : ""));
    }

    auto bytes = parse_hex_bytes(text);
    if (!bytes) {
        std::fprintf(stderr, "prfence decode: %s\n", bytes.error().msg.c_str());
        return wire::exit_code(wire::Category::syntax_error);
    }
    ByteView b = *bytes;

    if (o.sense) {
        auto s = wire::decode_sense(b);
        if (!s) return malformed("sense buffer", s.error());
        return emit(o, to_json(*s), to_text(*s));
    }
    if (o.cdb) {
        auto c = wire::decode_cdb(b);
        if (!c) return malformed("CDB", c.error());
        return emit(o, to_json(*c), to_text(*c));
    }
    if (o.prout) {
        auto p = wire::decode_prout_params(b);
        if (!p) return malformed("PR OUT parameter list", p.error());
        return emit(o, to_json(*p), to_text(*p));
    }
    if (o.move) {
        auto p = wire::decode_prout_move_params(b);
        if (!p) return malformed("REGISTER AND MOVE parameter list", p.error());
        return emit(o, to_json(*p), to_text(*p));
    }
    if (o.prin == "keys") {
        auto r = wire::parse_read_keys(b);
        if (!r) return malformed("READ KEYS answer", r.error());
        return emit(o, to_json(*r), to_text(*r));
    }
    if (o.prin == "reservation") {
        auto r = wire::parse_read_reservation(b);
        if (!r) return malformed("READ RESERVATION answer", r.error());
        return emit(o, to_json(*r), to_text(*r));
    }
    if (o.prin == "caps") {
        auto r = wire::parse_capabilities(b);
        if (!r) return malformed("REPORT CAPABILITIES answer", r.error());
        return emit(o, to_json(*r), to_text(*r));
    }
    if (o.prin == "full") {
        auto r = wire::parse_full_status(b);
        if (!r) return malformed("READ FULL STATUS answer", r.error());
        return emit(o, to_json(*r), to_text(*r));
    }
    std::fprintf(stderr,
                 "prfence decode: choose what the bytes are: --sense, --cdb, --prin TYPE, --prout, "
                 "--move, --tid or --err\n");
    return wire::exit_code(wire::Category::syntax_error);
}

}  // namespace

void add_decode(CLI::App& app, Runner& run) {
    auto o = std::make_shared<DecodeOpts>();
    CLI::App* sub = app.add_subcommand(
        "decode",
        "Decode hex from the command line or stdin: sense data, a CDB, a PR IN answer, a PR OUT "
        "parameter list or a TransportID");
    auto* g = sub->add_option_group("kind", "What the bytes are");
    g->add_flag("--sense", o->sense, "Sense data (fixed 70h/71h or descriptor 72h/73h format)");
    g->add_flag("--cdb", o->cdb, "A command descriptor block");
    g->add_option("--prin", o->prin, "A PERSISTENT RESERVE IN answer")
        ->check(CLI::IsMember({"keys", "reservation", "caps", "full"}));
    g->add_flag("--prout", o->prout, "A PERSISTENT RESERVE OUT basic parameter list");
    g->add_flag("--move", o->move, "A REGISTER AND MOVE parameter list");
    g->add_flag("--tid", o->tid,
                "A TransportID, as hex bytes or sg_persist text (iqn...,i,0x..., sas,...)");
    g->add_option("--err", o->err, "Explain an exit status (sg3_utils numbering)")
        ->check(CLI::Range(0, 255));
    g->require_option(1);
    sub->add_flag("--json", o->json, "JSON output");
    sub->add_option("hex", o->hex,
                    "Hex bytes (\"70 00 06 ...\", \"700006\", \"0x70,0x00\"); stdin when absent");
    sub->callback([o, &run] { run = [o] { return run_decode(*o); }; });
}

}  // namespace prfence::cli
