#include <latflow/action.h>
#include <latflow/error.h>
#include <latflow/flow.h>
#include <latflow/plugin.h>
#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace nn = torch::nn;

constexpr double kLogTwoPi = 1.837877066409345483560659472811235279723;

/// Settings shared by every coupling layer of a flow.
struct CouplingOptions {
  int64_t hidden = 16;
  int64_t conv_layers = 2;
  int64_t kernel = 3;
  double scale_bound = 1.0;
  double shift_bound = 1.0;
  std::string activation = "leaky_relu";
  double init_scale = 0.0;
};

/// One checkerboard affine coupling (real NVP, arXiv 1605.08803) on a
/// scalar field (B, L0, L1). Sites with (x0 + x1) % 2 == parity are
/// active: they are scaled and shifted by amounts that depend only on the
/// frozen sites, which pass unchanged, so the Jacobian is triangular.
class CouplingLayerImpl : public nn::Module {
 public:
  CouplingLayerImpl(const CouplingOptions& options,
                    const std::vector<int64_t>& shape, int64_t parity)
      : scale_bound_(options.scale_bound), shift_bound_(options.shift_bound) {
    const auto x0 = torch::arange(shape[0]).unsqueeze(1);
    const auto x1 = torch::arange(shape[1]).unsqueeze(0);
    active_ = register_buffer(
        "active", ((x0 + x1).remainder(2) == parity).to(torch::kFloat32));
    frozen_ = register_buffer("frozen", 1 - active_);

    // Circular padding keeps the lattice periodic and its shape.
    const auto conv = [&](int64_t in, int64_t out) {
      return nn::Conv2d(nn::Conv2dOptions(in, out, options.kernel)
                            .padding(options.kernel / 2)
                            .padding_mode(torch::kCircular));
    };
    int64_t channels = 1;
    for (int64_t i = 0; i < options.conv_layers; ++i) {
      net_->push_back(conv(channels, options.hidden));
      if (options.activation == "tanh") {
        net_->push_back(nn::Tanh());
      } else {
        net_->push_back(nn::LeakyReLU());
      }
      channels = options.hidden;
    }
    auto last = conv(channels, 2);
    // A small (or zero) last layer starts the flow near the identity.
    {
      torch::NoGradGuard no_grad;
      if (options.init_scale > 0) {
        last->weight.normal_(0.0, options.init_scale);
      } else {
        last->weight.zero_();
      }
      last->bias.zero_();
    }
    net_->push_back(last);
    register_module("net", net_);
  }

  /// Log-scale s and shift t, (B, L0, L1) each, zero on frozen sites,
  /// computed from the frozen sites of x alone.
  /// The network runs in the dtype of its weights; s and t come back in
  /// the dtype of x.
  std::pair<torch::Tensor, torch::Tensor> scale_shift(const torch::Tensor& x) {
    const auto net_dtype = active_.scalar_type();
    const auto raw = net_->forward((x * frozen_).to(net_dtype).unsqueeze(1))
                         .to(x.scalar_type());
    auto s = scale_bound_ * torch::tanh(raw.select(1, 0)) * active_;
    auto t = shift_bound_ * torch::tanh(raw.select(1, 1)) * active_;
    return {std::move(s), std::move(t)};
  }

 private:
  double scale_bound_;
  double shift_bound_;
  torch::Tensor active_;
  torch::Tensor frozen_;
  nn::Sequential net_;
};

TORCH_MODULE(CouplingLayer);

/// Real NVP for scalar fields: `layers` checkerboard affine couplings of
/// alternating parity, each phi' = phi * exp(s) + t on its active sites
/// with s, t bounded by tanh and conditioned by a circular CNN on the
/// frozen sites (as in arXiv 1904.12072). The prior is a standard normal
/// per site.
///
/// Configurations are (B, L0, L1) on the flow's device, in the flow dtype
/// or, for a 16-bit flow, in float32: the networks run in 16 bits and the
/// field, the affine maps and log q keep float32's digits, so that the
/// inverse finds the frozen sites the forward pass saw. Log-dets and log
/// densities are (B) float64. The inverse is exact:
/// phi = (phi' - t) * exp(-s), layers in reverse order.
class AffineCouplingFlow final : public latflow::Flow {
 public:
  AffineCouplingFlow(latflow::Params params, const CouplingOptions& options,
                     std::vector<int64_t> shape, int64_t layers,
                     const latflow::BuildContext& context)
      : Flow(std::move(params)),
        shape_(std::move(shape)),
        dtype_(latflow::field_dtype(context.flow_dtype)),
        device_(context.device) {
    for (int64_t i = 0; i < layers; ++i) {
      layers_.push_back(register_module("coupling" + std::to_string(i),
                                        CouplingLayer(options, shape_, i % 2)));
    }
    to(device_, context.flow_dtype);
  }

  torch::Tensor sample_prior(int64_t n) override {
    return torch::randn({n, shape_[0], shape_[1]},
                        torch::TensorOptions().dtype(dtype_).device(device_));
  }

  torch::Tensor prior_log_prob(const torch::Tensor& z) override {
    check_configs(z, "prior_log_prob");
    const auto volume = static_cast<double>(shape_[0] * shape_[1]);
    return -0.5 * z.to(torch::kFloat64).square().sum({1, 2}) -
           0.5 * volume * kLogTwoPi;
  }

  latflow::FlowOutput forward(const torch::Tensor& z) override {
    check_configs(z, "forward");
    auto x = z;
    auto log_det =
        torch::zeros({z.size(0)}, z.options().dtype(torch::kFloat64));
    for (auto& layer : layers_) {
      const auto [s, t] = layer->scale_shift(x);
      x = x * torch::exp(s) + t;
      // Summed in float64: a bfloat16 sum over sites is too coarse.
      log_det = log_det + s.to(torch::kFloat64).sum({1, 2});
    }
    return {x, log_det};
  }

  latflow::FlowOutput inverse(const torch::Tensor& x) override {
    check_configs(x, "inverse");
    auto z = x;
    auto log_det =
        torch::zeros({x.size(0)}, x.options().dtype(torch::kFloat64));
    for (auto layer = layers_.rbegin(); layer != layers_.rend(); ++layer) {
      // The frozen sites are those the forward layer saw, so s and t are
      // recomputed exactly.
      const auto [s, t] = (*layer)->scale_shift(z);
      z = (z - t) * torch::exp(-s);
      log_det = log_det - s.to(torch::kFloat64).sum({1, 2});
    }
    return {z, log_det};
  }

 private:
  void check_configs(const torch::Tensor& configs, const char* where) const {
    LATFLOW_CHECK(configs.dim() == 3 && configs.size(1) == shape_[0] &&
                      configs.size(2) == shape_[1],
                  "flow/affine_coupling {}: configurations must be "
                  "(B, {}, {}), got {}",
                  where, shape_[0], shape_[1], c10::str(configs.sizes()));
    LATFLOW_CHECK(configs.scalar_type() == dtype_,
                  "flow/affine_coupling {}: configurations must be {} (the "
                  "field dtype of this flow), got {}",
                  where, c10::toString(dtype_),
                  c10::toString(configs.scalar_type()));
  }

  std::vector<int64_t> shape_;
  torch::Dtype dtype_;  ///< of the field: float32 for a 16-bit flow
  torch::Device device_;
  std::vector<CouplingLayer> layers_;
};

std::shared_ptr<latflow::Flow> make_flow(const latflow::Params& params,
                                         const latflow::BuildContext& context) {
  LATFLOW_CHECK(context.action != nullptr,
                "flow/affine_coupling: built without an action");
  const auto field = context.action->field();
  if (field.kind != "scalar" || field.shape.size() != 2) {
    throw params.error(
        "type", fmt::format("affine_coupling transforms scalar fields of "
                            "shape (L, L), but action/{} has a \"{}\" field",
                            context.action->type(), field.kind));
  }

  CouplingOptions options;
  options.hidden = params.get_int("hidden");
  options.conv_layers = params.get_int("conv_layers");
  options.kernel = params.get_int("kernel");
  options.scale_bound = params.get_float("scale_bound");
  options.shift_bound = params.get_float("shift_bound");
  options.activation = params.get_string("activation");
  options.init_scale = params.get_float("init_scale");

  if (options.kernel % 2 == 0) {
    throw params.error("kernel",
                       fmt::format("must be odd so that the convolution keeps "
                                   "the lattice shape, got {}",
                                   options.kernel));
  }
  // Circular padding cannot wrap around the lattice more than once.
  const int64_t extent = std::min(field.shape[0], field.shape[1]);
  if (options.kernel / 2 > extent) {
    throw params.error(
        "kernel", fmt::format("must be at most 2 L + 1 = {} on this lattice, "
                              "got {}",
                              2 * extent + 1, options.kernel));
  }
  return std::make_shared<AffineCouplingFlow>(
      params, options, field.shape, params.get_int("layers"), context);
}

}  // namespace

LATFLOW_PLUGIN("affine_coupling", "1.0.0") {
  latflow::Schema schema;
  schema
      .add_int("layers", 8, "coupling layers, alternating checkerboard parity")
      .at_least(1);
  schema.add_int("hidden", 16, "hidden channels of each conditioner CNN")
      .at_least(1);
  schema.add_int("conv_layers", 2, "hidden convolutions per conditioner")
      .at_least(1);
  schema.add_int("kernel", 3, "odd convolution kernel size (circular padding)")
      .at_least(1);
  schema.add_float("scale_bound", 1.0, "log-scale s = scale_bound * tanh(.)")
      .above(0);
  schema.add_float("shift_bound", 1.0, "shift t = shift_bound * tanh(.)")
      .above(0);
  schema.add_choice("activation", "leaky_relu", {"leaky_relu", "tanh"},
                    "hidden activation of the conditioners");
  schema
      .add_float("init_scale", 0.0,
                 "std of the last conditioner weights; 0 starts at identity")
      .at_least(0);
  registry.add<latflow::Flow>(
      "affine_coupling",
      "checkerboard real NVP for scalar fields with circular CNN conditioners",
      std::move(schema), make_flow);
}
