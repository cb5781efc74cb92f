#ifndef SLUICE_EXEC_SERVE_HPP
#define SLUICE_EXEC_SERVE_HPP

// One text-generation request from any front API to any backend: decode, check against the
// catalog, translate, call (an upstream, or a kernel in this process), translate back, encode in
// the caller's API. The same events feed a stream or, aggregated, a JSON body: one path.
//
// A front is a traits type (api/fronts.hpp): its front_api, how it names checked fields (params),
// decode(body, headers), echo_of(envelope), encode_body(aggregate, context, echo) and
// stream_encoder(context, echo).

#include <sluice/api/codec.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/exec/backend.hpp>
#include <sluice/exec/executor.hpp>
#include <sluice/exec/kernel_backend.hpp>
#include <sluice/exec/validate.hpp>
#include <sluice/transport/sse.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sluice::exec {

/// The upstream that serves a catalog model, or null when its provider is not loaded.
using upstream_lookup = std::function<const upstream*(const core::model_entry&)>;

/// A backend_lookup for gateways whose every model is an upstream's.
inline backend_lookup upstreams_only(upstream_lookup upstream_for) {
    return [f = std::move(upstream_for)](const core::model_entry& m) { return backend{f(m), nullptr, std::nullopt}; };
}

namespace detail {

/// Client headers a decoder may use: the Anthropic ones, which reach Anthropic unchanged.
inline api::request_headers forwardable_headers(const transport::http_request& req) {
    api::request_headers h;
    for (const auto& f : req) {
        auto name = f.name_string();
        if (transport::iequals(name, "anthropic-version") || transport::iequals(name, "anthropic-beta")) {
            std::string lower(name);
            for (auto& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
            h.emplace_back(std::move(lower), std::string(f.value()));
        }
    }
    return h;
}

/// The front API's endpoint as usage events and metrics name it.
constexpr std::string_view endpoint_name(core::front_api api) noexcept {
    switch (api) {
    case core::front_api::chat_completions: return "chat.completions";
    case core::front_api::responses: return "responses";
    case core::front_api::messages: return "messages";
    case core::front_api::embeddings: return "embeddings";
    case core::front_api::images: return "images.generations";
    case core::front_api::speech: return "audio.speech";
    case core::front_api::transcriptions: return "audio.transcriptions";
    case core::front_api::video: return "video.generations";
    case core::front_api::internal: return "internal";
    }
    return "unknown";
}

} // namespace detail

/// How one request ended, for the hooks' accounting: whatever is known when it ends.
struct completion {
    const core::model_entry* model = nullptr; // null: refused before a model was found
    std::string_view provider;                // empty: no upstream was called
    std::string_view endpoint;                // "chat.completions", "responses", "messages"
    std::string route;                        // the router's route (task or "fallback"); empty when none
    bool stream = false;
    core::usage used{};
    std::string_view outcome; // ok, upstream_error, stream_error, cancelled, refused
    unsigned status = 0;      // the HTTP status sent; 499 when the client left first
    std::optional<core::error_kind> error;
    std::chrono::steady_clock::time_point started;
    std::optional<std::chrono::steady_clock::time_point> first_token; // the first content event sent
};

/// What a gateway does around each request: who is calling, may they use this model now, and
/// what it cost. `state` lives for one request; admit runs once per candidate model tried, and
/// release gives back what an admitted attempt held when the request moves on to the next
/// candidate; finish runs however the request ends (a client
/// that hangs up unwinds the coroutine), so it must not throw or suspend: asynchronous work
/// (settling a Redis reservation) is spawned from it.
template <class H>
concept request_hooks = requires(H& h, transport::exchange& ex, typename H::state& st, const core::envelope& env,
                                 const core::model_entry& m, const completion& c) {
    typename H::state;
    { h.authenticate(ex, st) } -> std::same_as<transport::net::awaitable<std::optional<core::error>>>;
    { h.admit(ex, st, env, m) } -> std::same_as<transport::net::awaitable<std::optional<core::error>>>;
    { h.release(st) } noexcept;
    { h.finish(ex, st, c) } noexcept;
};

/// Anyone may call, any amount; nothing is counted. The default, and what tests of the path use.
struct no_hooks {
    struct state {};
    transport::net::awaitable<std::optional<core::error>> authenticate(transport::exchange&, state&) { co_return std::nullopt; }
    transport::net::awaitable<std::optional<core::error>> admit(transport::exchange&, state&, const core::envelope&,
                                                                const core::model_entry&) {
        co_return std::nullopt;
    }
    void release(state&) noexcept {}
    void finish(const transport::exchange&, state&, const completion&) noexcept {}
};

namespace detail {

/// Written however the request ends: one `completion` log line when an upstream was called, and
/// the hooks' finish for every request.
template <class Hooks>
struct completion_record {
    transport::exchange& ex;
    Hooks& hooks;
    typename Hooks::state& st;
    completion c;

    ~completion_record() {
        c.status = ex.responded() ? ex.status() : 499;
        if (c.outcome.empty()) c.outcome = ex.responded() ? "refused" : "cancelled";
        if (!c.provider.empty()) {
            double cost = c.model->price ? core::cost_of(c.used, *c.model->price).total() : 0.0;
            log::info("completion", {{"request_id", ex.request_id()},
                                     {"model", c.model->id},
                                     {"provider", c.provider},
                                     {"stream", c.stream},
                                     {"outcome", c.outcome},
                                     {"input_tokens", c.used.input},
                                     {"output_tokens", c.used.output},
                                     {"cache_read_tokens", c.used.cache_read},
                                     {"cache_write_tokens", c.used.cache_write},
                                     {"cost_usd", cost}});
        }
        hooks.finish(ex, st, c);
    }
};

} // namespace detail

/// The models a request may be served by, in the order to try: one for a plain model id; up to
/// a router's candidates for "router:NAME", with the route (the task, or "fallback") it chose.
struct route_plan {
    std::string route; // empty: no router chose
    std::vector<const core::model_entry*> candidates;
};

/// How one attempt at one model went, for the router's statistics and circuit breakers.
struct attempt_outcome {
    std::optional<core::error_kind> failure; // empty: the upstream answered
    std::optional<std::chrono::duration<double>> ttft;
};

/// What the router contributes to the request path; both may be empty (no routers).
struct routing_hooks {
    // nullopt: the model is not a router's; an error: a router that cannot serve the request.
    std::function<std::optional<core::result<route_plan>>(const core::envelope&)> resolve;
    std::function<void(const core::model_entry&, const attempt_outcome&)> report;
};

namespace detail {

/// Where a streaming answer's events come from: an upstream's stream or a kernel's run.
struct event_source {
    std::optional<upstream_stream> remote;
    std::optional<kernel_run> local;

    transport::net::awaitable<bool> next(std::vector<core::event>& out) {
        if (remote) {
            bool more = co_await remote->next(out);
            co_return more;
        }
        bool more = co_await local->next(out);
        co_return more;
    }
};

} // namespace detail

/// A failure before anything reached the client that the next candidate may fix: the upstream
/// could not be reached, failed (5xx), was overloaded or rate limited, or timed out. Never a
/// request the upstream refused as invalid, which the next would refuse too.
constexpr bool fails_over(core::error_kind k) noexcept {
    using enum core::error_kind;
    return k == upstream || k == overloaded || k == timeout || k == rate_limit;
}

template <class Front, request_hooks Hooks = no_hooks>
transport::net::awaitable<void> serve_text(transport::exchange& ex, const core::catalog& catalog,
                                           const backend_lookup& backend_for, Hooks& hooks,
                                           const routing_hooks* routing = nullptr) {
    typename Hooks::state st{};
    detail::completion_record<Hooks> record{ex, hooks, st, {}};
    record.c.endpoint = detail::endpoint_name(Front::api);
    record.c.started = ex.started();

    auto refused = co_await hooks.authenticate(ex, st);
    if (refused) {
        record.c.error = refused->kind;
        co_await ex.respond_error(*refused);
        co_return;
    }
    auto headers = detail::forwardable_headers(ex.request());
    auto decoded = Front::decode(ex.request().body(), headers);
    if (!decoded) {
        auto e = std::move(decoded).error();
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    core::envelope env = std::move(decoded).value();
    record.c.stream = env.stream;

    route_plan plan;
    if (routing && routing->resolve) {
        auto resolved = routing->resolve(env);
        if (resolved && !*resolved) {
            auto e = std::move(*resolved).error();
            record.c.error = e.kind;
            co_await ex.respond_error(e);
            co_return;
        }
        if (resolved) plan = std::move(*resolved).value();
    }
    if (plan.candidates.empty()) {
        auto found = find_model(catalog, env);
        if (!found) {
            auto e = std::move(found).error();
            record.c.error = e.kind;
            co_await ex.respond_error(e);
            co_return;
        }
        plan.candidates.push_back(found.value());
    }
    record.c.route = plan.route;
    if (!plan.route.empty()) ex.add_header("x-model-router-selected-route", plan.route);
    const auto echo = Front::echo_of(env);
    const bool routed = plan.candidates.size() > 1;

    // Each candidate in turn until one answers; a failure moves on only while nothing has been
    // sent to the client (WIRE.md 8), and only when the next candidate could do better.
    std::optional<core::error> last;
    for (std::size_t i = 0; i < plan.candidates.size(); ++i) {
        const core::model_entry& model = *plan.candidates[i];
        const bool more = i + 1 < plan.candidates.size();
        record.c.model = &model;
        record.c.provider = {};
        record.c.outcome = {};
        // Looked up first: a kernel's figures in the catalog (its context window) are final only
        // once it has loaded, which the lookup tells.
        backend be = backend_for(model);
        if (!be) {
            last = be.unavailable ? std::move(*be.unavailable)
                                  : core::error{core::error_kind::overloaded,
                                                "the provider of '" + model.id + "' is not available", "model",
                                                "provider_unavailable"};
            if (more) continue;
            break;
        }
        auto valid = validate_against(env, model, Front::params);
        if (!valid) {
            last = std::move(valid).error();
            if (more) continue;
            break;
        }
        auto denied = co_await hooks.admit(ex, st, env, model);
        if (denied) {
            last = std::move(*denied);
            if (more && routed) continue;
            break;
        }
        const upstream* up = be.remote;
        // The last candidate takes the envelope; earlier ones work on a copy.
        core::envelope attempt = more ? env : std::move(env);
        attempt.model = model.upstream_model;
        api::response_context ctx{api::new_response_id(Front::api), model.id,
                                  std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count(),
                                  attempt.include_usage};
        record.c.provider = up ? std::string_view(up->name) : std::string_view("local");
        record.c.outcome = "cancelled"; // unless the request says otherwise before it ends
        const auto attempt_started = std::chrono::steady_clock::now();
        auto report = [&](std::optional<core::error_kind> failure) {
            if (!routing || !routing->report) return;
            attempt_outcome o{failure, {}};
            if (!failure) o.ttft = std::chrono::steady_clock::now() - attempt_started;
            routing->report(model, o);
        };
        // A failed attempt: on to the next candidate when that may help, else the answer.
        auto failed = [&](core::error e) {
            report(e.kind);
            record.c.outcome = "upstream_error";
            record.c.error = e.kind;
            const bool next = more && fails_over(e.kind);
            if (next) {
                log::info("failover", {{"request_id", ex.request_id()}, {"model", model.id}, {"code", e.code}});
                hooks.release(st);
                record.c.provider = {};
            }
            last = std::move(e);
            return next;
        };

        const auto executor = co_await transport::net::this_coro::executor;
        if (!attempt.stream) {
            core::result<std::vector<core::event>> events = std::vector<core::event>{};
            if (up) {
                events = co_await complete(attempt, *up, ex.request_id());
            } else {
                auto run = kernel_run::submit(be.kernel, std::move(attempt), executor);
                if (!run) {
                    events = std::move(run).error();
                } else {
                    kernel_run local = std::move(run).value();
                    events = co_await local.all();
                }
            }
            if (!events) {
                if (failed(std::move(events).error())) continue;
                break;
            }
            auto answer = core::response_aggregate::fold(std::move(events).value());
            record.c.used = answer.usage();
            if (answer.error()) {
                if (failed(*answer.error())) continue;
                break;
            }
            report(std::nullopt);
            record.c.outcome = "ok";
            record.c.first_token = std::chrono::steady_clock::now();
            co_await ex.respond_json(transport::http::status::ok, Front::encode_body(answer, ctx, echo));
            co_return;
        }

        std::vector<core::event> batch;
        detail::event_source stream;
        if (up) {
            auto opened = co_await open_stream(attempt, *up, batch, ex.request_id());
            if (!opened) {
                if (failed(std::move(opened).error())) continue;
                break;
            }
            stream.remote.emplace(std::move(opened).value());
        } else {
            auto run = kernel_run::submit(be.kernel, std::move(attempt), executor);
            if (!run) {
                if (failed(std::move(run).error())) continue;
                break;
            }
            stream.local.emplace(std::move(run).value());
            co_await stream.local->next(batch);
            // As with an upstream: a kernel that fails before its first event may be failed over.
            if (batch.size() == 1) {
                if (const auto* e = std::get_if<core::error>(&batch.front())) {
                    if (failed(*e)) continue;
                    break;
                }
            }
        }
        report(std::nullopt);
        auto encoder = Front::stream_encoder(ctx, echo);
        co_await transport::serve_sse(ex, [&](transport::sse_stream& sse) -> transport::net::awaitable<void> {
            std::vector<api::sse_frame> frames;
            for (;;) {
                for (const auto& e : batch) {
                    if (const auto* u = std::get_if<core::usage>(&e)) record.c.used += *u;
                    if (const auto* err = std::get_if<core::error>(&e)) {
                        record.c.outcome = "stream_error";
                        record.c.error = err->kind;
                    }
                    encoder.add(e, frames);
                }
                batch.clear();
                if (!frames.empty() && !record.c.first_token) record.c.first_token = std::chrono::steady_clock::now();
                for (const auto& f : frames) {
                    bool sent = co_await sse.send(f.event, f.data);
                    if (!sent) co_return; // the client is gone: the record says so
                }
                frames.clear();
                bool more_events = co_await stream.next(batch);
                if (!more_events) break;
            }
            if (record.c.outcome == "cancelled") record.c.outcome = "ok";
        });
        co_return;
    }
    if (!last) last = core::error{core::error_kind::internal, "no model could serve the request", {}, {}};
    if (!record.c.error) record.c.error = last->kind;
    co_await ex.respond_error(*last);
}

/// serve_text with no hooks: anyone may call; nothing is counted.
template <class Front>
transport::net::awaitable<void> serve_text(transport::exchange& ex, const core::catalog& catalog,
                                           const backend_lookup& backend_for) {
    static no_hooks none;
    co_await serve_text<Front, no_hooks>(ex, catalog, backend_for, none);
}

} // namespace sluice::exec

#endif
