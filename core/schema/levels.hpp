// The grammar of the catalog steps' levels (schemas/README.md, "catalog"), in one place: the
// schema validates with these functions and the sweep applies what they return, so every
// value the schema accepts is one the passes can apply.
//   fraction  "0.25" or "1/4": decimal digits with at most one '.', or two such numbers
//             separated by '/'; the value must be in (0, 1]
//   count     "32": decimal digits only, > 0
//   svd rank  a fraction of min(m, n), a count ("32" or "k=32"), or "energy=" and a fraction
//             (the smallest rank keeping that share of sum(s_i^2))
//   sparsity  a fraction in (0, 1) (1 excluded)
//   keep      (narrow) a count or a fraction of the layer's outputs (rounded, at least 1)
//   format    (quantize) f16, int8, cb8, cb4, cb2
#pragma once
#include <cstdint>
#include <string>

namespace mcdnn {

bool parse_fraction(const std::string& s, double* out);
bool parse_count(const std::string& s, int64_t* out);

struct RankSpec {
  enum class Kind { Fraction, Absolute, Energy } kind = Kind::Fraction;
  double value = 0.5;
  std::string label;  // as written, for transforms
};
bool parse_rank(const std::string& s, RankSpec* out);

bool parse_sparsity(const std::string& s, double* out);

struct KeepSpec {
  bool fraction = false;
  double value = 0;
};
bool parse_keep(const std::string& s, KeepSpec* out);
// Units kept of a layer with `out` outputs.
int64_t keep_count(const KeepSpec& k, int64_t out);

bool valid_quantize_format(const std::string& s);
const char* quantize_formats();  // "f16, int8, cb8, cb4, cb2"

}  // namespace mcdnn
