#include "build_steps.hpp"

#include <chrono>
#include <filesystem>
#include <vector>

#include "catalog/catalog.hpp"
#include "catalog/convergence.hpp"
#include "model.hpp"
#include "nn/net.hpp"
#include "profile/profile.hpp"
#include "util/interrupt.hpp"
#include "util/fs.hpp"
#include "version.hpp"

namespace mcdnn {

std::string build_key(const Schema& s) {
  std::string k = std::string(kVersion) + "|" + s.source_hash + "|" + std::to_string(s.training.epochs) + "|" +
                  std::to_string(s.data.limit_train) + "|" + std::to_string(s.data.limit_validation);
  if (s.trunk.present) k += "|trunk:" + s.trunk.sha256 + ":" + std::to_string(s.trunk.layers);
  std::vector<std::string> files = {"/proc/self/exe"};
  for (const DataSource* src : {&s.data.train, &s.data.validation})
    for (const std::string* f : {&src->images, &src->labels, &src->file})
      if (!f->empty()) files.push_back(*f);
  for (const std::string& f : files) {
    std::error_code ec;
    auto size = std::filesystem::file_size(f, ec);
    auto mtime = std::filesystem::last_write_time(f, ec).time_since_epoch().count();
    k += "|" + f + ":" + std::to_string(size) + ":" + std::to_string(mtime);
  }
  return fnv1a_hex(k);
}

namespace {

// A fragment's data: the images run through the trunk once, with the executor (the same code,
// and so the same features, as mcdnn-infer and mcdnn-run), in batches.
void forward_through_trunk(const exec::Model& proto, Dataset* d) {
  exec::Model m = proto;
  const Shape& o = m.output_shape();
  const int64_t per_in = d->c * d->h * d->w, per_out = o.numel(), batch = 256;
  std::vector<float> feats(static_cast<size_t>(d->n * per_out));
  for (int64_t i = 0; i < d->n; i += batch) {
    check_interrupted();
    const int64_t n = std::min(batch, d->n - i);
    m.run(d->images.data() + i * per_in, n, feats.data() + i * per_out);
  }
  d->images = std::move(feats);
  d->c = o.c, d->h = o.h, d->w = o.w;
}

}  // namespace

void load_build_data(Schema& schema, Dataset* train_set, Dataset* val_set, std::ostream& out) {
  auto t = std::chrono::steady_clock::now();
  load_data(schema, train_set, val_set);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  out << "  data: " << train_set->n << " training, " << val_set->n << " validation examples (" << std::fixed;
  out.precision(1);
  out << s << " s to load)\n";
  if (schema.trunk.present) {
    const TrunkRef& tk = schema.trunk;
    t = std::chrono::steady_clock::now();
    const VariantFile v = read_variant_file((std::filesystem::path(tk.catalog_dir) / tk.file).string());
    exec::Options eo;
    eo.layers = tk.layers;
    eo.batch_hint = 256;
    const exec::Model m = exec::Model::from_file(v, eo);
    forward_through_trunk(m, train_set);
    forward_through_trunk(m, val_set);
    out << "  trunk: " << tk.catalog << " variant " << tk.variant << " up to " << tk.layer << " (" << tk.layers
        << " layers, " << human(static_cast<double>(tk.bytes), "B") << "): every example run through it once, "
        << std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count() << " s; the network trains on its "
        << schema.input.str() << " outputs\n";
  }
  out.unsetf(std::ios::fixed);
  out.precision(6);
}

Variant train_base(const Schema& schema, const Dataset& val_set, const TensorData& tr,
                   const TensorData& va, torch::Device device, const CompileOptions& opt, std::ostream& out, VariantRecord* rec) {
  torch::manual_seed(static_cast<uint64_t>(schema.training.seed));
  Net net(schema.layers);
  net->to(device);
  TrainOptions topt;
  topt.device = device;
  topt.log = &out;
  topt.progress_bar = opt.progress_bar;
  out << "training " << schema.training.epochs << " epochs, batch " << schema.training.batch_size << ", "
      << schema.training.optimizer << " lr " << schema.training.lr << " (" << schema.training.schedule << ")\n";
  TrainResult tres = train(net, tr, va, schema.training, topt);
  Variant base;
  base.net = net;
  rec->accuracy = tres.val_accuracy;
  rec->train_seconds = tres.train_seconds;
  rec->build_seconds = tres.total_seconds;
  rec->eval_images_per_s = tres.epochs.empty() ? 0 : tres.epochs.back().eval_images_per_s;
  rec->id = "base";
  rec->file = "base.h5";
  rec->validation_examples = val_set.n;
  rec->epochs = schema.training.epochs;
  for (const EpochStats& e : tres.epochs) rec->accuracy_by_epoch.push_back(e.val_accuracy);
  const std::string warning = convergence_warning(judge_convergence(rec->accuracy_by_epoch, val_set.n));
  if (!warning.empty()) out << warning << "\n";
  base.net->to(torch::kCPU);
  rec->profile = profile_variant(base);
  return base;
}

TensorData finetune_subset(const Schema& schema, const TensorData& tr, torch::Device device) {
  const int64_t n = tr.x.size(0), sub_n = std::min<int64_t>(schema.catalog.finetune.examples, n);
  torch::manual_seed(static_cast<uint64_t>(schema.training.seed) + 1);
  auto pick = torch::randperm(n, torch::kInt64).slice(0, 0, sub_n).to(device);
  return {tr.x.index_select(0, pick), tr.y.index_select(0, pick)};
}

}  // namespace mcdnn
