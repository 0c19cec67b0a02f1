#include <fmt/format.h>
#include <latflow/action.h>
#include <latflow/plugin.h>

#include <algorithm>
#include <string>

#include "gauge_flow.h"
#include "masks.h"

namespace latflow::u1_equivariant {
namespace {

Schema flow_schema() {
  Schema schema;
  schema
      .add_int("layers", 16,
               "coupling layers; the reference architecture of "
               "arXiv 2202.11712 uses 48")
      .at_least(1);
  schema.add_choice("masks", "albergo8", {"albergo8", "stripes"},
                    "mask cycle: albergo8 (arXiv 2202.11712, with 2x1 loops) "
                    "or stripes (arXiv 2003.06413)");
  schema.add_choice("map", "spline", {"spline", "ncp"},
                    "circle map: rational-quadratic spline or mixture of "
                    "non-compact projections");
  schema.add_int("bins", 8, "spline bins (conditioner outputs 3 bins + 1)")
      .range(1, 256);
  schema
      .add_int("components", 2,
               "NCP mixture components (conditioner outputs "
               "2 components + 1)")
      .range(1, 64);
  schema
      .add_int_list("hidden", {64, 64},
                    "hidden channels of the conditioner CNN")
      .at_least(1);
  schema.add_int("kernel", 3, "odd kernel size of the convolutions")
      .range(1, 31);
  schema
      .add_int_list("dilations", {1, 2, 3},
                    "dilation of each convolution, len(hidden) + 1 "
                    "entries")
      .at_least(1);
  return schema;
}

std::shared_ptr<Flow> make_flow(const Params& params,
                                const BuildContext& context) {
  if (context.action == nullptr) {
    throw params.error("type", "needs the experiment's action for its field");
  }
  const auto field = context.action->field();
  if (field.kind != "u1") {
    throw params.error("type",
                       fmt::format("needs a \"u1\" field (link angles), but "
                                   "action/{} has a \"{}\" field",
                                   context.action->type(), field.kind));
  }
  if (field.shape.size() != 3 || field.shape[0] != 2) {
    throw params.error(
        "type",
        fmt::format("needs link angles of shape (2, L, L), but "
                    "action/{} gives ({})",
                    context.action->type(), fmt::join(field.shape, ", ")));
  }

  GaugeFlowOptions options;
  options.extent0 = field.shape[1];
  options.extent1 = field.shape[2];
  options.layers = params.get_int("layers");
  const auto& masks = params.get_string("masks");
  options.masks =
      masks == "stripes" ? MaskScheme::kStripes : MaskScheme::kAlbergo8;
  options.map = params.get_string("map") == "ncp" ? CircleMapKind::kNcp
                                                  : CircleMapKind::kSpline;
  options.bins = params.get_int("bins");
  options.components = params.get_int("components");
  options.hidden = params.get_int_list("hidden");
  options.kernel = params.get_int("kernel");
  options.dilations = params.get_int_list("dilations");

  const auto period = mask_period(options.masks);
  if (options.extent0 % period != 0 || options.extent1 % period != 0) {
    const auto lattice =
        options.extent0 == options.extent1
            ? fmt::format("L = {}", options.extent0)
            : fmt::format("L = {} x {}", options.extent0, options.extent1);
    throw params.error(
        "masks", fmt::format("masks = \"{}\" needs L divisible by {}, but "
                             "the lattice has {}",
                             masks, period, lattice));
  }
  if (options.kernel % 2 == 0) {
    throw params.error("kernel",
                       fmt::format("must be odd so that circular padding keeps "
                                   "the lattice shape, got {}",
                                   options.kernel));
  }
  if (options.dilations.size() != options.hidden.size() + 1) {
    throw params.error(
        "dilations",
        fmt::format("needs one entry per convolution, len(hidden) + 1 = {}, "
                    "got {}",
                    options.hidden.size() + 1, options.dilations.size()));
  }
  const auto extent = std::min(options.extent0, options.extent1);
  for (const auto dilation : options.dilations) {
    const auto padding = dilation * (options.kernel - 1) / 2;
    if (padding > extent) {
      throw params.error(
          "dilations",
          fmt::format("dilation {} with kernel {} wraps {} sites around a "
                      "lattice of extent {}; at most {} fit",
                      dilation, options.kernel, padding, extent, extent));
    }
  }
  return make_gauge_flow(params, options, context);
}

}  // namespace
}  // namespace latflow::u1_equivariant

LATFLOW_PLUGIN("u1_equivariant", "0.1.0") {
  registry.add<latflow::Flow>(
      "u1_equivariant",
      "gauge-equivariant plaquette coupling flow of U(1) link angles",
      latflow::u1_equivariant::flow_schema(),
      latflow::u1_equivariant::make_flow);
}
