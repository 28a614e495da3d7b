#!/usr/bin/env python3
"""Writes the binary seed corpora fuzz/corpus/idx/ and fuzz/corpus/hdf5_source/ (each input in
its harness's format, documented at the top of fuzz_idx.cpp and fuzz_hdf5_source.cpp).

    python3 fuzz/make_corpus.py      # rewrites the seeds; deterministic, standard library only

fuzz/corpus/schema/ is plain YAML, kept by hand (schemas/*.yaml copies and edge cases), and
fuzz/corpus/hdf5_source/raw_baseline is made by the harness (fuzz/README.md, raw mode).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(folder, name, data):
    path = os.path.join(HERE, "corpus", folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert len(data) < 4096, (name, len(data))
    with open(path, "wb") as f:
        f.write(data)


# --- IDX: flags, split (u16 LE), images file, labels file --------------------------------
def idx_file(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def idx_input(flags, images, labels):
    return bytes([flags]) + struct.pack("<H", len(images)) + images + labels


def idx_seeds():
    n, h, w = 3, 4, 4
    pix = bytes((i * 37) % 256 for i in range(n * h * w))
    labels = idx_file(0x08, [n], bytes([0, 7, 9]))
    # flags bits 2-3 = 0: shape from the header; bits 4-6: limit; bit 7: relabel
    yield "u8_3x4x4", idx_input(0x00, idx_file(0x08, [n, h, w], pix), labels)
    yield "u8_3x4x4_limit2", idx_input(0x20, idx_file(0x08, [n, h, w], pix), labels)
    yield "u8_3x4x4_gz", idx_input(0x03, idx_file(0x08, [n, h, w], pix), labels)
    floats = b"".join(struct.pack(">f", v) for v in [0.0, 0.5, -1.25, 3.0e-3] * (n * h * w // 4))
    yield "f32_3x4x4", idx_input(0x04, idx_file(0x0D, [n, h, w], floats), labels)  # shape 1x4x4
    # rank 4: N x C x H x W, 2 images of 3x2x2, relabelled (labels 0 and 1 only)
    yield "u8_rank4_3x2x2", idx_input(0x88, idx_file(0x08, [2, 3, 2, 2], pix[:24]), idx_file(0x08, [2], bytes([1, 0])))
    yield "u8_empty", idx_input(0x00, idx_file(0x08, [0, h, w], b""), idx_file(0x08, [0], b""))
    # headers claim 1000 examples, the files hold 3: the truncation errors
    yield "u8_truncated", idx_input(0x00, idx_file(0x08, [1000, h, w], pix), idx_file(0x08, [1000], bytes([0, 7, 9])))


# --- HDF5 source: mode, shape, images[8], labels[8], names, limit, scale, pool ---------------
def h5_input(shape=0, images=(0,) * 8, labels=(0,) * 8, names=0, limit=0, scale=0, pool=b""):
    assert len(images) == 8 and len(labels) == 8
    return bytes([0, shape, *images, *labels, names, limit, scale]) + pool


def h5_seeds():
    # Image element i takes pool[i], label j takes pool[-1 - j]: valid labels 0..8 at the end.
    pool = bytes(range(0, 250, 7)) + bytes(reversed(range(9)))
    # type bytes: images Type(b % 14) (0 u8, 5 f32); labels Type((b + 4) % 14) (0 int64, 10 u8, 13 i32)
    yield "baseline_u8_nchw", h5_input(pool=pool)
    yield "f32_nhwc_3x2x2", h5_input(shape=0x40 | 2 | (2 << 2) | (2 << 4), images=(0, 5, 0, 4, 0, 0, 0, 0), pool=pool)
    yield "chunked_deflate_limit3", h5_input(images=(4 | 8, 0, 0, 7, 0, 0, 0, 0), labels=(4, 13, 0, 0, 0, 0, 0, 0),
                                             limit=3, pool=pool)
    yield "group_paths_be", h5_input(images=(32, 5, 0, 3, 0, 0, 0, 0), labels=(32, 0, 0, 0, 0, 0, 0, 0),
                                     names=2 | (3 << 4), pool=pool)
    yield "labels_u8_relabel_range", h5_input(labels=(0, 10, 0, 0, 0, 0, 0, 0), scale=3, pool=bytes([0, 1, 2, 250]))


def main():
    for name, data in idx_seeds():
        write("idx", name, data)
    for name, data in h5_seeds():
        write("hdf5_source", name, data)


if __name__ == "__main__":
    main()
