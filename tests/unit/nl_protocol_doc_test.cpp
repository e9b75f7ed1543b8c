// SPDX-License-Identifier: MIT
// nl_control/PROTOCOL.md's attribute tables against the schema (nl_control/protocol/schema.cpp):
// every attribute of every set has exactly one row whose number, name, type and limits are what the
// rule table says, and no row names an attribute the schema does not have. The "meaning" column is
// free text. Run with PRFENCE_PRINT_DOC_ROWS=1 to print the rows the schema expects (to paste after
// a change).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "nl_control/protocol/schema.h"

namespace prfence::nl {
namespace {

using namespace schema;

const char* set_short_name(AttrSetId s) {
    switch (s) {
        case kSetTop:
            return "ATTR";
        case kSetLun:
            return "LUN";
        case kSetSummary:
            return "SUM";
        case kSetGroup:
            return "GRP";
        case kSetHealth:
            return "H";
        case kSetStats:
            return "ST";
        case kSetEvent:
            return "EV";
        case kSetConflict:
            return "CF";
        case kSetLunPaths:
            return "LP";
        case kSetPath:
            return "PATH";
        case kSetNvme:
            return "NVME";
        case kSetNvmeReg:
            return "NR";
        default:
            return "?";
    }
}

std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

std::string type_text(const Rule& r) {
    std::string t;
    switch (r.kind) {
        case AttrKind::u8:
            t = "u8";
            break;
        case AttrKind::u16:
            t = "u16";
            break;
        case AttrKind::u32:
            t = "u32";
            break;
        case AttrKind::u64:
            t = "u64";
            break;
        case AttrKind::str:
            t = "string";
            break;
        case AttrKind::bin:
            t = "binary";
            break;
        case AttrKind::nest:
            t = std::string("nested ") + set_short_name(r.nest);
            break;
        case AttrKind::none:
            t = "none";
            break;
    }
    if (r.max_count > 1) t += ", repeated ≤ " + std::to_string(r.max_count);
    return t;
}

std::string range_text(uint64_t lo, uint64_t hi) {
    return std::to_string(lo) + "-" + std::to_string(hi);
}

std::string limits_text(const Rule& r) {
    switch (r.kind) {
        case AttrKind::u8:
        case AttrKind::u16:
        case AttrKind::u32:
        case AttrKind::u64:
            switch (r.check) {
                case ValueCheck::range:
                    return range_text(r.lo, r.hi);
                case ValueCheck::boolean:
                    return "0/1";
                case ValueCheck::pr_type:
                    return "1, 3, 5, 6, 7, 8";
                case ValueCheck::flags:
                    return "`CMD_RUN`: within " + hex(kOpFlagsAll) + "; `CMD_STATS`: within " +
                           hex(kStatsFlagsAll);
                case ValueCheck::mask:
                    return "within " + hex(r.hi);
                default:
                    return "";
            }
        case AttrKind::str: {
            std::string t = r.lo == 0 ? "≤ " + std::to_string(r.hi) : range_text(r.lo, r.hi);
            if (r.check == ValueCheck::group) t = "group charset, " + t;
            if (r.check == ValueCheck::tid) t += ", a TransportID";
            if (r.check == ValueCheck::printable) t += ", printable ASCII";
            return t;
        }
        case AttrKind::bin:
            return r.lo == r.hi ? "exactly " + std::to_string(r.lo) : range_text(r.lo, r.hi);
        default:
            return "";
    }
}

struct Row {
    int line = 0;
    std::string number, name, type, limits;
};

std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t");
    if (a == std::string::npos) return {};
    size_t b = s.find_last_not_of(" \t");
    return s.substr(a, b - a + 1);
}

// The attribute rows of the "## Attributes" section: table rows whose first cell is a number and
// whose second is a `NAME`.
std::vector<Row> doc_rows(const std::string& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << path;
    std::vector<Row> rows;
    std::string line;
    bool inside = false;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (line.rfind("## ", 0) == 0) inside = line == "## Attributes";
        if (!inside || line.empty() || line[0] != '|') continue;
        std::vector<std::string> cells;
        std::stringstream ss(line.substr(1));
        std::string cell;
        while (std::getline(ss, cell, '|')) cells.push_back(trim(cell));
        if (cells.size() < 4 || cells[0].empty() ||
            cells[0].find_first_not_of("0123456789") != std::string::npos)
            continue;
        const std::string& name = cells[1];
        if (name.size() < 3 || name.front() != '`' || name.back() != '`') continue;
        rows.push_back(Row{n, cells[0], name.substr(1, name.size() - 2), cells[2], cells[3]});
    }
    return rows;
}

std::string expected_row(const Rule& r) {
    return "| " + std::to_string(r.id) + " | `" + r.name + "` | " + type_text(r) + " | " +
           limits_text(r) + " |";
}

TEST(NlProtocolDoc, AttributeTablesMatchTheSchema) {
    const std::vector<Row> rows = doc_rows(PROTOCOL_MD);
    std::map<std::string, std::vector<const Row*>> by_name;
    for (const auto& r : rows) by_name[r.name].push_back(&r);
    const bool print = std::getenv("PRFENCE_PRINT_DOC_ROWS") != nullptr;

    std::map<std::string, bool> known;
    for (int s = kSetTop; s < kSetExtAck; ++s) {
        const AttrSet& set = attr_set(static_cast<AttrSetId>(s));
        if (print) std::printf("\n%s\n", set.name);
        for (unsigned t = 1; t <= set.max; ++t) {
            const Rule& rule = set.rules[t];
            known[rule.name] = true;
            if (print) std::printf("%s\n", expected_row(rule).c_str());
            auto it = by_name.find(rule.name);
            if (it == by_name.end()) {
                ADD_FAILURE() << "PROTOCOL.md has no row for " << rule.name << "; expected\n"
                              << expected_row(rule);
                continue;
            }
            EXPECT_EQ(it->second.size(), 1u)
                << rule.name << " has " << it->second.size() << " rows";
            const Row& row = *it->second.front();
            EXPECT_EQ(row.number, std::to_string(rule.id))
                << "PROTOCOL.md:" << row.line << " " << rule.name;
            EXPECT_EQ(row.type, type_text(rule)) << "PROTOCOL.md:" << row.line << " " << rule.name;
            EXPECT_EQ(row.limits, limits_text(rule))
                << "PROTOCOL.md:" << row.line << " " << rule.name;
        }
    }
    for (const auto& r : rows)
        EXPECT_TRUE(known.count(r.name)) << "PROTOCOL.md:" << r.line << " documents " << r.name
                                         << ", which the schema does not have";
}

// The renderer itself, on rules of each kind: the comparison above is only as good as these texts.
TEST(NlProtocolDoc, RowsAreRenderedFromTheRules) {
    EXPECT_EQ(expected_row(rule_of(kSetTop, ATTR_GROUP)),
              "| 6 | `ATTR_GROUP` | string | group charset, 1-64 |");
    EXPECT_EQ(expected_row(rule_of(kSetTop, ATTR_DEVICE)),
              "| 7 | `ATTR_DEVICE` | string, repeated ≤ 4096 | 1-4096 |");
    EXPECT_EQ(expected_row(rule_of(kSetTop, ATTR_LUN)),
              "| 21 | `ATTR_LUN` | nested LUN, repeated ≤ 1048576 |  |");
    EXPECT_EQ(limits_text(rule_of(kSetTop, ATTR_TYPE)), "1, 3, 5, 6, 7, 8");
    EXPECT_EQ(limits_text(rule_of(kSetTop, ATTR_EVENT_MASK)), "within 0x1e");
    EXPECT_EQ(limits_text(rule_of(kSetLun, LUN_OK)), "0/1");
    EXPECT_EQ(limits_text(rule_of(kSetLun, LUN_ERROR)), "≤ 1024");
    EXPECT_EQ(limits_text(rule_of(kSetStats, ST_BUCKETS)), "exactly 256");
    EXPECT_EQ(limits_text(rule_of(kSetTop, ATTR_INITIATOR)), "1-1024, a TransportID");
    EXPECT_EQ(expected_row(rule_of(kSetLunPaths, LP_PATH)),
              "| 1 | `LP_PATH` | nested PATH, repeated ≤ 32 |  |");
    EXPECT_EQ(expected_row(rule_of(kSetNvme, NVME_REGISTRANT)),
              "| 5 | `NVME_REGISTRANT` | nested NR, repeated ≤ 255 |  |");
    EXPECT_EQ(expected_row(rule_of(kSetNvmeReg, NR_HOSTID)),
              "| 2 | `NR_HOSTID` | binary | exactly 16 |");
}

}  // namespace
}  // namespace prfence::nl
