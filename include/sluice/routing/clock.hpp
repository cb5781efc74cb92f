#ifndef SLUICE_ROUTING_CLOCK_HPP
#define SLUICE_ROUTING_CLOCK_HPP

// Where the router takes its time from. Cool-downs and latency samples are intervals, never
// dates, so a routing clock is monotonic: a wall-clock step must not open or close a breaker.
//
/// \concept clock_policy
///   c.now()    -> routing::time_point (std::chrono::steady_clock)

#include <sluice/core/clock.hpp>

#include <chrono>
#include <concepts>

namespace sluice::routing {

using time_point = std::chrono::steady_clock::time_point;

template <class C>
concept clock_policy = requires(const C& c) {
    { c.now() } -> std::convertible_to<time_point>;
};

/// The real monotonic clock.
struct steady_clock {
    time_point now() const noexcept { return std::chrono::steady_clock::now(); }
};

/// A clock that moves only when told to, so a test drives hours of traffic in milliseconds.
/// Copies share one time: a router and the test that owns it see the same instant.
using manual_clock = core::manual_clock_of<std::chrono::steady_clock>;

static_assert(clock_policy<steady_clock> && clock_policy<manual_clock>);

} // namespace sluice::routing

#endif
