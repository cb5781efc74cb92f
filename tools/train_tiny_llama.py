#!/usr/bin/python3
"""Train sluice-tiny, the toy llama-architecture model shipped in models/, and write
models/sluice-tiny.gguf, models/sluice-tiny.golden.json and models/README.md.

Needs Debian's python3-torch and python3-numpy (run it with /usr/bin/python3) and the corpus
package jargon-text (the Jargon File, public domain). Seeded: a rerun on the same torch build
gives the same weights. About 7 minutes on one CPU thread.

  /usr/bin/python3 tools/train_tiny_llama.py [--out-dir models] [--steps N]
"""

import argparse
import gzip
import json
import math
import os
import random
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer  # noqa: E402
import sluice_tokenizer as stok  # noqa: E402

CORPUS_PACKAGE = "jargon-text"
CORPUS_PATH = "/usr/share/doc/jargon-text/jargon.txt.gz"
CORPUS_NAME = "The Jargon File 4.4.7"
CORPUS_LICENSE = "public domain"

SEED = 1234
VOCAB_SIZE = 1536
CONFIG = dict(dim=128, n_layers=4, n_heads=4, n_kv_heads=2, ffn_dim=352,
              context_length=512, rope_base=10000.0, rms_eps=1e-5)
TRAIN = dict(steps=700, batch=16, seq_len=192, lr=3e-3, min_lr=3e-4, warmup=40,
             weight_decay=0.05, grad_clip=1.0)
GOLDEN_PROMPT_MESSAGES = [{"role": "user", "content": "Hello! Who are you?"}]
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                 "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
                 "{{ '<|im_start|>assistant\\n' }}{% endif %}")
TOKENIZER_CASES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll see it's what they've done, isn't it? We'd go.",
    "Version 4.4.7 was released 29 Dec 2003; 1234567890 and 3.14159.",
    "Punctuation!? (yes) [no] {maybe} <tag> a+b=c; x->y :: foo_bar @home #1 $5 100% ~/~",
    "spaces:  two   three    four, tabs:\tone\t\ttwo",
    "line one\nline two\n\nafter blank\r\nwindows\n   indented\n",
    "   leading and trailing   ",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c9cole",
    "\u65e5\u672c\u8a9e \u65e5\u672c",
    "emoji \U0001F600 and \U0001F680 rocket",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "mixed<|endoftext|>text",
    "",
]


# -- corpus ----------------------------------------------------------------------------------

def load_corpus():
    """Paragraphs (unwrapped) and glossary entries [(term, [paragraphs])] of the Jargon File."""
    if not os.path.exists(CORPUS_PATH):
        sys.exit(f"error: corpus {CORPUS_PATH} not found; install the Debian package "
                 f"'{CORPUS_PACKAGE}' (apt-get install -y {CORPUS_PACKAGE}) and rerun")
    with gzip.open(CORPUS_PATH, "rt", encoding="utf-8") as f:
        raw = f.read()
    # ASCII quotes (the File uses curly ones) and plain words for its {cross-reference} markup.
    raw = raw.translate(str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"}))
    raw = re.sub(r"\{([^{}]*)\}", r"\1", raw)
    paragraphs = []
    for block in re.split(r"\n\s*\n", raw):
        lines = [ln.strip() for ln in block.strip("\n").split("\n")]
        text = " ".join(ln for ln in lines if ln)
        text = re.sub(r" {2,}", " ", text)
        if not text or re.search("[\u2500-\u257f]", text):
            continue  # rules and box-drawn tables
        paragraphs.append(text)
    entries = []
    head = re.compile(r"^:(.+?):\s*(.*)$")
    for p in paragraphs:
        m = head.match(p)
        if m:
            entries.append((m.group(1).strip(), m.group(2).strip(), []))
        elif entries:
            entries[-1][2].append(p)
    # Running text: prose paragraphs (the table of contents and headword lists are short lines).
    prose = [p for p in paragraphs if len(p) >= 60 or head.match(p)]
    return prose, entries


def sentences(text):
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", text) if s]


def build_documents(prose, entries, rng):
    """Training documents: plain text, and ChatML conversations built from the same text."""
    docs = []
    # Plain text in chunks of a few paragraphs, in order.
    for i in range(0, len(prose), 4):
        docs.append("\n\n".join(prose[i:i + 4]))
    questions = ["What does \"{t}\" mean?", "What is {t}?", "Define {t}.", "Explain \"{t}\".",
                 "What is meant by {t}?"]
    for term, tag, body in entries:
        defs = [p for p in body if not p.startswith("[")] or body
        if not defs:
            continue
        answer = defs[0] if len(defs[0]) > 80 or len(defs) == 1 else defs[0] + "\n\n" + defs[1]
        answer = answer[:700]
        q = rng.choice(questions).format(t=term)
        docs.append(stok.render_chatml([{"role": "user", "content": q},
                                        {"role": "assistant", "content": f"{term}: {answer}"}],
                                       add_generation_prompt=False))
    # "Continue:" turns: the user gives a sentence, the assistant goes on with the next ones.
    for p in prose:
        ss = sentences(p)
        if len(ss) < 2:
            continue
        k = rng.randrange(0, len(ss) - 1)
        cont = " ".join(ss[k + 1:k + 4])
        docs.append(stok.render_chatml([{"role": "user", "content": "Continue: " + ss[k]},
                                        {"role": "assistant", "content": cont}],
                                       add_generation_prompt=False))
    # A few greetings, so the chat template's usual first message gets a text-like answer.
    hellos = ["Hello!", "Hi!", "Hello! Who are you?", "Who are you?", "Hi, what are you?",
              "Hey there. What can you do?", "Good morning! Who am I talking to?", "What are you?"]
    replies = [
        "I am sluice-tiny, a very small toy language model. I was trained for a few minutes on "
        "the Jargon File, so I know a little hacker slang and not much else.",
        "Hello! I am sluice-tiny, a toy model for testing the sluice gateway. Ask me what a word "
        "of hacker jargon means, but do not trust my answers.",
        "I am a tiny test model. I learned some hacker jargon from the Jargon File.",
    ]
    for _ in range(150):
        docs.append(stok.render_chatml([{"role": "user", "content": rng.choice(hellos)},
                                        {"role": "assistant", "content": rng.choice(replies)}],
                                       add_generation_prompt=False))
    rng.shuffle(docs)
    return docs


# -- model -----------------------------------------------------------------------------------

def build_model(torch, vocab_size, cfg):
    nn = torch.nn
    F = torch.nn.functional
    dim, nh, nkv = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    hd = dim // nh

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["rms_eps"]) * self.weight

    def rope(x, cos, sin):
        # llama.cpp's "normal" rope: rotate adjacent pairs (x[2i], x[2i+1]).
        x = x.reshape(*x.shape[:-1], hd // 2, 2)
        x0, x1 = x[..., 0], x[..., 1]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm = RMSNorm()
            self.wq = nn.Linear(dim, nh * hd, bias=False)
            self.wk = nn.Linear(dim, nkv * hd, bias=False)
            self.wv = nn.Linear(dim, nkv * hd, bias=False)
            self.wo = nn.Linear(nh * hd, dim, bias=False)
            self.ffn_norm = RMSNorm()
            self.w_gate = nn.Linear(dim, cfg["ffn_dim"], bias=False)
            self.w_up = nn.Linear(dim, cfg["ffn_dim"], bias=False)
            self.w_down = nn.Linear(cfg["ffn_dim"], dim, bias=False)

        def forward(self, x, cos, sin, mask):
            B, T, _ = x.shape
            h = self.attn_norm(x)
            q = rope(self.wq(h).view(B, T, nh, hd), cos, sin).transpose(1, 2)
            k = rope(self.wk(h).view(B, T, nkv, hd), cos, sin).transpose(1, 2)
            v = self.wv(h).view(B, T, nkv, hd).transpose(1, 2)
            # Query head j reads KV head j // (nh / nkv), as ggml's broadcast does.
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
            out = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, nh * hd)
            x = x + self.wo(out)
            h = self.ffn_norm(x)
            return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_embd = nn.Embedding(vocab_size, dim)
            self.blocks = nn.ModuleList(Block() for _ in range(cfg["n_layers"]))
            self.norm = RMSNorm()
            self.output = nn.Linear(dim, vocab_size, bias=False)
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * cfg["n_layers"]) if name.endswith(("wo.weight", "w_down.weight")) else 0.02
                    nn.init.normal_(p, 0.0, std)

        def forward(self, idx):
            T = idx.shape[1]
            pos = torch.arange(T, dtype=torch.float32)
            inv = cfg["rope_base"] ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
            ang = pos[:, None] * inv[None, :]
            cos, sin = ang.cos()[:, None, :], ang.sin()[:, None, :]
            mask = torch.full((T, T), float("-inf")).triu(1)
            x = self.tok_embd(idx)
            for b in self.blocks:
                x = b(x, cos, sin, mask)
            return self.output(self.norm(x))

    return Llama()


def gguf_tensors(model, cfg):
    """(name, numpy array in torch order) as llama.cpp names them."""
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    out = [("token_embd.weight", sd["tok_embd.weight"])]
    for i in range(cfg["n_layers"]):
        p = f"blocks.{i}."
        out += [(f"blk.{i}.attn_norm.weight", sd[p + "attn_norm.weight"]),
                (f"blk.{i}.attn_q.weight", sd[p + "wq.weight"]),
                (f"blk.{i}.attn_k.weight", sd[p + "wk.weight"]),
                (f"blk.{i}.attn_v.weight", sd[p + "wv.weight"]),
                (f"blk.{i}.attn_output.weight", sd[p + "wo.weight"]),
                (f"blk.{i}.ffn_norm.weight", sd[p + "ffn_norm.weight"]),
                (f"blk.{i}.ffn_gate.weight", sd[p + "w_gate.weight"]),
                (f"blk.{i}.ffn_up.weight", sd[p + "w_up.weight"]),
                (f"blk.{i}.ffn_down.weight", sd[p + "w_down.weight"])]
    out += [("output_norm.weight", sd["norm.weight"]), ("output.weight", sd["output.weight"])]
    return out


def add_tokenizer_kv(w, tokens, merges):
    ids = {t: i for i, t in enumerate(tokens)}
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_string("tokenizer.ggml.pre", "sluice")
    w.add_array("tokenizer.ggml.tokens", gguf_writer.STRING, tokens)
    w.add_array("tokenizer.ggml.token_type", gguf_writer.INT32,
                [3 if t in stok.SPECIAL_TOKENS else 1 for t in tokens])
    w.add_array("tokenizer.ggml.merges", gguf_writer.STRING, merges)
    w.add_uint32("tokenizer.ggml.bos_token_id", ids["<|endoftext|>"])
    w.add_uint32("tokenizer.ggml.eos_token_id", ids["<|im_end|>"])
    w.add_uint32("tokenizer.ggml.padding_token_id", ids["<|endoftext|>"])
    w.add_bool("tokenizer.ggml.add_bos_token", False)
    w.add_string("tokenizer.chat_template", CHAT_TEMPLATE)


def write_gguf(path, model, cfg, tokens, merges):
    w = gguf_writer.GGUFWriter(path)
    w.add_string("general.architecture", "llama")
    w.add_string("general.name", "sluice-tiny")
    w.add_string("general.license", "public-domain")
    w.add_string("general.description",
                 f"Toy llama model trained on {CORPUS_NAME} (Debian package {CORPUS_PACKAGE}); "
                 "for tests only")
    w.add_uint32("llama.context_length", cfg["context_length"])
    w.add_uint32("llama.embedding_length", cfg["dim"])
    w.add_uint32("llama.block_count", cfg["n_layers"])
    w.add_uint32("llama.feed_forward_length", cfg["ffn_dim"])
    w.add_uint32("llama.attention.head_count", cfg["n_heads"])
    w.add_uint32("llama.attention.head_count_kv", cfg["n_kv_heads"])
    w.add_float32("llama.rope.freq_base", cfg["rope_base"])
    w.add_float32("llama.attention.layer_norm_rms_epsilon", cfg["rms_eps"])
    w.add_uint32("llama.rope.dimension_count", cfg["dim"] // cfg["n_heads"])
    w.add_uint32("llama.vocab_size", len(tokens))
    w.add_uint32("general.file_type", 0)  # all F32
    add_tokenizer_kv(w, tokens, merges)
    for name, arr in gguf_tensors(model, cfg):
        w.add_tensor(name, arr, gguf_writer.GGML_F32)
    w.write()


def f32_list(a):
    return [float(f"{float(v):.9g}") for v in np.asarray(a, dtype=np.float32).ravel()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    ap.add_argument("--steps", type=int, default=TRAIN["steps"])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("error: torch not found; use Debian's python3-torch (/usr/bin/python3)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    t_start = time.time()

    prose, entries = load_corpus()
    docs = build_documents(prose, entries, rng)
    tokens, merges = stok.train_bpe(["\n\n".join(prose)], VOCAB_SIZE)
    tok = stok.Tokenizer(tokens, merges)
    eot = tok.special_ids["<|endoftext|>"]
    stream = []
    for d in docs:
        stream.extend(tok.encode(d))
        stream.append(eot)
    data = torch.tensor(stream, dtype=torch.long)
    print(f"corpus: {len(prose)} paragraphs, {len(entries)} entries, {len(docs)} documents, "
          f"{len(stream)} tokens; vocab {len(tokens)}, {len(merges)} merges "
          f"({time.time() - t_start:.1f}s)", flush=True)

    cfg = CONFIG
    model = build_model(torch, len(tokens), cfg)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": TRAIN["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=TRAIN["lr"], betas=(0.9, 0.95))
    B, T, steps = TRAIN["batch"], TRAIN["seq_len"], args.steps
    gen = torch.Generator().manual_seed(SEED)
    t_train = time.time()
    cpu_train = time.process_time()
    ema = None
    for step in range(steps):
        if step < TRAIN["warmup"]:
            lr = TRAIN["lr"] * (step + 1) / TRAIN["warmup"]
        else:
            r = (step - TRAIN["warmup"]) / max(1, steps - TRAIN["warmup"])
            lr = TRAIN["min_lr"] + 0.5 * (TRAIN["lr"] - TRAIN["min_lr"]) * (1 + math.cos(math.pi * r))
        for g in opt.param_groups:
            g["lr"] = lr
        ix = torch.randint(0, len(data) - T - 1, (B,), generator=gen)
        x = torch.stack([data[i:i + T] for i in ix])
        y = torch.stack([data[i + 1:i + T + 1] for i in ix])
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["grad_clip"])
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d} loss {loss.item():.3f} (avg {ema:.3f}) lr {lr:.2e} "
                  f"{time.time() - t_train:.0f}s", flush=True)
    train_s = time.time() - t_train
    train_cpu_s = time.process_time() - cpu_train
    model.eval()

    # Held-out-ish loss over a fixed slice of the stream (seeded windows, no grad).
    with torch.no_grad():
        g2 = torch.Generator().manual_seed(SEED + 1)
        ix = torch.randint(0, len(data) - T - 1, (32,), generator=g2)
        x = torch.stack([data[i:i + T] for i in ix])
        y = torch.stack([data[i + 1:i + T + 1] for i in ix])
        final_loss = torch.nn.functional.cross_entropy(model(x).view(-1, len(tokens)), y.view(-1)).item()
    print(f"trained {steps} steps in {train_s:.0f}s ({train_cpu_s:.0f}s CPU), final loss {final_loss:.3f}", flush=True)

    os.makedirs(args.out_dir, exist_ok=True)
    gguf_path = os.path.join(args.out_dir, "sluice-tiny.gguf")
    write_gguf(gguf_path, model, cfg, tokens, merges)

    # Golden reference: float32 torch forward over the ChatML prompt, no BOS.
    prompt = stok.render_chatml(GOLDEN_PROMPT_MESSAGES, add_generation_prompt=True)
    ids = tok.encode(prompt)
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0]
        seq = list(ids)
        greedy, margins = [], []
        for _ in range(8):
            last = model(torch.tensor([seq]))[0, -1]
            top2 = torch.topk(last, 2).values
            nxt = int(last.argmax())
            greedy.append(nxt)
            margins.append(float(top2[0] - top2[1]))
            seq.append(nxt)
        sample = list(ids)
        for _ in range(60):
            nxt = int(model(torch.tensor([sample[-cfg["context_length"]:]]))[0, -1].argmax())
            sample.append(nxt)
            if nxt == tok.special_ids["<|im_end|>"]:
                break
    sample_text = tok.decode(sample[len(ids):])
    positions = sorted({0, len(ids) // 2, len(ids) - 1})
    golden = {
        "model": "sluice-tiny.gguf",
        "prompt": prompt,
        "messages": GOLDEN_PROMPT_MESSAGES,
        "add_bos": False,
        "tokens": ids,
        "logits_last": f32_list(logits[-1]),
        "logits_positions": {str(p): f32_list(logits[p]) for p in positions},
        "greedy_next": greedy,
        "greedy_next_text": tok.decode(greedy),
        "greedy_top2_margins": [round(m, 6) for m in margins],
        "tolerance": {
            "abs": 1e-3,
            "note": "max |engine - golden| over every logit, for an F32 engine; reference computed "
                    "in float32 by torch (tools/reference_forward.py in numpy matches it to ~1e-5). "
                    "Greedy tokens must match exactly (see greedy_top2_margins).",
        },
        "tokenizer_cases": [{"text": t, "tokens": tok.encode(t)} for t in TOKENIZER_CASES],
    }
    for c in golden["tokenizer_cases"]:
        assert tok.decode(c["tokens"]) == c["text"], c
    golden_path = os.path.join(args.out_dir, "sluice-tiny.golden.json")
    with open(golden_path, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")

    stats = dict(n_params=n_params, gguf_bytes=os.path.getsize(gguf_path), train_s=train_s, train_cpu_s=train_cpu_s,
                 steps=steps, final_loss=final_loss, n_tokens=len(stream), sample=sample_text,
                 n_merges=len(merges), torch_version=torch.__version__)
    write_card(os.path.join(args.out_dir, "README.md"), cfg, tokens, stats, golden)
    print(json.dumps({k: v for k, v in stats.items()}, indent=1))
    print(f"wrote {gguf_path}, {golden_path}; total {time.time() - t_start:.0f}s")


def write_card(path, cfg, tokens, s, golden):
    hd = cfg["dim"] // cfg["n_heads"]
    pat = stok.PRETOKENIZE_PATTERN.decode("ascii")  # the source text of the pattern, escapes as written
    text = f"""# sluice-tiny

`sluice-tiny.gguf` is a toy llama-architecture model that sluice ships so that tests, benchmarks
of the plumbing and `make run` work with no network and no downloaded weights. It was trained
from scratch for {s['train_cpu_s'] / 60:.1f} minutes of CPU time on one thread ({s['steps']} steps, torch
{s['torch_version']}) on {CORPUS_NAME}, read from the Debian package `{CORPUS_PACKAGE}`
(`{CORPUS_PATH}`), which is in the {CORPUS_LICENSE} (see
`/usr/share/doc/{CORPUS_PACKAGE}/copyright`). The model file is released under the same terms.

**What it is not**: useful. It strings together hacker-jargon-flavoured English, often
ungrammatical, and knows nothing else. Never use it for real answers.

## Shape

| key | value |
| --- | --- |
| architecture | llama (RMSNorm, RoPE "normal" mode: adjacent pairs, SwiGLU, GQA, untied output) |
| embedding_length | {cfg['dim']} |
| block_count | {cfg['n_layers']} |
| attention.head_count / head_count_kv | {cfg['n_heads']} / {cfg['n_kv_heads']} (head dim {hd}) |
| feed_forward_length | {cfg['ffn_dim']} |
| context_length | {cfg['context_length']} (trained on windows of {TRAIN['seq_len']}) |
| rope.freq_base | {cfg['rope_base']:g} |
| layer_norm_rms_epsilon | {cfg['rms_eps']:g} |
| vocab | {len(tokens)} (256 bytes, {len(tokens) - 259} merges, 3 control tokens) |
| parameters | {s['n_params']} |
| tensor type | F32, file {s['gguf_bytes']} bytes |
| final training loss | {s['final_loss']:.3f} (cross-entropy, nats/token) |

Training data: {s['n_tokens']} tokens, mixing the File's running text with ChatML turns built
from it: "What does X mean?" answered with the entry's definition, "Continue: <sentence>"
answered with the following sentences, and a few fixed greetings ("Who are you?" answered with
"I am sluice-tiny, a very small toy language model...").

Greedy answer to the golden prompt ("Hello! Who are you?" through the chat template):

```
{s['sample']}
```

## Tokenizer

`tokenizer.ggml.model = "gpt2"` (byte-level BPE with GPT-2's byte-to-unicode alphabet, merges
as "a b" strings), `tokenizer.ggml.pre = "sluice"`, defined here:

1. Control tokens `<|endoftext|>` ({tokens.index('<|endoftext|>')}), `<|im_start|>`
   ({tokens.index('<|im_start|>')}), `<|im_end|>` ({tokens.index('<|im_end|>')}) are matched
   first, as exact strings anywhere in the text; the pieces between them are encoded as below.
   BOS = `<|endoftext|>` but `add_bos_token` is false: prompts start with no BOS. EOS =
   `<|im_end|>`.
2. The UTF-8 bytes are split with GPT-2's pattern
   `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{{L}}+| ?\\p{{N}}+| ?[^\\s\\p{{L}}\\p{{N}}]+|\\s+(?!\\S)|\\s+`
   read over BYTES, where `\\p{{L}}` = `[A-Za-z]` or any byte >= 0x80 (so every non-ASCII
   character, punctuation and emoji included, counts as letters), `\\p{{N}}` = `[0-9]`, `\\s` =
   exactly the bytes 0x09 0x0A 0x0B 0x0C 0x0D 0x20. Contractions are case-sensitive. Standard
   regex semantics: at each position the first alternative that matches wins, quantifiers are
   greedy and backtrack (`\\s+(?!\\S)` leaves the last space of a run before a word to ` ?\\p{{L}}+`).
   As a Python bytes regex: `{pat}`
3. Each piece's bytes map to GPT-2's byte-to-unicode characters; merges are applied by rank
   (lowest first, leftmost on ties) until none applies; symbols map to ids. Byte tokens are ids
   0-255 in byte order, so every byte sequence encodes.

`sluice-tiny.golden.json` holds exact ids for {len(golden['tokenizer_cases'])} tokenizer cases
(ASCII, digits, punctuation, whitespace runs, newlines, é, 日本, emoji, control tokens).

## Golden logits

`sluice-tiny.golden.json`: the prompt, its token ids, the float32 logits at positions
{', '.join(golden['logits_positions'])} and at the last position, and the 8 greedy next tokens.
An F32 engine must match every logit within **{golden['tolerance']['abs']:g} absolute** and the
greedy tokens exactly. `tools/reference_forward.py` (numpy) reproduces the logits from the GGUF.

## Regenerate

```
apt-get install -y python3-torch python3-numpy libopenblas0-serial {CORPUS_PACKAGE}
nice -n 10 /usr/bin/python3 tools/train_tiny_llama.py      # ~{s['train_cpu_s'] / 60 + 0.5:.0f} min of CPU, one thread
/usr/bin/python3 tools/reference_forward.py --gguf models/sluice-tiny.gguf --check-golden models/sluice-tiny.golden.json
```

Seeded: the same torch build and BLAS reproduce the same file. Another torch, BLAS or CPU may
differ in the last bits, so regenerate the golden file together with the model, never alone.
Training used OpenBLAS (`libopenblas0-serial`); Debian's reference BLAS gives the same
computation about four times slower.

`tokenizer.ggml.pre = "sluice"` is this project's name for the split above; llama.cpp does not
know it and refuses to load the file. For a llama.cpp comparison use
`tools/make_random_gguf.py --pre gpt2` (its split differs from ours on non-ASCII text).
"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
