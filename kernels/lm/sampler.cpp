#include "sampler.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace sluice::lm {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

} // namespace

sampler::sampler(const sampling_params& params) : params_(params) {
    if (params.seed) {
        seed_ = *params.seed;
    } else {
        std::random_device rd;
        seed_ = (std::uint64_t(rd()) << 32) ^ rd();
    }
    std::uint64_t x = seed_;
    for (auto& s : s_) s = splitmix64(x);
}

double sampler::next_unit() {
    // xoshiro256**
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return double(result >> 11) * 0x1.0p-53;
}

std::int32_t sampler::argmax(std::span<const float> logits) noexcept {
    std::int32_t best = 0;
    for (std::size_t i = 1; i < logits.size(); ++i)
        if (logits[i] > logits[std::size_t(best)]) best = std::int32_t(i);
    return best;
}

std::int32_t sampler::sample(std::span<const float> logits) {
    if (logits.empty()) return 0;
    if (params_.temperature <= 0.0 || params_.top_k == 1) return argmax(logits);

    const double inv_t = 1.0 / params_.temperature;
    auto& c = candidates_;
    c.resize(logits.size());
    for (std::size_t i = 0; i < logits.size(); ++i) c[i] = {logits[i], std::int32_t(i)};
    // Larger logit first, lower id first on ties: a total order, so the result is reproducible.
    const auto before = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    std::size_t keep = c.size();
    if (params_.top_k > 0 && params_.top_k < keep) {
        keep = params_.top_k;
        std::partial_sort(c.begin(), c.begin() + std::ptrdiff_t(keep), c.end(), before);
    } else if (params_.top_p < 1.0) {
        std::sort(c.begin(), c.end(), before);
    } else {
        // No truncation: one pass over the softmax in id order.
        const float m = *std::max_element(logits.begin(), logits.end());
        double sum = 0;
        for (const auto l : logits) sum += std::exp((double(l) - m) * inv_t);
        double u = next_unit() * sum;
        for (std::size_t i = 0; i < logits.size(); ++i) {
            u -= std::exp((double(logits[i]) - m) * inv_t);
            if (u < 0) return std::int32_t(i);
        }
        return argmax(logits);
    }
    c.resize(keep);
    const double m = c.front().first;
    std::vector<double> p(keep);
    double sum = 0;
    for (std::size_t i = 0; i < keep; ++i) sum += p[i] = std::exp((double(c[i].first) - m) * inv_t);
    if (params_.top_p < 1.0) {
        double mass = 0;
        std::size_t n = 0;
        while (n < keep) {
            mass += p[n++] / sum;
            if (mass >= params_.top_p) break;
        }
        keep = std::max<std::size_t>(n, 1);
        sum = 0;
        for (std::size_t i = 0; i < keep; ++i) sum += p[i];
    }
    double u = next_unit() * sum;
    for (std::size_t i = 0; i < keep; ++i) {
        u -= p[i];
        if (u < 0) return c[i].second;
    }
    return c[keep - 1].second;
}

} // namespace sluice::lm
