#pragma once

#include <latflow/params.h>

#include <boost/config.hpp>

#include <string>

namespace latflow {

/// Base of every pluggable component: it knows its kind ("action"), its
/// type ("phi4") and the validated parameters it was built from.
class BOOST_SYMBOL_VISIBLE Component {
 public:
  Component() = default;
  explicit Component(Params params) : params_(std::move(params)) {}
  virtual ~Component() = default;

  /// Kind of component: "action", "flow", "estimator", "sampler",
  /// "observable".
  virtual std::string kind() const = 0;
  /// Registered type name, as written after `type =` in an experiment.
  const std::string& type() const { return params_.type(); }
  const Params& params() const { return params_; }

 private:
  Params params_;
};

}  // namespace latflow
