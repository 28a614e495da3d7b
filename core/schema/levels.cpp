#include "schema/levels.hpp"

#include <cmath>
#include <cstdlib>

#include "nn/storage.hpp"

namespace mcdnn {

namespace {
// Decimal digits with at most one '.', at least one digit.
bool decimal(const std::string& s, double* out) {
  int dots = 0, digits = 0;
  for (char c : s) {
    if (c == '.') ++dots;
    else if (c >= '0' && c <= '9') ++digits;
    else return false;
  }
  if (digits == 0 || dots > 1 || s.size() > 32) return false;
  *out = std::strtod(s.c_str(), nullptr);
  return std::isfinite(*out);
}
}  // namespace

bool parse_fraction(const std::string& s, double* out) {
  double v;
  auto slash = s.find('/');
  if (slash == std::string::npos) {
    if (!decimal(s, &v)) return false;
  } else {
    double a, b;
    if (!decimal(s.substr(0, slash), &a) || !decimal(s.substr(slash + 1), &b) || b <= 0) return false;
    v = a / b;
  }
  if (!(v > 0 && v <= 1)) return false;
  *out = v;
  return true;
}

bool parse_count(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 12) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  int64_t v = std::strtoll(s.c_str(), nullptr, 10);
  if (v < 1) return false;
  *out = v;
  return true;
}

bool parse_rank(const std::string& s, RankSpec* out) {
  RankSpec r;
  r.label = s;
  int64_t k;
  if (s.rfind("energy=", 0) == 0) {
    r.kind = RankSpec::Kind::Energy;
    if (!parse_fraction(s.substr(7), &r.value)) return false;
  } else if (s.rfind("k=", 0) == 0 || s.find_first_of("./") == std::string::npos) {
    r.kind = RankSpec::Kind::Absolute;
    if (!parse_count(s.rfind("k=", 0) == 0 ? s.substr(2) : s, &k)) return false;
    r.value = static_cast<double>(k);
  } else {
    r.kind = RankSpec::Kind::Fraction;
    if (!parse_fraction(s, &r.value)) return false;
  }
  *out = r;
  return true;
}

bool parse_sparsity(const std::string& s, double* out) {
  double v;
  if (!parse_fraction(s, &v) || v >= 1) return false;
  *out = v;
  return true;
}

bool parse_keep(const std::string& s, KeepSpec* out) {
  KeepSpec k;
  int64_t n;
  if (s.find_first_of("./") == std::string::npos) {
    if (!parse_count(s, &n)) return false;
    k.value = static_cast<double>(n);
  } else {
    k.fraction = true;
    if (!parse_fraction(s, &k.value)) return false;
  }
  *out = k;
  return true;
}

int64_t keep_count(const KeepSpec& k, int64_t out) {
  if (!k.fraction) return static_cast<int64_t>(k.value);
  return std::max<int64_t>(1, std::llround(k.value * static_cast<double>(out)));
}

bool valid_quantize_format(const std::string& s) { return s != "f32" && valid_storage(s); }
const char* quantize_formats() { return "f16, int8, cb8, cb4, cb2"; }

}  // namespace mcdnn
