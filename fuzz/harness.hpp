// Helpers shared by the harnesses.
//
// Scratch files, for code under test that reads paths: named mcdnn-fuzz-<pid>-<name> (so
// -fork/-jobs workers never share one), on /dev/shm when it is writable (no disk I/O per
// iteration), else $TMPDIR, else /tmp. Rewritten every iteration and removed when the process
// exits normally; a crashed run leaves them behind (a few KB).
//
// MCDNN_FUZZ_VERBOSE=1 makes a harness print what each input did (the error, or what was
// read): run it on one reproducer to see why it is interesting.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace mcdnn_fuzz {

// Never destroyed, so the atexit handler below can still read it.
inline std::vector<std::string>& scratch_files() {
  static auto* files = new std::vector<std::string>;
  return *files;
}

// Full path of scratch file `name`; registered for removal at exit.
inline std::string scratch_path(const std::string& name) {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (tmp && *tmp ? tmp : "/tmp");
    return base + "/mcdnn-fuzz-" + std::to_string(getpid()) + "-";
  }();
  static const bool registered = [] {
    std::atexit([] {
      for (const auto& f : scratch_files()) std::remove(f.c_str());
    });
    return true;
  }();
  (void)registered;
  std::string path = dir + name;
  for (const auto& f : scratch_files())
    if (f == path) return path;
  scratch_files().push_back(path);
  return path;
}

// Writes bytes to `path` (truncating); aborts on failure, which is an environment problem.
inline void write_bytes(const std::string& path, const void* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

inline bool verbose() {
  static const bool on = [] {
    const char* e = std::getenv("MCDNN_FUZZ_VERBOSE");
    return e && std::string(e) == "1";
  }();
  return on;
}

// A property the harness checks failed: print it and abort, so libFuzzer saves the input.
[[noreturn]] inline void finding(const char* harness, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", harness, what.c_str());
  std::abort();
}

}  // namespace mcdnn_fuzz
