#pragma once

#include <latflow/component.h>

#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>

namespace latflow {

/// A named function of a batch of configurations.
/// measure: (B, field shape...) -> (B) float64, one value per
/// configuration; the estimate reported is its (weighted) mean.
class BOOST_SYMBOL_VISIBLE Observable : public Component {
 public:
  using Component::Component;
  static constexpr const char* kKind = "observable";
  std::string kind() const override { return kKind; }

  /// Name used in summaries and JSON output ("mean_plaquette").
  virtual std::string name() const = 0;
  /// One value per configuration, float64, no autograd needed.
  virtual torch::Tensor measure(const torch::Tensor& configs) const = 0;
};

/// An observable from a name and a function. The function's code must stay
/// loaded while the observable lives: keep the action that made it.
std::shared_ptr<Observable> make_observable(
    std::string name, std::function<torch::Tensor(const torch::Tensor&)> fn);

}  // namespace latflow
