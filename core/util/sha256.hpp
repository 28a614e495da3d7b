// SHA-256 (FIPS 180-4), for the checksums catalog.json records of every variant file.
// A checksum protects against accidental damage (truncated copies, flipped bits, a half-synced
// disk), not against deliberate tampering: whoever edits a file can recompute it. The variant
// reader's own validation (catalog/variant_file.hpp) is what survives a tampered file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mcdnn {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  std::string hex();  // finishes; 64 lowercase hex digits

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t fill_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(const std::string& bytes);
// Of a whole file; throws Error(cls) naming the file when it cannot be read.
std::string sha256_file(const std::string& path, int error_class);

}  // namespace mcdnn
