#include <latflow/params.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace latflow {

std::string describe(ParamType type) {
  switch (type) {
    case ParamType::kBool:
      return "a boolean";
    case ParamType::kInt:
      return "an integer";
    case ParamType::kFloat:
      return "a number";
    case ParamType::kString:
      return "a string";
    case ParamType::kIntList:
      return "an array of integers";
    case ParamType::kFloatList:
      return "an array of numbers";
    case ParamType::kStringList:
      return "an array of strings";
  }
  return "a value";
}

namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (std::isnan(value)) return "nan";
  std::string text = fmt::format("{}", value);
  // TOML floats need a fraction or an exponent to stay floats.
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  return text;
}

std::string bound(double value) {
  return value == std::floor(value) && std::abs(value) < 1e15
             ? fmt::format("{}", static_cast<int64_t>(value))
             : fmt::format("{}", value);
}

}  // namespace

std::string to_toml(const ParamValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return number(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return quote(v);
        } else {
          std::vector<std::string> items;
          for (const auto& item : v) items.push_back(to_toml(item));
          return "[" + fmt::format("{}", fmt::join(items, ", ")) + "]";
        }
      },
      value);
}

ParamSpec& ParamSpec::range(double lo, double hi) {
  min = lo;
  max = hi;
  return *this;
}

ParamSpec& ParamSpec::at_least(double lo) {
  min = lo;
  min_exclusive = false;
  return *this;
}

ParamSpec& ParamSpec::above(double lo) {
  min = lo;
  min_exclusive = true;
  return *this;
}

ParamSpec& ParamSpec::at_most(double hi) {
  max = hi;
  max_exclusive = false;
  return *this;
}

ParamSpec& ParamSpec::below(double hi) {
  max = hi;
  max_exclusive = true;
  return *this;
}

std::string ParamSpec::expectation() const {
  std::string text = describe(type);
  if (!choices.empty()) {
    std::vector<std::string> quoted;
    for (const auto& c : choices) quoted.push_back(quote(c));
    text += fmt::format(", one of {}", fmt::join(quoted, ", "));
  }
  const bool list = type == ParamType::kIntList ||
                    type == ParamType::kFloatList;
  const std::string each = list ? " with each element" : "";
  if (min && max) {
    text += fmt::format("{} in {}{}, {}{}", each, min_exclusive ? "(" : "[",
                        bound(*min), bound(*max), max_exclusive ? ")" : "]");
  } else if (min) {
    text += fmt::format("{} {} {}", each, min_exclusive ? ">" : ">=",
                        bound(*min));
  } else if (max) {
    text += fmt::format("{} {} {}", each, max_exclusive ? "<" : "<=",
                        bound(*max));
  }
  return text;
}

namespace {

bool outside(const ParamSpec& spec, double x) {
  if (std::isnan(x)) return true;
  if (spec.min && (spec.min_exclusive ? x <= *spec.min : x < *spec.min)) {
    return true;
  }
  return spec.max && (spec.max_exclusive ? x >= *spec.max : x > *spec.max);
}

}  // namespace

std::string ParamSpec::violation(const ParamValue& value) const {
  std::vector<double> numbers;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    numbers.push_back(static_cast<double>(*i));
  } else if (const auto* d = std::get_if<double>(&value)) {
    numbers.push_back(*d);
  } else if (const auto* il = std::get_if<std::vector<int64_t>>(&value)) {
    for (auto i : *il) numbers.push_back(static_cast<double>(i));
  } else if (const auto* dl = std::get_if<std::vector<double>>(&value)) {
    numbers = *dl;
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    if (!choices.empty() &&
        std::find(choices.begin(), choices.end(), *s) == choices.end()) {
      const std::string near = closest(*s, choices);
      return fmt::format("expected {}, got \"{}\"{}", expectation(), *s,
                         near.empty() ? ""
                                      : fmt::format(" (did you mean \"{}\"?)",
                                                    near));
    }
    return {};
  }
  for (double x : numbers) {
    if (outside(*this, x)) {
      return fmt::format("expected {}, got {}", expectation(),
                         to_toml(value));
    }
  }
  return {};
}

ParamSpec& Schema::add(ParamSpec spec) {
  for (const auto& existing : specs_) {
    if (existing.key == spec.key) {
      throw std::logic_error("duplicate parameter key " + spec.key);
    }
  }
  specs_.push_back(std::move(spec));
  return specs_.back();
}

ParamSpec& Schema::add_bool(std::string key, bool value, std::string doc) {
  return add({std::move(key), ParamType::kBool, value, {}, {}, false, false,
              {}, std::move(doc)});
}

ParamSpec& Schema::add_int(std::string key, int64_t value, std::string doc) {
  return add({std::move(key), ParamType::kInt, value, {}, {}, false, false,
              {}, std::move(doc)});
}

ParamSpec& Schema::add_float(std::string key, double value, std::string doc) {
  return add({std::move(key), ParamType::kFloat, value, {}, {}, false, false,
              {}, std::move(doc)});
}

ParamSpec& Schema::add_string(std::string key, std::string value,
                              std::string doc) {
  return add({std::move(key), ParamType::kString, std::move(value), {}, {},
              false, false, {}, std::move(doc)});
}

ParamSpec& Schema::add_choice(std::string key, std::string value,
                              std::vector<std::string> choices,
                              std::string doc) {
  return add({std::move(key), ParamType::kString, std::move(value), {}, {},
              false, false, std::move(choices), std::move(doc)});
}

ParamSpec& Schema::add_int_list(std::string key, std::vector<int64_t> value,
                                std::string doc) {
  return add({std::move(key), ParamType::kIntList, std::move(value), {}, {},
              false, false, {}, std::move(doc)});
}

ParamSpec& Schema::add_float_list(std::string key, std::vector<double> value,
                                  std::string doc) {
  return add({std::move(key), ParamType::kFloatList, std::move(value), {}, {},
              false, false, {}, std::move(doc)});
}

ParamSpec& Schema::add_string_list(std::string key,
                                   std::vector<std::string> value,
                                   std::string doc) {
  return add({std::move(key), ParamType::kStringList, std::move(value), {},
              {}, false, false, {}, std::move(doc)});
}

const ParamSpec* Schema::find(const std::string& key) const {
  for (const auto& spec : specs_) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

std::string Source::str() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

Params::Params(std::string section, std::string type, Source table_source)
    : section_(std::move(section)),
      type_(std::move(type)),
      table_source_(std::move(table_source)) {}

const ParamValue& Params::lookup(const std::string& key) const {
  for (const auto& [name, value] : values_) {
    if (name == key) return value;
  }
  throw std::logic_error(
      fmt::format("[{}] has no parameter '{}'", section_, key));
}

template <class T>
static const T& typed(const ParamValue& value, const std::string& section,
                      const std::string& key) {
  if (const auto* v = std::get_if<T>(&value)) return *v;
  throw std::logic_error(
      fmt::format("[{}] {} read with the wrong type", section, key));
}

bool Params::get_bool(const std::string& key) const {
  return typed<bool>(lookup(key), section_, key);
}

int64_t Params::get_int(const std::string& key) const {
  return typed<int64_t>(lookup(key), section_, key);
}

double Params::get_float(const std::string& key) const {
  const auto& value = lookup(key);
  if (const auto* i = std::get_if<int64_t>(&value)) {
    return static_cast<double>(*i);
  }
  return typed<double>(value, section_, key);
}

const std::string& Params::get_string(const std::string& key) const {
  return typed<std::string>(lookup(key), section_, key);
}

const std::vector<int64_t>& Params::get_int_list(
    const std::string& key) const {
  return typed<std::vector<int64_t>>(lookup(key), section_, key);
}

const std::vector<double>& Params::get_float_list(
    const std::string& key) const {
  return typed<std::vector<double>>(lookup(key), section_, key);
}

const std::vector<std::string>& Params::get_string_list(
    const std::string& key) const {
  return typed<std::vector<std::string>>(lookup(key), section_, key);
}

const ParamValue& Params::get(const std::string& key) const {
  return lookup(key);
}

bool Params::written(const std::string& key) const {
  return written_.count(key) > 0;
}

Source Params::source(const std::string& key) const {
  const auto it = written_.find(key);
  return it == written_.end() ? table_source_ : it->second;
}

InputError Params::error(const std::string& key,
                         const std::string& what) const {
  const std::string where = source(key).str();
  return InputError(fmt::format("{}{}[{}] {}: {}", where,
                                where.empty() ? "" : ": ", section_, key,
                                what));
}

void Params::set(const std::string& key, ParamValue value,
                 std::optional<Source> written_at) {
  if (written_at) written_[key] = *written_at;
  for (auto& [name, existing] : values_) {
    if (name == key) {
      existing = std::move(value);
      return;
    }
  }
  values_.emplace_back(key, std::move(value));
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest(const std::string& word,
                    const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    const size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

}  // namespace latflow
