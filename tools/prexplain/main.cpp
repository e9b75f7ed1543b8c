// SPDX-License-Identifier: MIT
// prexplain: why did I/O hit a reservation conflict? Everything is in app.cpp; see app.h.
#include "tools/prexplain/app.h"

int main(int argc, char** argv) { return prfence::prexplain::run(argc, argv); }
