// SPDX-License-Identifier: MIT
// prsim's control operations without a socket: every op and every refusal, byte for byte where the
// reply is fixed.
#include <gtest/gtest.h>

#include "interposer/prsim/control.h"
#include "tests/support/lu_test_util.h"

namespace prfence::sim::test {
namespace {

using json = nlohmann::json;

class ControlTest : public ::testing::Test {
  protected:
    void SetUp() override {
        cfg.luns = 3;
        for (uint32_t l = 0; l < cfg.luns; ++l) {
            LuConfig lc;
            lc.lun = l;
            lus.push_back(std::move(LogicalUnit::create(lc)).value());
        }
        registry = std::make_unique<NexusRegistry>(cfg);
        control = std::make_unique<Control>(faults, lus, *registry, [] {
            return json{{"commands", 7}};
        });
    }
    std::string ask(const std::string& body) { return control->reply(body, 0); }

    ServerConfig cfg;
    std::vector<std::unique_ptr<LogicalUnit>> lus;
    FaultTable faults{1};
    std::unique_ptr<NexusRegistry> registry;
    std::unique_ptr<Control> control;
};

TEST_F(ControlTest, Refusals) {
    EXPECT_EQ(ask("{"), R"({"error":"control message is not valid JSON","ok":false})");
    EXPECT_EQ(ask("[]"), R"({"error":"expected {\"op\": ...}","ok":false})");
    EXPECT_EQ(ask(R"({"op":1})"), R"({"error":"expected {\"op\": ...}","ok":false})");
    EXPECT_EQ(
        ask(R"({"op":"fly"})"),
        R"j({"error":"unknown op \"fly\" (ping, arm, disarm, list, stats, nexuses, lose_pr)","ok":false})j");
    EXPECT_EQ(ask(R"({"op":"arm"})"), R"({"error":"arm needs \"fault\"","ok":false})");
    EXPECT_EQ(ask(R"({"op":"disarm"})"),
              R"({"error":"disarm needs \"id\" or \"all\": true","ok":false})");
    EXPECT_EQ(ask(R"({"op":"disarm","id":9})"),
              R"({"error":"no armed fault with id 9","ok":false})");
    EXPECT_EQ(ask(R"({"op":"lose_pr","luns":3})"),
              R"({"error":"\"luns\" must be a string like \"0-9\"","ok":false})");
    EXPECT_FALSE(json::parse(ask(R"({"op":"arm","fault":"explode"})"))["ok"].get<bool>());
}

TEST_F(ControlTest, Ping) {
    EXPECT_EQ(json::parse(ask(R"({"op":"ping"})")),
              (json{{"ok", true}, {"version", proto::kMaxVersion}, {"luns", 3}}));
}

TEST_F(ControlTest, ArmListDisarm) {
    EXPECT_EQ(ask(R"({"op":"arm","fault":"busy,luns=1"})"), R"({"id":1,"ok":true})");
    EXPECT_EQ(ask(R"({"op":"arm","fault":{"kind":"timeout"}})"), R"({"id":2,"ok":true})");
    EXPECT_EQ(faults.size(), 2u);
    auto list = json::parse(ask(R"({"op":"list"})"));
    ASSERT_EQ(list["faults"].size(), 2u);
    EXPECT_EQ(list["faults"][0]["id"], 1);
    EXPECT_EQ(ask(R"({"op":"disarm","id":1})"), R"({"disarmed":1,"ok":true})");
    EXPECT_EQ(ask(R"({"op":"disarm","all":true})"), R"({"disarmed":1,"ok":true})");
    EXPECT_TRUE(faults.empty());
}

TEST_F(ControlTest, StatsAddTheFarmToTheServersCounters) {
    (void)registry->find_or_add(iscsi("iqn.x:a"), 1);
    faults.arm(*parse_fault("busy"), 0);
    EXPECT_EQ(ask(R"({"op":"stats"})"),
              R"({"ok":true,"stats":{"commands":7,"faults_armed":1,"luns":3,"nexuses":1}})");
}

TEST_F(ControlTest, Nexuses) {
    (void)registry->find_or_add(iscsi("iqn.x:a"), 2);
    auto r = json::parse(ask(R"({"op":"nexuses"})"));
    ASSERT_EQ(r["nexuses"].size(), 1u);
    EXPECT_EQ(r["nexuses"][0], (json{{"initiator", wire::format_transport_id(iscsi("iqn.x:a"))},
                                     {"target_port", 2},
                                     {"host", 0},
                                     {"channel", 0},
                                     {"id", 1},
                                     {"first_disk", "sdd"}}));
}

TEST_F(ControlTest, LosePr) {
    Host h(lus[1].get(), {iscsi("iqn.x:a"), 1});
    h.drain_uas();
    ASSERT_EQ(h.reg(0, 0x1).status, wire::sam::good);
    EXPECT_EQ(ask(R"({"op":"lose_pr","luns":"1-2"})"), R"({"luns_affected":2,"ok":true})");
    EXPECT_EQ(h.tur().status, wire::sam::check_condition);  // PR information lost (44h/01h)
    EXPECT_EQ(ask(R"({"op":"lose_pr"})"), R"({"luns_affected":3,"ok":true})");
}

}  // namespace
}  // namespace prfence::sim::test
