#include "masks.h"

#include <torch/torch.h>

namespace latflow::u1_equivariant {

LayerMask make_layer_mask(MaskScheme scheme, int64_t index, int64_t extent0,
                          int64_t extent1) {
  const auto x0 = torch::arange(extent0, torch::kLong).view({extent0, 1});
  const auto x1 = torch::arange(extent1, torch::kLong).view({1, extent1});
  const auto zero = torch::zeros({extent0, extent1}, torch::kLong);

  LayerMask mask;
  if (scheme == MaskScheme::kStripes) {
    mask.mu = index % 2;
    const int64_t offset = (index / 2) % 4;
    const auto x_nu = (mask.mu == 0 ? x1 : x0) + zero;
    // Active row off; frozen rows off + 1 and off + 2; the passive row
    // off + 3 holds the other plaquette of each updated link.
    const auto row = torch::remainder(x_nu - offset, 4);
    mask.active = row == 0;
    mask.frozen = (row == 1).logical_or(row == 2);
  } else {
    mask.mu = (index / 4) % 2;
    const int64_t offset = index % 4;
    const auto x_mu = (mask.mu == 0 ? x0 : x1) + zero;
    const auto x_nu = (mask.mu == 0 ? x1 : x0) + zero;
    // Active plaquettes every fourth site along mu, shifted by two on odd
    // rows; the other plaquette of each updated link, at x - e_nu, is then
    // passive, and the frozen columns x_mu = off + 1 (mod 2) touch no
    // updated link.
    const auto phase =
        torch::remainder(x_mu - offset - 2 * torch::remainder(x_nu, 2), 4);
    mask.active = phase == 0;
    mask.frozen = torch::remainder(x_mu - offset, 2) == 1;
    // A loop along nu over two frozen plaquettes holds links mu only at
    // frozen columns; every loop along mu holds an updated link.
    mask.loops = torch::zeros({2, extent0, extent1}, torch::kBool);
    mask.loops.select(0, 1 - mask.mu).copy_(mask.frozen);
  }
  mask.sign = mask.mu == 0 ? 1.0 : -1.0;
  return mask;
}

}  // namespace latflow::u1_equivariant
