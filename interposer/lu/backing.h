// SPDX-License-Identifier: MIT
// Where a logical unit's blocks live: sparse in memory, or in a sparse file. The LU checks every
// LBA range against its capacity before it asks, so a store is never asked past its end.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "uring_engine/common/result.h"

namespace prfence::sim {

class Backing {
  public:
    virtual ~Backing() = default;
    // `blocks` whole blocks from `lba` into out (blocks * block size bytes). Blocks never written
    // read as zeros.
    virtual Status read(uint64_t lba, uint64_t blocks, uint8_t* out) = 0;
    virtual Status write(uint64_t lba, uint64_t blocks, const uint8_t* in) = 0;
    // SYNCHRONIZE CACHE: what was written is on stable storage when this returns.
    virtual Status flush() = 0;
    // Whether written data can sit in a volatile cache until flush() (MODE SENSE's WCE bit).
    virtual bool volatile_cache() const = 0;
};

// In memory; a block takes memory only once written with something other than zeros. Never fails;
// no volatile cache.
std::unique_ptr<Backing> memory_backing(uint32_t block_size);

// A file read and written with pread / pwrite; flush() is fdatasync, so it has a volatile cache.
// The file is created (mode 0600) and sized to `bytes` when absent or empty (sparse on every
// filesystem that supports holes). An Error (Errc::system, naming the file and the call) when it
// cannot be opened or sized; Errc::invalid_argument when it has another non-zero size.
Result<std::unique_ptr<Backing>> open_backing_file(const std::filesystem::path& path,
                                                   uint64_t bytes, uint32_t block_size);

}  // namespace prfence::sim
