#pragma once

#include <latflow/component.h>
#include <latflow/observable.h>

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace latflow {

/// Layout of one field configuration.
struct FieldSpec {
  /// "scalar" (real field, shape (L, L)) or "u1" (link angles in
  /// [0, 2 pi), shape (2, L, L)).
  std::string kind;
  /// Shape of one configuration, without the batch dimension.
  std::vector<int64_t> shape;

  /// Number of real degrees of freedom per configuration.
  int64_t numel() const;
};

/// A lattice action S(phi), with p(phi) = exp(-S) / Z.
///
/// Tensors are batch-first: configs has shape (B, field().shape...). The
/// action is built for one real dtype (BuildContext::action_dtype) and the
/// caller passes configurations in that dtype on the action's device.
class BOOST_SYMBOL_VISIBLE Action : public Component {
 public:
  using Component::Component;
  static constexpr const char* kKind = "action";
  std::string kind() const override { return kKind; }

  virtual FieldSpec field() const = 0;
  /// S for each configuration: (B, ...) -> (B), in the action dtype.
  /// Differentiable with respect to configs when differentiable().
  virtual torch::Tensor evaluate(const torch::Tensor& configs) const = 0;
  /// Whether autograd through evaluate() is supported (needed by the
  /// reparametrization and path-gradient estimators).
  virtual bool differentiable() const { return true; }

  /// Named parts whose sum is S ("gauge", "fermion"), for reporting.
  virtual std::vector<std::pair<std::string, torch::Tensor>> parts(
      const torch::Tensor& /*configs*/) const {
    return {};
  }
  /// The model's observables.
  virtual std::vector<std::shared_ptr<Observable>> observables() const {
    return {};
  }
  /// Exact free energy F = -log Z (flat measure), when known.
  virtual std::optional<double> exact_free_energy() const {
    return std::nullopt;
  }
  /// Exact expectation values keyed by observable name, when known.
  virtual std::map<std::string, double> exact_observables() const {
    return {};
  }
};

}  // namespace latflow
