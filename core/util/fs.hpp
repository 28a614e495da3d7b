// File-system helpers: whole-file reads and atomic writes (temp path, then rename).
#pragma once
#include <filesystem>
#include <string>

namespace mcdnn {

// Reads a whole file; throws Error(cls) naming the file when it cannot.
std::string read_file(const std::filesystem::path& path, int error_class);

// Writes `content` to `path` via `path.tmp-<pid>` and rename, so readers never see half a file.
void write_file_atomic(const std::filesystem::path& path, const std::string& content);

// 64-bit FNV-1a hash, printed as 16 hex digits.
std::string fnv1a_hex(const std::string& bytes);

}  // namespace mcdnn
