// NumPy .npy reading and writing (latflow/npy.h).
#include <latflow/error.h>
#include <latflow/npy.h>
#include <torch/torch.h>

// After LibTorch, whose glog defines a CHECK macro that doctest's replaces.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "u1/u1_test_helpers.h"

namespace {

/// A .npy file's bytes with the given header dict and data, format
/// `major`.0, the header padded to 64 bytes as numpy does.
std::string npy_bytes(const std::string& dict, const std::string& data,
                      int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  const size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');
  std::string bytes("\x93NUMPY", 6);
  bytes.push_back(static_cast<char>(major));
  bytes.push_back(0);
  for (size_t i = 0; i < prefix - 8; ++i) {
    bytes.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  }
  return bytes + header + data;
}

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string doubles(const std::vector<double>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()),
                     values.size() * sizeof(double));
}

}  // namespace

TEST_CASE("npy: float32 and float64 round trips keep shape and values") {
  latflow::test::TempDir dir;
  const std::vector<std::vector<int64_t>> shapes = {
      {}, {0}, {7}, {3, 4}, {5, 2, 4, 4}, {2, 0, 3}};
  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    for (const auto& shape : shapes) {
      CAPTURE(shape.size());
      const auto data = torch::randn(shape, torch::kFloat64).to(dtype);
      const auto file = dir.path() / "round.npy";
      latflow::write_npy(file, data);
      const auto back = latflow::read_npy(file);
      CHECK((back.scalar_type() == torch::kFloat64));
      CHECK(back.sizes().vec() == shape);
      CHECK(torch::equal(back, data.to(torch::kFloat64)));

      // Data 64-byte aligned, as the format asks.
      const auto text = slurp(file);
      const auto header =
          static_cast<size_t>(static_cast<unsigned char>(text[8]) +
                              256 * static_cast<unsigned char>(text[9]));
      CHECK((10 + header) % 64 == 0);
      CHECK(text.size() == 10 + header +
                               static_cast<size_t>(data.numel()) *
                                   (dtype == torch::kFloat64 ? 8 : 4));
    }
  }
}

TEST_CASE("npy: non-contiguous tensors are written in C order") {
  latflow::test::TempDir dir;
  const auto data = torch::arange(12, torch::kFloat64).view({3, 4}).t();
  const auto file = dir.path() / "t.npy";
  latflow::write_npy(file, data);
  CHECK(torch::equal(latflow::read_npy(file), data.contiguous()));
}

TEST_CASE("npy: reads files written by numpy, format 1.0, 2.0 and 3.0") {
  const auto configs = latflow::read_npy(
      latflow::test::source_path("tests/u1/data/schwinger_configs.npy"));
  CHECK(configs.sizes().vec() == std::vector<int64_t>{6, 2, 4, 4});
  CHECK(configs.min().item<double>() >= 0);
  CHECK(configs.max().item<double>() < 2 * 3.14159265358979);

  latflow::test::TempDir dir;
  const std::string dict =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
  for (const int major : {1, 2, 3}) {
    const auto file =
        dir.write("v.npy", npy_bytes(dict, doubles({1, 2, 3, 4}), major));
    const auto t = latflow::read_npy(file);
    CHECK(torch::equal(t, torch::tensor({1.0, 2.0, 3.0, 4.0}).view({2, 2})));
  }
  // Key order and quotes as other writers may use them.
  const auto file = dir.write(
      "w.npy", npy_bytes("{\"shape\": (3,), \"fortran_order\": False, "
                         "\"descr\": \"<f8\"}",
                         doubles({1, 2, 3})));
  CHECK(latflow::read_npy(file).sizes().vec() == std::vector<int64_t>{3});
}

TEST_CASE("npy: bad files are InputErrors naming the file and the problem") {
  latflow::test::TempDir dir;
  const auto read = [&](const std::string& name, const std::string& bytes) {
    const auto file = dir.write(name, bytes);
    return latflow::u1_test::input_error([&] { latflow::read_npy(file); });
  };
  const std::string data = doubles({1, 2, 3, 4, 5, 6});

  const auto magic = read("magic.npy", "PK\x03\x04 not a numpy file at all");
  CHECK(magic.find("magic.npy") != std::string::npos);
  CHECK(magic.find("not a NumPy .npy file (bad magic)") != std::string::npos);

  const auto dtype = read(
      "int.npy",
      npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (6,), }",
                data));
  CHECK(dtype.find("int.npy") != std::string::npos);
  CHECK(dtype.find("unsupported dtype '<i8': expected float32 ('<f4') or "
                   "float64 ('<f8')") != std::string::npos);

  const auto big = read(
      "big.npy",
      npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (6,), }",
                data));
  CHECK(big.find("big.npy") != std::string::npos);
  CHECK(big.find("big-endian byte order ('>f8') is not supported") !=
        std::string::npos);

  const auto fortran = read(
      "fortran.npy",
      npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                data));
  CHECK(fortran.find("fortran.npy") != std::string::npos);
  CHECK(fortran.find("Fortran-ordered data is not supported: expected C "
                     "order") != std::string::npos);

  const auto truncated = read(
      "short.npy",
      npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }",
                data));
  CHECK(truncated.find("short.npy") != std::string::npos);
  CHECK(truncated.find("truncated data: shape (3, 4) of '<f8' needs 96 "
                       "bytes, the file has 48") != std::string::npos);

  const auto header = read("header.npy", std::string("\x93NUMPY\x01\x00\x76"
                                                     "\x00{'descr'",
                                                     17));
  CHECK(header.find("header.npy") != std::string::npos);
  CHECK(header.find("truncated .npy header") != std::string::npos);

  const auto malformed = read(
      "malformed.npy",
      npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, x), }",
                data));
  CHECK(malformed.find("malformed.npy") != std::string::npos);
  CHECK(malformed.find("malformed .npy header: expected a non-negative "
                       "integer in the shape") != std::string::npos);

  const auto missing_key =
      read("nokey.npy", npy_bytes("{'descr': '<f8', 'shape': (6,), }", data));
  CHECK(missing_key.find("malformed .npy header: no 'fortran_order' key") !=
        std::string::npos);

  const auto trailing = read(
      "long.npy",
      npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                data));
  CHECK(trailing.find("long.npy: 32 unexpected bytes after the data") !=
        std::string::npos);

  const auto version =
      read("version.npy", "\x93NUMPY\x04" + std::string(1, '\0') + "xxxx");
  CHECK(version.find("unsupported .npy format version 4.0") !=
        std::string::npos);

  const auto missing = latflow::u1_test::input_error(
      [&] { latflow::read_npy(dir.path() / "absent.npy"); });
  CHECK(missing.find("absent.npy: cannot open") != std::string::npos);

  const auto ints = latflow::u1_test::input_error(
      [&] { latflow::write_npy(dir.path() / "ints.npy", torch::arange(3)); });
  CHECK(ints.find("ints.npy: cannot write Long as .npy: expected a float32 "
                  "or float64 tensor") != std::string::npos);
}
