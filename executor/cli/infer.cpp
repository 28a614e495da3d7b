// mcdnn-infer: classify images with one variant of a catalog, run by the executor (no LibTorch).
//   mcdnn-infer CATALOG VARIANT IMAGES [LABELS]
// IMAGES is an IDX file (raw or .gz; LABELS an optional IDX labels file) or, with
// --images-dataset, an HDF5 file (then --labels-dataset names the labels). Preprocessing comes
// from catalog.json (pixel / 255 for uint8, then (x - mean) / std). Prints the predictions
// (--predictions), the accuracy when labels are given, batch-1 latency (measured as catalog.json's
// latency_ms is: exec::time_batch1, the model loaded for batch 1, over the images) and batched
// throughput.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "catalog/catalog_index.hpp"
#include "catalog/trunk.hpp"
#include "data/dataset.hpp"
#include "measure.hpp"
#include "model.hpp"
#include "util/cli_main.hpp"
#include "util/error.hpp"
#include "util/suggest.hpp"
#include "version.hpp"

using namespace mcdnn;

namespace {

struct InferOptions {
  std::string catalog, variant, images, labels;
  std::string images_dataset, labels_dataset, layout = "NCHW";
  int64_t limit = 0, batch = 64;
  int64_t predictions = 0;
  std::string int8 = "integer", sparse = "auto";
};

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int infer(const InferOptions& o) {
  const CatalogIndex index = read_catalog_index(o.catalog);
  const VariantRecord* rec = index.find(o.variant);
  if (!rec) {
    std::string ids;
    std::vector<std::string> all;
    for (size_t i = 0; i < index.records.size(); ++i) {
      if (i < 8) ids += (i ? ", " : "") + index.records[i].id;
      all.push_back(index.records[i].id);
    }
    fail(ErrorClass::Usage, o.catalog + ": no variant '" + o.variant + "'" + did_you_mean(o.variant, all) + " (" +
                                std::to_string(index.records.size()) + " variants, e.g. " + ids + "; mcdnn-catalog show " +
                                o.catalog + " lists them)");
  }
  const auto t_load = Clock::now();
  const VariantFile f = load_variant(index, *rec);
  exec::Options opt;
  opt.int8 = o.int8 == "float" ? exec::Int8Mode::Float : exec::Int8Mode::Integer;
  opt.sparse = o.sparse == "sparse" ? exec::SparsePolicy::Sparse : o.sparse == "dense" ? exec::SparsePolicy::Dense : exec::SparsePolicy::Auto;
  opt.batch_hint = o.batch;
  exec::Model model = exec::Model::from_file(f, opt);
  // A fragment catalog: its trunk (another catalog's variant, up to a layer) runs first.
  std::optional<exec::Model> trunk;
  if (index.trunk.present) {
    exec::Options topt = opt;
    topt.layers = index.trunk.layers;
    trunk = exec::Model::from_file(open_trunk(index), topt);
  }
  const double load_s = since(t_load);
  // Batch-1 latency runs the model as the catalog's measurement and the runtime load it: for
  // batch 1 (the sparse/dense choice of each pruned layer depends on the batch).
  std::optional<exec::Model> model1, trunk1;
  if (o.batch != 1) {
    exec::Options o1 = opt;
    o1.batch_hint = 1;
    model1 = exec::Model::from_file(f, o1);
    if (index.trunk.present) {
      o1.layers = index.trunk.layers;
      trunk1 = exec::Model::from_file(open_trunk(index), o1);
    }
  }

  DataSource src;
  if (o.images_dataset.empty()) {
    src.format = "idx";
    src.images = o.images;
    src.labels = o.labels;
  } else {
    if (!o.labels.empty())
      fail(ErrorClass::Usage, "an HDF5 input takes its labels from --labels-dataset, not from a LABELS file");
    if (o.labels_dataset.empty())
      fail(ErrorClass::Usage, "an HDF5 input needs --labels-dataset as well as --images-dataset");
    src.format = "hdf5";
    src.file = o.images;
    src.images_dataset = o.images_dataset;
    src.labels_dataset = o.labels_dataset;
    src.layout = o.layout;
  }
  src.where = "mcdnn-infer input";
  src.command_line = true;
  const Shape& in = trunk ? index.trunk.input : index.input.input;
  const std::vector<double>& mean = trunk ? index.trunk.mean : index.input.mean;
  const std::vector<double>& stdev = trunk ? index.trunk.std : index.input.std;
  Dataset d;
  try {
    d = read_source(src, in, o.limit);
  } catch (const Error& e) {
    fail(e.cls(), std::string(e.what()) + " [variant " + o.variant + " of " + o.catalog + " takes " + in.str() + " images]");
  }
  for (auto l : d.labels)
    if (l < 0 || l >= index.input.num_classes)
      fail(ErrorClass::Data, d.label_source + ": label " + std::to_string(l) + " is not one of the catalog's " +
                                 std::to_string(index.input.num_classes) + " classes");
  if (!mean.empty()) normalize(d, mean, stdev);

  const int64_t classes = model.num_classes(), per = in.numel();
  std::vector<float> feats;
  auto classify = [&](const float* x, int64_t n, float* out) {
    if (!trunk) return model.run(x, n, out);
    feats.resize(static_cast<size_t>(n * trunk->output_size()));
    trunk->run(x, n, feats.data());
    model.run(feats.data(), n, out);
  };
  std::vector<float> logits(static_cast<size_t>(d.n * classes));
  // Batch-1 latency first, as a fresh process serving requests would see it, by the catalog's
  // protocol; then the batched pass over everything (throughput and the predictions).
  exec::Latency lat;
  if (d.n > 0) {
    exec::Model& m1 = model1 ? *model1 : model;
    exec::Model* t1 = trunk1 ? &*trunk1 : trunk ? &*trunk : nullptr;
    std::vector<float> f1(t1 ? static_cast<size_t>(t1->output_size()) : 0);
    lat = exec::time_batch1(
        [&](const float* x, float* y) {
          if (!t1) return m1.run(x, 1, y);
          t1->run(x, 1, f1.data());
          m1.run(f1.data(), 1, y);
        },
        d.images.data(), d.n, per, classes, exec::MeasureOptions{});
  }
  const auto t_batch = Clock::now();
  for (int64_t i = 0; i < d.n; i += o.batch) {
    const int64_t n = std::min(o.batch, d.n - i);
    classify(d.images.data() + i * per, n, logits.data() + i * classes);
  }
  const double batch_s = since(t_batch);

  int64_t correct = 0;
  for (int64_t i = 0; i < d.n; ++i) {
    const float* l = logits.data() + i * classes;
    const int64_t pred = std::max_element(l, l + classes) - l;
    // A specialized variant's outputs are its kept classes, then "other": labels map alike.
    const Specialization& sp = rec->specialized;
    if (!d.labels.empty()) {
      const int64_t want = d.labels[static_cast<size_t>(i)];
      correct += pred == (sp.present ? sp.output_of(want) : want);
    }
    if (i < o.predictions) {
      std::string name = sp.present ? (pred == static_cast<int64_t>(sp.classes.size()) ? "other"
                                       : static_cast<size_t>(pred) < sp.class_names.size() ? sp.class_names[static_cast<size_t>(pred)]
                                                                                           : std::to_string(sp.classes[static_cast<size_t>(pred)]))
                         : pred < static_cast<int64_t>(index.input.class_names.size()) ? index.input.class_names[static_cast<size_t>(pred)]
                                                                                       : std::to_string(pred);
      std::printf("%lld\t%lld\t%s\n", static_cast<long long>(i), static_cast<long long>(pred), name.c_str());
    }
  }
  std::printf("variant %s: %lld images, %s, %s, loaded in %.2f ms\n", o.variant.c_str(), static_cast<long long>(d.n),
              exec::isa_name(model.isa()), o.int8 == "float" ? "int8 as float" : "int8 integer", load_s * 1e3);
  if (trunk)
    std::printf("trunk: %s variant %s up to %s (%lld layers) runs first; the times below include it\n", index.trunk.catalog_dir.c_str(),
                index.trunk.variant.c_str(), index.trunk.layer.c_str(), static_cast<long long>(index.trunk.layers));
  if (!d.labels.empty())
    std::printf("accuracy %.2f%% (%lld/%lld; catalog.json records %.2f%% on its validation set)\n",
                100.0 * static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(d.n, 1)),
                static_cast<long long>(correct), static_cast<long long>(d.n), 100 * rec->accuracy);
  if (lat.runs > 0) {
    // What catalog.json records for the same thing: a fragment's own cost is measured without its
    // trunk, which is measured once for the catalog; here both ran, so both are added.
    char recorded[160] = "";
    if (index.measured && trunk)
      std::snprintf(recorded, sizeof recorded, " (catalog.json: trunk %.4f + fragment %.4f = %.4f ms)", index.trunk_measured.latency_ms,
                    rec->measured.latency_ms, index.trunk_measured.latency_ms + rec->measured.latency_ms);
    else if (index.measured)
      std::snprintf(recorded, sizeof recorded, " (catalog.json: %.4f ms, p95 %.4f ms)", rec->measured.latency_ms,
                    rec->measured.latency_p95_ms);
    std::printf("latency batch 1: median %.4f ms, p95 %.4f ms over %lld runs cycling %lld images, after %d warm-up runs%s; "
                "batch %lld: %.0f images/s\n",
                lat.median_ms, lat.p95_ms, static_cast<long long>(lat.runs), static_cast<long long>(std::min(d.n, lat.runs)),
                exec::MeasureOptions{}.warmup, recorded, static_cast<long long>(o.batch), static_cast<double>(d.n) / std::max(batch_s, 1e-9));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  InferOptions o;
  CLI::App app{"mcdnn-infer: classify images with one variant of an mcdnn catalog (the executor, no LibTorch)", "mcdnn-infer"};
  app.set_version_flag("--version", std::string("mcdnn-infer ") + kVersion);
  app.add_option("catalog", o.catalog, "catalog directory (holds catalog.json)")->required();
  app.add_option("variant", o.variant, "variant id, e.g. base")->required();
  app.add_option("images", o.images, "IDX images file (raw or .gz), or an HDF5 file with --images-dataset and --labels-dataset "
                                     "(an HDF5 file given without them is recognised and its datasets listed)")->required();
  app.add_option("labels", o.labels, "IDX labels file: print the accuracy");
  app.add_option("--images-dataset", o.images_dataset, "HDF5: the images dataset (N x C x H x W or N x H x W x C)");
  app.add_option("--labels-dataset", o.labels_dataset, "HDF5: the labels dataset");
  app.add_option("--layout", o.layout, "HDF5 images layout")->check(CLI::IsMember({"NCHW", "NHWC"}));
  app.add_option("--limit", o.limit, "classify at most N images")->check(mcdnn::at_least(1));
  app.add_option("--batch", o.batch, "batch size of the throughput pass")->check(CLI::Range(1, 65536));
  app.add_option("--predictions", o.predictions, "print the first N predictions (index, class, name)")->check(mcdnn::at_least(0));
  app.add_option("--int8", o.int8, "int8 layers: integer (uint8 activations, VNNI/AVX2) or float")
      ->check(CLI::IsMember({"integer", "float"}));
  app.add_option("--sparse", o.sparse, "sparse layers: auto (measured break-even), sparse or dense")
      ->check(CLI::IsMember({"auto", "sparse", "dense"}));
  app.footer("Exit codes: 0 success, 2 bad flags or unknown variant, 4 unreadable or mismatched images/labels,\n"
             "            7 catalog or variant file unreadable or damaged.\n"
             "MCDNN_ISA=scalar|avx2|avx512 narrows the instruction set.");
  return parse_and_run(app, argc, argv, [&] { return infer(o); });
}
