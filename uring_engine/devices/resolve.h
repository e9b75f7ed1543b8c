// SPDX-License-Identifier: MIT
// Device resolution: what an operator types (device nodes, by-id links, multipath maps, globs, list
// files, prsim LUNs) becomes the logical units to fence and, per LU, every path (sg node) to it.
//
// Accepted arguments:
// - /dev/sdX (any SCSI block device): its sg node is found through sysfs.
// - /dev/sgN: an sg node.
// - /dev/disk/by-id/... and any other symlink: followed (realpath) to the node it names.
// - /dev/mapper/NAME, /dev/dm-N: a device-mapper map; every path under it (dm-N/slaves,
// recursively,
//   so an LVM volume on multipath maps gives the paths of each map below it).
// - A glob (* ? [): expanded like the shell (sorted); matching nothing is an error.
// - @FILE: one argument per line; '#' starts a comment at the start of a line or after a blank;
//   blank lines are ignored; relative entries are relative to FILE's directory; lists nest up to 8
//   deep; a list naming nothing is an error.
// - /dev/nvmeXnY, /dev/ngXnY (and links to them): an NVMe namespace, as its generic character
//   device ngXnY (the node io_uring passthrough uses), found beside the block device in sysfs; NSID
//   from <ns>/nsid, identifier from <ns>/wwid ("eui.", "uuid.", "nvme." as the kernel builds it).
//   With native NVMe multipath (nvme_core multipath=Y) nvmeXnY is the head and one path: the
//   kernel picks the controller per command. Without it, each controller's node is a path of its
//   own, and nodes with one identifier are one LU, like SCSI paths.
// - sim:SOCKET:LUNS: prsim LUs and NVMe namespaces, no sysfs involved. LUNS is a comma list of
//   items: N or N-M name LUNs ("0-255", "7", "0-3,8"), numbers 0-65535; nsN or nsN-M (also
//   nsN-nsM) name NVMe namespaces by NSID ("ns1-8"), 1-65535. One list may mix both ("0-3,ns1-2":
//   LUNs 0..3 and namespaces 1 and 2, in the order typed); at most 65535 of them per argument.
//   A namespace's LunSpec wwid and name are "sim:<socket>:ns<N>", its PathSpec Kind::sim with
//   nsid N (sim_lun 0); a LUN's are "sim:<socket>:<N>" with nsid 0.
//
// How a device node is found in sysfs. A block or character device node is looked up by its
// numbers, <sysfs>/dev/block/MAJ:MIN or <sysfs>/dev/char/MAJ:MIN, as sg_map26 and lsscsi do. A node
// sysfs does not know by number, and any regular file standing for a node (the fake trees of the
// tests; nobody can mknod unprivileged), is looked up by name when it sits directly in dev_root:
// sdb as <sysfs>/class/block/sdb, sg3 as <sysfs>/class/scsi_generic/sg3, and in dev_root/mapper by
// the map's name (<sysfs>/block/dm-*/dm/name). A regular file anywhere else is "not a device node",
// so /tmp/sdb never stands for /dev/sdb. Arguments spelled "/dev/..." are taken relative to
// dev_root, so with dev_root "/tmp/t/dev" the argument "/dev/sdb" means /tmp/t/dev/sdb.
//
// From the SCSI device directory D (<sysfs>/block/sdX/device and <sysfs>/class/scsi_generic/sgN/
// device both lead to .../H:C:T:L):
// - hctl: the name of D.
// - sg: D/scsi_generic/sgN (older layouts: D/scsi_generic:sgN), as dev_root/sgN, which must exist.
// - block: D/block/sdX as dev_root/sdX ("" for devices without one, e.g. an enclosure).
// - wwid: D/wwid (Linux >= 4.5); else D/vpd_pg83 parsed the same way (devices/vpd.h); else
//   "hctl:H:C:T:L", which never groups two paths: such paths each become their own LU.
// Paths with one wwid are one LunSpec, named by the argument that first reached it (for paths under
// a device-mapper map, the name of the nearest map: "mpatha"). LunSpecs and paths come in order of
// first appearance; a path reached twice (/dev/sdb and /dev/sg1, or two by-id links) is listed
// once. Paths of one multipath map with different wwids are not forced together: they become
// separate LunSpecs.
//
// Errors (Errc::invalid_argument, not_found or system) name the argument and what to do, one line
// per bad argument, every bad argument in one Error so that an operator fixes everything in one go:
//   /dev/sdb1: is a partition; give the whole disk /dev/sdb
//   /dev/nvme0: not a SCSI device (an NVMe controller or path; give a namespace, ...)
//   /dev/sdb: no sg node for /dev/sdb: load the sg module (modprobe sg)
// Entries of a list file are named "FILE:LINE: ENTRY". A partition matched by a glob is dropped
// silently when its whole disk is among the results (so /dev/disk/by-id/wwn-* does not trip over
// the -partN links) and is an error otherwise. Partitions below a device-mapper map (an LVM volume
// on sdb1, on a kpartx map) stand for their whole device. No device is opened (sysfs is read and
// /dev stat-ed), so resolving cannot disturb one: no udev partition re-read on close.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "uring_engine/common/result.h"

namespace prfence::engine {

struct PathSpec {
    enum class Kind { sg, sim, nvme } kind = Kind::sg;
    std::string sg_node;     // "/dev/sg3" (under dev_root); "" for sim and nvme
    std::string block;       // "/dev/sdb", "/dev/nvme0n1" (under dev_root) or ""
    std::string hctl;        // "1:0:1:0"; "" for sim
    std::string sim_socket;  // sim: the prsim socket as given
    uint32_t sim_lun = 0;    // sim: the LUN (when nsid is 0)
    std::string ng_node;     // nvme: "/dev/ng0n1", the generic node commands go to
    // nvme: the namespace ID (from sysfs, not from the name); sim: the NVMe namespace, 0 for a LUN
    uint32_t nsid = 0;
    std::string ctrl;     // nvme: the controller ("nvme0"), or the subsystem ("nvme-subsys0")
                          // for a native multipath head
    std::string host_id;  // nvme: the controller's host identifier (<ctrl>/hostid); registrations
                          // belong to hosts, so paths with one host_id register once
};

struct LunSpec {
    // What the user typed (the first argument reaching this LU), or the dm map name.
    std::string name;
    // As /sys/block/sdX/device/wwid shows it ("naa.6001405..."); "hctl:H:C:T:L" when the device
    // has no identifier; "sim:<socket>:<lun>" for sim LUs, "sim:<socket>:ns<nsid>" for sim
    // namespaces.
    std::string wwid;
    std::vector<PathSpec> paths;
};

struct ResolveOptions {
    std::string sysfs_root = "/sys";
    std::string dev_root = "/dev";
};

// Resolves every argument; see the top of this file. An empty argument list is an error.
Result<std::vector<LunSpec>> resolve_devices(const std::vector<std::string>& args,
                                             const ResolveOptions& opt = {});

// Resolves a name the kernel prints in its log to the LU behind it, through the same sysfs lookups
// as resolve_devices (no /dev path is typed, so nothing needs to exist under dev_root but the sg
// node): a SCSI address "H:C:T:L" (<sysfs>/bus/scsi/devices/H:C:T:L, or
// <sysfs>/class/scsi_device/H:C:T:L/device), a block device or partition "sdc", "sdc1" (a
// partition stands for its disk), an sg node "sg2", or a block device number "MAJ:MIN"
// (<sysfs>/dev/block/MAJ:MIN, as block tracepoints name devices). The LunSpec has one path (for a
// device-mapper number, every path below the map with the first path's wwid) and is named `name`.
// Errors as resolve_devices's: not_found when sysfs does not know the name.
Result<LunSpec> resolve_kernel_name(std::string_view name, const ResolveOptions& opt = {});

}  // namespace prfence::engine
