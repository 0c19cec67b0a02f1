#pragma once

#include <chrono>
#include <map>
#include <string>

namespace latflow {

/// Accumulates wall time per named phase of a training step ("forward",
/// "action", "inverse", "backward"). A phase ends at the next mark().
class PhaseTimer {
 public:
  /// Starts timing from now.
  void start();
  /// Closes the running phase under `phase` and starts the next one.
  void mark(const std::string& phase);
  const std::map<std::string, double>& seconds() const { return seconds_; }
  void clear() { seconds_.clear(); }

 private:
  std::chrono::steady_clock::time_point last_;
  std::map<std::string, double> seconds_;
};

/// Marks `phase` on timer when timer is not null.
inline void mark(PhaseTimer* timer, const std::string& phase) {
  if (timer != nullptr) timer->mark(phase);
}

}  // namespace latflow
