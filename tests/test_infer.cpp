// mcdnn-infer end to end: accuracy with labels, predictions without, every variant of a small
// catalog agreeing with its recorded accuracy, and clear errors (unknown variant, wrong image
// size, damaged catalog, mismatched labels).
#include <filesystem>

#include "catch.hpp"
#include "catalog/catalog_index.hpp"
#include "fixtures.hpp"
#include "util/h5.hpp"

using namespace mcdnn;
using namespace mcdnn::test;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
struct Infer {
  TempDir dir;
  std::string cat;
  Infer() {
    cat = dir / "cat";
    std::string log;
    int rc = compile_every_form(dir, 81, &log);
    INFO(log);
    REQUIRE(rc == 0);
  }
  int run(const std::string& args, std::string* out) const { return run_command(std::string(MCDNN_INFER) + " " + args, out); }
};
}  // namespace

TEST_CASE("mcdnn-infer classifies with every variant and reproduces the recorded accuracy", "[infer][cli]") {
  Infer p;
  const CatalogIndex index = read_catalog_index(p.cat);
  for (const auto& r : index.records) {
    INFO(r.id);
    std::string out;
    REQUIRE(p.run(p.cat + " " + r.id + " " + (p.dir / "val-images.idx") + " " + (p.dir / "val-labels.idx") + " --int8 float", &out) == 0);
    INFO(out);
    // The validation set is the catalog's: the same accuracy, to the printed digit.
    char want[32];
    std::snprintf(want, sizeof want, "accuracy %.2f%%", 100 * r.accuracy);
    CHECK(out.find(want) != std::string::npos);
    CHECK(out.find("latency batch 1: median") != std::string::npos);
  }
  std::string out;
  REQUIRE(p.run(p.cat + " base " + (p.dir / "val-images.idx") + " --predictions 3", &out) == 0);
  CHECK(out.rfind("0\t", 0) == 0);
  CHECK(out.find("\n2\t") != std::string::npos);
  CHECK(out.find("accuracy") == std::string::npos);  // no labels, no accuracy
}

TEST_CASE("mcdnn-infer reads HDF5 inputs (float data taken as is) like IDX", "[infer][cli]") {
  Infer p;
  // The validation set as float32 in [0, 1] (what IDX uint8 / 255 gives) with int64 labels.
  const Synthetic v = make_synthetic(60, 12, 4, 82);
  std::vector<float> x(v.images.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(v.images[i]) / 255.0f;
  std::vector<int64_t> y(v.labels.begin(), v.labels.end());
  {
    h5::quiet();
    auto f = h5::create_file(p.dir / "val.h5");
    h5::write_f32(f.id(), "x", {60, 1, 12, 12}, x.data());
    h5::write_i64(f.id(), "y", {60}, y.data());
  }
  std::string idx, hdf;
  REQUIRE(p.run(p.cat + " base " + (p.dir / "val-images.idx") + " " + (p.dir / "val-labels.idx") + " --int8 float", &idx) == 0);
  REQUIRE(p.run(p.cat + " base " + (p.dir / "val.h5") + " --images-dataset x --labels-dataset y --int8 float", &hdf) == 0);
  INFO(idx << hdf);
  const auto acc = [](const std::string& out) { return out.substr(out.find("accuracy"), 16); };
  CHECK(acc(idx) == acc(hdf));
  std::string out;
  CHECK(p.run(p.cat + " base " + (p.dir / "val.h5") + " --images-dataset x", &out) == 2);
  CHECK(out.find("--labels-dataset") != std::string::npos);

  // An HDF5 file given without its datasets is recognised by its signature (not "bad IDX magic"),
  // its datasets listed; an NHWC file read as NCHW gets the flag that fixes it. mcdnn-infer and
  // the Python reader say the same.
  {
    auto f = h5::create_file(p.dir / "nhwc.h5");
    h5::write_f32(f.id(), "x", {60, 12, 12, 1}, x.data());
    h5::write_i64(f.id(), "y", {60}, y.data());
  }
  const std::string py = std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/mcdnn_run.py ";
  for (const std::string& tool : {std::string(MCDNN_INFER) + " ", py}) {
    INFO(tool);
    CHECK(run_command(tool + p.cat + " base " + (p.dir / "val.h5"), &out) == 4);
    CHECK_THAT(out, Contains("val.h5: is an HDF5 file, not IDX (its datasets: /x (60x1x12x12 float32), /y (60 int64)); "
                             "name its images and labels with --images-dataset D --labels-dataset D"));
    CHECK(out.find("magic") == std::string::npos);
    CHECK(run_command(tool + p.cat + " base " + (p.dir / "nhwc.h5") + " --images-dataset x --labels-dataset y", &out) == 4);
    CHECK_THAT(out, Contains("the images are NHWC: give --layout NHWC") || Contains("; the images are NHWC: give --layout NHWC"));
    CHECK(out.find("schema") == std::string::npos);
    CHECK(run_command(tool + p.cat + " base " + (p.dir / "nhwc.h5") + " --images-dataset x --labels-dataset y --layout NHWC", &out) == 0);
    CHECK(run_command(tool + p.cat + " base " + (p.dir / "val.h5") + " --images-dataset images --labels-dataset y", &out) == 4);
    CHECK_THAT(out, Contains("no dataset 'images'") && Contains("its datasets: /x (60x1x12x12 float32)"));
    CHECK(run_command(tool + p.cat + " base " + (p.dir / "val-images.idx") + " --images-dataset x --labels-dataset y", &out) == 4);
    CHECK_THAT(out, Contains("is an IDX file, not HDF5; give it without --images-dataset/--labels-dataset"));
  }
}

TEST_CASE("mcdnn-infer errors: unknown variant, wrong image size, damaged catalog, mismatched labels", "[infer][cli]") {
  Infer p;
  std::string out;
  CHECK(p.run(p.cat + " nope " + (p.dir / "val-images.idx"), &out) == 2);
  CHECK(out.find("no variant 'nope'") != std::string::npos);
  CHECK(p.run(p.cat + " bsae " + (p.dir / "val-images.idx"), &out) == 2);
  CHECK(out.find("no variant 'bsae'; did you mean 'base'?") != std::string::npos);

  write_synthetic_idx(make_synthetic(5, 8, 4, 3), p.dir / "small");
  CHECK(p.run(p.cat + " base " + (p.dir / "small-images.idx"), &out) == 4);
  CHECK(out.find("takes 1x12x12 images") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);

  CHECK(p.run(p.cat + " base " + (p.dir / "val-images.idx") + " " + (p.dir / "train-labels.idx"), &out) == 4);
  CHECK(out.find("labels") != std::string::npos);

  fs::resize_file(p.cat + "/base.h5", fs::file_size(p.cat + "/base.h5") / 2);
  CHECK(p.run(p.cat + " base " + (p.dir / "val-images.idx"), &out) == 7);
  CHECK(out.find("SHA-256") != std::string::npos);
  CHECK(p.run(p.dir / "nowhere base x", &out) == 7);
}
