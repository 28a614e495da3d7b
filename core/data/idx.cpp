// IDX reader. Layout (big-endian): bytes 0-1 zero, byte 2 type code (0x08 uint8,
// 0x0D float32), byte 3 rank, then rank uint32 dimensions, then the data.
#include <zlib.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "data/dataset.hpp"
#include "util/error.hpp"

namespace mcdnn {

namespace {

struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

struct IdxHeader {
  int type = 0;
  std::vector<int64_t> dims;
  int64_t header_bytes = 0;
};

[[noreturn]] void data_fail(const std::string& file, const std::string& what) {
  fail(ErrorClass::Data, file + ": " + what);
}

// Reads exactly n bytes; on a short read names the offset and what was expected.
void read_exact(GzFile& g, const std::string& file, void* buf, int64_t n, int64_t offset, const char* what) {
  auto* p = static_cast<unsigned char*>(buf);
  int64_t got = 0;
  while (got < n) {
    unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - got, 1 << 30));
    int r = gzread(g.f, p + got, chunk);
    if (r < 0) {
      int errnum = 0;
      const char* msg = gzerror(g.f, &errnum);
      data_fail(file, std::string("read error at byte offset ") + std::to_string(offset + got) + ": " + msg +
                          " (is the .gz file corrupt?)");
    }
    if (r == 0) {
      data_fail(file, std::string("truncated: expected ") + std::to_string(n) + " bytes of " + what +
                          " at byte offset " + std::to_string(offset) + ", found only " + std::to_string(got) +
                          "; the file is incomplete, download or convert it again");
    }
    got += r;
  }
}

IdxHeader read_header(GzFile& g, const std::string& file) {
  unsigned char magic[4];
  read_exact(g, file, magic, 4, 0, "IDX magic number");
  if (magic[0] != 0 || magic[1] != 0 || (magic[2] != 0x08 && magic[2] != 0x0D) || magic[3] < 1 || magic[3] > 4) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02x %02x %02x %02x", magic[0], magic[1], magic[2], magic[3]);
    data_fail(file, std::string("bad IDX magic number at byte offset 0: expected 00 00 08|0d <rank 1-4>, found ") +
                        buf + "; is this an IDX file (MNIST format)?");
  }
  IdxHeader h;
  h.type = magic[2];
  for (int i = 0; i < magic[3]; ++i) {
    unsigned char d[4];
    read_exact(g, file, d, 4, 4 + 4 * i, "IDX dimension");
    h.dims.push_back((int64_t(d[0]) << 24) | (int64_t(d[1]) << 16) | (int64_t(d[2]) << 8) | int64_t(d[3]));
  }
  h.header_bytes = 4 + 4 * static_cast<int64_t>(h.dims.size());
  return h;
}

// `command_line`: the files came as arguments (mcdnn-infer), so hints name no schema keys.
void open_gz(GzFile& g, const std::string& file, bool command_line) {
  g.f = gzopen(file.c_str(), "rb");
  if (!g.f)
    data_fail(file, std::string("cannot open (") + std::strerror(errno) + "); " +
                        (command_line ? "check the path" : "check data paths in the schema"));
  gzbuffer(g.f, 1 << 20);
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s;
  for (auto x : d) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

}  // namespace

// Refuses, before anything is allocated, a header that claims more data than the file can hold:
// a raw file must have header + data bytes (the same message read_exact gives), a gzip file at
// most 1032 times its size (deflate's largest ratio).
static void check_claim(const std::string& file, int64_t header, double data_bytes, const char* what) {
  std::error_code ec;
  const double size = static_cast<double>(std::filesystem::file_size(file, ec));
  if (ec) return;  // read_exact reports what is wrong
  unsigned char magic[2] = {0, 0};
  if (FILE* f = std::fopen(file.c_str(), "rb")) {
    if (std::fread(magic, 1, 2, f) != 2) magic[0] = 0;
    std::fclose(f);
  }
  const bool gz = magic[0] == 0x1f && magic[1] == 0x8b;
  if (!gz && static_cast<double>(header) + data_bytes > size)
    data_fail(file, "truncated: expected " + std::to_string(static_cast<int64_t>(data_bytes)) + " bytes of " + what +
                        " at byte offset " + std::to_string(header) + ", found only " +
                        std::to_string(static_cast<int64_t>(size) - header) + "; the file is incomplete, download or convert it again");
  if (gz && data_bytes > 1032.0 * size + 4096)
    data_fail(file, "the header claims " + std::to_string(static_cast<int64_t>(data_bytes)) + " bytes of " + what +
                        ", more than a " + std::to_string(static_cast<int64_t>(size)) +
                        "-byte gzip file can hold; the file is damaged, download or convert it again");
}

Dataset read_idx(const std::string& images_file, const std::string& labels_file, const Shape& input, int64_t limit,
                 bool command_line) {
  Dataset d;
  d.source = images_file;
  d.label_source = labels_file;
  const bool labelled = !labels_file.empty();  // "": images only (mcdnn-infer without labels)
  GzFile gi, gl;
  open_gz(gi, images_file, command_line);
  IdxHeader hi = read_header(gi, images_file), hl;
  if (labelled) {
    open_gz(gl, labels_file, command_line);
    hl = read_header(gl, labels_file);
  }

  // Images: N x H x W (one channel) or N x C x H x W.
  bool shape_ok = (hi.dims.size() == 3 && input.c == 1 && hi.dims[1] == input.h && hi.dims[2] == input.w) ||
                  (hi.dims.size() == 4 && hi.dims[1] == input.c && hi.dims[2] == input.h && hi.dims[3] == input.w);
  if (!shape_ok)
    data_fail(images_file, "images have dimensions " + dims_str(hi.dims) + " but the " + (command_line ? "variant" : "schema") + "'s input is " +
                               input.str() + " (expected N x " + (input.c == 1 ? "" : std::to_string(input.c) + " x ") +
                               std::to_string(input.h) + " x " + std::to_string(input.w) +
                               (command_line ? "); use images of the size the variant takes" : "); fix `input` in the schema or use matching data"));
  if (labelled && (hl.dims.size() != 1 || hl.type != 0x08))
    data_fail(labels_file, "expected a 1-D uint8 label file (magic 00 00 08 01), found rank " +
                               std::to_string(hl.dims.size()) + " type 0x" + (hl.type == 8 ? "08" : "0d"));
  if (labelled && hi.dims[0] != hl.dims[0])
    data_fail(labels_file, "has " + std::to_string(hl.dims[0]) + " labels but " + images_file + " has " +
                               std::to_string(hi.dims[0]) + " images; they must be the same set");
  d.n = hi.dims[0];
  if (limit > 0 && limit < d.n) d.n = limit;
  d.c = input.c;
  d.h = input.h;
  d.w = input.w;
  const int64_t per = d.c * d.h * d.w;
  check_claim(images_file, hi.header_bytes, static_cast<double>(d.n) * static_cast<double>(per) * (hi.type == 0x08 ? 1 : 4), "image data");
  if (labelled) check_claim(labels_file, hl.header_bytes, static_cast<double>(d.n), "labels");
  d.images.resize(static_cast<size_t>(d.n * per));
  if (hi.type == 0x08) {
    std::vector<unsigned char> raw(static_cast<size_t>(d.n * per));
    read_exact(gi, images_file, raw.data(), d.n * per, hi.header_bytes, "image data");
    for (size_t i = 0; i < raw.size(); ++i) d.images[i] = raw[i] / 255.0f;
  } else {
    std::vector<unsigned char> raw(static_cast<size_t>(d.n * per * 4));
    read_exact(gi, images_file, raw.data(), d.n * per * 4, hi.header_bytes, "image data");
    for (int64_t i = 0; i < d.n * per; ++i) {
      const unsigned char* b = &raw[static_cast<size_t>(4 * i)];
      uint32_t u = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
      float f;
      std::memcpy(&f, &u, 4);
      if (!std::isfinite(f))
        data_fail(images_file, "non-finite value (" + std::to_string(f) + ") in image " + std::to_string(i / per) +
                                   " at byte offset " + std::to_string(hi.header_bytes + 4 * i));
      d.images[static_cast<size_t>(i)] = f;
    }
  }
  if (!labelled) return d;
  std::vector<unsigned char> lab(static_cast<size_t>(d.n));
  read_exact(gl, labels_file, lab.data(), d.n, hl.header_bytes, "labels");
  d.labels.assign(lab.begin(), lab.end());
  return d;
}

}  // namespace mcdnn
