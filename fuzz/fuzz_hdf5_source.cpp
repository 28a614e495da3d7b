// libFuzzer harness: the HDF5 data source (data/hdf5_source.cpp) through read_source(format
// "hdf5"), then the steps load_data() applies (check_and_relabel, channel_stats, normalize).
//
// Structure-aware: raw bytes as an HDF5 file would mostly fuzz libhdf5 (not instrumented, and
// it crashes on malformed files by itself). Instead the input is decoded into a description
// of a file — which datasets exist, their rank, dims, element type, storage, values — that is
// written with the HDF5 C API to a scratch file (fuzz/harness.hpp); read_source() then reads
// it with a schema-side description (input shape, layout, dataset names, limit). This fuzzes
// our validation, hyperslab, layout and conversion logic on files libhdf5 itself wrote.
//
// Input layout: one byte per field in this order; bytes past the end read as 0, and the empty
// input is the baseline valid file (2 images 1x4x4 uint8 NCHW contiguous, int64 labels).
//   mode        'R' with MCDNN_FUZZ_HDF5_RAW=1 in the environment: raw mode (below); else ignored
//   shape       c = 1 + (b & 3) % 3, h = 4 - (b >> 2 & 3), w = 4 - (b >> 4 & 3);
//               bit 6: schema layout NHWC; bit 7: the file's layout is the other one
//   images      flags, type, rank, count, dim1, dim2, dim3, dim4   (DatasetDesc below)
//   labels      flags, type, rank, count, dim1, dim2, dim3, dim4
//   names       low nibble: images path, high nibble: labels path (name_for)
//   limit       b % 8 (0 = all examples)
//   scale       label scale: kScales[b % 8] (-1: labels alternate INT64_MIN / INT64_MAX)
//   values...   the rest: a pool of bytes cycled through for element values (image element i
//               takes pool[i], label j takes pool[size - 1 - j]; see image_value/label_value)
//
// Dataset flags: bit 0 missing (not written); bit 1 a group instead of a dataset; bit 2
// chunked; bit 3 deflate (when chunked); bit 4 huge: 2^31 more rows in the dataspace, chunked
// and never written (a small file claiming a large data set); bit 5 big-endian numeric type;
// bit 6 rank 0 is a null dataspace (else scalar); bit 7 images: the schema asks for a name
// the file lacks; labels: the schema's labels name is the images name.
// Type: images Type(b % 14), labels Type((b + 4) % 14) in the order of enum Type below (u8,
// i8, u16, i32, i64, f32, f64, fixed string, vlen string, u64, enum, opaque, bitfield,
// compound), so 0 is uint8 images and int64 labels. Rank: 0 -> images 4, labels 1; else
// (b - 1) % 6. Count (rows): images (b + 2) % 10; labels 0 -> the images count, else
// (b - 1) % 10. Dim k: 0 -> what the schema expects (images; 1 for labels and for axes past
// 3), else (b - 1) % 7.
//
// Findings: a crash or sanitizer report; an exception other than mcdnn::Error of class Data;
// an error that does not start with the file name; HDF5 objects left open by read_source;
// a returned Dataset that differs from the file (every pixel and label is checked against an
// independent read of the file, with the layout transposed and uint8 scaled by 1/255), or
// breaks the contract (n = min(rows, limit), sizes, finite pixels).
//
// Raw mode (opt-in; off in tools/fuzz.sh's CI pass): the bytes after 'R' are the file, read with
// dataset names images/labels, input 1x4x4, limit 4. Crashes and leaks inside libhdf5 in this
// mode are libhdf5 findings (report them upstream or to Debian), not mcdnn's; a crash in mcdnn
// code, an HDF5 object it leaves open, or an exception other than mcdnn::Error is still ours.
// libhdf5 1.10.8 leaks on corrupt object headers: run raw mode with
// LSAN_OPTIONS=suppressions=fuzz/hdf5_raw.lsan.supp (tools/fuzz.sh does).
//
// Seeds: fuzz/corpus/hdf5_source/, written by fuzz/make_corpus.py, except raw_baseline: 'R' and
// the file the empty input decodes to, kept with MCDNN_FUZZ_HDF5_SAVE (fuzz/README.md).
#include <hdf5.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "harness.hpp"
#include "util/error.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) { mcdnn_fuzz::finding("fuzz_hdf5_source", what); }

// Harness-side HDF5 failures (writing the file, reading it back) are harness bugs.
void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_hdf5_source: harness: %s failed\n", what);
    std::abort();
  }
}

enum Type { U8, I8, U16, I32, I64, F32, F64, FSTR, VSTR, U64, ENUM8, OPAQUE1, BITFIELD8, COMPOUND1, kNumTypes };
constexpr int64_t kScales[8] = {1, 2, 7, 1000, int64_t(1) << 20, int64_t(1) << 40, INT64_MAX / 127, -1};

struct Reader {
  const uint8_t* p;
  size_t n, i = 0;
  uint8_t next() { return i < n ? p[i++] : 0; }
};

struct DatasetDesc {
  uint8_t flags = 0;
  int type = U8;
  int rank = 0;
  std::vector<hsize_t> dims;
  std::string path;  // where the file has it
  bool missing() const { return flags & 1; }
  bool group() const { return flags & 2; }
  bool huge() const { return (flags & 16) && rank > 0; }
  bool chunked() const { return ((flags & 4) || huge()) && rank > 0; }
  bool deflate() const { return flags & 8; }
  bool big_endian() const { return flags & 32; }
  bool null_space() const { return flags & 64; }
  hsize_t points() const {
    if (rank == 0) return null_space() ? 0 : 1;
    hsize_t n = 1;
    for (auto d : dims) n *= d;
    return n;
  }
};

std::string name_for(int i, const std::string& role) {
  switch (i & 15) {
    case 0: return role;
    case 1: return "/" + role;
    case 2: return "g/" + role;
    case 3: return "g/h/" + role;
    case 4: return "";
    case 5: return ".";
    case 6: return "/";
    case 7: return role + "/";
    case 8: return "x y";
    case 9: return "a//" + role;
    case 10: return "\xc3\xaf" + role;
    case 11: return std::string(300, 'n');
    case 12: return "g";
    case 13: return "..";
    case 14: return "images";
    default: return "labels";
  }
}

struct Desc {
  mcdnn::Shape input;
  bool schema_nhwc = false;
  DatasetDesc im, lb;
  std::string schema_images, schema_labels;
  int64_t limit = 0;
  int64_t scale = 1;
  const uint8_t* pool = nullptr;
  size_t pool_size = 0;
};

Desc decode(Reader& r) {
  Desc d;
  const uint8_t s = r.next();
  d.input = {1 + (s & 3) % 3, 4 - ((s >> 2) & 3), 4 - ((s >> 4) & 3), false};
  d.schema_nhwc = s & 0x40;
  const bool file_nhwc = d.schema_nhwc != bool(s & 0x80);
  const hsize_t c = hsize_t(d.input.c), h = hsize_t(d.input.h), w = hsize_t(d.input.w);
  const std::vector<hsize_t> expect = file_nhwc ? std::vector<hsize_t>{h, w, c} : std::vector<hsize_t>{c, h, w};

  auto dataset = [&](DatasetDesc& ds, bool images, hsize_t images_rows) {
    ds.flags = r.next();
    ds.type = (r.next() + (images ? 0 : I64)) % kNumTypes;
    const uint8_t rank = r.next(), count = r.next();
    ds.rank = rank == 0 ? (images ? 4 : 1) : (rank - 1) % 6;
    hsize_t rows = images ? hsize_t((count + 2) % 10) : count == 0 ? images_rows : hsize_t((count - 1) % 10);
    for (int k = 1; k <= 4; ++k) {
      const uint8_t b = r.next();
      if (k >= ds.rank) continue;
      hsize_t def = images && k <= 3 ? expect[size_t(k - 1)] : 1;
      ds.dims.push_back(b == 0 ? def : hsize_t((b - 1) % 7));
    }
    if (ds.rank > 0) ds.dims.insert(ds.dims.begin(), rows + (ds.huge() ? hsize_t(1) << 31 : 0));
    return rows;
  };
  hsize_t rows = dataset(d.im, true, 0);
  dataset(d.lb, false, rows);
  const uint8_t names = r.next();
  d.im.path = name_for(names & 15, "images");
  d.lb.path = name_for(names >> 4, "labels");
  d.schema_images = d.im.flags & 128 ? "missing_" + d.im.path : d.im.path;
  d.schema_labels = d.lb.flags & 128 ? d.schema_images : d.lb.path;
  d.limit = r.next() % 8;
  d.scale = kScales[r.next() % 8];
  d.pool = r.p + r.i;
  d.pool_size = r.n - r.i;
  return d;
}

uint8_t pool_at(const Desc& d, size_t i) { return d.pool_size ? d.pool[i % d.pool_size] : 0; }

double image_value(uint8_t b) {
  switch (b) {
    case 0xFF: return std::numeric_limits<double>::quiet_NaN();
    case 0xFE: return INFINITY;
    case 0xFD: return -INFINITY;
    case 0xFC: return 1e300;  // finite double, out of float range
    case 0xFB: return -0.0;
    default: return b;
  }
}

int64_t label_value(const Desc& d, size_t j) {
  const uint8_t b = d.pool_size ? d.pool[d.pool_size - 1 - j % d.pool_size] : 0;
  if (d.scale == -1) return b & 1 ? INT64_MIN : INT64_MAX;
  int64_t v;
  if (__builtin_mul_overflow(int64_t(int8_t(b)), d.scale, &v)) v = INT64_MIN;  // -128 * (INT64_MAX / 127)
  return v;
}

hid_t file_type(const DatasetDesc& ds) {
  const bool be = ds.big_endian();
  switch (ds.type) {
    case U8: return H5Tcopy(be ? H5T_STD_U8BE : H5T_STD_U8LE);
    case I8: return H5Tcopy(be ? H5T_STD_I8BE : H5T_STD_I8LE);
    case U16: return H5Tcopy(be ? H5T_STD_U16BE : H5T_STD_U16LE);
    case I32: return H5Tcopy(be ? H5T_STD_I32BE : H5T_STD_I32LE);
    case I64: return H5Tcopy(be ? H5T_STD_I64BE : H5T_STD_I64LE);
    case U64: return H5Tcopy(be ? H5T_STD_U64BE : H5T_STD_U64LE);
    case F32: return H5Tcopy(be ? H5T_IEEE_F32BE : H5T_IEEE_F32LE);
    case F64: return H5Tcopy(be ? H5T_IEEE_F64BE : H5T_IEEE_F64LE);
    case FSTR: {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 4);
      return t;
    }
    case VSTR: {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, H5T_VARIABLE);
      return t;
    }
    case ENUM8: {
      hid_t t = H5Tenum_create(H5T_NATIVE_UCHAR);
      unsigned char v = 0;
      H5Tenum_insert(t, "zero", &v);
      v = 1;
      H5Tenum_insert(t, "one", &v);
      return t;
    }
    case OPAQUE1: {
      hid_t t = H5Tcreate(H5T_OPAQUE, 1);
      H5Tset_tag(t, "fuzz");
      return t;
    }
    case BITFIELD8: return H5Tcopy(H5T_NATIVE_B8);
    default: {
      hid_t t = H5Tcreate(H5T_COMPOUND, 1);
      H5Tinsert(t, "v", 0, H5T_NATIVE_UCHAR);
      return t;
    }
  }
}

// Writes one dataset (or a group in its place) as described; creation can legitimately fail
// (an empty or clashing name), which leaves it out of the file.
void write_dataset(hid_t file, const Desc& d, const DatasetDesc& ds, bool images) {
  if (ds.missing()) return;
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (ds.group()) {
    hid_t g = H5Gcreate2(file, ds.path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (g >= 0) H5Gclose(g);
    H5Pclose(lcpl);
    return;
  }
  hid_t space;
  if (ds.rank == 0) {
    space = H5Screate(ds.null_space() ? H5S_NULL : H5S_SCALAR);
  } else if (ds.chunked()) {
    std::vector<hsize_t> max(ds.dims.size(), H5S_UNLIMITED);
    space = H5Screate_simple(ds.rank, ds.dims.data(), max.data());
  } else {
    space = H5Screate_simple(ds.rank, ds.dims.data(), nullptr);
  }
  check(space >= 0, "H5Screate");
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (ds.chunked()) {
    std::vector<hsize_t> chunk(ds.dims.size());
    for (size_t k = 0; k < chunk.size(); ++k) chunk[k] = k == 0 ? 1 : (ds.dims[k] ? ds.dims[k] : 1);
    check(H5Pset_chunk(dcpl, ds.rank, chunk.data()) >= 0, "H5Pset_chunk");
    if (ds.deflate()) H5Pset_deflate(dcpl, 1);
  }
  hid_t type = file_type(ds);
  check(type >= 0, "file type");
  hid_t set = H5Dcreate2(file, ds.path.c_str(), type, space, lcpl, dcpl, H5P_DEFAULT);
  const hsize_t n = ds.points();
  if (set >= 0 && n > 0 && !ds.huge()) {
    herr_t st = 0;
    const H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_INTEGER && ds.type != BITFIELD8) {
      std::vector<int64_t> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = images ? pool_at(d, i) : label_value(d, i);
      st = H5Dwrite(set, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    } else if (cls == H5T_FLOAT) {
      std::vector<double> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = images ? image_value(pool_at(d, i)) : double(label_value(d, i));
      st = H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    } else if (ds.type == VSTR) {
      static const char* kStrings[] = {"", "0", "1", "255", "-1", "x", "1e9", "nan"};
      std::vector<const char*> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = kStrings[pool_at(d, i) % 8];
      st = H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    } else {  // fixed strings, enum, opaque, bitfield, compound: raw bytes of the file type
      std::vector<uint8_t> v(n * H5Tget_size(type));
      for (size_t i = 0; i < v.size(); ++i) v[i] = pool_at(d, i);
      st = H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    }
    // Conversion overflow (e.g. 1e300 to float32, -5 to uint8) is clipped by HDF5, not an error.
    check(st >= 0, "H5Dwrite");
  }
  if (set >= 0) H5Dclose(set);
  H5Tclose(type);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Pclose(lcpl);
}

void write_file(const std::string& path, const Desc& d) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  check(f >= 0, "H5Fcreate");
  write_dataset(f, d, d.im, true);
  write_dataset(f, d, d.lb, false);
  check(H5Fclose(f) >= 0, "H5Fclose");
  check(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "closing every object of the written file");
}

// Reads the whole of `name` converted to `mem` (the harness's own, independent read).
template <class T>
std::vector<T> read_back(const std::string& path, const std::string& name, hid_t mem) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  check(f >= 0, "H5Fopen (read-back)");
  hid_t set = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
  check(set >= 0, "H5Dopen2 (read-back)");
  hid_t space = H5Dget_space(set);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  check(n >= 0, "npoints (read-back)");
  std::vector<T> v(static_cast<size_t>(n));
  if (n > 0) check(H5Dread(set, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0, "H5Dread (read-back)");
  H5Sclose(space);
  H5Dclose(set);
  H5Fclose(f);
  return v;
}

// Errors must be Data errors that start with the file's name; read_source must close what it opens.
void check_error(const mcdnn::Error& e, const std::string& path) {
  const std::string msg = e.what();
  if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_hdf5_source: error: %s\n", msg.c_str());
  if (e.cls() != mcdnn::ErrorClass::Data) finding("read_source threw error class " + std::to_string(e.exit_code()) + ": " + msg);
  if (msg.rfind(path, 0) != 0) finding("error does not start with the file name: " + msg);
}

void check_closed(const char* after) {
  ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open != 0) finding(std::to_string(open) + " HDF5 object(s) left open after " + after);
}

// What load_data() does with a source it has read.
void postprocess(mcdnn::Dataset& d) {
  for (size_t i = 0; i < d.images.size(); ++i)
    if (!std::isfinite(d.images[i])) finding("non-finite pixel accepted at " + std::to_string(i));
  mcdnn::DataSpec spec;
  try {
    mcdnn::check_and_relabel(d, spec, 10);
  } catch (const mcdnn::Error& e) {
    if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_hdf5_source: check_and_relabel: %s\n", e.what());
    if (e.cls() != mcdnn::ErrorClass::Data) finding(std::string("check_and_relabel threw a non-Data error: ") + e.what());
    return;
  }
  std::vector<double> mean, sd;
  mcdnn::channel_stats(d, &mean, &sd);
  for (auto& v : sd)
    if (v < 1e-12) v = 1.0;
  mcdnn::normalize(d, mean, sd);
}

int raw_mode(const uint8_t* data, size_t size, const std::string& path) {
  mcdnn_fuzz::write_bytes(path, data, size);
  mcdnn::DataSource src;
  src.format = "hdf5";
  src.file = path;
  src.images_dataset = "images";
  src.labels_dataset = "labels";
  mcdnn::Dataset d;
  try {
    d = mcdnn::read_source(src, mcdnn::Shape{1, 4, 4, false}, 4);
  } catch (const mcdnn::Error& e) {
    check_error(e, path);
    check_closed("an error");
    return 0;
  }
  check_closed("a successful read");
  if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_hdf5_source: raw: read %lld examples\n", static_cast<long long>(d.n));
  if (d.n > 4 || d.images.size() != size_t(d.n * 16) || d.labels.size() != size_t(d.n)) finding("contract (raw mode)");
  postprocess(d);
  return 0;
}

const char* const kTypeNames[kNumTypes] = {"uint8", "int8", "uint16", "int32", "int64", "float32", "float64",
                                            "string4", "vlen-string", "uint64", "enum8", "opaque1", "bitfield8",
                                            "compound1"};

void describe_dataset(const char* role, const DatasetDesc& ds, const std::string& schema_name) {
  std::string dims;
  for (auto x : ds.dims) dims += (dims.empty() ? "" : "x") + std::to_string(x);
  std::fprintf(stderr, "  %s: file path '%s'%s%s, %s%s rank %d (%s)%s%s%s; schema asks for '%s'\n", role,
               ds.path.c_str(), ds.missing() ? " MISSING" : "", ds.group() ? " GROUP" : "", kTypeNames[ds.type],
               ds.big_endian() ? "BE" : "", ds.rank, ds.rank == 0 ? (ds.null_space() ? "null" : "scalar") : dims.c_str(),
               ds.chunked() ? " chunked" : "", ds.deflate() && ds.chunked() ? " deflate" : "", ds.huge() ? " huge" : "",
               schema_name.c_str());
}

void describe(const Desc& d) {
  std::fprintf(stderr, "fuzz_hdf5_source: input %s layout %s, limit %lld, label scale %lld, %zu value bytes\n",
               d.input.str().c_str(), d.schema_nhwc ? "NHWC" : "NCHW", static_cast<long long>(d.limit),
               static_cast<long long>(d.scale), d.pool_size);
  describe_dataset("images", d.im, d.schema_images);
  describe_dataset("labels", d.lb, d.schema_labels);
}

// MCDNN_FUZZ_HDF5_SAVE=file: keep a copy of the file an input decodes to (for raw-mode seeds).
void save_copy(const std::string& from, const char* to) {
  FILE* f = std::fopen(from.c_str(), "rb");
  check(f != nullptr, "reopening the written file");
  std::vector<char> bytes;
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.insert(bytes.end(), buf, buf + got);
  std::fclose(f);
  mcdnn_fuzz::write_bytes(to, bytes.data(), bytes.size());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // harness-side failures are reported by check()
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = mcdnn_fuzz::scratch_path("source.h5");
  static const bool raw_enabled = [] {
    const char* e = std::getenv("MCDNN_FUZZ_HDF5_RAW");
    return e && std::strcmp(e, "1") == 0;
  }();
  Reader r{data, size};
  if (r.next() == 'R' && raw_enabled) return raw_mode(data + 1, size - 1, path);
  const Desc d = decode(r);
  write_file(path, d);
  if (mcdnn_fuzz::verbose()) describe(d);
  if (const char* keep = std::getenv("MCDNN_FUZZ_HDF5_SAVE")) save_copy(path, keep);

  mcdnn::DataSource src;
  src.format = "hdf5";
  src.file = path;
  src.images_dataset = d.schema_images;
  src.labels_dataset = d.schema_labels;
  src.layout = d.schema_nhwc ? "NHWC" : "NCHW";
  mcdnn::Dataset ds;
  try {
    ds = mcdnn::read_source(src, d.input, d.limit);
  } catch (const mcdnn::Error& e) {
    check_error(e, path);
    check_closed("an error");
    return 0;
  }
  check_closed("a successful read");
  if (mcdnn_fuzz::verbose()) std::fprintf(stderr, "fuzz_hdf5_source: read %lld examples\n", static_cast<long long>(ds.n));

  // Success: the file must be what read_hdf5 accepts (and we wrote it, so we know).
  const auto& im = d.im;
  const int64_t C = d.input.c, H = d.input.h, W = d.input.w;
  const int64_t rows = static_cast<int64_t>(im.dims.at(0));
  const int64_t n = d.limit > 0 && d.limit < rows ? d.limit : rows;
  if (ds.n != n) finding("n = " + std::to_string(ds.n) + ", expected " + std::to_string(n));
  if (ds.c != C || ds.h != H || ds.w != W) finding("dataset shape differs from the schema's input");
  if (ds.images.size() != size_t(n * C * H * W) || ds.labels.size() != size_t(n)) finding("buffer sizes");
  if (im.type != U8 && im.type != F32) finding("accepted image type " + std::to_string(im.type));

  // Every pixel against an independent read: file element (n, c, y, x) of the schema's layout.
  std::vector<float> ref;
  if (im.huge()) {
    ref.assign(size_t(n * C * H * W), 0.0f);  // never written: the fill value
  } else if (im.type == U8) {
    auto u = read_back<uint8_t>(path, src.images_dataset, H5T_NATIVE_UCHAR);
    ref.resize(u.size());
    for (size_t i = 0; i < u.size(); ++i) ref[i] = u[i] / 255.0f;
  } else {
    ref = read_back<float>(path, src.images_dataset, H5T_NATIVE_FLOAT);
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t at = ((i * C + c) * H + y) * W + x;
          const int64_t from = d.schema_nhwc ? ((i * H + y) * W + x) * C + c : at;
          const float got = ds.images[size_t(at)], want = ref.at(size_t(from));
          if (std::memcmp(&got, &want, sizeof got) != 0)
            finding("image " + std::to_string(i) + " channel " + std::to_string(c) + " (" + std::to_string(y) + ", " +
                    std::to_string(x) + "): read " + std::to_string(got) + ", file has " + std::to_string(want));
        }
  if (!d.lb.huge()) {
    auto labels = read_back<int64_t>(path, src.labels_dataset, H5T_NATIVE_INT64);
    for (int64_t i = 0; i < n; ++i)
      if (ds.labels[size_t(i)] != labels.at(size_t(i)))
        finding("label " + std::to_string(i) + ": read " + std::to_string(ds.labels[size_t(i)]) + ", file has " +
                std::to_string(labels[size_t(i)]));
  }
  check_closed("the read-back");
  postprocess(ds);
  return 0;
}
