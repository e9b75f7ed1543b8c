// SPDX-License-Identifier: MIT
// fence_prfence's parameters: the fence-agent API as Pacemaker's fencer and fence-agents'
// fencing.py speak it. One table names every parameter once; it drives the stdin parser, the
// command-line parser and the metadata XML, so the three cannot disagree.
//
// stdin (what the fencer sends; argv is then empty): one `name=value` line per parameter. Blank
// lines and lines starting with '#' are skipped, '-' and '_' are the same in names, surrounding
// double quotes are stripped, an unknown name is ignored with a warning (fencing.py does the same),
// booleans take 1/yes/on/true and 0/no/off/false. `action` is required on stdin: a caller whose
// input lost its action line must not get the default action. The fencer writes stdin into a
// non-blocking pipe and stops at about 64 KiB without telling the agent (Pacemaker 2.1.5,
// lib/services/services_linux.c), so input that does not end in a newline, or is longer than
// kMaxStdin, is refused as truncated.
//
// argv (people, pcs): the same parameters as long options (`--action=off`, `--action off`, and
// `-o off` where the table gives a short option), as fencing.py's getopt does.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/common/result.h"
#include "uring_engine/policy/cluster_key.h"
#include "uring_engine/wire/pr_types.h"

namespace prfence::agent {

enum class Action { on, off, status, monitor, metadata, manpage, validate_all };
// "on", "off", ..., "validate-all".
const char* action_name(Action a);

// Pacemaker's fencer stops at about 64 KiB; anything near it may already be cut.
inline constexpr size_t kMaxStdin = 60 * 1024;

struct AgentArgs {
    Action action = Action::off;  // argv default; stdin requires `action`
    // The node the action is for: `nodename` when given (it wins over plug/port, as in fence_scsi,
    // whose keys derive from it), else `plug`, else `port`. Empty when none was given.
    std::string target;
    // `key`: the target's reservation key (for `on` our own, for `off` the victim's). When absent
    // it is derived from `target` with `key_value` (cluster_key.h).
    std::optional<uint64_t> key;
    cluster::KeyMethod key_value = cluster::KeyMethod::id;
    // `devices`: comma- or whitespace-separated, as prfence takes them (sd, sg, by-id, mapper,
    // globs, @listfile, sim:SOCKET:RANGE). Exclusive with `group`.
    std::vector<std::string> devices;
    std::string group;   // a prfenced LUN group; the batch runs in prfenced
    std::string socket;  // prfenced's control socket (default /run/prfence/control.sock)
    wire::PrType type = wire::PrType::write_exclusive_registrants_only;  // fence_scsi's type 5
    bool aptpl = false;
    std::chrono::seconds delay{0};  // `delay`: wait before `off`, as fencing.py does
    // `deadline`: the whole action's deadline from the agent's start, kept below the fencer's
    // timeout (pcmk_off_timeout, default 60 s) so that the agent reports before it is SIGKILLed.
    std::chrono::milliseconds deadline{50000};
    std::string key_file;  // empty: cluster::kKeyFile, falling back to the pre-4.11 location
    std::string cmap_path = "/usr/sbin/corosync-cmapctl";
    std::string initiator;  // sim LUs in direct mode: the TransportID to speak as
    // Hidden parameters (in neither the metadata nor --help), for tests of the direct back end:
    // `sys` and `dev`, a fake sysfs and /dev tree to resolve devices in (as prfence's --sys and
    // --dev); `transport`, how sg paths are driven ("uring", the default, or "sgio");
    // `multipathd_socket`, where multipathd is told our key ("" for multipathd's own socket).
    std::string sysfs_root = "/sys";
    std::string dev_root = "/dev";
    std::string transport = "uring";
    std::string multipathd_socket;
    bool verbose = false;
    bool help = false, version = false;  // argv only
    std::vector<std::string> warnings;   // ignored unknown stdin names and the like, for stderr
};

// Errors are Errc::invalid_argument with a message naming the parameter ("delay: not a number of
// seconds: x") or the stdin line ("stdin line 3: ... is not name=value"); Errc::truncated,
// "input truncated: N bytes arrived ...", for stdin that lost its end; Errc::unsupported for an
// action this agent does not have ("unsupported action 'reboot'", "unrecognised action 'x'":
// Pacemaker's fencer reads those words as EOPNOTSUPP). When a parameter is given twice the last
// value wins (fencing.py's rule). On stdin `nodeid` is accepted and ignored without a warning, and
// `help`/`version` are ignored with one. Keys must be non-zero: key 0 in a PERSISTENT RESERVE OUT
// unregisters.
Result<AgentArgs> parse_stdin(std::string_view input);
// Long options are the parameter names with '_' or '-' (`--key_value`, `--key-value`); booleans
// take no value or `=VALUE`; short options are fencing.py's: -o action, -n plug, -d devices,
// -k key, -a aptpl, -v verbose, -h help, -V version. Unknown options and stray arguments are
// errors.
Result<AgentArgs> parse_argv(int argc, char** argv);

// The checks every action needs before touching a device (validate-all reports exactly these):
// exactly one of devices and group, socket only with group, a key or a target to derive it from
// for on, off and status, delay below deadline. No device I/O, no daemon, no corosync. metadata
// and manpage need nothing and always pass.
Result<void> validate(const AgentArgs& a);

// The metadata XML (valid against fence-agents' metadata.rng: resource-agent, longdesc,
// vendor-url, parameters, actions), for `metadata`. `manpage` prints the same document.
std::string metadata_xml();
// --help text from the same table.
std::string usage_text();

}  // namespace prfence::agent
