#include "util/units.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mcdnn {

const std::vector<Unit>& units() {
  static const std::vector<Unit> u = {
      {Quantity::Bytes, "B", 1},         {Quantity::Bytes, "KB", 1e3},      {Quantity::Bytes, "MB", 1e6},
      {Quantity::Bytes, "GB", 1e9},      {Quantity::Bytes, "KiB", 1024},    {Quantity::Bytes, "MiB", 1048576},
      {Quantity::Bytes, "GiB", 1073741824},
      {Quantity::Energy, "J", 1},        {Quantity::Energy, "mJ", 1e-3},    {Quantity::Energy, "uJ", 1e-6},
      {Quantity::Energy, "kJ", 1e3},     {Quantity::Energy, "Wh", 3600},    {Quantity::Energy, "mWh", 3.6},
      {Quantity::Time, "s", 1},          {Quantity::Time, "ms", 1e-3},      {Quantity::Time, "us", 1e-6},
      {Quantity::Time, "min", 60},       {Quantity::Time, "h", 3600},
      {Quantity::Money, "$", 1},         {Quantity::Money, "USD", 1},
      {Quantity::Rate, "/s", 1},         {Quantity::Rate, "/min", 1.0 / 60}, {Quantity::Rate, "/h", 1.0 / 3600},
  };
  return u;
}

const char* quantity_name(Quantity q) {
  switch (q) {
    case Quantity::Bytes: return "a size";
    case Quantity::Energy: return "an energy";
    case Quantity::Time: return "a duration";
    case Quantity::Money: return "an amount of dollars";
    case Quantity::Rate: return "a rate";
  }
  return "?";
}

std::string unit_list(Quantity q) {
  std::string s;
  for (const auto& u : units())
    if (u.quantity == q) s += (s.empty() ? "" : ", ") + std::string(u.name);
  return s;
}

namespace {
// "0.05s or 0.05ms": the number as typed with the quantity's two most common units.
std::string examples(Quantity q, const std::string& number) {
  switch (q) {
    case Quantity::Bytes: return number + "KB or " + number + "MB";
    case Quantity::Energy: return number + "J or " + number + "mJ";
    case Quantity::Time: return number + "s or " + number + "ms";
    case Quantity::Money: return "$" + number;
    case Quantity::Rate: return number + "/s or " + number + "/min";
  }
  return number;
}
}  // namespace

bool parse_quantity(const std::string& text, Quantity q, double* value, std::string* why) {
  std::string t = text;
  auto trim = [](std::string& s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  };
  trim(t);
  double factor = 1;
  if (q == Quantity::Money && !t.empty() && t.front() == '$') t.erase(t.begin());
  // The number is the longest prefix strtod accepts; the rest names the unit.
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  std::string unit = t.substr(static_cast<size_t>(end - t.c_str()));
  trim(unit);
  if (end == t.c_str()) {
    *why = "a number with a unit (" + unit_list(q) + ")";
    return false;
  }
  if (!std::isfinite(v) || v < 0) {
    *why = "a finite " + std::string(quantity_name(q)).substr(std::string(quantity_name(q)).find(' ') + 1) + " >= 0";
    return false;
  }
  // A bare number is ambiguous ("0.05" read as seconds was meant as 50 ms): every quantity but
  // dollars, which have one unit, needs its unit. Zero is the same in every unit.
  if (unit.empty() && q != Quantity::Money && v != 0) {
    *why = std::string(quantity_name(q)) + " with its unit, e.g. " + examples(q, t) + " (units: " + unit_list(q) +
           "; a bare number is not accepted)";
    return false;
  }
  if (!unit.empty()) {
    bool known = false;
    for (const auto& u : units())
      if (u.quantity == q && unit == u.name) {
        factor = u.factor;
        known = true;
      }
    if (!known) {
      *why = std::string(quantity_name(q)) + " with one of the units " + unit_list(q) + " (unit '" + unit + "' is not one)";
      return false;
    }
  }
  if (!std::isfinite(v) || v < 0) {
    *why = std::string(quantity_name(q)) + " >= 0";
    return false;
  }
  if (!std::isfinite(v * factor) || v * factor > 1e30) {
    *why = std::string(quantity_name(q)) + " below 1e30 base units (for \"unlimited\", a large finite value works)";
    return false;
  }
  *value = v * factor;
  return true;
}

std::string format_quantity(double v, Quantity q) {
  char b[64];
  // The largest unit the value reaches, the smallest for tiny values and zero.
  auto scaled = [&](std::initializer_list<std::pair<double, const char*>> steps) {
    std::pair<double, const char*> pick = *(steps.end() - 1);
    for (const auto& s : steps)
      if (std::fabs(v) >= s.first) {
        pick = s;
        break;
      }
    std::snprintf(b, sizeof b, "%.3g %s", v / pick.first, pick.second);
    return std::string(b);
  };
  switch (q) {
    case Quantity::Bytes: return scaled({{1e9, "GB"}, {1e6, "MB"}, {1e3, "KB"}, {1, "B"}});
    case Quantity::Energy: return scaled({{1e3, "kJ"}, {1, "J"}, {1e-3, "mJ"}, {1e-6, "uJ"}});
    case Quantity::Time: return scaled({{3600, "h"}, {60, "min"}, {1, "s"}, {1e-3, "ms"}, {1e-6, "us"}});
    case Quantity::Money: std::snprintf(b, sizeof b, "$%.3g", v); return b;
    case Quantity::Rate: std::snprintf(b, sizeof b, "%.3g/s", v); return b;
  }
  return "?";
}

}  // namespace mcdnn
