#ifndef SLUICE_LIMITS_STORE_HPP
#define SLUICE_LIMITS_STORE_HPP

// Where the limit counters live, and the arithmetic every store does the same way.
//
// GCRA (generic cell rate algorithm): a bucket of `limit` per minute keeps one number, its
// theoretical arrival time (TAT). A cost of n moves TAT by n * 60 s / limit; the request passes
// when the new TAT is at most one minute ahead of now. So a full bucket takes `limit` at once
// and refills continuously at limit per minute, and an idle bucket needs no state at all: its
// key expires when its TAT passes. Times are integer microseconds; an increment is rounded down,
// so a burst of exactly `limit` always passes.
//
/// \concept limits_store
///   s.reserve(req)   -> net::awaitable<core::result<reserve_outcome>>   check every bucket and
///                       the spend caps, and reserve all buckets or none, atomically
///   s.settle(req)    -> net::awaitable<core::result<void>>   move token buckets by a correction,
///                       add a cost to the spend counters
//   An error result means the store could not be asked (it is down), never a refusal.

#include <sluice/core/result.hpp>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace sluice::limits {

namespace net = boost::asio;

inline constexpr std::int64_t minute_us = 60'000'000;
// Spend keys carry their date in the name; they need only outlive their period.
inline constexpr std::chrono::seconds spend_day_ttl{3 * 86400};
inline constexpr std::chrono::seconds spend_month_ttl{35 * 86400};

/// One bucket an admission touches: `limit` per minute, and what this request takes from it.
struct bucket {
    std::string key;
    std::uint64_t limit = 1;
    std::uint64_t cost = 0;
};

struct reserve_request {
    std::vector<bucket> buckets;
    std::string day_key; // spend counters, read when a cap is set
    std::string month_key;
    std::optional<double> daily_cap;
    std::optional<double> monthly_cap;
    std::int64_t now_us = 0;
    bool server_time = false; // a shared store may decide by its own clock instead of now_us
};

/// A bucket after the decision: reserved when admitted, untouched otherwise.
struct bucket_state {
    bool allowed = true;              // this bucket alone would have taken the request
    std::uint64_t remaining = 0;      // cost units it would still take now
    double reset_seconds = 0;         // until it is full again
    double retry_after_seconds = 0;   // when not allowed: until the request would fit
};

struct reserve_outcome {
    bool admitted = false;
    std::vector<bucket_state> buckets; // in the order of the request
    double spent_day = 0;
    double spent_month = 0;
    bool day_capped = false;
    bool month_capped = false;
};

/// A correction of a token bucket: positive charges, negative refunds.
struct adjustment {
    std::string key;
    std::uint64_t limit = 1;
    std::int64_t tokens = 0;
};

struct settle_request {
    std::vector<adjustment> buckets;
    std::string day_key;
    std::string month_key;
    double cost_usd = 0; // added to both spend counters when > 0
    std::int64_t now_us = 0;
    bool server_time = false;
};

template <class S>
concept limits_store = requires(S& s, const reserve_request& r, const settle_request& q) {
    { s.reserve(r) } -> std::same_as<net::awaitable<core::result<reserve_outcome>>>;
    { s.settle(q) } -> std::same_as<net::awaitable<core::result<void>>>;
};

namespace gcra_math {

/// Microseconds a cost of n takes from a bucket of `limit` per minute, rounded down.
constexpr std::int64_t increment(std::uint64_t n, std::uint64_t limit) noexcept {
    if (limit == 0) return minute_us;
    return std::int64_t((unsigned __int128)n * minute_us / limit);
}

/// The state of a bucket whose TAT is `tat` (already at least now).
constexpr bucket_state state_at(std::int64_t tat, std::int64_t now, std::uint64_t limit) noexcept {
    bucket_state s;
    std::int64_t slack = now + minute_us - tat;
    if (slack > 0 && limit > 0)
        s.remaining = std::min<std::uint64_t>(limit, std::uint64_t((unsigned __int128)slack * limit / minute_us));
    s.reset_seconds = double(std::max<std::int64_t>(tat - now, 0)) / 1e6;
    return s;
}

/// Checks every bucket against its TAT; when all pass, writes the new TATs into `tats`.
/// The states say how each bucket stands after the decision (reserved only when admitted).
inline bool check_and_reserve(std::vector<std::int64_t>& tats, const std::vector<bucket>& buckets, std::int64_t now,
                              bool spend_ok, std::vector<bucket_state>& states) {
    std::vector<std::int64_t> next(buckets.size());
    bool all = spend_ok;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        tats[i] = std::max(tats[i], now);
        next[i] = tats[i] + increment(buckets[i].cost, buckets[i].limit);
        if (next[i] - now > minute_us) all = false;
    }
    states.clear();
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        bool fits = next[i] - now <= minute_us;
        if (all) tats[i] = next[i];
        auto s = state_at(tats[i], now, buckets[i].limit);
        s.allowed = fits;
        if (!fits) s.retry_after_seconds = double(next[i] - minute_us - now) / 1e6;
        states.push_back(s);
    }
    return all;
}

} // namespace gcra_math

namespace period {

inline std::chrono::year_month_day utc_date(std::chrono::system_clock::time_point t) {
    return std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(t));
}

/// "20300115": the UTC day of `t`, as spend keys name it.
inline std::string day_key(std::chrono::system_clock::time_point t) {
    auto d = utc_date(t);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d%02u%02u", int(d.year()), unsigned(d.month()), unsigned(d.day()));
    return buf;
}

/// "203001": the UTC month of `t`.
inline std::string month_key(std::chrono::system_clock::time_point t) {
    auto d = utc_date(t);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d%02u", int(d.year()), unsigned(d.month()));
    return buf;
}

/// Seconds from `t` to the next UTC midnight.
inline double seconds_to_next_day(std::chrono::system_clock::time_point t) {
    auto next = std::chrono::floor<std::chrono::days>(t) + std::chrono::days(1);
    return std::chrono::duration<double>(next - t).count();
}

/// Seconds from `t` to the first of the next UTC month.
inline double seconds_to_next_month(std::chrono::system_clock::time_point t) {
    auto d = utc_date(t);
    auto first = std::chrono::year_month_day(d.year() / d.month() / 1) + std::chrono::months(1);
    std::chrono::system_clock::time_point next = std::chrono::sys_days(first);
    return std::chrono::duration<double>(next - t).count();
}

} // namespace period

} // namespace sluice::limits

#endif
