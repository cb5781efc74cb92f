#ifndef SLUICE_LIMITS_CLOCK_HPP
#define SLUICE_LIMITS_CLOCK_HPP

// Where the limits policy takes its time from. Rate limits and spend periods are wall-clock
// (UTC days and months), so a clock answers std::chrono::system_clock time points.
//
/// \concept clock_policy
///   c.now()          -> std::chrono::system_clock::time_point
///   C::simulated     -> bool constant: time is driven by the program (tests), so a shared store
///                       must use this time rather than its own (Redis TIME)

#include <sluice/core/clock.hpp>

#include <chrono>
#include <concepts>

namespace sluice::limits {

using time_point = std::chrono::system_clock::time_point;

template <class C>
concept clock_policy = requires(const C& c) {
    { c.now() } -> std::convertible_to<time_point>;
    { C::simulated } -> std::convertible_to<bool>;
};

/// The real wall clock.
struct system_clock {
    static constexpr bool simulated = false;
    time_point now() const noexcept { return std::chrono::system_clock::now(); }
};

/// A clock that moves only when told to (core::manual_clock_of). Copies share one time, so two
/// policies (two simulated gateway replicas) can run on the same clock.
class manual_clock : public core::manual_clock_of<std::chrono::system_clock> {
public:
    static constexpr bool simulated = true;

    /// Starts at `start` (by default 2030-01-15T12:00:00Z, mid-day and mid-month).
    explicit manual_clock(time_point start = time_point(std::chrono::seconds(1894708800))) : manual_clock_of(start) {}
};

static_assert(clock_policy<system_clock> && clock_policy<manual_clock>);

} // namespace sluice::limits

#endif
