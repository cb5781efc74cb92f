#ifndef SLUICE_AUTH_RFC3339_HPP
#define SLUICE_AUTH_RFC3339_HPP

// RFC 3339 timestamps for key expiry in the admin API: "2026-11-22T02:15:53Z" out, any offset in.
// Unix seconds inside; calendar arithmetic by hand, since gmtime/timegm are locale- and TZ-bound.

#include <charconv>
#include <cstdio>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::auth {

namespace detail {

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, 1970-01-01 = day 0).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil {
    std::int64_t y;
    unsigned m, d;
};

constexpr civil civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

constexpr bool leap(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

inline bool fixed_digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) noexcept {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + unsigned(s[i] - '0');
    }
    return true;
}

} // namespace detail

/// "YYYY-MM-DDTHH:MM:SSZ" in UTC.
inline std::string format_rfc3339(std::int64_t unix_seconds) {
    std::int64_t days = unix_seconds / 86400, secs = unix_seconds % 86400;
    if (secs < 0) {
        secs += 86400;
        --days;
    }
    auto c = detail::civil_from_days(days);
    char buf[40];
    auto n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", static_cast<long long>(c.y), c.m,
                           c.d, int(secs / 3600), int(secs / 60 % 60), int(secs % 60));
    return std::string(buf, static_cast<std::size_t>(n));
}

/// Unix seconds of an RFC 3339 date-time ("2026-01-02T03:04:05Z", "...05.25+02:00"); fractions
/// are dropped. nullopt for anything else.
inline std::optional<std::int64_t> parse_rfc3339(std::string_view s) noexcept {
    unsigned y, mo, d, h, mi, sec;
    using detail::fixed_digits;
    if (!fixed_digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !fixed_digits(s, 5, 2, mo) || s[7] != '-' ||
        !fixed_digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !fixed_digits(s, 11, 2, h) ||
        s[13] != ':' || !fixed_digits(s, 14, 2, mi) || s[16] != ':' || !fixed_digits(s, 17, 2, sec))
        return std::nullopt;
    static constexpr unsigned month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1) return std::nullopt;
    if (d > month_days[mo - 1] + ((mo == 2 && detail::leap(y)) ? 1u : 0u)) return std::nullopt;
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt; // 60: a leap second, read as :59 + 1
    std::size_t pos = 19;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        std::size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
        if (pos == start) return std::nullopt;
    }
    std::int64_t offset = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        unsigned oh, om;
        if (!fixed_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !fixed_digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        offset = (s[pos] == '+' ? 1 : -1) * std::int64_t(oh * 3600 + om * 60);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    return detail::days_from_civil(y, mo, d) * 86400 + std::int64_t(h) * 3600 + std::int64_t(mi) * 60 + sec - offset;
}

} // namespace sluice::auth

#endif
