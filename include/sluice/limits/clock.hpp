#ifndef SLUICE_LIMITS_CLOCK_HPP
#define SLUICE_LIMITS_CLOCK_HPP

// Where the limits policy takes its time from. Rate limits and spend periods are wall-clock
// (UTC days and months), so a clock answers std::chrono::system_clock time points.
//
/// \concept clock_policy
///   c.now()          -> std::chrono::system_clock::time_point
///   C::simulated     -> bool constant: time is driven by the program (tests), so a shared store
///                       must use this time rather than its own (Redis TIME)

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>

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

/// A clock that moves only when told to. Copies share one time, so two policies (two simulated
/// gateway replicas) can run on the same clock.
class manual_clock {
public:
    static constexpr bool simulated = true;

    /// Starts at `start` (by default 2030-01-15T12:00:00Z, mid-day and mid-month).
    explicit manual_clock(time_point start = time_point(std::chrono::seconds(1894708800)))
        : us_(std::make_shared<std::atomic<std::int64_t>>(
              std::chrono::duration_cast<std::chrono::microseconds>(start.time_since_epoch()).count())) {}

    time_point now() const noexcept {
        return time_point(std::chrono::duration_cast<time_point::duration>(std::chrono::microseconds(us_->load())));
    }

    void advance(std::chrono::microseconds d) noexcept { us_->fetch_add(d.count()); }

    void set(time_point t) noexcept {
        us_->store(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
    }

private:
    std::shared_ptr<std::atomic<std::int64_t>> us_;
};

static_assert(clock_policy<system_clock> && clock_policy<manual_clock>);

} // namespace sluice::limits

#endif
