// SPDX-License-Identifier: MIT
// The backing stores: sparse in memory, or a sparse file.
#include "interposer/lu/backing.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include "uring_engine/common/bytes.h"
#include "uring_engine/common/sys_error.h"

namespace prfence::sim {
namespace {

// Sparse in memory: a block exists only once written with something other than zeros.
class MemoryBacking final : public Backing {
  public:
    explicit MemoryBacking(uint32_t block_size) : bs_(block_size) {}
    Status read(uint64_t lba, uint64_t blocks, uint8_t* out) override {
        for (uint64_t i = 0; i < blocks; ++i) {
            auto it = blocks_.find(lba + i);
            uint8_t* dst = out + i * bs_;
            if (it == blocks_.end())
                std::memset(dst, 0, bs_);
            else
                std::memcpy(dst, it->second.data(), bs_);
        }
        return {};
    }
    Status write(uint64_t lba, uint64_t blocks, const uint8_t* in) override {
        for (uint64_t i = 0; i < blocks; ++i) {
            const uint8_t* src = in + i * bs_;
            if (std::all_of(src, src + bs_, [](uint8_t b) { return b == 0; })) {
                blocks_.erase(lba + i);
            } else {
                auto& blk = blocks_[lba + i];
                blk.assign(src, src + bs_);
            }
        }
        return {};
    }
    Status flush() override { return {}; }
    bool volatile_cache() const override { return false; }

  private:
    uint32_t bs_;
    std::unordered_map<uint64_t, Bytes> blocks_;
};

// A sparse file read and written with pread/pwrite; SYNCHRONIZE CACHE is fdatasync.
class FileBacking final : public Backing {
  public:
    FileBacking(int fd, uint32_t block_size, std::string name)
        : fd_(fd), bs_(block_size), name_(std::move(name)) {}
    ~FileBacking() override { ::close(fd_); }
    FileBacking(const FileBacking&) = delete;
    FileBacking& operator=(const FileBacking&) = delete;

    Status read(uint64_t lba, uint64_t blocks, uint8_t* out) override {
        size_t len = blocks * bs_;
        auto off = static_cast<off_t>(lba * bs_);
        size_t done = 0;
        while (done < len) {
            ssize_t n = ::pread(fd_, out + done, len - done, off + static_cast<off_t>(done));
            if (n < 0) {
                if (errno == EINTR) continue;
                int e = errno;
                return fail_with_errno(e, "reading ", name_);
            }
            if (n == 0) {  // past EOF: zeros
                std::memset(out + done, 0, len - done);
                break;
            }
            done += static_cast<size_t>(n);
        }
        return {};
    }
    Status write(uint64_t lba, uint64_t blocks, const uint8_t* in) override {
        size_t len = blocks * bs_;
        auto off = static_cast<off_t>(lba * bs_);
        size_t done = 0;
        while (done < len) {
            ssize_t n = ::pwrite(fd_, in + done, len - done, off + static_cast<off_t>(done));
            if (n < 0) {
                if (errno == EINTR) continue;
                int e = errno;
                return fail_with_errno(e, "writing ", name_);
            }
            done += static_cast<size_t>(n);
        }
        return {};
    }
    Status flush() override {
        if (::fdatasync(fd_) != 0) {
            int e = errno;
            return fail_with_errno(e, "fdatasync of ", name_);
        }
        return {};
    }
    bool volatile_cache() const override { return true; }

  private:
    int fd_;
    uint32_t bs_;
    std::string name_;
};

}  // namespace

std::unique_ptr<Backing> memory_backing(uint32_t block_size) {
    return std::make_unique<MemoryBacking>(block_size);
}

Result<std::unique_ptr<Backing>> open_backing_file(const std::filesystem::path& path,
                                                   uint64_t bytes, uint32_t block_size) {
    const std::string name = path.string();
    int fd = ::open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        return fail_with_errno(e, "backing file ", name);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        return fail_with_errno(e, "backing file ", name);
    }
    if (st.st_size == 0) {
        if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
            int e = errno;
            ::close(fd);
            return fail_with_errno(e, "sizing backing file ", name);
        }
    } else if (static_cast<uint64_t>(st.st_size) != bytes) {
        ::close(fd);
        return fail(Errc::invalid_argument,
                    "backing file " + name + " has " + std::to_string(st.st_size) +
                        " bytes but the logical unit needs " + std::to_string(bytes));
    }
    return std::unique_ptr<Backing>(new FileBacking(fd, block_size, name));
}

}  // namespace prfence::sim
