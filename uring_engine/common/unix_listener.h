// SPDX-License-Identifier: MIT
// UnixListener: a daemon's listening Unix socket at a path, taken over safely from a daemon that
// died.
//
// bind() creates a non-blocking, close-on-exec socket of the given type, binds it under a fresh
// name next to the path, applies the mode and group, listens, and only then links it to the path.
// The path therefore never names a socket that is not yet listening, so a socket file nobody
// answers on is always a dead daemon's. Such a file is replaced; a socket somebody accepts on, or a
// file that is not a socket (a symlink included), is left alone and refused. The listener owns the
// socket file from then on: close() and the destructor remove it. (When the staging name would not
// fit in sun_path, the path is bound directly and listens a moment after it appears.)
//
// Errors (Error::msg names the path):
//   invalid_argument   the path does not fit in sockaddr_un
//   system/EADDRINUSE  "PATH: another WHO is listening there",
//                      "PATH: exists and is not a socket; not replacing it"
//   system/errno       mkdir of the parent, socket, bind (or link), chmod, chown or listen failed
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "uring_engine/common/result.h"
#include "uring_engine/common/unique_fd.h"

namespace prfence {

struct UnixListenerOptions {
    std::string path;
    int type = SOCK_STREAM;  // or SOCK_SEQPACKET; SOCK_NONBLOCK and SOCK_CLOEXEC are added
    int backlog = SOMAXCONN;
    std::string who = "daemon";         // the live listener, in "another WHO is listening there"
    std::optional<mode_t> parent_mode;  // create the parent directory (one level) with this mode
    std::optional<mode_t> mode;         // chmod the socket file; otherwise the umask decides
    std::optional<gid_t> gid;           // chown the socket file to this group
    std::string group_name;             // the group's name, for the chown error
};

class UnixListener {
  public:
    static Result<UnixListener> bind(const UnixListenerOptions& opt);

    UnixListener() = default;  // listens nowhere
    UnixListener(UnixListener&& o) noexcept;
    UnixListener& operator=(UnixListener&& o) noexcept;
    UnixListener(const UnixListener&) = delete;
    UnixListener& operator=(const UnixListener&) = delete;
    ~UnixListener() { close(); }

    // The listening descriptor (-1 when closed), still owned by the listener.
    int fd() const noexcept { return fd_.get(); }
    // The socket file this listener bound and will remove; "" when closed.
    const std::string& path() const noexcept { return path_; }
    explicit operator bool() const noexcept { return static_cast<bool>(fd_); }

    // Stops listening: closes the descriptor and removes the socket file. Idempotent.
    void close() noexcept;

  private:
    UniqueFd fd_;
    std::string path_;
};

}  // namespace prfence
