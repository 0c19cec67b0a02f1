#pragma once

#include <latflow/flow.h>

#include <filesystem>

namespace latflow {

/// Loads the flow of a run's checkpoint (the "flow" archive written by
/// training) into `flow`, which must be built from the same [flow],
/// [action] and [precision] as the run. Optimizer, step and generator state
/// are left alone. A missing file, a truncated or foreign archive, or a
/// flow that does not fit are InputErrors naming the file.
void load_checkpoint_flow(const std::filesystem::path& file, Flow& flow);

}  // namespace latflow
