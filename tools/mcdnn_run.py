#!/usr/bin/env python3
"""Rebuild and run an mcdnn catalog variant with only json, h5py and numpy.

    python3 tools/mcdnn_run.py CATALOG VARIANT IMAGES [LABELS] [options]

The inputs are mcdnn-infer's: IMAGES is an IDX file (raw or .gz) and LABELS an optional IDX
labels file, or, with --images-dataset and --labels-dataset, IMAGES is an HDF5 file. They are
preprocessed as catalog.json "input" says (a fragment catalog's: "trunk.input", and the trunk's
layers run first), in float32 exactly as mcdnn-infer does (uint8: / 255;
then (x - mean[c]) * (1 / std[c])). Prints the first --predictions predictions (index, class,
name), the number of images and, with labels, the accuracy. --logits OUT.npy or OUT.h5 (dataset
"logits") writes the logits (N x classes) to a new file; inputs are never opened for writing.
--preprocessed: IMAGES is an HDF5 file whose float32 dataset --images-dataset (default "x",
N x C x H x W) is already preprocessed; --labels-dataset is then optional.
docs/catalog-format.md documents the layout this reads.
Errors are one line on stderr. Exit status: 2 bad flags, 4 unreadable or mismatched images or
labels, 5 the --logits file cannot be written, 7 a damaged catalog or an unknown variant.
"""
import argparse
import difflib
import gzip
import hashlib
import json
import math
import os
import re
import sys
import time
import zlib

try:
    import h5py
    import numpy as np
except ImportError as e:  # e.g. a pyenv python3 beside Debian's
    sys.exit(f"error: {sys.executable} lacks {e.name}: install python3-h5py and python3-numpy (Debian) "
             "and run /usr/bin/python3, or pip install h5py numpy")


class Failure(Exception):
    status = 1


class UsageError(Failure):
    status = 2


class DataError(Failure):
    status = 4


class OutputError(Failure):
    status = 5


class CatalogError(Failure):
    status = 7


def load_catalog(catalog_dir):
    """catalog.json, checked for what this reader uses."""
    path = os.path.join(catalog_dir, "catalog.json")
    try:
        with open(path, "rb") as f:
            catalog = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise CatalogError(f"{path}: cannot open ({e.strerror}); expected a catalog directory written by mcdnn-compile")
    except ValueError as e:  # not UTF-8, not JSON
        raise CatalogError(f"{path}: not valid JSON ({e}); the file is damaged, copy or build the catalog again")

    def need(ok, what):
        if not ok:
            raise CatalogError(f"{path}: {what}")

    need(isinstance(catalog, dict) and catalog.get("format") == "mcdnn-catalog" and
         catalog.get("format_version") in (2, 3, 4, 5, 6), "not an mcdnn catalog of format version 2 to 6")
    inp, classes, variants = catalog.get("input"), catalog.get("classes"), catalog.get("variants")
    need(isinstance(inp, dict) and isinstance(inp.get("shape"), list) and len(inp["shape"]) == 3 and
         all(type(d) is int and d > 0 for d in inp["shape"]), "input.shape: expected [C, H, W], positive integers")
    for key in ("mean", "std"):
        v = inp.get(key)
        need(isinstance(v, list) and len(v) in (0, inp["shape"][0]) and len(v) == len(inp.get("mean") or []) and
             all(type(a) in (int, float) and math.isfinite(a) and (key == "mean" or a > 0) for a in v),
             f"input.{key}: expected {inp['shape'][0]} finite numbers (std > 0) or none, as many as input.mean")
    need(isinstance(classes, dict) and type(classes.get("count")) is int and classes["count"] > 0 and
         isinstance(classes.get("names"), list) and len(classes["names"]) in (0, classes["count"]) and
         all(isinstance(n, str) for n in classes["names"]), "classes: expected a positive count and 0 or count names")
    need(isinstance(variants, list) and all(isinstance(v, dict) and all(isinstance(v.get(k), str) for k in
                                                                         ("id", "file", "sha256")) for v in variants),
         "variants: expected a list of objects with string id, file and sha256")
    return catalog


def load_variant(catalog_dir, variant_id):
    catalog = load_catalog(catalog_dir)
    ids = [v["id"] for v in catalog["variants"]]
    if variant_id not in ids:
        close = difflib.get_close_matches(variant_id, ids, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise CatalogError(f"{catalog_dir}: no variant '{variant_id}' in catalog.json ({hint}{len(ids)} variants, "
                           f"e.g. {', '.join(ids[:5])})")
    entry = catalog["variants"][ids.index(variant_id)]
    if not re.fullmatch(r"[A-Za-z0-9_+-][A-Za-z0-9._+-]*\.h5", entry["file"]):
        raise CatalogError(f"{catalog_dir}/catalog.json: variant {variant_id}: file '{entry['file']}' is not a plain name")
    path = os.path.join(catalog_dir, entry["file"])
    # The checksum first: libhdf5 itself may crash on a damaged file.
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        raise CatalogError(f"{path}: cannot open ({e.strerror}); catalog.json lists it as variant '{variant_id}'")
    if digest != entry["sha256"]:
        raise CatalogError(f"{path}: SHA-256 {digest} differs from catalog.json's {entry['sha256']}: "
                           "the file was damaged or changed after the catalog was written")
    layers = []
    try:
        with h5py.File(path, "r") as h5:
            version = h5.attrs.get("format_version")
            if version not in (1, 2):  # 2: graphs ("from", groups, dilation, the graph kinds)
                raise CatalogError(f"{path}: variant format version {version}, this reader reads 1 and 2; use a newer "
                                   "tools/mcdnn_run.py")
            for key in sorted(h5["layers"]):  # "000", "001", ...: the layer order
                g = h5["layers"][key]
                layer = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
                layer["tensors"] = {name: read_tensor(g[name]) for name in g}  # float32, PyTorch layout
                layers.append(layer)
    except CatalogError:
        raise
    except Exception as e:  # a file with the right checksum but not the layout below
        raise CatalogError(f"{path}: not a readable mcdnn variant file ({type(e).__name__}: {e})")
    return catalog, entry, layers


def load_trunk(catalog_dir, catalog):
    """A fragment catalog's trunk: the layers its variants' input comes from (format 5), or None."""
    t = catalog.get("trunk")
    if t is None:
        return None
    where = f"{catalog_dir}/catalog.json: trunk"
    if not (isinstance(t, dict) and all(isinstance(t.get(k), str) for k in ("catalog", "variant", "layer", "sha256")) and
            type(t.get("layers")) is int and t["layers"] > 0 and isinstance(t.get("input"), dict) and
            isinstance(t["input"].get("shape"), list) and len(t["input"]["shape"]) == 3):
        raise CatalogError(f"{where}: expected catalog, variant, layer, layers, sha256 and input.shape")
    trunk_dir = os.path.normpath(os.path.join(catalog_dir, t["catalog"]))
    fix = f"; rebuild this fragment catalog on its schema (its trunk is {trunk_dir}, variant {t['variant']})"
    if not os.path.isfile(os.path.join(trunk_dir, "catalog.json")):
        raise CatalogError(f"{where}: the trunk catalog {trunk_dir} cannot be read; a fragment catalog needs its trunk "
                           "catalog where it was when built")
    _, entry, layers = load_variant(trunk_dir, t["variant"])
    if entry["sha256"] != t["sha256"]:
        raise CatalogError(f"{where}: variant '{t['variant']}' of {trunk_dir} has changed since this catalog was built{fix}")
    if len(layers) <= t["layers"] or layers[t["layers"] - 1].get("name") != t["layer"]:
        raise CatalogError(f"{where}: layer {t['layers']} of variant '{t['variant']}' is not '{t['layer']}'{fix}")
    ti = t["input"]
    for key in ("mean", "std"):
        v = ti.get(key)
        if not (isinstance(v, list) and len(v) in (0, ti["shape"][0]) and len(v) == len(ti.get("mean") or []) and
                all(type(a) in (int, float) and math.isfinite(a) and (key == "mean" or a > 0) for a in v)):
            raise CatalogError(f"{where}.input.{key}: expected {ti['shape'][0]} finite numbers (std > 0) or none")
    if t.get("output_shape") != catalog["input"]["shape"]:
        raise CatalogError(f"{where}: output_shape {t.get('output_shape')} is not input.shape {catalog['input']['shape']}")
    return layers[:t["layers"]]


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


def conv2d(x, w, b, stride, pad, dilation=(1, 1), groups=1):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=x.dtype)  # im2col
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dilation[0], j * dilation[1]
            cols[:, :, i, j] = x[:, :, y0:y0 + stride[0] * oh:stride[0], x0:x0 + stride[1] * ow:stride[1]]
    if groups == 1:
        y = np.einsum("ockl,nckluv->nouv", w, cols, optimize=True)
    else:  # input channels and filters split into `groups` independent convolutions
        y = np.einsum("gockl,ngckluv->ngouv", w.reshape(groups, o // groups, cg, kh, kw),
                      cols.reshape(n, groups, cg, kh, kw, oh, ow), optimize=True).reshape(n, o, oh, ow)
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
    """The layers in order; each reads the layer before it, or the layers its "from" lists (-1: x)."""
    outs = []
    for i, L in enumerate(layers):
        ins = [x if k < 0 else outs[k] for k in ([int(k) for k in L["from"]] if "from" in L else [i - 1])]
        outs.append(apply(L, ins).astype(np.float32))
    return outs[-1] if outs else x


def apply(L, ins):
    t, kind, x = L["tensors"], L["kind"], ins[0]
    lowrank = L.get("repr") == "lowrank"
    if L.get("repr", "dense") not in ("dense", "lowrank"):
        raise CatalogError(f"layer {L['name']}: representation {L['repr']} not supported by this reader")
    dil, groups = L.get("dilation", [1, 1]), int(L.get("groups", 1))
    if kind == "conv2d" and lowrank:  # kxk conv with `rank` filters, then 1x1 conv
        x = conv2d(x, t["weight_a"], None, L["stride"], L["padding"], dil)
        return conv2d(x, t["weight_b"], t.get("bias"), [1, 1], [0, 0])
    if kind == "conv2d":
        return conv2d(x, t["weight"], t.get("bias"), L["stride"], L["padding"], dil, groups)
    if kind == "linear" and lowrank:
        return (x @ t["weight_a"].T) @ t["weight_b"].T + (t["bias"] if "bias" in t else 0)
    if kind == "linear":
        return x @ t["weight"].T + (t["bias"] if "bias" in t else 0)
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "relu6":
        return np.clip(x, 0, 6)
    if kind == "hardswish":
        return x * np.clip(x + 3, 0, 6) / 6
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if kind in ("maxpool", "avgpool"):
        return pool2d(x, L["kernel"], L["stride"], L["padding"], kind[:3])
    if kind == "globalavgpool":
        return x.mean(axis=(2, 3), keepdims=True)
    if kind == "flatten":
        return x.reshape(x.shape[0], -1)
    if kind == "dropout":
        return x  # identity at inference
    if kind == "batchnorm":
        shape = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
        scale = t["weight"] / np.sqrt(t["running_var"] + L["eps"])
        return (x - t["running_mean"].reshape(shape)) * scale.reshape(shape) + t["bias"].reshape(shape)
    if kind == "add":
        return sum(ins[1:], ins[0])
    if kind == "concat":
        return np.concatenate(ins, axis=1)
    if kind == "mul":
        return ins[0] * ins[1]  # a C x 1 x 1 gate broadcasts over H x W
    raise CatalogError(f"layer {L.get('name')}: unknown layer kind {kind}")


# --- Inputs, read and checked as mcdnn-infer reads them (core/data/idx.cpp, hdf5_source.cpp) ---

def dims_str(dims):
    return "x".join(str(d) for d in dims)


def read_exact(f, path, n, offset, what):
    try:
        data = f.read(n)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: read error after byte offset {offset}: {e} (is the .gz file corrupt?)")
    if len(data) < n:
        raise DataError(f"{path}: truncated: expected {n} bytes of {what} at byte offset {offset}, found only "
                        f"{len(data)}; the file is incomplete, download or convert it again")
    return data


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def hdf5_datasets(path, limit=12):
    """An HDF5 file's datasets as '/train/images (60000x28x28 uint8), ...' (as mcdnn-infer lists them)."""
    found = []
    try:
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    if len(found) == limit:
                        found.append("...")
                        return True  # stop
                    shape = dims_str(obj.shape) if obj.shape else "scalar"
                    found.append(f"/{name} ({shape} {obj.dtype})")
                return None
            f.visititems(visit)
    except Exception:
        return ""
    return ", ".join(found)


def read_idx(path, kind, n_max, what, check_dims):
    """The first n_max (or all) rows of an IDX file, raw or gzip: (array, rows in the file)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            gz = head[:2] == b"\x1f\x8b"
        if head == HDF5_SIGNATURE:
            listing = hdf5_datasets(path)
            raise DataError(f"{path}: is an HDF5 file, not IDX ({'its datasets: ' + listing if listing else 'it has no datasets'}); "
                            "name its images and labels with --images-dataset D --labels-dataset D")
        size = os.path.getsize(path)
        f = gzip.open(path, "rb") if gz else open(path, "rb")
    except OSError as e:
        raise DataError(f"{path}: cannot open ({e.strerror}); expected an IDX {kind} file (raw or .gz)")
    with f:
        magic = read_exact(f, path, 4, 0, "IDX magic number")
        if magic[:2] != b"\0\0" or magic[2] not in (0x08, 0x0D) or not 1 <= magic[3] <= 4:
            raise DataError(f"{path}: bad IDX magic number at byte offset 0: expected 00 00 08|0d <rank 1-4>, found "
                            f"{' '.join(f'{b:02x}' for b in magic)}; is this an IDX file (MNIST format)?")
        dims = [int(d) for d in np.frombuffer(read_exact(f, path, 4 * magic[3], 4, "IDX dimensions"), ">u4")]
        check_dims(magic[2], dims)
        n = min(dims[0], n_max) if n_max else dims[0]
        dtype = np.dtype(np.uint8 if magic[2] == 0x08 else ">f4")
        count = n * int(np.prod(dims[1:], dtype=np.int64))
        header, nbytes = 4 + 4 * magic[3], count * dtype.itemsize
        if not gz and header + nbytes > size:  # refused before anything is allocated
            raise DataError(f"{path}: truncated: expected {nbytes} bytes of {what} at byte offset {header}, found only "
                            f"{size - header}; the file is incomplete, download or convert it again")
        if gz and nbytes > 1032 * size + 4096:
            raise DataError(f"{path}: the header claims {nbytes} bytes of {what}, more than a {size}-byte gzip file "
                            "can hold; the file is damaged, download or convert it again")
        return np.frombuffer(read_exact(f, path, nbytes, header, what), dtype), dims[0]


def read_idx_images(path, shape, limit):
    c, h, w = shape

    def check(code, dims):
        if not ((len(dims) == 3 and c == 1 and dims[1:] == [h, w]) or (len(dims) == 4 and dims[1:] == [c, h, w])):
            raise DataError(f"{path}: images have dimensions {dims_str(dims)} but the variant takes {dims_str(shape)} "
                            f"images (expected N x {'' if c == 1 else f'{c} x '}{h} x {w})")

    x, total = read_idx(path, "images", limit, "image data", check)
    x = x.reshape(-1, c, h, w)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255), total  # float32 division, as mcdnn-infer
    x = x.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(1))
    if len(bad):
        raise DataError(f"{path}: non-finite value in image {bad[0]}; expected finite float32 pixels")
    return x, total


def read_idx_labels(path, images_path, images_total, n):
    def check(code, dims):
        if len(dims) != 1 or code != 0x08:
            raise DataError(f"{path}: expected a 1-D uint8 label file (magic 00 00 08 01), found rank {len(dims)} "
                            f"type 0x{code:02x}")
        if dims[0] != images_total:
            raise DataError(f"{path}: has {dims[0]} labels but {images_path} has {images_total} images; they must be "
                            "the same set")

    return read_idx(path, "labels", n, "labels", check)[0].astype(np.int64)


def read_hdf5(path, images_name, labels_name, layout, shape, limit, preprocessed):
    expected = f"an HDF5 file with {'a dataset ' + repr(images_name) if preprocessed else 'images and labels datasets'}"
    try:
        open(path, "rb").close()
    except OSError as e:
        raise DataError(f"{path}: cannot open ({e.strerror}); expected {expected}")
    try:
        f = h5py.File(path, "r")  # read only, always
    except OSError:
        with open(path, "rb") as g:
            head = g.read(4)
        is_idx = head[:2] == b"\0\0" and len(head) == 4 and head[2] in (0x08, 0x0D)
        if is_idx or head[:2] == b"\x1f\x8b":
            kind = "an IDX file" if is_idx else "gzip-compressed (an IDX .gz file?)"
            raise DataError(f"{path}: is {kind}, not HDF5; give it without --images-dataset/--labels-dataset (IMAGES [LABELS])")
        raise DataError(f"{path}: cannot open as HDF5 (not an HDF5 file, or truncated); expected {expected}")
    with f:
        def dataset(name, role):
            try:
                ds = f.get(name)
            except Exception:  # a name h5py refuses
                ds = None
            if not isinstance(ds, h5py.Dataset):
                listing = hdf5_datasets(path)
                raise DataError(f"{path}: no dataset '{name}' (the {role}); "
                                f"{'its datasets: ' + listing if listing else 'the file has no datasets'}")
            return ds

        def rows(ds, name, n):  # rows [0, n), refusing a dataset that claims more than the file holds
            nbytes = n * int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize
            filtered = ds.id.get_create_plist().get_nfilters() > 0
            stored = ds.id.get_storage_size()
            if nbytes > (1032 if filtered else 1) * stored + 4096:
                raise DataError(f"{path}: dataset '{name}' claims {dims_str(ds.shape)} but the file stores only "
                                f"{stored} bytes of it; the file is truncated or damaged, convert it again")
            try:
                return ds[:n]
            except Exception as e:
                raise DataError(f"{path}: cannot read dataset '{name}' ({e}); file truncated or corrupt?")

        im = dataset(images_name, "preprocessed images" if preprocessed else "images")
        c, h, w = shape
        want = [c, h, w] if layout == "NCHW" else [h, w, c]
        if im.ndim != 4 or list(im.shape[1:]) != want:
            other, other_want = ("NHWC", [h, w, c]) if layout == "NCHW" else ("NCHW", [c, h, w])
            if im.ndim == 3 and c == 1 and list(im.shape[1:]) == [h, w]:
                fix = f"; the images lack their channel axis: store them as N x 1 x {h} x {w} (numpy: x[:, None])"
            elif im.ndim == 4 and list(im.shape[1:]) == other_want:
                fix = f"; the images are {other}: give --layout {other}"
            else:
                fix = "; use images of the size the variant takes"
            raise DataError(f"{path}: dataset '{images_name}' has shape {dims_str(im.shape)} but the variant takes "
                            f"{dims_str(shape)} images: layout {layout} needs N x {' x '.join(map(str, want))}{fix}")
        f32, u8 = im.dtype.kind == "f" and im.dtype.itemsize == 4, im.dtype.kind == "u" and im.dtype.itemsize == 1
        if not f32 and (preprocessed or not u8):
            want = "float32 (with --preprocessed: inputs already preprocessed)" if preprocessed else "uint8 or float32"
            raise DataError(f"{path}: dataset '{images_name}' must be {want}, found {im.dtype}; convert it")
        lb = None if labels_name is None else dataset(labels_name, "labels")
        if lb is not None and (lb.ndim != 1 or lb.dtype.kind not in "iu"):
            raise DataError(f"{path}: dataset '{labels_name}' must be a 1-D integer array of labels, found "
                            f"{lb.dtype} of shape {dims_str(lb.shape)}")
        if lb is not None and lb.shape[0] != im.shape[0]:
            raise DataError(f"{path}: dataset '{labels_name}' has {lb.shape[0]} labels but '{images_name}' has "
                            f"{im.shape[0]} images")
        n = min(im.shape[0], limit) if limit else im.shape[0]
        x = rows(im, images_name, n)
        x = x.astype(np.float32) / np.float32(255) if u8 else x.astype(np.float32)
        if layout == "NHWC":
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        bad = np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(1))
        if len(bad):
            raise DataError(f"{path}: dataset '{images_name}': non-finite value in image {bad[0]}; expected finite "
                            "float32 values")
        return x, None if lb is None else rows(lb, labels_name, n).astype(np.int64)


def preprocess(x, mean, std):
    """In place, as mcdnn-infer (core/data/dataset.cpp normalize): (x - mean[c]) * float32(1 / std[c])."""
    for c, (m, s) in enumerate(zip(mean, std)):
        x[:, c] = (x[:, c] - np.float32(m)) * np.float32(1.0 / s)
    return x


# --- Command line ---

class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see --help)")


def positive(s):
    if not s.isdigit() or int(s) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got '{s}'")
    return int(s)


def parse_args(argv):
    p = Parser(prog="mcdnn_run.py", description=__doc__.split("\n")[0],
               epilog="Exit codes: 0 success, 2 bad flags, 4 unreadable or mismatched images/labels, 5 --logits "
                      "not writable, 7 catalog or variant file unreadable or damaged, or no such variant.")
    p.add_argument("catalog", help="catalog directory (holds catalog.json)")
    p.add_argument("variant", help="variant id, e.g. base")
    p.add_argument("images", help="IDX images file (raw or .gz), or an HDF5 file with --images-dataset/--preprocessed")
    p.add_argument("labels", nargs="?", help="IDX labels file: print the accuracy")
    p.add_argument("--images-dataset", metavar="NAME", help="HDF5: the images dataset (N x C x H x W or N x H x W x C)")
    p.add_argument("--labels-dataset", metavar="NAME", help="HDF5: the labels dataset")
    p.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW", help="HDF5 images layout")
    p.add_argument("--preprocessed", action="store_true",
                   help='IMAGES is an HDF5 file of preprocessed float32 inputs (dataset --images-dataset, default "x")')
    p.add_argument("--limit", type=positive, metavar="N", help="classify at most N images")
    p.add_argument("--predictions", type=int, default=10, metavar="N", help="print the first N predictions (10)")
    p.add_argument("--batch", type=positive, default=256, metavar="N", help="images per numpy pass (memory; 256)")
    p.add_argument("--logits", metavar="OUT", help="write the logits (N x classes) to a new OUT.npy or OUT.h5")
    a = p.parse_args(argv)
    if a.predictions < 0:
        p.error(f"--predictions: expected an integer >= 0, got {a.predictions}")
    if a.preprocessed and a.images_dataset is None:
        a.images_dataset = "x"
    if a.images_dataset is not None:
        if a.labels is not None:
            p.error("an HDF5 input takes its labels from --labels-dataset, not from a LABELS file")
        if a.labels_dataset is None and not a.preprocessed:
            p.error("an HDF5 input needs --labels-dataset as well as --images-dataset")
    elif a.labels_dataset is not None:
        p.error("--labels-dataset needs an HDF5 input (--images-dataset or --preprocessed)")
    if a.logits is not None and not a.logits.endswith((".npy", ".h5")):
        p.error(f"--logits {a.logits}: expected a file name ending in .npy or .h5")
    return a


def write_logits(out, logits, inputs):
    for path in inputs:
        if os.path.realpath(out) == os.path.realpath(path) or (
                os.path.exists(out) and os.path.exists(path) and os.path.samefile(out, path)):
            raise UsageError(f"--logits {out}: is an input of this run; name a new file")
    tmp = f"{out}.tmp-{os.getpid()}"  # written whole, then renamed over `out`
    try:
        if out.endswith(".npy"):
            with open(tmp, "wb") as f:
                np.save(f, logits)
        else:
            with h5py.File(tmp, "w") as f:
                f["logits"] = logits
        os.replace(tmp, out)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise OutputError(f"{out}: cannot write the logits ({e.strerror or e})")


def run(argv):
    a = parse_args(argv)
    t0 = time.perf_counter()
    catalog, entry, layers = load_variant(a.catalog, a.variant)
    # A fragment catalog (trunk): the images are the trunk's input; its layers run first.
    trunk = load_trunk(a.catalog, catalog)
    load_s = time.perf_counter() - t0
    inp = catalog["trunk"]["input"] if trunk else catalog["input"]
    shape, count = inp["shape"], catalog["classes"]["count"]
    if a.images_dataset is None:
        x, total = read_idx_images(a.images, shape, a.limit)
        y = None if a.labels is None else read_idx_labels(a.labels, a.images, total, len(x))
        label_source = a.labels
    else:
        x, y = read_hdf5(a.images, a.images_dataset, a.labels_dataset, a.layout, shape, a.limit, a.preprocessed)
        label_source = f"{a.images} (dataset '{a.labels_dataset}')"
    if y is not None and len(y) and (y.min() < 0 or y.max() >= count):
        bad = int(y[(y < 0) | (y >= count)][0])
        raise DataError(f"{label_source}: label {bad} is not one of the catalog's {count} classes (0..{count - 1})")
    if not a.preprocessed:
        preprocess(x, inp.get("mean") or [], inp.get("std") or [])
    variant_path = os.path.join(a.catalog, entry["file"])
    # A specialized variant's outputs: its kept classes in order, then "other" (labels mapped alike).
    spec = entry.get("specialized")
    names = catalog["classes"]["names"] or [str(i) for i in range(count)]
    if spec is not None:
        kept = spec.get("classes") if isinstance(spec, dict) else None
        if not (isinstance(kept, list) and kept and all(type(c) is int and 0 <= c < count for c in kept) and
                len(set(kept)) == len(kept) < count):
            raise CatalogError(f"{a.catalog}/catalog.json: variant {a.variant}: specialized.classes: expected distinct "
                               f"class indices in [0, {count}), fewer than {count}")
        names = [names[c] for c in kept] + ["other"]
        if y is not None:
            y = np.array([kept.index(int(c)) if int(c) in kept else len(kept) for c in y], dtype=np.int64)
        count = len(kept) + 1
    t1 = time.perf_counter()
    try:
        logits = np.concatenate([forward(layers, forward(trunk or [], x[i:i + a.batch])) for i in range(0, len(x), a.batch)]
                                or [np.zeros((0, count), np.float32)])
    except CatalogError as e:
        raise CatalogError(f"{variant_path}: {e}")
    except Exception as e:  # weights that do not fit together or with the input
        raise CatalogError(f"{variant_path}: cannot run the variant on {dims_str(shape)} inputs ({type(e).__name__}: {e})")
    run_s = time.perf_counter() - t1
    if logits.shape != (len(x), count):
        raise CatalogError(f"{variant_path}: the variant gives logits of shape {dims_str(logits.shape)}, expected "
                           f"N x {count} (catalog.json classes.count)")
    if a.logits is not None:
        inputs = [a.images, a.labels or a.images, os.path.join(a.catalog, "catalog.json"), variant_path]
        write_logits(a.logits, logits, inputs)
    pred = logits.argmax(1)
    for i in range(min(a.predictions, len(pred))):
        print(f"{i}\t{pred[i]}\t{names[pred[i]]}")
    print(f"variant {a.variant}: {len(x)} images, numpy float32, loaded in {load_s * 1e3:.0f} ms, "
          f"ran in {run_s:.2f} s ({len(x) / max(run_s, 1e-9):.0f} images/s)")
    if y is not None:
        correct, recorded = int((pred == y).sum()), entry.get("accuracy")
        recorded = f"{100 * recorded:.2f}%" if type(recorded) in (int, float) else "no accuracy"
        print(f"accuracy {100 * correct / max(len(x), 1):.2f}% ({correct}/{len(x)}; catalog.json records "
              f"{recorded} on its validation set)")


def main():
    try:
        run(sys.argv[1:])
    except Failure as e:  # one line, never a traceback: the catalog and the data are input
        sys.stderr.write(f"error: {' '.join(str(e).splitlines())}\n")
        sys.exit(e.status)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    except Exception as e:
        sys.stderr.write(f"internal error: {type(e).__name__}: {' '.join(str(e).splitlines())}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
