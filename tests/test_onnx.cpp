// ONNX export end to end (tools/mcdnn_export_onnx.py): every variant of a catalog holding every
// stored form (f16, int8, cb8/4/2, sparse, low-rank conv and linear, batchnorm folded after a
// conv — a low-rank one too — and standalone after a pool, a linear without bias, avgpool,
// dropout) exported in both forms, accepted by the
// ONNX checker, run in OpenCV's DNN module and compared with the numpy reader: logits within
// 1e-4 of the largest logit, every prediction equal. Needs python3-onnx and python3-opencv.
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "catalog/catalog_index.hpp"
#include "catalog/export_size.hpp"
#include "catch.hpp"
#include "compile.hpp"
#include "fixtures.hpp"

using namespace mcdnn;
using namespace mcdnn::test;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
std::string text_of(const std::string& path) {
  const auto b = read_bytes(path);
  return std::string(b.begin(), b.end());
}
}  // namespace

TEST_CASE("every stored form exports to ONNX, passes the checker and runs in OpenCV like the reader", "[onnx][python]") {
  TempDir dir;
  write_synthetic_idx(make_synthetic(200, 12, 4, 71), dir / "train");
  write_synthetic_idx(make_synthetic(60, 12, 4, 72), dir / "val");
  const std::string d = dir.path().string();
  const std::string schema =
      "format: mcdnn-schema/1\nname: forms\ninput: {channels: 1, height: 12, width: 12}\nclasses: 4\n"
      "data:\n"
      "  train: {idx: {images: " + d + "/train-images.idx, labels: " + d + "/train-labels.idx}}\n"
      "  validation: {idx: {images: " + d + "/val-images.idx, labels: " + d + "/val-labels.idx}}\n"
      "network:\n"
      "  - conv2d: {out: 8, kernel: 3, padding: 1}\n  - batchnorm\n  - relu\n  - maxpool: {kernel: 2}\n"
      "  - conv2d: {out: 8, kernel: 3}\n  - relu\n  - avgpool: {kernel: 2}\n  - batchnorm\n  - flatten\n"
      "  - linear: {out: 16, bias: false}\n  - relu\n  - dropout: {p: 0.1}\n  - linear: {out: 4}\n"
      "training: {epochs: 1, batch_size: 32, optimizer: adam, lr: 0.01, seed: 7}\n"
      "catalog:\n  finetune: {examples: 100, epochs: 1}\n  variants:\n"
      "    - quantize: {formats: [f16, int8, cb8, cb4, cb2]}\n"
      "    - svd: {layers: [conv2], ranks: [1/2], then: [{quantize: {formats: [cb4]}}]}\n"
      "    - svd: {layers: [conv1], ranks: [1/2], then: [{quantize: {formats: [f16, int8]}}]}\n"  // bn1 folds into weight_b
      "    - svd: {layers: [fc1], ranks: [1/4], then: [{quantize: {formats: [int8]}}]}\n"
      "    - prune: {layers: all, sparsity: [0.7], then: [{quantize: {formats: [int8, cb4, f16]}}]}\n";
  write_bytes(dir / "s.yaml", std::vector<uint8_t>(schema.begin(), schema.end()));
  CompileOptions opt;
  opt.schema_path = dir / "s.yaml";
  opt.out_dir = dir / "cat";
  opt.threads = 1;
  opt.measure_seconds = 0;
  std::ostringstream log, err;
  REQUIRE(compile(opt, log, err) == 0);
  const auto cat = nlohmann::json::parse(text_of(dir / "cat/catalog.json"));
  REQUIRE(cat["variants"].size() == 17);

  const std::string tool = std::string(MCDNN_PYTHON) + " " + MCDNN_SOURCE_DIR + "/tools/mcdnn_export_onnx.py ";
  const CatalogIndex index = read_catalog_index(dir / "cat");
  for (const auto& v : cat["variants"]) {
    const std::string id = v["id"];
    const ExportSizes sizes = export_sizes(load_variant(index, *index.find(id)));
    for (const char* form : {"compressed", "float"}) {
      std::string out;
      const std::string onnx = dir / (id + "-" + form + ".onnx");
      const int rc = run_command("umask 022 && " + tool + dir / "cat" + " '" + id + "' '" + onnx + "' --form " + form + " --verify " + dir /
                                     "val-images.idx " + dir / "val-labels.idx",
                                 &out);
      INFO(id << " " << form << ":\n" << out);
      CHECK(rc == 0);
      CHECK_THAT(out, Contains("is valid (opset 13") && Contains("predictions agree on 60/60"));
      // The deployable size mcdnn-catalog gives is the file's initializer payload: the file adds
      // only its graph, names and metadata (under 8 KB for this network).
      const auto file = static_cast<int64_t>(fs::file_size(onnx));
      const int64_t payload = std::string(form) == "float" ? sizes.onnx_float : sizes.onnx_compressed;
      CHECK(file >= payload);
      CHECK(file - payload < 8192);
      // An exported model gets the usual mode, not mkstemp's 0600.
      struct stat st {};
      REQUIRE(::stat(onnx.c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0644);
    }
  }
  // The compressed form keeps the stored forms as ONNX operators.
  std::string out;
  const std::string probe = std::string(MCDNN_PYTHON) + " -c \"import onnx,sys; m=onnx.load(sys.argv[1]); "
                            "print(sorted({n.op_type for n in m.graph.node})); print({p.key: p.value for p in m.metadata_props}['mcdnn.variant'])\" ";
  REQUIRE(run_command(probe + dir / "quant-int8-compressed.onnx", &out) == 0);
  CHECK_THAT(out, Contains("'DequantizeLinear'") && Contains("quant-int8"));
  // bn1 folds into conv1; bn2 follows a pool and stays a node.
  CHECK_THAT(out, Contains("'BatchNormalization'") && Contains("'AveragePool'"));
  REQUIRE(run_command(probe + dir / "quant-cb4-compressed.onnx", &out) == 0);
  CHECK_THAT(out, Contains("'Gather'") && Contains("'Cast'"));
  REQUIRE(run_command(probe + dir / "svd-fc1-k4-compressed.onnx", &out) == 0);
  CHECK_THAT(out, Contains("'Gemm'"));

  // Errors: an unknown variant (with a suggestion), a file that is not ours.
  CHECK(run_command(tool + dir / "cat" + " bsae " + dir / "x.onnx", &out) == 7);
  CHECK_THAT(out, Contains("did you mean 'base'?"));
  write_bytes(dir / "mine.onnx", {'h', 'i'});
  CHECK(run_command(tool + dir / "cat" + " base " + dir / "mine.onnx", &out) == 5);
  CHECK(read_bytes(dir / "mine.onnx") == std::vector<uint8_t>{'h', 'i'});
}
