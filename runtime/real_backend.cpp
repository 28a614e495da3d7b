// Real mode (run.hpp): the executor loads and runs the variants the scheduler picks.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>

#include "data/dataset.hpp"
#include "energy.hpp"
#include "model.hpp"
#include "run.hpp"
#include "schema/schema.hpp"
#include "util/error.hpp"

namespace mcdnn::rt {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct AppData {
  Dataset d;
  std::vector<std::vector<int64_t>> by_label;
  int64_t per = 0;
};

AppData load_images(const AppSpec& spec, const App& app) {
  InputInfo in = app.catalog.input;
  if (app.trunk >= 0) {  // a fragment: the images are its trunk's input
    in.input = app.catalog.trunk.input;
    in.mean = app.catalog.trunk.mean;
    in.std = app.catalog.trunk.std;
  }
  AppData a;
  DataSource src;
  DataSpec dspec;
  if (!spec.data.schema.empty()) {
    Schema sch = parse_schema_file(spec.data.schema);
    if (!sch.data.present)
      fail(ErrorClass::Scenario, spec.data.where + ": schema " + spec.data.schema + " has no `data` section to take images from");
    src = sch.data.validation;
    dspec = sch.data;
  } else {
    src.format = "idx";
    src.images = spec.data.images;
    src.labels = spec.data.labels;
    src.where = spec.data.where;
  }
  try {
    a.d = read_source(src, in.input, spec.data.limit);
    check_and_relabel(a.d, dspec, in.num_classes);
  } catch (const Error& e) {
    fail(e.cls(), std::string(e.what()) + " [app '" + spec.name + "': its catalog takes " + in.input.str() + " images of " +
                      std::to_string(in.num_classes) + " classes]");
  }
  if (a.d.n == 0) fail(ErrorClass::Data, spec.data.where + ": no images");
  if (!in.mean.empty()) normalize(a.d, in.mean, in.std);
  a.per = in.input.numel();
  a.by_label.resize(static_cast<size_t>(in.num_classes));
  for (int64_t i = 0; i < a.d.n; ++i) a.by_label[static_cast<size_t>(a.d.labels[static_cast<size_t>(i)])].push_back(i);
  return a;
}

class RealBackend : public Backend {
 public:
  RealBackend(const Scenario& s, const std::vector<App>& apps) : s_(&s), apps_(apps) {
    for (size_t i = 0; i < apps.size(); ++i) data_.push_back(load_images(s.apps[i], apps[i]));
    // Apps on one stream see the same frame: the same image index in each app's data, which
    // must then be the same images (e.g. one validation set, relabelled per task).
    for (size_t i = 0; i < apps.size(); ++i) {
      const int src = s.apps[i].stream.same_as_app;
      if (src < 0) continue;
      const Dataset& mine = data_[i].d;
      const Dataset& theirs = data_[static_cast<size_t>(src)].d;
      if ((mine.n != theirs.n || mine.c != theirs.c || mine.h != theirs.h || mine.w != theirs.w))
        fail(ErrorClass::Scenario, s.apps[i].where + ": app '" + apps[i].name + "' shares the frames of '" + apps[static_cast<size_t>(src)].name +
                                       "' (same_as), so real mode needs the same images for both: its data has " + std::to_string(mine.n) +
                                       " images of " + std::to_string(mine.c) + "x" + std::to_string(mine.h) + "x" + std::to_string(mine.w) +
                                       ", that app's " + std::to_string(theirs.n) + " of " + std::to_string(theirs.c) + "x" +
                                       std::to_string(theirs.h) + "x" + std::to_string(theirs.w) +
                                       "; give both apps data from the same image file and the same limit");
    }
    for (const auto& a : apps) profiles_.push_back(&exec::device_profile(a.device_profile));
    // Every variant file's checksum, once, before anything runs (load_variant() would redo it on
    // every load, which the catalog's load times do not include).
    for (const auto& a : apps)
      for (const auto& r : a.catalog.records) verify_checksum(a.catalog, r);
  }

  void prepare(const Scenario& s, const std::vector<Request>& trace, uint64_t seed) override {
    s_ = &s;
    image_.assign(trace.size(), 0);
    Rng rng(seed ^ 0x5EEDBA5Eull);
    // A frame's image, drawn for its first request (frames are trace positions), when apps share frames.
    bool shared = false;
    for (const auto& a : s.apps) shared = shared || a.stream.same_as_app >= 0;
    std::vector<int64_t> frame_image(shared ? trace.size() : 0, -1);
    for (size_t k = 0; k < trace.size(); ++k) {
      const Request& r = trace[k];
      const AppData& a = data_[static_cast<size_t>(r.app)];
      const bool framed = shared && r.frame >= 0 && static_cast<size_t>(r.frame) < frame_image.size();
      if (framed && frame_image[static_cast<size_t>(r.frame)] >= 0) {
        image_[k] = frame_image[static_cast<size_t>(r.frame)];
        continue;
      }
      if (r.label >= 0) {
        if (r.label >= static_cast<int>(a.by_label.size()) || a.by_label[static_cast<size_t>(r.label)].empty())
          fail(ErrorClass::Scenario, s.apps[static_cast<size_t>(r.app)].stream.where + ": trace " +
                                         s.apps[static_cast<size_t>(r.app)].stream.trace + ": the request at " + std::to_string(r.t) +
                                         " s asks for label " + std::to_string(r.label) + ", but app '" +
                                         apps_[static_cast<size_t>(r.app)].name + "' has no validation image of that class");
        const auto& pool = a.by_label[static_cast<size_t>(r.label)];
        image_[k] = pool[static_cast<size_t>(rng.next() % pool.size())];
      } else {
        image_[k] = static_cast<int64_t>(rng.next() % static_cast<uint64_t>(a.d.n));
      }
      if (framed) frame_image[static_cast<size_t>(r.frame)] = image_[k];
    }
  }

  void reset() override {
    device_.clear();
    cloud_.clear();
    trunks_.clear();
    cloud_trunks_.clear();
    trunk_out_.clear();
  }

  Served serve(size_t index, const Request& r, const Decision& d) override {
    Served out;
    const App& app = apps_[static_cast<size_t>(r.app)];
    const VariantCost& v = app.at(d.variant);
    for (const auto& e : d.evicted) {
      if (e.app < 0) trunks_.erase(-1 - e.app);  // a trunk (Scheduler::trunk_key)
      else device_.erase(key(e));
    }
    exec::Model* model = nullptr;
    exec::Model* fallback = nullptr;  // a cascade's generic variant, cached under its own key
    const exec::DeviceProfile& dev = *profiles_[static_cast<size_t>(r.app)];
    const auto t_all = Clock::now();
    if (d.place == Place::Device) {
      // What is not loaded yet is loaded (a cascade: its fallback too), each load's energy from
      // the energy model for the CPU time it took and the file it read (the storage term).
      auto device_model = [&](int variant) {
        auto it = device_.find(key({r.app, variant}));
        if (it == device_.end()) {
          if (d.hit) fail(ErrorClass::Internal, "real mode: a cache hit for a variant that is not loaded");
          const VariantCost& y = app.at(variant);
          const double c0 = thread_cpu_seconds();
          const auto t = Clock::now();
          it = device_.emplace(key({r.app, variant}), load(app, y)).first;
          out.load_s += since(t);
          out.load_j += exec::estimate_energy(dev, 0, 0, 0, thread_cpu_seconds() - c0, y.file_bytes).load_j;
        }
        return it->second.get();
      };
      if (v.set >= 0) fallback = device_model(v.fallback);
      model = device_model(d.variant);
    } else {
      auto it = cloud_.find(key({r.app, d.variant}));
      if (it == cloud_.end()) it = cloud_.emplace(key({r.app, d.variant}), load(app, v)).first;  // the server's copy
      model = it->second.get();
    }
    const AppData& a = data_[static_cast<size_t>(r.app)];
    const int64_t img = image_[index];
    const float* x = a.d.images.data() + img * a.per;
    double run_s = 0, fb_s = 0, run_cpu = 0, fb_cpu = 0, trunk_s = 0, trunk_cpu = 0;
    if (app.trunk >= 0) {
      // A fragment: the trunk's output for this frame, computed now unless another app's
      // request of the frame did (on the device; the server shares nothing).
      const TrunkCost& tc = app.trunk_cost;
      TrunkOut& o = d.place == Place::Device ? trunk_out_[app.trunk] : server_out_;
      if (d.place == Place::Cloud || d.trunk_runs || o.frame != r.frame || r.frame < 0) {
        auto& store = d.place == Place::Device ? trunks_ : cloud_trunks_;
        auto it = store.find(app.trunk);
        if (it == store.end()) {
          const double c0 = thread_cpu_seconds();
          const auto t = Clock::now();
          it = store.emplace(app.trunk, load_trunk(app)).first;
          if (d.place == Place::Device) {
            out.load_s += since(t);
            out.load_j += exec::estimate_energy(dev, 0, 0, 0, thread_cpu_seconds() - c0, tc.file_bytes).load_j;
          }
        }
        o.y.resize(static_cast<size_t>(it->second->output_size()));
        const double c0 = thread_cpu_seconds();
        const auto t = Clock::now();
        it->second->run(x, 1, o.y.data());
        trunk_s = since(t);
        trunk_cpu = thread_cpu_seconds() - c0;
        o.frame = r.frame;
      }
      x = o.y.data();
    }
    int64_t arg = classify(*model, x, &run_s, &run_cpu);
    if (v.set >= 0) {
      // A cascade: the specialized variant's outputs are its set's classes, then "other", on
      // which the fallback (the generic variant it came from) classifies the image.
      const auto& set = app.sets[static_cast<size_t>(v.set)];
      if (arg == static_cast<int64_t>(set.size())) {
        out.fell_through = true;
        arg = classify(*fallback, x, &fb_s, &fb_cpu);
      } else {
        arg = set[static_cast<size_t>(arg)];
      }
    }
    out.correct = arg == a.d.labels[static_cast<size_t>(img)];
    out.predicted = static_cast<int>(arg);
    out.inference_s = since(t_all);
    if (d.place == Place::Device) {
      // Execution energy from the thread's CPU time, not the wall time: the time this process
      // was preempted (another process, the hypervisor) is not energy the inference spent.
      out.energy_j = exec::estimate_energy(dev, run_cpu, v.flops, v.bytes, 0, 0).exec_j + out.load_j;
      if (trunk_cpu > 0) out.energy_j += exec::estimate_energy(dev, trunk_cpu, app.trunk_cost.flops, app.trunk_cost.bytes, 0, 0).exec_j;
      if (out.fell_through) {
        const VariantCost& fb = app.variants[static_cast<size_t>(v.fallback)];
        out.energy_j += exec::estimate_energy(dev, fb_cpu, fb.flops, fb.bytes, 0, 0).exec_j;
      }
      // The scheduler's predicted latency includes the wait for the device; keep that part.
      // (A cascade's predicted execution is both runs: the specialized variant's and its fallback's.)
      const double predicted_exec = v.exec_s + (v.set >= 0 ? app.variants[static_cast<size_t>(v.fallback)].exec_s : 0) + d.trunk_s;
      const double wait = std::max(0.0, d.latency_s - d.load_s - predicted_exec);
      out.latency_s = wait + out.load_s + trunk_s + run_s + fb_s;
    } else {
      const double server_s = (trunk_s + run_s) * s_->cloud.latency_factor;
      out.latency_s = s_->cloud.round_trip_s + server_s;
      out.usd = server_s * 1e3 * s_->cloud.usd_per_ms;
      out.energy_j = s_->cloud.transmission_j;
    }
    return out;
  }

 private:
  static uint64_t key(CacheKey k) { return (static_cast<uint64_t>(static_cast<uint32_t>(k.app)) << 32) | static_cast<uint32_t>(k.variant); }
  static std::unique_ptr<exec::Model> load(const App& app, const VariantCost& v) {
    const auto& rec = app.catalog.records[v.record];
    const VariantFile f = read_variant_file((std::filesystem::path(app.catalog.dir) / rec.file).string());
    check_variant_matches(app.catalog, rec, f);  // a cascade's outputs index its class set
    return std::make_unique<exec::Model>(exec::Model::from_file(f));
  }
  static std::unique_ptr<exec::Model> load_trunk(const App& app) {
    const TrunkRef& t = app.catalog.trunk;
    const VariantFile f = read_variant_file((std::filesystem::path(t.catalog_dir) / t.file).string());
    exec::Options o;
    o.layers = t.layers;
    return std::make_unique<exec::Model>(exec::Model::from_file(f, o));
  }
  // Runs m on one image: the top class, the wall time and the thread's CPU time it took.
  int64_t classify(exec::Model& m, const float* x, double* seconds, double* cpu_seconds) {
    logits_.resize(static_cast<size_t>(m.num_classes()));
    const double c0 = thread_cpu_seconds();
    const auto t = Clock::now();
    m.run(x, 1, logits_.data());
    *seconds = since(t);
    *cpu_seconds = thread_cpu_seconds() - c0;
    int64_t arg = 0;
    for (int64_t c = 1; c < m.num_classes(); ++c)
      if (logits_[static_cast<size_t>(c)] > logits_[static_cast<size_t>(arg)]) arg = c;
    return arg;
  }

  const Scenario* s_;
  const std::vector<App>& apps_;
  std::vector<AppData> data_;
  std::vector<const exec::DeviceProfile*> profiles_;
  std::vector<int64_t> image_;
  std::map<uint64_t, std::unique_ptr<exec::Model>> device_, cloud_;
  // Trunks by App::trunk (on the device: mirrored from the scheduler's cache; the server's), and
  // the last frame's trunk output per trunk.
  std::map<int, std::unique_ptr<exec::Model>> trunks_, cloud_trunks_;
  struct TrunkOut {
    int64_t frame = -1;
    std::vector<float> y;
  };
  std::map<int, TrunkOut> trunk_out_;
  TrunkOut server_out_;
  std::vector<float> logits_;
};

}  // namespace

std::unique_ptr<Backend> make_real_backend(const Scenario& s, const std::vector<App>& apps) {
  return std::make_unique<RealBackend>(s, apps);
}

}  // namespace mcdnn::rt
