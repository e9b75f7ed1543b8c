// SPDX-License-Identifier: MIT
// prsim frames come from any local process: the incremental decoder, every payload decoder and what
// the server derives from a request (the initiator TransportID of a HELLO, a fault spec in a
// CONTROL message) must survive any bytes, fed in any chunking. Whatever decodes must re-encode to
// the same frame.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "interposer/prsim/faults.h"
#include "uring_engine/simproto/protocol.h"

using namespace prfence;
using namespace prfence::sim;

namespace {

void check_roundtrip(const proto::Frame& f, const proto::ClientMessage& m) {
    Bytes again;
    if (const auto* c = std::get_if<proto::CommandView>(&m)) {
        if (c->cdb_len == 0 || c->cdb_len > proto::kMaxCdbLen || c->alloc_len > proto::kMaxDataLen)
            return;
        if (!proto::append_command(again, c->tag, c->lun, c->cdb_bytes(), c->data_out, c->alloc_len,
                                   f.header.version))
            std::abort();
        auto back = proto::decode_command(c->tag, ByteView(again).subspan(proto::kHeaderSize));
        if (!back || back->lun != c->lun || back->alloc_len != c->alloc_len ||
            back->cdb_len != c->cdb_len || back->data_out.size() != c->data_out.size())
            std::abort();
    } else if (const auto* h = std::get_if<proto::Hello>(&m)) {
        if (!proto::append_hello(again, *h)) std::abort();  // anything decode_hello accepts encodes
        auto back = proto::decode_hello(ByteView(again).subspan(proto::kHeaderSize));
        if (!back || back->initiator != h->initiator || back->client_name != h->client_name ||
            back->target_port != h->target_port || back->nvme_host != h->nvme_host)
            std::abort();
        (void)proto::hello_initiator(*h);
    } else if (const auto* n = std::get_if<proto::NvmeCommandView>(&m)) {
        if (n->queue > 1 || n->data_in_len > proto::kMaxDataLen) return;
        proto::NvmeCommand c;
        c.queue = static_cast<proto::NvmeQueue>(n->queue);
        c.opcode = n->opcode;
        c.nsid = n->nsid;
        c.cdw = n->cdw;
        c.data_out.assign(n->data_out.begin(), n->data_out.end());
        c.data_in_len = n->data_in_len;
        if (!proto::append_nvme_command(again, n->tag, c, f.header.version)) std::abort();
        auto back = proto::decode_nvme_command(n->tag, ByteView(again).subspan(proto::kHeaderSize));
        if (!back || back->nsid != n->nsid || back->cdw != n->cdw || back->opcode != n->opcode ||
            back->data_out.size() != n->data_out.size())
            std::abort();
    } else if (const auto* ctl = std::get_if<proto::Control>(&m)) {
        (void)parse_fault(ctl->json);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // The first byte picks the chunk size the stream arrives in (1-64 bytes, or everything at
    // once).
    const size_t chunk = data[0] == 0 ? size : data[0] % 64 + 1;
    ByteView in(data + 1, size - 1);
    proto::FrameDecoder dec(4096 + proto::kCommandFixedSize);
    for (size_t off = 0; off < in.size(); off += chunk) {
        dec.feed(in.subspan(off, std::min(chunk, in.size() - off)));
        for (;;) {
            auto f = dec.next();
            if (!f) {
                if (!dec.failed()) std::abort();  // errors are sticky
                return 0;
            }
            if (!*f) break;
            if ((*f)->payload.size() != (*f)->header.length) std::abort();
            if (auto m = proto::decode_client_frame(**f); m.ok()) {
                check_roundtrip(**f, *m);
            } else {
                (void)proto::payload_error_code(m.error());
            }
            if (auto s = proto::decode_server_frame(**f); s.ok()) {
                if (auto* r = std::get_if<proto::ResponseView>(&*s))
                    (void)proto::Response::from(*r);
                else if (auto* n = std::get_if<proto::NvmeResponseView>(&*s))
                    (void)proto::NvmeResponse::from(*n);
            }
        }
    }
    return 0;
}
