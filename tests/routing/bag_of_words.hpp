#ifndef SLUICE_TESTS_ROUTING_BAG_OF_WORDS_HPP
#define SLUICE_TESTS_ROUTING_BAG_OF_WORDS_HPP

// A test embedder: words hashed into a fixed number of buckets, L2-normalised. Texts that share
// words are similar and texts that share none are orthogonal, which is all a classifier test
// needs to know its answer in advance. The real embedder is kernels/embed.

#include <sluice/core/catalog.hpp>
#include <sluice/routing/classifier.hpp>

#include <array>
#include <cctype>
#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace routing_test {

inline constexpr std::size_t dimensions = 1024;

inline bool stopword(std::string_view w) {
    static constexpr std::array<std::string_view, 24> words{
        "the", "and", "for", "why", "was", "how", "what", "with", "you", "can", "this", "that",
        "are", "not", "does", "did", "have", "has", "from", "about", "your", "please", "help", "want"};
    for (auto s : words)
        if (s == w) return true;
    return false;
}

inline std::vector<float> bag_of_words(std::string_view text) {
    std::vector<float> v(dimensions, 0.0f);
    std::string word;
    auto flush = [&] {
        if (word.size() > 3 && word.back() == 's') word.pop_back(); // invoices ~ invoice
        if (word.size() > 2 && !stopword(word)) v[std::hash<std::string>{}(word) % dimensions] += 1.0f;
        word.clear();
    };
    for (char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)))
            word += char(std::tolower(static_cast<unsigned char>(c)));
        else
            flush();
    }
    flush();
    double norm = 0;
    for (float x : v) norm += double(x) * x;
    if (norm > 0)
        for (float& x : v) x = float(x / std::sqrt(norm));
    return v;
}

/// Counts its calls, so a test can tell that keyword rules never reach the embedder.
inline sluice::routing::embedder bag_of_words_embedder(int* calls = nullptr) {
    return [calls](std::span<const std::string> texts) {
        if (calls) ++*calls;
        std::vector<std::vector<float>> out;
        for (const auto& t : texts) out.push_back(bag_of_words(t));
        return out;
    };
}

inline sluice::core::model_entry model(std::string id, double input_price, double output_price) {
    sluice::core::model_entry m;
    m.id = std::move(id);
    m.provider = "test";
    m.upstream_model = m.id;
    m.endpoints = {sluice::core::endpoint::chat};
    m.price = sluice::core::price{input_price, output_price, input_price / 2, {}};
    return m;
}

inline sluice::core::model_entry unpriced_model(std::string id) {
    auto m = model(std::move(id), 0, 0);
    m.price.reset();
    return m;
}

} // namespace routing_test

#endif
