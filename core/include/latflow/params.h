#pragma once

#include <latflow/error.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace latflow {

enum class ParamType {
  kBool,
  kInt,
  kFloat,
  kString,
  kIntList,
  kFloatList,
  kStringList
};

/// Human name of a parameter type, as used in error messages ("an integer").
std::string describe(ParamType type);

using ParamValue =
    std::variant<bool, int64_t, double, std::string, std::vector<int64_t>,
                 std::vector<double>, std::vector<std::string>>;

/// Renders a value as TOML (strings quoted, lists bracketed).
std::string to_toml(const ParamValue& value);

/// One parameter of a component: TOML key, type, default, bounds, doc.
/// Bounds apply to numbers and to every element of numeric lists.
struct ParamSpec {
  std::string key;
  ParamType type = ParamType::kFloat;
  ParamValue default_value;
  std::optional<double> min;
  std::optional<double> max;
  bool min_exclusive = false;
  bool max_exclusive = false;
  std::vector<std::string> choices;  ///< allowed strings (empty: any)
  std::string doc;

  /// Inclusive range [lo, hi].
  ParamSpec& range(double lo, double hi);
  /// Inclusive lower bound.
  ParamSpec& at_least(double lo);
  /// Exclusive lower bound.
  ParamSpec& above(double lo);
  /// Inclusive upper bound.
  ParamSpec& at_most(double hi);
  /// Exclusive upper bound.
  ParamSpec& below(double hi);

  /// The allowed values in words ("an integer >= 1", "one of ...").
  std::string expectation() const;
  /// Why `value` (of this spec's type) is not allowed; empty when it is.
  std::string violation(const ParamValue& value) const;
};

/// The ordered parameter schema of a component.
class Schema {
 public:
  ParamSpec& add_bool(std::string key, bool value, std::string doc);
  ParamSpec& add_int(std::string key, int64_t value, std::string doc);
  ParamSpec& add_float(std::string key, double value, std::string doc);
  ParamSpec& add_string(std::string key, std::string value, std::string doc);
  /// A string restricted to `choices`.
  ParamSpec& add_choice(std::string key, std::string value,
                        std::vector<std::string> choices, std::string doc);
  ParamSpec& add_int_list(std::string key, std::vector<int64_t> value,
                          std::string doc);
  ParamSpec& add_float_list(std::string key, std::vector<double> value,
                            std::string doc);
  ParamSpec& add_string_list(std::string key, std::vector<std::string> value,
                             std::string doc);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  /// nullptr when the schema has no such key.
  const ParamSpec* find(const std::string& key) const;

 private:
  ParamSpec& add(ParamSpec spec);
  std::vector<ParamSpec> specs_;
};

/// Where a value came from: a file position, or a command-line override.
struct Source {
  std::string file;  ///< experiment file, or "override" for KEY=VALUE
  int64_t line = 0;
  int64_t column = 0;

  /// "file:line:column" (or just the file when the position is unknown).
  std::string str() const;
};

/// The validated values of one table (`[action]`, `[train]`, ...): every
/// schema key holds a value, either written or the default.
class Params {
 public:
  Params() = default;
  Params(std::string section, std::string type, Source table_source);

  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const std::vector<int64_t>& get_int_list(const std::string& key) const;
  const std::vector<double>& get_float_list(const std::string& key) const;
  const std::vector<std::string>& get_string_list(
      const std::string& key) const;
  const ParamValue& get(const std::string& key) const;

  /// Whether the key was written in the file or an override.
  bool written(const std::string& key) const;
  /// Position of the key (or of the table when the key was not written).
  Source source(const std::string& key) const;

  /// An InputError naming file, line, column, section and key:
  /// "exp.toml:12:5: [action] L: must be even for even_odd".
  InputError error(const std::string& key, const std::string& what) const;

  const std::string& section() const { return section_; }
  /// Component type name ("phi4"); empty for core sections.
  const std::string& type() const { return type_; }
  /// Keys in schema order with their values.
  const std::vector<std::pair<std::string, ParamValue>>& values() const {
    return values_;
  }

  void set(const std::string& key, ParamValue value,
           std::optional<Source> written_at);

 private:
  const ParamValue& lookup(const std::string& key) const;

  std::string section_;
  std::string type_;
  Source table_source_;
  std::vector<std::pair<std::string, ParamValue>> values_;
  std::map<std::string, Source> written_;
};

/// Levenshtein distance, for did-you-mean suggestions.
size_t edit_distance(const std::string& a, const std::string& b);

/// The closest candidate within a small distance, or empty.
std::string closest(const std::string& word,
                    const std::vector<std::string>& candidates);

}  // namespace latflow
