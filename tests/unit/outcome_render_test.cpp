// SPDX-License-Identifier: MIT
// prfence's rendering of paths: a degraded LU's JSON (paths with their states and reasons,
// degraded, the summary's count) and text (DEGRADED row, the count on the summary line), no path
// list for a one-path LU that worked, and what multipathd was told; a namespace's registrants in
// status text, and which state each part of a fence's row shows.
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

wire::nvme::ReservationStatus nvme_report() {
    wire::nvme::ReservationStatus r;
    r.generation = 7;
    r.rtype = 3;  // Write Exclusive - Registrants Only
    r.regctl = 3;
    wire::nvme::Registrant a;
    a.key = 0xa;
    a.holds = true;
    a.hostid[0] = 0xab;
    a.hostid[15] = 0x01;
    wire::nvme::Registrant b;
    b.key = 0xb;
    r.registrants = {a, b};
    return r;
}

TEST(OutcomeRender, NvmeStatusText) {
    // READ FULL STATUS on a namespace: the translated full status has no entries; the
    // registrants are the Report's, by host identifier.
    engine::LunOutcome o;
    o.device = "sim:/s:ns1";
    o.ok = true;
    o.full_status.emplace();
    o.full_status->generation = 7;
    o.nvme_report = nvme_report();
    engine::BatchSummary s;
    s.luns = s.ok = 1;
    const std::string t = batch_text("status", {o}, s, false);
    EXPECT_NE(t.find("3 registrant(s), generation 7; 0xa holder WE-RO hostid "
                     "ab000000000000000000000000000001; 0xb hostid "
                     "00000000000000000000000000000000; 1 more not reported"),
              std::string::npos)
        << t;
    o.nvme_report->rtype = 9;  // outside the six types: shown raw
    o.nvme_report->regctl = 2;
    const std::string u = batch_text("status", {o}, s, false);
    EXPECT_NE(u.find("2 registrant(s), generation 7; 0xa holder RTYPE 9 hostid ab"),
              std::string::npos)
        << u;
    EXPECT_EQ(u.find("more not reported"), std::string::npos) << u;
    // A SCSI LU keeps its TransportIDs.
    o.nvme_report.reset();
    EXPECT_NE(batch_text("status", {o}, s, false).find("0 registrant(s), generation 7"),
              std::string::npos);
}

TEST(OutcomeRender, FenceStates) {
    engine::LunOutcome o;
    o.device = "sim:/s:ns1";
    o.ok = true;
    o.keys.emplace();
    o.keys->generation = 2;
    o.keys->keys = {0xa, 0xb};
    o.reservation.emplace();
    o.nvme_report = nvme_report();
    engine::BatchSummary s;
    Json j = batch_json("fence", {o}, s);
    EXPECT_EQ(j["luns"][0]["states"], (Json{{"generation", "before"},
                                            {"keys", "before"},
                                            {"reservation", "after"},
                                            {"nvme", "after"}}));
    // Failed before the verification: the Report kept is the one READ KEYS read.
    o.ok = false;
    o.reservation.reset();
    j = batch_json("fence", {o}, s);
    EXPECT_EQ(j["luns"][0]["states"]["nvme"], "before");
    EXPECT_FALSE(j["luns"][0]["states"].contains("reservation"));
    // Other operations read once: no states.
    EXPECT_FALSE(batch_json("keys", {o}, s)["luns"][0].contains("states"));
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
