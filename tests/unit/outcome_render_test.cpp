// SPDX-License-Identifier: MIT
// prfence's rendering of paths: a degraded LU's JSON (paths with their states and reasons,
// degraded, the summary's count) and text (DEGRADED row, the count on the summary line), no path
// list for a one-path LU that worked, and what multipathd was told.
#include "tools/prfence/outcome_render.h"

#include <gtest/gtest.h>

namespace prfence::cli {
namespace {

using engine::PathOutcome;
using State = PathOutcome::State;

engine::LunOutcome degraded_lu() {
    engine::LunOutcome o;
    o.device = "mpatha";
    o.ok = true;
    o.degraded = true;
    o.error =
        "registered on 1 of 2 paths; dead: /dev/sg3 (host byte DID_NO_CONNECT (no connection))";
    o.paths = {{"/dev/sg2", State::registered, ""},
               {"/dev/sg3", State::dead, "host byte DID_NO_CONNECT (no connection)"}};
    return o;
}

TEST(OutcomeRender, DegradedLuInJson) {
    engine::LunOutcome one;
    one.device = "/dev/sg9";
    one.ok = true;
    one.paths = {{"/dev/sg9", State::answered, ""}};
    engine::BatchSummary s;
    s.luns = 2;
    s.ok = 2;
    s.degraded = 1;
    Json j = batch_json("register", {degraded_lu(), one}, s);
    const Json& a = j["luns"][0];
    EXPECT_EQ(a["ok"], true);
    EXPECT_EQ(a["category"], "ok");
    EXPECT_EQ(a["degraded"], true);
    ASSERT_EQ(a["paths"].size(), 2u);
    EXPECT_EQ(a["paths"][0]["path"], "/dev/sg2");
    EXPECT_EQ(a["paths"][0]["state"], "registered");
    EXPECT_FALSE(a["paths"][0].contains("error"));
    EXPECT_EQ(a["paths"][1]["state"], "dead");
    EXPECT_EQ(a["paths"][1]["error"], "host byte DID_NO_CONNECT (no connection)");
    EXPECT_EQ(a["note"], degraded_lu().error);
    const Json& b = j["luns"][1];
    EXPECT_FALSE(b.contains("paths"));
    EXPECT_FALSE(b.contains("degraded"));
    EXPECT_EQ(j["summary"]["degraded"], 1);
    EXPECT_EQ(j["summary"]["exit_code"], 0);
    // A one-path LU whose path died keeps its path list.
    engine::LunOutcome dead;
    dead.device = "/dev/sg4";
    dead.category = wire::Category::transport_error;
    dead.error = "device state offline";
    dead.paths = {{"/dev/sg4", State::dead, "device state offline"}};
    Json d = outcome_json(dead);
    ASSERT_EQ(d["paths"].size(), 1u);
    EXPECT_EQ(d["paths"][0]["state"], "dead");
}

TEST(OutcomeRender, DegradedLuInText) {
    engine::BatchSummary s;
    s.luns = 1;
    s.ok = 1;
    s.degraded = 1;
    const std::string t = batch_text("register", {degraded_lu()}, s, false);
    EXPECT_NE(t.find("mpatha  ok"), std::string::npos) << t;
    EXPECT_NE(t.find("DEGRADED: registered on 1 of 2 paths; dead: /dev/sg3"), std::string::npos)
        << t;
    EXPECT_NE(t.find("1 LUN, 1 ok (1 degraded: a path is dead), 0 failed"), std::string::npos) << t;
    s.degraded = 0;
    engine::LunOutcome fine = degraded_lu();
    fine.degraded = false;
    EXPECT_EQ(batch_text("register", {fine}, s, false).find("degraded"), std::string::npos);
}

TEST(OutcomeRender, Multipathd) {
    EXPECT_EQ(multipathd_text({}), "");
    std::vector<engine::MapKeyReport> told = {
        {0, "mpatha", true, "0xa1", ""},
        {2, "mpathc", false, "none", "multipathd is not running (x)"}};
    EXPECT_EQ(multipathd_text(told),
              "multipathd: 1 of 2 multipath maps told\n"
              "multipathd: mpathc: multipathd is not running (x)\n");
    engine::BatchSummary s;
    Json j = batch_json("register",
                        {engine::LunOutcome{}, engine::LunOutcome{}, engine::LunOutcome{}}, s);
    add_multipathd_json(j, told);
    EXPECT_EQ(j["luns"][0]["multipathd"]["map"], "mpatha");
    EXPECT_EQ(j["luns"][0]["multipathd"]["told"], true);
    EXPECT_EQ(j["luns"][0]["multipathd"]["key"], "0xa1");
    EXPECT_FALSE(j["luns"][1].contains("multipathd"));
    EXPECT_EQ(j["luns"][2]["multipathd"]["told"], false);
    EXPECT_EQ(j["luns"][2]["multipathd"]["error"], "multipathd is not running (x)");
    EXPECT_EQ(j["summary"]["multipathd_told"], 1);
    EXPECT_EQ(j["summary"]["multipathd_not_told"], 1);
    Json none = batch_json("register", {engine::LunOutcome{}}, s);
    add_multipathd_json(none, {});
    EXPECT_FALSE(none["summary"].contains("multipathd_told"));
}

}  // namespace
}  // namespace prfence::cli
