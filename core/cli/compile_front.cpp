// mcdnn-compile: LibTorch-free front end. --help, --version, --check and --profile-only need no
// LibTorch and answer here at once (loading LibTorch alone takes over half a second); anything
// else — training and building a catalog — is done by mcdnn-compile-torch, which this program
// execs with the same arguments after checking them. mcdnn-compile-torch is looked for next to
// this program (the build tree) and then in ../libexec/mcdnn/ (an installed tree).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <vector>

#include "cli/compile_flags.hpp"
#include "schema/check.hpp"
#include "util/cli_main.hpp"
#include "util/error.hpp"

namespace {

std::string find_torch_half() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) mcdnn::fail(mcdnn::ErrorClass::Internal, "cannot locate the running program (/proc/self/exe): " + ec.message());
  for (const fs::path& p : {self.parent_path() / "mcdnn-compile-torch", self.parent_path().parent_path() / "libexec/mcdnn/mcdnn-compile-torch"})
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  mcdnn::fail(mcdnn::ErrorClass::Internal, "mcdnn-compile-torch (the part of mcdnn-compile that trains) is neither next to " +
                                               self.string() + " nor in ../libexec/mcdnn/; rebuild or reinstall mcdnn");
}

}  // namespace

int main(int argc, char** argv) {
  mcdnn::CompileOptions opt;
  CLI::App app{"mcdnn-compile: train a model from a schema and write its catalog of variants", "mcdnn-compile"};
  mcdnn::add_compile_flags(app, opt);
  return mcdnn::parse_and_run(app, argc, argv, [&] {
    mcdnn::check_compile_flags(opt);
    if (opt.check) return mcdnn::run_check(opt, std::cout);
    if (opt.profile_only) return mcdnn::run_profile_only(opt, std::cout);
    const std::string torch = find_torch_half();
    std::vector<char*> args(argv, argv + argc);
    args.push_back(nullptr);
    ::execv(torch.c_str(), args.data());
    mcdnn::fail(mcdnn::ErrorClass::Internal, "cannot run " + torch + ": " + std::strerror(errno));
  });
}
