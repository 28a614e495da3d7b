// Errors the user can act on. Each carries a class that maps to the process exit code
// (documented in README.md, "Exit codes"); the message already says where and what.
#pragma once
#include <stdexcept>
#include <string>

namespace mcdnn {

enum class ErrorClass : int {
  Internal = 1,  // a bug in mcdnn
  Usage = 2,     // bad command-line flags
  Schema = 3,    // schema file missing, malformed or invalid
  Data = 4,      // a data file missing, malformed or inconsistent with the schema
  Output = 5,    // the output directory could not be written
  Training = 6,  // training diverged (loss became NaN/Inf)
  Catalog = 7,   // a catalog or variant file could not be read back
  Scenario = 8,  // a scenario (mcdnn-run) or its trace file missing, malformed or invalid
  Interrupted = 130,  // Ctrl-C / SIGTERM (128 + SIGINT); the build resumes when rerun
};

class Error : public std::runtime_error {
 public:
  Error(ErrorClass cls, const std::string& message) : std::runtime_error(message), cls_(cls) {}
  ErrorClass cls() const { return cls_; }
  int exit_code() const { return static_cast<int>(cls_); }

 private:
  ErrorClass cls_;
};

[[noreturn]] inline void fail(ErrorClass cls, const std::string& message) { throw Error(cls, message); }

}  // namespace mcdnn
