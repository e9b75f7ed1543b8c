// SPDX-License-Identifier: MIT
#include "uring_engine/model/outcome.h"

namespace prfence::engine {

const char* path_state_name(PathOutcome::State s) noexcept {
    switch (s) {
        case PathOutcome::State::unused:
            return "unused";
        case PathOutcome::State::answered:
            return "answered";
        case PathOutcome::State::registered:
            return "registered";
        case PathOutcome::State::dead:
            return "dead";
    }
    return "unknown";
}

}  // namespace prfence::engine
