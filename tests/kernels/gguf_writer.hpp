#pragma once
// A small GGUF writer for tests: metadata of every kind the loader reads, tensors with given bytes,
// raw key bytes for hostile files, and tiny vocabularies of both tokenizer kinds.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::test {

class gguf_writer {
public:
    // GGUF value types.
    enum : std::uint32_t { t_u8 = 0, t_i8, t_u16, t_i16, t_u32, t_i32, t_f32, t_bool, t_string, t_array, t_u64, t_i64, t_f64 };

    std::uint32_t version = 3;
    std::uint64_t alignment = 32; // written as general.alignment only when not 32

    gguf_writer& add_u32(std::string_view key, std::uint32_t v) { return add(key, t_u32, bytes_of(v)); }
    gguf_writer& add_u64(std::string_view key, std::uint64_t v) { return add(key, t_u64, bytes_of(v)); }
    gguf_writer& add_i32(std::string_view key, std::int32_t v) { return add(key, t_i32, bytes_of(v)); }
    gguf_writer& add_f32(std::string_view key, float v) { return add(key, t_f32, bytes_of(v)); }
    gguf_writer& add_bool(std::string_view key, bool v) { return add(key, t_bool, std::string(1, v ? '\1' : '\0')); }
    gguf_writer& add_string(std::string_view key, std::string_view v) { return add(key, t_string, str(v)); }
    gguf_writer& add_strings(std::string_view key, const std::vector<std::string>& v) {
        std::string b = bytes_of(std::uint32_t{t_string}) + bytes_of(std::uint64_t{v.size()});
        for (const auto& s : v) b += str(s);
        return add(key, t_array, b);
    }
    gguf_writer& add_i32s(std::string_view key, const std::vector<std::int32_t>& v) {
        std::string b = bytes_of(std::uint32_t{t_i32}) + bytes_of(std::uint64_t{v.size()});
        for (const auto x : v) b += bytes_of(x);
        return add(key, t_array, b);
    }
    gguf_writer& add_f32s(std::string_view key, const std::vector<float>& v) {
        std::string b = bytes_of(std::uint32_t{t_f32}) + bytes_of(std::uint64_t{v.size()});
        for (const auto x : v) b += bytes_of(x);
        return add(key, t_array, b);
    }
    /// A key with any type number and value bytes: hostile lengths and unknown types.
    gguf_writer& add(std::string_view key, std::uint32_t type, std::string value) {
        keys_.push_back(str(key) + bytes_of(type) + value);
        return *this;
    }

    /// A tensor of ggml type `type` with these bytes (dims in ggml order, dims[0] fastest).
    gguf_writer& add_tensor(std::string_view name, std::uint32_t type, std::vector<std::uint64_t> dims, std::string data) {
        tensors_.push_back({std::string(name), type, std::move(dims), std::move(data)});
        return *this;
    }
    /// An f32 tensor filled with `value`.
    gguf_writer& add_f32_tensor(std::string_view name, std::vector<std::uint64_t> dims, float value = 0.5f) {
        std::uint64_t n = 1;
        for (const auto d : dims) n *= d;
        std::string data;
        for (std::uint64_t i = 0; i < n; ++i) data += bytes_of(value);
        return add_tensor(name, 0, std::move(dims), std::move(data));
    }

    std::string bytes() const {
        std::string out = "GGUF" + bytes_of(version);
        auto keys = keys_;
        if (alignment != 32) keys.push_back(str("general.alignment") + bytes_of(std::uint32_t{t_u32}) + bytes_of(static_cast<std::uint32_t>(alignment)));
        out += bytes_of(std::uint64_t{tensors_.size()}) + bytes_of(std::uint64_t{keys.size()});
        for (const auto& k : keys) out += k;
        std::uint64_t offset = 0;
        std::vector<std::uint64_t> offsets;
        for (const auto& t : tensors_) {
            out += str(t.name) + bytes_of(static_cast<std::uint32_t>(t.dims.size()));
            for (const auto d : t.dims) out += bytes_of(d);
            out += bytes_of(t.type);
            offsets.push_back(offset);
            out += bytes_of(offset);
            offset += (t.data.size() + alignment - 1) / alignment * alignment;
        }
        out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
        for (std::size_t i = 0; i < tensors_.size(); ++i) {
            out += tensors_[i].data;
            if (i + 1 < tensors_.size()) out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
        }
        return out;
    }

    void write(const std::filesystem::path& path) const { write_bytes(path, bytes()); }

    static void write_bytes(const std::filesystem::path& path, std::string_view data) {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(data.data(), static_cast<std::streamsize>(data.size()));
        if (!f) throw std::runtime_error("cannot write " + path.string());
    }

    template <class T>
    static std::string bytes_of(T v) {
        std::string b(sizeof(T), '\0');
        std::memcpy(b.data(), &v, sizeof(T));
        return b;
    }
    static std::string str(std::string_view s) { return bytes_of(std::uint64_t{s.size()}) + std::string(s); }

private:
    struct tensor_entry {
        std::string name;
        std::uint32_t type;
        std::vector<std::uint64_t> dims;
        std::string data;
    };
    std::vector<std::string> keys_;
    std::vector<tensor_entry> tensors_;
};

/// The tensors and hyper-parameters of a tiny llama/qwen2 model (dim 8, 2 layers, 2 heads, 1 kv head).
inline void add_tiny_model(gguf_writer& w, std::string_view arch, std::uint64_t vocab, bool bias = false) {
    const std::string a(arch);
    const std::uint64_t dim = 8, ffn = 16, heads = 2, kv = 1, hd = 4;
    w.add_string("general.architecture", a);
    w.add_u32(a + ".context_length", 64).add_u32(a + ".embedding_length", dim).add_u32(a + ".block_count", 2);
    w.add_u32(a + ".feed_forward_length", ffn).add_u32(a + ".attention.head_count", heads);
    w.add_u32(a + ".attention.head_count_kv", kv).add_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
    w.add_f32(a + ".rope.freq_base", 10000.0f);
    w.add_f32_tensor("token_embd.weight", {dim, vocab});
    w.add_f32_tensor("output_norm.weight", {dim}, 1.0f);
    for (int l = 0; l < 2; ++l) {
        const auto b = "blk." + std::to_string(l) + ".";
        w.add_f32_tensor(b + "attn_norm.weight", {dim}, 1.0f);
        w.add_f32_tensor(b + "attn_q.weight", {dim, heads * hd});
        w.add_f32_tensor(b + "attn_k.weight", {dim, kv * hd});
        w.add_f32_tensor(b + "attn_v.weight", {dim, kv * hd});
        w.add_f32_tensor(b + "attn_output.weight", {heads * hd, dim});
        if (bias) {
            w.add_f32_tensor(b + "attn_q.bias", {heads * hd});
            w.add_f32_tensor(b + "attn_k.bias", {kv * hd});
            w.add_f32_tensor(b + "attn_v.bias", {kv * hd});
        }
        w.add_f32_tensor(b + "ffn_norm.weight", {dim}, 1.0f);
        w.add_f32_tensor(b + "ffn_gate.weight", {dim, ffn});
        w.add_f32_tensor(b + "ffn_up.weight", {dim, ffn});
        w.add_f32_tensor(b + "ffn_down.weight", {ffn, dim});
    }
}

/// The printable code point GPT-2's byte-level BPE uses for a byte, as UTF-8.
inline std::string byte_level_char(unsigned char b) {
    unsigned cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
        unsigned next = 256;
        for (unsigned x = 0; x < b; ++x) {
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) ++next;
        }
        cp = next;
    }
    std::string s;
    if (cp < 0x80) s += static_cast<char>(cp);
    else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

/// A byte-level BPE vocabulary: the 256 byte tokens, merges building each of `words` (byte-level
/// text) left to right, and ChatML's special tokens. Token ids: bytes 0..255 in byte order, then
/// merged tokens in merge order, then the specials.
struct bpe_vocab {
    std::vector<std::string> tokens;
    std::vector<std::int32_t> types;
    std::vector<std::string> merges;
};

inline bpe_vocab make_bpe_vocab(const std::vector<std::string>& words) {
    bpe_vocab v;
    for (unsigned b = 0; b < 256; ++b) {
        v.tokens.push_back(byte_level_char(static_cast<unsigned char>(b)));
        v.types.push_back(1);
    }
    const auto has = [&](const std::string& t) { return std::find(v.tokens.begin(), v.tokens.end(), t) != v.tokens.end(); };
    for (const auto& w : words) {
        std::string mapped;
        std::vector<std::string> chars;
        for (const char c : w) chars.push_back(byte_level_char(static_cast<unsigned char>(c)));
        std::string acc = chars.empty() ? "" : chars[0];
        for (std::size_t i = 1; i < chars.size(); ++i) {
            const auto merged = acc + chars[i];
            if (!has(merged)) {
                v.merges.push_back(acc + " " + chars[i]);
                v.tokens.push_back(merged);
                v.types.push_back(1);
            }
            acc = merged;
        }
    }
    for (const char* s : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
        v.tokens.push_back(s);
        v.types.push_back(3);
    }
    return v;
}

/// A SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 <0xNN> byte tokens, then `pieces`
/// (U+2581 for a space) scored so that longer pieces win.
struct spm_vocab {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<std::int32_t> types;
};

inline spm_vocab make_spm_vocab(const std::vector<std::string>& pieces) {
    spm_vocab v;
    v.tokens = {"<unk>", "<s>", "</s>"};
    v.scores = {0, 0, 0};
    v.types = {2, 3, 3};
    for (unsigned b = 0; b < 256; ++b) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        v.tokens.push_back(hex);
        v.scores.push_back(0);
        v.types.push_back(6);
    }
    for (const auto& p : pieces) {
        v.tokens.push_back(p);
        v.scores.push_back(-static_cast<float>(v.tokens.size()) / 1000.0f + static_cast<float>(p.size()));
        v.types.push_back(1);
    }
    return v;
}

} // namespace sluice::test
