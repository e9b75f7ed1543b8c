// SPDX-License-Identifier: MIT
// SCSI commands on NVMe (PR IN/OUT, and probe's READ CAPACITY, READ, SYNCHRONIZE CACHE): any CDB
// and parameter list through translate(), and any completion (status word and data) through
// answer(). Input: byte 0 selects the PR IN service action for the answer half and a READ's buffer
// length, bytes 1-4 the status (little-endian, as a signed int: negative errno too), bytes 5-14 a
// 10-byte CDB, the rest the parameter list and, again, the controller's data.
// Properties: nothing crashes; an answer never exceeds the allocation length (a Read's, its
// buffer); GOOD only for status 0 and RESERVATION CONFLICT only for Reservation Conflict.
#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "uring_engine/wire/cdb.h"
#include "uring_engine/wire/nvme_status.h"
#include "uring_engine/wire/nvme_translate.h"
#include "uring_engine/wire/status.h"

using namespace prfence::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 15) return 0;
    prfence::ByteView in(data, size);
    const int res = static_cast<int>(nvme::get_le32(in, 1));
    Cdb cdb;
    cdb.len = 10;
    for (size_t i = 0; i < 10; ++i) cdb.b[i] = data[5 + i];
    const prfence::ByteView rest = in.subspan(15);

    // A READ's buffer: up to 127.5 KiB from byte 0, so the Read translation is reached too.
    if (auto t = nvme::translate(1, cdb, rest, uint32_t{data[0]} << 9); t.ok()) {
        auto a = nvme::answer(*t, res, rest);
        const size_t most = t->answer == nvme::Answer::data ? t->cmd.data_len : t->alloc_len;
        if (t->answer != nvme::Answer::none && a.data_in.size() > most) std::abort();
    }
    const auto sa = static_cast<PrInAction>(data[0] & 3);
    auto t = nvme::translate(1, prin_cdb(sa, static_cast<uint16_t>(data[0]) << 4), {});
    if (!t.ok()) std::abort();
    auto a = nvme::answer(*t, res, rest);
    if (a.data_in.size() > t->alloc_len) std::abort();
    if (res >= 0) {
        const uint16_t code = static_cast<uint16_t>(res) & nvme::kScSctMask;
        if ((a.status == sam::good && a.host == did::ok) != (code == 0) && a.sense.empty())
            std::abort();
        if ((a.status == sam::reservation_conflict) !=
            (code == nvme::status_word(nvme::sct::generic, nvme::sc::reservation_conflict)))
            std::abort();
    } else if (a.sys_errno != (res >= -4095 ? -res : EIO)) {
        std::abort();
    }
    return 0;
}
