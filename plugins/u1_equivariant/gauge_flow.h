#pragma once

#include <latflow/context.h>
#include <latflow/flow.h>
#include <latflow/params.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "masks.h"

namespace latflow::u1_equivariant {

/// Circle map of the coupling layers.
enum class CircleMapKind {
  /// RationalQuadraticSpline: 3 bins + 1 conditioner outputs.
  kSpline,
  /// NcpMixture: 2 components + 1 conditioner outputs.
  kNcp,
};

/// Architecture of a gauge-equivariant U(1) flow, checked by the factory.
struct GaugeFlowOptions {
  /// Lattice extents L0, L1, each a multiple of mask_period(masks).
  int64_t extent0 = 8;
  int64_t extent1 = 8;
  /// Coupling layers; layer i uses pattern i of the mask cycle.
  int64_t layers = 16;
  MaskScheme masks = MaskScheme::kAlbergo8;
  CircleMapKind map = CircleMapKind::kSpline;
  /// Spline bins.
  int64_t bins = 8;
  /// NCP mixture components.
  int64_t components = 2;
  /// Hidden channels of each conditioner CNN.
  std::vector<int64_t> hidden{64, 64};
  /// Odd kernel size of every convolution.
  int64_t kernel = 3;
  /// Dilation of each convolution: hidden.size() + 1 entries.
  std::vector<int64_t> dilations{1, 2, 3};
};

/// Builds the flow on context.device with parameters in context.flow_dtype.
///
/// Configurations are link angles (B, 2, L0, L1) in [0, 2 pi), axis mu of
/// the tensor being lattice direction mu. Conditioner parameters and
/// activations use the flow dtype; link angles and circle maps use it too,
/// except for 16-bit flow dtypes, where they are float32 (2 pi is known to
/// 2e-3 in bfloat16): prior samples and configurations are then float32,
/// so that log q belongs to the configuration handed out and the inverse
/// finds the plaquettes the forward pass saw. Log-dets are float64.
std::shared_ptr<Flow> make_gauge_flow(Params params,
                                      const GaugeFlowOptions& options,
                                      const BuildContext& context);

}  // namespace latflow::u1_equivariant
