#ifndef SLUICE_TESTS_KERNELS_EMBED_REFERENCE_HPP
#define SLUICE_TESTS_KERNELS_EMBED_REFERENCE_HPP

// The embed recipe (docs/kernels.md) in plain loops, written apart from kernels/embed/ngram.hpp so
// the two can disagree: the tests hold every backend to it, bench/embed times it beside them.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::test::embed_reference {

inline std::string normalise(std::string_view text) {
    std::string words;
    std::string word;
    auto flush = [&] {
        if (word.empty()) return;
        words += ' ';
        words += word;
        word.clear();
    };
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 'A' && c <= 'Z')
            word += static_cast<char>(c + ('a' - 'A'));
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80)
            word += ch;
        else
            flush();
    }
    flush();
    return words.empty() ? words : words + ' ';
}

inline std::uint32_t hash(std::string_view bytes, std::uint32_t basis) {
    std::uint32_t h = basis;
    for (const char ch : bytes) {
        h ^= static_cast<unsigned char>(ch);
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

inline void add(std::vector<long long>& counts, std::uint32_t h) {
    counts[h % counts.size()] += (h >> 31) ? -1 : 1;
}

inline std::vector<std::string> words_of(std::string_view normalised) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : normalised) {
        if (c != ' ') {
            word += c;
        } else if (!word.empty()) {
            words.push_back(word);
            word.clear();
        }
    }
    return words;
}

inline std::vector<float> encode_one(std::string_view text, std::size_t dim) {
    std::vector<long long> counts(dim, 0);
    for (const std::string& word : words_of(normalise(text))) {
        const std::string padded = ' ' + word + ' ';
        for (std::size_t n = 3; n <= 5; ++n)
            for (std::size_t i = 0; i + n <= padded.size(); ++i)
                add(counts, hash(std::string_view(padded).substr(i, n), 0x811c9dc5u));
        add(counts, hash(word, 0x811c9dc5u ^ 0x5bd1e995u));
    }
    double norm2 = 0;
    for (const long long c : counts) norm2 += static_cast<double>(c) * static_cast<double>(c);
    std::vector<float> v(dim, 0.0f);
    if (norm2 > 0)
        for (std::size_t i = 0; i < dim; ++i) v[i] = static_cast<float>(static_cast<double>(counts[i]) / std::sqrt(norm2));
    return v;
}

/// Row-major texts x dim, like sluice::kernels::embed::encode.
template <class Texts>
std::vector<float> encode(const Texts& texts, std::size_t dim) {
    std::vector<float> out;
    out.reserve(std::size(texts) * dim);
    for (const auto& text : texts) {
        const auto v = encode_one(text, dim);
        out.insert(out.end(), v.begin(), v.end());
    }
    return out;
}

inline std::vector<float> similarities(const std::vector<float>& matrix, std::size_t rows, const std::vector<float>& query) {
    const std::size_t dim = query.size();
    double qq = 0;
    for (const float q : query) qq += static_cast<double>(q) * q;
    std::vector<float> out(rows, 0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
        double dot = 0, rr = 0;
        for (std::size_t i = 0; i < dim; ++i) {
            dot += static_cast<double>(matrix[r * dim + i]) * query[i];
            rr += static_cast<double>(matrix[r * dim + i]) * matrix[r * dim + i];
        }
        if (rr > 0 && qq > 0) out[r] = static_cast<float>(dot / (std::sqrt(rr) * std::sqrt(qq)));
    }
    return out;
}

} // namespace sluice::test::embed_reference

#endif // SLUICE_TESTS_KERNELS_EMBED_REFERENCE_HPP
