#ifndef SLUICE_CONFIG_UNITS_HPP
#define SLUICE_CONFIG_UNITS_HPP

// Durations and byte sizes as people write them in a config file.
//
//   duration  "500ms" "10s" "2m" "1h", or a bare integer of seconds ("30")
//   size      "512B" "100KB" "1MB" "1GB" (powers of 1000), "512KiB" "16MiB" "1GiB" (powers of
//             1024), or a bare integer of bytes ("65536")
//
// Both take a whole number and one unit, with no space and no sign: "1.5s" and "1m30s" are
// refused rather than guessed at.

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::config {

namespace units_detail {

/// Splits "16MiB" into 16 and "MiB"; nullopt when there are no leading digits or they overflow.
inline std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end == text.data()) return std::nullopt;
    return std::pair{n, text.substr(std::size_t(end - text.data()))};
}

inline std::optional<std::uint64_t> times(std::uint64_t n, std::uint64_t factor) {
    if (factor != 0 && n > std::numeric_limits<std::uint64_t>::max() / factor) return std::nullopt;
    return n * factor;
}

} // namespace units_detail

inline constexpr std::string_view duration_units_hint = "a duration like 10s or 500ms (units: ms, s, m, h)";
inline constexpr std::string_view size_units_hint =
    "a size like 16MiB or 512KiB (units: B, KB, MB, GB, KiB, MiB, GiB)";

/// "10s" → 10000ms; nullopt when the text is not a duration or does not fit.
inline std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    auto split = units_detail::split_number(text);
    if (!split) return std::nullopt;
    auto [n, unit] = *split;
    static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 5> table{
        {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
    for (auto [name, factor] : table) {
        if (unit != name) continue;
        auto ms = units_detail::times(n, factor);
        if (!ms || *ms > std::uint64_t(std::numeric_limits<std::chrono::milliseconds::rep>::max()))
            return std::nullopt;
        return std::chrono::milliseconds(std::chrono::milliseconds::rep(*ms));
    }
    return std::nullopt;
}

/// "16MiB" → 16777216; nullopt when the text is not a size or does not fit in 64 bits.
inline std::optional<std::uint64_t> parse_size(std::string_view text) {
    auto split = units_detail::split_number(text);
    if (!split) return std::nullopt;
    auto [n, unit] = *split;
    static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 8> table{{{"", 1},
                                                                                      {"B", 1},
                                                                                      {"KB", 1000},
                                                                                      {"MB", 1000'000},
                                                                                      {"GB", 1000'000'000},
                                                                                      {"KiB", 1ull << 10},
                                                                                      {"MiB", 1ull << 20},
                                                                                      {"GiB", 1ull << 30}}};
    for (auto [name, factor] : table)
        if (unit == name) return units_detail::times(n, factor);
    return std::nullopt;
}

/// The shortest exact spelling: 90000ms → "90s", 120000ms → "2m", 1500ms → "1500ms".
inline std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

/// The shortest exact binary spelling: 16777216 → "16MiB", 1000 → "1000B".
inline std::string format_size(std::uint64_t bytes) {
    if (bytes != 0 && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes != 0 && bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes != 0 && bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
    return std::to_string(bytes) + "B";
}

} // namespace sluice::config

#endif
