#ifndef SLUICE_OBSERVE_GATEWAY_METRICS_HPP
#define SLUICE_OBSERVE_GATEWAY_METRICS_HPP

// The gateway's own metrics, one method per event so each stays one line on the request path:
//
//   observe::registry reg;
//   observe::gateway_metrics m(reg);
//   auto held = m.track_request();                          // sluice_requests_in_flight
//   ...
//   m.first_token(model, clock::now() - start);
//   m.tokens(model, usage);
//   m.cost(model, core::cost_of(usage, price));
//   m.request_finished(model, core::to_string(env.api), 200, clock::now() - start);
//
// Latency and token names follow the OpenTelemetry GenAI semantic conventions, dots turned into
// underscores as Prometheus exporters do. Label `model` takes the catalog's public id (or the
// router name): never a raw client string for an unknown model, which would grow a series per typo
// (each family stops at `series_limit` children and folds the rest into "other").

#include <sluice/core/error.hpp>
#include <sluice/core/usage.hpp>
#include <sluice/observe/metrics.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace sluice::observe {

/// Why a request was refused before inference.
enum class throttle_reason : std::uint8_t {
    rate_limit, // an RPM or TPM limit
    spend_cap,  // the account's daily or monthly spend cap
    store_down, // the shared limit store was unreachable and on_store_down is "closed"
};

inline constexpr std::array<std::string_view, 3> throttle_reason_names{"rate_limit", "spend_cap", "store_down"};

constexpr std::string_view to_string(throttle_reason r) noexcept { return throttle_reason_names[std::size_t(r)]; }

/// The label value for an error kind: the enumerator's name.
constexpr std::string_view error_kind_label(core::error_kind k) noexcept {
    switch (k) {
    case core::error_kind::invalid_request: return "invalid_request";
    case core::error_kind::authentication: return "authentication";
    case core::error_kind::permission: return "permission";
    case core::error_kind::not_found: return "not_found";
    case core::error_kind::method_not_allowed: return "method_not_allowed";
    case core::error_kind::request_too_large: return "request_too_large";
    case core::error_kind::rate_limit: return "rate_limit";
    case core::error_kind::internal: return "internal";
    case core::error_kind::upstream: return "upstream";
    case core::error_kind::overloaded: return "overloaded";
    case core::error_kind::timeout: return "timeout";
    }
    return "internal";
}

/// "2xx", "4xx", "5xx" (and "1xx", "3xx"); anything outside 100..599 counts as "5xx", a bug of ours.
constexpr std::string_view status_class(unsigned http_status) noexcept {
    constexpr std::array<std::string_view, 5> names{"1xx", "2xx", "3xx", "4xx", "5xx"};
    unsigned c = http_status / 100;
    return c >= 1 && c <= 5 ? names[c - 1] : names[4];
}

/// Whole requests, from 10 ms (a cached embedding) to a minute (a long generation); longer ones
/// land in +Inf and still count in _sum.
inline constexpr std::array<double, 13> request_duration_buckets{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                                 2.5,  5,     10,   20,  30,   60};

/// Time to first token: finer below a second, where prefill and queueing show.
inline constexpr std::array<double, 15> time_to_first_token_buckets{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5,
                                                                    0.75, 1,     2.5,  5,     10,  30,   60};

class gateway_metrics {
public:
    /// Children per family before new label sets fold into "other".
    static constexpr std::size_t series_limit = 2'000;

    /// Registers every family on `reg` at once, so /metrics lists them all before the first request.
    explicit gateway_metrics(observe::registry& reg)
        : reg_(reg),
          requests_(reg.add_counter("sluice_requests_total", "Requests answered, by model, endpoint and HTTP status class.",
                                    {"model", "endpoint", "status_class"})),
          throttled_(reg.add_counter("sluice_throttled_total", "Requests refused by the limits policy, by reason.",
                                     {"reason"})),
          duration_(reg.add_histogram("gen_ai_server_request_duration_seconds",
                                      "End-to-end request duration in seconds (OTel gen_ai.server.request.duration).",
                                      {"model", "endpoint"},
                                      {request_duration_buckets.begin(), request_duration_buckets.end()})),
          ttft_(reg.add_histogram("gen_ai_server_time_to_first_token_seconds",
                                  "Time to the first generated token in seconds (OTel gen_ai.server.time_to_first_token).",
                                  {"model"},
                                  {time_to_first_token_buckets.begin(), time_to_first_token_buckets.end()})),
          // OTel's gen_ai.client.token.usage is a histogram of tokens per request; what dashboards
          // sum is the running total by type, and a counter gives that with one series per type.
          tokens_(reg.add_counter("gen_ai_client_token_usage_total",
                                  "Tokens by model and type: input (uncached prompt), cached (prompt read from a "
                                  "cache), output (reasoning included), reasoning.",
                                  {"model", "type"})),
          cost_(reg.add_counter("sluice_cost_usd_total", "Cost in USD at catalog prices, by model.", {"model"})),
          upstream_errors_(reg.add_counter("sluice_upstream_errors_total",
                                           "Failed attempts against an upstream, by provider and error kind.",
                                           {"provider", "kind"})),
          in_flight_(reg.add_gauge("sluice_requests_in_flight", "Requests being served now.").get()),
          open_streams_(reg.add_gauge("sluice_open_streams", "Streaming responses open now.").get()),
          spool_backlog_(reg.add_callback_gauge("sluice_metering_spool_backlog",
                                                "Usage events in the metering spool not yet delivered to the sink.")),
          limit_store_errors_(reg.add_callback_counter("sluice_limit_store_errors_total",
                                                       "Failed calls to the shared limit store.")),
          auth_failures_(reg.add_counter("sluice_auth_failures_total", "Refused credentials, by error code.", {"code"})) {
        for (auto* f : {&requests_, &tokens_, &cost_, &upstream_errors_, &auth_failures_}) f->set_child_limit(series_limit);
        duration_.set_child_limit(series_limit);
        ttft_.set_child_limit(series_limit);
        // A small fixed set: every reason shows as 0 from the start, so rate() has a series to work on.
        for (std::size_t i = 0; i < throttle_reason_names.size(); ++i)
            throttled_by_[i] = &throttled_.labels({throttle_reason_names[i]});
    }

    gateway_metrics(const gateway_metrics&) = delete;
    gateway_metrics& operator=(const gateway_metrics&) = delete;

    /// A request answered: counts it by status class and records its end-to-end duration.
    void request_finished(std::string_view model, std::string_view endpoint, unsigned http_status,
                          std::chrono::duration<double> elapsed) {
        requests_.labels({model, endpoint, status_class(http_status)}).inc();
        duration_.labels({model, endpoint}).observe(elapsed.count());
    }

    void first_token(std::string_view model, std::chrono::duration<double> elapsed) {
        ttft_.labels({model}).observe(elapsed.count());
    }

    /// input + cached is every prompt token (cache writes count as input); reasoning is a part of
    /// output, so summing all four types counts reasoning twice.
    void tokens(std::string_view model, const core::usage& u) {
        tokens_.labels({model, "input"}).inc(u.input + u.cache_write);
        tokens_.labels({model, "output"}).inc(u.output);
        tokens_.labels({model, "cached"}).inc(u.cache_read);
        tokens_.labels({model, "reasoning"}).inc(u.reasoning);
    }

    void cost(std::string_view model, double usd) { cost_.labels({model}).add(usd); }
    void cost(std::string_view model, const core::cost& c) { cost(model, c.total()); }

    void throttled(throttle_reason r) noexcept { throttled_by_[std::size_t(r)]->inc(); }

    /// `kind` is free text for failures below the error model ("connect", "tls", "reset").
    void upstream_error(std::string_view provider, std::string_view kind) {
        upstream_errors_.labels({provider, kind}).inc();
    }
    void upstream_error(std::string_view provider, core::error_kind kind) {
        upstream_error(provider, error_kind_label(kind));
    }

    /// `code`: the error's machine-readable code ("invalid_api_key", "missing_api_key", ...).
    void auth_failure(std::string_view code) { auth_failures_.labels({code}).inc(); }

    /// Counts the request in flight until the guard goes.
    in_flight track_request() noexcept { return in_flight(in_flight_); }
    /// Counts an open stream until the guard goes.
    in_flight track_stream() noexcept { return in_flight(open_streams_); }

    /// The metering spool sets this when it starts; read at each scrape.
    void set_spool_backlog(callback_family::source s) { spool_backlog_.set(std::move(s)); }
    /// The limits store sets this when it starts; the source returns its running error count.
    void set_limit_store_errors(callback_family::source s) { limit_store_errors_.set(std::move(s)); }

    observe::registry& registry() const noexcept { return reg_; }
    std::string scrape() const { return reg_.scrape(); }

private:
    observe::registry& reg_;
    counter_family& requests_;
    counter_family& throttled_;
    histogram_family& duration_;
    histogram_family& ttft_;
    counter_family& tokens_;
    counter_family& cost_;
    counter_family& upstream_errors_;
    gauge& in_flight_;
    gauge& open_streams_;
    callback_family& spool_backlog_;
    callback_family& limit_store_errors_;
    counter_family& auth_failures_;
    std::array<counter*, throttle_reason_names.size()> throttled_by_{};
};

} // namespace sluice::observe

#endif
