// SPDX-License-Identifier: MIT
// libprinterpose: the state one process keeps, whatever node it has open: the configuration
// (PRSIM_*), which process owns the state, the one connection to prsim, the one-time warnings, and
// the fork handlers that keep all of it consistent across fork().
//
// Every entry point checks owner_process() before it changes anything: a vfork child shares its
// parent's memory and must not change it.
#pragma once

#include <string>

#include "interposer/shim/conn.h"
#include "uring_engine/simproto/names.h"

namespace prfence::shim {

// The configuration, read from the environment at first use and never changed.
const Config& config();
// Whether this process owns the state (the first process that asked, or a fork child after
// atfork_child).
bool owner_process();
// This process's connection, (re)connecting when there is none or it died; nullptr when prsim is
// unreachable (the one stderr message is printed then).
Conn* connection();
// Prints "prsim-shim: WHAT; prsim devices now fail like dead devices (...)" on stderr, once per
// process (a fork child may print it again).
void warn_once(const std::string& what);

// A command's timeout as sent: the caller's (60 s when it gave none), capped by PRSIM_TIMEOUT_MS.
int clamp_timeout(int ms);
// How a command ends without a connection: host byte DID_NO_CONNECT, as for a device that is gone.
Outcome no_connection();
// Runs one command on this process's connection and waits for it; no_connection() when prsim is
// unreachable.
Outcome run_command(const Command& c, UaPolicy p);

// pthread_atfork handlers. The forking thread takes every lock of the shim (connection, capacity
// cache, descriptor table, each handle) so that the child's copy is consistent; the child starts
// without a connection (it makes its own at first use), keeps the descriptor table (descriptors
// are inherited) and forgets the parent's commands in flight.
void atfork_prepare();
void atfork_parent();
void atfork_child();

}  // namespace prfence::shim
