// The two tokenizers of llama.cpp's llama-vocab.cpp (llm_tokenizer_bpe, llm_tokenizer_spm) and the
// pre-tokenizer splits of its unicode.cpp, over the vocabulary stored in the GGUF file.

#include "tokenizer.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <limits>
#include <queue>
#include <variant>

namespace sluice::lm {
namespace {

// ---- UTF-8 ----------------------------------------------------------------------------------

// One character of possibly invalid UTF-8: a valid sequence, or a single byte that is not one.
struct unit {
    std::size_t len;
    std::uint32_t cp; // invalid_cp for a stray byte
};
constexpr std::uint32_t invalid_cp = 0xFFFFFFFF;

unit next_unit(std::string_view s, std::size_t pos) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[pos + i]); };
    const unsigned char c = b(0);
    if (c < 0x80) return {1, c};
    std::size_t len;
    std::uint32_t cp;
    unsigned char lo = 0x80, hi = 0xBF; // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return {1, invalid_cp};
    if (pos + len > s.size()) return {1, invalid_cp};
    for (std::size_t i = 1; i < len; ++i) {
        const unsigned char x = b(i);
        if (x < (i == 1 ? lo : 0x80) || x > (i == 1 ? hi : 0xBF)) return {1, invalid_cp};
        cp = (cp << 6) | (x & 0x3F);
    }
    return {len, cp};
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

constexpr std::string_view spm_space = "\xE2\x96\x81"; // U+2581, SentencePiece's space

// ---- GPT-2 byte <-> code point map -------------------------------------------------------------

// Printable bytes stand for themselves; the others map to 256, 257, ... in byte order.
struct byte_map {
    std::array<std::uint32_t, 256> to_cp{};
    std::unordered_map<std::uint32_t, unsigned char> to_byte;
    std::array<std::string, 256> text; // UTF-8 of to_cp

    byte_map() {
        std::uint32_t next = 256;
        for (unsigned b = 0; b < 256; ++b) {
            const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
            to_cp[b] = printable ? b : next++;
            to_byte[to_cp[b]] = static_cast<unsigned char>(b);
            append_utf8(text[b], to_cp[b]);
        }
    }
};

const byte_map& bytes_map() {
    static const byte_map m;
    return m;
}

// ---- character classes for the pre-tokenizers ---------------------------------------------------

struct cls {
    bool letter = false, number = false, space = false, any = false; // any: a character at all
};

bool ascii_space(std::uint32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// The "sluice" pre-tokenizer (models/README.md): ASCII letters and every byte >= 0x80 are letters,
// [0-9] are digits; stray bytes >= 0x80 are letters too.
cls sluice_class(std::uint32_t c, std::uint8_t first_byte) {
    cls k;
    k.any = true;
    if (first_byte >= 0x80) k.letter = true;
    else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k.letter = true;
    else if (c >= '0' && c <= '9') k.number = true;
    else if (ascii_space(c)) k.space = true;
    return k;
}

// Unicode's \p{L}, \p{N} and \s, approximated with the ranges that matter for text models: ASCII
// exactly, Latin-1's punctuation and symbols, the general punctuation / symbol / emoji blocks and
// the common digit sets; any other code point counts as a letter.
cls unicode_class(std::uint32_t c) {
    cls k;
    k.any = true;
    if (c == invalid_cp) return k; // a stray byte: punctuation-like
    if (c < 0x80) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k.letter = true;
        else if (c >= '0' && c <= '9') k.number = true;
        else if (ascii_space(c)) k.space = true;
        return k;
    }
    if (c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
        c == 0x202F || c == 0x205F || c == 0x3000) {
        k.space = true;
        return k;
    }
    const auto in = [c](std::uint32_t a, std::uint32_t b) { return c >= a && c <= b; };
    if (c == 0xB2 || c == 0xB3 || c == 0xB9 || in(0xBC, 0xBE) || in(0x660, 0x669) || in(0x6F0, 0x6F9) ||
        in(0x966, 0x96F) || in(0x2070, 0x2079) || in(0x2080, 0x2089) || in(0x2150, 0x2189) ||
        in(0x2460, 0x249B) || in(0xFF10, 0xFF19)) {
        k.number = true;
        return k;
    }
    const bool other = in(0x80, 0xBF) || c == 0xD7 || c == 0xF7 || in(0x2B9, 0x36F) || in(0x2000, 0x2BFF) ||
                       in(0x2E00, 0x2E7F) || in(0x3000, 0x303F) || in(0xE000, 0xF8FF) || in(0xFE00, 0xFE6F) ||
                       in(0xFF00, 0xFF0F) || in(0xFF1A, 0xFF20) || in(0xFF3B, 0xFF40) || in(0xFF5B, 0xFF65) ||
                       in(0xFFF0, 0xFFFF) || in(0x1F000, 0x1FAFF) || in(0xE0000, 0xE007F);
    const bool latin1_letter = c == 0xAA || c == 0xB5 || c == 0xBA;
    k.letter = latin1_letter || !other;
    return k;
}

// The text as units with their classes; positions past the end read as "no character".
class units {
public:
    units(std::string_view text, bool sluice) : text_(text) {
        for (std::size_t pos = 0; pos < text.size();) {
            const auto u = next_unit(text, pos);
            offsets_.push_back(pos);
            cps_.push_back(u.cp);
            classes_.push_back(sluice ? sluice_class(u.cp, static_cast<std::uint8_t>(text[pos])) : unicode_class(u.cp));
            pos += u.len;
        }
        offsets_.push_back(text.size());
    }
    std::size_t size() const { return cps_.size(); }
    std::uint32_t cp(std::size_t i, std::size_t end) const { return i < end ? cps_[i] : invalid_cp - 1; }
    cls at(std::size_t i, std::size_t end) const { return i < end ? classes_[i] : cls{}; }
    std::string_view slice(std::size_t a, std::size_t b) const { return text_.substr(offsets_[a], offsets_[b] - offsets_[a]); }

private:
    std::string_view text_;
    std::vector<std::size_t> offsets_;
    std::vector<std::uint32_t> cps_;
    std::vector<cls> classes_;
};

constexpr std::uint32_t out_of_range = invalid_cp - 1;

std::uint32_t lower(std::uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// 's|'t|'re|'ve|'m|'ll|'d (case-insensitive when asked): the length matched, or 0.
std::size_t contraction(const units& u, std::size_t pos, std::size_t end, bool any_case) {
    if (u.cp(pos, end) != '\'') return 0;
    const auto f = [&](std::size_t i) { return any_case ? lower(u.cp(i, end)) : u.cp(i, end); };
    const auto a = f(pos + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    const auto b = f(pos + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ over [begin, end).
void split_gpt2(const units& u, std::size_t begin, std::size_t end, std::vector<std::string_view>& words) {
    std::size_t start = begin;
    const auto emit = [&](std::size_t to) {
        words.push_back(u.slice(start, to));
        start = to;
    };
    for (std::size_t pos = begin; pos < end;) {
        if (const auto n = contraction(u, pos, end, false)) {
            emit(pos += n);
            continue;
        }
        const std::uint32_t c = u.cp(pos, end);
        auto k = c == ' ' ? u.at(pos + 1, end) : u.at(pos, end);
        if (k.letter || k.number) {
            const bool letter = k.letter;
            pos += c == ' ';
            while (letter ? u.at(pos, end).letter : u.at(pos, end).number) ++pos;
            emit(pos);
            continue;
        }
        if (!(k.space || k.letter || k.number) && k.any) {
            pos += c == ' ';
            for (k = u.at(pos, end); !(k.space || k.letter || k.number) && k.any; k = u.at(++pos, end)) {}
            emit(pos);
            continue;
        }
        std::size_t spaces = 0;
        while (u.at(pos + spaces, end).space) ++spaces;
        if (spaces > 1 && u.cp(pos + spaces, end) != out_of_range) {
            emit(pos += spaces - 1); // \s+(?!\S): leave the last space to the next word
            continue;
        }
        if (spaces > 0) {
            emit(pos += spaces);
            continue;
        }
        emit(++pos);
    }
}

// Llama 3 / Qwen2: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const units& u, std::size_t begin, std::size_t end, std::size_t max_digits,
                  std::vector<std::string_view>& words) {
    std::size_t start = begin;
    const auto emit = [&](std::size_t to) {
        if (to > start) words.push_back(u.slice(start, to));
        start = to;
    };
    for (std::size_t pos = begin; pos < end;) {
        if (const auto n = contraction(u, pos, end, true)) {
            emit(pos += n);
            continue;
        }
        const std::uint32_t c = u.cp(pos, end);
        const auto k = u.at(pos, end);
        if (!(c == '\r' || c == '\n' || k.number) && (k.letter || u.at(pos + 1, end).letter)) {
            ++pos;
            while (u.at(pos, end).letter) ++pos;
            emit(pos);
            continue;
        }
        if (k.number) {
            std::size_t run = 0;
            while (u.at(pos, end).number) {
                ++pos;
                if (++run == max_digits) {
                    emit(pos);
                    run = 0;
                }
            }
            emit(pos);
            continue;
        }
        auto k2 = c == ' ' ? u.at(pos + 1, end) : k;
        if (!(k2.space || k2.letter || k2.number) && k2.any) {
            pos += c == ' ';
            for (k2 = u.at(pos, end); !(k2.space || k2.letter || k2.number) && k2.any; k2 = u.at(++pos, end)) {}
            while (u.cp(pos, end) == '\r' || u.cp(pos, end) == '\n') ++pos;
            emit(pos);
            continue;
        }
        std::size_t spaces = 0, last_newline_end = 0;
        while (u.at(pos + spaces, end).space) {
            const auto c2 = u.cp(pos + spaces, end);
            if (c2 == '\r' || c2 == '\n') last_newline_end = pos + spaces + 1;
            ++spaces;
        }
        if (last_newline_end > 0) {
            emit(pos = last_newline_end); // \s*[\r\n]+
            continue;
        }
        if (spaces > 1 && u.cp(pos + spaces, end) != out_of_range) {
            emit(pos += spaces - 1);
            continue;
        }
        if (spaces > 0) {
            emit(pos += spaces);
            continue;
        }
        emit(++pos);
    }
}

std::vector<std::string_view> pre_split_words(std::string_view text, tokenizer::pre_split pre) {
    using ps = tokenizer::pre_split;
    const units u(text, pre == ps::sluice);
    std::vector<std::string_view> words;
    switch (pre) {
    case ps::gpt2:
    case ps::sluice: split_gpt2(u, 0, u.size(), words); break;
    case ps::qwen2: split_llama3(u, 0, u.size(), 1, words); break;
    case ps::llama3: split_llama3(u, 0, u.size(), 3, words); break;
    case ps::smollm: {
        // \p{N} first: each digit is a word of its own, the text between goes through GPT-2's split.
        std::size_t from = 0;
        for (std::size_t i = 0; i <= u.size(); ++i) {
            if (i == u.size() || u.at(i, u.size()).number) {
                split_gpt2(u, from, i, words);
                if (i < u.size()) words.push_back(u.slice(i, i + 1));
                from = i + 1;
            }
        }
        break;
    }
    }
    return words;
}

// ---- merging ------------------------------------------------------------------------------------

// A doubly linked list of symbols over one word, as in llama.cpp's llm_symbol.
struct symbol {
    int prev, next;
    std::size_t start, len; // into the word
};

struct bigram {
    int left, right;
    double priority; // larger pops first: the score (spm) or minus the rank (bpe)
    std::size_t size;
};

struct bigram_order {
    bool operator()(const bigram& a, const bigram& b) const {
        return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
    }
};

// Merges adjacent symbols while `priority_of(left, right, priority)` accepts the pair, best pair
// first (ties: the leftmost), and returns the symbols left.
template <class Priority>
std::vector<symbol> merge_symbols(std::string_view word, const std::vector<std::size_t>& cuts, Priority priority_of) {
    std::vector<symbol> syms;
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        syms.push_back({static_cast<int>(i) - 1, static_cast<int>(i) + 1, cuts[i], cuts[i + 1] - cuts[i]});
    }
    if (!syms.empty()) syms.back().next = -1;
    std::priority_queue<bigram, std::vector<bigram>, bigram_order> queue;
    const auto try_add = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const auto& l = syms[static_cast<std::size_t>(left)];
        const auto& r = syms[static_cast<std::size_t>(right)];
        double p;
        if (priority_of(word.substr(l.start, l.len), word.substr(r.start, r.len), p)) {
            queue.push({left, right, p, l.len + r.len});
        }
    };
    for (std::size_t i = 1; i < syms.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));
    while (!queue.empty()) {
        const auto b = queue.top();
        queue.pop();
        auto& l = syms[static_cast<std::size_t>(b.left)];
        auto& r = syms[static_cast<std::size_t>(b.right)];
        // Stale: one side was merged away or grew since this pair was queued.
        if (l.len == 0 || r.len == 0 || l.len + r.len != b.size || l.next != b.right) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[static_cast<std::size_t>(r.next)].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }
    std::vector<symbol> out;
    for (int i = syms.empty() ? -1 : 0; i >= 0; i = syms[static_cast<std::size_t>(i)].next) {
        out.push_back(syms[static_cast<std::size_t>(i)]);
    }
    return out;
}

std::vector<std::int64_t> int_array(const gguf_file& f, std::string_view key) {
    const auto* v = f.find(key);
    if (!v) return {};
    if (const auto* a = std::get_if<std::vector<std::int64_t>>(v)) return *a;
    throw format_error("key " + std::string(key) + " is not an integer array");
}

} // namespace

// ---- loading ------------------------------------------------------------------------------------

tokenizer tokenizer::from_gguf(const gguf_file& f) {
    tokenizer t;
    const auto model = f.get_string("tokenizer.ggml.model");
    if (model == "gpt2") t.kind_ = kind::gpt2;
    else if (model == "llama") t.kind_ = kind::llama;
    else throw format_error("unsupported tokenizer model '" + model + "' (supported: gpt2, llama)");

    const auto* tokens = f.find("tokenizer.ggml.tokens");
    if (!tokens) throw format_error("missing key tokenizer.ggml.tokens");
    const auto* list = std::get_if<std::vector<std::string>>(tokens);
    if (!list || list->empty()) throw format_error("key tokenizer.ggml.tokens is not a non-empty string array");
    if (list->size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
        throw format_error("tokenizer.ggml.tokens is too large");
    }
    t.texts_ = *list;
    const auto n = t.texts_.size();

    t.scores_.assign(n, 0.0f);
    if (const auto* v = f.find("tokenizer.ggml.scores")) {
        const auto* s = std::get_if<std::vector<double>>(v);
        if (!s || s->size() != n) throw format_error("tokenizer.ggml.scores must be " + std::to_string(n) + " floats");
        // A NaN would break the merge queue's ordering: it ranks last instead.
        std::transform(s->begin(), s->end(), t.scores_.begin(), [](double d) {
            return d == d ? static_cast<float>(d) : -std::numeric_limits<float>::infinity();
        });
    }
    t.types_.assign(n, normal);
    if (f.find("tokenizer.ggml.token_type")) {
        const auto types = int_array(f, "tokenizer.ggml.token_type");
        if (types.size() != n) throw format_error("tokenizer.ggml.token_type must be " + std::to_string(n) + " integers");
        std::transform(types.begin(), types.end(), t.types_.begin(),
                       [](std::int64_t x) { return static_cast<std::uint8_t>(x >= 0 && x <= 6 ? x : 0); });
    }
    for (std::size_t i = 0; i < n; ++i) t.ids_[t.texts_[i]] = static_cast<std::int32_t>(i); // the last one wins, as in llama.cpp

    const auto token_id = [&](std::string_view key, std::int32_t fallback) {
        const auto v = f.get_uint(key, fallback < 0 ? std::uint64_t{0xFFFFFFFF} : static_cast<std::uint64_t>(fallback));
        if (v == 0xFFFFFFFF) return std::int32_t{-1};
        if (v >= n) throw format_error("key " + std::string(key) + " is " + std::to_string(v) + ", not a token id");
        return static_cast<std::int32_t>(v);
    };
    const bool spm = t.kind_ == kind::llama;
    t.bos_ = token_id("tokenizer.ggml.bos_token_id", spm && n > 1 ? 1 : -1);
    t.eos_ = token_id("tokenizer.ggml.eos_token_id", spm && n > 2 ? 2 : -1);
    t.unk_ = token_id("tokenizer.ggml.unknown_token_id", spm ? 0 : -1);
    t.eot_ = token_id("tokenizer.ggml.eot_token_id", -1);
    const auto eom = token_id("tokenizer.ggml.eom_token_id", -1);
    t.add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token", spm);
    t.add_space_prefix_ = f.get_bool("tokenizer.ggml.add_space_prefix", spm);

    t.byte_tokens_.assign(256, -1);
    if (spm) {
        for (unsigned b = 0; b < 256; ++b) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "<0x%02X>", b);
            t.byte_tokens_[b] = t.find(hex);
        }
    } else {
        const auto pre = f.get_string("tokenizer.ggml.pre", "gpt2");
        if (pre == "gpt2" || pre == "default") t.pre_ = pre_split::gpt2;
        else if (pre == "sluice") t.pre_ = pre_split::sluice;
        else if (pre == "qwen2" || pre == "qwen2.5" || pre == "qwen-2.5" || pre == "deepseek-r1-qwen") t.pre_ = pre_split::qwen2;
        else if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe") t.pre_ = pre_split::llama3;
        else if (pre == "smollm" || pre == "starcoder" || pre == "refact") t.pre_ = pre_split::smollm;
        else throw format_error("unsupported pre-tokenizer '" + pre + "' (supported: gpt2, sluice, qwen2, llama3, smollm)");
        t.ignore_merges_ = t.pre_ == pre_split::llama3;

        const auto* merges = f.find("tokenizer.ggml.merges");
        if (!merges) throw format_error("missing key tokenizer.ggml.merges");
        const auto* m = std::get_if<std::vector<std::string>>(merges);
        if (!m) throw format_error("key tokenizer.ggml.merges is not a string array");
        for (std::size_t i = 0; i < m->size(); ++i) {
            const auto& text = (*m)[i];
            if (text.find(' ', 1) == std::string::npos) throw format_error("merge " + std::to_string(i) + " has no space: '" + text + "'");
            t.merge_ranks_.emplace(text, static_cast<std::int32_t>(std::min<std::size_t>(i, 0x7FFFFFFF)));
        }
        const auto& bm = bytes_map();
        for (unsigned b = 0; b < 256; ++b) t.byte_tokens_[b] = t.find(bm.text[b]);
    }

    for (std::size_t i = 0; i < n; ++i) {
        const auto type = t.types_[i];
        if ((type == control || type == user_defined || type == unknown) && !t.texts_[i].empty()) {
            t.specials_.push_back(static_cast<std::int32_t>(i));
        }
    }
    std::stable_sort(t.specials_.begin(), t.specials_.end(), [&](std::int32_t a, std::int32_t b) {
        return t.texts_[static_cast<std::size_t>(a)].size() > t.texts_[static_cast<std::size_t>(b)].size();
    });

    for (const auto id : {t.eos_, t.eot_, eom}) {
        if (id >= 0) t.end_of_generation_.push_back(id);
    }
    for (const char* text : {"<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>", "<|eom_id|>", "<|end|>",
                             "<end_of_turn>", "<EOT>"}) {
        if (const auto id = t.find(text); id >= 0) t.end_of_generation_.push_back(id);
    }
    return t;
}

std::int32_t tokenizer::find(std::string_view text) const {
    const auto it = ids_.find(std::string(text));
    return it == ids_.end() ? -1 : it->second;
}

const std::string& tokenizer::text(std::int32_t id) const {
    static const std::string none;
    return id >= 0 && static_cast<std::size_t>(id) < texts_.size() ? texts_[static_cast<std::size_t>(id)] : none;
}

std::uint8_t tokenizer::type_of(std::int32_t id) const {
    return id >= 0 && static_cast<std::size_t>(id) < types_.size() ? types_[static_cast<std::size_t>(id)] : 0;
}

bool tokenizer::is_end_of_generation(std::int32_t id) const {
    return id >= 0 && std::find(end_of_generation_.begin(), end_of_generation_.end(), id) != end_of_generation_.end();
}

// ---- encoding -----------------------------------------------------------------------------------

std::vector<std::int32_t> tokenizer::encode(std::string_view text, bool parse_special) const {
    // Split out the special tokens, longest first, as llama.cpp's tokenizer_st_partition does.
    using fragment = std::variant<std::string_view, std::int32_t>;
    std::vector<fragment> fragments{text};
    for (const auto id : specials_) {
        const auto type = types_[static_cast<std::size_t>(id)];
        if (!parse_special && type != user_defined) continue;
        const std::string_view special = texts_[static_cast<std::size_t>(id)];
        std::vector<fragment> next;
        for (const auto& f : fragments) {
            const auto* raw = std::get_if<std::string_view>(&f);
            if (!raw) {
                next.push_back(f);
                continue;
            }
            std::string_view rest = *raw;
            for (auto at = rest.find(special); at != std::string_view::npos; at = rest.find(special)) {
                if (at > 0) next.emplace_back(rest.substr(0, at));
                next.emplace_back(id);
                rest.remove_prefix(at + special.size());
            }
            if (!rest.empty()) next.emplace_back(rest);
        }
        fragments = std::move(next);
    }

    std::vector<std::int32_t> out;
    bool after_special = true; // the start of the text counts, for the SentencePiece space prefix
    for (const auto& f : fragments) {
        if (const auto* id = std::get_if<std::int32_t>(&f)) {
            out.push_back(*id);
            after_special = true;
        } else {
            encode_text(std::get<std::string_view>(f), after_special, out);
            after_special = false;
        }
    }
    return out;
}

void tokenizer::encode_text(std::string_view text, bool after_special, std::vector<std::int32_t>& out) const {
    if (text.empty()) return;
    if (kind_ == kind::llama) {
        std::string s;
        if (add_space_prefix_ && after_special) s += spm_space;
        for (const char c : text) {
            if (c == ' ') s += spm_space;
            else s += c;
        }
        encode_spm(s, out);
        return;
    }
    for (const auto word : pre_split_words(text, pre_)) encode_bpe_word(word, out);
}

void tokenizer::encode_spm(std::string_view text, std::vector<std::int32_t>& out) const {
    std::vector<std::size_t> cuts;
    for (std::size_t pos = 0; pos < text.size(); pos += next_unit(text, pos).len) cuts.push_back(pos);
    cuts.push_back(text.size());
    std::string key;
    const auto score_of = [&](std::string_view left, std::string_view right, double& priority) {
        key.assign(left).append(right);
        const auto it = ids_.find(key);
        if (it == ids_.end()) return false;
        const auto type = types_[static_cast<std::size_t>(it->second)];
        if (type != normal && type != user_defined && type != 0) return false; // never merge into <s>, <0x41>...
        priority = scores_[static_cast<std::size_t>(it->second)];
        return true;
    };
    for (const auto& s : merge_symbols(text, cuts, score_of)) {
        const auto piece = text.substr(s.start, s.len);
        key.assign(piece);
        if (const auto it = ids_.find(key); it != ids_.end()) {
            out.push_back(it->second);
            continue;
        }
        // Byte fallback: each byte of a piece the vocabulary lacks is a <0xNN> token.
        for (const char c : piece) {
            const auto id = byte_tokens_[static_cast<unsigned char>(c)];
            if (id >= 0) out.push_back(id);
            else if (unk_ >= 0) out.push_back(unk_);
        }
    }
}

void tokenizer::encode_bpe_word(std::string_view word, std::vector<std::int32_t>& out) const {
    const auto& bm = bytes_map();
    std::string mapped;
    std::vector<std::size_t> cuts;
    for (const char c : word) {
        cuts.push_back(mapped.size());
        mapped += bm.text[static_cast<unsigned char>(c)];
    }
    cuts.push_back(mapped.size());
    if (ignore_merges_) {
        if (const auto it = ids_.find(mapped); it != ids_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    std::string key;
    const auto rank_of = [&](std::string_view left, std::string_view right, double& priority) {
        key.assign(left).append(1, ' ').append(right); // merges are stored as "left right"
        const auto it = merge_ranks_.find(key);
        if (it == merge_ranks_.end()) return false;
        priority = -static_cast<double>(it->second);
        return true;
    };
    const std::string_view text = mapped;
    for (const auto& s : merge_symbols(text, cuts, rank_of)) {
        key.assign(text.substr(s.start, s.len));
        if (const auto it = ids_.find(key); it != ids_.end()) {
            out.push_back(it->second);
            continue;
        }
        // A symbol the vocabulary lacks: one token per byte (each byte's code point is a token in
        // every byte-level vocabulary).
        for (std::size_t pos = s.start; pos < s.start + s.len;) {
            const auto u = next_unit(text, pos);
            const auto b = bm.to_byte.find(u.cp);
            const auto id = b == bm.to_byte.end() ? -1 : byte_tokens_[b->second];
            if (id >= 0) out.push_back(id);
            else if (unk_ >= 0) out.push_back(unk_);
            pos += u.len;
        }
    }
}

// ---- decoding -----------------------------------------------------------------------------------

std::string tokenizer::piece(std::int32_t id) const {
    const auto type = type_of(id);
    if (id < 0 || static_cast<std::size_t>(id) >= texts_.size() || type == control) return {};
    const std::string& t = texts_[static_cast<std::size_t>(id)];
    if (type == byte) {
        unsigned v = 0;
        if (t.size() == 6 && std::sscanf(t.c_str(), "<0x%2X>", &v) == 1) return std::string(1, static_cast<char>(v));
        return t;
    }
    if (type == user_defined) {
        if (kind_ == kind::gpt2) return t;
    }
    std::string out;
    if (kind_ == kind::llama) {
        for (std::size_t pos = 0; pos < t.size();) {
            if (t.compare(pos, spm_space.size(), spm_space) == 0) {
                out += ' ';
                pos += spm_space.size();
            } else out += t[pos++];
        }
        return out;
    }
    const auto& bm = bytes_map();
    for (std::size_t pos = 0; pos < t.size();) {
        const auto u = next_unit(t, pos);
        const auto b = bm.to_byte.find(u.cp);
        if (b != bm.to_byte.end()) out += static_cast<char>(b->second);
        else out.append(t, pos, u.len); // not a byte-level code point: as stored
        pos += u.len;
    }
    return out;
}

std::string tokenizer::decode(std::span<const std::int32_t> ids) const {
    std::string out;
    bool first = true;
    for (const auto id : ids) {
        auto p = piece(id);
        if (type_of(id) == control) continue;
        if (first && kind_ == kind::llama && add_space_prefix_ && !p.empty() && p[0] == ' ') p.erase(0, 1);
        first = false;
        out += p;
    }
    return out;
}

// ---- utf8_streamer ------------------------------------------------------------------------------

std::string utf8_streamer::push(std::string_view piece) {
    pending_.append(piece);
    std::string out;
    std::size_t pos = 0;
    while (pos < pending_.size()) {
        const auto u = next_unit(pending_, pos);
        if (u.cp != invalid_cp) {
            out.append(pending_, pos, u.len);
            pos += u.len;
            continue;
        }
        // Invalid here: either a sequence cut short by the end of what we have (wait for more) or
        // bytes that can never be a character (replace).
        const auto c = static_cast<unsigned char>(pending_[pos]);
        std::size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
        const std::size_t have = pending_.size() - pos;
        if (need > have) {
            // Every byte so far must fit a valid sequence: test by padding with a continuation byte
            // the lead byte allows.
            std::string probe = pending_.substr(pos);
            const unsigned char second_lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
            probe.push_back(static_cast<char>(have == 1 ? second_lo : 0x80));
            while (probe.size() < need) probe.push_back(static_cast<char>(0x80));
            if (next_unit(probe, 0).cp != invalid_cp) break; // a valid prefix: hold it
        }
        out += "\xEF\xBF\xBD";
        ++pos;
    }
    pending_.erase(0, pos);
    return out;
}

std::string utf8_streamer::flush() {
    std::string out = pending_.empty() ? "" : "\xEF\xBF\xBD";
    pending_.clear();
    return out;
}

} // namespace sluice::lm
