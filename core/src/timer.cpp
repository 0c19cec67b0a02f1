#include <latflow/timer.h>

namespace latflow {

void PhaseTimer::start() { last_ = std::chrono::steady_clock::now(); }

void PhaseTimer::mark(const std::string& phase) {
  const auto now = std::chrono::steady_clock::now();
  seconds_[phase] += std::chrono::duration<double>(now - last_).count();
  last_ = now;
}

}  // namespace latflow
