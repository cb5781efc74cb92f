#!/usr/bin/python3
"""Checks of the model tools (numpy only, a few seconds): GGUF write/read round trip for
F32, F16 and Q8_0, the tokenizer's round trip, a random tiny-test model through the numpy
forward, and models/sluice-tiny.gguf against its golden file. Prints 'N passed, N failed'."""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf_writer  # noqa: E402
from gguf_reader import GGUFFile  # noqa: E402
from reference_forward import LlamaModel, check_golden  # noqa: E402

MODELS = os.environ.get("SLUICE_MODELS", os.path.join(HERE, "..", "models"))
results = []


def check(name, cond):
    results.append(bool(cond))
    print(("ok   " if cond else "FAIL ") + name)


def main():
    tmp = tempfile.mkdtemp(prefix="sluice-tools-")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 64), dtype=np.float32)
    path = os.path.join(tmp, "rt.gguf")
    w = gguf_writer.GGUFWriter(path)
    w.add_string("general.architecture", "test")
    w.add_array("a.ints", gguf_writer.INT32, [1, -2, 3])
    w.add_array("a.strs", gguf_writer.STRING, ["x", "é", ""])
    w.add_float32("a.f", 0.5)
    w.add_bool("a.b", True)
    w.add_tensor("f32", x)
    w.add_tensor("f16", x, gguf_writer.GGML_F16)
    w.add_tensor("q8", x, gguf_writer.GGML_Q8_0)
    w.add_tensor("odd", x[:, :5])
    w.write()
    g = GGUFFile(path)
    check("metadata round trip", g.kv["a.ints"] == [1, -2, 3] and g.kv["a.strs"] == ["x", "é", ""]
          and g.kv["a.f"] == 0.5 and g.kv["a.b"] is True and g.kv["general.alignment"] == 32)
    check("tensor dims are ggml order", g.tensor_infos["f32"][0] == [64, 3])
    check("offsets aligned", all(o % 32 == 0 for _, _, o in g.tensor_infos.values()))
    check("f32 exact", np.array_equal(g.tensor("f32"), x) and np.array_equal(g.tensor("odd"), x[:, :5]))
    check("f16 round trip", np.array_equal(g.tensor("f16"), x.astype(np.float16).astype(np.float32)))
    blocks = x.reshape(-1, 32)
    d = (np.abs(blocks).max(1) / 127).astype(np.float16).astype(np.float32)
    err = np.abs(g.tensor("q8").reshape(-1, 32) - blocks).max(1)
    # Half a step, plus the f16 rounding of d times 127 (d is rounded after quantizing).
    check("q8_0 within half a step", np.all(err <= d * (0.5 + 127 / 2048) + 1e-7))
    check("q8_0 block size", g.tensor_nbytes("q8") == 3 * 2 * 34)

    tiny = os.path.join(MODELS, "sluice-tiny.gguf")
    golden = os.path.join(MODELS, "sluice-tiny.golden.json")
    if os.path.exists(tiny):
        m = LlamaModel(tiny)
        tok = m.tokenizer()
        text = "Hi  there,\n\n  it's 2003 — café 日本 😀!\t"
        check("tokenizer round trip", tok.decode(tok.encode(text)) == text)
        check("golden logits and tokenizer cases", check_golden(m, golden, 1e-4))
        for t in ("f16", "q8_0"):
            out = os.path.join(tmp, f"tiny-{t}.gguf")
            subprocess.run([sys.executable, os.path.join(HERE, "make_random_gguf.py"), "--shape",
                            "tiny-test", "--type", t, "--out", out, "--seed", "3",
                            "--tokenizer-from", tiny], check=True)
            r = LlamaModel(out)
            logits = r.forward(tok.encode("<|im_start|>user\nHello<|im_end|>\n"))
            check(f"random tiny-test {t} forward is finite",
                  logits.shape == (len(logits), len(tok.tokens)) and np.isfinite(logits).all())
    else:
        check("models/sluice-tiny.gguf exists", False)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
