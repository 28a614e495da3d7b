#include "passes/sweep.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <map>

#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

PassStep step(const std::string& pass, std::vector<std::string> layers, std::vector<std::string> levels) {
  PassStep p;
  p.pass = pass;
  p.layers = std::move(layers);
  p.levels = std::move(levels);
  p.finetune = pass != "quantize";
  p.where = "default sweep";
  return p;
}

double fraction(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::strtod(s.c_str(), nullptr);
  return std::strtod(s.substr(0, slash).c_str(), nullptr) / std::strtod(s.substr(slash + 1).c_str(), nullptr);
}

std::string sanitize(const std::string& t);

// Variant id from its transforms: each sanitized ("prune fc1 90%" -> "prune-fc1-90"), joined
// with '+'; a run of prunes of the same layers (iterative pruning) shows only its last level.
std::string variant_id(const std::vector<std::string>& transforms) {
  std::vector<std::string> parts;
  std::string last_prune;
  for (const auto& t : transforms) {
    std::string target;
    if (t.rfind("prune ", 0) == 0) target = t.substr(6, t.find(' ', 6) - 6);
    if (!target.empty() && target == last_prune && !parts.empty()) parts.pop_back();
    last_prune = target;
    parts.push_back(sanitize(t));
  }
  std::string id;
  for (const auto& p : parts) id += (id.empty() ? "" : "+") + p;
  return id;
}

std::string sanitize(const std::string& t) {
  std::string o;
  for (char c : t) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') o += c;
    else if (c == ' ') o += '-';
    else if (c == ',') o += '_';
  }
  return o;
}

class Runner {
 public:
  // `out` already holds the base model (variants[0], records[0]).
  Runner(const Schema& s, FeatureCache& cache, std::ostream& log, SweepResult& out)
      : s_(s), cache_(cache), log_(log), out_(out), shared_{out.variants.front().net->layers().size()} {}

  void apply(const PassStep& st, size_t parent) {
    const Variant& p = out_.variants[parent];
    auto context = [&](const std::string& what) { return st.where + ": " + st.pass + " on " + p.id + ": " + what; };
    try {
      if (st.pass == "quantize") {
        for (const auto& f : st.levels) add(parent, quantize_weights(p_(parent), f, st.layers), st);
      } else if (st.pass == "prune") {
        size_t from = parent;
        for (const auto& lv : st.levels) {
          size_t c = add(from, prune_magnitude(p_(from), st.layers, std::strtod(lv.c_str(), nullptr), st.global), st);
          if (st.iterative) from = c;
        }
      } else if (st.pass == "svd") {
        for (const auto& layer : st.layers)
          for (const auto& lv : st.levels) {
            RankSpec r;
            if (!parse_rank(lv, &r)) fail(ErrorClass::Schema, context("bad rank '" + lv + "'"));
            std::string note;
            auto c = factorize_svd(p_(parent), layer, r, &note);
            if (c)
              add(parent, std::move(*c), st);
            else
              skip(p_(parent).id + ": " + note);
          }
      } else if (st.pass == "narrow") {
        for (const auto& layer : st.layers)
          for (const auto& lv : st.levels) {
            const LayerSpec& l = p_(parent).net->layers()[layer_index(p_(parent), layer)];
            int64_t keep = lv.find_first_of("./") == std::string::npos
                               ? std::strtoll(lv.c_str(), nullptr, 10)
                               : std::max<int64_t>(1, std::llround(fraction(lv) * static_cast<double>(l.out)));
            if (keep >= l.out) {
              skip(p_(parent).id + ": narrow " + layer + " keep " + lv + ": skipped, it has only " + std::to_string(l.out) + " outputs");
              continue;
            }
            add(parent, narrow_layer(p_(parent), layer, keep), st);
          }
      } else if (st.pass == "remove") {
        for (const auto& layer : st.layers) add(parent, remove_layer(p_(parent), layer), st);
      }
    } catch (const Error& e) {
      if (e.cls() != ErrorClass::Schema) throw;
      std::string msg = e.what();
      fail(ErrorClass::Schema, msg.rfind(st.where, 0) == 0 ? msg : context(msg));
    }
  }

 private:
  const Variant& p_(size_t i) const { return out_.variants[i]; }

  void skip(const std::string& note) {
    out_.notes.push_back(note);
    log_ << "  note: " << note << "\n";
  }

  // Fine-tunes, profiles and records a child; applies `then` steps to it. Returns its index.
  size_t add(size_t parent, Variant child, const PassStep& st) {
    auto t0 = Clock::now();
    bool train = st.finetune;
    // A quantized variant that is fine-tuned has trained codebook centroids: say so in its name.
    if (train && st.pass == "quantize") child.transforms.back() += " ft";
    std::string id = variant_id(child.transforms);
    if (auto it = ids_.find(id); it != ids_.end()) {
      // The same chain was already built (e.g. a `then` chain starting with a step the sweep
      // also has on its own): reuse it rather than build it twice.
      for (const auto& t : st.then) apply(t, it->second);
      return it->second;
    }
    ids_[id] = out_.variants.size();
    child.id = id;
    size_t shared = std::min(shared_[parent], child.first_changed);
    auto ft = finetune(child, shared, cache_, s_.catalog.finetune, train,
                       static_cast<uint64_t>(s_.training.seed) + out_.variants.size());
    VariantRecord r;
    r.id = id;
    r.parent = out_.variants[parent].id;
    r.transforms = child.transforms;
    r.file = id + ".h5";
    r.profile = profile_variant(child);
    r.accuracy = ft.accuracy_after;
    r.accuracy_before_finetune = train ? ft.accuracy_before : -1;
    r.validation_examples = cache_.raw_val().x.size(0);
    r.train_seconds = ft.seconds;
    r.epochs = train ? s_.catalog.finetune.epochs : 0;
    r.build_seconds = since(t0);
    const VariantRecord& b = out_.records.front();
    char buf[512], before[32] = "";
    if (train) std::snprintf(before, sizeof before, "(FT from %.2f%%)", 100 * ft.accuracy_before);
    std::snprintf(buf, sizeof buf,
                  "[%3zu] %-34s acc %6.2f%% %+6.2f %-17s %9s %6.1fx %11s %5.1fx  %s%5.1f s\n",
                  out_.variants.size(), id.c_str(), 100 * r.accuracy, 100 * (r.accuracy - b.accuracy), before,
                  human(static_cast<double>(r.profile.bytes), "B").c_str(),
                  static_cast<double>(b.profile.bytes) / static_cast<double>(r.profile.bytes),
                  human(static_cast<double>(r.profile.flops_effective), "FLOPs").c_str(),
                  static_cast<double>(b.profile.flops_effective) / static_cast<double>(std::max<int64_t>(r.profile.flops_effective, 1)),
                  ft.frozen ? ("frozen " + std::to_string(ft.frozen) + " ").c_str() : "          ", r.build_seconds);
    log_ << buf << std::flush;
    out_.variants.push_back(std::move(child));
    out_.records.push_back(r);
    shared_.push_back(shared);
    size_t me = out_.variants.size() - 1;
    for (const auto& t : st.then) apply(t, me);
    return me;
  }

  const Schema& s_;
  FeatureCache& cache_;
  std::ostream& log_;
  SweepResult& out_;
  // Per variant: how many leading layers it shares with the base model (all, for the base).
  std::vector<size_t> shared_;
  std::map<std::string, size_t> ids_{{"base", 0}};
};
}  // namespace

std::vector<PassStep> default_sweep(const Schema& s) {
  std::vector<std::string> convs, fcs;
  std::string biggest_fc;
  int64_t biggest = -1;
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const auto& l = s.layers[i];
    if (l.kind == LayerKind::Conv2d) convs.push_back(l.name);
    if (l.kind == LayerKind::Linear) fcs.push_back(l.name);
  }
  if (!fcs.empty()) fcs.pop_back();  // the classifier keeps its classes
  for (const auto& l : s.layers)
    for (const auto& f : fcs)
      if (l.name == f && l.out * l.in.numel() > biggest) biggest = l.out * l.in.numel(), biggest_fc = f;

  // 2-bit codebooks lose too much as stored; they train their centroids (+6 points measured).
  auto cb2_trained = [](std::vector<std::string> layers) {
    PassStep q = step("quantize", std::move(layers), {"cb2"});
    q.finetune = true;
    return q;
  };
  std::vector<PassStep> v;
  v.push_back(step("quantize", {}, {"f16", "int8", "cb8", "cb4"}));
  v.push_back(cb2_trained({}));
  if (!fcs.empty()) v.push_back(step("svd", fcs, {"1/2", "1/4", "1/8", "1/16"}));
  if (convs.size() > 1) v.push_back(step("svd", {convs.begin() + 1, convs.end()}, {"1/2", "1/4", "1/8"}));
  std::vector<std::string> linears = fcs;
  for (const auto& l : s.layers)
    if (l.kind == LayerKind::Linear && std::find(fcs.begin(), fcs.end(), l.name) == fcs.end()) linears.push_back(l.name);
  if (!biggest_fc.empty()) {
    PassStep p = step("prune", {biggest_fc}, {"0.5", "0.75", "0.9", "0.95", "0.97"});
    p.iterative = true;
    p.then.push_back(step("quantize", {}, {"int8", "cb4"}));
    p.then.push_back(cb2_trained({}));
    if (!convs.empty()) {  // mixed precision: 8-bit convs, then 4/2-bit fully connected layers
      PassStep q = step("quantize", convs, {"int8"});
      q.then.push_back(step("quantize", linears, {"cb4"}));
      q.then.push_back(cb2_trained(linears));
      p.then.push_back(q);
    }
    v.push_back(p);
  }
  // Per-layer pruning of the compute-heavy layers (every conv but the first, the hidden linears).
  std::vector<std::string> heavy(convs.size() > 1 ? convs.begin() + 1 : convs.end(), convs.end());
  heavy.insert(heavy.end(), fcs.begin(), fcs.end());
  if (!heavy.empty()) {
    PassStep p = step("prune", heavy, {"0.5", "0.75", "0.85", "0.9"});
    p.iterative = true;
    p.then.push_back(step("quantize", {}, {"int8"}));
    v.push_back(p);
  }
  PassStep g = step("prune", {}, {"0.5", "0.7", "0.8", "0.9"});
  g.global = g.iterative = true;
  g.then.push_back(step("quantize", {}, {"cb4"}));
  v.push_back(g);
  std::vector<std::string> narrowable = convs;
  narrowable.insert(narrowable.end(), fcs.begin(), fcs.end());
  if (!narrowable.empty()) v.push_back(step("narrow", narrowable, {"1/2", "1/4"}));
  if (convs.size() > 1) v.push_back(step("remove", {convs.begin() + 1, convs.end()}, {}));
  if (!convs.empty() && !biggest_fc.empty()) {
    PassStep c = step("narrow", {convs.front()}, {"1/2"});
    PassStep f = step("svd", {biggest_fc}, {"1/8"});
    PassStep p = step("prune", {biggest_fc}, {"0.9"});
    p.then.push_back(step("quantize", {}, {"cb4"}));
    f.then.push_back(p);
    c.then.push_back(f);
    v.push_back(c);
  }
  return v;
}

SweepResult run_sweep(const Schema& s, Variant base, const VariantRecord& base_record, FeatureCache& cache,
                      std::ostream& log) {
  auto t0 = Clock::now();
  SweepResult out;
  out.variants.push_back(std::move(base));
  out.records.push_back(base_record);
  Runner run(s, cache, log, out);
  auto steps = s.catalog.variants_given ? s.catalog.steps : default_sweep(s);
  for (const auto& st : steps) run.apply(st, 0);
  out.seconds = since(t0);
  out.cache_seconds = cache.seconds();
  return out;
}

std::string format_summary(const std::vector<VariantRecord>& records) {
  const VariantRecord& b = records.front();
  std::string o;
  char buf[512];
  std::snprintf(buf, sizeof buf, "  %-40s %8s %8s %11s %7s %11s %7s %7s %6s\n", "variant", "accuracy", "before", "bytes",
                "x", "FLOPs eff.", "x", "pareto", "s");
  o += buf;
  for (const auto& r : records) {
    std::string before = r.accuracy_before_finetune >= 0 ? std::to_string(100 * r.accuracy_before_finetune).substr(0, 5) + "%" : "-";
    std::string mark = std::string(r.pareto_bytes ? "B" : "") + (r.knee_bytes ? "*" : "") + (r.pareto_flops ? "F" : "") +
                       (r.knee_flops ? "*" : "");
    std::snprintf(buf, sizeof buf, "  %-40s %7.2f%% %8s %11lld %6.1fx %11lld %6.1fx %7s %6.1f\n", r.id.c_str(), 100 * r.accuracy,
                  before.c_str(), static_cast<long long>(r.profile.bytes),
                  static_cast<double>(b.profile.bytes) / static_cast<double>(r.profile.bytes),
                  static_cast<long long>(r.profile.flops_effective),
                  static_cast<double>(b.profile.flops_effective) / static_cast<double>(std::max<int64_t>(r.profile.flops_effective, 1)),
                  mark.c_str(), r.id == "base" ? r.train_seconds : r.build_seconds);
    o += buf;
  }
  o += "  pareto: B = on the accuracy/bytes front, F = on the accuracy/FLOPs front, * = the front's knee\n";
  return o;
}

}  // namespace mcdnn
