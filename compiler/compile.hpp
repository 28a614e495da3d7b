// The compiler as a library call: schema -> data -> trained base model -> catalog.
// The mcdnn-compile executable only parses flags into CompileOptions and calls compile().
#pragma once
#include <ostream>

#include "cli/compile_options.hpp"

namespace mcdnn {

// Runs the job; output for the user goes to `out`, errors to `err`. Returns the process exit
// code (0 success; see ErrorClass in util/error.hpp for the rest).
int compile(const CompileOptions& opt, std::ostream& out, std::ostream& err);

}  // namespace mcdnn
