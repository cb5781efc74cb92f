#ifndef SLUICE_CONFIG_SUGGEST_HPP
#define SLUICE_CONFIG_SUGGEST_HPP

// "did you mean 'base_url'?": the nearest valid name to a misspelt one, by edit distance.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

/// Edits (insert, delete, substitute, swap of two neighbours) that turn a into b, ignoring case.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return char(std::tolower(static_cast<unsigned char>(c))); };
    const std::size_t n = a.size(), m = b.size();
    // Three rows suffice for the optimal-string-alignment recurrence.
    std::vector<std::size_t> before(m + 1), prev(m + 1), cur(m + 1);
    for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
    for (std::size_t i = 1; i <= n; ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= m; ++j) {
            const bool same = lower(a[i - 1]) == lower(b[j - 1]);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
                cur[j] = std::min(cur[j], before[j - 2] + 1);
        }
        std::swap(before, prev);
        std::swap(prev, cur);
    }
    return prev[m];
}

/// The candidate closest to word, if it is close enough to be a likely typo (about one edit in
/// three characters). Ties go to the earlier candidate, so the answer is deterministic.
template <class Range>
std::optional<std::string> nearest_name(std::string_view word, const Range& candidates) {
    std::optional<std::string> best;
    std::size_t best_distance = 0;
    for (const auto& candidate : candidates) {
        std::string_view c(candidate);
        const std::size_t d = edit_distance(word, c);
        const std::size_t limit = std::max<std::size_t>(1, (std::max(word.size(), c.size()) + 2) / 3);
        if (d <= limit && (!best || d < best_distance)) {
            best = std::string(c);
            best_distance = d;
        }
    }
    return best;
}

/// ", did you mean 'x'?" or "" when nothing is near.
template <class Range>
std::string did_you_mean(std::string_view word, const Range& candidates) {
    auto near = nearest_name(word, candidates);
    return near ? ", did you mean '" + *near + "'?" : std::string();
}

/// "a, b, c" for messages that list what is allowed.
template <class Range>
std::string joined_names(const Range& names) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty()) out += ", ";
        out += std::string_view(n);
    }
    return out;
}

} // namespace sluice::config

#endif
