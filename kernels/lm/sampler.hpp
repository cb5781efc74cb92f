#ifndef SLUICE_KERNELS_LM_SAMPLER_HPP
#define SLUICE_KERNELS_LM_SAMPLER_HPP

// Picks the next token from logits: greedy at temperature 0, else temperature, top-k and top-p
// (nucleus) over a softmax, drawn from a per-request xoshiro256** stream. The same seed and the
// same logits give the same tokens, whatever else runs in the batch.

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace sluice::lm {

struct sampling_params {
    double temperature = 1.0;         // 0: greedy argmax
    double top_p = 1.0;               // keep the smallest set of tokens whose mass reaches top_p
    std::uint32_t top_k = 0;          // keep the k likeliest; 0: all
    std::optional<std::uint64_t> seed; // unset: a random one
};

class sampler {
public:
    explicit sampler(const sampling_params& params);

    std::int32_t sample(std::span<const float> logits);
    std::uint64_t seed() const noexcept { return seed_; }

    /// The index of the largest value; the lowest such index on ties.
    static std::int32_t argmax(std::span<const float> logits) noexcept;

private:
    double next_unit(); // uniform in [0, 1)

    sampling_params params_;
    std::uint64_t seed_;
    std::uint64_t s_[4];
    std::vector<std::pair<float, std::int32_t>> candidates_;
};

} // namespace sluice::lm

#endif
