#!/usr/bin/python3
"""Reference forward pass of a llama-architecture GGUF (F32, F16 or Q8_0 tensors) in plain numpy.

It is the yardstick for sluice's C++ lm kernel: it reads the same file, dequantizes the same way
(F16 -> f32; Q8_0: f16 scale times int8) and prints logits as JSON.

  python3 tools/reference_forward.py --gguf models/sluice-tiny.gguf --tokens 1534,297,261,10
  python3 tools/reference_forward.py --gguf M.gguf --chat "Hello! Who are you?" --greedy 8
  python3 tools/reference_forward.py --gguf models/sluice-tiny.gguf \\
      --check-golden models/sluice-tiny.golden.json

Output: {"tokens": [...], "logits_last": [...], "logits": {"pos": [...]}, "greedy": [...]}.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GGUFError, GGUFFile  # noqa: E402
import sluice_tokenizer as stok  # noqa: E402


class LlamaModel:
    def __init__(self, path, dtype=np.float32):
        g = GGUFFile(path)
        self.gguf = g
        arch = g.kv.get("general.architecture")
        if arch != "llama":
            raise GGUFError(f"{path}: general.architecture is {arch!r}, expected 'llama'")
        kv = lambda k, d=None: g.kv.get(f"llama.{k}", d)  # noqa: E731
        self.dtype = dtype
        self.dim = kv("embedding_length")
        self.n_layers = kv("block_count")
        self.n_heads = kv("attention.head_count")
        self.n_kv_heads = kv("attention.head_count_kv", self.n_heads)
        self.head_dim = self.dim // self.n_heads
        self.rope_dim = kv("rope.dimension_count", self.head_dim)
        self.rope_base = kv("rope.freq_base", 10000.0)
        self.eps = kv("attention.layer_norm_rms_epsilon", 1e-5)
        self.context_length = kv("context_length")
        t = lambda n: g.tensor(n).astype(dtype)  # noqa: E731
        self.tok_embd = t("token_embd.weight")
        self.output = t("output.weight") if "output.weight" in g.tensor_infos else self.tok_embd
        self.output_norm = t("output_norm.weight")
        self.layers = []
        for i in range(self.n_layers):
            p = f"blk.{i}."
            self.layers.append({k: t(p + k + ".weight") for k in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")})

    def tokenizer(self):
        g = self.gguf
        return stok.Tokenizer(g.kv["tokenizer.ggml.tokens"], g.kv.get("tokenizer.ggml.merges", []))

    def _rms(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.dtype(self.eps)) * w

    def _rope(self, x, pos):
        # llama.cpp "normal" mode: rotate adjacent pairs (x[2i], x[2i+1]) by pos * base^(-2i/n_rot).
        n = self.rope_dim
        inv = (np.float32(self.rope_base) ** (-np.arange(0, n, 2, dtype=np.float32) / np.float32(n)))
        ang = pos.astype(np.float32)[:, None] * inv[None, :]
        cos = np.cos(ang).astype(self.dtype)[:, None, :]
        sin = np.sin(ang).astype(self.dtype)[:, None, :]
        r = x[..., :n].reshape(*x.shape[:-1], n // 2, 2)
        x0, x1 = r[..., 0], r[..., 1]
        out = np.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), axis=-1).reshape(*x.shape[:-1], n)
        return np.concatenate((out, x[..., n:]), axis=-1) if n < x.shape[-1] else out

    def forward(self, tokens):
        """Logits [T, vocab] for the whole sequence (no cache)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        T = len(tokens)
        if T == 0:
            raise ValueError("no tokens")
        if tokens.min() < 0 or tokens.max() >= self.tok_embd.shape[0]:
            raise ValueError("token id out of range")
        nh, nkv, hd = self.n_heads, self.n_kv_heads, self.head_dim
        pos = np.arange(T)
        mask = np.triu(np.full((T, T), -np.inf, dtype=self.dtype), 1)
        scale = self.dtype(1.0 / np.sqrt(hd))
        x = self.tok_embd[tokens]
        for L in self.layers:
            h = self._rms(x, L["attn_norm"])
            q = self._rope((h @ L["attn_q"].T).reshape(T, nh, hd), pos)
            k = self._rope((h @ L["attn_k"].T).reshape(T, nkv, hd), pos)
            v = (h @ L["attn_v"].T).reshape(T, nkv, hd)
            out = np.empty((T, nh, hd), dtype=self.dtype)
            group = nh // nkv
            for j in range(nh):
                kj, vj = k[:, j // group], v[:, j // group]  # query head j reads KV head j // group
                s = (q[:, j] @ kj.T) * scale + mask
                s = np.exp(s - s.max(-1, keepdims=True))
                out[:, j] = (s / s.sum(-1, keepdims=True)) @ vj
            x = x + out.reshape(T, nh * hd) @ L["attn_output"].T
            h = self._rms(x, L["ffn_norm"])
            gate = h @ L["ffn_gate"].T
            x = x + ((gate / (1 + np.exp(-gate))) * (h @ L["ffn_up"].T)) @ L["ffn_down"].T
        return self._rms(x, self.output_norm) @ self.output.T

    def greedy(self, tokens, n):
        seq = list(tokens)
        out = []
        for _ in range(n):
            nxt = int(np.argmax(self.forward(seq)[-1]))
            out.append(nxt)
            seq.append(nxt)
        return out


def check_golden(model, golden_path, tol):
    with open(golden_path, encoding="utf-8") as f:
        golden = json.load(f)
    ok = True
    tok = model.tokenizer()
    ids = tok.encode(golden["prompt"])
    if ids != golden["tokens"]:
        print(f"FAIL prompt tokens: {ids} != {golden['tokens']}")
        ok = False
    for case in golden.get("tokenizer_cases", []):
        got = tok.encode(case["text"])
        if got != case["tokens"]:
            print(f"FAIL tokenizer case {case['text']!r}: {got} != {case['tokens']}")
            ok = False
    logits = model.forward(golden["tokens"])
    worst = float(np.abs(logits[-1] - np.asarray(golden["logits_last"])).max())
    for p, ref in golden["logits_positions"].items():
        worst = max(worst, float(np.abs(logits[int(p)] - np.asarray(ref)).max()))
    print(f"max |numpy - golden| = {worst:.3g} (tolerance {tol:g})")
    if worst > tol:
        ok = False
    greedy = model.greedy(golden["tokens"], len(golden["greedy_next"]))
    if greedy != golden["greedy_next"]:
        print(f"FAIL greedy: {greedy} != {golden['greedy_next']}")
        ok = False
    print("golden check:", "ok" if ok else "FAILED")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--tokens", help="token ids, comma separated or a JSON list")
    src.add_argument("--text", help="raw text, encoded with the GGUF's tokenizer (sluice pre-tokenizer)")
    src.add_argument("--chat", help="one user message, rendered with the ChatML template + generation prompt")
    src.add_argument("--check-golden", metavar="JSON", help="compare with a golden file; exit 1 on mismatch")
    ap.add_argument("--positions", default="last", help="'last', 'all' or comma separated positions")
    ap.add_argument("--greedy", type=int, default=0, help="also decode N greedy tokens")
    ap.add_argument("--float64", action="store_true", help="compute in float64 instead of float32")
    ap.add_argument("--tol", type=float, default=1e-4, help="--check-golden tolerance (abs)")
    args = ap.parse_args()
    try:
        model = LlamaModel(args.gguf, np.float64 if args.float64 else np.float32)
    except (GGUFError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check_golden:
        return 0 if check_golden(model, args.check_golden, args.tol) else 1
    if args.tokens:
        t = args.tokens.strip()
        tokens = json.loads(t) if t.startswith("[") else [int(v) for v in t.split(",") if v.strip()]
    elif args.text is not None:
        tokens = model.tokenizer().encode(args.text)
    elif args.chat is not None:
        tokens = model.tokenizer().encode(stok.render_chatml([{"role": "user", "content": args.chat}]))
    else:
        ap.error("one of --tokens, --text, --chat, --check-golden is required")
    logits = model.forward(tokens)
    if args.positions == "all":
        positions = list(range(len(tokens)))
    elif args.positions == "last":
        positions = []
    else:
        positions = [int(p) for p in args.positions.split(",")]
    out = {"tokens": [int(t) for t in tokens],
           "logits_last": [float(f"{v:.9g}") for v in logits[-1]],
           "logits": {str(p): [float(f"{v:.9g}") for v in logits[p]] for p in positions}}
    if args.greedy:
        out["greedy"] = model.greedy(tokens, args.greedy)
        try:
            out["greedy_text"] = model.tokenizer().decode(out["greedy"])
        except (KeyError, IndexError):
            pass
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
