#ifndef SLUICE_EXEC_SERVE_HPP
#define SLUICE_EXEC_SERVE_HPP

// One text-generation request from any front API to any upstream: decode, check against the
// catalog, translate, call, translate back, encode in the caller's API. The same events feed a
// stream or, aggregated, a JSON body: one path.
//
// A front is a traits type (api/fronts.hpp): its front_api, how it names checked fields (params),
// decode(body, headers), echo_of(envelope), encode_body(aggregate, context, echo) and
// stream_encoder(context, echo).

#include <sluice/api/codec.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/exec/executor.hpp>
#include <sluice/exec/validate.hpp>
#include <sluice/transport/sse.hpp>

#include <chrono>
#include <functional>
#include <vector>

namespace sluice::exec {

/// The upstream that serves a catalog model, or null when its provider is not loaded.
using upstream_lookup = std::function<const upstream*(const core::model_entry&)>;

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

/// One `completion` log line per request that reached an upstream, written when it ends.
struct completion_record {
    const transport::exchange& ex;
    const core::model_entry& model;
    const upstream& up;
    bool stream;
    core::usage used{};
    std::string_view outcome = "cancelled"; // unless the request says otherwise before it ends

    ~completion_record() {
        double cost = model.price ? core::cost_of(used, *model.price).total() : 0.0;
        log::info("completion", {{"request_id", ex.request_id()},
                                 {"model", model.id},
                                 {"provider", up.name},
                                 {"stream", stream},
                                 {"outcome", outcome},
                                 {"input_tokens", used.input},
                                 {"output_tokens", used.output},
                                 {"cache_read_tokens", used.cache_read},
                                 {"cache_write_tokens", used.cache_write},
                                 {"cost_usd", cost}});
    }
};

} // namespace detail

template <class Front>
transport::net::awaitable<void> serve_text(transport::exchange& ex, const core::catalog& catalog,
                                           const upstream_lookup& upstream_for) {
    auto headers = detail::forwardable_headers(ex.request());
    auto decoded = Front::decode(ex.request().body(), headers);
    if (!decoded) {
        auto e = std::move(decoded).error();
        co_await ex.respond_error(e);
        co_return;
    }
    core::envelope env = std::move(decoded).value();
    auto found = find_model(catalog, env);
    if (!found) {
        auto e = std::move(found).error();
        co_await ex.respond_error(e);
        co_return;
    }
    const core::model_entry& model = *found.value();
    auto valid = validate_against(env, model, Front::params);
    if (!valid) {
        auto e = std::move(valid).error();
        co_await ex.respond_error(e);
        co_return;
    }
    const upstream* up = upstream_for(model);
    if (!up) {
        core::error e{core::error_kind::overloaded, "the provider of '" + model.id + "' is not available", "model",
                      "provider_unavailable"};
        co_await ex.respond_error(e);
        co_return;
    }
    const auto echo = Front::echo_of(env);
    env.model = model.upstream_model;
    api::response_context ctx{api::new_response_id(Front::api), model.id,
                              std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count(),
                              env.include_usage};

    // Logged however the request ends: a client that hangs up cancels this coroutine, and the
    // unwinding still writes the line.
    detail::completion_record record{ex, model, *up, env.stream};

    if (!env.stream) {
        auto events = co_await complete(env, *up, ex.request_id());
        if (!events) {
            record.outcome = "upstream_error";
            auto e = std::move(events).error();
            co_await ex.respond_error(e);
            co_return;
        }
        auto answer = core::response_aggregate::fold(std::move(events).value());
        record.used = answer.usage();
        if (answer.error()) {
            record.outcome = "upstream_error";
            auto e = *answer.error();
            co_await ex.respond_error(e);
            co_return;
        }
        record.outcome = "ok";
        co_await ex.respond_json(transport::http::status::ok, Front::encode_body(answer, ctx, echo));
        co_return;
    }

    std::vector<core::event> batch;
    auto opened = co_await open_stream(env, *up, batch, ex.request_id());
    if (!opened) {
        record.outcome = "upstream_error";
        auto e = std::move(opened).error();
        co_await ex.respond_error(e);
        co_return;
    }
    upstream_stream stream = std::move(opened).value();
    auto encoder = Front::stream_encoder(ctx, echo);
    co_await transport::serve_sse(ex, [&](transport::sse_stream& sse) -> transport::net::awaitable<void> {
        std::vector<api::sse_frame> frames;
        for (;;) {
            for (const auto& e : batch) {
                if (const auto* u = std::get_if<core::usage>(&e)) record.used += *u;
                if (std::holds_alternative<core::error>(e)) record.outcome = "stream_error";
                encoder.add(e, frames);
            }
            batch.clear();
            for (const auto& f : frames) {
                bool sent = co_await sse.send(f.event, f.data);
                if (!sent) co_return; // the client is gone: the record says so
            }
            frames.clear();
            bool more = co_await stream.next(batch);
            if (!more) break;
        }
        if (record.outcome == "cancelled") record.outcome = "ok";
    });
}

} // namespace sluice::exec

#endif
