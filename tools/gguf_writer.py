"""Minimal GGUF v3 writer (numpy only).

Layout (little-endian), as in ggml's docs/gguf.md:
  magic "GGUF", u32 version = 3, u64 tensor_count, u64 kv_count,
  kv pairs: string key, u32 value type, value,
  tensor infos: string name, u32 n_dims, u64 dims[n_dims] (ggml ne order, fastest first),
                u32 ggml type, u64 offset (relative to the data section, multiple of alignment),
  zero padding to general.alignment, tensor data (each tensor padded to the alignment).
Strings are u64 length + UTF-8 bytes, no terminator. Arrays are u32 element type + u64 count + elements.
"""

import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
DEFAULT_ALIGNMENT = 32

# Metadata value types.
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)

# ggml tensor types used here.
GGML_F32 = 0
GGML_F16 = 1
GGML_Q8_0 = 8
QK8_0 = 32  # values per Q8_0 block; block = f16 scale d + 32 int8 (34 bytes)

_SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
               FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}


def _pack_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def _pack_value(vtype, value, elem_type=None):
    if vtype == STRING:
        return _pack_string(value)
    if vtype == ARRAY:
        out = [struct.pack("<IQ", elem_type, len(value))]
        if elem_type == STRING:
            out.extend(_pack_string(v) for v in value)
        else:
            fmt = _SCALAR_FMT[elem_type]
            arr = np.asarray(value, dtype=np.dtype(fmt))
            out.append(arr.tobytes())
        return b"".join(out)
    return struct.pack(_SCALAR_FMT[vtype], value)


def quantize_q8_0(x):
    """ggml's reference Q8_0: per 32 values d = max|x| / 127, q = round-half-away(x / d).

    Returns the raw blocks (f16 d then 32 int8) as bytes. x's last dim must be a multiple of 32.
    """
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK8_0)
    amax = np.abs(x).max(axis=1)
    d = amax / 127.0
    inv = np.zeros_like(d)
    nz = d != 0
    inv[nz] = 1.0 / d[nz]
    v = x * inv[:, None]
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # roundf: half away from zero
    blocks = np.empty(x.shape[0], dtype=[("d", "<f2"), ("qs", "i1", (QK8_0,))])
    blocks["d"] = d.astype(np.float16)
    blocks["qs"] = q
    return blocks.tobytes()


class GGUFWriter:
    def __init__(self, path, alignment=DEFAULT_ALIGNMENT):
        self.path = path
        self.alignment = alignment
        self.kv = []        # (key, packed bytes)
        self.tensors = []   # (name, dims, ggml_type, data bytes)
        self.add_uint32("general.alignment", alignment)

    # -- metadata -------------------------------------------------------------
    def _add(self, key, vtype, value, elem_type=None):
        if any(k == key for k, _ in self.kv):
            raise ValueError(f"duplicate GGUF key {key}")
        self.kv.append((key, struct.pack("<I", vtype) + _pack_value(vtype, value, elem_type)))

    def add_uint32(self, key, v): self._add(key, UINT32, int(v))
    def add_int32(self, key, v): self._add(key, INT32, int(v))
    def add_uint64(self, key, v): self._add(key, UINT64, int(v))
    def add_float32(self, key, v): self._add(key, FLOAT32, float(v))
    def add_bool(self, key, v): self._add(key, BOOL, bool(v))
    def add_string(self, key, v): self._add(key, STRING, v)
    def add_array(self, key, elem_type, values): self._add(key, ARRAY, list(values), elem_type)

    # -- tensors --------------------------------------------------------------
    def add_tensor(self, name, array, ggml_type=GGML_F32):
        """array is in numpy/torch order (slowest dim first); GGUF dims are written reversed
        (ggml ne order), so a Linear weight [out, in] becomes dims [in, out] with the same bytes."""
        a = np.ascontiguousarray(array, dtype=np.float32)
        dims = list(reversed(a.shape))
        if ggml_type == GGML_F32:
            data = a.tobytes()
        elif ggml_type == GGML_F16:
            data = a.astype(np.float16).tobytes()
        elif ggml_type == GGML_Q8_0:
            if dims[0] % QK8_0:
                raise ValueError(f"{name}: row length {dims[0]} is not a multiple of {QK8_0}")
            data = quantize_q8_0(a)
        else:
            raise ValueError(f"unsupported ggml type {ggml_type}")
        self.tensors.append((name, dims, ggml_type, data))

    def _pad(self, n):
        return (-n) % self.alignment

    def write(self):
        infos = []
        offset = 0
        for name, dims, gtype, data in self.tensors:
            infos.append(_pack_string(name) + struct.pack("<I", len(dims))
                         + struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", gtype, offset))
            offset += len(data) + self._pad(len(data))
        header = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))]
        header += [_pack_string(k) + v for k, v in self.kv]
        header += infos
        head = b"".join(header)
        with open(self.path, "wb") as f:
            f.write(head)
            f.write(b"\0" * self._pad(len(head)))
            for _, _, _, data in self.tensors:
                f.write(data)
                f.write(b"\0" * self._pad(len(data)))
        return self.path
