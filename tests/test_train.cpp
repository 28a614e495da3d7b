// Training on a tiny generated data set: it learns, and it is deterministic given the seed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "catalog/convergence.hpp"
#include "catch.hpp"
#include "data/dataset.hpp"
#include "fixtures.hpp"
#include "nn/net.hpp"
#include "schema/schema.hpp"
#include "train/train.hpp"
#include "util/thread_policy.hpp"

using namespace mcdnn;
using namespace mcdnn::test;

namespace {
struct Setup {
  TempDir dir;
  Schema schema;
  Dataset tr, va;
  explicit Setup(int epochs) {
    write_synthetic_idx(make_synthetic(600, 12, 4, 11), dir / "train");
    write_synthetic_idx(make_synthetic(200, 12, 4, 12), dir / "val");
    schema = parse_schema_string(tiny_schema(dir.path().string(), 4, epochs), dir / "s.yaml", "");
    load_data(schema, &tr, &va);
  }
};

Net trained(Setup& s, TrainResult* r) {
  torch::set_num_threads(1);
  torch::manual_seed(static_cast<uint64_t>(s.schema.training.seed));
  Net net(s.schema.layers);
  *r = train(net, to_tensors(s.tr, torch::kCPU), to_tensors(s.va, torch::kCPU), s.schema.training, TrainOptions{});
  return net;
}
}  // namespace

TEST_CASE("training on a tiny separable set reaches high accuracy", "[train]") {
  Setup s(4);
  CHECK(s.schema.data.normalize.mean.size() == 1);  // computed from the training set
  TrainResult r;
  Net net = trained(s, &r);
  REQUIRE(r.epochs.size() == 4);
  CHECK(r.epochs.back().loss < r.epochs.front().loss);
  CHECK(r.val_accuracy >= 0.97);
  double again = evaluate(net, to_tensors(s.va, torch::kCPU), 64);
  CHECK(again == r.val_accuracy);  // evaluation does not depend on the batch size
}

TEST_CASE("training is deterministic on CPU for a given seed", "[train]") {
  Setup s(1);
  TrainResult r1, r2;
  Net a = trained(s, &r1), b = trained(s, &r2);
  CHECK(r1.epochs[0].loss == r2.epochs[0].loss);
  auto pa = a->parameters(), pb = b->parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) CHECK(torch::equal(pa[i], pb[i]));
}

TEST_CASE("the Net's tensors follow the layer specs", "[train]") {
  Setup s(1);
  Net net(s.schema.layers);
  for (size_t i = 0; i < s.schema.layers.size(); ++i) {
    auto specs = tensors_of(s.schema.layers[i]);
    REQUIRE(net->tensors(i).size() == specs.size());
    for (size_t k = 0; k < specs.size(); ++k) CHECK(net->tensors(i)[k].sizes().vec() == specs[k].shape);
  }
  auto y = net->forward(torch::zeros({3, 1, 12, 12}));
  CHECK(y.sizes().vec() == std::vector<int64_t>{3, 4});
}

TEST_CASE("the worker count follows the cores other processes leave free", "[train][threads]") {
  CHECK(default_threads(3.2e6) == 1);  // a tiny MLP's batch: one thread
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CHECK(default_threads(1.4e9) == cores);
  if (cores < 2) return;
  static int applied = 0;
  set_thread_budget(cores, true);
  set_thread_apply([](int n) { applied = n; });
  pid_t hog = fork();
  if (hog == 0) {
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1600)) {
    adapt_threads();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(hog, SIGKILL);
  waitpid(hog, nullptr, 0);
  INFO("other processes kept " << other_cores_busy() << " cores busy");
  CHECK(other_cores_busy() >= 0.8);
  CHECK(current_threads() <= cores - 1);
  CHECK(applied == current_threads());
  // A fixed count never changes.
  set_thread_budget(cores, false);
  adapt_threads();
  CHECK(current_threads() == cores);
}

TEST_CASE("a base model still improving in its last third of epochs is judged not converged", "[train][convergence]") {
  // Fewer than 2 epochs: not judged, no warning.
  CHECK_FALSE(judge_convergence({}, 1000).judged);
  CHECK_FALSE(judge_convergence({0.9}, 1000).judged);
  CHECK(convergence_warning(judge_convergence({0.9}, 1000)).empty());
  // 10 epochs: the tail is the last 3; the best before it is epoch 5's 0.905.
  const std::vector<double> plateau = {0.80, 0.85, 0.88, 0.90, 0.905, 0.90, 0.902, 0.904, 0.906, 0.908};
  Convergence c = judge_convergence(plateau, 10000);
  CHECK(c.judged);
  CHECK(c.tail == 3);
  CHECK(c.before == 0.905);
  CHECK(c.last == 0.908);
  CHECK(c.threshold == 0.005);
  CHECK(c.converged);  // +0.3 points: within 0.5
  CHECK(convergence_warning(c).empty());
  const std::vector<double> rising = {0.70, 0.75, 0.79, 0.82, 0.84, 0.86, 0.87, 0.88, 0.89, 0.90};
  c = judge_convergence(rising, 10000);
  CHECK_FALSE(c.converged);  // 0.90 against 0.87 after epoch 7
  CHECK(c.before == 0.87);
  const std::string w = convergence_warning(c);
  CHECK(w == "warning: the base model had not converged: validation accuracy after its last epoch (90.00%) is 3.00 points above "
             "the best of epochs 1-7 (87.00%), so every \"vs base\" figure also counts what more training alone would give; "
             "train it for more than 10 epochs (training.epochs or --epochs)");
  // Within the threshold is converged; above is not.
  CHECK(judge_convergence({0.80, 0.804}, 10000).converged);
  CHECK_FALSE(judge_convergence({0.80, 0.806}, 10000).converged);
  // A small validation set needs more than two examples' worth: 2/100 = 2 points.
  CHECK(judge_convergence({0.80, 0.82}, 100).converged);
  CHECK_FALSE(judge_convergence({0.80, 0.83}, 100).converged);
  CHECK(judge_convergence({0.80, 0.83}, 100).threshold == 0.02);
  // A peak before the tail counts: falling back and recovering is not "still rising".
  CHECK(judge_convergence({0.5, 0.9, 0.6, 0.7, 0.8, 0.9}, 1000).converged);
  // 2 epochs: epoch 2 against epoch 1, named as such.
  CHECK_THAT(convergence_warning(judge_convergence({0.5, 0.9}, 1000)), Catch::Matchers::Contains("the best of epoch 1 (50.00%)"));
}
