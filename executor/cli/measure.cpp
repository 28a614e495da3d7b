// mcdnn-measure: measures one variant file with the executor in a process of its own and prints
// what it cost as JSON (catalog.json's "measured"). mcdnn-compile runs it once per variant, so a
// catalog's latency is what a fresh process sees (mcdnn-infer, the runtime), not what the
// long-lived training process would: its heap and the placement of a model's buffers move a
// sparse layer's time by 10-20% (docs/executor.md, "Measuring"). Not meant to be run by hand.
//   mcdnn-measure FILE FLOPS SECONDS DEVICE_PROFILE [LAYERS]
// Exit codes: 0 measured, 2 bad arguments, 7 variant file unreadable or damaged.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "catalog/catalog_index.hpp"
#include "measure.hpp"
#include "util/error.hpp"

using namespace mcdnn;

namespace {
bool number(const char* s, double* v) {
  char* end = nullptr;
  *v = std::strtod(s, &end);
  return end != s && *end == '\0' && *v >= 0;
}
}  // namespace

int main(int argc, char** argv) {
  double flops = 0, seconds = 0, layers = 0;
  if ((argc != 5 && argc != 6) || !number(argv[2], &flops) || !number(argv[3], &seconds) || (argc == 6 && !number(argv[5], &layers))) {
    std::fprintf(stderr, "usage: mcdnn-measure FILE FLOPS SECONDS DEVICE_PROFILE [LAYERS] (run by mcdnn-compile)\n");
    return 2;
  }
  try {
    exec::MeasureOptions mo;
    mo.seconds = seconds;
    mo.device = argv[4];
    mo.model.layers = static_cast<int64_t>(layers);
    std::cout << measured_cost_json(exec::measure_file(argv[1], flops, mo)) << "\n";
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return static_cast<int>(e.cls());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
