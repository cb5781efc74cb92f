#ifndef SLUICE_LIMITS_GCRA_HPP
#define SLUICE_LIMITS_GCRA_HPP

// The rate-limit and spend policy: GCRA buckets for requests and tokens per minute, per account
// and per (account, model), and daily / monthly spend caps, kept in a Store.
//
// admit() asks the store once: spend caps first, then every bucket of the request, reserved all
// together or not at all. Tokens are reserved at the estimate (prompt + max output); settle()
// charges or refunds the difference once the real count is known, and adds the cost to the spend
// counters of the current UTC day and month (kept only for accounts with a spend cap).
//
// A request whose token estimate exceeds a whole token-per-minute limit could never pass, however
// long it waited: it is refused at once (rate_limit, "request too large for ..."), with no
// Retry-After, rather than held against an empty bucket.
//
// When the store fails, on_store_down says what happens: closed refuses (503,
// limit_store_unavailable); local decides with in-process counters until the store answers again
// (each replica then allows the full limit, and spend caps count only what this process saw).

#include <sluice/core/error.hpp>
#include <sluice/core/log.hpp>
#include <sluice/limits/clock.hpp>
#include <sluice/limits/local_store.hpp>
#include <sluice/limits/policy.hpp>
#include <sluice/limits/store.hpp>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace sluice::limits {

enum class on_store_down { closed, local };

struct gcra_options {
    on_store_down store_down = on_store_down::closed;
};

// g++ 12 misreads Asio's coroutine frame allocator once the local store's frame is inlined
// here (GCC PR 109224, a false -Wmismatched-new-delete).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

template <class Store, class Clock = system_clock>
    requires limits_store<Store> && clock_policy<Clock>
class gcra {
    // Which limit a bucket of the request stands for, to name it in a refusal and the headers.
    struct scope {
        bool model = false;
        bool tokens = false;
        std::uint64_t limit = 0;
    };

public:
    explicit gcra(Store store = Store(), gcra_options opts = {}, Clock clock = Clock())
        : store_(std::move(store)), opts_(opts), clock_(std::move(clock)) {}

    gcra(const gcra&) = delete;
    gcra& operator=(const gcra&) = delete;

    net::awaitable<decision> admit(const admission& a) {
        decision d;
        const auto now = clock_.now();
        reserve_request req;
        req.now_us = micros(now);
        req.server_time = !Clock::simulated;
        std::vector<scope> scopes;
        add_rate(req, scopes, a, a.account_rate, false);
        if (a.model_rate) add_rate(req, scopes, a, a.model_rate, true);
        const bool capped = a.spend && !a.spend->none();
        if (capped) {
            req.daily_cap = a.spend->daily_usd;
            req.monthly_cap = a.spend->monthly_usd;
            req.day_key = spend_key(a.account, 'd', period::day_key(now));
            req.month_key = spend_key(a.account, 'm', period::month_key(now));
        }
        if (req.buckets.empty() && !capped) co_return d;

        for (std::size_t i = 0; i < scopes.size(); ++i) {
            if (req.buckets[i].cost <= scopes[i].limit) continue;
            d.refused = refusal("request too large for " + describe(a, scopes[i]) + ": " +
                                std::to_string(req.buckets[i].cost) + (scopes[i].tokens ? " tokens" : " requests") +
                                " requested");
            co_return d;
        }

        std::optional<reserve_outcome> out;
        bool local = false;
        auto answer = co_await store_.reserve(req);
        if (answer) {
            store_recovered();
            out = std::move(*answer);
        } else {
            store_failed(answer.error());
            if (opts_.store_down == on_store_down::closed) {
                d.refused = answer.error();
                co_return d;
            }
            out = fallback_.reserve_now(req);
            local = true;
        }

        fill_windows(d, scopes, *out);
        if (out->day_capped || out->month_capped) {
            refuse_spend(d, a, *out, now);
            co_return d;
        }
        if (!out->admitted) {
            refuse_rate(d, a, scopes, *out);
            co_return d;
        }
        auto& held = d.held;
        held.account = std::string(a.account);
        held.model = std::string(a.model);
        held.tokens = a.tokens;
        held.model_scope = a.model_rate && !a.model_rate->unlimited();
        if (a.account_rate) held.account_tpm = a.account_rate->tpm;
        if (a.model_rate) held.model_tpm = a.model_rate->tpm;
        held.spend = capped;
        held.local = local;
        co_return d;
    }

    net::awaitable<void> settle(const reservation& r, std::uint64_t actual_tokens, double cost_usd) {
        if (!r.active()) co_return;
        const auto now = clock_.now();
        settle_request req;
        req.now_us = micros(now);
        req.server_time = !Clock::simulated;
        const auto delta = std::int64_t(actual_tokens) - std::int64_t(r.tokens);
        if (delta != 0) {
            if (r.account_tpm) req.buckets.push_back(adjustment{account_key(r.account, "tpm"), *r.account_tpm, delta});
            if (r.model_tpm)
                req.buckets.push_back(adjustment{model_key(r.account, r.model, "tpm"), *r.model_tpm, delta});
        }
        if (r.spend && cost_usd > 0) req.cost_usd = cost_usd;
        req.day_key = spend_key(r.account, 'd', period::day_key(now));
        req.month_key = spend_key(r.account, 'm', period::month_key(now));
        if (req.buckets.empty() && req.cost_usd <= 0) co_return;

        if (r.local) {
            fallback_.settle_now(req);
            co_return;
        }
        auto done = co_await store_.settle(req);
        if (done) {
            store_recovered();
            co_return;
        }
        store_failed(done.error());
        if (opts_.store_down == on_store_down::local) fallback_.settle_now(req);
    }

    /// Calls to the store that failed since start: for /metrics.
    std::uint64_t store_errors() const noexcept { return errors_.load(std::memory_order_relaxed); }

    Store& store() noexcept { return store_; }
    const Clock& clock() const noexcept { return clock_; }

    // Key names, public so operators and tests can find them: "{acme}:rpm", "{acme}:m:gpt-4o:tpm".
    static std::string account_key(std::string_view account, std::string_view what) {
        return "{" + std::string(account) + "}:" + std::string(what);
    }
    static std::string model_key(std::string_view account, std::string_view model, std::string_view what) {
        return "{" + std::string(account) + "}:m:" + std::string(model) + ":" + std::string(what);
    }
    static std::string spend_key(std::string_view account, char span, const std::string& when) {
        return "{" + std::string(account) + "}:spend:" + span + ":" + when;
    }

private:
    static std::int64_t micros(time_point t) {
        return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    }

    static void add_rate(reserve_request& req, std::vector<scope>& scopes, const admission& a, const rate* r,
                         bool model) {
        if (!r) return;
        auto key = [&](std::string_view what) {
            return model ? model_key(a.account, a.model, what) : account_key(a.account, what);
        };
        if (r->rpm) {
            req.buckets.push_back(bucket{key("rpm"), *r->rpm, 1});
            scopes.push_back(scope{model, false, *r->rpm});
        }
        if (r->tpm) {
            req.buckets.push_back(bucket{key("tpm"), *r->tpm, a.tokens});
            scopes.push_back(scope{model, true, *r->tpm});
        }
    }

    static std::string describe(const admission& a, const scope& s) {
        std::string out = "account " + std::string(a.account);
        if (s.model) out += ", model " + std::string(a.model);
        return out;
    }

    static std::string limit_text(const scope& s) {
        return std::to_string(s.limit) + (s.tokens ? " tokens per minute" : " requests per minute");
    }

    static std::string seconds_text(double s) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3g s", s);
        return buf;
    }

    static core::error refusal(std::string message, std::string code = "rate_limit_exceeded") {
        return core::error{core::error_kind::rate_limit, std::move(message), "", std::move(code)};
    }

    // The tightest window of each kind: the fewest remaining, then the longest to reset.
    static void fill_windows(decision& d, const std::vector<scope>& scopes, const reserve_outcome& out) {
        for (std::size_t i = 0; i < scopes.size() && i < out.buckets.size(); ++i) {
            const auto& b = out.buckets[i];
            window w{scopes[i].limit, b.remaining, b.reset_seconds};
            auto& slot = scopes[i].tokens ? d.tokens : d.requests;
            if (!slot || w.remaining < slot->remaining ||
                (w.remaining == slot->remaining && w.reset_seconds > slot->reset_seconds))
                slot = w;
        }
    }

    static void refuse_rate(decision& d, const admission& a, const std::vector<scope>& scopes,
                            const reserve_outcome& out) {
        // Retrying helps only once every refusing bucket has room: name the slowest one.
        std::size_t worst = scopes.size();
        for (std::size_t i = 0; i < scopes.size() && i < out.buckets.size(); ++i) {
            if (out.buckets[i].allowed) continue;
            if (worst == scopes.size() || out.buckets[i].retry_after_seconds > out.buckets[worst].retry_after_seconds)
                worst = i;
        }
        if (worst == scopes.size()) { // the store refused without saying where
            d.refused = refusal("rate limit reached for account " + std::string(a.account));
            return;
        }
        d.retry_after_seconds = out.buckets[worst].retry_after_seconds;
        d.refused = refusal("rate limit reached for " + describe(a, scopes[worst]) + ": " + limit_text(scopes[worst]) +
                            "; retry after " + seconds_text(d.retry_after_seconds));
    }

    static void refuse_spend(decision& d, const admission& a, const reserve_outcome& out, time_point now) {
        std::string which;
        auto usd = [](double v) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "%.2f USD", v);
            return std::string(buf);
        };
        if (out.day_capped) {
            which = "daily spend cap of " + usd(*a.spend->daily_usd);
            d.retry_after_seconds = period::seconds_to_next_day(now);
        }
        if (out.month_capped) { // the month rolls last: waiting for the day alone would not help
            which = "monthly spend cap of " + usd(*a.spend->monthly_usd);
            d.retry_after_seconds = period::seconds_to_next_month(now);
        }
        d.refused = refusal("account " + std::string(a.account) + " reached its " + which + " (UTC)",
                            "insufficient_quota");
    }

    void store_failed(const core::error& e) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        if (!down_.exchange(true))
            log::warn("limits_store_down", {{"error", e.message},
                                            {"on_store_down", opts_.store_down == on_store_down::closed
                                                                  ? std::string_view("closed")
                                                                  : std::string_view("local")}});
    }

    void store_recovered() {
        if (down_.load(std::memory_order_relaxed) && down_.exchange(false)) log::info("limits_store_recovered");
    }

    Store store_;
    local_store fallback_;
    gcra_options opts_;
    [[no_unique_address]] Clock clock_;
    std::atomic<std::uint64_t> errors_{0};
    std::atomic<bool> down_{false};
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static_assert(limits_policy<gcra<local_store>>);
static_assert(limits_policy<gcra<local_store, manual_clock>>);

} // namespace sluice::limits

#endif
