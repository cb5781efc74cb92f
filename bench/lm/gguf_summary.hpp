#ifndef SLUICE_BENCH_LM_GGUF_SUMMARY_HPP
#define SLUICE_BENCH_LM_GGUF_SUMMARY_HPP

// What the bandwidth limit needs from a GGUF file: the bytes of its weight tensors, by reading the
// header only (the benchmark's own reader, so the figure does not depend on the kernel it judges).

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::bench::lm {

struct gguf_summary {
    std::string architecture;
    std::uint64_t tensors = 0;
    std::uint64_t parameters = 0;
    std::uint64_t weight_bytes = 0;          // every tensor's bytes, as stored
    std::map<std::string, std::uint64_t> bytes_by_type; // "f16" -> bytes
    bool tied_embeddings = false;            // no output.weight: the embedding table is the output matrix
    std::uint64_t layers = 0, embedding = 0, vocab = 0;

    /// "q8_0", "f16", or "q8_0+f32" when several types hold a large share.
    std::string main_type() const {
        std::string out;
        for (const auto& [type, bytes] : bytes_by_type)
            if (bytes * 10 >= weight_bytes) out += (out.empty() ? "" : "+") + type;
        return out;
    }
};

namespace detail {

class gguf_reader {
public:
    explicit gguf_reader(const std::filesystem::path& path) : in_(path, std::ios::binary) {
        if (!in_) throw std::runtime_error("cannot open " + path.string());
    }
    template <class T>
    T get() {
        T v{};
        in_.read(reinterpret_cast<char*>(&v), sizeof v);
        if (!in_) throw std::runtime_error("truncated GGUF header");
        return v;
    }
    std::string string() {
        auto n = get<std::uint64_t>();
        if (n > (1u << 24)) throw std::runtime_error("GGUF string too long");
        std::string s(n, '\0');
        in_.read(s.data(), std::streamsize(n));
        if (!in_) throw std::runtime_error("truncated GGUF header");
        return s;
    }
    void skip(std::uint64_t n) {
        in_.seekg(std::streamoff(n), std::ios::cur);
        if (!in_) throw std::runtime_error("truncated GGUF header");
    }

    // A metadata value of `type`; integers come back as numbers, the rest is skipped.
    std::uint64_t value(std::uint32_t type, std::string* text = nullptr) {
        switch (type) {
        case 0: case 1: case 7: return get<std::uint8_t>();
        case 2: case 3: return get<std::uint16_t>();
        case 4: case 5: return get<std::uint32_t>();
        case 6: get<float>(); return 0;
        case 10: case 11: return get<std::uint64_t>();
        case 12: get<double>(); return 0;
        case 8: {
            auto s = string();
            if (text) *text = std::move(s);
            return 0;
        }
        case 9: {
            auto elem = get<std::uint32_t>();
            auto n = get<std::uint64_t>();
            static const std::map<std::uint32_t, std::uint64_t> fixed{{0, 1}, {1, 1}, {7, 1}, {2, 2}, {3, 2}, {4, 4},
                                                                      {5, 4}, {6, 4}, {10, 8}, {11, 8}, {12, 8}};
            if (auto it = fixed.find(elem); it != fixed.end()) {
                skip(n * it->second);
            } else {
                for (std::uint64_t i = 0; i < n; ++i) value(elem);
            }
            return n; // an array's length (the vocabulary size for tokenizer.ggml.tokens)
        }
        default: throw std::runtime_error("unknown GGUF metadata type " + std::to_string(type));
        }
    }

private:
    std::ifstream in_;
};

// ggml type -> (block values, block bytes), for the types a llama GGUF is commonly stored in.
inline bool block_shape(std::uint32_t type, std::string& name, std::uint64_t& values, std::uint64_t& bytes) {
    struct shape { const char* name; std::uint64_t values, bytes; };
    static const std::map<std::uint32_t, shape> shapes{
        {0, {"f32", 1, 4}},    {1, {"f16", 1, 2}},    {2, {"q4_0", 32, 18}}, {3, {"q4_1", 32, 20}},
        {6, {"q5_0", 32, 22}}, {7, {"q5_1", 32, 24}}, {8, {"q8_0", 32, 34}}, {9, {"q8_1", 32, 36}},
        {30, {"bf16", 1, 2}}};
    auto it = shapes.find(type);
    if (it == shapes.end()) return false;
    name = it->second.name;
    values = it->second.values;
    bytes = it->second.bytes;
    return true;
}

} // namespace detail

/// Reads `path`'s header; throws std::runtime_error saying why when it is no GGUF it can size.
inline gguf_summary summarise_gguf(const std::filesystem::path& path) {
    detail::gguf_reader r(path);
    if (r.get<std::uint32_t>() != 0x46554747u) throw std::runtime_error(path.string() + " is not a GGUF file");
    const auto version = r.get<std::uint32_t>();
    if (version < 2) throw std::runtime_error("GGUF version " + std::to_string(version) + " is not read here");
    gguf_summary s;
    s.tensors = r.get<std::uint64_t>();
    const auto kv = r.get<std::uint64_t>();
    for (std::uint64_t i = 0; i < kv; ++i) {
        const auto key = r.string();
        const auto type = r.get<std::uint32_t>();
        std::string text;
        const auto number = r.value(type, &text);
        if (key == "general.architecture") s.architecture = text;
        else if (key == "tokenizer.ggml.tokens") s.vocab = number;
        else if (key.ends_with(".block_count")) s.layers = number;
        else if (key.ends_with(".embedding_length")) s.embedding = number;
    }
    bool has_output = false;
    for (std::uint64_t i = 0; i < s.tensors; ++i) {
        const auto name = r.string();
        const auto dims = r.get<std::uint32_t>();
        std::uint64_t elements = 1;
        for (std::uint32_t d = 0; d < dims; ++d) elements *= r.get<std::uint64_t>();
        const auto type = r.get<std::uint32_t>();
        r.get<std::uint64_t>(); // offset
        std::string type_name;
        std::uint64_t block_values = 0, block_bytes = 0;
        if (!detail::block_shape(type, type_name, block_values, block_bytes))
            throw std::runtime_error("tensor " + name + " has a ggml type (" + std::to_string(type) +
                                     ") this benchmark cannot size");
        const auto bytes = (elements + block_values - 1) / block_values * block_bytes;
        s.parameters += elements;
        s.weight_bytes += bytes;
        s.bytes_by_type[type_name] += bytes;
        if (name == "output.weight") has_output = true;
    }
    s.tied_embeddings = !has_output;
    return s;
}

} // namespace sluice::bench::lm

#endif
