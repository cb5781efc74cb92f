#ifndef SLUICE_CORE_CLOCK_HPP
#define SLUICE_CORE_CLOCK_HPP

// A clock that moves only when told to, for the policies that take their time from a clock
// policy (limits: wall-clock; routing: monotonic), so a test drives hours of traffic in
// microseconds. Copies share one time: the policy and the test that owns it see one instant.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace sluice::core {

/// Std: the std::chrono clock whose time points it answers (system_clock, steady_clock).
template <class Std>
class manual_clock_of {
public:
    using time_point = typename Std::time_point;

    explicit manual_clock_of(time_point start = time_point{})
        : us_(std::make_shared<std::atomic<std::int64_t>>(
              std::chrono::duration_cast<std::chrono::microseconds>(start.time_since_epoch()).count())) {}

    time_point now() const noexcept {
        return time_point(std::chrono::duration_cast<typename time_point::duration>(std::chrono::microseconds(us_->load())));
    }

    void advance(std::chrono::microseconds d) noexcept { us_->fetch_add(d.count()); }

    void set(time_point t) noexcept {
        us_->store(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
    }

private:
    std::shared_ptr<std::atomic<std::int64_t>> us_;
};

} // namespace sluice::core

#endif
