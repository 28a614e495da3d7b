// libFuzzer harness: the schema parser, then the profiler, as `mcdnn-compile --profile-only`
// runs them on a user's file.
//
// Input: the schema text, as is. parse_schema_string() must either return a schema or throw
// mcdnn::Error of class Schema whose message starts with the file name (errors say where).
// Any other exception, a crash, a sanitizer report, or an Error of another class is a finding.
// A schema that parses is profiled (profile_layers, format_profile): shapes the parser accepts
// must be countable.
//
// Seeds: fuzz/corpus/schema/ (schemas/*.yaml and edge cases); dictionary: fuzz/fuzz_schema.dict.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "harness.hpp"
#include "profile/profile.hpp"
#include "schema/schema.hpp"
#include "util/error.hpp"

namespace {
constexpr const char* kFile = "fuzz.yaml";

[[noreturn]] void finding(const std::string& what) { mcdnn_fuzz::finding("fuzz_schema", what); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mcdnn::Schema s;
  try {
    s = mcdnn::parse_schema_string(text, kFile, "");
  } catch (const mcdnn::Error& e) {
    if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_schema: %s\n", e.what());
    if (e.cls() != mcdnn::ErrorClass::Schema)
      finding("parse_schema_string threw error class " + std::to_string(e.exit_code()) + ", expected Schema (3): " +
              e.what());
    if (std::string(e.what()).rfind(kFile, 0) != 0) finding(std::string("error does not start with the file name: ") + e.what());
    return 0;
  }
  mcdnn::Profile p = mcdnn::profile_layers(s.layers);
  std::string table = mcdnn::format_profile(p);
  if (table.empty()) finding("empty profile table");
  if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_schema: valid schema '%s'\n%s", s.name.c_str(), table.c_str());
  return 0;
}
