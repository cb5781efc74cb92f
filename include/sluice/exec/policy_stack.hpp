#ifndef SLUICE_EXEC_POLICY_STACK_HPP
#define SLUICE_EXEC_POLICY_STACK_HPP

// The request hooks a real gateway runs (exec::request_hooks): an auth policy says who is
// calling and whether they may use the model, a limits policy reserves their requests and tokens
// per minute and checks their spend cap, and when the request ends the reservation is settled,
// one usage event goes to metering and the metrics are updated.
//
//   walk of one request          hook
//   headers                  ->  authenticate      401 missing/bad key, 403 address
//   decoded, model found     ->  admit             403 scope/tier, 429 limits/spend, 503 store down
//   answered / failed / gone ->  finish            settle, usage event, metrics (never throws)

#include <sluice/api/messages_count_tokens.hpp>
#include <sluice/auth/concepts.hpp>
#include <sluice/core/log.hpp>
#include <sluice/exec/serve.hpp>
#include <sluice/limits/policy.hpp>
#include <sluice/metering/event.hpp>
#include <sluice/observe/gateway_metrics.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <string>

namespace sluice::exec {

/// Output tokens reserved when neither the request nor the catalog bounds them.
inline constexpr std::uint64_t default_reserved_output_tokens = 4096;

namespace policy_detail {

inline std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

inline std::string_view header(const transport::http_request& req, std::string_view name) {
    auto it = req.find(name);
    return it == req.end() ? std::string_view{} : std::string_view(it->value());
}

/// OpenAI's rate-limit headers (x-ratelimit-{limit,remaining,reset}-{requests,tokens}); the
/// reset as OpenAI writes it ("1s", "6m0s" would be theirs; seconds with a unit is what the
/// SDKs and most clients parse).
inline void add_window_headers(transport::exchange& ex, std::string_view what, const limits::window& w) {
    std::string name;
    name.reserve(32);
    auto header = [&](std::string_view kind, std::string value) {
        name.assign("x-ratelimit-").append(kind).append("-").append(what);
        ex.add_header(name, std::move(value));
    };
    header("limit", std::to_string(w.limit));
    header("remaining", std::to_string(w.remaining));
    // Seconds with a unit, to the millisecond ("0.1s", "6s"): what the SDKs parse.
    char reset[32];
    const double seconds = w.reset_seconds < 0 ? 0.0 : std::round(w.reset_seconds * 1000) / 1000;
    auto [end, ec] = std::to_chars(reset, reset + sizeof reset - 1, seconds);
    *end++ = 's';
    header("reset", std::string(reset, end));
}

} // namespace policy_detail

/// Hands usage events to metering; empty: usage goes to the completion log line only.
using usage_recorder = std::function<void(metering::usage_event)>;

template <auth::auth_policy Auth, limits::limits_policy Limits>
class policy_stack {
public:
    struct state {
        auth::principal who;
        std::optional<limits::reservation> held;
        std::optional<observe::in_flight> request_gauge, stream_gauge;
    };

    /// executor: where settling runs after a request ends. All references outlive this object.
    policy_stack(Auth& auth, Limits& limits, observe::gateway_metrics& metrics, usage_recorder record,
                 transport::net::any_io_executor executor)
        : auth_(auth), limits_(limits), metrics_(metrics), record_(std::move(record)), executor_(std::move(executor)) {}

    transport::net::awaitable<std::optional<core::error>> authenticate(transport::exchange& ex, state& st) {
        const auto& req = ex.request();
        st.request_gauge.emplace(metrics_.track_request());
        auth::credentials c{policy_detail::header(req, "authorization"), policy_detail::header(req, "x-api-key"),
                            ex.remote().address(), policy_detail::header(req, "x-forwarded-for")};
        auto who = auth_.authenticate(c, policy_detail::unix_now());
        if (!who) {
            metrics_.auth_failure(who.error().code);
            co_return std::move(who).error();
        }
        st.who = std::move(who).value();
        co_return std::nullopt;
    }

    transport::net::awaitable<std::optional<core::error>> admit(transport::exchange& ex, state& st,
                                                                const core::envelope& env, const core::model_entry& m) {
        if (auto denied = auth_.authorize(st.who, m)) co_return denied;
        const limits::quota& q = st.who.acct->quota;
        std::uint64_t output = env.sampling.max_output_tokens ? *env.sampling.max_output_tokens
                               : m.max_output_tokens ? *m.max_output_tokens
                                                     : default_reserved_output_tokens;
        limits::admission a{st.who.acct->id,
                            m.id,
                            q.account.unlimited() ? nullptr : &q.account,
                            q.model_rate(m.id),
                            q.spend.none() ? nullptr : &q.spend,
                            api::estimate_input_tokens(env) + output};
        auto d = co_await limits_.admit(a);
        if (d.requests) policy_detail::add_window_headers(ex, "requests", *d.requests);
        if (d.tokens) policy_detail::add_window_headers(ex, "tokens", *d.tokens);
        if (d.refused) {
            ex.add_header("retry-after", std::to_string(std::max<long long>(1, std::llround(std::ceil(d.retry_after_seconds)))));
            metrics_.throttled(d.refused->code == "insufficient_quota"        ? observe::throttle_reason::spend_cap
                               : d.refused->kind == core::error_kind::rate_limit ? observe::throttle_reason::rate_limit
                                                                                  : observe::throttle_reason::store_down);
            co_return std::move(d.refused);
        }
        if (d.held.active()) st.held = std::move(d.held);
        if (env.stream && !st.stream_gauge) st.stream_gauge.emplace(metrics_.track_stream());
        co_return std::nullopt;
    }

    /// A failed attempt before failover: its reservation is settled at nothing used.
    void release(state& st) noexcept {
        try {
            settle(st, 0, 0.0);
        } catch (...) {
        }
    }

    void finish(const transport::exchange& ex, state& st, const completion& c) noexcept {
        try {
            account(ex, st, c);
        } catch (const std::exception& e) {
            log::error("accounting_failed", {{"request_id", ex.request_id()}, {"error", e.what()}});
        }
    }

private:
    /// Settles what admit held, off the response path: the client has its answer (or the next
    /// candidate's), and the counters catch up. The coroutine owns the reservation.
    void settle(state& st, std::uint64_t tokens, double cost) {
        if (!st.held) return;
        transport::net::co_spawn(
            executor_,
            [this, held = std::move(*st.held), tokens, cost]() -> transport::net::awaitable<void> {
                co_await limits_.settle(held, tokens, cost);
            },
            transport::net::detached);
        st.held.reset();
    }

    void account(const transport::exchange& ex, state& st, const completion& c) {
        using seconds = std::chrono::duration<double>;
        const auto now = std::chrono::steady_clock::now();
        const std::string_view model = c.model ? std::string_view(c.model->id) : std::string_view("unknown");
        metrics_.request_finished(model, c.endpoint, c.status, seconds(now - c.started));
        if (!c.model) return;
        const double cost = c.model->price ? core::cost_of(c.used, *c.model->price).total() : 0.0;
        if (!c.provider.empty()) {
            if (c.first_token) metrics_.first_token(model, seconds(*c.first_token - c.started));
            metrics_.tokens(model, c.used);
            if (cost > 0) metrics_.cost(model, cost);
            if (c.outcome == "upstream_error" || c.outcome == "stream_error")
                metrics_.upstream_error(c.provider, c.error.value_or(core::error_kind::upstream));
        }
        settle(st, c.used.input + c.used.cache_read + c.used.cache_write + c.used.output, cost);
        if (record_ && !c.provider.empty()) {
            metering::usage_event e;
            metering::set_usage(e, c.used, c.model->price);
            e.request_id = std::string(ex.request_id());
            e.account = st.who.acct ? st.who.acct->id : std::string();
            e.key_id = st.who.key_id;
            e.model = c.model->id;
            e.provider = std::string(c.provider);
            e.endpoint = std::string(c.endpoint);
            e.route = c.route;
            e.latency_ms = std::chrono::duration<double, std::milli>(now - c.started).count();
            if (c.first_token) e.ttft_ms = std::chrono::duration<double, std::milli>(*c.first_token - c.started).count();
            e.status = c.status;
            e.stream = c.stream;
            e.ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
            record_(std::move(e));
        }
    }

    Auth& auth_;
    Limits& limits_;
    observe::gateway_metrics& metrics_;
    usage_recorder record_;
    transport::net::any_io_executor executor_;
};

} // namespace sluice::exec

#endif
