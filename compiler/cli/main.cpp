// mcdnn-compile-torch: the LibTorch half of mcdnn-compile, which execs it with its own arguments
// for everything that trains (core/cli/compile_front.cpp). Parses the same flags table and
// calls the library; run on its own it does everything mcdnn-compile does.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/compile_flags.hpp"
#include "compile.hpp"
#include "util/cli_main.hpp"

int main(int argc, char** argv) {
  mcdnn::CompileOptions opt;
  CLI::App app{"mcdnn-compile: train a model from a schema and write its catalog of variants", "mcdnn-compile"};
  mcdnn::add_compile_flags(app, opt);
  return mcdnn::parse_and_run(app, argc, argv, [&] {
    mcdnn::check_compile_flags(opt);
    opt.progress_bar = ::isatty(STDOUT_FILENO) != 0;
    return mcdnn::compile(opt, std::cout, std::cerr);
  });
}
