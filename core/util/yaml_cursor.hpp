// Strict YAML reading shared by the schema and scenario parsers: a Cursor is a position in the
// document (node, dotted key path, file) whose accessors validate and fail with
//   file:line:col: key.path: expected ..., got ...
// through Error(cls). load_yaml() parses, reports syntax errors with their position and rejects
// a key given twice in one mapping.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>

#include "util/error.hpp"
#include "util/suggest.hpp"

namespace mcdnn {

YAML::Node load_yaml(const std::string& text, const std::string& display_name, ErrorClass cls);

// A position in the YAML document: the node, its dotted key path, and the file for messages.
// Every accessor validates and fails with "file:line:col: path: expected ..., got ...".
class Cursor {
 public:
  Cursor(const std::string* file, YAML::Node node, std::string path, ErrorClass cls)
      : file_(file), node_(std::move(node)), path_(std::move(path)), cls_(cls) {}

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }

  std::string where() const {
    auto m = node_.Mark();
    if (m.line < 0) return *file_ + ": " + path_;
    return *file_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + path_;
  }

  [[noreturn]] void fail_here(const std::string& what) const { fail(cls_, where() + ": " + what); }

  [[noreturn]] void expected(const std::string& what) const {
    fail_here("expected " + what + ", got " + describe());
  }

  std::string describe() const {
    if (!node_.IsDefined() || node_.IsNull()) return "nothing";
    if (node_.IsMap()) return "a mapping";
    if (node_.IsSequence()) return "a list";
    return "'" + node_.Scalar() + "'";
  }

  bool is_map() const { return node_.IsMap(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_seq() const { return node_.IsSequence(); }

  void require_map(const std::string& what) const {
    if (!node_.IsMap()) expected(what);
  }

  // Fails on any key not in `allowed`, naming the valid keys.
  void only_keys(std::initializer_list<const char*> allowed) const {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string k = it->first.Scalar();
      bool ok = false;
      for (auto a : allowed) ok = ok || k == a;
      if (!ok) {
        std::string list;
        std::vector<std::string> names;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a), names.emplace_back(a);
        Cursor kc(file_, it->first, join(k), cls_);
        kc.fail_here("unknown key '" + k + "'" + did_you_mean(k, names) + " (valid keys here: " + list + ")");
      }
    }
  }

  bool has(const char* key) const { return node_.IsMap() && node_[key].IsDefined(); }

  Cursor at(const char* key) const {
    if (!has(key)) fail_here("missing required key '" + std::string(key) + "'");
    return Cursor(file_, node_[key], join(key), cls_);
  }

  std::optional<Cursor> opt(const char* key) const {
    if (!has(key)) return std::nullopt;
    return Cursor(file_, node_[key], join(key), cls_);
  }

  Cursor index(size_t i) const { return Cursor(file_, node_[i], path_ + "[" + std::to_string(i) + "]", cls_); }

  std::string str() const {
    if (!node_.IsScalar()) expected("a string");
    return node_.Scalar();
  }

  int64_t integer(int64_t lo, int64_t hi) const {
    if (!node_.IsScalar()) expected("an integer");
    const std::string& s = node_.Scalar();
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE) expected("an integer");
    if (v < lo || v > hi) {
      std::string range = hi == INT64_MAX ? ">= " + std::to_string(lo)
                                          : "between " + std::to_string(lo) + " and " + std::to_string(hi);
      expected("an integer " + range);
    }
    return v;
  }

  double number(double lo, double hi, bool lo_open = false, bool hi_open = false) const {
    if (!node_.IsScalar()) expected("a number");
    const std::string& s = node_.Scalar();
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !std::isfinite(v)) expected("a finite number");
    bool ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
    if (!ok) {
      auto fmt = [](double d) {
        char b[32];
        std::snprintf(b, sizeof b, "%g", d);
        return std::string(b);
      };
      std::string range;
      if (std::isinf(hi))
        range = (lo_open ? "> " : ">= ") + fmt(lo);
      else
        range = std::string("in ") + (lo_open ? "(" : "[") + fmt(lo) + ", " + fmt(hi) + (hi_open ? ")" : "]");
      expected("a number " + range);
    }
    return v;
  }

  bool boolean() const {
    if (node_.IsScalar()) {
      const std::string& s = node_.Scalar();
      if (s == "true" || s == "yes") return true;
      if (s == "false" || s == "no") return false;
    }
    expected("true or false");
  }

  std::string choice(std::initializer_list<const char*> options) const {
    std::string list;
    for (auto o : options) list += (list.empty() ? "" : ", ") + std::string(o);
    if (!node_.IsScalar()) expected("one of " + list);
    for (auto o : options)
      if (node_.Scalar() == o) return o;
    expected("one of " + list);
  }

 private:
  std::string join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  const std::string* file_;
  YAML::Node node_;
  std::string path_;
  ErrorClass cls_;
};

}  // namespace mcdnn
