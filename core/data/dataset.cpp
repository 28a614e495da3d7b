#include "data/dataset.hpp"

#include <cmath>
#include <cstdio>

#include "util/error.hpp"

namespace mcdnn {

Dataset read_idx(const std::string& images_file, const std::string& labels_file, const Shape& input, int64_t limit,
                 bool command_line);
Dataset read_hdf5(const DataSource& src, const Shape& input, int64_t limit);

std::string sniff_format(const std::string& path) {
  unsigned char b[8] = {};
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  const size_t n = std::fread(b, 1, sizeof b, f);
  std::fclose(f);
  static const unsigned char hdf5[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (n == 8 && std::equal(b, b + 8, hdf5)) return "hdf5";
  if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return "gzip";
  if (n >= 4 && b[0] == 0 && b[1] == 0 && (b[2] == 0x08 || b[2] == 0x0D)) return "idx";
  return "";
}

namespace {
// An HDF5 file given where an IDX file is expected: say so, with its datasets and the way to
// name them.
void refuse_hdf5_as_idx(const DataSource& src, const std::string& file) {
  if (sniff_format(file) != "hdf5") return;
#ifdef MCDNN_FUZZING
  const std::string ds;  // fuzz/CMakeLists.txt: libhdf5 is not fed raw fuzz bytes
#else
  const std::string ds = hdf5_datasets(file);
#endif
  const std::string listing = ds.empty() ? "it has no datasets" : "its datasets: " + ds;
  fail(ErrorClass::Data, file + ": is an HDF5 file, not IDX (" + listing + "); " +
                             (src.command_line ? "name its images and labels with --images-dataset D --labels-dataset D"
                                               : "give this source as `hdf5: {file: " + file +
                                                     ", images: D, labels: D}` in the schema (schemas/README.md, `data`)"));
}
}  // namespace

Dataset read_source(const DataSource& src, const Shape& input, int64_t limit) {
  if (src.format == "idx") {
    refuse_hdf5_as_idx(src, src.images);
    if (!src.labels.empty()) refuse_hdf5_as_idx(src, src.labels);
    return read_idx(src.images, src.labels, input, limit, src.command_line);
  }
  return read_hdf5(src, input, limit);
}

void check_and_relabel(Dataset& d, const DataSpec& spec, int64_t num_classes) {
  for (int64_t i = 0; i < d.n; ++i) {
    int64_t& y = d.labels[static_cast<size_t>(i)];
    if (!spec.relabel.empty()) {
      auto it = spec.relabel.find(y);
      if (it == spec.relabel.end())
        fail(ErrorClass::Data, d.label_source + ": example " + std::to_string(i) + " has label " + std::to_string(y) +
                                   ", which data.relabel does not map; add an entry for it");
      y = it->second;
    } else if (y < 0 || y >= num_classes) {
      fail(ErrorClass::Data, d.label_source + ": example " + std::to_string(i) + " has label " + std::to_string(y) +
                                 " outside the schema's " + std::to_string(num_classes) +
                                 " classes (0.." + std::to_string(num_classes - 1) +
                                 "); fix classes.count or add data.relabel");
    }
  }
}

void channel_stats(const Dataset& d, std::vector<double>* mean, std::vector<double>* std) {
  mean->assign(static_cast<size_t>(d.c), 0.0);
  std->assign(static_cast<size_t>(d.c), 0.0);
  const int64_t hw = d.h * d.w;
  for (int64_t c = 0; c < d.c; ++c) {
    double s = 0, s2 = 0;
    for (int64_t n = 0; n < d.n; ++n) {
      const float* p = &d.images[static_cast<size_t>((n * d.c + c) * hw)];
      for (int64_t k = 0; k < hw; ++k) {
        s += p[k];
        s2 += double(p[k]) * p[k];
      }
    }
    double cnt = double(d.n) * hw;
    double m = cnt > 0 ? s / cnt : 0.0;
    double var = cnt > 0 ? s2 / cnt - m * m : 0.0;
    (*mean)[static_cast<size_t>(c)] = m;
    (*std)[static_cast<size_t>(c)] = std::sqrt(std::max(var, 0.0));
  }
}

void normalize(Dataset& d, const std::vector<double>& mean, const std::vector<double>& std) {
  const int64_t hw = d.h * d.w;
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c) {
      float m = static_cast<float>(mean[static_cast<size_t>(c)]);
      float inv = static_cast<float>(1.0 / std[static_cast<size_t>(c)]);
      float* p = &d.images[static_cast<size_t>((n * d.c + c) * hw)];
      for (int64_t k = 0; k < hw; ++k) p[k] = (p[k] - m) * inv;
    }
}

void load_data(Schema& s, Dataset* train, Dataset* validation) {
  if (!s.data.present)
    fail(ErrorClass::Schema, s.path + ": the schema has no `data` section; add data.train and data.validation "
                                      "(see schemas/README.md), or use --profile-only");
  // A fragment's data are images for its trunk (the compiler runs them through it).
  const Shape& images = s.trunk.present ? s.trunk.input : s.input;
  *train = read_source(s.data.train, images, s.data.limit_train);
  *validation = read_source(s.data.validation, images, s.data.limit_validation);
  if (train->n == 0) fail(ErrorClass::Data, train->source + ": the training set is empty");
  if (validation->n == 0) fail(ErrorClass::Data, validation->source + ": the validation set is empty");
  check_and_relabel(*train, s.data, s.num_classes);
  check_and_relabel(*validation, s.data, s.num_classes);
  if (s.trunk.present) {
    if (!s.trunk.mean.empty()) {
      normalize(*train, s.trunk.mean, s.trunk.std);
      normalize(*validation, s.trunk.mean, s.trunk.std);
    }
    return;
  }
  Normalize& nz = s.data.normalize;
  if (nz.mode == Normalize::Mode::Compute) {
    channel_stats(*train, &nz.mean, &nz.std);
    for (auto& v : nz.std)
      if (v < 1e-12) v = 1.0;  // constant channel: leave its scale alone
  }
  if (nz.mode != Normalize::Mode::None) {
    normalize(*train, nz.mean, nz.std);
    normalize(*validation, nz.mean, nz.std);
  }
}

}  // namespace mcdnn
