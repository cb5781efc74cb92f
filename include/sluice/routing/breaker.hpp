#ifndef SLUICE_ROUTING_BREAKER_HPP
#define SLUICE_ROUTING_BREAKER_HPP

// A circuit breaker per model. Closed, it lets every request through and counts failures; it
// opens after `consecutive_failures` failures in a row, or when more than `failure_rate` of at
// least `min_window_requests` attempts in the last `window` failed. Open, the router skips the
// model for `cool_down`; then it is half-open and lets one probe through: a success closes it,
// a failure opens it again for another cool-down.
//
//   closed --(N in a row | rate over window)--> open --(cool_down)--> half-open
//     ^                                          ^                      |  |
//     +----------------- probe succeeds ---------|----------------------+  |
//                                                +---- probe fails --------+

#include <sluice/core/log.hpp>
#include <sluice/routing/clock.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::routing {

struct breaker_settings {
    std::uint32_t consecutive_failures = 5;
    double failure_rate = 0.5;
    std::chrono::milliseconds window = std::chrono::seconds(60);
    // A rate over two requests means nothing; below this many the rate rule stays quiet.
    std::uint32_t min_window_requests = 20;
    std::chrono::milliseconds cool_down = std::chrono::seconds(30);
    // The router hands the half-open probe to a request that may be served by an earlier
    // candidate and never try this model; after this long another request may probe.
    std::chrono::milliseconds probe_timeout = std::chrono::seconds(30);
};

enum class breaker_state { closed, open, half_open };

constexpr std::string_view to_string(breaker_state s) noexcept {
    switch (s) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half_open";
    }
    return "closed";
}

/// One model's breaker; not synchronised (breaker_set is).
class breaker {
public:
    explicit breaker(breaker_settings s = {}) : settings_(s) {
        if (settings_.window.count() < window_buckets) settings_.window = std::chrono::milliseconds(window_buckets);
    }

    /// The state as of now: an open breaker whose cool-down has passed reads half-open.
    breaker_state state(time_point now) const noexcept {
        if (state_ == breaker_state::open && now >= opened_at_ + settings_.cool_down) return breaker_state::half_open;
        return state_;
    }

    /// Whether a request may try the model now. Past the cool-down the first caller takes the
    /// single probe; the next ones are refused until it reports or its probe_timeout passes.
    bool try_acquire(time_point now) noexcept {
        switch (state(now)) {
        case breaker_state::closed: return true;
        case breaker_state::open: return false;
        case breaker_state::half_open:
            if (state_ == breaker_state::half_open && probe_since_ && now < *probe_since_ + settings_.probe_timeout)
                return false;
            state_ = breaker_state::half_open;
            probe_since_ = now;
            return true;
        }
        return true;
    }

    /// True when this success closed an open or half-open breaker.
    bool on_success(time_point now) noexcept {
        if (state_ != breaker_state::closed) {
            close();
            return true;
        }
        consecutive_ = 0;
        bucket_at(now).successes++;
        return false;
    }

    /// True when this failure opened the breaker (from closed or from a failed probe).
    bool on_failure(time_point now) noexcept {
        switch (state_) {
        case breaker_state::half_open: open(now); return true;
        // Tried anyway because every candidate was open: the model is still failing.
        case breaker_state::open: opened_at_ = now; return false;
        case breaker_state::closed: break;
        }
        ++consecutive_;
        bucket_at(now).failures++;
        if (consecutive_ >= settings_.consecutive_failures || rate_exceeded(now)) {
            open(now);
            return true;
        }
        return false;
    }

    std::uint32_t consecutive_failures() const noexcept { return consecutive_; }
    const breaker_settings& settings() const noexcept { return settings_; }

private:
    // The window is counted in ten buckets, so old attempts leave it a tenth at a time.
    static constexpr std::int64_t window_buckets = 10;

    struct bucket {
        std::int64_t index = -1; // which bucket_width-long slice of time it counts
        std::uint32_t successes = 0;
        std::uint32_t failures = 0;
    };

    std::int64_t bucket_index(time_point now) const noexcept {
        const auto width = settings_.window / window_buckets;
        return std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) / width;
    }

    bucket& bucket_at(time_point now) noexcept {
        const auto i = bucket_index(now);
        auto& b = buckets_[std::size_t(((i % window_buckets) + window_buckets) % window_buckets)];
        if (b.index != i) b = bucket{i, 0, 0};
        return b;
    }

    bool rate_exceeded(time_point now) const noexcept {
        const auto newest = bucket_index(now);
        std::uint64_t ok = 0, failed = 0;
        for (const auto& b : buckets_)
            if (b.index > newest - window_buckets && b.index <= newest) ok += b.successes, failed += b.failures;
        const auto total = ok + failed;
        return total >= settings_.min_window_requests && double(failed) > settings_.failure_rate * double(total);
    }

    void open(time_point now) noexcept {
        state_ = breaker_state::open;
        opened_at_ = now;
        probe_since_.reset();
        consecutive_ = 0;
        buckets_ = {};
    }

    void close() noexcept {
        state_ = breaker_state::closed;
        probe_since_.reset();
        consecutive_ = 0;
        buckets_ = {};
    }

    breaker_settings settings_;
    breaker_state state_ = breaker_state::closed;
    time_point opened_at_{};
    std::optional<time_point> probe_since_;
    std::uint32_t consecutive_ = 0;
    std::array<bucket, window_buckets> buckets_{};
};

/// A breaker per model id, created closed on first use. Thread-safe; one log line when a
/// breaker opens or closes, the rare events an operator wants to see.
class breaker_set {
public:
    explicit breaker_set(breaker_settings s = {}) : settings_(s) {}

    breaker_state state(std::string_view model, time_point now) const {
        std::lock_guard lock(mutex_);
        auto it = breakers_.find(model);
        return it == breakers_.end() ? breaker_state::closed : it->second.state(now);
    }

    bool try_acquire(std::string_view model, time_point now) {
        std::lock_guard lock(mutex_);
        return slot(model).try_acquire(now);
    }

    void on_success(std::string_view model, time_point now) {
        std::lock_guard lock(mutex_);
        if (slot(model).on_success(now)) log::info("breaker_closed", {{"model", model}});
    }

    void on_failure(std::string_view model, time_point now) {
        std::lock_guard lock(mutex_);
        if (slot(model).on_failure(now))
            log::warn("breaker_open", {{"model", model}, {"cool_down_ms", std::int64_t(settings_.cool_down.count())}});
    }

    const breaker_settings& settings() const noexcept { return settings_; }

private:
    breaker& slot(std::string_view model) {
        auto it = breakers_.find(model);
        if (it == breakers_.end()) it = breakers_.emplace(std::string(model), breaker(settings_)).first;
        return it->second;
    }

    breaker_settings settings_;
    mutable std::mutex mutex_;
    std::map<std::string, breaker, std::less<>> breakers_;
};

} // namespace sluice::routing

#endif
