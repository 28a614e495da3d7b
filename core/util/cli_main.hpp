// The shared end of every mcdnn command's main(): parse the flags (--help and --version exit 0;
// a flag error prints CLI11's message and exits 2), then run the command, turning mcdnn::Error
// into "error: <message>" and its class's exit code, and anything else into
// "internal error: ..." and exit 1. Header-only: for the command-line programs, which link CLI11.
#pragma once
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "util/error.hpp"

namespace mcdnn {

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
