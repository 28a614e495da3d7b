#!/usr/bin/env python3
"""Export an mcdnn catalog variant to ONNX, and check the export in a runtime nobody here wrote.

    python3 tools/mcdnn_export_onnx.py CATALOG VARIANT OUT.onnx [--form compressed|float]
                                       [--verify IMAGES [LABELS]] [--limit N] [mcdnn_run.py's input options]

The graph (opset 13; input "input", N x C x H x W float32, preprocessed as catalog.json says;
output "logits", N x classes):
  * conv2d -> Conv (group, dilations), linear -> Gemm (transB); a low-rank layer -> two nodes
    (k x k conv with `rank` filters then a 1x1 conv; two Gemms); a batchnorm that alone reads a
    conv2d/linear nothing else reads is folded into it (per output channel: the weights scaled,
    the bias shifted), elsewhere BatchNormalization; relu, relu6 -> Clip(0, 6), hardswish ->
    x * HardSigmoid(x; 1/6, 1/2), sigmoid, maxpool, avgpool (count_include_pad, as the executor),
    globalavgpool -> GlobalAveragePool, flatten, add -> Add, concat -> Concat (channels), mul ->
    Mul (a C x 1 x 1 gate broadcasts); dropout is dropped (identity at inference). A graph's
    layers read the values their `from` names.
  * --form compressed (default) keeps each weight in its stored form: int8 as int8 values ->
    DequantizeLinear with per-axis (per output channel) scales; a B-bit codebook as uint8 codes ->
    Cast -> Gather from the float32 codebook (ONNX has no 4- or 2-bit type: codes take a byte
    each); f16 as float16 -> Cast; a folded batchnorm scale then multiplies the decoded weight
    (int8: folded into the scales). Sparse (pruned) layers are stored as dense initializers with
    their zeros: ONNX has no sparse weights that runtimes execute.
  * --form float decodes every weight to float32 (the values the compressed graph computes).
  * metadata_props: the variant, its catalog accuracy, the schema, the preprocessing
    (input shape, pixel scale, mean, std), the class names, and which layers were sparse.

--verify runs the ONNX checker (with shape inference), then OpenCV's DNN module on the images
and compares its logits with this repository's numpy reader (tools/mcdnn_run.py): max |diff|
within 1e-4 of the largest |logit| and every prediction equal, else exit 1. OpenCV 4.6 cannot
import weight-side DequantizeLinear, Gather over a tensor of indices or float16 initializers, so
for the compressed form the checker first evaluates those constant weight subgraphs (the ONNX
operator definitions, written out below) and gives OpenCV the resulting float32 graph; the
float form goes to OpenCV as written, except that a Clip's constant bounds (relu6) become
attributes, the only form OpenCV 4.6 reads, and the batch dimension is fixed to the batch run
(OpenCV 4.6 cannot broadcast a squeeze-excite gate over a symbolic batch). Exit codes as tools/mcdnn_run.py (2 usage, 4 data,
5 output, 7 catalog), 1 when the check fails.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mcdnn_run as reader  # noqa: E402  (the catalog reader: checksums, inputs, the numpy reference)

np = reader.np
h5py = reader.h5py

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    sys.stderr.write("error: this python has no onnx module; use Debian's /usr/bin/python3 with python3-onnx "
                     "(tools/setup.sh installs it)\n")
    sys.exit(2)

OPSET = 13


# --- The stored form of a weight, as dense arrays (positions a sparse layer pruned hold 0) ---

def raw_weight(obj):
    """(storage, dict) for a weight tensor: values/q+scale/codes+codebook in its stored type."""
    if isinstance(obj, h5py.Dataset):
        return "f32", {"values": obj[()].astype(np.float32)}
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in obj.attrs.items()}
    shape, storage, entries = tuple(int(d) for d in a["shape"]), a["storage"], int(a["entries"])
    rows, cols = shape[0], int(np.prod(shape[1:]))
    if a["sparse"]:
        # Entry positions from the relative indices, as tools/mcdnn_run.py read_tensor().
        counts = obj["row_counts"][()].astype(np.int64)
        entry_row = np.repeat(np.arange(rows), counts)
        steps = obj["gaps"][()].astype(np.int64) + 1
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        cum = np.cumsum(steps)
        base = np.zeros(rows, np.int64)
        nz = counts > 0
        base[nz] = cum[starts[nz]] - steps[starts[nz]]
        flat = entry_row * cols + (cum - np.repeat(base, counts) - 1)
    else:
        flat = np.arange(entries)

    def dense(vals, dtype):
        out = np.zeros(rows * cols, dtype)  # fillers and pruned positions: 0 (code 0 = value 0)
        out[flat] = vals
        return out.reshape(shape)

    if storage == "f32":
        return "f32", {"values": dense(obj["values"][()], np.float32)}
    if storage == "f16":
        return "f16", {"values": dense(obj["values"][()].view(np.float16), np.float16)}
    if storage == "int8":
        return "int8", {"q": dense(obj["values"][()].astype(np.int8), np.int8), "scale": obj["scale"][()].astype(np.float32)}
    bits = int(storage[2:])
    per = 8 // bits
    codebook = obj["codebook"][()].astype(np.float32)
    if a["sparse"] and (len(codebook) == 0 or codebook[0] != 0):
        raise reader.CatalogError(f"{obj.file.filename}: {obj.name}: a sparse codebook must hold 0 as its first entry "
                                  "(pruned positions take code 0)")
    packed = obj["codes"][()]
    codes = ((packed[:, None] >> (np.arange(per, dtype=np.uint8) * bits)) & ((1 << bits) - 1)).reshape(-1)[:entries]
    return storage, {"codes": dense(codes.astype(np.uint8), np.uint8), "codebook": codebook}


def decode(storage, p):
    if storage == "f32":
        return p["values"]
    if storage == "f16":
        return p["values"].astype(np.float32)
    if storage == "int8":
        return (p["q"].astype(np.float32).reshape(len(p["scale"]), -1) * p["scale"][:, None]).reshape(p["q"].shape)
    return p["codebook"][p["codes"].astype(np.int64)]


# --- Graph building ---

class Graph:
    def __init__(self, form):
        self.form, self.nodes, self.inits, self.n = form, [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def init(self, base, array):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), n))
        return n

    def node(self, op, inputs, base, **attrs):
        out = self.name(base)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def weight(self, base, obj, fold):
        """The float32 weight tensor's name; `fold` (per output channel) or None multiplies it."""
        storage, p = raw_weight(obj)
        per_row = (lambda s, nd: s.reshape((-1,) + (1,) * (nd - 1)))
        if self.form == "float" or storage == "f32":
            w = decode(storage, p)
            if fold is not None:
                w = w * per_row(fold, w.ndim).astype(np.float32)
            return self.init(base, w.astype(np.float32))
        if storage == "int8":
            scale = p["scale"] * (fold if fold is not None else 1.0)
            q = p["q"]
            if (scale < 0).any():  # a negative batchnorm scale: its sign goes into q (|q| <= 127)
                sign = np.where(scale < 0, -1, 1).astype(np.int8).reshape((-1,) + (1,) * (q.ndim - 1))
                q, scale = (q * sign).astype(np.int8), np.abs(scale)
            return self.node("DequantizeLinear", [self.init(base + "_q", q), self.init(base + "_scale", scale.astype(np.float32)),
                                                  self.init(base + "_zero", np.zeros(len(scale), np.int8))], base, axis=0)
        if storage == "f16":
            w = self.node("Cast", [self.init(base + "_f16", p["values"])], base + "_f32", to=TensorProto.FLOAT)
            nd = p["values"].ndim
        else:
            idx = self.node("Cast", [self.init(base + "_codes", p["codes"])], base + "_index", to=TensorProto.INT32)
            w = self.node("Gather", [self.init(base + "_codebook", p["codebook"]), idx], base + "_w", axis=0)
            nd = p["codes"].ndim
        if fold is None:
            return w
        return self.node("Mul", [w, self.init(base + "_bn", per_row(fold, nd).astype(np.float32))], base)


def build(catalog, entry, layers, groups, form):
    g = Graph(form)
    n = len(layers)
    # Each layer reads the layer before it, or the layers its "from" lists (-1: the input).
    frm = [[int(k) for k in L["from"]] if "from" in L else [i - 1] for i, L in enumerate(layers)]
    readers = [sum(k == i for f in frm for k in f) for i in range(n)]
    out = [None] * n  # the ONNX value holding each layer's output
    sparse = []
    i = 0
    while i < n:
        L = layers[i]
        t, kind, nm = L["tensors"], L["kind"], L["name"]
        ins = ["input" if k < 0 else out[k] for k in frm[i]]
        x = ins[0]
        group = groups[i]
        folded = False
        if kind in ("conv2d", "linear"):
            if int(L.get("sparse", 0)):
                sparse.append(nm)
            out_ch = int(L["out"])
            bias = t.get("bias", np.zeros(out_ch, np.float32)).astype(np.float64)
            fold = None
            # A batchnorm that alone reads this layer, which nothing else reads, is folded in.
            if i + 1 < n and layers[i + 1]["kind"] == "batchnorm" and frm[i + 1] == [i] and readers[i] == 1:
                bn = layers[i + 1]["tensors"]
                s = bn["weight"].astype(np.float64) / np.sqrt(bn["running_var"].astype(np.float64) + float(layers[i + 1]["eps"]))
                bias = (bias - bn["running_mean"]) * s + bn["bias"]
                fold = s
                folded = True
            b = g.init(nm + "_bias", bias.astype(np.float32))
            lowrank = L.get("repr") == "lowrank"
            if kind == "conv2d":
                k, st, pd = [int(v) for v in L["kernel"]], [int(v) for v in L["stride"]], [int(v) for v in L["padding"]]
                dil, grp = [int(v) for v in L.get("dilation", [1, 1])], int(L.get("groups", 1))
                if lowrank:
                    wa = g.weight(nm + "_a", group["weight_a"], None)
                    x = g.node("Conv", [x, wa], nm + "_a_out", kernel_shape=k, strides=st, pads=pd + pd, dilations=dil)
                    wb = g.weight(nm + "_b", group["weight_b"], fold)
                    x = g.node("Conv", [x, wb, b], nm, kernel_shape=[1, 1])
                else:
                    w = g.weight(nm + "_w", group["weight"], fold)
                    x = g.node("Conv", [x, w, b], nm, kernel_shape=k, strides=st, pads=pd + pd, dilations=dil, group=grp)
            else:
                if lowrank:
                    wa = g.weight(nm + "_a", group["weight_a"], None)
                    x = g.node("Gemm", [x, wa], nm + "_a_out", transB=1)
                    wb = g.weight(nm + "_b", group["weight_b"], fold)
                    x = g.node("Gemm", [x, wb, b], nm, transB=1)
                else:
                    w = g.weight(nm + "_w", group["weight"], fold)
                    x = g.node("Gemm", [x, w, b], nm, transB=1)
        elif kind == "batchnorm":
            x = g.node("BatchNormalization", [x] + [g.init(nm + "_" + k, t[k].astype(np.float32))
                                                    for k in ("weight", "bias", "running_mean", "running_var")],
                       nm, epsilon=float(L["eps"]))
        elif kind == "relu":
            x = g.node("Relu", [x], nm)
        elif kind == "relu6":
            x = g.node("Clip", [x, g.init(nm + "_min", np.array(0, np.float32)), g.init(nm + "_max", np.array(6, np.float32))], nm)
        elif kind == "hardswish":  # x * hardsigmoid(x) with alpha 1/6, beta 1/2 (HardSwish is opset 14)
            x = g.node("Mul", [x, g.node("HardSigmoid", [x], nm + "_gate", alpha=1.0 / 6, beta=0.5)], nm)
        elif kind == "sigmoid":
            x = g.node("Sigmoid", [x], nm)
        elif kind in ("maxpool", "avgpool"):
            k, st, pd = [int(v) for v in L["kernel"]], [int(v) for v in L["stride"]], [int(v) for v in L["padding"]]
            extra = {} if kind == "maxpool" else {"count_include_pad": 1}
            x = g.node("MaxPool" if kind == "maxpool" else "AveragePool", [x], nm, kernel_shape=k, strides=st, pads=pd + pd, **extra)
        elif kind == "globalavgpool":
            x = g.node("GlobalAveragePool", [x], nm)
        elif kind == "flatten":
            x = g.node("Flatten", [x], nm, axis=1)
        elif kind == "dropout":
            pass
        elif kind == "add":
            for j, y in enumerate(ins[1:]):
                x = g.node("Add", [x, y], nm if j == len(ins) - 2 else f"{nm}_{j}")
        elif kind == "concat":
            x = g.node("Concat", ins, nm, axis=1)
        elif kind == "mul":  # a C x 1 x 1 gate broadcasts
            x = g.node("Mul", ins, nm)
        else:
            raise reader.CatalogError(f"layer {nm}: kind {kind} has no ONNX export")
        out[i] = x
        if folded:
            out[i + 1] = x
            i += 1
        i += 1
    x = out[n - 1]
    g.nodes.append(helper.make_node("Identity", [x], ["logits"], name="logits"))
    shape, count = catalog["input"]["shape"], catalog["classes"]["count"]
    names = catalog["classes"]["names"] or list(range(count))
    sp = entry.get("specialized")
    if isinstance(sp, dict) and isinstance(sp.get("classes"), list):  # the kept classes, then "other"
        count = len(sp["classes"]) + 1
        names = [names[c] if isinstance(c, int) and 0 <= c < len(names) else c for c in sp["classes"]] + ["other"]
    graph = helper.make_graph(g.nodes, f"{catalog.get('schema', 'mcdnn')}:{entry['id']}",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N"] + list(shape))],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", count])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mcdnn",
                              producer_version=str(catalog.get("compiler", "")),
                              doc_string=f"mcdnn variant {entry['id']} of {catalog.get('schema')}")
    meta = {
        "mcdnn.variant": entry["id"],
        "mcdnn.schema": str(catalog.get("schema")),
        "mcdnn.accuracy": json.dumps(entry.get("accuracy")),
        "mcdnn.form": form,
        "mcdnn.preprocess": json.dumps({"input_shape": shape, "pixel_scale": "1/255 for uint8 pixels",
                                        "mean": catalog["input"]["mean"], "std": catalog["input"]["std"],
                                        "rule": catalog["input"].get("preprocess", "")}),
        "mcdnn.classes": json.dumps(names),
        "mcdnn.sparse_layers": json.dumps({"layers": sparse, "note": "pruned layers are stored as dense initializers "
                                                                      "with their zeros"}),
    }
    helper.set_model_props(model, meta)
    return model


def load(catalog_dir, variant):
    """The reader's verified load, plus the HDF5 groups of each layer's tensors (stored forms)."""
    catalog, entry, layers = reader.load_variant(catalog_dir, variant)
    path = os.path.join(catalog_dir, entry["file"])
    f = h5py.File(path, "r")  # checksum already verified by load_variant
    return catalog, entry, layers, f, [f["layers"][k] for k in sorted(f["layers"])]


# --- Constant folding of the weight subgraphs, from the ONNX operator definitions ---

def fold_weights(model):
    """A copy of `model` whose Cast/DequantizeLinear/Gather/Mul nodes on constants are evaluated."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    const = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    keep = []
    onnx_to_np = {TensorProto.FLOAT: np.float32, TensorProto.INT32: np.int32}
    for n in m.graph.node:
        if not all(i in const for i in n.input) or n.op_type not in ("Cast", "DequantizeLinear", "Gather", "Mul"):
            keep.append(n)
            continue
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        v = [const[i] for i in n.input]
        if n.op_type == "Cast":
            out = v[0].astype(onnx_to_np[a["to"]])
        elif n.op_type == "DequantizeLinear":  # y = (x - zero_point) * scale, per axis
            axis = a.get("axis", 1)
            shape = [1] * v[0].ndim
            shape[axis] = -1
            out = ((v[0].astype(np.int32) - v[2].astype(np.int32).reshape(shape)) * v[1].reshape(shape)).astype(np.float32)
        elif n.op_type == "Gather":
            out = np.take(v[0], v[1].astype(np.int64), axis=a.get("axis", 0))
        else:
            out = (v[0] * v[1]).astype(np.float32)
        const[n.output[0]] = out
    used = {i for n in keep for i in n.input}
    del m.graph.node[:]
    m.graph.node.extend(keep)
    del m.graph.initializer[:]
    m.graph.initializer.extend(numpy_helper.from_array(np.ascontiguousarray(const[k]), k) for k in sorted(used) if k in const)
    return m


def clip_bounds_as_attributes(model):
    """A copy of `model` whose Clip nodes take constant bounds as attributes (the opset-6 form,
    the only one OpenCV 4.6 imports); the same function, for OpenCV's reader only."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    const = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Clip" and len(n.input) == 3 and n.input[1] in const and n.input[2] in const:
            lo, hi = float(const[n.input[1]]), float(const[n.input[2]])
            del n.input[1:]
            n.attribute.extend([helper.make_attribute("min", lo), helper.make_attribute("max", hi)])
    used = {i for n in m.graph.node for i in n.input}
    keep = [t for t in m.graph.initializer if t.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m


def verify(model_path, model, layers, x, y, entry, form):
    import cv2  # python3-opencv
    onnx.checker.check_model(model, full_check=True)
    print(f"onnx checker: {model_path} is valid (opset {OPSET}, shape inference included)")
    ref = reader.forward(layers, x)
    cv_model = clip_bounds_as_attributes(model if form == "float" else fold_weights(model))
    nets = {}
    with tempfile.TemporaryDirectory() as d:
        outs = []
        for s in range(0, len(x), 256):
            batch = x[s:s + 256]
            if len(batch) not in nets:  # the batch fixed: OpenCV 4.6 broadcasts a gate only then
                m = onnx.ModelProto()
                m.CopyFrom(cv_model)
                for v in (m.graph.input[0], m.graph.output[0]):
                    v.type.tensor_type.shape.dim[0].dim_value = len(batch)
                p = os.path.join(d, f"for-opencv-{len(batch)}.onnx")
                onnx.save(m, p)
                nets[len(batch)] = cv2.dnn.readNetFromONNX(p)
            net = nets[len(batch)]
            net.setInput(np.ascontiguousarray(batch))
            outs.append(net.forward().reshape(len(batch), -1))
    got = np.concatenate(outs)
    diff = float(np.abs(got - ref).max())
    scale = float(np.abs(ref).max())
    agree = int((got.argmax(1) == ref.argmax(1)).sum())
    how = "as exported" if form == "float" else "weight subgraphs evaluated first (OpenCV 4.6 cannot import them)"
    print(f"OpenCV {cv2.__version__} DNN ({how}): {len(x)} images, max |logit diff| {diff:.3g} "
          f"({diff / max(scale, 1e-30):.2g} of max |logit| {scale:.3g}), predictions agree on {agree}/{len(x)}")
    stats = {"relative_diff": diff / max(scale, 1e-30), "agree": agree, "n": len(x), "accuracy": None}
    if y is not None:
        stats["accuracy"] = acc = float((got.argmax(1) == y).mean())
        print(f"accuracy in OpenCV {100 * acc:.2f}% on {len(x)} images (catalog.json: {100 * entry['accuracy']:.2f}% "
              "on its validation set)")
    return diff <= 1e-4 * max(scale, 1e-30) and agree == len(x), stats


def main(argv):
    p = reader.Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("catalog")
    p.add_argument("variant")
    p.add_argument("out", help="the .onnx file to write (a new file or one this tool wrote)")
    p.add_argument("--form", choices=("compressed", "float"), default="compressed")
    p.add_argument("--verify", nargs="+", metavar="IMAGES [LABELS]", help="check the export in OpenCV on these images")
    p.add_argument("--images-dataset")
    p.add_argument("--labels-dataset")
    p.add_argument("--layout", choices=("NCHW", "NHWC"), default="NCHW")
    p.add_argument("--limit", type=reader.positive, default=0)
    a = p.parse_args(argv)
    catalog, entry, layers, f, groups = load(a.catalog, a.variant)
    model = build(catalog, entry, layers, groups, a.form)
    if os.path.exists(a.out):
        try:
            prior = onnx.load(a.out)
            ours = prior.producer_name == "mcdnn"
        except Exception:
            ours = False
        if not ours:
            raise reader.OutputError(f"{a.out}: exists and is not an ONNX file this tool wrote; choose a new name")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(a.out) + ".", suffix=".tmp", dir=os.path.dirname(a.out) or ".")
        os.close(fd)
        # mkstemp makes the file 0600; an exported model is for deploying: the usual mode (0644
        # under the common umask 022), as open() would give a new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        onnx.save(model, tmp)
        os.replace(tmp, a.out)
        tmp = None
    except OSError as e:
        raise reader.OutputError(f"{a.out}: cannot write ({e.strerror})")
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    size = os.path.getsize(a.out)
    print(f"{a.out}: variant {entry['id']} ({a.form}), {len(model.graph.node)} nodes, {size} bytes "
          f"(catalog: {entry['bytes']} bytes stored; mcdnn-catalog show CATALOG --sizes compares every variant)")
    ok = True
    if a.verify:
        if len(a.verify) > 2:
            raise reader.UsageError("--verify takes IMAGES and optionally LABELS")
        shape = catalog["input"]["shape"]
        if a.images_dataset is None:
            x, total = reader.read_idx_images(a.verify[0], shape, a.limit)
            y = None if len(a.verify) < 2 else reader.read_idx_labels(a.verify[1], a.verify[0], total, len(x))
        else:
            x, y = reader.read_hdf5(a.verify[0], a.images_dataset, a.labels_dataset, a.layout, shape, a.limit, False)
        reader.preprocess(x, catalog["input"]["mean"], catalog["input"]["std"])
        ok, _ = verify(a.out, model, layers, x, y, entry, a.form)
    f.close()
    if not ok:
        print("FAILED: OpenCV's logits differ from the reference beyond 1e-4 of the largest logit, or a prediction differs")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except reader.Failure as e:
        sys.stderr.write(f"error: {' '.join(str(e).splitlines())}\n")
        sys.exit(e.status)
    except onnx.checker.ValidationError as e:
        sys.stderr.write(f"error: the ONNX checker rejects the export: {' '.join(str(e).splitlines())[:500]}\n")
        sys.exit(1)
