// SPDX-License-Identifier: MIT
// The nvme-cli backend's commands: the fence of one NVMe namespace as a shell loop over namespaces
// does it with nvme-cli (2.x spelling, `nvme resv-*`), one process per command, each command
// naming the namespace:
//   nvme resv-report DEV --namespace-id=NSID --eds --output-format=json
//   nvme resv-acquire DEV --namespace-id=NSID --crkey=KEY --prkey=VICTIM --rtype=T --racqa=2
//   nvme resv-report DEV --namespace-id=NSID --eds --output-format=json
// the same three steps as prfence's fence (read the registrants, preempt and abort the victim's
// registrations and reservation, read the reservation back). Keys are given in decimal, as
// nvme-cli prints them in JSON; T is the NVMe reservation type (1-6) of the SCSI type asked for.
// --eds: nvmet answers a Reservation Report only with the extended data structure (128-bit host
// identifiers), and nvme-cli before 2.13 does not ask for it by itself (without it the report
// fails with Host Identifier Inconsistent Format, 0x6018). nvme-cli exits 0 or 1, nothing else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/prbench/bench.h"
#include "tools/prbench/process_baseline.h"
#include "uring_engine/common/result.h"

namespace prfence::bench {

// The device nvme-cli is given for a namespace path: the block device (/dev/nvmeXnY, what an
// operator types), else the generic node (/dev/ngXnY); for prsim's namespace N the shim's
// /dev/prsim/nvme0nN (the command then runs with prsim-run's environment, ProcessBaseline::env).
std::string nvme_cli_device(const engine::PathSpec& p);

// nvme-cli's arguments (after the program) for the report and the preempt-and-abort.
std::vector<std::string> nvme_report_args(const std::string& dev, uint32_t nsid);
std::vector<std::string> nvme_preempt_abort_args(const std::string& dev, uint32_t nsid,
                                                 uint64_t key, uint64_t victim, uint8_t rtype);

// `nvme resv-report -o json` as nvme-cli 2.x prints it: gen, rtype, regctl and one object per
// registrant in "regctlext" (extended layout: hostid a 32-hex-digit string) or "regctls" (hostid
// a number). Keys are JSON numbers in decimal; a negative one (a build that prints them signed) is
// taken modulo 2^64, and a string of decimal digits is accepted too.
struct NvmeCliReport {
    struct Registrant {
        uint32_t cntlid = 0;
        uint32_t rcsts = 0;  // bit 0: this registrant holds the reservation
        uint64_t rkey = 0;
        std::string hostid;
    };
    uint32_t gen = 0;
    uint32_t rtype = 0;  // 0: no reservation
    std::vector<Registrant> regs;
};
// The JSON object in `text` (anything before its first '{' is ignored). An Error names what is
// missing or malformed.
Result<NvmeCliReport> parse_nvme_report(std::string_view text);

// The first report's check: `key` must be registered, or the preempt cannot succeed. "" when it is.
std::string nvme_check_before(const NvmeCliReport& r, uint64_t key);
// The last report's check: the registrant with `key` holds a reservation of type `rtype`, and
// `victim` is no longer registered. "" when so.
std::string nvme_check_after(const NvmeCliReport& r, uint64_t key, uint64_t victim, uint8_t rtype);

// One namespace's fence by node B as the loop runs it.
struct NvmeCliFence {
    bool ok = false;
    std::string error;  // the first failure: the command and its last line, or the check
    uint64_t ns = 0;    // the namespace's processes, fork to exit, summed
};
// Runs the three commands above with `bl` (Config::nvme, node B's wrapper words) on LU `l`'s node
// B path, stopping at the first that exits non-zero or fails its check; each process one sample
// in *clat.
NvmeCliFence nvme_cli_fence(ProcessBaseline& bl, const Config& cfg, const BenchLun& l,
                            uint8_t rtype, std::vector<uint64_t>* clat);

}  // namespace prfence::bench
