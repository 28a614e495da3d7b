#include "specialize/feature_store.hpp"

#include <chrono>
#include <filesystem>

#include "util/error.hpp"
#include "util/h5.hpp"
#include "util/sha256.hpp"

namespace mcdnn {

namespace fs = std::filesystem;

namespace {
using Clock = std::chrono::steady_clock;

void write_set(hid_t root, const std::string& x, const std::string& y, const TensorData& d) {
  torch::Tensor fx = d.x.to(torch::kCPU, torch::kFloat32).contiguous();
  torch::Tensor fy = d.y.to(torch::kCPU, torch::kInt32).contiguous();
  h5::write_f32(root, x, fx.sizes().vec(), fx.data_ptr<float>());
  h5::write_typed(root, y, {fy.size(0)}, H5T_NATIVE_INT32, H5T_STD_I32LE, fy.data_ptr<int32_t>());
}

TensorData read_set(hid_t root, const std::string& x, const std::string& y, const std::vector<int64_t>& shape, int64_t n,
                    const std::string& path, torch::Device device) {
  auto bad = [&](const std::string& what) { fail(ErrorClass::Catalog, path + ": " + what + "; the file or catalog.json was changed after they were written"); };
  std::vector<int64_t> want = {n};
  want.insert(want.end(), shape.begin(), shape.end());
  std::vector<int64_t> got = h5::dataset_shape(root, x);
  if (got != want) bad("/" + x + " has another shape than catalog.json's features record");
  // No more data than the file holds (a dataset may claim any size; 4 bytes per value).
  double bytes = 4;
  for (int64_t d : want) bytes *= static_cast<double>(d);
  std::error_code ec;
  const auto file_bytes = fs::file_size(path, ec);
  if (ec || bytes > static_cast<double>(file_bytes)) bad("/" + x + " claims more data than the file holds");
  std::vector<int64_t> s;
  std::vector<float> v = h5::read_f32(root, x, &s);
  H5T_class_t cls;
  size_t size = 0;
  bool is_signed = false;
  std::vector<uint8_t> raw = h5::read_raw(root, y, &cls, &size, &is_signed, n * 4);
  if (cls != H5T_INTEGER || size != 4 || !is_signed || static_cast<int64_t>(raw.size()) != 4 * n) bad("/" + y + ": expected " + std::to_string(n) + " int32 labels");
  TensorData d;
  d.x = torch::from_blob(v.data(), want, torch::kFloat32).clone().to(device);
  d.y = torch::from_blob(raw.data(), {n}, torch::kInt32).to(torch::kInt64).to(device);
  return d;
}
}  // namespace

std::string features_file_name(const std::string& variant, int64_t retrained_layers) {
  return variant + ".features-last" + std::to_string(retrained_layers) + ".h5";
}

FeatureRecord write_features(const std::string& path, const std::string& file, const VariantRecord& source, int64_t retrained_layers,
                             const PreForwarded& data) {
  if (!data.preforwarded()) fail(ErrorClass::Internal, "write_features: the data are not pre-forwarded");
  FeatureRecord r;
  r.variant = source.id;
  r.variant_sha256 = source.sha256;
  r.retrained_layers = retrained_layers;
  r.cut = static_cast<int64_t>(data.cut());
  r.file = file;
  r.shape = data.train().x.sizes().vec();
  r.shape.erase(r.shape.begin());
  r.train_examples = data.train().x.size(0);
  r.validation_examples = data.val().x.size(0);
  r.seconds = data.seconds();
  try {
    h5::quiet();
    auto f = h5::create_file(path);
    hid_t root = f.id();
    h5::attr(root, "format", std::string(kFeaturesFormat));
    h5::attr(root, "format_version", static_cast<int64_t>(kFeaturesVersion));
    h5::attr(root, "variant", r.variant);
    h5::attr(root, "variant_sha256", r.variant_sha256);
    h5::attr(root, "retrained_layers", r.retrained_layers);
    h5::attr(root, "cut", r.cut);
    write_set(root, "train_x", "train_y", data.train());
    write_set(root, "val_x", "val_y", data.val());
    if (f.release() < 0) fail(ErrorClass::Output, path + ": cannot finish writing the features (disk full?)");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(ErrorClass::Output, path + ": cannot write the features (" + e.what() + ")");
  }
  r.sha256 = sha256_file(path, static_cast<int>(ErrorClass::Output));
  return r;
}

PreForwarded read_features(const CatalogIndex& c, const FeatureRecord& rec, torch::Device device) {
  const auto t0 = Clock::now();
  const std::string path = (fs::path(c.dir) / rec.file).string();
  const std::string got = sha256_file(path, static_cast<int>(ErrorClass::Catalog));
  if (got != rec.sha256)
    fail(ErrorClass::Catalog, path + ": SHA-256 " + got + " differs from catalog.json's " + rec.sha256 + " for the features of " + rec.variant +
                                  ": the file was damaged or changed after the catalog was written");
  auto f = h5::open_file(path);
  if (!f.ok()) fail(ErrorClass::Catalog, path + ": cannot open as HDF5");
  try {
    hid_t root = f.id();
    auto attr_is = [&](const char* name, const std::string& want) {
      if (!h5::has_attr(root, name) || h5::attr_str(root, name) != want)
        fail(ErrorClass::Catalog, path + ": attribute " + name + " is not '" + want + "' as catalog.json's features record says");
    };
    auto int_is = [&](const char* name, int64_t want) {
      if (!h5::has_attr(root, name) || h5::attr_i64(root, name) != want)
        fail(ErrorClass::Catalog, path + ": attribute " + name + " is not " + std::to_string(want) + " as catalog.json's features record says");
    };
    attr_is("format", kFeaturesFormat);
    int_is("format_version", kFeaturesVersion);
    attr_is("variant", rec.variant);
    attr_is("variant_sha256", rec.variant_sha256);
    int_is("retrained_layers", rec.retrained_layers);
    int_is("cut", rec.cut);
    TensorData tr = read_set(root, "train_x", "train_y", rec.shape, rec.train_examples, path, device);
    TensorData va = read_set(root, "val_x", "val_y", rec.shape, rec.validation_examples, path, device);
    return PreForwarded(static_cast<size_t>(rec.cut), std::move(tr), std::move(va), std::chrono::duration<double>(Clock::now() - t0).count());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail(ErrorClass::Catalog, path + ": " + e.what());
  }
}

}  // namespace mcdnn
