// SPDX-License-Identifier: MIT
// libprinterpose: the descriptor table.
#undef _FORTIFY_SOURCE
#include "interposer/shim/fdtable.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>

namespace prfence::shim {
namespace {

// A lock-free "may be virtual" flag per small descriptor number, the map under a mutex.
// Descriptors above the flag array are rare; a count tells whether any exist.
constexpr int kFlagFds = 65536;
std::atomic<uint8_t> g_flags[kFlagFds];
std::atomic<int> g_high_fds{0};
std::mutex g_table_mu;
// Never destroyed: a static destructor would run while other threads (or atexit handlers) may
// still close descriptors.
std::unordered_map<int, std::shared_ptr<Handle>>& table() {
    static auto* t = new std::unordered_map<int, std::shared_ptr<Handle>>();
    return *t;
}

// The handles locked by fdtable_atfork_prepare, for the parent and the child to release.
std::vector<std::shared_ptr<Handle>>* g_fork_handles = nullptr;

}  // namespace

bool maybe_virtual_fd(int fd) {
    if (fd < 0) return false;
    if (fd < kFlagFds) return g_flags[fd].load(std::memory_order_acquire) != 0;
    return g_high_fds.load(std::memory_order_acquire) > 0;
}

std::shared_ptr<Handle> lookup_fd(int fd) {
    if (!maybe_virtual_fd(fd)) return nullptr;
    std::lock_guard lk(g_table_mu);
    auto it = table().find(fd);
    return it == table().end() ? nullptr : it->second;
}

void register_fd(int fd, const std::shared_ptr<Handle>& h) {
    {
        std::lock_guard lk(h->mu);
        h->fds.push_back(fd);
    }
    std::lock_guard lk(g_table_mu);
    auto [it, fresh] = table().insert_or_assign(fd, h);
    (void)it;
    if (fd < kFlagFds)
        g_flags[fd].store(1, std::memory_order_release);
    else if (fresh)
        g_high_fds.fetch_add(1);
}

void unregister_fd(int fd) {
    std::shared_ptr<Handle> h;
    {
        std::lock_guard lk(g_table_mu);
        auto it = table().find(fd);
        if (it == table().end()) return;
        h = std::move(it->second);
        table().erase(it);
        if (fd < kFlagFds)
            g_flags[fd].store(0, std::memory_order_release);
        else
            g_high_fds.fetch_sub(1);
    }
    std::lock_guard lk(h->mu);
    h->fds.erase(std::remove(h->fds.begin(), h->fds.end(), fd), h->fds.end());
}

void unregister_range(unsigned first, unsigned last) {
    std::vector<int> fds;
    {
        std::lock_guard lk(g_table_mu);
        for (const auto& [fd, h] : table())
            if (static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last)
                fds.push_back(fd);
    }
    for (int fd : fds) unregister_fd(fd);
}

void fdtable_atfork_prepare() {
    g_table_mu.lock();
    auto* hs = new std::vector<std::shared_ptr<Handle>>();
    for (const auto& [fd, h] : table())
        if (std::find(hs->begin(), hs->end(), h) == hs->end()) hs->push_back(h);
    for (auto& h : *hs) h->mu.lock();
    g_fork_handles = hs;
}

void fdtable_atfork_parent() {
    auto* hs = g_fork_handles;
    g_fork_handles = nullptr;
    for (auto it = hs->rbegin(); it != hs->rend(); ++it) (*it)->mu.unlock();
    delete hs;
    g_table_mu.unlock();
}

void fdtable_atfork_child() {
    auto* hs = g_fork_handles;
    g_fork_handles = nullptr;
    for (auto it = hs->rbegin(); it != hs->rend(); ++it) {
        Handle& h = **it;
        h.done.clear();
        h.inflight = 0;
        // A thread of the parent may have been waiting on the condition variable; it does not
        // exist here.
        new (&h.cv) std::condition_variable();
        h.mu.unlock();
    }
    delete hs;
    g_table_mu.unlock();
}

}  // namespace prfence::shim
