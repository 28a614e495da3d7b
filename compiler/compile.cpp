#include "compile.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "catalog/catalog.hpp"
#include "data/dataset.hpp"
#include "nn/net.hpp"
#include "profile/profile.hpp"
#include "schema/schema.hpp"
#include "train/train.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "version.hpp"

namespace mcdnn {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Fingerprint of everything a catalog is built from: compiler version, schema text, the
// effective epochs and limits, and each data file's path, size and modification time.
std::string build_key(const Schema& s) {
  std::string k = std::string(kVersion) + "|" + s.source_hash + "|" + std::to_string(s.training.epochs) + "|" +
                  std::to_string(s.data.limit_train) + "|" + std::to_string(s.data.limit_validation);
  for (const DataSource* src : {&s.data.train, &s.data.validation})
    for (const std::string* f : {&src->images, &src->labels, &src->file}) {
      if (f->empty()) continue;
      std::error_code ec;
      auto size = std::filesystem::file_size(*f, ec);
      auto mtime = std::filesystem::last_write_time(*f, ec).time_since_epoch().count();
      k += "|" + *f + ":" + std::to_string(size) + ":" + std::to_string(mtime);
    }
  return fnv1a_hex(k);
}

int run(const CompileOptions& opt, std::ostream& out) {
  auto t_start = Clock::now();
  Schema schema = parse_schema_file(opt.schema_path);
  if (opt.epochs > 0) schema.training.epochs = opt.epochs;
  if (opt.limit > 0) schema.data.limit_train = schema.data.limit_validation = opt.limit;

  Profile prof = profile_layers(schema.layers);
  if (opt.profile_only) {
    out << schema.name << ": input " << schema.input.str() << ", " << schema.num_classes << " classes, "
        << schema.layers.size() << " layers\n"
        << format_profile(prof);
    return 0;
  }

  int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  tune_runtime();
  torch::Device device = pick_device(opt.device);
  std::string out_dir = opt.out_dir.empty() ? schema.name + "-catalog" : opt.out_dir;
  check_output_dir(out_dir);  // fail before training, not after
  const std::string key = build_key(schema);
  if (!opt.force && existing_build_key(out_dir) == key) {
    out << out_dir << " is up to date with " << opt.schema_path
        << " and its data (same schema, data files and compiler); --force rebuilds it\n";
    return 0;
  }

  out << "mcdnn-compile " << kVersion << ": " << schema.name << " (" << opt.schema_path << ")\n";
  out << "  device " << device.str() << ", " << threads << " threads, LibTorch " << TORCH_VERSION << "\n";
  out << "  base model: " << human(prof.params) << " params, " << human(prof.flops, "FLOPs") << ", "
      << human(prof.bytes, "B") << " weights\n";

  auto t_data = Clock::now();
  Dataset train_set, val_set;
  load_data(schema, &train_set, &val_set);
  out << "  data: " << train_set.n << " training, " << val_set.n << " validation examples ("
      << std::fixed;
  out.precision(1);
  out << since(t_data) << " s to load)\n";
  out.unsetf(std::ios::fixed);
  out.precision(6);

  torch::manual_seed(static_cast<uint64_t>(schema.training.seed));
  Net net(schema.layers);
  net->to(device);
  TensorData tr = to_tensors(train_set, device), va = to_tensors(val_set, device);

  TrainOptions topt;
  topt.device = device;
  topt.log = &out;
  topt.progress_bar = opt.progress_bar;
  out << "training " << schema.training.epochs << " epochs, batch " << schema.training.batch_size << ", "
      << schema.training.optimizer << " lr " << schema.training.lr << " (" << schema.training.schedule << ")\n";
  TrainResult tres = train(net, tr, va, schema.training, topt);

  VariantRecord base;
  base.id = "base";
  base.file = "base.h5";
  base.profile = prof;
  base.accuracy = tres.val_accuracy;
  base.validation_examples = val_set.n;
  base.train_seconds = tres.train_seconds;
  base.epochs = schema.training.epochs;
  base.eval_images_per_s = tres.epochs.empty() ? 0 : tres.epochs.back().eval_images_per_s;
  net->to(torch::kCPU);
  write_catalog(out_dir, schema, {base}, {&net}, key);

  char buf[512];
  out << "\nsummary\n";
  std::snprintf(buf, sizeof buf, "  %-8s %12s %14s %12s %14s %9s %10s\n", "variant", "params", "FLOPs", "bytes",
                "act. bytes", "accuracy", "train s");
  out << buf;
  std::snprintf(buf, sizeof buf, "  %-8s %12lld %14lld %12lld %14lld %8.2f%% %10.1f\n", base.id.c_str(),
                static_cast<long long>(prof.params), static_cast<long long>(prof.flops),
                static_cast<long long>(prof.bytes), static_cast<long long>(prof.activation_bytes),
                100 * base.accuracy, base.train_seconds);
  out << buf;
  double ips = tres.train_seconds > 0 ? static_cast<double>(train_set.n) * schema.training.epochs / tres.train_seconds : 0;
  std::snprintf(buf, sizeof buf, "  training %.1f s (%.0f img/s), evaluation %.0f img/s, total %.1f s\n",
                tres.train_seconds, ips, base.eval_images_per_s, since(t_start));
  out << buf;
  out << "  catalog written to " << out_dir << "/catalog.json\n";
  return 0;
}
}  // namespace

int compile(const CompileOptions& opt, std::ostream& out, std::ostream& err) {
  try {
    return run(opt, out);
  } catch (const Error& e) {
    err << "error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const c10::Error& e) {
    err << "error: LibTorch: " << e.what_without_backtrace() << "\n";
    return static_cast<int>(ErrorClass::Internal);
  } catch (const std::exception& e) {
    err << "error: internal: " << e.what() << "\n";
    return static_cast<int>(ErrorClass::Internal);
  }
}

}  // namespace mcdnn
