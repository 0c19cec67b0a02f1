#pragma once

#include <torch/types.h>

#include <filesystem>

namespace latflow {

/// Reads a NumPy .npy file (format 1.0-3.0) holding float32 or float64 in
/// C order, little-endian, as a float64 tensor of the stored shape. Any
/// other dtype, byte order, Fortran order or a truncated file is an
/// InputError naming the file and what was expected.
torch::Tensor read_npy(const std::filesystem::path& file);

/// Writes a float32 or float64 tensor as .npy (C order, little-endian),
/// atomically.
void write_npy(const std::filesystem::path& file, const torch::Tensor& data);

}  // namespace latflow
