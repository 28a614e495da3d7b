// The shared ends of the bench_* tools' main(): `--help` (or -h) prints the usage and exits 0;
// arguments the tool cannot take (its parser throws BadFlag with what is wrong: an unknown flag,
// a missing argument) print that and the usage to stderr and exit 2;
// an error while running (a missing catalog, schema, scenario or data file) prints one line,
// "bench_x: error: ...", and exits with mcdnn's code for it (1 for anything else) instead of
// ending in an uncaught exception.
#pragma once
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "util/error.hpp"

struct BadFlag : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws BadFlag for an argument that looks like a flag (after the tool has matched its own, so
// one of its own flags missing its value lands here too).
inline void reject_flag(const char* arg) {
  if (arg[0] == '-' && arg[1] != '\0') throw BadFlag(std::string("unknown option '") + arg + "', or an option missing its value");
}

template <class Run>
int bench_main(const char* name, const char* usage, int argc, char** argv, Run&& run) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("usage: %s\n", usage);
      return 0;
    }
  try {
    return run(argc, argv);
  } catch (const BadFlag& e) {
    std::fprintf(stderr, "%s: %s\nusage: %s\n", name, e.what(), usage);
    return static_cast<int>(mcdnn::ErrorClass::Usage);
  } catch (const mcdnn::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 1;
  }
}
