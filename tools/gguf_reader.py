#!/usr/bin/python3
"""Minimal GGUF v3 reader (numpy only): metadata, tensor infos, and tensors as float32 arrays.

  python3 tools/gguf_reader.py models/sluice-tiny.gguf          # metadata and tensor list
  python3 tools/gguf_reader.py FILE --full                       # print arrays in full
"""

import argparse
import struct
import sys

import numpy as np

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR = {UINT8: "<u1", INT8: "<i1", UINT16: "<u2", INT16: "<i2", UINT32: "<u4", INT32: "<i4",
           FLOAT32: "<f4", BOOL: "<u1", UINT64: "<u8", INT64: "<i8", FLOAT64: "<f8"}
GGML_TYPE_NAMES = {0: "F32", 1: "F16", 8: "Q8_0"}
QK8_0 = 32
Q8_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "i1", (QK8_0,))])


class GGUFError(Exception):
    pass


class GGUFFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.buf = f.read()
        self.pos = 0
        if self.buf[:4] != b"GGUF":
            raise GGUFError(f"{path}: not a GGUF file (bad magic)")
        self.pos = 4
        self.version = self._u32()
        if self.version != 3:
            raise GGUFError(f"{path}: GGUF version {self.version}, expected 3")
        n_tensors = self._u64()
        n_kv = self._u64()
        self.kv = {}
        self.kv_types = {}
        for _ in range(n_kv):
            key = self._str()
            vtype = self._u32()
            self.kv[key] = self._value(vtype)
            self.kv_types[key] = vtype
        self.alignment = int(self.kv.get("general.alignment", 32))
        self.tensor_infos = {}
        for _ in range(n_tensors):
            name = self._str()
            n_dims = self._u32()
            dims = [self._u64() for _ in range(n_dims)]
            gtype = self._u32()
            offset = self._u64()
            if name in self.tensor_infos:
                raise GGUFError(f"duplicate tensor {name}")
            self.tensor_infos[name] = (dims, gtype, offset)
        self.data_start = self.pos + (-self.pos) % self.alignment
        for name, (dims, gtype, offset) in self.tensor_infos.items():
            if offset % self.alignment:
                raise GGUFError(f"{name}: offset {offset} not aligned to {self.alignment}")
            if self.data_start + offset + self.tensor_nbytes(name) > len(self.buf):
                raise GGUFError(f"{name}: data runs past the end of the file")

    # -- primitive readers ---------------------------------------------------
    def _take(self, n):
        if self.pos + n > len(self.buf):
            raise GGUFError("truncated file")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def _u32(self):
        return struct.unpack("<I", self._take(4))[0]

    def _u64(self):
        return struct.unpack("<Q", self._take(8))[0]

    def _str(self):
        return self._take(self._u64()).decode("utf-8")

    def _value(self, vtype):
        if vtype == STRING:
            return self._str()
        if vtype == ARRAY:
            etype = self._u32()
            n = self._u64()
            if etype == STRING:
                return [self._str() for _ in range(n)]
            if etype == ARRAY:
                return [self._value(ARRAY) for _ in range(n)]
            dt = np.dtype(_SCALAR[etype])
            arr = np.frombuffer(self._take(n * dt.itemsize), dtype=dt)
            return [bool(v) for v in arr] if etype == BOOL else arr.tolist()
        if vtype not in _SCALAR:
            raise GGUFError(f"unknown metadata value type {vtype}")
        dt = np.dtype(_SCALAR[vtype])
        v = np.frombuffer(self._take(dt.itemsize), dtype=dt)[0]
        return bool(v) if vtype == BOOL else v.item()

    # -- tensors ---------------------------------------------------------------
    def tensor_nbytes(self, name):
        dims, gtype, _ = self.tensor_infos[name]
        n = int(np.prod(dims))
        if gtype == 0:
            return 4 * n
        if gtype == 1:
            return 2 * n
        if gtype == 8:
            return n // QK8_0 * Q8_0_BLOCK.itemsize
        raise GGUFError(f"{name}: unsupported ggml type {gtype}")

    def tensor(self, name):
        """The tensor as a float32 array in numpy order (GGUF dims reversed)."""
        dims, gtype, offset = self.tensor_infos[name]
        start = self.data_start + offset
        raw = self.buf[start:start + self.tensor_nbytes(name)]
        shape = tuple(reversed(dims))
        if gtype == 0:
            return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
        if gtype == 1:
            return np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(shape)
        blocks = np.frombuffer(raw, dtype=Q8_0_BLOCK)
        vals = blocks["qs"].astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
        return vals.reshape(shape)


def _fmt_value(v, full):
    if isinstance(v, list) and not full and len(v) > 8:
        head = ", ".join(repr(x) for x in v[:6])
        return f"[{head}, ...] ({len(v)} items)"
    if isinstance(v, str) and not full and len(v) > 200:
        return repr(v[:200]) + f"... ({len(v)} chars)"
    return repr(v)


def main():
    ap = argparse.ArgumentParser(description="Print a GGUF file's metadata and tensor list.")
    ap.add_argument("path")
    ap.add_argument("--full", action="store_true", help="print long arrays and strings in full")
    args = ap.parse_args()
    try:
        g = GGUFFile(args.path)
    except (GGUFError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"GGUF v{g.version}: {len(g.kv)} metadata keys, {len(g.tensor_infos)} tensors, "
          f"alignment {g.alignment}, data at byte {g.data_start}, file {len(g.buf)} bytes")
    for k, v in g.kv.items():
        print(f"  {k} = {_fmt_value(v, args.full)}")
    total = 0
    for name, (dims, gtype, offset) in g.tensor_infos.items():
        nb = g.tensor_nbytes(name)
        total += int(np.prod(dims))
        print(f"  tensor {name:28s} {GGML_TYPE_NAMES.get(gtype, gtype):5s} dims={dims} "
              f"offset={offset} bytes={nb}")
    print(f"total parameters: {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
