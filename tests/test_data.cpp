// IDX and HDF5 readers on tiny generated files, including corrupt ones.
#include <cmath>
#include <cstring>
#include <functional>

#include "catch.hpp"
#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "util/error.hpp"
#include "util/h5.hpp"

using namespace mcdnn;
using namespace mcdnn::test;
using Catch::Matchers::Contains;

namespace {
const Shape k4x4{1, 4, 4, false};

std::string data_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.cls() == ErrorClass::Data);
    return e.what();
  }
  return "(no error)";
}

DataSource idx_source(const std::string& images, const std::string& labels) {
  DataSource s;
  s.format = "idx";
  s.images = images;
  s.labels = labels;
  return s;
}

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 % 256);
  return v;
}
}  // namespace

TEST_CASE("IDX files read back exactly, raw and gzip, with a limit", "[data]") {
  TempDir d;
  auto px = ramp(5 * 16);
  std::vector<uint8_t> lab = {0, 1, 2, 3, 1};
  for (bool gz : {false, true}) {
    INFO("gz " << gz);
    write_idx(d / "i", {5, 4, 4}, px, gz);
    write_idx(d / "l", {5}, lab, gz);
    Dataset ds = read_source(idx_source(d / "i", d / "l"), k4x4, 0);
    REQUIRE(ds.n == 5);
    CHECK(ds.c == 1);
    for (size_t i = 0; i < px.size(); ++i) REQUIRE(ds.images[i] == px[i] / 255.0f);
    CHECK(ds.labels == std::vector<int64_t>{0, 1, 2, 3, 1});
    Dataset lim = read_source(idx_source(d / "i", d / "l"), k4x4, 2);
    CHECK(lim.n == 2);
    CHECK(lim.images.size() == 32);
  }
}

TEST_CASE("IDX float32 images and 4-D (N,C,H,W) files", "[data]") {
  TempDir d;
  std::vector<uint8_t> raw;
  const float vals[] = {0.5f, -1.25f, 3.0f, 0.0f, 1e-3f, 2.0f, -0.5f, 7.0f};
  for (float f : vals) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int s = 24; s >= 0; s -= 8) raw.push_back(static_cast<uint8_t>(u >> s));
  }
  write_idx(d / "i", {2, 2, 1, 2}, raw, false, 0x0D);
  write_idx(d / "l", {2}, {1, 0});
  Dataset ds = read_source(idx_source(d / "i", d / "l"), Shape{2, 1, 2, false}, 0);
  for (int i = 0; i < 8; ++i) CHECK(ds.images[i] == vals[i]);
}

TEST_CASE("corrupt IDX files give one clear error each", "[data]") {
  TempDir d;
  write_idx(d / "l", {5}, {0, 1, 2, 3, 1});
  write_idx(d / "i", {5, 4, 4}, ramp(80));

  // Bad magic.
  write_bytes(d / "bad", {0x1f, 0x00, 0x08, 0x03, 0, 0, 0, 1});
  CHECK(data_error([&] { read_source(idx_source(d / "bad", d / "l"), k4x4, 0); }) ==
        d / "bad" + ": bad IDX magic number at byte offset 0: expected 00 00 08|0d <rank 1-4>, found 1f 00 08 03; "
                    "is this an IDX file (MNIST format)?");
  // Truncated image data: 5 images declared, 3 present.
  write_idx(d / "trunc", {5, 4, 4}, ramp(48));
  CHECK(data_error([&] { read_source(idx_source(d / "trunc", d / "l"), k4x4, 0); }) ==
        d / "trunc" + ": truncated: expected 80 bytes of image data at byte offset 16, found only 48; the file is "
                      "incomplete, download or convert it again");
  // Truncated header.
  write_bytes(d / "short", {0, 0, 8, 3, 0, 0});
  CHECK(data_error([&] { read_source(idx_source(d / "short", d / "l"), k4x4, 0); }) ==
        d / "short" + ": truncated: expected 4 bytes of IDX dimension at byte offset 4, found only 2; the file is "
                      "incomplete, download or convert it again");
  // Image and label counts differ.
  write_idx(d / "l4", {4}, {0, 1, 2, 3});
  CHECK(data_error([&] { read_source(idx_source(d / "i", d / "l4"), k4x4, 0); }) ==
        d / "l4" + ": has 4 labels but " + d / "i" + " has 5 images; they must be the same set");
  // Wrong image size for the schema.
  CHECK(data_error([&] { read_source(idx_source(d / "i", d / "l"), Shape{1, 5, 5, false}, 0); }) ==
        d / "i" + ": images have dimensions 5x4x4 but the schema's input is 1x5x5 (expected N x 5 x 5); fix "
                  "`input` in the schema or use matching data");
  // Missing file.
  CHECK(data_error([&] { read_source(idx_source(d / "nope", d / "l"), k4x4, 0); })
            .rfind(d / "nope" + ": cannot open (No such file or directory)", 0) == 0);
  // Corrupt gzip stream.
  write_idx(d / "gz", {5, 4, 4}, ramp(80), true);
  auto bytes = read_bytes(d / "gz");
  for (size_t i = 20; i < bytes.size() - 8; ++i) bytes[i] ^= 0x5a;
  write_bytes(d / "gz", bytes);
  CHECK(data_error([&] { read_source(idx_source(d / "gz", d / "l"), k4x4, 0); }).find("(is the .gz file corrupt?)") !=
        std::string::npos);
  // NaN in float data.
  std::vector<uint8_t> nan = {0x7f, 0xc0, 0, 0, 0, 0, 0, 0};
  write_idx(d / "nan", {1, 1, 2}, nan, false, 0x0D);
  write_idx(d / "l1", {1}, {0});
  CHECK(data_error([&] { read_source(idx_source(d / "nan", d / "l1"), Shape{1, 1, 2, false}, 0); }) ==
        d / "nan" + ": non-finite value (nan) in image 0 at byte offset 16");
}

TEST_CASE("labels outside the classes and relabel maps", "[data]") {
  Dataset ds;
  ds.n = 3;
  ds.source = "x.idx";
  ds.label_source = "x-labels.idx";  // label errors name the labels file, not the images
  ds.labels = {0, 9, 1};
  DataSpec spec;
  CHECK(data_error([&] { check_and_relabel(ds, spec, 4); }) ==
        "x-labels.idx: example 1 has label 9 outside the schema's 4 classes (0..3); fix classes.count or add data.relabel");
  spec.relabel = {{0, 1}, {1, 0}, {9, 2}};
  check_and_relabel(ds, spec, 3);
  CHECK(ds.labels == std::vector<int64_t>{1, 2, 0});
  ds.labels = {0, 5};
  ds.n = 2;
  CHECK(data_error([&] { check_and_relabel(ds, spec, 3); }) ==
        "x-labels.idx: example 1 has label 5, which data.relabel does not map; add an entry for it");
}

TEST_CASE("normalization statistics and application", "[data]") {
  Dataset ds;
  ds.n = 2;
  ds.c = 2;
  ds.h = 1;
  ds.w = 2;
  ds.images = {0, 1, 10, 10, 2, 3, 20, 20};  // channel 0: 0,1,2,3; channel 1: 10,10,20,20
  std::vector<double> mean, sd;
  channel_stats(ds, &mean, &sd);
  CHECK(mean[0] == Approx(1.5));
  CHECK(sd[0] == Approx(std::sqrt(1.25)));
  CHECK(mean[1] == Approx(15));
  CHECK(sd[1] == Approx(5));
  normalize(ds, mean, sd);
  CHECK(ds.images[4] == Approx((2 - 1.5) / std::sqrt(1.25)));
  CHECK(ds.images[7] == Approx(1.0));
}

namespace {
void write_h5(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>* f32,
              const std::vector<uint8_t>* u8, const std::vector<int64_t>& labels) {
  h5::quiet();
  auto f = h5::create_file(path);
  auto g = h5::create_group(f.id(), "set");
  if (f32) h5::write_f32(g.id(), "x", shape, f32->data());
  if (u8) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    h5::Handle sp(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    h5::Handle ds(H5Dcreate2(g.id(), "x", H5T_STD_U8LE, sp.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    H5Dwrite(ds.id(), H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, u8->data());
  }
  h5::write_i64(g.id(), "y", {static_cast<int64_t>(labels.size())}, labels.data());
}

DataSource h5_source(const std::string& file, const std::string& layout) {
  DataSource s;
  s.format = "hdf5";
  s.file = file;
  s.images_dataset = "/set/x";
  s.labels_dataset = "/set/y";
  s.layout = layout;
  return s;
}
}  // namespace

TEST_CASE("HDF5 sources: uint8 and float32, NCHW and NHWC agree", "[data]") {
  TempDir d;
  const Shape in{3, 2, 2, false};
  // NCHW reference: value = 100*n + 10*c + (y*2+x)
  std::vector<uint8_t> nchw, nhwc;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 4; ++p) nchw.push_back(static_cast<uint8_t>(100 * n + 10 * c + p));
  for (int n = 0; n < 2; ++n)
    for (int p = 0; p < 4; ++p)
      for (int c = 0; c < 3; ++c) nhwc.push_back(static_cast<uint8_t>(100 * n + 10 * c + p));
  write_h5(d / "a.h5", {2, 3, 2, 2}, nullptr, &nchw, {1, 0});
  write_h5(d / "b.h5", {2, 2, 2, 3}, nullptr, &nhwc, {1, 0});
  Dataset a = read_source(h5_source(d / "a.h5", "NCHW"), in, 0);
  Dataset b = read_source(h5_source(d / "b.h5", "NHWC"), in, 0);
  REQUIRE(a.images.size() == 24);
  CHECK(a.images == b.images);
  CHECK(a.images[13] == Approx((100 + 0 + 1) / 255.0f));
  CHECK(a.labels == std::vector<int64_t>{1, 0});
  std::vector<float> f(24);
  for (size_t i = 0; i < 24; ++i) f[i] = static_cast<float>(i) * 0.5f;
  write_h5(d / "f.h5", {2, 3, 2, 2}, &f, nullptr, {1, 0});
  Dataset fd = read_source(h5_source(d / "f.h5", "NCHW"), in, 1);
  CHECK(fd.n == 1);
  CHECK(fd.images == std::vector<float>(f.begin(), f.begin() + 12));
}

TEST_CASE("bad HDF5 sources give one clear error each", "[data]") {
  TempDir d;
  const Shape in{1, 2, 2, false};
  std::vector<float> f = {0, 1, 2, NAN, 4, 5, 6, 7};
  write_h5(d / "nan.h5", {2, 1, 2, 2}, &f, nullptr, {0, 1});
  CHECK(data_error([&] { read_source(h5_source(d / "nan.h5", "NCHW"), in, 0); }) ==
        d / "nan.h5" + ": dataset '/set/x': non-finite value (nan) in image 0; clean the data (NaN/Inf cannot be "
                       "trained on)");
  std::vector<float> ok(8, 0.f);
  write_h5(d / "cnt.h5", {2, 1, 2, 2}, &ok, nullptr, {0, 1, 1});
  CHECK(data_error([&] { read_source(h5_source(d / "cnt.h5", "NCHW"), in, 0); }) ==
        d / "cnt.h5" + ": dataset '/set/y' has 3 labels but '/set/x' has 2 images");
  CHECK(data_error([&] { read_source(h5_source(d / "cnt.h5", "NCHW"), Shape{1, 3, 3, false}, 0); }) ==
        d / "cnt.h5" + ": dataset '/set/x' has shape 2x1x2x2 but layout NCHW with the schema's input 1x3x3 needs "
                       "N x 1 x 3 x 3; fix `input` or `layout` in the schema");
  auto src = h5_source(d / "cnt.h5", "NCHW");
  src.labels_dataset = "/set/labels";
  CHECK(data_error([&] { read_source(src, in, 0); }) ==
        d / "cnt.h5" + ": no dataset '/set/labels' (the schema's labels dataset); its datasets: /set/x (2x1x2x2 float32), "
                       "/set/y (3 int64); fix the name in the schema");
  src.labels_dataset = "/nothere/labels";  // a missing group on the way is the same error, not an HDF5 failure
  CHECK_THAT(data_error([&] { read_source(src, in, 0); }), Contains("no dataset '/nothere/labels'"));
  write_bytes(d / "junk.h5", {1, 2, 3, 4, 5});
  CHECK(data_error([&] { read_source(h5_source(d / "junk.h5", "NCHW"), in, 0); }) ==
        d / "junk.h5" + ": cannot open as HDF5 (missing, truncated, or not an HDF5 file); check the path");
}

TEST_CASE("a file of the other format is recognised by its signature and the error says how to give it", "[data]") {
  TempDir d;
  const Shape in{1, 2, 2, false};
  std::vector<float> ok(8, 0.f);
  write_h5(d / "set.h5", {2, 1, 2, 2}, &ok, nullptr, {0, 1});
  write_synthetic_idx(make_synthetic(3, 2, 2, 1), d / "s");
  CHECK(sniff_format(d / "set.h5") == "hdf5");
  CHECK(sniff_format(d / "s-images.idx") == "idx");
  CHECK(sniff_format(d / "missing") == "");
  CHECK(hdf5_datasets(d / "set.h5") == "/set/x (2x1x2x2 float32), /set/y (2 int64)");
  CHECK(hdf5_datasets(d / "set.h5", 1) == "/set/x (2x1x2x2 float32), ...");

  // An HDF5 file given as IDX (mcdnn-infer CAT V data.h5, or a schema's idx source).
  DataSource cli = idx_source(d / "set.h5", "");
  cli.command_line = true;
  CHECK(data_error([&] { read_source(cli, in, 0); }) ==
        d / "set.h5" + ": is an HDF5 file, not IDX (its datasets: /set/x (2x1x2x2 float32), /set/y (2 int64)); name its images "
                       "and labels with --images-dataset D --labels-dataset D");
  CHECK_THAT(data_error([&] { read_source(idx_source(d / "s-images.idx", d / "set.h5"), in, 0); }),
             Contains("set.h5: is an HDF5 file, not IDX") && Contains("`hdf5: {file: ") && Contains("in the schema"));
  // An IDX file given as HDF5.
  DataSource h5 = h5_source(d / "s-images.idx", "NCHW");
  h5.command_line = true;
  CHECK(data_error([&] { read_source(h5, in, 0); }) ==
        d / "s-images.idx" + ": is an IDX file, not HDF5; give it without --images-dataset/--labels-dataset (IMAGES [LABELS])");

  // The layout error names the fix that works: the other layout when it fits, as a flag on the
  // command line and as a key in a schema.
  std::vector<float> hw(2 * 2 * 2 * 3, 0.f);
  write_h5(d / "nhwc.h5", {2, 2, 2, 3}, &hw, nullptr, {0, 1});
  DataSource lay = h5_source(d / "nhwc.h5", "NCHW");
  CHECK_THAT(data_error([&] { read_source(lay, Shape{3, 2, 2, false}, 0); }),
             Contains("with the schema's input 3x2x2") && Contains("the images are NHWC: set `layout: NHWC` in the schema's hdf5 source"));
  lay.command_line = true;
  CHECK(data_error([&] { read_source(lay, Shape{3, 2, 2, false}, 0); }) ==
        d / "nhwc.h5" + ": dataset '/set/x' has shape 2x2x2x3 but layout NCHW with the variant's input 3x2x2 needs N x 3 x 2 x 2; "
                        "the images are NHWC: give --layout NHWC");
  CHECK_THAT(data_error([&] { read_source(lay, Shape{1, 5, 5, false}, 0); }),
             Contains("use images of the size the variant takes") && !Contains("schema"));
  // N x H x W of the right size: the channel axis is missing, and the error says so.
  std::vector<float> flat(8, 0.f);
  write_h5(d / "nc.h5", {2, 2, 2}, &flat, nullptr, {0, 1});
  CHECK_THAT(data_error([&] { read_source(h5_source(d / "nc.h5", "NCHW"), in, 0); }),
             Contains("the images lack their channel axis: store them as N x 1 x 2 x 2 (numpy: x[:, None])"));
  // IDX images of the wrong size on the command line.
  DataSource small = idx_source(d / "s-images.idx", d / "s-labels.idx");
  small.command_line = true;
  CHECK_THAT(data_error([&] { read_source(small, Shape{1, 3, 3, false}, 0); }),
             Contains("the variant's input is 1x3x3") && Contains("use images of the size the variant takes") && !Contains("schema"));
}

TEST_CASE("a header claiming more data than the file holds is refused before allocating", "[data]") {
  TempDir d;
  // 2^32 - 1 images of 4x4 claimed, none present: refused from the file size, not after a 64 GB allocation.
  std::vector<uint8_t> header = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4, 0, 0, 0, 4};
  write_bytes(d / "i.idx", header);
  write_bytes(d / "l.idx", {0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff});
  CHECK(data_error([&] { read_source(idx_source(d / "i.idx", d / "l.idx"), Shape{1, 4, 4, false}, 0); }) ==
        d / "i.idx" + ": truncated: expected 68719476720 bytes of image data at byte offset 16, found only 0; the file is "
                      "incomplete, download or convert it again");
}
