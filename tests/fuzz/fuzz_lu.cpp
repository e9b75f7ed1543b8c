// SPDX-License-Identifier: MIT
// The prsim logical unit takes CDBs and parameter lists from any client: execute() must survive any
// bytes and keep its persistent-reservation state consistent.
//
// Input: a sequence of commands, each
//   byte 0      nexus selector: low two bits pick one of three attached nexuses (3 = the first);
//               0xff instead injects a loss of persistent reservation information
//   byte 1      CDB length (mod 17)
//   CDB bytes
//   bytes 2     data-out length, big-endian (mod 1024)
//   data bytes
// until the input runs out (a short tail is used as far as it goes). After every command the answer
// must be well formed, and READ KEYS / READ RESERVATION / READ FULL STATUS from a fourth, never
// registered nexus must agree with each other.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <vector>

#include "interposer/lu/lu.h"
#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/prin.h"
#include "uring_engine/wire/sense.h"

using namespace prfence;
using namespace prfence::sim;

namespace {

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "fuzz_lu invariant violated: %s\n", what);
    std::abort();
}

wire::TransportId iscsi(const char* name, const char* isid) {
    wire::TransportId t;
    t.protocol = wire::ProtocolId::iscsi;
    t.format = 1;
    t.iscsi_name = name;
    t.iscsi_isid = isid;
    return t;
}

wire::TransportId sas(uint64_t a) {
    wire::TransportId t;
    t.protocol = wire::ProtocolId::sas;
    t.name = a;
    return t;
}

void check_answer(const CommandResult& r) {
    if (r.status != wire::sam::good && r.status != wire::sam::check_condition &&
        r.status != wire::sam::reservation_conflict)
        die("unexpected status");
    if ((r.status == wire::sam::check_condition) != !r.sense.empty())
        die("sense without CHECK CONDITION or vice versa");
    if (!r.sense.empty() && !wire::decode_sense(r.sense).ok()) die("sense does not decode");
    if (r.status != wire::sam::good && !r.data_in.empty()) die("data-in with a failed command");
    for (NexusId id : r.aborted_nexuses)
        if (id > 3) die("aborted nexus id out of range");
}

void check_state(LogicalUnit& lu, NexusId observer) {
    const auto k =
        lu.execute(observer, wire::prin_cdb(wire::PrInAction::read_keys, 65535).bytes(), {});
    const auto r =
        lu.execute(observer, wire::prin_cdb(wire::PrInAction::read_reservation, 65535).bytes(), {});
    const auto f =
        lu.execute(observer, wire::prin_cdb(wire::PrInAction::read_full_status, 65535).bytes(), {});
    check_answer(k);
    check_answer(r);
    check_answer(f);
    if (k.status != wire::sam::good || r.status != wire::sam::good || f.status != wire::sam::good)
        return;  // lost, SPC-2
    auto keys = wire::parse_read_keys(k.data_in);
    auto res = wire::parse_read_reservation(r.data_in);
    auto full = wire::parse_full_status(f.data_in);
    if (!keys || !res || !full) die("PR IN answer does not parse");
    if (keys->truncated || res->truncated || full->truncated)
        die("PR IN answer truncated at 65535");
    if (keys->generation != res->generation || keys->generation != full->generation)
        die("generations differ");
    std::multiset<uint64_t> a(keys->keys.begin(), keys->keys.end()), b;
    int holders = 0;
    for (const auto& e : full->entries) {
        if (e.key == 0) die("registration with key 0");
        for (int i = 0; i < (e.all_tg_pt ? 2 : 1); ++i) b.insert(e.key);
        if (e.holder) ++holders;
    }
    if (a != b) die("READ KEYS and READ FULL STATUS disagree");
    if (keys->keys.empty() && res->reserved) die("reservation without registrations");
    if (res->reserved) {
        if (!wire::is_valid_type(res->type)) die("reservation of an invalid type");
        if (wire::is_all_registrants(static_cast<wire::PrType>(res->type))) {
            if (res->key != 0) die("all-registrants READ RESERVATION key not zero");
            if (static_cast<size_t>(holders) != full->entries.size())
                die("all-registrants: not every registrant holds");
        } else {
            if (holders != 1) die("not exactly one holder");
            for (const auto& e : full->entries)
                if (e.holder && e.key != res->key) die("holder key differs from READ RESERVATION");
        }
    } else if (holders != 0) {
        die("holder without reservation");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    LuConfig cfg;
    cfg.blocks = 64;
    cfg.target_ports = 2;
    cfg.profile = (size > 0 && (data[0] & 0x80)) ? Profile::lio : Profile::spc4;
    auto created = LogicalUnit::create(cfg);
    if (!created) die("create failed");
    auto lu = std::move(created).value();
    const NexusId ids[3] = {
        lu->attach({iscsi("iqn.2001-05.com.example:node-a", "23d000001"), 1}),
        lu->attach({sas(0x5000c50005b32001), 2}),
        lu->attach({iscsi("iqn.2001-05.com.example:node-a", "23d000002"), 2}),
    };
    const NexusId observer = lu->attach({sas(0x5000c500deadbeef), 1});
    // The observer's first command reports its power-on unit attention; take it now.
    check_answer(lu->execute(observer, wire::test_unit_ready_cdb().bytes(), {}));

    size_t off = 0;
    int commands = 0;
    while (off + 2 <= size && commands < 256) {
        const uint8_t sel = data[off];
        if (sel == 0xff) {
            lu->lose_persistent_reservations();
            ++off;
            continue;
        }
        const NexusId who = ids[(sel & 3) == 3 ? 0 : (sel & 3)];
        const size_t cdb_len = std::min<size_t>(data[off + 1] % 17, size - off - 2);
        off += 2;
        ByteView cdb(data + off, cdb_len);
        off += cdb_len;
        size_t data_len = 0;
        if (off + 2 <= size) {
            data_len =
                std::min<size_t>(((size_t{data[off]} << 8) | data[off + 1]) % 1024, size - off - 2);
            off += 2;
        }
        ByteView out(data + off, data_len);
        off += data_len;
        check_answer(lu->execute(who, cdb, out));
        check_state(*lu, observer);
        ++commands;
    }
    return 0;
}
