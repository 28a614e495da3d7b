// Fuzzes the catalog readers (core/catalog/): the first byte picks what the rest is.
//   0: catalog.json text -> parse_catalog_index(): a clean Error(Catalog) or a validated index
//      (every file name a plain "<name>.h5", every parent an earlier id).
//   1: one encoded tensor, structure-aware: shape, storage, sparse, entries and blobs decoded
//      from the bytes -> check_encoding() / decode_tensor(): a clean std::invalid_argument or
//      exactly numel floats, never a read outside a blob (what a tampered variant file whose
//      checksum was recomputed reaches).
//   2: edits to a valid variant file, structure-aware: a small variant (conv, batchnorm, a
//      sparse cb4 linear, an int8 linear, a low-rank linear) is written with the HDF5 API and the
//      bytes pick edits — set any attribute of any object to an integer, integers, a float or a
//      string; replace any dataset with another type and length; delete an object or attribute;
//      add an object — then read_variant_file() and decoding: a clean Error(Catalog) or a file
//      that decodes. This is what a tampered file (checksum recomputed) can be.
//   3: a whole variant file as raw bytes, only with MCDNN_FUZZ_CATALOG_RAW=1: through libhdf5,
//      which is not instrumented and crashes on damaged metadata by itself (found: a 2^51-byte
//      allocation in H5C_protect within seconds). The SHA-256 in catalog.json is what keeps
//      accidentally damaged files away from libhdf5 (docs/catalog-format.md).
// Seeds: fuzz/corpus/catalog/ (a real catalog.json and variant files of a tiny catalog, and
// encoded tensors of every storage form).
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "catalog/catalog_index.hpp"
#include "catalog/variant_file.hpp"
#include "harness.hpp"
#include "nn/storage.hpp"
#include "util/error.hpp"
#include "util/h5.hpp"

using namespace mcdnn;

namespace {

struct Bytes {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  uint32_t u32() { return u8() | (uint32_t(u8()) << 8) | (uint32_t(u8()) << 16) | (uint32_t(u8()) << 24); }
};

void fuzz_index(const uint8_t* d, size_t n) {
  try {
    CatalogIndex c = parse_catalog_index(std::string(reinterpret_cast<const char*>(d), n), "catalog.json");
    for (const auto& r : c.records)
      if (r.file.find('/') != std::string::npos || r.file.find("..") == 0 || r.sha256.size() != 64)
        mcdnn_fuzz::finding("fuzz_catalog", "accepted an unsafe record: " + r.file);
  } catch (const Error& e) {
    if (e.cls() != ErrorClass::Catalog) mcdnn_fuzz::finding("fuzz_catalog", std::string("wrong error class: ") + e.what());
  }
}

void fuzz_tensor(const uint8_t* d, size_t n) {
  Bytes b{d, n};
  static const char* storages[] = {"f32", "f16", "int8", "cb8", "cb4", "cb2", "cb9"};
  EncodedTensor e;
  e.storage = storages[b.u8() % 7];
  e.sparse = b.u8() & 1;
  int rank = 1 + b.u8() % 4;
  for (int i = 0; i < rank; ++i) e.shape.push_back(1 + b.u8() % 24);
  e.entries = static_cast<int64_t>(b.u32() % 4096) - 8;
  static const char* names[] = {"values", "scale", "codebook", "codes", "row_counts", "gaps", "other"};
  static const BlobType types[] = {BlobType::F32, BlobType::U8, BlobType::I8, BlobType::U16, BlobType::U32};
  int blobs = b.u8() % 7;
  for (int i = 0; i < blobs; ++i) {
    Blob bl;
    bl.name = names[b.u8() % 7];
    bl.type = types[b.u8() % 5];
    size_t len = b.u32() % 8192;
    len = std::min(len, b.n);
    bl.data.assign(b.p, b.p + len);
    b.p += len, b.n -= len;
    e.blobs.push_back(std::move(bl));
  }
  try {
    std::vector<float> w = decode_tensor(e);
    int64_t numel = 1;
    for (auto s : e.shape) numel *= s;
    if (static_cast<int64_t>(w.size()) != numel) mcdnn_fuzz::finding("fuzz_catalog", "decoded the wrong number of values");
  } catch (const std::invalid_argument&) {
  }
}

// The small valid variant mode 2 edits.
VariantFile base_variant() {
  auto layer = [](LayerKind k, const std::string& name, int64_t out, const Shape& in) {
    LayerSpec l;
    l.kind = k, l.name = name, l.out = out, l.in = in;
    if (k == LayerKind::Conv2d) l.kh = l.kw = 3, l.ph = l.pw = 1;
    std::string why;
    infer_output(l, in, &l.out_shape, &why);
    return l;
  };
  VariantFile v;
  v.id = "fuzz";
  v.input.input = {1, 4, 4, false};
  v.input.num_classes = 3;
  Shape s = v.input.input;
  auto add = [&](LayerSpec l) {
    s = l.out_shape;
    v.layers.push_back(l);
  };
  add(layer(LayerKind::Conv2d, "conv1", 2, s));
  add(layer(LayerKind::BatchNorm, "bn1", 0, s));
  add(layer(LayerKind::Flatten, "flatten1", 0, s));
  LayerSpec fc1 = layer(LayerKind::Linear, "fc1", 6, s);
  fc1.storage = "cb4", fc1.sparse = true;
  add(fc1);
  LayerSpec fc2 = layer(LayerKind::Linear, "fc2", 5, s);
  fc2.storage = "int8";
  add(fc2);
  LayerSpec fc3 = layer(LayerKind::Linear, "fc3", 3, s);
  fc3.repr = "lowrank", fc3.rank = 2;
  add(fc3);
  uint32_t x = 1;
  for (const auto& l : v.layers) {
    std::vector<EncodedTensor> ts;
    for (const auto& t : tensors_of(l)) {
      std::vector<float> w(static_cast<size_t>(t.numel()));
      for (auto& f : w) {
        x = x * 1664525u + 1013904223u;
        f = (x >> 9) % 7 == 0 ? 0.f : static_cast<float>(static_cast<int>(x >> 20) % 200 - 100) / 50.f;
      }
      if (t.name == "running_var") for (auto& f : w) f = std::fabs(f) + 0.5f;
      ts.push_back(t.matrix ? encode_tensor(w.data(), t.shape, l.storage, l.sparse) : encode_tensor(w.data(), t.shape, "f32", false));
    }
    v.tensors.push_back(std::move(ts));
  }
  return v;
}

// Every object below g (groups and datasets), as paths from the root.
void objects(hid_t g, const std::string& path, std::vector<std::string>* out) {
  for (const auto& n : h5::children(g)) {
    std::string p = path + "/" + n;
    out->push_back(p);
    if (h5::is_group(g, n)) {
      auto c = h5::open_group(g, n);
      objects(c.id(), p, out);
    }
  }
}

void fuzz_edits(const uint8_t* d, size_t n) {
  static const std::string path = mcdnn_fuzz::scratch_path("edited.h5");
  static const VariantFile base = base_variant();
  write_variant_file(path, base);
  Bytes b{d, n};
  {
    h5::Handle f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    if (!f.ok()) mcdnn_fuzz::finding("fuzz_catalog", "cannot reopen the base variant");
    std::vector<std::string> objs = {"/"};
    objects(f.id(), "", &objs);
    static const char* attrs[] = {"format", "format_version", "id", "input", "num_classes", "class_names", "mean", "std",
                                  "kind", "name", "in_shape", "out_shape", "out", "bias", "repr", "rank", "storage",
                                  "sparse", "kernel", "stride", "padding", "p", "eps", "momentum", "shape", "entries"};
    static const char* names[] = {"values", "scale", "codebook", "codes", "row_counts", "gaps", "weight", "bias", "weight_a",
                                  "weight_b", "running_mean", "running_var", "000", "x"};
    int edits = 1 + b.u8() % 4;
    for (int e = 0; e < edits && b.n > 0; ++e) {
      const std::string& obj = objs[b.u8() % objs.size()];
      h5::Handle o(H5Oopen(f.id(), obj == "/" ? "." : obj.c_str() + 1, H5P_DEFAULT), H5Oclose);
      if (!o.ok()) continue;
      const bool is_group = H5Iget_type(o.id()) == H5I_GROUP;
      switch (b.u8() % 5) {
        case 0:
        case 1: {  // set an attribute
          const char* a = attrs[b.u8() % (sizeof attrs / sizeof *attrs)];
          H5Adelete(o.id(), a);
          switch (b.u8() % 4) {
            case 0: h5::attr(o.id(), a, static_cast<int64_t>(static_cast<int32_t>(b.u32()))); break;
            case 1: {
              std::vector<int64_t> v(b.u8() % 5);
              for (auto& x : v) x = static_cast<int32_t>(b.u32()) % 70000;
              h5::attr(o.id(), a, v);
              break;
            }
            case 2: {
              uint32_t bits = b.u32();
              float fl;
              std::memcpy(&fl, &bits, 4);
              h5::attr(o.id(), a, static_cast<double>(fl));
              break;
            }
            default: {
              std::string str;
              for (int k = b.u8() % 12; k > 0; --k) str += static_cast<char>(b.u8());
              h5::attr(o.id(), a, str);
            }
          }
          break;
        }
        case 2: {  // replace or add a dataset under a group
          if (!is_group) break;
          const char* nm = names[b.u8() % (sizeof names / sizeof *names)];
          H5Ldelete(o.id(), nm, H5P_DEFAULT);
          static const hid_t mem[] = {H5T_NATIVE_FLOAT, H5T_NATIVE_UINT8, H5T_NATIVE_INT8, H5T_NATIVE_UINT16, H5T_NATIVE_UINT32, H5T_NATIVE_DOUBLE};
          static const hid_t file[] = {H5T_IEEE_F32LE, H5T_STD_U8LE, H5T_STD_I8LE, H5T_STD_U16LE, H5T_STD_U32LE, H5T_IEEE_F64LE};
          static const int size[] = {4, 1, 1, 2, 4, 8};
          int t = b.u8() % 6;
          int64_t count = b.u8() % 64;
          std::vector<uint8_t> buf(static_cast<size_t>(count * size[t]));
          for (auto& x : buf) x = b.u8();
          try {
            h5::write_typed(o.id(), nm, {count}, mem[t], file[t], buf.data());
          } catch (const std::exception&) {
          }
          break;
        }
        case 3:  // delete an attribute
          H5Adelete(o.id(), attrs[b.u8() % (sizeof attrs / sizeof *attrs)]);
          break;
        default:  // delete a child
          if (is_group) H5Ldelete(o.id(), names[b.u8() % (sizeof names / sizeof *names)], H5P_DEFAULT);
      }
    }
  }
  try {
    VariantFile f = read_variant_file(path);
    for (const auto& layer : f.tensors)
      for (const auto& t : layer) decode_tensor(t);
  } catch (const Error& e) {
    if (e.cls() != ErrorClass::Catalog) mcdnn_fuzz::finding("fuzz_catalog", std::string("wrong error class: ") + e.what());
  }
}

void fuzz_file(const uint8_t* d, size_t n) {
  static const std::string path = mcdnn_fuzz::scratch_path("variant.h5");
  mcdnn_fuzz::write_bytes(path, d, n);
  try {
    VariantFile f = read_variant_file(path);
    for (const auto& layer : f.tensors)
      for (const auto& t : layer) decode_tensor(t);
  } catch (const Error& e) {
    if (e.cls() != ErrorClass::Catalog) mcdnn_fuzz::finding("fuzz_catalog", std::string("wrong error class: ") + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  h5::quiet();
  static const bool raw = [] {
    const char* e = std::getenv("MCDNN_FUZZ_CATALOG_RAW");
    return e && std::string(e) == "1";
  }();
  switch (data[0] % 4) {
    case 0: fuzz_index(data + 1, size - 1); break;
    case 1: fuzz_tensor(data + 1, size - 1); break;
    case 2: fuzz_edits(data + 1, size - 1); break;
    default:
      if (raw) fuzz_file(data + 1, size - 1);
  }
  return 0;
}
