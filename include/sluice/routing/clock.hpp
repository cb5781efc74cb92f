#ifndef SLUICE_ROUTING_CLOCK_HPP
#define SLUICE_ROUTING_CLOCK_HPP

// Where the router takes its time from. Cool-downs and latency samples are intervals, never
// dates, so a routing clock is monotonic: a wall-clock step must not open or close a breaker.
//
/// \concept clock_policy
///   c.now()    -> routing::time_point (std::chrono::steady_clock)

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>

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
class manual_clock {
public:
    manual_clock() : us_(std::make_shared<std::atomic<std::int64_t>>(0)) {}

    time_point now() const noexcept {
        return time_point(std::chrono::duration_cast<time_point::duration>(std::chrono::microseconds(us_->load())));
    }

    void advance(std::chrono::microseconds d) noexcept { us_->fetch_add(d.count()); }

private:
    std::shared_ptr<std::atomic<std::int64_t>> us_;
};

static_assert(clock_policy<steady_clock> && clock_policy<manual_clock>);

} // namespace sluice::routing

#endif
