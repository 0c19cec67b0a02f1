#include "gauge_flow.h"

#include <latflow/error.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <utility>

#include "circle_map.h"

namespace latflow::u1_equivariant {
namespace {

// Scale of the last convolution's initial weights (its bias starts at
// zero): zero raw map parameters are the identity, so the untrained flow
// is close to it.
constexpr double kLastLayerInitScale = 1e-2;

// P(x) = theta_0(x) + theta_1(x + e0) - theta_0(x + e1) - theta_1(x),
// (B, 2, L0, L1) -> (B, L0, L1) in [0, 2 pi).
torch::Tensor plaquette(const torch::Tensor& theta) {
  const auto theta0 = theta.select(1, 0);
  const auto theta1 = theta.select(1, 1);
  return wrap_angle(theta0 + torch::roll(theta1, {-1}, {1}) -
                    torch::roll(theta0, {-1}, {2}) - theta1);
}

// The 2x1 loop along direction d at x, P(x) + P(x + e_d), as an angle.
torch::Tensor loop_2x1(const torch::Tensor& plaq, int64_t direction) {
  return wrap_angle(plaq + torch::roll(plaq, {-1}, {1 + direction}));
}

torch::nn::Sequential make_conditioner(const GaugeFlowOptions& options,
                                       int64_t outputs) {
  std::vector<int64_t> channels{input_channels(options.masks)};
  channels.insert(channels.end(), options.hidden.begin(), options.hidden.end());
  channels.push_back(outputs);

  torch::nn::Sequential net;
  const auto convs = static_cast<int64_t>(channels.size()) - 1;
  for (int64_t i = 0; i < convs; ++i) {
    const auto dilation = options.dilations[i];
    net->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(channels[i], channels[i + 1], options.kernel)
            .dilation(dilation)
            .padding(dilation * (options.kernel - 1) / 2)
            .padding_mode(torch::kCircular)));
    if (i + 1 < convs) net->push_back(torch::nn::LeakyReLU());
  }

  torch::NoGradGuard no_grad;
  auto last = net->ptr<torch::nn::Conv2dImpl>(net->size() - 1);
  last->weight.mul_(kLastLayerInitScale);
  last->bias.zero_();
  return net;
}

// Masks of one layer on the device and in the dtype of the angles.
struct DeviceMask {
  int64_t mu = 0;
  double sign = 1.0;
  torch::Tensor active;  // bool
  torch::Tensor frozen;  // 0/1
  torch::Tensor loops;   // 0/1, or undefined
};

/// Gauge-equivariant plaquette coupling flow (Kanwar et al. arXiv
/// 2003.06413; Albergo et al. arXiv 2101.08176, 2202.11712).
///
/// Layer i maps the active plaquettes P by a circle map f whose
/// parameters a CNN computes from cos and sin of the frozen plaquettes
/// (and 2x1 loops), and adds sign * (f(P) - P) to the one updated link of
/// each active plaquette, so that the plaquette becomes f(P). Frozen
/// plaquettes and loops hold no updated link, hence the Jacobian is
/// triangular with log-det sum log f'(P) over active plaquettes. Every
/// input of the conditioner is gauge invariant and every update is a
/// shift of a link by a gauge-invariant angle, so f(g . U) = g . f(U).
class GaugeFlow final : public Flow {
 public:
  GaugeFlow(Params params, GaugeFlowOptions options,
            const BuildContext& context)
      : Flow(std::move(params)), options_(std::move(options)) {
    if (options_.map == CircleMapKind::kSpline) {
      map_ = std::make_unique<RationalQuadraticSpline>(options_.bins);
    } else {
      map_ = std::make_unique<NcpMixture>(options_.components);
    }
    auto list = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < options_.layers; ++i) {
      masks_.push_back(make_layer_mask(options_.masks, i, options_.extent0,
                                       options_.extent1));
      conditioners_.push_back(make_conditioner(options_, map_->num_params()));
      list->push_back(conditioners_.back());
    }
    to(context.device, context.flow_dtype);
  }

  torch::Tensor sample_prior(int64_t n) override {
    const auto options = parameter_options().dtype(
        field_dtype(parameter_options().dtype().toScalarType()));
    return wrap_angle(
        kTwoPi *
        torch::rand({n, 2, options_.extent0, options_.extent1}, options));
  }

  torch::Tensor prior_log_prob(const torch::Tensor& z) override {
    check_shape(z, "prior_log_prob");
    const double links =
        2.0 * static_cast<double>(options_.extent0 * options_.extent1);
    return torch::full(
        {z.size(0)}, -links * std::log(kTwoPi),
        torch::TensorOptions().dtype(torch::kFloat64).device(z.device()));
  }

  FlowOutput forward(const torch::Tensor& z) override {
    return run(z, /*invert=*/false, "forward");
  }

  FlowOutput inverse(const torch::Tensor& x) override {
    return run(x, /*invert=*/true, "inverse");
  }

 private:
  torch::TensorOptions parameter_options() const {
    const auto& weight =
        conditioners_.front()->ptr<torch::nn::Conv2dImpl>(0)->weight;
    return torch::TensorOptions()
        .dtype(weight.scalar_type())
        .device(weight.device());
  }

  void check_shape(const torch::Tensor& t, const char* what) const {
    LATFLOW_CHECK(t.dim() == 4 && t.size(1) == 2 &&
                      t.size(2) == options_.extent0 &&
                      t.size(3) == options_.extent1,
                  "flow/u1_equivariant {}: expected link angles of shape "
                  "(B, 2, {}, {}), got {}",
                  what, options_.extent0, options_.extent1,
                  fmt::to_string(fmt::join(t.sizes(), ", ")));
  }

  DeviceMask device_mask(int64_t layer, const torch::TensorOptions& work) {
    const auto& mask = masks_[layer];
    DeviceMask m;
    m.mu = mask.mu;
    m.sign = mask.sign;
    m.active = mask.active.to(work.device());
    m.frozen = mask.frozen.to(work);
    if (mask.loops.defined()) m.loops = mask.loops.to(work);
    return m;
  }

  // Raw circle-map parameters (B, L0, L1, n) from the frozen plaquettes
  // (and loops), in the working dtype.
  torch::Tensor map_params(int64_t layer, const torch::Tensor& plaq,
                           const DeviceMask& mask, torch::Dtype flow_dtype) {
    std::vector<torch::Tensor> features{torch::cos(plaq) * mask.frozen,
                                        torch::sin(plaq) * mask.frozen};
    if (mask.loops.defined()) {
      for (int64_t d = 0; d < 2; ++d) {
        const auto loop = loop_2x1(plaq, d);
        const auto on = mask.loops.select(0, d);
        features.push_back(torch::cos(loop) * on);
        features.push_back(torch::sin(loop) * on);
      }
    }
    const auto input = torch::stack(features, 1).to(flow_dtype);
    return conditioners_[layer]
        ->forward(input)
        .to(plaq.scalar_type())
        .permute({0, 2, 3, 1});
  }

  FlowOutput run(const torch::Tensor& input, bool invert, const char* what) {
    check_shape(input, what);
    const auto flow_dtype = parameter_options().dtype().toScalarType();
    const auto work = parameter_options().dtype(field_dtype(flow_dtype));

    auto theta = wrap_angle(input.to(work));
    auto log_det = torch::zeros({input.size(0)}, work.dtype(torch::kFloat64));
    for (int64_t step = 0; step < options_.layers; ++step) {
      const int64_t layer = invert ? options_.layers - 1 - step : step;
      const auto mask = device_mask(layer, work);

      const auto plaq = plaquette(theta);
      const auto raw = map_params(layer, plaq, mask, flow_dtype);
      const auto mapped =
          invert ? map_->inverse(plaq, raw) : map_->forward(plaq, raw);

      // The plaquette moves by the same angle as its updated link, times
      // the link's orientation in it.
      const auto link = theta.select(1, mask.mu);
      const auto updated = torch::where(
          mask.active, wrap_angle(link + mask.sign * (mapped.y - plaq)), link);
      theta = mask.mu == 0 ? torch::stack({updated, theta.select(1, 1)}, 1)
                           : torch::stack({theta.select(1, 0), updated}, 1);

      const auto local = mapped.log_derivative.to(torch::kFloat64);
      log_det =
          log_det + torch::where(mask.active, local, torch::zeros_like(local))
                        .sum({1, 2});
    }
    return {theta, log_det};
  }

  GaugeFlowOptions options_;
  std::unique_ptr<CircleMap> map_;
  std::vector<LayerMask> masks_;
  std::vector<torch::nn::Sequential> conditioners_;
};

}  // namespace

std::shared_ptr<Flow> make_gauge_flow(Params params,
                                      const GaugeFlowOptions& options,
                                      const BuildContext& context) {
  return std::make_shared<GaugeFlow>(std::move(params), options, context);
}

}  // namespace latflow::u1_equivariant
