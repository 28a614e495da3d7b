// The shared end of every mcdnn command's main(): parse the flags (--help and --version exit 0;
// a flag error prints CLI11's message and exits 2), then run the command, turning mcdnn::Error
// into "error: <message>" and its class's exit code, and anything else into
// "internal error: ..." and exit 1. Header-only: for the command-line programs, which link CLI11.
#pragma once
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <string>
#include <iostream>

#include "util/error.hpp"

namespace mcdnn {

// "--limit: expected an integer >= 1, got '0'" (CLI11's PositiveNumber prints its range as a
// 300-digit number).
inline CLI::Validator at_least(long long lo) {
  return CLI::Validator(
      [lo](std::string& s) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(s.c_str(), &end, 10);
        if (s.empty() || *end || errno == ERANGE || v < lo) return "expected an integer >= " + std::to_string(lo) + ", got '" + s + "'";
        return "";
      },
      "INT>=" + std::to_string(lo));
}

// "--measure-seconds: expected a number in [0, 60], got '99'".
inline CLI::Validator number_in(double lo, double hi) {
  auto show = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  };
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end || !(v >= lo && v <= hi)) return "expected a number in [" + show(lo) + ", " + show(hi) + "], got '" + s + "'";
        return "";
      },
      "NUMBER in [" + show(lo) + ", " + show(hi) + "]");
}

template <class Body>
int parse_and_run(CLI::App& app, int argc, char** argv, Body&& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(ErrorClass::Usage);
  }
  try {
    return body();
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace mcdnn
