#ifndef SLUICE_CORE_USAGE_HPP
#define SLUICE_CORE_USAGE_HPP

// Tokens by class, and what they cost at a catalog price.
//
// The classes are disjoint on the input side, as Anthropic counts them, so a cost is a plain sum:
//   prompt tokens = input + cache_read + cache_write
// OpenAI's prompt_tokens includes cached_tokens: its decoder reports input = prompt - cached.
// Reasoning tokens are a part of output (both APIs count them in output), never added twice.

#include <cstdint>
#include <optional>

namespace sluice::core {

struct usage {
    std::uint64_t input = 0;       // prompt tokens neither read from nor written to a cache
    std::uint64_t output = 0;      // generated tokens, reasoning included
    std::uint64_t cache_read = 0;  // prompt tokens served from a prompt cache (prefix-cache hits)
    std::uint64_t cache_write = 0; // prompt tokens written to a prompt cache on this request
    std::uint64_t reasoning = 0;   // the part of output spent on reasoning

    /// Every prompt token, however it was served.
    constexpr std::uint64_t prompt() const noexcept { return input + cache_read + cache_write; }
    /// What OpenAI calls total_tokens.
    constexpr std::uint64_t total() const noexcept { return prompt() + output; }
    constexpr bool empty() const noexcept {
        return input == 0 && output == 0 && cache_read == 0 && cache_write == 0 && reasoning == 0;
    }

    constexpr usage& operator+=(const usage& o) noexcept {
        input += o.input;
        output += o.output;
        cache_read += o.cache_read;
        cache_write += o.cache_write;
        reasoning += o.reasoning;
        return *this;
    }
    friend constexpr usage operator+(usage a, const usage& b) noexcept { return a += b; }
    friend constexpr bool operator==(const usage&, const usage&) = default;
};

/// A catalog price in USD per million tokens.
struct price {
    double input = 0;        // uncached prompt tokens
    double output = 0;       // generated tokens (reasoning included)
    double cached_input = 0; // prompt tokens read from a cache
    // Prompt tokens written to a cache. Unset: priced as plain input, which is what OpenAI and
    // open-weight prefix caches charge; set it for Anthropic (1.25x input for the 5-minute TTL).
    std::optional<double> cache_write;

    friend constexpr bool operator==(const price&, const price&) = default;
};

/// What a request cost in USD, by token class.
struct cost {
    double input = 0;
    double output = 0;
    double cache_read = 0;
    double cache_write = 0;

    constexpr double total() const noexcept { return input + output + cache_read + cache_write; }

    constexpr cost& operator+=(const cost& o) noexcept {
        input += o.input;
        output += o.output;
        cache_read += o.cache_read;
        cache_write += o.cache_write;
        return *this;
    }
};

/// Prices each class of `u` at `p`: cache reads at cached_input, cache writes at cache_write
/// (or input when the catalog gives none), reasoning inside output.
constexpr cost cost_of(const usage& u, const price& p) noexcept {
    constexpr double per_token = 1e-6; // prices are per million tokens
    cost c;
    c.input = double(u.input) * p.input * per_token;
    c.output = double(u.output) * p.output * per_token;
    c.cache_read = double(u.cache_read) * p.cached_input * per_token;
    c.cache_write = double(u.cache_write) * p.cache_write.value_or(p.input) * per_token;
    return c;
}

} // namespace sluice::core

#endif
