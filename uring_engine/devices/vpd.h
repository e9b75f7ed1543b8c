// SPDX-License-Identifier: MIT
// The logical unit's identifier from VPD page 83h (Device Identification), spelled the way Linux
// spells it in /sys/class/scsi_device/H:C:T:L/device/wwid. Private to devices/: resolve.cpp falls
// back to it when a kernel has the vpd_pg83 attribute but no readable wwid attribute (wwid arrived
// in Linux 4.5, commit 248d4fe95f23 "scsi: export 'wwid' to sysfs"; reading it fails when no
// designator qualifies).
//
// Linux (drivers/scsi/scsi_lib.c, scsi_vpd_lun_id) looks only at designators whose ASSOCIATION is
// the logical unit (00b) and picks one by length and type, walking the page in order: a SCSI name
// string (type 8) wins when it is at least 4 bytes longer than the current pick; NAA (type 3) and
// EUI-64 (type 2) replace a pick that is not longer, with an NAA kept over an EUI-64 of the same
// length; a T10 vendor ID (type 1) is taken only while nothing else is. Other designator types
// (relative target port, target port group, LU group, MD5) never name the LU. The spellings are:
//   NAA, 8 or 16 bytes         "naa." + lowercase hex          e.g.
//   naa.6001405d1c8e3f0a8b7c6d5e4f3a2b1c EUI-64, 8, 12 or 16 bytes  "eui." + lowercase hex SCSI
//   name string           the designator's text as is (it starts "naa.", "eui." or "iqn.") T10
//   vendor ID              "t10." + the designator's text
// vpd83_lun_id follows the same walk so that both sources group paths alike. Differences, all on
// input Linux would render with escapes or read past: a T10 vendor ID with a non-printable byte is
// skipped, a designator that runs past the page (or the bytes read) ends the walk instead of being
// read past; a T10 vendor ID's trailing NULs (LIO counts its terminator into the length) are
// dropped rather than escaped.
#pragma once

#include <string>
#include <string_view>

#include "uring_engine/common/bytes.h"

namespace prfence::engine::devices {

// The identifier, normalized by normalize_wwid; "" when the page names none (or is not a page 83h).
// Safe on any bytes: every length is checked against the span.
std::string vpd83_lun_id(ByteView page);

// What a wwid read from sysfs (or produced above) is compared as: cut at the first NUL or newline
// (a SCSI name string is NUL-padded, and the sysfs attribute carries that padding and a newline),
// trailing blanks dropped, and any remaining byte outside printable ASCII written as \xHH so that a
// hostile device cannot put terminal escapes into prfence's output.
std::string normalize_wwid(std::string_view raw);

}  // namespace prfence::engine::devices
