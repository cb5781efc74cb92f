"""Byte-level BPE tokenizer of the sluice tiny model (pure Python, no dependencies).

Encoding, exactly (the C++ tokenizer must do the same to get the same ids):
  1. Special tokens (<|endoftext|>, <|im_start|>, <|im_end|>) are matched first, leftmost in the
     text, and become their single control id; the text between them is encoded as below.
  2. Pre-tokenization on the UTF-8 bytes with PRETOKENIZE_PATTERN: GPT-2's split where a "letter"
     is A-Z, a-z or ANY byte >= 0x80, a "digit" is 0-9 and whitespace is exactly the six bytes
     0x20 0x09 0x0A 0x0B 0x0C 0x0D. Alternatives are tried in order at each position (regex
     leftmost-first, greedy quantifiers, `(?!\\S)` = not followed by a non-whitespace byte).
  3. Each piece is mapped byte by byte to GPT-2's byte-to-unicode alphabet and merged with the
     ranked merges (lowest rank first, leftmost on ties), then each symbol maps to its token id.
"""

import heapq
import re

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_WS = rb"\t\n\x0b\x0c\r "
PRETOKENIZE_PATTERN = (
    rb"'s|'t|'re|'ve|'m|'ll|'d"
    rb"| ?[A-Za-z\x80-\xff]+"
    rb"| ?[0-9]+"
    rb"| ?[^" + _WS + rb"A-Za-z0-9\x80-\xff]+"
    rb"|[" + _WS + rb"]+(?![^" + _WS + rb"])"
    rb"|[" + _WS + rb"]+"
)
_PRETOKENIZE_RE = re.compile(PRETOKENIZE_PATTERN)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character mapping."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_UNICODE = bytes_to_unicode()
UNICODE_TO_BYTE = {c: b for b, c in BYTE_TO_UNICODE.items()}


def pretokenize(data):
    """Split UTF-8 bytes into pieces (bytes)."""
    return _PRETOKENIZE_RE.findall(data)


def _to_symbols(piece):
    return [BYTE_TO_UNICODE[b] for b in piece]


def train_bpe(texts, vocab_size, min_frequency=2):
    """Train merges on an iterable of str. Returns (tokens, merges).

    tokens: ids 0..255 are the single bytes (by byte value), then merge results in training
    order, then SPECIAL_TOKENS. Deterministic: ties broken by the smaller pair."""
    word_counts = {}
    for text in texts:
        for piece in pretokenize(text.encode("utf-8")):
            word_counts[piece] = word_counts.get(piece, 0) + 1
    words = [_to_symbols(w) for w in sorted(word_counts)]
    counts = [word_counts[w] for w in sorted(word_counts)]

    pair_counts = {}
    pair_where = {}

    def add_word(i, sign):
        w = words[i]
        for a, b in zip(w, w[1:]):
            p = (a, b)
            pair_counts[p] = pair_counts.get(p, 0) + sign * counts[i]
            if sign > 0:
                pair_where.setdefault(p, set()).add(i)

    for i in range(len(words)):
        add_word(i, +1)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)

    tokens = [BYTE_TO_UNICODE[b] for b in range(256)]
    known = set(tokens)
    merges = []
    target = vocab_size - len(SPECIAL_TOKENS)
    while len(tokens) < target and heap:
        negc, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negc:
            continue  # stale entry
        if -negc < min_frequency:
            break
        a, b = pair
        merged = a + b
        merges.append(f"{a} {b}")
        if merged not in known:
            known.add(merged)
            tokens.append(merged)
        touched = set()
        for i in sorted(pair_where.pop(pair, ())):
            w = words[i]
            if len(w) < 2:
                continue
            add_word(i, -1)
            out = []
            j = 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(merged)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            add_word(i, +1)
            for p in zip(out, out[1:]):
                touched.add(p)
        pair_counts.pop(pair, None)
        for p in touched:
            c = pair_counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
    tokens.extend(SPECIAL_TOKENS)
    return tokens, merges


class Tokenizer:
    def __init__(self, tokens, merges):
        self.tokens = list(tokens)
        self.token_to_id = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {}
        for r, m in enumerate(merges):
            a, b = m.split(" ")
            self.ranks.setdefault((a, b), r)
        self.special_ids = {t: self.token_to_id[t] for t in SPECIAL_TOKENS if t in self.token_to_id}
        self._special_re = re.compile("|".join(re.escape(t) for t in self.special_ids)) \
            if self.special_ids else None
        self._cache = {}

    def _bpe(self, piece):
        hit = self._cache.get(piece)
        if hit is not None:
            return hit
        syms = _to_symbols(piece)
        while len(syms) > 1:
            best = None
            for j in range(len(syms) - 1):
                r = self.ranks.get((syms[j], syms[j + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, j)
            if best is None:
                break
            a, b = syms[best[1]], syms[best[1] + 1]
            out = []
            j = 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == a and syms[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            syms = out
        ids = [self.token_to_id[s] for s in syms]
        self._cache[piece] = ids
        return ids

    def encode_ordinary(self, text):
        ids = []
        for piece in pretokenize(text.encode("utf-8")):
            ids.extend(self._bpe(piece))
        return ids

    def encode(self, text):
        """Encode with special tokens recognised in the text."""
        if self._special_re is None:
            return self.encode_ordinary(text)
        ids = []
        pos = 0
        for m in self._special_re.finditer(text):
            ids.extend(self.encode_ordinary(text[pos:m.start()]))
            ids.append(self.special_ids[m.group(0)])
            pos = m.end()
        ids.extend(self.encode_ordinary(text[pos:]))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in self.special_ids:
                out += t.encode("utf-8")
            else:
                out += bytes(UNICODE_TO_BYTE[c] for c in t)
        return out.decode("utf-8", errors="replace")


def render_chatml(messages, add_generation_prompt=True):
    """What tokenizer.chat_template renders for these messages."""
    s = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    if add_generation_prompt:
        s += "<|im_start|>assistant\n"
    return s
