// SPDX-License-Identifier: MIT
// Device resolution tests. Each test builds a fake sysfs and /dev in a temporary directory, laid
// out as Linux lays them out (the same directories and the same relative symlinks), with regular
// files standing for device nodes (resolve.h: a regular file directly in dev_root is looked up by
// name).
//
// The layout, for SCSI disk sdb (sg1) at 1:0:0:0, partition sdb1, multipath map dm-0 over sdb and
// sdc:
//   sys/devices/platform/host1/session1/target1:0:0/1:0:0:0/     the SCSI device D
//       wwid  vpd_pg83  generic -> scsi_generic/sg1
//       block/sdb/{dev, device -> ../../../1:0:0:0}
//       block/sdb/sdb1/{dev, partition}
//       scsi_generic/sg1/{dev, device -> ../../../1:0:0:0}
//   sys/block/sdb -> ../devices/.../block/sdb            sys/class/block/sdb{,1} ->
//   ../../devices/... sys/class/scsi_generic/sg1 -> ../../devices/.../scsi_generic/sg1
//   sys/dev/block/8:16 -> ../../devices/.../block/sdb    sys/dev/char/21:1 -> ../../devices/.../sg1
//   sys/devices/virtual/block/dm-0/{dev, dm/name, dm/uuid, slaves/sdb ->
//   ../../../../platform/.../sdb} dev/sdb dev/sdb1 dev/sg1 dev/dm-0 (files), dev/mapper/mpatha ->
//   ../dm-0, dev/disk/by-id/X -> ../../sdb
//
// An NVMe namespace (FakeSystem::nvme_ns), for fabrics controller nvme0 and head instance 1:
//   sys/devices/virtual/nvme-fabrics/ctl/nvme0/{dev, hostid}          the controller
//       nvme0n1/{dev, nsid, wwid, device -> ../../nvme0}              its block device
//       nvme0n1/nvme0n1p1/{dev, partition}
//       ng0n1/{dev, device -> ../../nvme0}                            its generic char device (no
//                                                                     nsid: that is the block's)
//   sys/class/nvme/nvme0 sys/class/block/nvme0n1 sys/block/nvme0n1 sys/class/nvme-generic/ng0n1
//   sys/dev/char/243:0 (controller) sys/dev/block/259:M sys/dev/char/242:M (-> the directories)
//   dev/nvme0 dev/nvme0n1 dev/ng0n1 (files)
// A native multipath head (nvme_core multipath=Y) of subsystem 0 lives in the subsystem instead:
//   sys/devices/virtual/nvme-subsystem/nvme-subsys0/{nvme0n1, ng0n1}, with the controllers' hidden
//   path devices (nvme0c0n1, no /dev node) below each controller.
#include "uring_engine/devices/resolve.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/test_util.h"
#include "uring_engine/devices/vpd.h"

namespace prfence::engine {
namespace {

namespace fs = std::filesystem;
using test::hex;

constexpr const char* kWwidA = "naa.6001405d1c8e3f0a8b7c6d5e4f3a2b1c";
constexpr const char* kWwidB = "naa.60014059f0e1d2c3b4a5968778695a4b";

class FakeSystem {
  public:
    FakeSystem() {
        std::string tmpl = (fs::temp_directory_path() / "prfence-resolve-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        root = tmpl;
        sys = root + "/sys";
        dev = root + "/dev";
        for (const char* d :
             {"/sys/block", "/sys/class/block", "/sys/class/scsi_generic", "/sys/dev/block",
              "/sys/dev/char", "/sys/devices/virtual/block", "/dev/disk/by-id", "/dev/mapper"})
            fs::create_directories(root + d);
    }
    ~FakeSystem() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    FakeSystem(const FakeSystem&) = delete;
    FakeSystem& operator=(const FakeSystem&) = delete;

    ResolveOptions opts() const { return ResolveOptions{.sysfs_root = sys, .dev_root = dev}; }
    std::string d(const std::string& name) const { return dev + "/" + name; }

    static void write(const std::string& path, const std::string& text) {
        fs::create_directories(fs::path(path).parent_path());
        std::ofstream(path, std::ios::binary) << text;
    }
    static void link(const std::string& target, const std::string& at) {
        fs::create_directories(fs::path(at).parent_path());
        fs::create_symlink(target, at);
    }

    struct Disk {
        std::string hctl, sd, sg;
        std::optional<std::string> wwid;  // contents of D/wwid (nullopt: no such file)
        Bytes vpd;                        // D/vpd_pg83 (empty: no such file)
        bool sg_attached = true;          // false: the sg driver never attached (module not loaded)
        bool sg_node = true;              // false: no /dev/sgN (udev did not create it)
    };

    // A SCSI disk; returns D relative to sys/devices.
    std::string scsi_disk(const Disk& k) {
        const auto [h, c, t, l] = split_hctl(k.hctl);
        const std::string rel =
            "platform/host" + h + "/session" + h + "/target" + h + ":" + c + ":" + t + "/" + k.hctl;
        const std::string D = sys + "/devices/" + rel;
        fs::create_directories(D);
        if (k.wwid) write(D + "/wwid", *k.wwid);
        if (!k.vpd.empty()) write(D + "/vpd_pg83", std::string(k.vpd.begin(), k.vpd.end()));
        const int sd_minor = 16 * (k.sd.back() - 'a');
        const std::string numbers = "8:" + std::to_string(sd_minor);
        write(D + "/block/" + k.sd + "/dev", numbers + "\n");
        link("../../../" + k.hctl, D + "/block/" + k.sd + "/device");
        link("../devices/" + rel + "/block/" + k.sd, sys + "/block/" + k.sd);
        link("../../devices/" + rel + "/block/" + k.sd, sys + "/class/block/" + k.sd);
        link("../../devices/" + rel + "/block/" + k.sd, sys + "/dev/block/" + numbers);
        write(dev + "/" + k.sd, "");
        if (k.sg_attached) {
            const std::string sgn = k.sg.substr(2);
            write(D + "/scsi_generic/" + k.sg + "/dev", "21:" + sgn + "\n");
            link("../../../" + k.hctl, D + "/scsi_generic/" + k.sg + "/device");
            link("scsi_generic/" + k.sg, D + "/generic");
            link("../../devices/" + rel + "/scsi_generic/" + k.sg,
                 sys + "/class/scsi_generic/" + k.sg);
            link("../../devices/" + rel + "/scsi_generic/" + k.sg, sys + "/dev/char/21:" + sgn);
            if (k.sg_node) write(dev + "/" + k.sg, "");
        }
        disks_[k.sd] = rel;
        return rel;
    }

    void partition(const std::string& sd, int n) {
        const std::string rel = disks_.at(sd) + "/block/" + sd + "/" + sd + std::to_string(n);
        write(sys + "/devices/" + rel + "/partition", std::to_string(n) + "\n");
        link("../../devices/" + rel, sys + "/class/block/" + sd + std::to_string(n));
        write(dev + "/" + sd + std::to_string(n), "");
    }

    // A device-mapper map dm-N named `name` over `slaves` (kernel names of disks or other maps).
    void dm(int n, const std::string& name, const std::string& uuid,
            const std::vector<std::string>& slaves) {
        const std::string kname = "dm-" + std::to_string(n);
        const std::string D = sys + "/devices/virtual/block/" + kname;
        write(D + "/dev", "254:" + std::to_string(n) + "\n");
        write(D + "/dm/name", name + "\n");
        write(D + "/dm/uuid", uuid + "\n");
        fs::create_directories(D + "/slaves");
        for (const auto& s :
             slaves) {  // class/block/X -> ../../devices/REL; slaves/X -> ../../../../REL
            std::string target = fs::read_symlink(sys + "/class/block/" + s).string();
            link("../../../../" + target.substr(std::string("../../devices/").size()),
                 D + "/slaves/" + s);
        }
        link("../devices/virtual/block/" + kname, sys + "/block/" + kname);
        link("../../devices/virtual/block/" + kname, sys + "/class/block/" + kname);
        write(dev + "/" + kname, "");
        link("../" + kname, dev + "/mapper/" + name);
    }

    // A block device whose `device` link (if any) leads to a non-SCSI parent.
    void other_block(const std::string& rel_dir, const std::string& kname,
                     const std::string& device_link) {
        const std::string D = sys + "/devices/" + rel_dir + "/" + kname;
        write(D + "/dev", "259:0\n");
        if (!device_link.empty()) link(device_link, D + "/device");
        link("../devices/" + rel_dir + "/" + kname, sys + "/block/" + kname);
        link("../../devices/" + rel_dir + "/" + kname, sys + "/class/block/" + kname);
        write(dev + "/" + kname, "");
    }
    // An NVMe controller nvmeC: fabrics controllers sit in devices/virtual/nvme-fabrics/ctl/, PCI
    // ones below their PCI function. Made by nvme_ns on first use.
    void nvme_ctrl(int c, bool pci = false) {
        const std::string name = "nvme" + std::to_string(c);
        const std::string rel =
            pci ? "pci0000:00/0000:00:0" + std::to_string(4 + c) + ".0/nvme/" + name
                : "virtual/nvme-fabrics/ctl/" + name;
        const std::string D = sys + "/devices/" + rel;
        write(D + "/dev", "243:" + std::to_string(c) + "\n");
        write(D + "/hostid", "5052464e-0000-4000-8000-00000000000a\n");  // one host here
        link("../../devices/" + rel, sys + "/class/nvme/" + name);
        link("../../devices/" + rel, sys + "/dev/char/243:" + std::to_string(c));
        write(dev + "/" + name, "");
        nvme_parents_[name] = rel;
    }

    struct Namespace {
        std::string parent;  // "nvme0" (a controller) or "nvme-subsys0" (a native multipath head)
        int head = 1;        // H in nvmeXnH / ngXnH (the kernel's head instance, not the NSID)
        std::optional<std::string> nsid = "1\n";  // <ns>/nsid (nullopt: no such file)
        std::optional<std::string> wwid;          // <ns>/wwid (nullopt: no such file)
        bool ng_sysfs = true;                     // the generic char device is in sysfs
        bool ng_node = true;                      // /dev/ngXnH exists
    };

    // An NVMe namespace: block device nvmeXnH and generic char device ngXnH in the parent's
    // directory, where X is the controller's or the subsystem's instance. Returns the block
    // device's kernel name.
    std::string nvme_ns(const Namespace& n) {
        std::string x;
        if (n.parent.starts_with("nvme-subsys")) {
            x = n.parent.substr(11);
            if (!nvme_parents_.count(n.parent)) {
                const std::string rel = "virtual/nvme-subsystem/" + n.parent;
                fs::create_directories(sys + "/devices/" + rel);
                link("../../devices/" + rel, sys + "/class/nvme-subsystem/" + n.parent);
                nvme_parents_[n.parent] = rel;
            }
        } else {
            x = n.parent.substr(4);
            if (!nvme_parents_.count(n.parent)) nvme_ctrl(std::stoi(x));
        }
        const std::string prel = nvme_parents_.at(n.parent);
        const std::string suffix = x + "n" + std::to_string(n.head);
        const std::string blk = "nvme" + suffix, ng = "ng" + suffix;
        const std::string minor = std::to_string(nvme_minor_++);
        const std::string B = sys + "/devices/" + prel + "/" + blk;
        write(B + "/dev", "259:" + minor + "\n");
        if (n.nsid) write(B + "/nsid", *n.nsid);
        if (n.wwid) write(B + "/wwid", *n.wwid);
        link("../../" + n.parent, B + "/device");
        link("../devices/" + prel + "/" + blk, sys + "/block/" + blk);
        link("../../devices/" + prel + "/" + blk, sys + "/class/block/" + blk);
        link("../../devices/" + prel + "/" + blk, sys + "/dev/block/259:" + minor);
        write(dev + "/" + blk, "");
        if (n.ng_sysfs) {
            const std::string G = sys + "/devices/" + prel + "/" + ng;
            write(G + "/dev", "242:" + minor + "\n");
            link("../../" + n.parent, G + "/device");
            link("../../devices/" + prel + "/" + ng, sys + "/class/nvme-generic/" + ng);
            link("../../devices/" + prel + "/" + ng, sys + "/dev/char/242:" + minor);
        }
        if (n.ng_node) write(dev + "/" + ng, "");
        return blk;
    }

    // A hidden path device of a multipath head below controller `ctrl` (nvme0c1n1: subsystem 0,
    // controller 1, head 1): in sysfs only, with no /dev node and no link in class/block.
    void nvme_hidden_path(const std::string& ctrl, const std::string& name) {
        if (!nvme_parents_.count(ctrl)) nvme_ctrl(std::stoi(ctrl.substr(4)));
        const std::string D = sys + "/devices/" + nvme_parents_.at(ctrl) + "/" + name;
        write(D + "/dev", "259:" + std::to_string(nvme_minor_++) + "\n");
        write(D + "/nsid", "1\n");
    }

    void nvme_partition(const std::string& blk, int n) {
        const std::string ctrl = "nvme" + blk.substr(4, blk.find('n', 4) - 4);
        const std::string part = blk + "p" + std::to_string(n);
        const std::string rel = nvme_parents_.at(ctrl) + "/" + blk + "/" + part;
        write(sys + "/devices/" + rel + "/partition", std::to_string(n) + "\n");
        write(sys + "/devices/" + rel + "/dev", "259:" + std::to_string(nvme_minor_++) + "\n");
        link("../../devices/" + rel, sys + "/class/block/" + part);
        write(dev + "/" + part, "");
    }
    void virtio() {
        fs::create_directories(sys + "/devices/pci0000:00/0000:00:05.0/virtio2");
        other_block("pci0000:00/0000:00:05.0/virtio2/block", "vda", "../../../virtio2");
    }
    void loop() { other_block("virtual/block", "loop0", ""); }

    void by_id(const std::string& name, const std::string& kname) {
        link("../../" + kname, dev + "/disk/by-id/" + name);
    }

    void no_sg_module() { fs::remove_all(sys + "/class/scsi_generic"); }

    std::string root, sys, dev;

  private:
    static std::tuple<std::string, std::string, std::string, std::string> split_hctl(
        const std::string& s) {
        std::vector<std::string> p;
        size_t b = 0;
        for (size_t e; (e = s.find(':', b)) != std::string::npos; b = e + 1)
            p.push_back(s.substr(b, e - b));
        p.push_back(s.substr(b));
        return {p.at(0), p.at(1), p.at(2), p.at(3)};
    }
    std::map<std::string, std::string> disks_;
    std::map<std::string, std::string> nvme_parents_;  // nvme0, nvme-subsys0 -> dir below devices/
    int nvme_minor_ = 0;
};

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    size_t b = 0;
    for (size_t e; (e = s.find('\n', b)) != std::string::npos; b = e + 1)
        out.push_back(s.substr(b, e - b));
    out.push_back(s.substr(b));
    return out;
}

// Standard fixture: LU A reachable through sdb (1:0:0:0) and sdc (2:0:0:0), LU B through sdd
// (1:0:0:1).
class Resolve : public ::testing::Test {
  protected:
    void SetUp() override {
        f.scsi_disk(
            {.hctl = "1:0:0:0", .sd = "sdb", .sg = "sg1", .wwid = std::string(kWwidA) + "\n"});
        f.scsi_disk(
            {.hctl = "2:0:0:0", .sd = "sdc", .sg = "sg2", .wwid = std::string(kWwidA) + "\n"});
        f.scsi_disk(
            {.hctl = "1:0:0:1", .sd = "sdd", .sg = "sg3", .wwid = std::string(kWwidB) + "\n"});
    }
    Result<std::vector<LunSpec>> resolve(const std::vector<std::string>& args) {
        return resolve_devices(args, f.opts());
    }
    // The error's lines; fails the test if resolution succeeded.
    std::vector<std::string> errors(const std::vector<std::string>& args) {
        auto r = resolve(args);
        if (r.ok()) {
            ADD_FAILURE() << "expected an error, got " << r->size() << " LUs";
            return {};
        }
        return lines(r.error().msg);
    }
    FakeSystem f;
};

TEST_F(Resolve, BlockDeviceMapsToItsSgNode) {
    auto r = resolve({"/dev/sdb"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    const LunSpec& lu = r->at(0);
    EXPECT_EQ(lu.name, "/dev/sdb");
    EXPECT_EQ(lu.wwid, kWwidA);
    ASSERT_EQ(lu.paths.size(), 1u);
    EXPECT_EQ(lu.paths[0].kind, PathSpec::Kind::sg);
    EXPECT_EQ(lu.paths[0].sg_node, f.d("sg1"));
    EXPECT_EQ(lu.paths[0].block, f.d("sdb"));
    EXPECT_EQ(lu.paths[0].hctl, "1:0:0:0");
}

TEST_F(Resolve, FakeRootPathsWorkAsWellAsSlashDev) {
    auto r = resolve({f.d("sdd")});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).wwid, kWwidB);
    EXPECT_EQ(r->at(0).paths.at(0).sg_node, f.d("sg3"));
}

TEST_F(Resolve, SgNodeDirectly) {
    auto r = resolve({"/dev/sg3"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, "/dev/sg3");
    EXPECT_EQ(r->at(0).wwid, kWwidB);
    ASSERT_EQ(r->at(0).paths.size(), 1u);
    EXPECT_EQ(r->at(0).paths[0].sg_node, f.d("sg3"));
    EXPECT_EQ(r->at(0).paths[0].block, f.d("sdd"));  // found from D/block
    EXPECT_EQ(r->at(0).paths[0].hctl, "1:0:0:1");
}

TEST_F(Resolve, ByIdSymlinkIsFollowed) {
    f.by_id("wwn-0x60014059f0e1d2c3b4a5968778695a4b", "sdd");
    const std::string link = "/dev/disk/by-id/wwn-0x60014059f0e1d2c3b4a5968778695a4b";
    auto r = resolve({link});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, link);
    EXPECT_EQ(r->at(0).paths.at(0).sg_node, f.d("sg3"));
    EXPECT_EQ(r->at(0).paths.at(0).block, f.d("sdd"));
}

TEST_F(Resolve, MultipathMapGivesEveryPathUnderOneWwid) {
    f.dm(0, "mpatha", "mpath-36001405d1c8e3f0a8b7c6d5e4f3a2b1c", {"sdb", "sdc"});
    for (const std::string arg : {"/dev/mapper/mpatha", "/dev/dm-0"}) {
        auto r = resolve({arg});
        ASSERT_TRUE(r.ok()) << arg << ": " << r.error().msg;
        ASSERT_EQ(r->size(), 1u) << arg;
        const LunSpec& lu = r->at(0);
        EXPECT_EQ(lu.name, "mpatha");
        EXPECT_EQ(lu.wwid, kWwidA);
        ASSERT_EQ(lu.paths.size(), 2u);
        EXPECT_EQ(lu.paths[0].sg_node, f.d("sg1"));
        EXPECT_EQ(lu.paths[0].hctl, "1:0:0:0");
        EXPECT_EQ(lu.paths[1].sg_node, f.d("sg2"));
        EXPECT_EQ(lu.paths[1].hctl, "2:0:0:0");
    }
}

TEST_F(Resolve, MapperNodeThatIsNotASymlinkIsFoundByMapName) {
    f.dm(0, "mpatha", "mpath-36001405d1c8e3f0a8b7c6d5e4f3a2b1c", {"sdb", "sdc"});
    fs::remove(f.dev + "/mapper/mpatha");
    FakeSystem::write(f.dev + "/mapper/mpatha", "");  // old-style /dev/mapper node, not a link
    auto r = resolve({"/dev/mapper/mpatha"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).paths.size(), 2u);

    FakeSystem::write(f.dev + "/mapper/nosuchmap", "");
    auto e = errors({"/dev/mapper/nosuchmap"});
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0],
              "/dev/mapper/nosuchmap: no device-mapper map named nosuchmap in " + f.sys + "/block");
}

TEST_F(Resolve, LvmVolumeOnMultipathMapsGivesThePathsNamedByTheMapBelow) {
    f.dm(0, "mpatha", "mpath-36001405d1c8e3f0a8b7c6d5e4f3a2b1c", {"sdb", "sdc"});
    f.dm(1, "mpathb", "mpath-360014059f0e1d2c3b4a5968778695a4b", {"sdd"});
    f.dm(2, "vg0-data", "LVM-abcdef", {"dm-0", "dm-1"});
    auto r = resolve({"/dev/mapper/vg0-data"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at(0).name, "mpatha");
    EXPECT_EQ(r->at(0).paths.size(), 2u);
    EXPECT_EQ(r->at(1).name, "mpathb");
    EXPECT_EQ(r->at(1).paths.size(), 1u);
}

TEST_F(Resolve, TwoPathsOfOneLuGivenSeparatelyBecomeOneLunSpec) {
    auto r = resolve({"/dev/sdb", "/dev/sdd", "/dev/sdc"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at(0).name, "/dev/sdb");  // first appearance names the LU
    EXPECT_EQ(r->at(0).wwid, kWwidA);
    ASSERT_EQ(r->at(0).paths.size(), 2u);
    EXPECT_EQ(r->at(0).paths[0].sg_node, f.d("sg1"));
    EXPECT_EQ(r->at(0).paths[1].sg_node, f.d("sg2"));
    EXPECT_EQ(r->at(1).name, "/dev/sdd");
    EXPECT_EQ(r->at(1).paths.size(), 1u);
}

TEST_F(Resolve, DuplicatesAreListedOnce) {
    f.by_id("wwn-0x6001405d1c8e3f0a8b7c6d5e4f3a2b1c", "sdb");
    f.by_id("scsi-36001405d1c8e3f0a8b7c6d5e4f3a2b1c", "sdb");
    f.dm(0, "mpatha", "mpath-36001405d1c8e3f0a8b7c6d5e4f3a2b1c", {"sdb", "sdc"});
    auto r =
        resolve({"/dev/sdb", "/dev/sg1", "/dev/disk/by-id/wwn-0x6001405d1c8e3f0a8b7c6d5e4f3a2b1c",
                 "/dev/disk/by-id/scsi-36001405d1c8e3f0a8b7c6d5e4f3a2b1c", "/dev/sdb",
                 "/dev/mapper/mpatha"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, "/dev/sdb");
    ASSERT_EQ(r->at(0).paths.size(), 2u);  // sdb once; sdc from the map
    EXPECT_EQ(r->at(0).paths[0].sg_node, f.d("sg1"));
    EXPECT_EQ(r->at(0).paths[1].sg_node, f.d("sg2"));
}

TEST_F(Resolve, GlobExpandsSortedAndDropsPartitionsOfMatchedDisks) {
    f.partition("sdb", 1);
    f.partition("sdb", 2);
    auto r = resolve({"/dev/sd*"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at(0).name, f.d("sdb"));
    EXPECT_EQ(r->at(0).paths.size(), 2u);
    EXPECT_EQ(r->at(1).name, f.d("sdd"));
}

TEST_F(Resolve, GlobOverByIdLinksSkipsPartLinks) {
    f.partition("sdd", 1);
    f.by_id("wwn-0x60014059f0e1d2c3b4a5968778695a4b", "sdd");
    f.by_id("wwn-0x60014059f0e1d2c3b4a5968778695a4b-part1", "sdd1");
    auto r = resolve({"/dev/disk/by-id/wwn-0x6001405*"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).paths.size(), 1u);
}

TEST_F(Resolve, GlobMatchingOnlyPartitionsIsAnError) {
    f.partition("sdb", 1);
    auto e = errors({"/dev/sdb[0-9]"});
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], f.d("sdb1") + ": is a partition; give the whole disk " + f.d("sdb"));
}

TEST_F(Resolve, EmptyGlobIsAnError) {
    auto r = resolve({"/dev/sdz*"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    EXPECT_EQ(r.error().msg, "/dev/sdz*: matches nothing");
}

TEST_F(Resolve, ListFileWithCommentsBlankLinesAndRelativeEntries) {
    const std::string list = f.root + "/lists/devices.txt";
    FakeSystem::write(list,
                      "# LUs of cluster c1\n"
                      "\n"
                      "   /dev/sdd   # the quorum LU\n"
                      "\t\n"
                      "../dev/sdb\n"  // relative to the list's directory
                      "sim:/run/prsim.sock:7\r\n"
                      "#/dev/sdc\n");
    auto r = resolve({"@" + list});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ(r->at(0).name, "/dev/sdd");
    EXPECT_EQ(r->at(0).wwid, kWwidB);
    EXPECT_EQ(r->at(1).name, "../dev/sdb");
    EXPECT_EQ(r->at(1).wwid, kWwidA);
    EXPECT_EQ(r->at(1).paths.size(), 1u);  // #/dev/sdc is a comment
    EXPECT_EQ(r->at(2).wwid, "sim:/run/prsim.sock:7");
}

TEST_F(Resolve, ListFileRelativeToTheWorkingDirectory) {
    FakeSystem::write(f.root + "/devs", "/dev/sdb\n");
    char* old = ::getcwd(nullptr, 0);
    ASSERT_EQ(::chdir(f.root.c_str()), 0);
    auto r = resolve({"@devs"});
    ASSERT_EQ(::chdir(old), 0);
    std::free(old);
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->size(), 1u);
}

TEST_F(Resolve, ListFileErrors) {
    const std::string list = f.root + "/devs.txt";
    FakeSystem::write(list, "/dev/sdb\n/dev/sdq\n\n/dev/sdd\n");
    const std::string empty = f.root + "/empty.txt";
    FakeSystem::write(empty, "# nothing yet\n\n");
    const std::string loop = f.root + "/loop.txt";
    FakeSystem::write(loop, "@loop.txt\n");
    auto e = errors({"@" + list, "@" + f.root + "/missing.txt", "@" + empty, "@", "@" + f.root});
    ASSERT_EQ(e.size(), 5u);
    EXPECT_EQ(e[0], list + ":2: /dev/sdq: does not exist");
    EXPECT_EQ(e[1], "@" + f.root + "/missing.txt: cannot read list file " + f.root +
                        "/missing.txt: No such file or directory");
    EXPECT_EQ(e[2], "@" + empty + ": list file " + empty + " names no devices");
    EXPECT_EQ(e[3], "@: '@' needs a file name (@FILE)");
    EXPECT_EQ(e[4], "@" + f.root + ": " + f.root + " is a directory");

    auto l = errors({"@" + loop});
    ASSERT_FALSE(l.empty());
    EXPECT_NE(l.back().find("list files nested more than 8 deep (a loop?)"), std::string::npos)
        << l.back();
}

TEST_F(Resolve, UnreadableListFileIsASystemError) {
    const std::string list = f.root + "/secret.txt";
    FakeSystem::write(list, "/dev/sdb\n");
    ::chmod(list.c_str(), 0);
    if (::geteuid() != 0) {
        auto r = resolve({"@" + list});
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, Errc::system);
        EXPECT_EQ(r.error().sys_errno, EACCES);
        return;
    }
    // Root reads any file: the check runs in a child that has become nobody (the fake tree is made
    // traversable for it; the list file itself stays mode 0).
    ::chmod(f.root.c_str(), 0755);
    const pid_t kid = ::fork();
    ASSERT_GE(kid, 0);
    if (kid == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(10);
        auto r = resolve({"@" + list});
        if (r.ok()) ::_exit(11);
        if (r.error().code != Errc::system) ::_exit(12);
        ::_exit(r.error().sys_errno == EACCES ? 0 : 13);
    }
    int st = 0;
    ASSERT_EQ(::waitpid(kid, &st, 0), kid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0) << "10 setuid, 11 resolved, 12 not Errc::system, 13 not EACCES";
}

TEST_F(Resolve, PartitionIsRefusedNamingTheWholeDisk) {
    f.partition("sdb", 1);
    auto r = resolve({"/dev/sdb1"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_EQ(r.error().msg, "/dev/sdb1: is a partition; give the whole disk " + f.d("sdb"));
}

TEST_F(Resolve, KpartxPartitionMapIsRefusedNamingTheWholeMap) {
    f.dm(0, "mpatha", "mpath-36001405d1c8e3f0a8b7c6d5e4f3a2b1c", {"sdb", "sdc"});
    f.dm(1, "mpatha1", "part1-mpath-36001405d1c8e3f0a8b7c6d5e4f3a2b1c", {"dm-0"});
    auto e = errors({"/dev/mapper/mpatha1"});
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], "/dev/mapper/mpatha1: is a partition map (kpartx); give the whole map " +
                        f.dev + "/mapper/mpatha");
    // Matched by a glob together with its map, it is dropped.
    auto r = resolve({"/dev/mapper/mpath*"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->size(), 1u);
}

TEST_F(Resolve, PartitionBelowAMapStandsForItsDisk) {
    f.partition("sdd", 1);
    f.dm(0, "vg1-lv", "LVM-xyz", {"sdd1"});
    auto r = resolve({"/dev/mapper/vg1-lv"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).wwid, kWwidB);
    EXPECT_EQ(r->at(0).paths.at(0).sg_node, f.d("sg3"));
}

TEST_F(Resolve, NonScsiDevicesAreRefused) {
    // NVMe namespaces are not among them any more: see the ResolveNvme tests.
    f.virtio();
    f.loop();
    auto e = errors({"/dev/loop0", "/dev/vda"});
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0], "/dev/loop0: not a SCSI device");
    EXPECT_EQ(e[1], "/dev/vda: not a SCSI device");
}

TEST_F(Resolve, NonScsiDeviceUnderAMapIsNamed) {
    f.virtio();
    f.dm(0, "vg-mixed", "LVM-mixed", {"sdb", "vda"});
    auto e = errors({"/dev/mapper/vg-mixed"});
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], "/dev/mapper/vg-mixed: " + f.d("vda") + ": not a SCSI device");
}

TEST(ResolveNoSg, MissingSgModuleSaysToLoadIt) {
    FakeSystem f;
    f.scsi_disk({.hctl = "1:0:0:0",
                 .sd = "sdb",
                 .sg = "sg1",
                 .wwid = std::string(kWwidA),
                 .sg_attached = false});
    f.no_sg_module();
    FakeSystem::write(f.d("sg1"), "");  // a stale node left in /dev
    auto r = resolve_devices({"/dev/sdb", "/dev/sg1"}, f.opts());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    auto e = lines(r.error().msg);
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0],
              "/dev/sdb: no sg node for " + f.d("sdb") + ": load the sg module (modprobe sg)");
    EXPECT_EQ(e[1],
              "/dev/sg1: no sg node for " + f.d("sg1") + ": load the sg module (modprobe sg)");
}

TEST(ResolveNoSg, SgDriverLoadedButNotAttached) {
    FakeSystem f;
    f.scsi_disk({.hctl = "1:0:0:0",
                 .sd = "sdb",
                 .sg = "sg1",
                 .wwid = std::string(kWwidA),
                 .sg_attached = false});
    auto r = resolve_devices({"/dev/sdb"}, f.opts());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().msg.rfind("/dev/sdb: no sg node for " + f.d("sdb") +
                                      " (SCSI device 1:0:0:0) although the sg module is loaded",
                                  0),
              0u)
        << r.error().msg;
}

TEST(ResolveNoSg, SgNodeMissingFromDev) {
    FakeSystem f;
    f.scsi_disk({.hctl = "1:0:0:0",
                 .sd = "sdb",
                 .sg = "sg1",
                 .wwid = std::string(kWwidA),
                 .sg_node = false});
    auto r = resolve_devices({"/dev/sdb"}, f.opts());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().msg,
              "/dev/sdb: no " + f.d("sg1") + " for " + f.d("sdb") +
                  " although sysfs lists sg1: udev did not create it (udevadm trigger, or mknod " +
                  f.d("sg1") + " c 21 1)");
}

TEST(ResolveLegacy, ScsiGenericColonLinkOfOldKernels) {
    FakeSystem f;
    const std::string rel = f.scsi_disk({.hctl = "0:0:0:0",
                                         .sd = "sda",
                                         .sg = "sg0",
                                         .wwid = std::string(kWwidA),
                                         .sg_attached = false});
    const std::string D = f.sys + "/devices/" + rel;
    FakeSystem::write(D + "/sg0dir/dev", "21:0\n");
    fs::create_symlink("sg0dir", D + "/scsi_generic:sg0");
    FakeSystem::write(f.d("sg0"), "");
    auto r = resolve_devices({"/dev/sda"}, f.opts());
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->at(0).paths.at(0).sg_node, f.d("sg0"));
}

TEST_F(Resolve, MissingAndNonDeviceFiles) {
    FakeSystem::write(f.root + "/notes.txt", "hello");
    FakeSystem::write(f.d("sdzz"), "");  // in /dev but unknown to sysfs
    auto r = resolve({"/dev/sdq", f.root + "/notes.txt", "/dev/sdzz"});
    ASSERT_FALSE(r.ok());
    auto e = lines(r.error().msg);
    ASSERT_EQ(e.size(), 3u);
    EXPECT_EQ(e[0], "/dev/sdq: does not exist");
    EXPECT_EQ(e[1], f.root + "/notes.txt: not a device node");
    EXPECT_EQ(e[2], "/dev/sdzz: unknown to sysfs (" + f.sys + "/class/block/sdzz does not exist)");
    EXPECT_EQ(r.error().code, Errc::invalid_argument);  // mixed kinds
}

TEST_F(Resolve, DanglingSymlink) {
    FakeSystem::link("../../sdq", f.dev + "/disk/by-id/wwn-0xgone");
    auto e = errors({"/dev/disk/by-id/wwn-0xgone"});
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0],
              "/dev/disk/by-id/wwn-0xgone: cannot follow the link: No such file or directory");
}

TEST_F(Resolve, SimRanges) {
    auto r = resolve({"sim:/run/prsim.sock:0-3,8", "sim:/run/prsim.sock:7", "sim:/run/prsim.sock:2",
                      "sim:/run/other.sock:2"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 7u);
    const uint32_t want[] = {0, 1, 2, 3, 8, 7};
    for (size_t i = 0; i < 6; ++i) {
        const LunSpec& lu = r->at(i);
        const std::string id = "sim:/run/prsim.sock:" + std::to_string(want[i]);
        EXPECT_EQ(lu.wwid, id);
        EXPECT_EQ(lu.name, id);
        ASSERT_EQ(lu.paths.size(), 1u);
        EXPECT_EQ(lu.paths[0].kind, PathSpec::Kind::sim);
        EXPECT_EQ(lu.paths[0].sim_socket, "/run/prsim.sock");
        EXPECT_EQ(lu.paths[0].sim_lun, want[i]);
        EXPECT_EQ(lu.paths[0].sg_node, "");
    }
    EXPECT_EQ(r->at(6).wwid, "sim:/run/other.sock:2");
}

TEST_F(Resolve, SimFullRangeAndLimits) {
    auto r = resolve({"sim:/run/prsim.sock:0-255"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 256u);
    EXPECT_EQ(r->back().paths.at(0).sim_lun, 255u);

    auto big = resolve({"sim:s:0-65534"});
    ASSERT_TRUE(big.ok()) << big.error().msg;
    EXPECT_EQ(big->size(), 65535u);
}

TEST_F(Resolve, SimSocketMayContainColons) {
    auto r = resolve({"sim:/run/a:b.sock:5"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->at(0).paths.at(0).sim_socket, "/run/a:b.sock");
    EXPECT_EQ(r->at(0).paths.at(0).sim_lun, 5u);
}

TEST_F(Resolve, SimErrors) {
    const std::string usage = " (expected sim:SOCKET:LUNS, e.g. sim:/run/prsim.sock:0-255)";
    auto e = errors({"sim:/s:9-3", "sim:/s:x", "sim:/s:1-y", "sim:/s:70000", "sim:/s:0-65535",
                     "sim:/s:", "sim::3", "sim:/s", "sim:/s:1,,2", "sim:/s:-3"});
    ASSERT_EQ(e.size(), 10u);
    EXPECT_EQ(e[0], "sim:/s:9-3: range 9-3 is reversed (write 3-9)");
    EXPECT_EQ(e[1], "sim:/s:x: 'x' is not a LUN number" + usage);
    EXPECT_EQ(e[2], "sim:/s:1-y: 'y' is not a LUN number" + usage);
    EXPECT_EQ(e[3], "sim:/s:70000: LUN 70000 is above 65535");
    EXPECT_EQ(e[4], "sim:/s:0-65535: names more than 65535 LUNs");
    EXPECT_EQ(e[5], "sim:/s:: no LUNs" + usage);
    EXPECT_EQ(e[6], "sim::3: no socket" + usage);
    EXPECT_EQ(e[7], "sim:/s: no LUNs" + usage);
    EXPECT_EQ(e[8], "sim:/s:1,,2: empty item in LUN list '1,,2'" + usage);
    EXPECT_EQ(e[9], "sim:/s:-3: '-3' is not a LUN range" + usage);
}

TEST_F(Resolve, SeveralErrorsAreReportedTogetherInArgumentOrder) {
    f.partition("sdb", 1);
    f.nvme_ns({.parent = "nvme0", .ng_node = false});
    auto r = resolve(
        {"/dev/sdb1", "/dev/sdd", "/dev/nvme0n1", "/dev/sdq", "sim:/s:5-1", "/dev/nothing*"});
    ASSERT_FALSE(r.ok());
    auto e = lines(r.error().msg);
    ASSERT_EQ(e.size(), 5u) << r.error().msg;
    EXPECT_EQ(e[0], "/dev/sdb1: is a partition; give the whole disk " + f.d("sdb"));
    EXPECT_EQ(e[1], "/dev/nvme0n1: no " + f.d("ng0n1") + " for " + f.d("nvme0n1") +
                        ": NVMe passthrough needs the generic character device (Linux 5.13 or "
                        "later; udev creates it)");
    EXPECT_EQ(e[2], "/dev/sdq: does not exist");
    EXPECT_EQ(e[3], "sim:/s:5-1: range 5-1 is reversed (write 1-5)");
    EXPECT_EQ(e[4], "/dev/nothing*: matches nothing");
}

TEST_F(Resolve, NoArgumentsIsAnError) {
    auto r = resolve({});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().msg, "no devices given");
    auto e = errors({""});
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], "empty device argument");
}

TEST(ResolveWwid, FallsBackToVpdPage83ThenToHctl) {
    FakeSystem f;
    // 1:0:0:0 has only vpd_pg83 (a pre-4.5 kernel), 2:0:0:0 only wwid: both name LU A.
    f.scsi_disk(
        {.hctl = "1:0:0:0",
         .sd = "sdb",
         .sg = "sg1",
         .vpd = hex("00 83 00 14  01 03 00 10  60 01 40 5d 1c 8e 3f 0a 8b 7c 6d 5e 4f 3a 2b 1c")});
    f.scsi_disk({.hctl = "2:0:0:0", .sd = "sdc", .sg = "sg2", .wwid = std::string(kWwidA) + "\n"});
    // Neither: each path is its own LU.
    f.scsi_disk({.hctl = "3:0:0:0", .sd = "sdd", .sg = "sg3"});
    f.scsi_disk({.hctl = "4:0:0:0", .sd = "sde", .sg = "sg4", .wwid = std::string("")});
    auto r = resolve_devices({"/dev/sdb", "/dev/sdc", "/dev/sdd", "/dev/sde"}, f.opts());
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ(r->at(0).wwid, kWwidA);
    EXPECT_EQ(r->at(0).paths.size(), 2u);
    EXPECT_EQ(r->at(1).wwid, "hctl:3:0:0:0");
    EXPECT_EQ(r->at(2).wwid, "hctl:4:0:0:0");
}

TEST(ResolveWwid, ScsiNameStringWwidWithNulPaddingGroups) {
    FakeSystem f;
    const std::string name = "iqn.2003-01.org.example:lu7";  // 27 bytes, padded to 28 (+NUL) = 28
    f.scsi_disk(
        {.hctl = "1:0:0:0", .sd = "sdb", .sg = "sg1", .wwid = name + std::string(1, '\0') + "\n"});
    Bytes page = hex("00 83 00 20 03 08 00 1c");
    page.insert(page.end(), name.begin(), name.end());
    page.push_back(0);
    f.scsi_disk({.hctl = "2:0:0:0", .sd = "sdc", .sg = "sg2", .vpd = page});
    auto r = resolve_devices({"/dev/sdb", "/dev/sdc"}, f.opts());
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).wwid, name);
    EXPECT_EQ(r->at(0).paths.size(), 2u);
}

TEST(ResolveWwid, HostileWwidIsEscaped) {
    FakeSystem f;
    f.scsi_disk({.hctl = "1:0:0:0",
                 .sd = "sdb",
                 .sg = "sg1",
                 .wwid = std::string("t10.EVIL\x1b[2Jdisk  \n")});
    auto r = resolve_devices({"/dev/sdb"}, f.opts());
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->at(0).wwid, "t10.EVIL\\x1b[2Jdisk");
}

TEST(ResolveDevNumbers, RealDeviceNodeIsLookedUpByMajorMinor) {
    FakeSystem f;
    f.scsi_disk({.hctl = "1:0:0:0", .sd = "sdb", .sg = "sg1", .wwid = std::string(kWwidA)});
    // A node with a name sysfs does not know, outside dev_root's top level: only its numbers tell.
    const std::string node = f.root + "/elsewhere/quorum-disk";
    fs::create_directories(f.root + "/elsewhere");
    if (::mknod(node.c_str(), S_IFBLK | 0600, makedev(8, 16)) != 0)
        GTEST_SKIP() << "mknod needs CAP_MKNOD: " << std::strerror(errno);
    const std::string sgnode = f.root + "/elsewhere/generic";
    ASSERT_EQ(::mknod(sgnode.c_str(), S_IFCHR | 0600, makedev(21, 1)), 0);
    auto r = resolve_devices({node, sgnode}, f.opts());
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, node);
    ASSERT_EQ(r->at(0).paths.size(), 1u);
    EXPECT_EQ(r->at(0).paths[0].sg_node, f.d("sg1"));

    const std::string stray = f.root + "/elsewhere/stray";
    ASSERT_EQ(::mknod(stray.c_str(), S_IFBLK | 0600, makedev(8, 32)), 0);
    auto e = resolve_devices({stray}, f.opts());
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().msg, stray + ": block device 8:32 is unknown to " + f.sys);
}

// ---- the shortcuts resolution takes through sysfs links

TEST_F(Resolve, WithoutTheGenericLinkTheScsiGenericDirectoryIsListed) {
    // Older kernels, or a tree without D/generic: the sg node is found by listing D/scsi_generic.
    fs::remove(f.sys + "/devices/platform/host1/session1/target1:0:0/1:0:0:1/generic");
    auto r = resolve({"/dev/sdd"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->at(0).paths.at(0).sg_node, f.d("sg3"));
}

TEST_F(Resolve, WwidsOfManyPathsGroupAsOneByOne) {
    // Many paths over two LUs, among them a device without a wwid attribute (its own LU, by
    // H:C:T:L).
    for (int i = 0; i < 10; ++i) {
        const std::string sd = std::string("sd") + static_cast<char>('e' + i);
        f.scsi_disk({.hctl = "3:0:0:" + std::to_string(i),
                     .sd = sd,
                     .sg = "sg" + std::to_string(10 + i),
                     .wwid = i == 4 ? std::nullopt
                                    : std::optional<std::string>(
                                          std::string(i % 2 ? kWwidA : kWwidB) + "\n")});
    }
    std::vector<std::string> args = {"/dev/sdb", "/dev/sdd"};
    for (int i = 0; i < 10; ++i)
        args.push_back(std::string("/dev/sd") + static_cast<char>('e' + i));
    auto r = resolve(args);
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ(r->at(0).wwid, kWwidA);
    EXPECT_EQ(r->at(0).paths.size(), 6u);  // sdb and the five odd ones
    EXPECT_EQ(r->at(1).wwid, kWwidB);
    EXPECT_EQ(r->at(1).paths.size(), 5u);  // sdd and the even ones but sdi
    EXPECT_EQ(r->at(2).wwid, "hctl:3:0:0:4");
    EXPECT_EQ(r->at(2).name, "/dev/sdi");
}

TEST(ResolveDevNumbers, SysfsRootThroughASymlinkKeepsItsNameInMessages) {
    FakeSystem f;
    f.scsi_disk({.hctl = "1:0:0:0", .sd = "sdb", .sg = "sg1", .wwid = std::string(kWwidA)});
    f.scsi_disk({.hctl = "1:0:0:1",
                 .sd = "sdc",
                 .sg = "sg2",
                 .wwid = std::string(kWwidB),
                 .sg_attached = false});
    const std::string alias = f.root + "/sys-alias";
    fs::create_symlink("sys", alias);
    ResolveOptions o = f.opts();
    o.sysfs_root = alias;
    auto r = resolve_devices({"/dev/sdb"}, o);
    ASSERT_TRUE(r.ok()) << r.error().msg;
    EXPECT_EQ(r->at(0).paths.at(0).sg_node, f.d("sg1"));
    auto e = resolve_devices({"/dev/sdc"}, o);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(
        e.error().msg.find("(echo 1 > " + alias + "/class/scsi_device/1:0:0:1/device/rescan)"),
        std::string::npos)
        << e.error().msg;
    // A real node: found by its numbers under the aliased root.
    const std::string node = f.root + "/quorum";
    if (::mknod(node.c_str(), S_IFBLK | 0600, makedev(8, 16)) != 0)
        GTEST_SKIP() << "mknod needs CAP_MKNOD: " << std::strerror(errno);
    auto n = resolve_devices({node}, o);
    ASSERT_TRUE(n.ok()) << n.error().msg;
    EXPECT_EQ(n->at(0).paths.at(0).sg_node, f.d("sg1"));
    EXPECT_EQ(n->at(0).paths.at(0).block, f.d("sdb"));
}

// ---- NVMe namespaces

constexpr const char* kNsWwid1 = "uuid.5052464e-4e56-4000-8000-000000000001";
constexpr const char* kNsWwid3 = "eui.5052464e4e560003";

// Resolve's SCSI LUs, and node nvme0 with namespace 1 (nvme0n1), a second controller of the same
// host, nvme1, reaching namespace 1 too (nvme1n1: multipath=N, each controller its own nodes), and
// namespace 3 as nvme0n2 (the kernel numbers heads in discovery order, not by NSID).
class ResolveNvme : public Resolve {
  protected:
    void SetUp() override {
        Resolve::SetUp();
        f.nvme_ns({.parent = "nvme0", .head = 1, .wwid = std::string(kNsWwid1) + "\n"});
        f.nvme_ns({.parent = "nvme1", .head = 1, .wwid = std::string(kNsWwid1) + "\n"});
        f.nvme_ns({.parent = "nvme0", .head = 2, .nsid = "3\n", .wwid = std::string(kNsWwid3)});
    }
    static void expect_path(const PathSpec& p, const std::string& ctrl, uint32_t nsid,
                            const std::string& ng, const std::string& block) {
        EXPECT_EQ(p.kind, PathSpec::Kind::nvme);
        EXPECT_EQ(p.ctrl, ctrl);
        EXPECT_EQ(p.nsid, nsid);
        EXPECT_EQ(p.ng_node, ng);
        EXPECT_EQ(p.block, block);
        EXPECT_EQ(p.sg_node, "");
        EXPECT_EQ(p.hctl, "");
    }
    std::string sys_real() const { return fs::canonical(f.sys).string(); }
};

TEST_F(ResolveNvme, BlockDeviceMapsToItsGenericNode) {
    auto r = resolve({"/dev/nvme0n1"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, "/dev/nvme0n1");
    EXPECT_EQ(r->at(0).wwid, kNsWwid1);
    ASSERT_EQ(r->at(0).paths.size(), 1u);
    expect_path(r->at(0).paths[0], "nvme0", 1, f.d("ng0n1"), f.d("nvme0n1"));
}

TEST_F(ResolveNvme, GenericNodeDirectly) {
    auto r = resolve({"/dev/ng0n1"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, "/dev/ng0n1");
    EXPECT_EQ(r->at(0).wwid, kNsWwid1);
    ASSERT_EQ(r->at(0).paths.size(), 1u);
    // The block device is found beside it, the NSID and wwid from the block device's attributes.
    expect_path(r->at(0).paths[0], "nvme0", 1, f.d("ng0n1"), f.d("nvme0n1"));
}

TEST_F(ResolveNvme, ByIdLinkIsFollowed) {
    FakeSystem::link("../../nvme0n2", f.dev + "/disk/by-id/nvme-eui.5052464e4e560003");
    FakeSystem::link("../../nvme0n1", f.dev + "/disk/by-id/nvme-Linux_5052464e4e56_1");
    const std::string link = "/dev/disk/by-id/nvme-eui.5052464e4e560003";
    auto r = resolve({link, "/dev/disk/by-id/nvme-Linux_5052464e4e56_1"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at(0).name, link);
    EXPECT_EQ(r->at(0).wwid, kNsWwid3);
    ASSERT_EQ(r->at(0).paths.size(), 1u);
    expect_path(r->at(0).paths[0], "nvme0", 3, f.d("ng0n2"), f.d("nvme0n2"));
    EXPECT_EQ(r->at(1).wwid, kNsWwid1);
}

TEST_F(ResolveNvme, BothNodesOfOneNamespaceAreOneLuWithOnePath) {
    FakeSystem::link("../../nvme0n1", f.dev + "/disk/by-id/nvme-uuid.5052464e");
    auto r = resolve({"/dev/nvme0n1", "/dev/ng0n1", "/dev/disk/by-id/nvme-uuid.5052464e",
                      f.d("ng0n1"), "/dev/nvme0n1"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, "/dev/nvme0n1");  // the first argument reaching it
    ASSERT_EQ(r->at(0).paths.size(), 1u);
    expect_path(r->at(0).paths[0], "nvme0", 1, f.d("ng0n1"), f.d("nvme0n1"));
}

TEST_F(ResolveNvme, TwoControllersOfOneNamespaceAreOneLuWithTwoPaths) {
    // multipath=N: each controller has its own nodes for the namespace; one wwid, one LU.
    auto r = resolve({"/dev/nvme0n1", "/dev/ng1n1", "/dev/nvme0n2"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at(0).wwid, kNsWwid1);
    ASSERT_EQ(r->at(0).paths.size(), 2u);
    expect_path(r->at(0).paths[0], "nvme0", 1, f.d("ng0n1"), f.d("nvme0n1"));
    expect_path(r->at(0).paths[1], "nvme1", 1, f.d("ng1n1"), f.d("nvme1n1"));
    EXPECT_EQ(r->at(1).wwid, kNsWwid3);
    EXPECT_EQ(r->at(1).paths.size(), 1u);
}

TEST_F(ResolveNvme, NsidComesFromSysfsNotFromTheName) {
    // nvme0n2 is namespace 3; nvme1n5 is namespace 2 of a controller that found it fifth.
    f.nvme_ns({.parent = "nvme1", .head = 5, .nsid = "2\n", .wwid = std::string("nvme.1b36-x")});
    auto r = resolve({"/dev/ng0n2", "/dev/nvme1n5"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at(0).paths.at(0).nsid, 3u);
    EXPECT_EQ(r->at(0).paths.at(0).ng_node, f.d("ng0n2"));
    EXPECT_EQ(r->at(1).paths.at(0).nsid, 2u);
    EXPECT_EQ(r->at(1).paths.at(0).ng_node, f.d("ng1n5"));
    EXPECT_EQ(r->at(1).wwid, "nvme.1b36-x");
}

TEST_F(ResolveNvme, NamespaceWithoutWwidIsItsOwnLuPerController) {
    // No identifier: nothing says two controllers' nodes are one namespace, so they are not
    // grouped.
    f.nvme_ns({.parent = "nvme0", .head = 7, .nsid = "7\n"});
    f.nvme_ns({.parent = "nvme1", .head = 7, .nsid = "7\n"});
    auto r = resolve({"/dev/nvme0n7", "/dev/nvme1n7"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at(0).wwid, "nvme:nvme0:7");
    EXPECT_EQ(r->at(1).wwid, "nvme:nvme1:7");
}

TEST_F(ResolveNvme, MissingOrBadNsidIsAnErrorNamingTheAttribute) {
    f.nvme_ns({.parent = "nvme2", .head = 1, .nsid = std::nullopt, .wwid = std::string(kNsWwid3)});
    f.nvme_ns({.parent = "nvme2", .head = 2, .nsid = "0\n"});
    f.nvme_ns({.parent = "nvme2", .head = 3, .nsid = "4294967295\n"});  // FFFFFFFFh: broadcast
    f.nvme_ns({.parent = "nvme2", .head = 4, .nsid = "one\n"});
    auto r = resolve({"/dev/nvme2n1", "/dev/ng2n1", "/dev/nvme2n2", "/dev/ng2n3", "/dev/nvme2n4"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    auto e = lines(r.error().msg);
    ASSERT_EQ(e.size(), 5u) << r.error().msg;
    const std::string ctl = sys_real() + "/devices/virtual/nvme-fabrics/ctl/nvme2/";
    const std::string why = "/nsid (is it an NVMe namespace of a running controller?)";
    EXPECT_EQ(e[0],
              "/dev/nvme2n1: " + f.d("nvme2n1") + ": no namespace ID in " + ctl + "nvme2n1" + why);
    EXPECT_EQ(e[1],
              "/dev/ng2n1: " + f.d("ng2n1") + ": no namespace ID in " + ctl + "nvme2n1" + why);
    EXPECT_EQ(e[2],
              "/dev/nvme2n2: " + f.d("nvme2n2") + ": no namespace ID in " + ctl + "nvme2n2" + why);
    EXPECT_EQ(e[3],
              "/dev/ng2n3: " + f.d("ng2n3") + ": no namespace ID in " + ctl + "nvme2n3" + why);
    EXPECT_EQ(e[4],
              "/dev/nvme2n4: " + f.d("nvme2n4") + ": no namespace ID in " + ctl + "nvme2n4" + why);
}

TEST_F(ResolveNvme, MissingGenericNodeIsAClearError) {
    // In sysfs but not in /dev (udev did not create it), or not even in sysfs (before Linux 5.13).
    f.nvme_ns({.parent = "nvme2", .head = 1, .wwid = std::string(kNsWwid3), .ng_node = false});
    f.nvme_ns({.parent = "nvme3", .head = 1, .ng_sysfs = false, .ng_node = false});
    auto r = resolve({"/dev/nvme2n1", "/dev/nvme3n1", "/dev/nvme0n1"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::not_found);
    auto e = lines(r.error().msg);
    ASSERT_EQ(e.size(), 2u) << r.error().msg;
    const std::string why =
        ": NVMe passthrough needs the generic character device (Linux 5.13 or later; udev "
        "creates it)";
    EXPECT_EQ(e[0], "/dev/nvme2n1: no " + f.d("ng2n1") + " for " + f.d("nvme2n1") + why);
    EXPECT_EQ(e[1], "/dev/nvme3n1: no " + f.d("ng3n1") + " for " + f.d("nvme3n1") + why);
    // A generic node nobody knows in sysfs: by name, as for sg nodes.
    FakeSystem::write(f.d("ng9n9"), "");
    auto g = errors({"/dev/ng9n9"});
    ASSERT_EQ(g.size(), 1u);
    EXPECT_EQ(g[0],
              "/dev/ng9n9: unknown to sysfs (" + f.sys + "/class/block/ng9n9 does not exist)");
}

TEST_F(ResolveNvme, PartitionAsksForTheWholeNamespace) {
    f.nvme_partition("nvme0n1", 1);
    f.nvme_partition("nvme0n2", 3);
    auto e = errors({"/dev/nvme0n1p1"});
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0], "/dev/nvme0n1p1: is a partition; give the whole disk " + f.d("nvme0n1"));
    // Matched by a glob with its namespace, a partition is dropped; alone, it is an error.
    auto r = resolve({"/dev/nvme0n*"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ(r->at(0).paths.at(0).ng_node, f.d("ng0n1"));
    EXPECT_EQ(r->at(1).paths.at(0).ng_node, f.d("ng0n2"));
    auto p = errors({"/dev/nvme0n2p*"});
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0], f.d("nvme0n2p3") + ": is a partition; give the whole disk " + f.d("nvme0n2"));
}

TEST_F(ResolveNvme, GlobOverGenericNodes) {
    auto r = resolve({"/dev/ng*"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 2u);  // ng0n1 and ng1n1 are one namespace
    EXPECT_EQ(r->at(0).name, f.d("ng0n1"));
    EXPECT_EQ(r->at(0).paths.size(), 2u);
    EXPECT_EQ(r->at(1).wwid, kNsWwid3);
}

TEST_F(ResolveNvme, MixOfScsiAndNvmeInOneCall) {
    auto r = resolve({"/dev/sdb", "/dev/nvme0n2", "/dev/sg3", "/dev/ng1n1", "/dev/sdc",
                      "sim:/run/prsim.sock:4", "/dev/nvme0n1"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 5u);
    EXPECT_EQ(r->at(0).wwid, kWwidA);
    ASSERT_EQ(r->at(0).paths.size(), 2u);  // sdb and sdc
    EXPECT_EQ(r->at(0).paths[0].kind, PathSpec::Kind::sg);
    EXPECT_EQ(r->at(0).paths[1].sg_node, f.d("sg2"));
    EXPECT_EQ(r->at(1).wwid, kNsWwid3);
    expect_path(r->at(1).paths.at(0), "nvme0", 3, f.d("ng0n2"), f.d("nvme0n2"));
    EXPECT_EQ(r->at(2).wwid, kWwidB);
    EXPECT_EQ(r->at(2).paths.at(0).kind, PathSpec::Kind::sg);
    EXPECT_EQ(r->at(3).name, "/dev/ng1n1");
    EXPECT_EQ(r->at(3).wwid, kNsWwid1);
    ASSERT_EQ(r->at(3).paths.size(), 2u);  // ng1n1, then nvme0n1 from the last argument
    expect_path(r->at(3).paths[0], "nvme1", 1, f.d("ng1n1"), f.d("nvme1n1"));
    expect_path(r->at(3).paths[1], "nvme0", 1, f.d("ng0n1"), f.d("nvme0n1"));
    EXPECT_EQ(r->at(4).paths.at(0).kind, PathSpec::Kind::sim);

    // Errors of both kinds come together, in argument order.
    f.partition("sdb", 1);
    f.nvme_partition("nvme0n1", 1);
    auto e = errors({"/dev/sdb1", "/dev/nvme0n1", "/dev/nvme0n1p1", "/dev/sdq", "/dev/nvme5n1"});
    ASSERT_EQ(e.size(), 4u);
    EXPECT_EQ(e[0], "/dev/sdb1: is a partition; give the whole disk " + f.d("sdb"));
    EXPECT_EQ(e[1], "/dev/nvme0n1p1: is a partition; give the whole disk " + f.d("nvme0n1"));
    EXPECT_EQ(e[2], "/dev/sdq: does not exist");
    EXPECT_EQ(e[3], "/dev/nvme5n1: does not exist");
}

TEST_F(ResolveNvme, NamespaceOfAPciController) {
    f.nvme_ctrl(4, /*pci=*/true);
    f.nvme_ns({.parent = "nvme4", .head = 1, .wwid = std::string("eui.0025388b71b2c3d4")});
    auto r = resolve({"/dev/nvme4n1"});
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).wwid, "eui.0025388b71b2c3d4");
    expect_path(r->at(0).paths.at(0), "nvme4", 1, f.d("ng4n1"), f.d("nvme4n1"));
}

TEST(ResolveNvmeHead, NativeMultipathHeadIsOnePath) {
    // nvme_core multipath=Y: two controllers of subsystem 0 share head nvme0n1 (and its generic
    // node ng0n1, both in the subsystem's directory); their own path devices are hidden. The head
    // is one path: the kernel picks the controller per command.
    FakeSystem f;
    f.nvme_hidden_path("nvme0", "nvme0c0n1");
    f.nvme_hidden_path("nvme1", "nvme0c1n1");
    f.nvme_ns({.parent = "nvme-subsys0", .head = 1, .nsid = "4\n", .wwid = std::string(kNsWwid1)});
    FakeSystem::link("../../nvme0n1", f.dev + "/disk/by-id/nvme-uuid.5052464e");
    auto r = resolve_devices({"/dev/nvme0n1", "/dev/ng0n1", "/dev/disk/by-id/nvme-uuid.5052464e"},
                             f.opts());
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, "/dev/nvme0n1");
    EXPECT_EQ(r->at(0).wwid, kNsWwid1);
    ASSERT_EQ(r->at(0).paths.size(), 1u);
    const PathSpec& p = r->at(0).paths[0];
    EXPECT_EQ(p.kind, PathSpec::Kind::nvme);
    EXPECT_EQ(p.ctrl, "nvme-subsys0");
    EXPECT_EQ(p.nsid, 4u);
    EXPECT_EQ(p.ng_node, f.d("ng0n1"));
    EXPECT_EQ(p.block, f.d("nvme0n1"));
}

TEST(ResolveNvmeDevNumbers, RealNodesAreLookedUpByMajorMinor) {
    FakeSystem f;
    f.nvme_ns({.parent = "nvme0", .head = 1, .nsid = "2\n", .wwid = std::string(kNsWwid1)});
    // Names sysfs does not know, outside dev_root's top level: only their numbers tell.
    fs::create_directories(f.root + "/elsewhere");
    const std::string blk = f.root + "/elsewhere/quorum-ns";
    if (::mknod(blk.c_str(), S_IFBLK | 0600, makedev(259, 0)) != 0)
        GTEST_SKIP() << "mknod needs CAP_MKNOD: " << std::strerror(errno);
    const std::string chr = f.root + "/elsewhere/quorum-ng";
    ASSERT_EQ(::mknod(chr.c_str(), S_IFCHR | 0600, makedev(242, 0)), 0);
    auto r = resolve_devices({blk, chr}, f.opts());
    ASSERT_TRUE(r.ok()) << r.error().msg;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->at(0).name, blk);
    ASSERT_EQ(r->at(0).paths.size(), 1u);
    EXPECT_EQ(r->at(0).paths[0].ng_node, f.d("ng0n1"));
    EXPECT_EQ(r->at(0).paths[0].nsid, 2u);
}

TEST(ResolveNvmeDevNumbers, ControllerNodeIsRefusedSayingWhatToGive) {
    // /dev/nvme0 is the controller's character device: no namespace, nothing to reserve.
    FakeSystem f;
    f.nvme_ns({.parent = "nvme0", .head = 1, .wwid = std::string(kNsWwid1)});
    const std::string ctrl = f.root + "/elsewhere/nvme0";
    fs::create_directories(f.root + "/elsewhere");
    if (::mknod(ctrl.c_str(), S_IFCHR | 0600, makedev(243, 0)) != 0)
        GTEST_SKIP() << "mknod needs CAP_MKNOD: " << std::strerror(errno);
    // And as /dev/nvme0 itself: dev_root's node replaced by the real one.
    fs::remove(f.d("nvme0"));
    ASSERT_EQ(::mknod(f.d("nvme0").c_str(), S_IFCHR | 0600, makedev(243, 0)), 0);
    auto r = resolve_devices({ctrl, "/dev/nvme0", "/dev/nvme0n1"}, f.opts());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    auto e = lines(r.error().msg);
    ASSERT_EQ(e.size(), 2u) << r.error().msg;
    const std::string why =
        ": not a SCSI device (an NVMe controller or path; give a namespace, /dev/nvmeXnY or "
        "/dev/ngXnY)";
    EXPECT_EQ(e[0], ctrl + why);
    EXPECT_EQ(e[1], "/dev/nvme0" + why);
}

// ---- VPD page 83h

using devices::normalize_wwid;
using devices::vpd83_lun_id;

std::string id_of(const std::string& h) {
    Bytes b = hex(h);
    return vpd83_lun_id(b);
}

TEST(Vpd83, LioStylePagePicksTheLuNaa) {
    // The designators LIO (target_core_spc.c, spc_emulate_evpd_83) returns, in its order: NAA 6h
    // (LU), T10 vendor ID with its NUL counted (LU), relative target port (port), target port group
    // (port), LU group (LU, type 6), SCSI name string of the target port (port) and of the target
    // device (10b). Only the NAA names the LU.
    const std::string page =
        "00 83 00 7f"
        " 01 03 00 10 60 01 40 5d 1c 8e 3f 0a 8b 7c 6d 5e 4f 3a 2b 1c"
        " 02 01 00 13 4c 49 4f 2d 4f 52 47 20 62 6c 6f 63 6b 30 3a 61 62 63 00"
        " 51 94 00 04 00 00 00 01"
        " 51 95 00 04 00 00 00 00"
        " 01 06 00 04 00 00 00 00"
        " 53 98 00 20 69 71 6e 2e 32 30 30 33 2d 30 31 2e 6f 72 67 2e 78 3a 74 2c 74 2c 30 78 30 "
        "30 30 31"
        "             00 00 00 00"
        " 53 a8 00 14 69 71 6e 2e 32 30 30 33 2d 30 31 2e 6f 72 67 2e 78 3a 74 00";
    EXPECT_EQ(hex(page).size(), 0x7fu + 4);
    EXPECT_EQ(id_of(page), kWwidA);
}

TEST(Vpd83, PreferenceOrder) {
    // NAA 8 bytes, then EUI-64 16 bytes: the longer EUI wins.
    EXPECT_EQ(id_of("00 83 00 20  01 03 00 08 50 01 40 50 00 00 00 01"
                    "             01 02 00 10 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff"),
              "eui.00112233445566778899aabbccddeeff");
    // EUI-64 8 bytes, then NAA 8 bytes: NAA replaces an EUI that is not longer.
    EXPECT_EQ(id_of("00 83 00 18  01 02 00 08 00 11 22 33 44 55 66 77"
                    "             01 03 00 08 50 01 40 50 00 00 00 01"),
              "naa.5001405000000001");
    // NAA 8 bytes, then EUI-64 8 bytes: a tie keeps the NAA.
    EXPECT_EQ(id_of("00 83 00 18  01 03 00 08 50 01 40 50 00 00 00 01"
                    "             01 02 00 08 00 11 22 33 44 55 66 77"),
              "naa.5001405000000001");
    // EUI-64 12 bytes.
    EXPECT_EQ(id_of("00 83 00 10  01 02 00 0c 00 11 22 33 44 55 66 77 88 99 aa bb"),
              "eui.00112233445566778899aabb");
    // A SCSI name string beats NAA 16 only when 4 bytes longer (20 here: yes).
    EXPECT_EQ(
        id_of(
            "00 83 00 2c  01 03 00 10 60 01 40 5d 1c 8e 3f 0a 8b 7c 6d 5e 4f 3a 2b 1c"
            "             03 08 00 14 6e 61 61 2e 36 30 30 31 34 30 35 41 42 43 44 45 00 00 00 00"),
        "naa.6001405ABCDE");
    // ... a 16-byte name string after NAA 16 does not.
    EXPECT_EQ(id_of("00 83 00 28  01 03 00 10 60 01 40 5d 1c 8e 3f 0a 8b 7c 6d 5e 4f 3a 2b 1c"
                    "             03 08 00 10 6e 61 61 2e 36 30 30 31 34 30 35 41 00 00 00 00"),
              kWwidA);
    // T10 vendor ID alone is used; after anything else it is not.
    EXPECT_EQ(id_of("00 83 00 10  02 01 00 0c 4c 49 4f 2d 4f 52 47 20 61 62 63 00"),
              "t10.LIO-ORG abc");
    EXPECT_EQ(id_of("00 83 00 1c  01 03 00 08 50 01 40 50 00 00 00 01"
                    "             02 01 00 0c 4c 49 4f 2d 4f 52 47 20 61 62 63 64"),
              "naa.5001405000000001");
    // Designators of the target port (01b) or target device (10b) are ignored.
    EXPECT_EQ(id_of("00 83 00 0c  01 13 00 08 50 01 40 50 00 00 00 01"), "");
    EXPECT_EQ(id_of("00 83 00 0c  01 23 00 08 50 01 40 50 00 00 00 01"), "");
    // An NAA of a length Linux does not print (12) is skipped, the earlier pick kept.
    EXPECT_EQ(id_of("00 83 00 1c  01 03 00 08 50 01 40 50 00 00 00 01"
                    "             01 03 00 0c 00 00 00 00 00 00 00 00 00 00 00 00"),
              "naa.5001405000000001");
}

TEST(Vpd83, HostileInput) {
    EXPECT_EQ(id_of(""), "");
    EXPECT_EQ(id_of("00 83 00"), "");
    EXPECT_EQ(id_of("00 80 00 0c  01 03 00 08 50 01 40 50 00 00 00 01"), "");  // not page 83h
    // PAGE LENGTH larger than the bytes: walk what is there.
    EXPECT_EQ(id_of("00 83 ff ff  01 03 00 08 50 01 40 50 00 00 00 01"), "naa.5001405000000001");
    // A designator running past the page ends the walk.
    EXPECT_EQ(id_of("00 83 00 0c  01 03 00 08 50 01 40 50 00 00 00 01  01 03 00 10 60 01"),
              "naa.5001405000000001");
    // PAGE LENGTH cuts the NAA.
    EXPECT_EQ(id_of("00 83 00 08  01 03 00 08 50 01 40 50 00 00 00 01"), "");
    // Every truncation of a valid page reads only what it has (the NAA once complete), and a
    // maximal noise page is walked safely.
    const Bytes full =
        hex("00 83 00 2c  01 03 00 10 60 01 40 5d 1c 8e 3f 0a 8b 7c 6d 5e 4f 3a 2b 1c"
            "             03 08 00 14 6e 61 61 2e 36 30 30 31 34 30 35 41 42 43 44 45 00 00 00 00");
    ASSERT_EQ(vpd83_lun_id(full), "naa.6001405ABCDE");
    test::for_each_truncation(full, [](ByteView b) {
        EXPECT_EQ(vpd83_lun_id(b), b.size() >= 24 ? kWwidA : "") << b.size() << " bytes";
    });
    Bytes noise(4 + 65535);
    uint32_t x = 12345;
    for (auto& v : noise) v = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
    noise[1] = 0x83;
    noise[2] = noise[3] = 0xff;
    (void)vpd83_lun_id(noise);
    // A name string with control characters comes out escaped.
    EXPECT_EQ(id_of("00 83 00 0c  03 08 00 08 61 1b 5b 32 4a 62 00 00"), "a\\x1b[2Jb");
}

TEST(Vpd83, NormalizeWwid) {
    EXPECT_EQ(normalize_wwid("naa.600140512345\n"), "naa.600140512345");
    EXPECT_EQ(normalize_wwid(std::string("iqn.x:y\0\0\0\n", 11)), "iqn.x:y");
    EXPECT_EQ(normalize_wwid("t10.ATA     QEMU HARDDISK   QM00001     \n"),
              "t10.ATA     QEMU HARDDISK   QM00001");
    EXPECT_EQ(normalize_wwid("a\tb\x7f"), "a\\x09b\\x7f");
    EXPECT_EQ(normalize_wwid(""), "");
}

}  // namespace
}  // namespace prfence::engine
