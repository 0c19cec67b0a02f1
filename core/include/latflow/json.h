#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace latflow {

/// A small JSON value for summaries and JSON lines. Objects keep the order
/// in which keys were inserted. Non-finite numbers are written as null.
class Json {
 public:
  Json() : value_(nullptr) {}
  Json(std::nullptr_t) : value_(nullptr) {}
  Json(bool b) : value_(b) {}
  Json(int v) : value_(static_cast<int64_t>(v)) {}
  Json(int64_t v) : value_(v) {}
  Json(double v) : value_(v) {}
  Json(const char* s) : value_(std::string(s)) {}
  Json(std::string s) : value_(std::move(s)) {}

  static Json object();
  static Json array();

  /// Object member, inserted (as null) when missing.
  Json& operator[](const std::string& key);
  void push_back(Json value);

  /// Compact one-line text when indent < 0, else pretty with `indent`.
  std::string dump(int indent = -1) const;

  /// Parses JSON text (objects, arrays, strings, numbers, true, false,
  /// null). Throws InputError naming `source` and the offset on bad text.
  static Json parse(const std::string& text,
                    const std::string& source = "json");

  bool is_null() const;
  bool is_object() const;
  bool is_number() const;
  /// The number (an integer as double); NaN when not a number.
  double number() const;
  /// The string; empty when not a string.
  std::string string() const;
  /// Elements of an array (0 for anything else).
  size_t size() const;
  /// Element i of an array.
  const Json& at(size_t i) const;
  /// Member of an object, or nullptr.
  const Json* find(const std::string& key) const;
  /// Leaves of nested objects as ("a.b.c", text) in document order: numbers
  /// in shortest form, strings bare, null empty; arrays as compact JSON.
  std::vector<std::pair<std::string, std::string>> flatten() const;

 private:
  using Object = std::vector<std::pair<std::string, Json>>;
  using Array = std::vector<Json>;
  void dump_to(std::string& out, int indent, int depth) const;

  std::variant<std::nullptr_t, bool, int64_t, double, std::string,
               std::shared_ptr<Object>, std::shared_ptr<Array>>
      value_;
};

}  // namespace latflow
