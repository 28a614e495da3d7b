// HDF5 reader: an image dataset (N,C,H,W) or (N,H,W,C), uint8 or float32, and an integer
// label dataset (N). Only the first `limit` rows are read (a hyperslab), so --limit is cheap.
#include <cmath>

#include "data/dataset.hpp"
#include "util/error.hpp"
#include "util/h5.hpp"

namespace mcdnn {

namespace {
[[noreturn]] void data_fail(const std::string& file, const std::string& what) {
  fail(ErrorClass::Data, file + ": " + what);
}

std::string dims_str(const std::vector<hsize_t>& d) {
  std::string s;
  for (auto x : d) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

struct Opened {
  h5::Handle ds, space, type;
  std::vector<hsize_t> dims;
};

Opened open_ds(hid_t file_id, const DataSource& src, const std::string& name, const char* role) {
  const std::string& file = src.file;
  Opened o;
  // H5Lexists fails on a path whose intermediate group is missing ("/a/b" without "/a"): check
  // each prefix.
  bool exists = !name.empty();
  for (size_t at = name.find('/', 1); exists; at = name.find('/', at + 1)) {
    const std::string prefix = name.substr(0, at);
    exists = H5Lexists(file_id, prefix.c_str(), H5P_DEFAULT) > 0;
    if (at == std::string::npos) break;
  }
  if (!exists) {
    const std::string ds = hdf5_datasets(file);
    data_fail(file, std::string("no dataset '") + name + "' (" + (src.command_line ? "--" : "the schema's ") + role +
                        (src.command_line ? "-dataset" : " dataset") + "); " + (ds.empty() ? "the file has no datasets" : "its datasets: " + ds) +
                        (src.command_line ? "" : "; fix the name in the schema"));
  }
  o.ds = h5::Handle(H5Dopen2(file_id, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!o.ds.ok()) data_fail(file, "'" + name + "' is not a dataset");
  o.space = h5::Handle(H5Dget_space(o.ds.id()), H5Sclose);
  o.type = h5::Handle(H5Dget_type(o.ds.id()), H5Tclose);
  int rank = H5Sget_simple_extent_ndims(o.space.id());
  o.dims.resize(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(o.space.id(), o.dims.data(), nullptr);
  return o;
}

// Refuses, before anything is allocated, a dataset that claims more data than the file can
// hold: rows [0, n) of `o` need `bytes`; without filters the file must store them, with
// compression at most 1032 times the stored bytes (deflate's largest ratio).
void check_claim(const Opened& o, const std::string& file, const std::string& name, hsize_t n) {
  double elems = static_cast<double>(n);
  for (size_t i = 1; i < o.dims.size(); ++i) elems *= static_cast<double>(o.dims[i]);
  const double bytes = elems * static_cast<double>(H5Tget_size(o.type.id()));
  h5::Handle dcpl(H5Dget_create_plist(o.ds.id()), H5Pclose);
  const bool filtered = dcpl.ok() && H5Pget_nfilters(dcpl.id()) > 0;
  const double stored = static_cast<double>(H5Dget_storage_size(o.ds.id()));
  if (bytes > (filtered ? 1032.0 : 1.0) * stored + 4096)
    data_fail(file, "dataset '" + name + "' claims " + dims_str(o.dims) + " (" + std::to_string(static_cast<int64_t>(bytes)) +
                        " bytes for the rows read) but the file stores only " + std::to_string(static_cast<int64_t>(stored)) +
                        " bytes of it; the file is truncated or damaged, convert it again");
}

// Reads rows [0, n) of `o` converted to `mem_type` into `buf`.
void read_rows(const Opened& o, const std::string& file, const std::string& name, hid_t mem_type, hsize_t n,
               void* buf) {
  std::vector<hsize_t> start(o.dims.size(), 0), count = o.dims;
  count[0] = n;
  H5Sselect_hyperslab(o.space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  h5::Handle mem(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
  if (H5Dread(o.ds.id(), mem_type, mem.id(), o.space.id(), H5P_DEFAULT, buf) < 0)
    data_fail(file, "cannot read dataset '" + name + "' (file truncated or corrupt?)");
}
}  // namespace

namespace {
struct DatasetVisit {
  std::vector<std::string> found;
  size_t max;
};

// One object of H5Ovisit's walk: a dataset is listed with its shape and element type.
template <class Info>
herr_t list_dataset(hid_t obj, const char* name, const Info* info, void* data) {
  auto* v = static_cast<DatasetVisit*>(data);
  if (info->type != H5O_TYPE_DATASET) return 0;
  if (v->found.size() == v->max) {
    v->found.push_back("...");
    return 1;  // stop
  }
  std::string item = std::string("/") + name;
  h5::Handle ds(H5Dopen2(obj, name, H5P_DEFAULT), H5Dclose);
  if (ds.ok()) {
    h5::Handle space(H5Dget_space(ds.id()), H5Sclose), type(H5Dget_type(ds.id()), H5Tclose);
    const int rank = H5Sget_simple_extent_ndims(space.id());
    std::vector<hsize_t> dims(rank > 0 ? static_cast<size_t>(rank) : 0);
    if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
    const H5T_class_t cls = H5Tget_class(type.id());
    const size_t size = H5Tget_size(type.id());
    const bool is_unsigned = cls == H5T_INTEGER && H5Tget_sign(type.id()) == H5T_SGN_NONE;
    const std::string t = cls == H5T_FLOAT     ? "float" + std::to_string(8 * size)
                          : cls == H5T_INTEGER ? (is_unsigned ? "uint" : "int") + std::to_string(8 * size)
                                               : "other";
    item += " (" + (dims.empty() ? std::string("scalar") : dims_str(dims)) + " " + t + ")";
  }
  v->found.push_back(item);
  return 0;
}
}  // namespace

std::string hdf5_datasets(const std::string& path, size_t max) {
  h5::quiet();
  auto f = h5::open_file(path);
  if (!f.ok()) return "";
  DatasetVisit v{{}, max};
#if H5_VERSION_GE(1, 12, 0)
  H5Ovisit3(f.id(), H5_INDEX_NAME, H5_ITER_INC, list_dataset<H5O_info2_t>, &v, H5O_INFO_BASIC);
#else
  H5Ovisit(f.id(), H5_INDEX_NAME, H5_ITER_INC, list_dataset<H5O_info_t>, &v);
#endif
  std::string s;
  for (const auto& x : v.found) s += (s.empty() ? "" : ", ") + x;
  return s;
}

Dataset read_hdf5(const DataSource& src, const Shape& input, int64_t limit) {
  const std::string& file = src.file;
  auto f = h5::open_file(file);
  if (!f.ok()) {
    const std::string kind = sniff_format(file);
    if (kind == "idx" || kind == "gzip")
      data_fail(file, std::string("is ") + (kind == "idx" ? "an IDX file" : "gzip-compressed (an IDX .gz file?)") + ", not HDF5; " +
                          (src.command_line ? "give it without --images-dataset/--labels-dataset (IMAGES [LABELS])"
                                            : "give this source as `idx: {images: ..., labels: ...}` in the schema"));
    data_fail(file, "cannot open as HDF5 (missing, truncated, or not an HDF5 file); check the path");
  }
  Opened im = open_ds(f.id(), src, src.images_dataset, "images");
  Opened lb = open_ds(f.id(), src, src.labels_dataset, "labels");

  bool nhwc = src.layout == "NHWC";
  std::vector<hsize_t> want = {0, hsize_t(input.c), hsize_t(input.h), hsize_t(input.w)};
  if (nhwc) want = {0, hsize_t(input.h), hsize_t(input.w), hsize_t(input.c)};
  bool ok = im.dims.size() == 4 && im.dims[1] == want[1] && im.dims[2] == want[2] && im.dims[3] == want[3];
  if (!ok) {
    // Would the other layout fit? Then that is the fix.
    const std::vector<hsize_t> other = nhwc ? std::vector<hsize_t>{0, hsize_t(input.c), hsize_t(input.h), hsize_t(input.w)}
                                            : std::vector<hsize_t>{0, hsize_t(input.h), hsize_t(input.w), hsize_t(input.c)};
    const bool other_fits = im.dims.size() == 4 && im.dims[1] == other[1] && im.dims[2] == other[2] && im.dims[3] == other[3];
    const std::string other_layout = nhwc ? "NCHW" : "NHWC";
    // N x H x W with the right H and W: one channel, its axis missing.
    const bool no_channel_axis = im.dims.size() == 3 && input.c == 1 && im.dims[1] == hsize_t(input.h) && im.dims[2] == hsize_t(input.w);
    std::string fix;
    if (no_channel_axis)
      fix = "; the images lack their channel axis: store them as N x 1 x " + std::to_string(input.h) + " x " + std::to_string(input.w) +
            " (numpy: x[:, None])";
    else if (src.command_line)
      fix = other_fits ? "; the images are " + other_layout + ": give --layout " + other_layout
                       : "; use images of the size the variant takes";
    else
      fix = other_fits ? "; the images are " + other_layout + ": set `layout: " + other_layout + "` in the schema's hdf5 source"
                       : "; fix `input` or `layout` in the schema";
    data_fail(file, "dataset '" + src.images_dataset + "' has shape " + dims_str(im.dims) + " but layout " + src.layout + " with " +
                        (src.command_line ? "the variant's input " : "the schema's input ") + input.str() + " needs N x " +
                        std::to_string(want[1]) + " x " + std::to_string(want[2]) + " x " + std::to_string(want[3]) + fix);
  }
  H5T_class_t icls = H5Tget_class(im.type.id());
  size_t isz = H5Tget_size(im.type.id());
  bool is_u8 = icls == H5T_INTEGER && isz == 1 && H5Tget_sign(im.type.id()) == H5T_SGN_NONE;
  bool is_f32 = icls == H5T_FLOAT && isz == 4;
  if (!is_u8 && !is_f32)
    data_fail(file, "dataset '" + src.images_dataset + "' must be uint8 or float32, found " +
                        (icls == H5T_FLOAT ? "float" : icls == H5T_INTEGER ? "integer" : "another type") + " of " +
                        std::to_string(isz) + " bytes; convert it");
  if (lb.dims.size() != 1 || H5Tget_class(lb.type.id()) != H5T_INTEGER)
    data_fail(file, "dataset '" + src.labels_dataset + "' must be a 1-D integer array of labels, found shape " +
                        dims_str(lb.dims));
  if (lb.dims[0] != im.dims[0])
    data_fail(file, "dataset '" + src.labels_dataset + "' has " + std::to_string(lb.dims[0]) + " labels but '" +
                        src.images_dataset + "' has " + std::to_string(im.dims[0]) + " images");

  Dataset d;
  d.source = file;
  d.label_source = file + " (dataset '" + src.labels_dataset + "')";
  d.n = static_cast<int64_t>(im.dims[0]);
  if (limit > 0 && limit < d.n) d.n = limit;
  d.c = input.c;
  d.h = input.h;
  d.w = input.w;
  const int64_t per = d.c * d.h * d.w;
  check_claim(im, file, src.images_dataset, static_cast<hsize_t>(d.n));
  check_claim(lb, file, src.labels_dataset, static_cast<hsize_t>(d.n));
  std::vector<float> raw(static_cast<size_t>(d.n * per));
  if (is_u8) {
    std::vector<unsigned char> u(raw.size());
    if (d.n > 0) read_rows(im, file, src.images_dataset, H5T_NATIVE_UCHAR, d.n, u.data());
    for (size_t i = 0; i < u.size(); ++i) raw[i] = u[i] / 255.0f;
  } else {
    if (d.n > 0) read_rows(im, file, src.images_dataset, H5T_NATIVE_FLOAT, d.n, raw.data());
    for (size_t i = 0; i < raw.size(); ++i)
      if (!std::isfinite(raw[i]))
        data_fail(file, "dataset '" + src.images_dataset + "': non-finite value (" + std::to_string(raw[i]) +
                            ") in image " + std::to_string(static_cast<int64_t>(i) / per) +
                            "; clean the data (NaN/Inf cannot be trained on)");
  }
  if (nhwc) {
    d.images.resize(raw.size());
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t y = 0; y < d.h; ++y)
        for (int64_t x = 0; x < d.w; ++x)
          for (int64_t c = 0; c < d.c; ++c)
            d.images[static_cast<size_t>(((n * d.c + c) * d.h + y) * d.w + x)] =
                raw[static_cast<size_t>(((n * d.h + y) * d.w + x) * d.c + c)];
  } else {
    d.images = std::move(raw);
  }
  d.labels.resize(static_cast<size_t>(d.n));
  if (d.n > 0) read_rows(lb, file, src.labels_dataset, H5T_NATIVE_INT64, d.n, d.labels.data());
  return d;
}

}  // namespace mcdnn
