// SPDX-License-Identifier: MIT
// prsim's nexus registry without a socket: host numbering (automatic, configured, reserved numbers
// skipped), target ids and disk_base, initiator port identity (iSCSI names and ISIDs compared as
// SPC-4 compares them), the nexus limit, and the per-LU nexus ids.
#include <gtest/gtest.h>

#include "interposer/prsim/nexus_registry.h"
#include "interposer/prsim/trace.h"
#include "tests/support/lu_test_util.h"

namespace prfence::sim::test {
namespace {

const wire::TransportId kA = iscsi("iqn.2001-05.com.example:a", "23d000001");
const wire::TransportId kB = iscsi("iqn.2001-05.com.example:b", "1");
const wire::TransportId kS = sas(0x5000c50000000042);

ServerConfig farm(uint32_t luns = 4, uint16_t ports = 2) {
    ServerConfig cfg;
    cfg.luns = luns;
    cfg.target_ports = ports;
    return cfg;
}

NexusRec* add(NexusRegistry& r, const wire::TransportId& t, uint16_t port) {
    auto nx = r.find_or_add(t, port);
    EXPECT_TRUE(nx.ok()) << (nx ? "" : nx.error().msg);
    return nx ? *nx : nullptr;
}

TEST(NexusRegistry, HostsAreNumberedPerInitiatorInOrderOfFirstHello) {
    auto cfg = farm();
    cfg.first_host = 3;
    NexusRegistry r(cfg);
    NexusRec* a1 = add(r, kA, 1);
    NexusRec* b2 = add(r, kB, 2);
    NexusRec* a2 = add(r, kA, 2);
    NexusRec* s1 = add(r, kS, 1);
    EXPECT_EQ(a1->host, 3u);
    EXPECT_EQ(b2->host, 4u);
    EXPECT_EQ(a2->host, 3u);  // the same initiator port through another target port: same host
    EXPECT_EQ(s1->host, 5u);
    EXPECT_EQ(a1->index, 0u);
    EXPECT_EQ(b2->index, 1u);
    EXPECT_EQ(a2->index, 2u);
    EXPECT_EQ(s1->index, 3u);
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(&r.at(2), a2);
    EXPECT_EQ(r.all()[3].get(), s1);
}

TEST(NexusRegistry, TheSameNexusIsFoundAgain) {
    NexusRegistry r(farm());
    NexusRec* a = add(r, kA, 1);
    EXPECT_EQ(add(r, kA, 1), a);
    EXPECT_EQ(r.size(), 1u);
}

TEST(NexusRegistry, InitiatorsCompareAsSpc4InitiatorPorts) {
    NexusRegistry r(farm());
    NexusRec* a = add(r, kA, 1);
    // iSCSI names are case-insensitive; an ISID is compared in canonical form.
    EXPECT_EQ(add(r, iscsi("IQN.2001-05.COM.EXAMPLE:A", "00023D000001"), 1), a);
    EXPECT_EQ(r.size(), 1u);
    // Another ISID is another initiator port, with a host of its own.
    NexusRec* other = add(r, iscsi("iqn.2001-05.com.example:a", "23d000002"), 1);
    EXPECT_NE(other, a);
    EXPECT_NE(other->host, a->host);
}

TEST(NexusRegistry, ConfiguredHostsAreKeptAndSkippedByAutomaticNumbering) {
    auto cfg = farm();
    cfg.first_host = 0;
    cfg.hosts = {{kB, 1}, {kS, 7}};
    NexusRegistry r(cfg);
    EXPECT_EQ(add(r, kA, 1)->host, 0u);
    EXPECT_EQ(add(r, iscsi("iqn.x:c"), 1)->host, 2u);  // 1 is kB's
    EXPECT_EQ(add(r, kB, 2)->host, 1u);
    EXPECT_EQ(add(r, kS, 1)->host, 7u);
    EXPECT_EQ(add(r, iscsi("iqn.x:d"), 1)->host, 3u);
}

TEST(NexusRegistry, TargetIdsAndDiskBase) {
    // Default target ids: port - 1; 2 ports make an id span of 2, 4 LUs per (host, target).
    NexusRegistry r(farm(4, 2));
    NexusRec* a1 = add(r, kA, 1);
    NexusRec* a2 = add(r, kA, 2);
    NexusRec* b1 = add(r, kB, 1);
    EXPECT_EQ(a1->target_id, 0u);
    EXPECT_EQ(a2->target_id, 1u);
    EXPECT_EQ(a1->disk_base, 0u);  // (0 * 2 + 0) * 4
    EXPECT_EQ(a2->disk_base, 4u);  // (0 * 2 + 1) * 4
    EXPECT_EQ(b1->disk_base, 8u);  // (1 * 2 + 0) * 4
    EXPECT_EQ(sd_disk_name(b1->disk_base + 3), "sdl");

    // Configured target ids widen the span to the largest one plus one.
    auto cfg = farm(10, 2);
    cfg.port_ids = {{2, 5}};
    NexusRegistry q(cfg);
    NexusRec* c1 = add(q, kA, 1);
    NexusRec* c2 = add(q, kA, 2);
    NexusRec* d2 = add(q, kB, 2);
    EXPECT_EQ(c1->target_id, 0u);
    EXPECT_EQ(c2->target_id, 5u);
    EXPECT_EQ(c2->disk_base, 50u);        // (0 * 6 + 5) * 10
    EXPECT_EQ(d2->disk_base, 110u);       // (1 * 6 + 5) * 10
    EXPECT_EQ(c1->lu_nexus.size(), 10u);  // one slot per LU, none attached yet
    for (NexusId id : c1->lu_nexus) EXPECT_EQ(id, kNoNexus);
}

TEST(NexusRegistry, Label) {
    auto cfg = farm();
    cfg.first_host = 2;
    NexusRegistry r(cfg);
    EXPECT_EQ(add(r, kA, 2)->label, wire::format_transport_id(kA) + " via port 2 (host 2)");
}

TEST(NexusRegistry, TheLimitRefusesNewNexusesOnly) {
    auto cfg = farm();
    cfg.limits.max_nexuses = 2;
    NexusRegistry r(cfg);
    NexusRec* a = add(r, kA, 1);
    add(r, kA, 2);
    auto refused = r.find_or_add(kB, 1);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().msg, "the farm already has 2 I_T nexuses (the limit)");
    EXPECT_EQ(r.size(), 2u);
    EXPECT_EQ(add(r, kA, 1), a);  // known nexuses are still found
}

TEST(NexusRegistry, LuNexusIsAttachedAtFirstUseOnly) {
    NexusRegistry r(farm(2));
    auto lu = LogicalUnit::create(LuConfig{});
    ASSERT_TRUE(lu.ok());
    NexusRec* a = add(r, kA, 1);
    NexusRec* b = add(r, kB, 1);
    const NexusId ida = NexusRegistry::lu_nexus_for(*a, 0, **lu);
    const NexusId idb = NexusRegistry::lu_nexus_for(*b, 0, **lu);
    EXPECT_NE(ida, kNoNexus);
    EXPECT_NE(ida, idb);
    EXPECT_EQ(a->lu_nexus[0], ida);
    EXPECT_EQ(a->lu_nexus[1], kNoNexus);
    EXPECT_EQ(NexusRegistry::lu_nexus_for(*a, 0, **lu), ida);
    // The id is the LU's own for that identity.
    Host h(lu->get(), {kA, 1});
    EXPECT_EQ(h.id(), ida);
    EXPECT_EQ(h.drain_uas(), std::vector<std::string>{"29/00"});
    EXPECT_TRUE(h.drain_uas().empty());
}

}  // namespace
}  // namespace prfence::sim::test
