// Quantities with units in scenario files and command-line budgets: "12MB", "0.5 Wh", "10h", "1000ms", "0.33/s", "$0.0667".
// One table (units.cpp) drives parsing, error messages and scenarios/README.md.
#pragma once
#include <string>
#include <vector>

namespace mcdnn {

// Each quantity has a base unit: bytes, joules, seconds, dollars, requests per second.
enum class Quantity { Bytes, Energy, Time, Money, Rate };

struct Unit {
  Quantity quantity;
  const char* name;  // as written after the number
  double factor;     // base units per one of this unit
};

const std::vector<Unit>& units();
const char* quantity_name(Quantity q);  // "bytes", "energy", ...
// "B, KB, MB, ..." for messages.
std::string unit_list(Quantity q);

// Parses "<number>[ ]<unit>" into base units. A bare number is refused (which unit was meant is
// a guess) except 0 and dollars ("0.0667" is $0.0667). Returns false (and sets *why) when the
// text is not a finite number >= 0 with a known unit of `q`.
bool parse_quantity(const std::string& text, Quantity q, double* value, std::string* why);

// Human-readable: 12.0 MB, 350 mJ, 2.5 h, $0.0012, 0.33/s.
std::string format_quantity(double value, Quantity q);

}  // namespace mcdnn
