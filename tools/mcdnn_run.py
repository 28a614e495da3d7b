#!/usr/bin/env python3
"""Rebuild and run an mcdnn catalog variant with only json, h5py and numpy.

    python3 tools/mcdnn_run.py CATALOG_DIR VARIANT_ID INPUT.h5

INPUT.h5 holds a float32 dataset "x" of preprocessed inputs, shape (N, C, H, W) (see
catalog.json "input.preprocess"); the logits are written back to it as dataset "logits" (N, classes)
and the predicted classes are printed. docs/catalog-format.md documents the layout this reads.
Errors (a damaged catalog, an unknown variant) are one line on stderr, exit status 7.
"""
import hashlib
import json
import sys

import h5py
import numpy as np


class CatalogError(Exception):
    pass


def load_variant(catalog_dir, variant_id):
    with open(f"{catalog_dir}/catalog.json") as f:
        catalog = json.load(f)
    if catalog.get("format") != "mcdnn-catalog" or catalog.get("format_version") not in (2, 3):
        raise CatalogError(f"{catalog_dir}/catalog.json: not an mcdnn catalog of format version 2 or 3")
    entry = next((v for v in catalog["variants"] if v["id"] == variant_id), None)
    if entry is None:
        raise CatalogError(f"{catalog_dir}: no variant '{variant_id}' (catalog.json lists "
                           f"{len(catalog['variants'])}: {', '.join(v['id'] for v in catalog['variants'][:5])}, ...)")
    path = f"{catalog_dir}/{entry['file']}"
    if "/" in entry["file"] or not entry["file"].endswith(".h5"):
        raise CatalogError(f"{catalog_dir}/catalog.json: variant {variant_id}: file '{entry['file']}' is not a plain name")
    # The checksum first: libhdf5 itself may crash on a damaged file.
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != entry["sha256"]:
        raise CatalogError(f"{path}: SHA-256 {digest} differs from catalog.json's {entry['sha256']}: "
                           "the file was damaged or changed after the catalog was written")
    layers = []
    with h5py.File(path, "r") as h5:
        for key in sorted(h5["layers"]):  # "000", "001", ...: the layer order
            g = h5["layers"][key]
            layer = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
            layer["tensors"] = {name: read_tensor(g[name]) for name in g}  # float32, PyTorch layout
            layers.append(layer)
    return catalog, entry, layers


def read_tensor(obj):
    """A weight tensor: a float32 dataset, or a group holding a compressed form."""
    if isinstance(obj, h5py.Dataset):
        return obj[()]
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in obj.attrs.items()}
    shape, storage, entries = tuple(int(d) for d in a["shape"]), a["storage"], int(a["entries"])
    rows = shape[0]
    if storage == "f32":
        vals = obj["values"][()]
    elif storage == "f16":
        vals = obj["values"][()].view(np.float16).astype(np.float32)
    elif storage == "int8":
        vals = None  # needs each entry's row, below
    else:  # cbB: B-bit codes packed LSB-first into a codebook
        bits = int(storage[2:])
        packed = obj["codes"][()]
        per = 8 // bits
        codes = ((packed[:, None] >> (np.arange(per, dtype=np.uint8) * bits)) & ((1 << bits) - 1)).reshape(-1)[:entries]
        vals = obj["codebook"][()][codes]
    if not a["sparse"]:
        if vals is None:
            vals = (obj["values"][()].astype(np.float32).reshape(rows, -1) * obj["scale"][()][:, None]).reshape(-1)
        return vals.astype(np.float32).reshape(shape)
    counts = obj["row_counts"][()].astype(np.int64)
    entry_row = np.repeat(np.arange(rows), counts)
    if vals is None:
        vals = obj["values"][()].astype(np.float32) * obj["scale"][()][entry_row]
    # Relative indices: column = previous column + 1 + gap, restarting at -1 on every row.
    steps = obj["gaps"][()].astype(np.int64) + 1
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    cum = np.cumsum(steps)
    base = np.zeros(rows, np.int64)
    nz = counts > 0  # rows without entries own no index into cum
    base[nz] = cum[starts[nz]] - steps[starts[nz]]
    cols = cum - np.repeat(base, counts) - 1
    w = np.zeros((rows, int(np.prod(shape[1:]))), np.float32)
    w[entry_row, cols] += vals.astype(np.float32)  # fillers carry 0
    return w.reshape(shape)


def conv2d(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - kh) // stride[0] + 1
    ow = (wd + 2 * pad[1] - kw) // stride[1] + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)  # im2col
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + stride[0] * oh:stride[0], j:j + stride[1] * ow:stride[1]]
    y = np.einsum("ockl,nckluv->nouv", w, cols, optimize=True)
    return y if b is None else y + b[None, :, None, None]


def pool2d(x, kernel, stride, pad, op):
    n, c, h, w = x.shape
    fill = -np.inf if op == "max" else 0.0
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])), constant_values=fill)
    oh = (h + 2 * pad[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * pad[1] - kernel[1]) // stride[1] + 1
    win = np.stack([x[:, :, i:i + stride[0] * oh:stride[0], j:j + stride[1] * ow:stride[1]]
                    for i in range(kernel[0]) for j in range(kernel[1])])
    return win.max(0) if op == "max" else win.mean(0)


def forward(layers, x):
    for L in layers:
        t, kind = L["tensors"], L["kind"]
        lowrank = L.get("repr") == "lowrank"
        if L.get("repr", "dense") not in ("dense", "lowrank"):
            raise SystemExit(f"layer {L['name']}: representation {L['repr']} not supported by this reader")
        if kind == "conv2d" and lowrank:  # kxk conv with `rank` filters, then 1x1 conv
            x = conv2d(x, t["weight_a"], None, L["stride"], L["padding"])
            x = conv2d(x, t["weight_b"], t.get("bias"), [1, 1], [0, 0])
        elif kind == "conv2d":
            x = conv2d(x, t["weight"], t.get("bias"), L["stride"], L["padding"])
        elif kind == "linear" and lowrank:
            x = (x @ t["weight_a"].T) @ t["weight_b"].T + (t["bias"] if "bias" in t else 0)
        elif kind == "linear":
            x = x @ t["weight"].T + (t["bias"] if "bias" in t else 0)
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind in ("maxpool", "avgpool"):
            x = pool2d(x, L["kernel"], L["stride"], L["padding"], kind[:3])
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif kind == "dropout":
            pass  # identity at inference
        elif kind == "batchnorm":
            shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
            scale = t["weight"] / np.sqrt(t["running_var"] + L["eps"])
            x = (x - t["running_mean"].reshape(shape)) * scale.reshape(shape) + t["bias"].reshape(shape)
        else:
            raise SystemExit(f"unknown layer kind {kind}")
        x = x.astype(np.float32)
    return x


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    try:
        run()
    except Exception as e:  # one line, never a traceback: the catalog is input
        sys.stderr.write(f"error: {e if isinstance(e, CatalogError) else f'{type(e).__name__}: {e}'}\n")
        sys.exit(7)


def run():
    catalog_dir, variant_id, io_path = sys.argv[1:]
    catalog, entry, layers = load_variant(catalog_dir, variant_id)
    with h5py.File(io_path, "r+") as io:
        logits = forward(layers, io["x"][()].astype(np.float32))
        if "logits" in io:
            del io["logits"]
        io["logits"] = logits
    names = catalog["classes"]["names"] or [str(i) for i in range(catalog["classes"]["count"])]
    print(" ".join(names[i] for i in logits.argmax(1)))


if __name__ == "__main__":
    main()
