#include <latflow/observable.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actions.h"
#include "gauge.h"
#include "wilson_dirac.h"

namespace latflow::u1 {

namespace {

constexpr const char* kName = "schwinger_wilson";
// Configurations are processed in chunks whose matrices take about this
// many bytes, so that a large evaluation batch does not hold them all.
constexpr int64_t kChunkBytes = int64_t{128} << 20;

/// How log|det D| is computed.
enum class Method { kDense, kEvenOdd };

/// The fermion matrix whose determinant is det D, for either method.
struct FermionMatrix {
  std::shared_ptr<const WilsonDirac> dirac;
  Method method;
  torch::Dtype complex_dtype;

  int64_t size() const {
    return method == Method::kDense ? 2 * dirac->volume() : dirac->volume();
  }

  torch::Tensor operator()(const torch::Tensor& theta) const {
    return method == Method::kDense ? dirac->dense(theta, complex_dtype)
                                    : dirac->even_odd(theta, complex_dtype);
  }

  /// fn applied to chunks of the batch, results concatenated.
  torch::Tensor map_chunks(
      const torch::Tensor& theta,
      const std::function<torch::Tensor(const torch::Tensor&)>& fn) const {
    const int64_t bytes_per_config =
        size() * size() * static_cast<int64_t>(c10::elementSize(complex_dtype));
    const int64_t chunk = std::max<int64_t>(1, kChunkBytes / bytes_per_config);
    if (theta.size(0) <= chunk) return fn(theta);
    std::vector<torch::Tensor> results;
    for (const auto& part : theta.split(chunk)) results.push_back(fn(part));
    return torch::cat(results);
  }

  /// log|det D|, (B) in the real counterpart of complex_dtype.
  torch::Tensor log_abs_det_d(const torch::Tensor& theta) const {
    return map_chunks(theta, [this](const torch::Tensor& part) {
      return log_abs_det((*this)(part));
    });
  }

  /// (1/V) Re Tr D^-1, (B) float64: one flavour, the trace over sites and
  /// both spin components, D in the hopping normalisation above (for
  /// D_W = (m + 2) - hops / 2 = D / (2 kappa) multiply by 2 kappa). The
  /// free field gives (1/V) sum_p 2a / (a^2 + |b|^2) (PHYSICS.md 3.3).
  /// Tr D^-1 = 2 Tr M^-1 for the even-odd matrix M (wilson_dirac.h).
  torch::Tensor chiral_condensate(const torch::Tensor& theta) const {
    torch::NoGradGuard no_grad;
    const double factor = (method == Method::kDense ? 1.0 : 2.0) /
                          static_cast<double>(dirac->volume());
    return map_chunks(theta, [this, factor](const torch::Tensor& part) {
      return factor * real_trace_inverse((*this)(part));
    });
  }

  /// Sign of det D, (B) float64: det D is real (gamma_5 = sigma_3
  /// hermiticity), so the sign of the real part of its phase.
  torch::Tensor det_sign(const torch::Tensor& theta) const {
    torch::NoGradGuard no_grad;
    return map_chunks(theta, [this](const torch::Tensor& part) {
      return torch::sign(torch::real(det_phase((*this)(part))))
          .to(torch::kFloat64);
    });
  }
};

/// S = -beta sum_x cos P(x) - flavours log|det D| on (B, 2, L, L) link
/// angles (PHYSICS.md 3.3). The fermion part runs in its own complex
/// dtype; S is returned in the action dtype.
class SchwingerWilsonAction final : public Action {
 public:
  SchwingerWilsonAction(const Params& params, const BuildContext& context)
      : Action(params),
        L_(params.get_int("L")),
        beta_(params.get_float("beta")),
        flavours_(params.get_int("flavours")),
        dtype_(context.action_dtype) {
    const bool even_odd = params.get_string("logdet") == "even_odd";
    if (even_odd && L_ % 2 != 0) {
      throw params.error(
          "L", fmt::format("must be even for logdet = \"even_odd\" (the "
                           "reduction needs a bipartite lattice), got {}; "
                           "use logdet = \"dense\" for odd L",
                           L_));
    }
    const auto& determinant = params.get_string("determinant");
    torch::Dtype complex_dtype = torch::kComplexDouble;
    if (determinant == "complex64" ||
        (determinant == "auto" && dtype_ != torch::kFloat64)) {
      complex_dtype = torch::kComplexFloat;
    }
    const bool antiperiodic = params.get_string("boundary") == "antiperiodic";
    fermion_ = FermionMatrix{
        std::make_shared<const WilsonDirac>(L_, params.get_float("kappa"),
                                            antiperiodic, context.device),
        even_odd ? Method::kEvenOdd : Method::kDense, complex_dtype};
  }

  FieldSpec field() const override { return {"u1", {2, L_, L_}}; }

  torch::Tensor evaluate(const torch::Tensor& configs) const override {
    const auto [gauge, fermion] = split(configs);
    return (gauge + fermion).to(dtype_);
  }

  std::vector<std::pair<std::string, torch::Tensor>> parts(
      const torch::Tensor& configs) const override {
    const auto [gauge, fermion] = split(configs);
    return {{"gauge", gauge.to(dtype_)}, {"fermion", fermion.to(dtype_)}};
  }

  std::vector<std::shared_ptr<Observable>> observables() const override {
    const int64_t L = L_;
    const FermionMatrix fermion = fermion_;
    auto observables = gauge_observables(L, kName);
    observables.push_back(make_observable(
        "chiral_condensate", [L, fermion](const torch::Tensor& configs) {
          check_links(configs, L, kName);
          return fermion.chiral_condensate(configs);
        }));
    observables.push_back(make_observable(
        "det_sign", [L, fermion](const torch::Tensor& configs) {
          check_links(configs, L, kName);
          return fermion.det_sign(configs);
        }));
    return observables;
  }

 private:
  // The gauge part in the action dtype and the fermion part in the real
  // dtype of the determinant, both promoted to the wider of the two.
  std::pair<torch::Tensor, torch::Tensor> split(
      const torch::Tensor& configs) const {
    check_links(configs, L_, kName);
    const auto theta = configs.to(dtype_);
    const auto gauge = gauge_action(theta, beta_);
    const auto fermion =
        -static_cast<double>(flavours_) * fermion_.log_abs_det_d(theta);
    const auto common =
        torch::promote_types(gauge.scalar_type(), fermion.scalar_type());
    return {gauge.to(common), fermion.to(common)};
  }

  int64_t L_;
  double beta_;
  int64_t flavours_;
  torch::Dtype dtype_;
  FermionMatrix fermion_;
};

}  // namespace

Schema schwinger_wilson_schema() {
  Schema schema;
  schema.add_int("L", 8, "lattice extent in both directions").at_least(2);
  schema.add_float("beta", 2.0, "gauge coupling").at_least(0);
  // 0 < kappa < 1/2 is bare mass m = 1/(2 kappa) - 2 > -1: the branch of
  // the physical fermion (massless at kappa = 1/4 for free fields, near
  // 0.276 at beta = 2), away from the doubler branch at m = -2.
  schema
      .add_float("kappa", 0.276, "hopping parameter; bare mass 1/(2 kappa) - 2")
      .above(0)
      .below(0.5);
  schema.add_int("flavours", 2, "degenerate flavours, weight |det D|^N_f")
      .at_least(1);
  schema.add_choice("boundary", "antiperiodic", {"antiperiodic", "periodic"},
                    "fermion boundary condition in direction 0 (direction "
                    "1 is periodic)");
  schema.add_choice("logdet", "even_odd", {"even_odd", "dense"},
                    "log det D by the even-odd Schur complement or the "
                    "dense 2V x 2V matrix");
  schema.add_choice("determinant", "auto", {"auto", "complex128", "complex64"},
                    "dtype of the fermion matrix; auto: complex128 for a "
                    "float64 action, complex64 otherwise");
  return schema;
}

std::shared_ptr<Action> make_schwinger_wilson(const Params& params,
                                              const BuildContext& context) {
  return std::make_shared<SchwingerWilsonAction>(params, context);
}

}  // namespace latflow::u1
