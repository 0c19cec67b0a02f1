#include <latflow/json.h>

#include <fmt/format.h>

#include <latflow/error.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <stdexcept>

namespace latflow {

Json Json::object() {
  Json json;
  json.value_ = std::make_shared<Object>();
  return json;
}

Json Json::array() {
  Json json;
  json.value_ = std::make_shared<Array>();
  return json;
}

Json& Json::operator[](const std::string& key) {
  if (std::holds_alternative<std::nullptr_t>(value_)) {
    value_ = std::make_shared<Object>();
  }
  auto* object = std::get_if<std::shared_ptr<Object>>(&value_);
  if (object == nullptr) throw std::logic_error("Json: not an object");
  for (auto& [name, value] : **object) {
    if (name == key) return value;
  }
  (*object)->emplace_back(key, Json());
  return (*object)->back().second;
}

void Json::push_back(Json value) {
  if (std::holds_alternative<std::nullptr_t>(value_)) {
    value_ = std::make_shared<Array>();
  }
  auto* array = std::get_if<std::shared_ptr<Array>>(&value_);
  if (array == nullptr) throw std::logic_error("Json: not an array");
  (*array)->push_back(std::move(value));
}

namespace {

void escape(std::string& out, const std::string& text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void newline(std::string& out, int indent, int depth) {
  if (indent < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(indent * depth), ' ');
}

}  // namespace

void Json::dump_to(std::string& out, int indent, int depth) const {
  if (std::holds_alternative<std::nullptr_t>(value_)) {
    out += "null";
  } else if (const auto* b = std::get_if<bool>(&value_)) {
    out += *b ? "true" : "false";
  } else if (const auto* i = std::get_if<int64_t>(&value_)) {
    out += std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&value_)) {
    // Shortest text that reads back to the same double.
    out += std::isfinite(*d) ? fmt::format("{}", *d) : "null";
  } else if (const auto* s = std::get_if<std::string>(&value_)) {
    escape(out, *s);
  } else if (const auto* o = std::get_if<std::shared_ptr<Object>>(&value_)) {
    out += '{';
    bool first = true;
    for (const auto& [key, value] : **o) {
      if (!first) out += ',';
      first = false;
      newline(out, indent, depth + 1);
      escape(out, key);
      out += indent < 0 ? ":" : ": ";
      value.dump_to(out, indent, depth + 1);
    }
    if (!(*o)->empty()) newline(out, indent, depth);
    out += '}';
  } else if (const auto* a = std::get_if<std::shared_ptr<Array>>(&value_)) {
    out += '[';
    bool first = true;
    for (const auto& value : **a) {
      if (!first) out += indent < 0 ? "," : ", ";
      first = false;
      value.dump_to(out, -1, depth + 1);
    }
    out += ']';
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

namespace {

class Parser {
 public:
  Parser(const std::string& text, const std::string& source)
      : text_(text), source_(source) {}

  Json document() {
    Json value = parse_value(0);
    skip_space();
    if (at_ != text_.size()) fail("unexpected text after the value");
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(
        fmt::format("{}: invalid JSON at offset {}: {}", source_, at_, what));
  }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\t' ||
            text_[at_] == '\r')) {
      ++at_;
    }
  }

  bool consume(const char* word) {
    const size_t n = std::char_traits<char>::length(word);
    if (text_.compare(at_, n, word) != 0) return false;
    at_ += n;
    return true;
  }

  Json parse_value(int depth) {
    if (depth > 64) fail("nested too deeply");
    skip_space();
    if (at_ >= text_.size()) fail("unexpected end");
    const char c = text_[at_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return Json(parse_string());
    if (consume("true")) return Json(true);
    if (consume("false")) return Json(false);
    if (consume("null")) return Json();
    return parse_number();
  }

  Json parse_object(int depth) {
    ++at_;
    Json object = Json::object();
    skip_space();
    if (at_ < text_.size() && text_[at_] == '}') {
      ++at_;
      return object;
    }
    while (true) {
      skip_space();
      if (at_ >= text_.size() || text_[at_] != '"') fail("expected a key");
      const std::string key = parse_string();
      skip_space();
      if (at_ >= text_.size() || text_[at_] != ':') fail("expected ':'");
      ++at_;
      object[key] = parse_value(depth + 1);
      skip_space();
      if (at_ < text_.size() && text_[at_] == ',') {
        ++at_;
        continue;
      }
      if (at_ < text_.size() && text_[at_] == '}') {
        ++at_;
        return object;
      }
      fail("expected ',' or '}'");
    }
  }

  Json parse_array(int depth) {
    ++at_;
    Json array = Json::array();
    skip_space();
    if (at_ < text_.size() && text_[at_] == ']') {
      ++at_;
      return array;
    }
    while (true) {
      array.push_back(parse_value(depth + 1));
      skip_space();
      if (at_ < text_.size() && text_[at_] == ',') {
        ++at_;
        continue;
      }
      if (at_ < text_.size() && text_[at_] == ']') {
        ++at_;
        return array;
      }
      fail("expected ',' or ']'");
    }
  }

  std::string parse_string() {
    ++at_;
    std::string out;
    while (at_ < text_.size() && text_[at_] != '"') {
      char c = text_[at_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= text_.size()) break;
      c = text_[at_++];
      switch (c) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (at_ + 4 > text_.size()) fail("short \\u escape");
          const long code = std::strtol(text_.substr(at_, 4).c_str(),
                                        nullptr, 16);
          at_ += 4;
          // Basic multilingual plane as UTF-8; enough for our own files.
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
          }
          break;
        }
        default:
          out += c;
      }
    }
    if (at_ >= text_.size()) fail("unterminated string");
    ++at_;
    return out;
  }

  Json parse_number() {
    const char* begin = text_.c_str() + at_;
    char* end = nullptr;
    const double value = std::strtod(begin, &end);
    if (end == begin) fail("expected a value");
    const std::string token(begin, static_cast<size_t>(end - begin));
    at_ += token.size();
    if (token.find_first_of(".eE") == std::string::npos &&
        std::abs(value) < 9e15) {
      return Json(static_cast<int64_t>(value));
    }
    return Json(value);
  }

  const std::string& text_;
  std::string source_;
  size_t at_ = 0;
};

}  // namespace

Json Json::parse(const std::string& text, const std::string& source) {
  return Parser(text, source).document();
}

bool Json::is_null() const {
  return std::holds_alternative<std::nullptr_t>(value_);
}

bool Json::is_object() const {
  return std::holds_alternative<std::shared_ptr<Object>>(value_);
}

bool Json::is_number() const {
  return std::holds_alternative<int64_t>(value_) ||
         std::holds_alternative<double>(value_);
}

double Json::number() const {
  if (const auto* i = std::get_if<int64_t>(&value_)) {
    return static_cast<double>(*i);
  }
  if (const auto* d = std::get_if<double>(&value_)) return *d;
  return std::nan("");
}

std::string Json::string() const {
  if (const auto* s = std::get_if<std::string>(&value_)) return *s;
  return {};
}

size_t Json::size() const {
  const auto* array = std::get_if<std::shared_ptr<Array>>(&value_);
  return array == nullptr ? 0 : (*array)->size();
}

const Json& Json::at(size_t i) const {
  const auto* array = std::get_if<std::shared_ptr<Array>>(&value_);
  if (array == nullptr || i >= (*array)->size()) {
    throw std::out_of_range("Json::at: no such element");
  }
  return (**array)[i];
}

const Json* Json::find(const std::string& key) const {
  const auto* object = std::get_if<std::shared_ptr<Object>>(&value_);
  if (object == nullptr) return nullptr;
  for (const auto& [name, value] : **object) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> Json::flatten() const {
  std::vector<std::pair<std::string, std::string>> leaves;
  std::function<void(const Json&, const std::string&)> walk =
      [&](const Json& node, const std::string& prefix) {
        const auto* o = std::get_if<std::shared_ptr<Object>>(&node.value_);
        if (o != nullptr) {
          for (const auto& [key, value] : **o) {
            walk(value, prefix.empty() ? key : prefix + "." + key);
          }
        } else if (node.is_null()) {
          leaves.emplace_back(prefix, "");
        } else if (const auto* s = std::get_if<std::string>(&node.value_)) {
          leaves.emplace_back(prefix, *s);
        } else {
          leaves.emplace_back(prefix, node.dump());
        }
      };
  walk(*this, "");
  return leaves;
}

}  // namespace latflow
