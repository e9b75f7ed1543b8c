// SPDX-License-Identifier: MIT
// Operations as jobs: checks an OpSpec (uring_engine/model/operation.h) once and builds each LU's
// job from it, so that direct mode and the daemon get the same validation, the same messages and
// the same plans.
#pragma once

#include <functional>
#include <memory>

#include "uring_engine/common/result.h"
#include "uring_engine/model/operation.h"
#include "uring_engine/policy/executor.h"

namespace prfence::engine {

using JobMaker = std::function<std::unique_ptr<LunJob>()>;

// Checks `spec` against its operation (required values, combinations SPC-4 forbids, takeover
// without force, fencing our own key) and returns what builds each LUN's job. Errors are
// invalid_argument with a message naming the option as prfence spells it ("--key is required").
Result<JobMaker> make_operation(const OpSpec& spec);

}  // namespace prfence::engine
