// Typed, validating access to a JSON object read from a file mcdnn wrote (catalog.json,
// plan.json, job files): every failure is Error(Catalog) naming the file, the object and the key.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace mcdnn {

// Typed access to one JSON object; every failure names the file, the object and the key.
struct Obj {
  using json = nlohmann::json;
  const json& j;
  std::string where;

  [[noreturn]] void bad(const std::string& key, const std::string& what) const {
    fail(ErrorClass::Catalog, where + (key.empty() ? "" : "." + key) + ": " + what);
  }
  const json& at(const char* key) const {
    auto it = j.find(key);
    if (it == j.end()) bad(key, "missing");
    return *it;
  }
  std::string str(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) bad(key, "expected a string");
    return v.get<std::string>();
  }
  int64_t i64(const char* key, int64_t lo = 0, int64_t hi = INT64_MAX) const {
    const json& v = at(key);
    if (!v.is_number_integer()) bad(key, "expected an integer");
    int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ? -1 : v.get<int64_t>();
    if (x < lo || x > hi) bad(key, "value " + v.dump() + " out of range");
    return x;
  }
  double num(const char* key, double lo, double hi) const {
    const json& v = at(key);
    if (!v.is_number()) bad(key, "expected a number");
    double x = v.get<double>();
    if (!(x >= lo && x <= hi)) bad(key, "value " + v.dump() + " out of range");
    return x;
  }
  bool boolean(const char* key) const {
    const json& v = at(key);
    if (!v.is_boolean()) bad(key, "expected true or false");
    return v.get<bool>();
  }
  std::vector<std::string> strings(const char* key) const {
    const json& v = at(key);
    if (!v.is_array()) bad(key, "expected a list of strings");
    std::vector<std::string> out;
    for (const auto& e : v) {
      if (!e.is_string()) bad(key, "expected a list of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<double> numbers(const char* key) const {
    const json& v = at(key);
    if (!v.is_array()) bad(key, "expected a list of numbers");
    std::vector<double> out;
    for (const auto& e : v) {
      if (!e.is_number()) bad(key, "expected a list of numbers");
      out.push_back(e.get<double>());
    }
    return out;
  }
  Obj obj(const char* key) const {
    const json& v = at(key);
    if (!v.is_object()) bad(key, "expected an object");
    return {v, where + "." + key};
  }
};

}  // namespace mcdnn
