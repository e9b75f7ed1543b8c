// SPDX-License-Identifier: MIT
// What naming devices costs per path: resolve_devices over a fake sysfs and /dev laid out as Linux
// lays them out (the SCSI device directories, their block/ and scsi_generic/ children, the relative
// links of class/, dev/block, dev/char, the sg driver's `generic` link, dm maps with slaves/), N
// paths per call. The device nodes are real block and character nodes when mknod is allowed (root),
// so resolution takes the route it takes on a real system (stat, then sysfs by device number);
// otherwise regular files, looked up by name (a note says so). The tree sits in a tmpfs-like
// temporary directory, so the figures are the resolver's own work and its system calls, not
// kernfs's: the guest (tests/vm/bench/start.sh) gives the real kernel's.
//   BM_ResolveSd/N      N SCSI disks given as /dev/sdX
//   BM_ResolveSg/N      the same disks given as /dev/sgN
//   BM_ResolveMpath/N   N multipath maps of 2 paths each given as /dev/mapper/mpathN (2N paths)
// cpu_us_per_path is the CPU time per path in microseconds (on a shared machine the wall time is
// mostly other processes'); items_per_second counts paths per second of CPU.
#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "uring_engine/devices/resolve.h"

namespace {

namespace fs = std::filesystem;
using prfence::engine::resolve_devices;
using prfence::engine::ResolveOptions;

// sda, ..., sdz, sdaa, ...: the sd driver's names.
std::string sd_name(unsigned i) {
    std::string s;
    for (unsigned n = i + 1; n > 0; n = (n - 1) / 26) s.insert(s.begin(), char('a' + (n - 1) % 26));
    return "sd" + s;
}

class Tree {
  public:
    // `hosts` sessions (1: one path per LU, 2: two, for multipath maps) to `luns` LUs each.
    Tree(unsigned luns, unsigned hosts, bool maps) {
        std::string tmpl = (fs::temp_directory_path() / "prfence-bench-resolve-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        root_ = tmpl;
        sys_ = root_ + "/sys";
        dev_ = root_ + "/dev";
        for (const char* d :
             {"/sys/block", "/sys/class/block", "/sys/class/scsi_generic", "/sys/dev/block",
              "/sys/dev/char", "/sys/devices/virtual/block", "/dev/mapper"})
            fs::create_directories(root_ + d);
        unsigned idx = 0;
        for (unsigned l = 0; l < luns; ++l) {
            char wwid[64];
            std::snprintf(wwid, sizeof wwid, "naa.60014055052464e%013x\n", l);
            std::vector<std::string> slaves;
            for (unsigned h = 0; h < hosts; ++h, ++idx) {
                const std::string hctl = std::to_string(h) + ":0:0:" + std::to_string(l);
                disk(hctl, h, sd_name(idx), idx, wwid);
                sd_.push_back("/dev/" + sd_name(idx));
                sg_.push_back("/dev/sg" + std::to_string(idx));
                slaves.push_back(sd_name(idx));
            }
            if (maps) map(l, slaves);
        }
    }
    ~Tree() {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
    Tree(const Tree&) = delete;
    Tree& operator=(const Tree&) = delete;

    ResolveOptions opts() const { return ResolveOptions{.sysfs_root = sys_, .dev_root = dev_}; }
    const std::vector<std::string>& sd() const { return sd_; }
    const std::vector<std::string>& sg() const { return sg_; }
    const std::vector<std::string>& maps() const { return maps_; }
    bool real_nodes() const { return real_nodes_; }

  private:
    static void write(const std::string& path, const std::string& text) {
        fs::create_directories(fs::path(path).parent_path());
        std::ofstream(path, std::ios::binary) << text;
    }
    static void link(const std::string& target, const std::string& at) {
        fs::create_directories(fs::path(at).parent_path());
        fs::create_symlink(target, at);
    }
    // A device node: a real one when mknod works, else a regular file.
    void node(const std::string& path, bool block, unsigned maj, unsigned min) {
        if (real_nodes_ &&
            ::mknod(path.c_str(), (block ? S_IFBLK : S_IFCHR) | 0600, makedev(maj, min)) == 0)
            return;
        real_nodes_ = false;
        write(path, "");
    }

    void disk(const std::string& hctl, unsigned h, const std::string& sd, unsigned idx,
              const std::string& wwid) {
        const std::string rel = "platform/host" + std::to_string(h) + "/session" +
                                std::to_string(h) + "/target" + std::to_string(h) + ":0:0/" + hctl;
        const std::string D = sys_ + "/devices/" + rel;
        write(D + "/wwid", wwid);
        const std::string bnum = "8:" + std::to_string(16 * idx);
        write(D + "/block/" + sd + "/dev", bnum + "\n");
        link("../../../" + hctl, D + "/block/" + sd + "/device");
        link("../devices/" + rel + "/block/" + sd, sys_ + "/block/" + sd);
        link("../../devices/" + rel + "/block/" + sd, sys_ + "/class/block/" + sd);
        link("../../devices/" + rel + "/block/" + sd, sys_ + "/dev/block/" + bnum);
        node(dev_ + "/" + sd, true, 8, 16 * idx);
        const std::string sg = "sg" + std::to_string(idx);
        write(D + "/scsi_generic/" + sg + "/dev", "21:" + std::to_string(idx) + "\n");
        link("../../../" + hctl, D + "/scsi_generic/" + sg + "/device");
        link("scsi_generic/" + sg, D + "/generic");
        link("../../devices/" + rel + "/scsi_generic/" + sg, sys_ + "/class/scsi_generic/" + sg);
        link("../../devices/" + rel + "/scsi_generic/" + sg,
             sys_ + "/dev/char/21:" + std::to_string(idx));
        node(dev_ + "/" + sg, false, 21, idx);
        rel_[sd] = rel;
    }

    void map(unsigned n, const std::vector<std::string>& slaves) {
        const std::string kname = "dm-" + std::to_string(n);
        const std::string name = "mpath" + std::to_string(n);
        const std::string D = sys_ + "/devices/virtual/block/" + kname;
        write(D + "/dev", "254:" + std::to_string(n) + "\n");
        write(D + "/dm/name", name + "\n");
        write(D + "/dm/uuid", "mpath-" + name + "\n");
        for (const auto& s : slaves)
            link("../../../../" + rel_.at(s) + "/block/" + s, D + "/slaves/" + s);
        link("../devices/virtual/block/" + kname, sys_ + "/block/" + kname);
        link("../../devices/virtual/block/" + kname, sys_ + "/class/block/" + kname);
        link("../../devices/virtual/block/" + kname, sys_ + "/dev/block/254:" + std::to_string(n));
        node(dev_ + "/" + kname, true, 254, n);
        link("../" + kname, dev_ + "/mapper/" + name);
        maps_.push_back("/dev/mapper/" + name);
    }

    std::string root_, sys_, dev_;
    std::vector<std::string> sd_, sg_, maps_;
    std::map<std::string, std::string> rel_;
    bool real_nodes_ = ::geteuid() == 0;
};

void run(benchmark::State& state, const Tree& t, const std::vector<std::string>& args,
         size_t paths) {
    if (!t.real_nodes()) state.SetLabel("device nodes are regular files (no mknod): by-name route");
    for (auto _ : state) {
        auto r = resolve_devices(args, t.opts());
        if (!r.ok()) {
            state.SkipWithError(r.error().msg.c_str());
            return;
        }
        size_t got = 0;
        for (const auto& lu : *r) got += lu.paths.size();
        if (got != paths) {
            state.SkipWithError("wrong number of paths");
            return;
        }
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * paths));
    // CPU time per path (a rate over CPU time, inverted), scaled so that the figure reads in
    // microseconds; Google Benchmark prints it with an "s" after it all the same.
    state.counters["cpu_us_per_path"] = benchmark::Counter(
        static_cast<double>(paths) * 1e-6,
        benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_ResolveSd(benchmark::State& state) {
    const auto n = static_cast<unsigned>(state.range(0));
    Tree t(n, 1, false);
    run(state, t, t.sd(), n);
}
void BM_ResolveSg(benchmark::State& state) {
    const auto n = static_cast<unsigned>(state.range(0));
    Tree t(n, 1, false);
    run(state, t, t.sg(), n);
}
void BM_ResolveMpath(benchmark::State& state) {
    const auto n = static_cast<unsigned>(state.range(0));
    Tree t(n, 2, true);
    run(state, t, t.maps(), 2 * n);
}

BENCHMARK(BM_ResolveSd)->Arg(16)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ResolveSg)->Arg(16)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ResolveMpath)->Arg(16)->Arg(256)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
