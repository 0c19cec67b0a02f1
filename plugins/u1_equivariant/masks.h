#pragma once

#include <torch/types.h>

#include <cstdint>

namespace latflow::u1_equivariant {

/// Masking patterns of the plaquette coupling layers.
enum class MaskScheme {
  /// Kanwar et al. (arXiv 2003.06413), pure gauge: layer i updates links of
  /// direction mu = i % 2 on every fourth row x_nu = off (mod 4),
  /// off = (i / 2) % 4; frozen plaquettes are the two rows after them.
  kStripes,
  /// Albergo et al. (arXiv 2202.11712): layer i updates links of direction
  /// mu = (i / 4) % 2 at x_mu = off + 2 (x_nu % 2) (mod 4), off = i % 4;
  /// frozen plaquettes are the columns x_mu = off + 1 (mod 2), and the
  /// 2x1 loops extended along nu over two frozen plaquettes are extra
  /// conditioner inputs.
  kAlbergo8,
};

/// Sites of one coupling layer on an extent0 x extent1 lattice; tensors
/// are boolean, on the CPU, indexed (x0, x1).
///
/// Link mu(x) is updated exactly where active(x): it belongs to the active
/// plaquette P(x) with orientation `sign` and to one passive plaquette,
/// and to no frozen plaquette and no loop fed to the conditioner.
struct LayerMask {
  /// Direction of the updated links.
  int64_t mu = 0;
  /// Sign of theta_mu(x) in P(x): +1 for mu = 0, -1 for mu = 1.
  double sign = 1.0;
  /// (L0, L1): plaquettes mapped by the circle map, and updated links.
  torch::Tensor active;
  /// (L0, L1): plaquettes fed to the conditioner.
  torch::Tensor frozen;
  /// (2, L0, L1): loops[d](x) marks the 2x1 loop P(x) + P(x + e_d) fed to
  /// the conditioner; undefined for schemes without loops.
  torch::Tensor loops;
};

/// Mask of layer `index`; schemes cycle through 8 patterns.
LayerMask make_layer_mask(MaskScheme scheme, int64_t index, int64_t extent0,
                          int64_t extent1);

/// Period of the scheme's patterns: lattice extents must be multiples.
inline int64_t mask_period(MaskScheme) { return 4; }

/// Conditioner input channels: cos and sin of the frozen plaquettes, and
/// for kAlbergo8 of the loops along both directions.
inline int64_t input_channels(MaskScheme scheme) {
  return scheme == MaskScheme::kAlbergo8 ? 6 : 2;
}

}  // namespace latflow::u1_equivariant
