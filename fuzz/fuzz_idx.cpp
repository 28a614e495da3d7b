// libFuzzer harness: the IDX reader (data/idx.cpp) through read_source(format "idx"), then the
// steps load_data() applies to what it returns (check_and_relabel, channel_stats, normalize).
//
// Input layout:
//   byte 0     flags  bit 0: gzip the images file    bit 1: gzip the labels file
//                     bits 2-3: the schema's input shape: 0 = taken from the images header
//                       (N x H x W -> 1xHxW, N x C x H x W -> CxHxW) when it is within the
//                       schema's limits and at most 4096 values, else 1x4x4; 1 = 1x4x4;
//                       2 = 3x2x2; 3 = 1x28x28
//                     bits 4-6: limit (0 = all examples, as without --limit; else 1..7)
//                     bit 7: relabel {0: 1, 1: 0} (else identity into 10 classes)
//   bytes 1-2  split, little-endian: the images file is the next `split` bytes (clamped to
//              what is there), the labels file the rest
// Both files are written to scratch files (fuzz/harness.hpp) every iteration; gzip level 1.
// A file the fuzzer makes that starts with 1f 8b is read as gzip too, so corrupt streams are
// reached without the flag.
//
// Findings: a crash or sanitizer report; an exception other than mcdnn::Error of class Data;
// an error that does not name the file; a returned Dataset that breaks read_source's contract
// (n within limit, sizes n*c*h*w and n, shape as asked, pixels finite, uint8 in [0, 1]).
//
// Seeds: fuzz/corpus/idx/, written by fuzz/make_corpus.py.
#include <zlib.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "harness.hpp"
#include "util/error.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) { mcdnn_fuzz::finding("fuzz_idx", what); }

void write_gz(const std::string& path, const uint8_t* data, size_t size) {
  gzFile g = gzopen(path.c_str(), "wb1");
  if (!g || (size && gzwrite(g, data, static_cast<unsigned>(size)) != static_cast<int>(size)) || gzclose(g) != Z_OK) {
    std::perror(path.c_str());
    std::abort();
  }
}

uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

// The schema's input shape from the images header, within what the schema accepts
// (channels <= 4096, height and width <= 65536) and small enough to keep iterations fast.
bool shape_from_header(const uint8_t* p, size_t n, mcdnn::Shape* out) {
  if (n < 4 || p[0] != 0 || p[1] != 0) return false;
  const int rank = p[3];
  if ((rank != 3 && rank != 4) || n < 4 + 4 * size_t(rank)) return false;
  int64_t c = 1, h, w;
  if (rank == 3) {
    h = be32(p + 8);
    w = be32(p + 12);
  } else {
    c = be32(p + 8);
    h = be32(p + 12);
    w = be32(p + 16);
  }
  if (c < 1 || c > 4096 || h < 1 || h > 65536 || w < 1 || w > 65536 || c * h * w > 4096) return false;
  *out = {c, h, w, false};
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string images = mcdnn_fuzz::scratch_path("images-idx"), labels = mcdnn_fuzz::scratch_path("labels-idx");
  if (size < 3) return -1;  // not in the input format: keep it out of the corpus
  const uint8_t flags = data[0];
  size_t split = data[1] | (size_t(data[2]) << 8);
  const uint8_t* body = data + 3;
  const size_t body_size = size - 3;
  if (split > body_size) split = body_size;

  if (flags & 1) write_gz(images, body, split);
  else mcdnn_fuzz::write_bytes(images, body, split);
  if (flags & 2) write_gz(labels, body + split, body_size - split);
  else mcdnn_fuzz::write_bytes(labels, body + split, body_size - split);

  mcdnn::Shape input{1, 4, 4, false};
  switch ((flags >> 2) & 3) {
    case 0: shape_from_header(body, split, &input); break;
    case 1: break;
    case 2: input = {3, 2, 2, false}; break;
    case 3: input = {1, 28, 28, false}; break;
  }
  const int64_t limit = (flags >> 4) & 7;

  mcdnn::DataSource src;
  src.format = "idx";
  src.images = images;
  src.labels = labels;
  mcdnn::Dataset d;
  try {
    d = mcdnn::read_source(src, input, limit);
  } catch (const mcdnn::Error& e) {
    const std::string msg = e.what();
    if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_idx: input %s: error: %s\n", input.str().c_str(), msg.c_str());
    if (e.cls() != mcdnn::ErrorClass::Data) finding("read_source threw error class " + std::to_string(e.exit_code()) + ": " + msg);
    if (msg.rfind(images, 0) != 0 && msg.rfind(labels, 0) != 0) finding("error does not start with a file name: " + msg);
    return 0;
  }

  if (mcdnn_fuzz::verbose())
    std::fprintf(stderr, "fuzz_idx: input %s, limit %lld: read %lld examples\n", input.str().c_str(),
                 static_cast<long long>(limit), static_cast<long long>(d.n));
  // read_source's contract (data/dataset.hpp).
  if (d.n < 0 || (limit > 0 && d.n > limit)) finding("n = " + std::to_string(d.n) + " with limit " + std::to_string(limit));
  if (d.c != input.c || d.h != input.h || d.w != input.w)
    finding("dataset shape " + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w) +
            " differs from the input " + input.str());
  if (d.images.size() != size_t(d.n * d.c * d.h * d.w) || d.labels.size() != size_t(d.n))
    finding("buffer sizes " + std::to_string(d.images.size()) + ", " + std::to_string(d.labels.size()) + " for n = " +
            std::to_string(d.n));
  // uint8 images, known when the images file is plain IDX (not gzip, whose header is 1f 8b 08).
  const bool u8 = !(flags & 1) && split >= 3 && body[0] == 0 && body[1] == 0 && body[2] == 0x08;
  for (size_t i = 0; i < d.images.size(); ++i) {
    const float x = d.images[i];
    if (!std::isfinite(x)) finding("non-finite pixel " + std::to_string(x) + " at " + std::to_string(i) + " accepted");
    if (u8 && (x < 0.0f || x > 1.0f)) finding("uint8 pixel scaled to " + std::to_string(x));
  }
  for (auto y : d.labels)
    if (y < 0 || y > 255) finding("IDX label " + std::to_string(y) + " outside 0..255");

  // What load_data() does next.
  mcdnn::DataSpec spec;
  if (flags & 0x80) spec.relabel = {{0, 1}, {1, 0}};
  try {
    mcdnn::check_and_relabel(d, spec, 10);
  } catch (const mcdnn::Error& e) {
    if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_idx: check_and_relabel: %s\n", e.what());
    if (e.cls() != mcdnn::ErrorClass::Data) finding(std::string("check_and_relabel threw a non-Data error: ") + e.what());
    return 0;
  }
  std::vector<double> mean, sd;
  mcdnn::channel_stats(d, &mean, &sd);
  if (mean.size() != size_t(d.c) || sd.size() != size_t(d.c)) finding("channel_stats sizes");
  for (auto& v : sd)
    if (v < 1e-12) v = 1.0;  // as load_data() does for a constant channel
  mcdnn::normalize(d, mean, sd);
  return 0;
}
