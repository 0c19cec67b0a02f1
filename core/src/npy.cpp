#include <latflow/error.h>
#include <latflow/io.h>
#include <latflow/npy.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace latflow {

namespace {

// The format: magic, major and minor version bytes, the header length
// (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), then a Python
// dict literal with 'descr', 'fortran_order' and 'shape', padded with
// spaces and a newline so that the data starts 64-byte aligned.
// numpy.org/doc/stable/reference/generated/numpy.lib.format.html
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

bool host_is_little_endian() {
  const uint16_t probe = 1;
  unsigned char first = 0;
  std::memcpy(&first, &probe, 1);
  return first == 1;
}

void swap_bytes(char* data, int64_t count, int64_t item_size) {
  for (int64_t i = 0; i < count; ++i) {
    std::reverse(data + i * item_size, data + (i + 1) * item_size);
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

/// Header text as it may appear in a one-line message: control and
/// non-ASCII bytes as \xNN, cut to `limit` characters.
std::string printable(const std::string& text, size_t limit = 120) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
    if (out.size() >= limit) return out.substr(0, limit) + "...";
  }
  return out;
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A parser of the header's dict literal: string keys; string, boolean and
// integer-tuple values.
class HeaderParser {
 public:
  HeaderParser(const std::filesystem::path& file, std::string text)
      : file_(file), text_(std::move(text)) {}

  Header parse() {
    Header header;
    bool has_descr = false;
    bool has_order = false;
    bool has_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const auto key = parse_string();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() == '[') {
          fail_dtype("a structured dtype");
        }
        header.descr = parse_string();
        has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        has_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        has_shape = true;
      } else {
        fail("unexpected key '" + printable(key) + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    if (!has_descr) fail("no 'descr' key");
    if (!has_order) fail("no 'fortran_order' key");
    if (!has_shape) fail("no 'shape' key");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(
        fmt::format("{}: malformed .npy header: {} at character {} of \"{}\"",
                    file_.string(), what, pos_, printable(trimmed())));
  }

  [[noreturn]] void fail_dtype(const std::string& what) const {
    throw InputError(fmt::format(
        "{}: unsupported dtype: {}; expected float32 ('<f4') or float64 "
        "('<f8')",
        file_.string(), what));
  }

  std::string trimmed() const {
    auto end = text_.find_last_not_of(" \n\r\t");
    return end == std::string::npos ? "" : text_.substr(0, end + 1);
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() &&
           std::isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}'", c));
    ++pos_;
  }

  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const auto end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    auto value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }

  bool parse_bool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }

  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(');
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) {
        fail("expected a non-negative integer in the shape");
      }
      int64_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const int64_t digit = text_[pos_] - '0';
        if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) {
          fail("shape entry too large");
        }
        value = value * 10 + digit;
        ++pos_;
      }
      shape.push_back(value);
      skip_space();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in the shape");
      }
    }
    ++pos_;
    return shape;
  }

  const std::filesystem::path& file_;
  std::string text_;
  size_t pos_ = 0;
};

uint32_t little_endian_u32(const unsigned char* bytes, size_t count) {
  uint32_t value = 0;
  for (size_t i = 0; i < count; ++i) value |= uint32_t{bytes[i]} << (8 * i);
  return value;
}

}  // namespace

torch::Tensor read_npy(const std::filesystem::path& file) {
  const auto name = file.string();
  std::error_code error;
  LATFLOW_CHECK_INPUT(!std::filesystem::is_directory(file, error),
                      "{}: is a folder, expected a .npy file", name);
  std::ifstream in(file, std::ios::binary);
  LATFLOW_CHECK_INPUT(in.good(), "{}: cannot open the file for reading", name);
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<int64_t>(in.tellg());
  in.seekg(0, std::ios::beg);

  // Magic and version.
  unsigned char prefix[12] = {};
  in.read(reinterpret_cast<char*>(prefix), 8);
  LATFLOW_CHECK_INPUT(
      in.gcount() == 8 && std::memcmp(prefix, kMagic, kMagicSize) == 0,
      "{}: not a NumPy .npy file (bad magic): expected the bytes "
      "\\x93NUMPY at the start",
      name);
  const int major = prefix[6];
  const int minor = prefix[7];
  LATFLOW_CHECK_INPUT(major >= 1 && major <= 3 && minor == 0,
                      "{}: unsupported .npy format version {}.{}: expected "
                      "1.0, 2.0 or 3.0",
                      name, major, minor);

  // Header.
  const size_t length_bytes = major == 1 ? 2 : 4;
  in.read(reinterpret_cast<char*>(prefix + 8),
          static_cast<std::streamsize>(length_bytes));
  LATFLOW_CHECK_INPUT(in.gcount() == static_cast<std::streamsize>(length_bytes),
                      "{}: truncated .npy header: the file ends after {} bytes",
                      name, file_size);
  const uint32_t header_size = little_endian_u32(prefix + 8, length_bytes);
  const int64_t data_offset = 8 + static_cast<int64_t>(length_bytes) +
                              static_cast<int64_t>(header_size);
  LATFLOW_CHECK_INPUT(data_offset <= file_size,
                      "{}: truncated .npy header: it declares {} bytes, the "
                      "file has {} after the prefix",
                      name, header_size,
                      file_size - 8 - static_cast<int64_t>(length_bytes));
  std::string header_text(header_size, '\0');
  in.read(header_text.data(), header_size);
  const Header header = HeaderParser(file, header_text).parse();

  // What this reader accepts.
  int64_t item_size = 0;
  torch::Dtype dtype = torch::kFloat64;
  if (header.descr == "<f8") {
    item_size = 8;
  } else if (header.descr == "<f4") {
    item_size = 4;
    dtype = torch::kFloat32;
  } else if (!header.descr.empty() && header.descr[0] == '>') {
    throw InputError(fmt::format(
        "{}: big-endian byte order ('{}') is not supported: expected "
        "little-endian float32 ('<f4') or float64 ('<f8')",
        name, printable(header.descr)));
  } else {
    throw InputError(fmt::format(
        "{}: unsupported dtype '{}': expected float32 ('<f4') or float64 "
        "('<f8')",
        name, printable(header.descr)));
  }
  LATFLOW_CHECK_INPUT(!header.fortran_order,
                      "{}: Fortran-ordered data is not supported: expected "
                      "C order (fortran_order False)",
                      name);

  // Data: exactly the bytes the shape asks for.
  // The product of the non-zero extents bounds the strides of the tensor,
  // so it must fit even when a zero extent leaves no data at all.
  int64_t span = 1;
  bool empty = false;
  for (const auto extent : header.shape) {
    if (extent == 0) {
      empty = true;
      continue;
    }
    // Divided, never multiplied: extent * item_size may itself overflow.
    LATFLOW_CHECK_INPUT(
        span <= std::numeric_limits<int64_t>::max() / item_size / extent,
        "{}: malformed .npy header: shape {} is too large", name,
        printable(shape_text(header.shape)));
    span *= extent;
  }
  const int64_t count = empty ? 0 : span;
  const int64_t data_size = count * item_size;
  const int64_t available = file_size - data_offset;
  LATFLOW_CHECK_INPUT(available >= data_size,
                      "{}: truncated data: shape {} of '{}' needs {} bytes, "
                      "the file has {}",
                      name, printable(shape_text(header.shape)), header.descr,
                      data_size, available);
  LATFLOW_CHECK_INPUT(available == data_size,
                      "{}: {} unexpected bytes after the data: shape {} of "
                      "'{}' takes {} bytes",
                      name, available - data_size,
                      printable(shape_text(header.shape)), header.descr,
                      data_size);
  auto tensor = torch::empty(header.shape, torch::dtype(dtype));
  in.read(static_cast<char*>(tensor.data_ptr()), data_size);
  LATFLOW_CHECK_INPUT(in.gcount() == data_size,
                      "{}: truncated data: read {} of {} bytes", name,
                      in.gcount(), data_size);
  if (!host_is_little_endian()) {
    swap_bytes(static_cast<char*>(tensor.data_ptr()), count, item_size);
  }
  return tensor.to(torch::kFloat64);
}

void write_npy(const std::filesystem::path& file, const torch::Tensor& data) {
  const auto dtype = data.scalar_type();
  LATFLOW_CHECK_INPUT(
      dtype == torch::kFloat32 || dtype == torch::kFloat64,
      "{}: cannot write {} as .npy: expected a float32 or float64 tensor",
      file.string(), std::string(c10::toString(dtype)));
  const auto tensor = data.detach().to(torch::kCPU).contiguous();
  const int64_t item_size = dtype == torch::kFloat64 ? 8 : 4;

  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                  dtype == torch::kFloat64 ? "<f8" : "<f4",
                  shape_text(tensor.sizes().vec()));
  // Version 1.0 unless the header outgrows its 2-byte length.
  const bool long_header = header.size() + 1 + 10 > 65535;
  const size_t prefix_size = long_header ? 12 : 10;
  const size_t padded = (prefix_size + header.size() + 1 + 63) / 64 * 64;
  header.append(padded - prefix_size - header.size() - 1, ' ');
  header.push_back('\n');

  std::string text(kMagic, kMagicSize);
  text.push_back(static_cast<char>(long_header ? 2 : 1));
  text.push_back(0);
  const auto header_size = static_cast<uint32_t>(header.size());
  for (size_t i = 0; i < prefix_size - 8; ++i) {
    text.push_back(static_cast<char>((header_size >> (8 * i)) & 0xff));
  }
  text += header;
  const auto begin = text.size();
  text.append(static_cast<const char*>(tensor.data_ptr()),
              static_cast<size_t>(tensor.numel() * item_size));
  if (!host_is_little_endian()) {
    swap_bytes(text.data() + begin, tensor.numel(), item_size);
  }
  write_file_atomic(file, text);
}

}  // namespace latflow
