#ifndef SLUICE_ROUTING_STATS_HPP
#define SLUICE_ROUTING_STATS_HPP

// Live per-model statistics, fed from the outcome of every upstream attempt: an exponentially
// weighted moving average (EWMA) of time to first token and of latency, and counts. The speed
// and optimal policies read a snapshot of them; nothing here decides anything.

#include <sluice/core/catalog.hpp>
#include <sluice/core/error.hpp>
#include <sluice/routing/clock.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::routing {

/// Whether an error says something about the model's health: a connect error or 5xx
/// (upstream), 503/529 (overloaded), 429 (rate_limit) and timeouts. A bad request, a refused
/// key or the gateway's own fault says nothing about the model, so it neither trips a breaker
/// nor counts in its statistics.
constexpr bool counts_against_model(core::error_kind k) noexcept {
    return k == core::error_kind::upstream || k == core::error_kind::overloaded || k == core::error_kind::rate_limit ||
           k == core::error_kind::timeout;
}

/// What is known of one model; a model never reported has every count zero and no averages.
struct model_stats {
    std::uint64_t successes = 0;
    std::uint64_t failures = 0;
    std::uint32_t consecutive_failures = 0;
    std::optional<double> ttft_ms;    // EWMA of time to first token; empty until the first success
    std::optional<double> latency_ms; // EWMA of the whole answer's time
    std::optional<time_point> last_success;
    std::optional<time_point> last_failure;
    std::optional<core::error_kind> last_failure_kind;

    bool measured() const noexcept { return ttft_ms.has_value(); }
};

/// The statistics of a few models, copied out under one lock so a policy reads a consistent view
/// without holding it.
class stats_snapshot {
public:
    stats_snapshot() = default;

    void add(std::string id, model_stats s) { entries_.emplace_back(std::move(id), std::move(s)); }

    /// nullptr when the model is not in the snapshot.
    const model_stats* find(std::string_view id) const noexcept {
        for (const auto& [name, s] : entries_)
            if (name == id) return &s;
        return nullptr;
    }

    /// The model's statistics, or an empty record (never measured) when absent.
    model_stats get(std::string_view id) const {
        const auto* s = find(id);
        return s ? *s : model_stats{};
    }

    const std::vector<std::pair<std::string, model_stats>>& entries() const noexcept { return entries_; }

private:
    std::vector<std::pair<std::string, model_stats>> entries_;
};

/// Every model's statistics. Thread-safe: reports take the lock exclusively, snapshots shared.
class stats_table {
public:
    /// The weight of the newest sample in each average: 0.2 follows a change within about ten
    /// requests while one slow answer moves the average by a fifth of the difference.
    static constexpr double default_alpha = 0.2;

    explicit stats_table(double alpha = default_alpha) : alpha_(alpha > 0 && alpha <= 1 ? alpha : default_alpha) {}

    void record_success(std::string_view model, std::chrono::microseconds ttft, std::chrono::microseconds latency,
                        time_point now) {
        const double ttft_ms = double(ttft.count()) / 1000.0;
        const double latency_ms = double(latency.count()) / 1000.0;
        std::unique_lock lock(mutex_);
        auto& s = slot(model);
        ++s.successes;
        s.consecutive_failures = 0;
        s.ttft_ms = s.ttft_ms ? *s.ttft_ms + alpha_ * (ttft_ms - *s.ttft_ms) : ttft_ms;
        s.latency_ms = s.latency_ms ? *s.latency_ms + alpha_ * (latency_ms - *s.latency_ms) : latency_ms;
        s.last_success = now;
    }

    /// The router calls this only for kinds that count_against_model.
    void record_failure(std::string_view model, core::error_kind kind, time_point now) {
        std::unique_lock lock(mutex_);
        auto& s = slot(model);
        ++s.failures;
        ++s.consecutive_failures;
        s.last_failure = now;
        s.last_failure_kind = kind;
    }

    model_stats get(std::string_view model) const {
        std::shared_lock lock(mutex_);
        auto it = models_.find(model);
        return it == models_.end() ? model_stats{} : it->second;
    }

    stats_snapshot snapshot(std::span<const core::model_entry* const> models) const {
        stats_snapshot out;
        std::shared_lock lock(mutex_);
        for (const auto* m : models) {
            auto it = models_.find(m->id);
            out.add(m->id, it == models_.end() ? model_stats{} : it->second);
        }
        return out;
    }

    double alpha() const noexcept { return alpha_; }

private:
    model_stats& slot(std::string_view model) {
        auto it = models_.find(model);
        if (it == models_.end()) it = models_.emplace(std::string(model), model_stats{}).first;
        return it->second;
    }

    double alpha_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, model_stats, std::less<>> models_;
};

} // namespace sluice::routing

#endif
