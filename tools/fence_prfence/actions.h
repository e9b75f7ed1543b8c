// SPDX-License-Identifier: MIT
// fence_prfence's actions, with the fence-agent API's exit codes: 0 success (status: the key is
// registered), 1 failure, 2 status only: the key is registered on no LU ("Status: OFF").
//
//   on        (unfencing; Pacemaker runs it on the node itself) our key: `key`, or fence_scsi's
//             formula over `nodename`. Writes it to the key file, then in one batch registers it
//             on every path of every LU and reserves (`type`, default WE-RO) each LU nobody holds.
//             Idempotent: Pacemaker re-runs it after every change of the device's parameters.
//   off       (fencing) the victim's key as for `on`; ours from the key file `on` wrote. After
//             `delay`, one batch registers our key on every path, preempts and aborts the
//             victim, and reserves each LU nobody holds; a second batch verifies (victim gone,
//             our key there, the LU reserved and not by the victim). Exit 1, naming every LU
//             that is not fenced on stderr, unless all are.
//   status    one READ KEYS batch: 0 "Status: ON" when the key is registered on at least one LU
//             (fence_scsi's rule), 2 "Status: OFF" when on none that answered, 1 when no LU
//             answered.
//   monitor   no I/O to any LU (it holds the device's only action slot while it runs): the LUs
//             resolve (direct) or prfenced answers and has the group.
//   metadata, manpage   the metadata XML; validate-all   the parameter checks, no I/O.
//
// Every action ends by `deadline` (from the agent's start) and says so when it did not finish:
// the fencer SIGKILLs an agent that outlives its own timeout, leaving nothing said.
#pragma once

#include <string>

#include "tools/fence_prfence/backend.h"
#include "tools/fence_prfence/params.h"

namespace prfence::agent {

struct Io {
    std::string out;  // for stdout: the action's output (the fencer records it)
    std::string err;  // for stderr: failures and warnings (the fencer logs them)
};

// Runs `a.action`. `started` is the agent's start, from which `deadline` counts; `backend` is
// where batches run (nullptr only for actions that need none: metadata, manpage, validate-all).
int run_action(const AgentArgs& a, Backend* backend, Clock::time_point started, Io& io);

// fence_prfence_check (a watchdog(8) test binary with fence_scsi_check's contract): `test` runs one
// READ KEYS batch over the LUs `on` registered on and exits 2, naming them, when our key is gone
// from any LU that answered; 0 otherwise, also when the key file is absent (a node never unfenced
// is not rebooted) or the batch cannot run at all (prfenced restarting is no reason to reboot).
// fence_scsi_check is content with one LU still holding the key; a partial fence is a fence too.
// `repair N` exits N: watchdog then reboots the node.
// Where `on` records the parameters naming its LUs (group=/socket= or devices=, initiator=), in the
// agent's stdin format, for fence_prfence_check: fence_prfence.args beside the key file
// (/var/run/fence_prfence.args for the default key file).
std::string args_file_path(const std::string& key_file);

int run_check(const std::vector<std::string>& argv, const AgentArgs& a, Backend* backend,
              Clock::time_point started, Io& io);

}  // namespace prfence::agent
