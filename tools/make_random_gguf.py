#!/usr/bin/python3
"""Write a llama-architecture GGUF with random weights, for tests and benchmarks (numpy only).

The weights mean nothing; the shape, tensor types and file layout are those of a real small
checkpoint, so the lm kernel's loading, memory traffic and speed can be exercised without
downloading one. The tokenizer is sluice-tiny's (read from models/sluice-tiny.gguf), padded with
unused tokens up to the shape's vocabulary size.

  python3 tools/make_random_gguf.py --shape smollm2-135m --type q8_0 --out /tmp/smollm2-q8.gguf
  python3 tools/make_random_gguf.py --shape tiny-test --type f16 --out /tmp/tiny-f16.gguf --seed 7

Norm weights are ~1 and stay F32 (as llama.cpp keeps them); every matrix, token_embd included,
is F16 or Q8_0 and drawn from N(0, 0.02), so activations stay finite.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer  # noqa: E402
from gguf_reader import GGUFError, GGUFFile  # noqa: E402

SHAPES = {
    # The shape of SmolLM2-135M (llama architecture, tied embeddings).
    "smollm2-135m": dict(dim=576, n_layers=30, n_heads=9, n_kv_heads=3, ffn_dim=1536,
                         vocab=49152, context_length=2048, rope_base=100000.0, rms_eps=1e-5,
                         tied=True),
    # Small and fast, with the tiny model's vocabulary (untied output, to cover both paths).
    "tiny-test": dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn_dim=192,
                      vocab=None, context_length=512, rope_base=10000.0, rms_eps=1e-5,
                      tied=False),
}
TYPES = {"f16": gguf_writer.GGML_F16, "q8_0": gguf_writer.GGML_Q8_0, "f32": gguf_writer.GGML_F32}
FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7}  # llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_Q8_0
TOKENIZER_KEYS = ("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id",
                  "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id",
                  "tokenizer.ggml.add_bos_token", "tokenizer.chat_template")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--type", choices=sorted(TYPES), default="f16", help="type of the matrices")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer-from", default=os.path.join(here, "..", "models", "sluice-tiny.gguf"),
                    help="GGUF whose tokenizer is copied (default: models/sluice-tiny.gguf)")
    ap.add_argument("--pre", default=None,
                    help="override tokenizer.ggml.pre (e.g. 'gpt2' for tools that reject 'sluice')")
    args = ap.parse_args()
    t0 = time.time()

    try:
        src = GGUFFile(args.tokenizer_from)
    except (GGUFError, OSError) as e:
        sys.exit(f"error: cannot read the tokenizer from {args.tokenizer_from}: {e}")
    tokens = list(src.kv["tokenizer.ggml.tokens"])
    types = list(src.kv["tokenizer.ggml.token_type"])
    s = dict(SHAPES[args.shape])
    if s["vocab"] is None:
        s["vocab"] = len(tokens)
    if s["vocab"] < len(tokens):
        sys.exit(f"error: shape vocab {s['vocab']} is smaller than the tokenizer's {len(tokens)}")
    for i in range(len(tokens), s["vocab"]):
        tokens.append(f"<|unused_{i}|>")
        types.append(5)  # UNUSED
    gtype = TYPES[args.type]
    dim, nh, nkv, ffn, V = s["dim"], s["n_heads"], s["n_kv_heads"], s["ffn_dim"], s["vocab"]
    hd = dim // nh

    w = gguf_writer.GGUFWriter(args.out)
    w.add_string("general.architecture", "llama")
    w.add_string("general.name", f"random-{args.shape}-{args.type}")
    w.add_string("general.license", "public-domain")
    w.add_string("general.description", f"random weights in the {args.shape} shape (seed {args.seed}); "
                 "for tests and benchmarks only")
    w.add_uint32("general.file_type", FILE_TYPES[args.type])
    w.add_uint32("llama.context_length", s["context_length"])
    w.add_uint32("llama.embedding_length", dim)
    w.add_uint32("llama.block_count", s["n_layers"])
    w.add_uint32("llama.feed_forward_length", ffn)
    w.add_uint32("llama.attention.head_count", nh)
    w.add_uint32("llama.attention.head_count_kv", nkv)
    w.add_float32("llama.rope.freq_base", s["rope_base"])
    w.add_float32("llama.attention.layer_norm_rms_epsilon", s["rms_eps"])
    w.add_uint32("llama.rope.dimension_count", hd)
    w.add_uint32("llama.vocab_size", V)
    for k in TOKENIZER_KEYS:
        if k not in src.kv:
            continue
        v = args.pre if (k == "tokenizer.ggml.pre" and args.pre) else src.kv[k]
        if isinstance(v, bool):
            w.add_bool(k, v)
        elif isinstance(v, int):
            w.add_uint32(k, v)
        else:
            w.add_string(k, v)
    w.add_array("tokenizer.ggml.tokens", gguf_writer.STRING, tokens)
    w.add_array("tokenizer.ggml.token_type", gguf_writer.INT32, types)
    w.add_array("tokenizer.ggml.merges", gguf_writer.STRING, src.kv["tokenizer.ggml.merges"])

    rng = np.random.default_rng(args.seed)

    def mat(rows, cols):
        return (rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02))

    def norm():
        return (1.0 + 0.01 * rng.standard_normal(dim, dtype=np.float32)).astype(np.float32)

    w.add_tensor("token_embd.weight", mat(V, dim), gtype)
    for i in range(s["n_layers"]):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm())
        w.add_tensor(p + "attn_q.weight", mat(nh * hd, dim), gtype)
        w.add_tensor(p + "attn_k.weight", mat(nkv * hd, dim), gtype)
        w.add_tensor(p + "attn_v.weight", mat(nkv * hd, dim), gtype)
        w.add_tensor(p + "attn_output.weight", mat(dim, nh * hd), gtype)
        w.add_tensor(p + "ffn_norm.weight", norm())
        w.add_tensor(p + "ffn_gate.weight", mat(ffn, dim), gtype)
        w.add_tensor(p + "ffn_up.weight", mat(ffn, dim), gtype)
        w.add_tensor(p + "ffn_down.weight", mat(dim, ffn), gtype)
    w.add_tensor("output_norm.weight", norm())
    if not s["tied"]:
        w.add_tensor("output.weight", mat(V, dim), gtype)
    w.write()
    print(f"wrote {args.out}: {args.shape} {args.type}, {os.path.getsize(args.out)} bytes, "
          f"{time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
