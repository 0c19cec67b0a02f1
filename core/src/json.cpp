#include <latflow/json.h>

#include <fmt/format.h>

#include <cmath>
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

}  // namespace latflow
