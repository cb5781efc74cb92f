#ifndef SLUICE_AUTH_GLOB_HPP
#define SLUICE_AUTH_GLOB_HPP

// Model scopes on a key: "gpt-4o*", "meta-llama/*", "*". `*` is any run of characters, `/`
// included (model ids are names, not paths); `?` is any one character.

#include <cstddef>
#include <string_view>

namespace sluice::auth {

/// Greedy match that backtracks only to the last `*`: at worst pattern × text steps, never
/// exponential, so no pattern can stall the request path.
inline bool glob_match(std::string_view pattern, std::string_view text) noexcept {
    std::size_t p = 0, t = 0;
    std::size_t star = std::string_view::npos, resume = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

} // namespace sluice::auth

#endif
