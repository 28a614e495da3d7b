#include "catalog/variant_file.hpp"

#include <algorithm>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "util/error.hpp"
#include "util/h5.hpp"

namespace mcdnn {

namespace {

std::vector<int64_t> shape_vec(const Shape& s) { return s.flat ? std::vector<int64_t>{s.c} : std::vector<int64_t>{s.c, s.h, s.w}; }

hid_t h5_type(BlobType t, bool file) {
  switch (t) {
    case BlobType::F32: return file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT;
    case BlobType::U8: return file ? H5T_STD_U8LE : H5T_NATIVE_UINT8;
    case BlobType::I8: return file ? H5T_STD_I8LE : H5T_NATIVE_INT8;
    case BlobType::U16: return file ? H5T_STD_U16LE : H5T_NATIVE_UINT16;
    case BlobType::U32: return file ? H5T_STD_U32LE : H5T_NATIVE_UINT32;
  }
  return -1;
}

std::string join(const std::vector<std::string>& v, char sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? std::string(1, sep) : "") + v[i];
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t p = 0;
  for (;;) {
    size_t q = s.find(sep, p);
    out.push_back(s.substr(p, q == std::string::npos ? std::string::npos : q - p));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  return out;
}

void write_tensor(hid_t g, const std::string& name, const EncodedTensor& e) {
  if (e.storage == "f32" && !e.sparse) {
    h5::write_typed(g, name, e.shape, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, e.blobs.at(0).data.data());
    return;
  }
  auto t = h5::create_group(g, name);
  h5::attr(t.id(), "storage", e.storage);
  h5::attr(t.id(), "sparse", static_cast<int64_t>(e.sparse));
  h5::attr(t.id(), "shape", e.shape);
  h5::attr(t.id(), "entries", e.entries);
  // In name order: an encoding read back from a file lists its blobs in HDF5's (name) order, a
  // fresh one in the encoder's; the same content must give the same bytes.
  std::vector<const Blob*> blobs;
  for (const auto& b : e.blobs) blobs.push_back(&b);
  std::sort(blobs.begin(), blobs.end(), [](const Blob* a, const Blob* b) { return a->name < b->name; });
  for (const Blob* b : blobs) h5::write_typed(t.id(), b->name, {b->count()}, h5_type(b->type, false), h5_type(b->type, true), b->data.data());
}

void write_layer(hid_t layers, size_t index, const LayerSpec& l, const std::vector<EncodedTensor>& tensors, bool graph) {
  char name[24];
  std::snprintf(name, sizeof name, "%03zu", index);
  auto g = h5::create_group(layers, name);
  h5::attr(g.id(), "kind", std::string(kind_name(l.kind)));
  h5::attr(g.id(), "name", l.name);
  h5::attr(g.id(), "in_shape", shape_vec(l.in));
  h5::attr(g.id(), "out_shape", shape_vec(l.out_shape));
  if (graph && !l.from.empty()) h5::attr(g.id(), "from", std::vector<int64_t>(l.from.begin(), l.from.end()));
  if (graph && l.kind == LayerKind::Conv2d) {
    h5::attr(g.id(), "groups", l.groups);
    h5::attr(g.id(), "dilation", std::vector<int64_t>{l.dh, l.dw});
  }
  switch (l.kind) {
    case LayerKind::Conv2d:
    case LayerKind::Linear:
      h5::attr(g.id(), "out", l.out);
      h5::attr(g.id(), "bias", static_cast<int64_t>(l.bias));
      h5::attr(g.id(), "repr", l.repr);
      h5::attr(g.id(), "rank", l.rank);
      h5::attr(g.id(), "storage", l.storage);
      h5::attr(g.id(), "sparse", static_cast<int64_t>(l.sparse));
      if (l.kind == LayerKind::Linear) break;
      [[fallthrough]];
    case LayerKind::MaxPool:
    case LayerKind::AvgPool:
      h5::attr(g.id(), "kernel", std::vector<int64_t>{l.kh, l.kw});
      h5::attr(g.id(), "stride", std::vector<int64_t>{l.sh, l.sw});
      h5::attr(g.id(), "padding", std::vector<int64_t>{l.ph, l.pw});
      break;
    case LayerKind::Dropout: h5::attr(g.id(), "p", l.p); break;
    case LayerKind::BatchNorm:
      h5::attr(g.id(), "eps", l.eps);
      h5::attr(g.id(), "momentum", l.momentum);
      break;
    case LayerKind::ReLU:
    case LayerKind::Flatten:
    case LayerKind::Add:
    case LayerKind::Concat:
    case LayerKind::Mul:
    case LayerKind::GlobalAvgPool:
    case LayerKind::ReLU6:
    case LayerKind::HardSwish:
    case LayerKind::Sigmoid: break;
  }
  auto specs = tensors_of(l);
  if (specs.size() != tensors.size()) throw std::logic_error("write_variant_file: wrong tensor count for layer " + l.name);
  for (size_t k = 0; k < specs.size(); ++k) write_tensor(g.id(), specs[k].name, tensors[k]);
}

// Reading: every failure is a std::runtime_error whose text starts with the object's path; the
// caller prefixes the file name and turns it into Error(Catalog).
struct Reader {
  int64_t file_bytes = 0;

  [[noreturn]] static void bad(const std::string& where, const std::string& what) { throw std::runtime_error(where + ": " + what); }

  static int64_t i64(hid_t g, const std::string& where, const char* name, int64_t lo, int64_t hi) {
    if (!h5::has_attr(g, name)) bad(where, std::string("missing attribute '") + name + "'");
    int64_t v = h5::attr_i64(g, name);
    if (v < lo || v > hi)
      bad(where, std::string("attribute '") + name + "' = " + std::to_string(v) + ", expected " + std::to_string(lo) + ".." + std::to_string(hi));
    return v;
  }
  static double f64(hid_t g, const std::string& where, const char* name, double lo, double hi) {
    if (!h5::has_attr(g, name)) bad(where, std::string("missing attribute '") + name + "'");
    double v = h5::attr_f64(g, name);
    if (!(v >= lo && v <= hi)) bad(where, std::string("attribute '") + name + "' = " + std::to_string(v) + " out of range");
    return v;
  }
  static std::string str(hid_t g, const std::string& where, const char* name) {
    if (!h5::has_attr(g, name)) bad(where, std::string("missing attribute '") + name + "'");
    return h5::attr_str(g, name);
  }
  static std::vector<int64_t> pair(hid_t g, const std::string& where, const char* name, int64_t lo, int64_t hi) {
    if (!h5::has_attr(g, name)) bad(where, std::string("missing attribute '") + name + "'");
    auto v = h5::attr_i64s(g, name);
    if (v.size() != 2) bad(where, std::string("attribute '") + name + "' must hold 2 values");
    for (auto x : v)
      if (x < lo || x > hi) bad(where, std::string("attribute '") + name + "' value " + std::to_string(x) + " out of range");
    return v;
  }
  static Shape shape(hid_t g, const std::string& where, const char* name) {
    if (!h5::has_attr(g, name)) bad(where, std::string("missing attribute '") + name + "'");
    auto v = h5::attr_i64s(g, name);
    for (auto x : v)
      if (x < 1 || x > (int64_t(1) << 30)) bad(where, std::string("attribute '") + name + "' has dimension " + std::to_string(x));
    if (v.size() == 1) return {v[0], 1, 1, true};
    if (v.size() == 3) return {v[0], v[1], v[2], false};
    bad(where, std::string("attribute '") + name + "' must hold 1 or 3 dimensions");
  }

  Blob blob(hid_t parent, const std::string& where, const std::string& n) const {
    H5T_class_t cls;
    size_t size;
    bool is_signed;
    Blob b;
    b.name = n;
    b.data = h5::read_raw(parent, n, &cls, &size, &is_signed, file_bytes);
    if (cls == H5T_FLOAT && size == 4) b.type = BlobType::F32;
    else if (cls == H5T_INTEGER && size == 1) b.type = is_signed ? BlobType::I8 : BlobType::U8;
    else if (cls == H5T_INTEGER && size == 2 && !is_signed) b.type = BlobType::U16;
    else if (cls == H5T_INTEGER && size == 4 && !is_signed) b.type = BlobType::U32;
    else bad(where + "/" + n, "unsupported element type");
    return b;
  }

  EncodedTensor tensor(hid_t g, const std::string& where, const TensorSpec& ts) const {
    EncodedTensor e;
    e.shape = ts.shape;
    const std::string w = where + "/" + ts.name;
    if (H5Lexists(g, ts.name.c_str(), H5P_DEFAULT) <= 0) bad(w, "missing");
    if (!h5::is_group(g, ts.name)) {
      if (h5::dataset_shape(g, ts.name) != ts.shape) bad(w, "dataset shape does not match the layer");
      e.storage = "f32";
      e.blobs.push_back(blob(g, w, ts.name));
      e.blobs.back().name = "values";
      e.entries = e.blobs.back().count();
    } else {
      auto t = h5::open_group(g, ts.name);
      if (!t.ok()) bad(w, "cannot open group");
      e.storage = str(t.id(), w, "storage");
      e.sparse = i64(t.id(), w, "sparse", 0, 1) != 0;
      e.entries = i64(t.id(), w, "entries", 0, int64_t(1) << 40);
      if (!h5::has_attr(t.id(), "shape") || h5::attr_i64s(t.id(), "shape") != ts.shape) bad(w, "attribute 'shape' does not match the layer");
      auto names = h5::children(t.id());
      if (names.size() > 8) bad(w, "too many blobs");
      for (const auto& n : names) e.blobs.push_back(blob(t.id(), w, n));
    }
    if (std::string why = check_encoding(e); !why.empty()) bad(w, why);
    return e;
  }

  // Layer `index` of a file of `version`, given the layers before it.
  LayerSpec layer(hid_t g, const std::string& where, const std::vector<LayerSpec>& before, const Shape& input, int64_t version) const {
    LayerSpec l;
    std::string kind = str(g, where, "kind");
    if (!kind_from_name(kind, &l.kind)) bad(where, "unknown layer kind '" + kind + "'");
    if (version < 2 && !graph_feature({l}, 0).empty())
      bad(where, "layer kind '" + kind + "' belongs to graph networks, which variant format version 1 does not hold");
    l.name = str(g, where, "name");
    if (l.name.empty() || l.name.size() > 256) bad(where, "layer name empty or too long");
    if (l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear) {
      l.out = i64(g, where, "out", 1, 1 << 24);
      l.bias = i64(g, where, "bias", 0, 1) != 0;
      l.repr = str(g, where, "repr");
      if (l.repr != "dense" && l.repr != "lowrank") bad(where, "unknown representation '" + l.repr + "'");
      l.rank = i64(g, where, "rank", 0, 1 << 24);
      if ((l.repr == "lowrank") != (l.rank > 0)) bad(where, "rank " + std::to_string(l.rank) + " with representation " + l.repr);
      l.storage = str(g, where, "storage");
      if (!valid_storage(l.storage)) bad(where, "unknown storage '" + l.storage + "'");
      l.sparse = i64(g, where, "sparse", 0, 1) != 0;
    }
    if (l.kind == LayerKind::Conv2d || l.kind == LayerKind::MaxPool || l.kind == LayerKind::AvgPool) {
      auto k = pair(g, where, "kernel", 1, 1 << 16), s = pair(g, where, "stride", 1, 1 << 16), p = pair(g, where, "padding", 0, 1 << 16);
      l.kh = k[0], l.kw = k[1], l.sh = s[0], l.sw = s[1], l.ph = p[0], l.pw = p[1];
    }
    if (l.kind == LayerKind::Dropout) l.p = f64(g, where, "p", 0, 1);
    if (l.kind == LayerKind::BatchNorm) {
      l.eps = f64(g, where, "eps", 1e-30, 1);
      l.momentum = f64(g, where, "momentum", 0, 1);
    }
    const int self = static_cast<int>(before.size());
    if (version >= 2 && l.kind == LayerKind::Conv2d) {
      l.groups = i64(g, where, "groups", 1, 1 << 24);
      auto d = pair(g, where, "dilation", 1, 1 << 16);
      l.dh = d[0], l.dw = d[1];
    }
    if (version >= 2 && h5::has_attr(g, "from")) {
      for (int64_t k : h5::attr_i64s(g, "from")) {
        if (k < -1 || k >= self) bad(where, "attribute 'from' names layer " + std::to_string(k) + ", expected -1 (the input) to " + std::to_string(self - 1));
        l.from.push_back(static_cast<int>(k));
      }
      if (l.from.size() == 1 && l.from[0] == self - 1) bad(where, "attribute 'from' names the layer before (write no 'from' then)");
    } else if (l.kind == LayerKind::Add || l.kind == LayerKind::Concat || l.kind == LayerKind::Mul) {
      bad(where, "a " + kind + " layer needs attribute 'from'");
    }
    std::vector<Shape> ins;
    for (int k : l.from.empty() ? std::vector<int>{self - 1} : l.from)
      ins.push_back(k < 0 ? input : before[static_cast<size_t>(k)].out_shape);
    l.in = ins[0];
    if (ins.size() > 1) l.ins = ins;
    std::string why;
    if (!infer_output_multi(l, ins, &l.out_shape, &why)) bad(where + " (" + l.name + ")", why);
    if (l.out_shape.numel() > (int64_t(1) << 32)) bad(where + " (" + l.name + ")", "output larger than 2^32 elements");
    if (!(shape(g, where, "in_shape") == l.in)) bad(where + " (" + l.name + ")", "stored in_shape disagrees with the inferred " + l.in.str());
    if (!(shape(g, where, "out_shape") == l.out_shape))
      bad(where + " (" + l.name + ")", "stored out_shape disagrees with the inferred " + l.out_shape.str());
    return l;
  }
};

}  // namespace

void write_variant_file(const std::string& path, const VariantFile& v) {
  h5::quiet();
  auto f = h5::create_file(path);
  hid_t root = f.id();
  h5::attr(root, "format", std::string(kVariantFormat));
  bool graph = false;
  for (size_t i = 0; i < v.layers.size(); ++i) graph = graph || !graph_feature(v.layers, i).empty();
  h5::attr(root, "format_version", static_cast<int64_t>(graph ? kVariantVersion : kVariantChainVersion));
  h5::attr(root, "id", v.id);
  h5::attr(root, "parent", v.parent);
  h5::attr(root, "transforms", join(v.transforms, ';'));
  h5::attr(root, "input", shape_vec(v.input.input));
  h5::attr(root, "num_classes", v.input.num_classes);
  h5::attr(root, "class_names", join(v.input.class_names, ';'));
  h5::attr(root, "mean", v.input.mean);
  h5::attr(root, "std", v.input.std);
  auto layers = h5::create_group(root, "layers");
  for (size_t i = 0; i < v.layers.size(); ++i) write_layer(layers.id(), i, v.layers[i], v.tensors.at(i), graph);
}

VariantFile read_variant_file(const std::string& path) {
  auto bad = [&](const std::string& what) { fail(ErrorClass::Catalog, path + ": " + what); };
  std::error_code ec;
  Reader rd;
  rd.file_bytes = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) bad("cannot read (" + ec.message() + ")");
  auto f = h5::open_file(path);
  if (!f.ok()) bad("cannot open as HDF5 (missing or corrupt variant file)");
  try {
    hid_t root = f.id();
    if (!h5::has_attr(root, "format") || h5::attr_str(root, "format") != kVariantFormat)
      bad("not an mcdnn variant file (attribute format != 'mcdnn-variant')");
    int64_t ver = h5::attr_i64(root, "format_version");
    if (ver < kVariantChainVersion || ver > kVariantVersion)
      bad("variant format version " + std::to_string(ver) + ", this mcdnn reads versions " + std::to_string(kVariantChainVersion) + " to " +
          std::to_string(kVariantVersion) + "; rebuild the catalog or upgrade mcdnn");
    VariantFile v;
    v.id = Reader::str(root, "/", "id");
    v.parent = Reader::str(root, "/", "parent");
    v.transforms = split(Reader::str(root, "/", "transforms"), ';');
    InputInfo& in = v.input;
    in.input = Reader::shape(root, "/", "input");
    if (in.input.flat) bad("/: attribute 'input' must be [channels, height, width]");
    in.num_classes = Reader::i64(root, "/", "num_classes", 1, 1 << 20);
    in.class_names = split(Reader::str(root, "/", "class_names"), ';');
    if (!in.class_names.empty() && static_cast<int64_t>(in.class_names.size()) != in.num_classes)
      bad("/: " + std::to_string(in.class_names.size()) + " class names for " + std::to_string(in.num_classes) + " classes");
    in.mean = h5::attr_f64s(root, "mean");
    in.std = h5::attr_f64s(root, "std");
    if (in.mean.size() != in.std.size() || (!in.mean.empty() && static_cast<int64_t>(in.mean.size()) != in.input.c))
      bad("/: mean and std must be empty or hold one value per input channel");
    for (size_t c = 0; c < in.mean.size(); ++c)
      if (!std::isfinite(in.mean[c]) || !std::isfinite(in.std[c]) || in.std[c] <= 0) bad("/: mean/std of channel " + std::to_string(c) + " invalid");
    auto layers_g = h5::open_group(root, "layers");
    if (!layers_g.ok()) bad("missing group /layers");
    auto names = h5::children(layers_g.id());
    if (names.empty() || names.size() > 100000) bad("/layers: " + std::to_string(names.size()) + " layers");
    Shape shape = in.input;
    std::set<std::string> layer_names;
    for (size_t i = 0; i < names.size(); ++i) {
      char want[24];
      std::snprintf(want, sizeof want, "%03zu", i);
      const std::string where = "/layers/" + names[i];
      if (names[i] != want) bad(where + ": expected layer group /layers/" + want + " (groups 000, 001, ... in order)");
      auto g = h5::open_group(layers_g.id(), names[i]);
      if (!g.ok()) bad(where + ": not a group");
      LayerSpec l = rd.layer(g.id(), where, v.layers, in.input, ver);
      if (!layer_names.insert(l.name).second) bad(where + ": duplicate layer name '" + l.name + "'");
      auto ts = tensors_of(l);
      for (const auto& n : h5::children(g.id())) {
        bool known = false;
        for (const auto& t : ts) known = known || t.name == n;
        if (!known) bad(where + ": unexpected object '" + n + "'");
      }
      std::vector<EncodedTensor> tensors;
      for (const auto& t : ts) {
        EncodedTensor e = rd.tensor(g.id(), where, t);
        bool lossy_ok = t.matrix || (e.storage == "f32" && !e.sparse);
        if (!lossy_ok) bad(where + "/" + t.name + ": only weight matrices may be compressed");
        if (t.matrix && (e.storage != l.storage || e.sparse != l.sparse))
          bad(where + "/" + t.name + ": stored as " + e.storage + (e.sparse ? " sparse" : "") + " but the layer says " + l.storage +
              (l.sparse ? " sparse" : ""));
        tensors.push_back(std::move(e));
      }
      shape = l.out_shape;
      v.layers.push_back(l);
      v.tensors.push_back(std::move(tensors));
    }
    if (!shape.flat || shape.c != in.num_classes)
      bad("the network ends in " + shape.str() + ", not the " + std::to_string(in.num_classes) + " class logits");
    return v;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(ErrorClass::Catalog, path + ": " + e.what());
  }
}

}  // namespace mcdnn
