#ifndef SLUICE_EXEC_SERVE_MEDIA_HPP
#define SLUICE_EXEC_SERVE_MEDIA_HPP

// The endpoints that are not text generation: POST /v1/embeddings, /v1/audio/speech and
// /v1/images/generations. Each is decoded and checked here, runs the same request hooks as
// serve_text (who is calling, may they use this model now, what it cost), and is served by the
// model's backend: a kernel in process (embed(), speak()) or a provider's upstream, which gets the
// request in OpenAI's shape through build_passthrough and whose answer is relayed.
//
// What each meters (the usage's `input`, priced at the catalog's price.input per million):
//   embeddings  input tokens, as the backend counts them
//   speech      input characters (UTF-8 code points)
//   images      the images made, as `output` units (price.output per million units; the config's
//               `price: { image: X }` sets it to X per image)

#include <sluice/api/embeddings.hpp>
#include <sluice/api/images.hpp>
#include <sluice/api/speech.hpp>
#include <sluice/exec/backend.hpp>
#include <sluice/exec/executor.hpp>
#include <sluice/exec/kernel_bridge.hpp>
#include <sluice/exec/serve.hpp>

#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::exec {

namespace media_detail {

/// The model, or 404 naming it; 400 when it serves something else.
inline core::result<const core::model_entry*> find_media_model(const core::catalog& catalog, std::string_view id,
                                                               core::endpoint kind) {
    const auto* m = catalog.find(id);
    if (!m)
        return core::error{core::error_kind::not_found, "The model '" + std::string(id) + "' does not exist", "model",
                           "model_not_found"};
    if (!m->endpoints.contains(kind))
        return core::error{core::error_kind::invalid_request,
                           "The model '" + m->id + "' does not serve " + std::string(core::to_string(kind)) +
                               "; pick a model whose endpoints include " + std::string(core::to_string(kind)),
                           "model", "unsupported_endpoint"};
    return m;
}

/// What the admission hook reads: the model, no output to reserve, the input as text for the
/// token estimate.
inline core::envelope admission_envelope(core::endpoint kind, core::front_api api, const std::string& model,
                                         std::string text) {
    core::envelope env;
    env.endpoint = kind;
    env.api = api;
    env.model = model;
    env.sampling.max_output_tokens = 0;
    env.messages.push_back(core::message::user(std::move(text)));
    return env;
}

inline core::error backend_missing(const core::model_entry& m, backend& be) {
    if (be.unavailable) return std::move(*be.unavailable); // a kernel still loading, or one that failed to
    return core::error{core::error_kind::overloaded, "the backend of '" + m.id + "' is not available", "model",
                       "provider_unavailable"};
}

/// The body sent upstream: the client's request with the upstream's id for the model.
inline std::string upstream_body(boost::json::object body, const core::model_entry& m) {
    body["model"] = m.upstream_model;
    return boost::json::serialize(body);
}

/// Sends an OpenAI-shaped request through the provider; a non-2xx answer becomes its error.
inline transport::net::awaitable<core::result<transport::upstream_response>>
send_passthrough(const upstream& up, core::endpoint kind, std::string path, std::string body, std::string_view request_id) {
    plugin::upstream_request native;
    native.method = "POST";
    native.path = std::move(path);
    native.headers.emplace_back("Content-Type", "application/json");
    native.body = std::move(body);
    auto built = up.provider->build_passthrough(kind, std::move(native));
    if (!built) co_return std::move(built).error();
    co_return co_await send_native(std::move(built).value(), up, request_id);
}

/// A whole JSON answer from upstream, parsed; 502 when it is not a JSON object.
inline transport::net::awaitable<core::result<boost::json::object>> read_json(transport::upstream_response& resp,
                                                                              const upstream& up) {
    auto body = co_await resp.read_all(max_response_body);
    if (body.ec == transport::net::error::operation_aborted) throw boost::system::system_error(body.ec);
    if (body.ec) co_return transport_error(body.ec, up.name);
    boost::system::error_code ec;
    auto v = boost::json::parse(body.body, ec);
    if (ec || !v.is_object())
        co_return core::error{core::error_kind::upstream, "upstream " + up.name + " answered with a body that is not a JSON object",
                              {}, "upstream_bad_response"};
    co_return std::move(v.as_object());
}

/// Cancels a kernel request that has not ended when the handler leaves (the client hung up).
struct kernel_request_guard {
    std::shared_ptr<plugin::kernel> kernel;
    plugin::request_id id = 0;
    bool active = false;
    ~kernel_request_guard() {
        if (active && kernel)
            kernel->cancel(id, core::error{core::error_kind::invalid_request, "the client closed the request", {}, "client_closed"});
    }
};

} // namespace media_detail

/// POST /v1/embeddings.
template <request_hooks Hooks>
transport::net::awaitable<void> serve_embeddings(transport::exchange& ex, const core::catalog& catalog,
                                                 const backend_lookup& backend_for, Hooks& hooks) {
    typename Hooks::state st{};
    detail::completion_record<Hooks> record{ex, hooks, st, {}};
    record.c.endpoint = "embeddings";
    record.c.started = ex.started();

    auto refused = co_await hooks.authenticate(ex, st);
    if (refused) {
        record.c.error = refused->kind;
        co_await ex.respond_error(*refused);
        co_return;
    }
    auto decoded = api::decode_embeddings_request(ex.request().body());
    if (!decoded) {
        auto e = std::move(decoded).error();
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    api::embeddings_request req = std::move(decoded).value();
    auto found = media_detail::find_media_model(catalog, req.model, core::endpoint::embeddings);
    if (!found) {
        auto e = std::move(found).error();
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    const core::model_entry& model = *found.value();
    record.c.model = &model;

    std::string text;
    for (const auto& t : req.texts) (text += t) += '\n';
    for (const auto& t : req.tokens) text.append(t.size() * 4, ' '); // about four bytes a token
    auto env = media_detail::admission_envelope(core::endpoint::embeddings, core::front_api::embeddings, model.id,
                                                std::move(text));
    auto denied = co_await hooks.admit(ex, st, env, model);
    if (denied) {
        record.c.error = denied->kind;
        co_await ex.respond_error(*denied);
        co_return;
    }
    backend be = backend_for(model);
    if (!be) {
        auto e = media_detail::backend_missing(model, be);
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }

    if (be.kernel) {
        // The kernel is synchronous and fast (microseconds an input for the n-gram encoder): it runs
        // here, on the request's thread.
        plugin::embedding_request kr;
        kr.texts = std::move(req.texts);
        kr.tokens = std::move(req.tokens);
        kr.dimensions = req.dimensions.value_or(0);
        record.c.provider = model.provider;
        auto made = be.kernel->embed(kr);
        if (!made) {
            auto e = std::move(made).error();
            record.c.outcome = e.kind == core::error_kind::invalid_request ? std::string_view("refused") : "upstream_error";
            record.c.error = e.kind;
            co_await ex.respond_error(e);
            co_return;
        }
        auto& result = made.value();
        record.c.used.input = result.input_tokens;
        record.c.outcome = "ok";
        record.c.first_token = std::chrono::steady_clock::now();
        co_await ex.respond_json(transport::http::status::ok,
                                 api::encode_embeddings_body(result.vectors, req.base64, model.id, result.input_tokens));
        co_return;
    }

    const upstream& up = *be.remote;
    record.c.provider = up.name;
    record.c.outcome = "cancelled";
    auto sent = co_await media_detail::send_passthrough(up, core::endpoint::embeddings, "/embeddings",
                                                        media_detail::upstream_body(std::move(req.body), model),
                                                        ex.request_id());
    if (!sent) {
        auto e = std::move(sent).error();
        record.c.outcome = "upstream_error";
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    auto answer = co_await media_detail::read_json(sent.value(), up);
    if (!answer) {
        auto e = std::move(answer).error();
        record.c.outcome = "upstream_error";
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    auto& body = answer.value();
    body["model"] = model.id; // the caller's name for it
    if (const auto* u = body.if_contains("usage"); u && u->is_object())
        if (const auto* p = u->get_object().if_contains("prompt_tokens"); p && p->is_number())
            record.c.used.input = p->template to_number<std::uint64_t>();
    record.c.outcome = "ok";
    record.c.first_token = std::chrono::steady_clock::now();
    co_await ex.respond_json(transport::http::status::ok, boost::json::serialize(body));
}

/// POST /v1/audio/speech: the audio is sent chunked, as it is made. An error before the first
/// bytes is a JSON error; after them the connection is cut, so the client never mistakes a
/// part for the whole.
template <request_hooks Hooks>
transport::net::awaitable<void> serve_speech(transport::exchange& ex, const core::catalog& catalog,
                                             const backend_lookup& backend_for, Hooks& hooks) {
    typename Hooks::state st{};
    detail::completion_record<Hooks> record{ex, hooks, st, {}};
    record.c.endpoint = "audio.speech";
    record.c.started = ex.started();
    record.c.stream = true;

    auto refused = co_await hooks.authenticate(ex, st);
    if (refused) {
        record.c.error = refused->kind;
        co_await ex.respond_error(*refused);
        co_return;
    }
    auto decoded = api::decode_speech_request(ex.request().body());
    if (!decoded) {
        auto e = std::move(decoded).error();
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    api::speech_request req = std::move(decoded).value();
    auto found = media_detail::find_media_model(catalog, req.model, core::endpoint::speech);
    if (!found) {
        auto e = std::move(found).error();
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    const core::model_entry& model = *found.value();
    record.c.model = &model;
    backend be = backend_for(model);
    if (be.kernel && req.format == "aac") {
        core::error e{core::error_kind::invalid_request,
                      "response_format 'aac' is not supported by this model, use mp3, opus, flac, wav or pcm",
                      "response_format", "unsupported_value"};
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    const std::uint64_t characters = api::utf8_length(req.input);
    auto env = media_detail::admission_envelope(core::endpoint::speech, core::front_api::speech, model.id, req.input);
    auto denied = co_await hooks.admit(ex, st, env, model);
    if (denied) {
        record.c.error = denied->kind;
        co_await ex.respond_error(*denied);
        co_return;
    }
    if (!be) {
        auto e = media_detail::backend_missing(model, be);
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    const std::string content_type(api::speech_content_type(req.format));

    if (be.kernel) {
        using bridge_type = kernel_bridge<plugin::speech_chunk>;
        auto bridge = bridge_type::make(co_await transport::net::this_coro::executor);
        plugin::speech_request kr;
        kr.input = std::move(req.input);
        kr.voice = req.voice;
        kr.speed = req.speed;
        kr.format = req.format;
        kr.instructions = std::move(req.instructions);
        record.c.provider = model.provider;
        // On a kernel thread: hand the chunk to the request's coroutine; the last one ends the bridge.
        auto sink = [bridge](plugin::speech_chunk&& chunk) {
            const bool last = chunk.last;
            bridge->push(std::move(chunk));
            if (last) bridge->close();
        };
        auto started = be.kernel->speak(std::move(kr), std::move(sink));
        if (!started) {
            auto e = std::move(started).error();
            record.c.outcome = e.kind == core::error_kind::invalid_request ? std::string_view("refused") : "upstream_error";
            record.c.error = e.kind;
            co_await ex.respond_error(e);
            co_return;
        }
        media_detail::kernel_request_guard guard{be.kernel, started.value(), true};
        record.c.outcome = "cancelled";
        record.c.used.input = characters;
        std::vector<plugin::speech_chunk> batch;
        bool opened = false;
        for (;;) {
            bool more = co_await bridge->next(batch);
            for (auto& chunk : batch) {
                if (chunk.last && chunk.input_characters) record.c.used.input = chunk.input_characters;
                if (!chunk.bytes.empty()) {
                    if (!opened) {
                        transport::http::response<transport::http::empty_body> head{transport::http::status::ok,
                                                                                    ex.request().version()};
                        head.set(transport::http::field::content_type, content_type);
                        auto ec = co_await ex.begin_chunked(std::move(head));
                        if (ec) co_return; // the client is gone; the guard cancels the kernel request
                        opened = true;
                        record.c.first_token = std::chrono::steady_clock::now();
                    }
                    auto ec = co_await ex.write_chunk(chunk.bytes);
                    if (ec) co_return;
                }
                if (chunk.error) {
                    guard.active = false;
                    record.c.outcome = "stream_error";
                    record.c.error = chunk.error->kind;
                    if (!opened) {
                        co_await ex.respond_error(*chunk.error);
                        co_return;
                    }
                    // Bytes went out: no clean end, the client sees a broken response.
                    throw std::runtime_error("speech synthesis failed part-way: " + chunk.error->message);
                }
                if (chunk.last) {
                    guard.active = false;
                    more = false;
                }
            }
            batch.clear();
            if (!more) break;
        }
        guard.active = false;
        if (!opened) {
            // Nothing was made (an input of only silence): an empty audio body.
            transport::http::response<transport::http::empty_body> head{transport::http::status::ok, ex.request().version()};
            head.set(transport::http::field::content_type, content_type);
            auto ec = co_await ex.begin_chunked(std::move(head));
            if (ec) co_return;
        }
        co_await ex.end_chunked();
        record.c.outcome = "ok";
        co_return;
    }

    const upstream& up = *be.remote;
    record.c.provider = up.name;
    record.c.outcome = "cancelled";
    record.c.used.input = characters;
    auto sent = co_await media_detail::send_passthrough(up, core::endpoint::speech, "/audio/speech",
                                                        media_detail::upstream_body(std::move(req.body), model),
                                                        ex.request_id());
    if (!sent) {
        auto e = std::move(sent).error();
        record.c.outcome = "upstream_error";
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    auto& resp = sent.value();
    transport::http::response<transport::http::empty_body> head{transport::http::status::ok, ex.request().version()};
    auto upstream_type = resp.header("content-type");
    head.set(transport::http::field::content_type, upstream_type.empty() ? std::string_view(content_type) : upstream_type);
    auto ec = co_await ex.begin_chunked(std::move(head));
    if (ec) co_return;
    for (;;) {
        auto piece = co_await resp.read_some();
        if (piece.ec == transport::net::error::operation_aborted) throw boost::system::system_error(piece.ec);
        if (piece.ec) {
            record.c.outcome = "stream_error";
            record.c.error = core::error_kind::upstream;
            throw std::runtime_error("upstream " + up.name + " cut the speech body: " + piece.ec.message());
        }
        if (piece.bytes.empty()) break;
        if (!record.c.first_token) record.c.first_token = std::chrono::steady_clock::now();
        auto wrote = co_await ex.write_chunk(piece.bytes);
        if (wrote) co_return;
    }
    co_await ex.end_chunked();
    record.c.outcome = "ok";
}

/// POST /v1/images/generations: checked here, made by a provider.
template <request_hooks Hooks>
transport::net::awaitable<void> serve_images(transport::exchange& ex, const core::catalog& catalog,
                                             const backend_lookup& backend_for, Hooks& hooks) {
    typename Hooks::state st{};
    detail::completion_record<Hooks> record{ex, hooks, st, {}};
    record.c.endpoint = "images.generations";
    record.c.started = ex.started();

    auto refused = co_await hooks.authenticate(ex, st);
    if (refused) {
        record.c.error = refused->kind;
        co_await ex.respond_error(*refused);
        co_return;
    }
    auto decoded = api::decode_image_request(ex.request().body());
    if (!decoded) {
        auto e = std::move(decoded).error();
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    api::image_request req = std::move(decoded).value();
    auto found = media_detail::find_media_model(catalog, req.model, core::endpoint::images);
    if (!found) {
        auto e = std::move(found).error();
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    const core::model_entry& model = *found.value();
    record.c.model = &model;
    backend be = backend_for(model);
    if (be.kernel) {
        core::error e{core::error_kind::invalid_request,
                      "The model '" + model.id + "' runs in process, and in-process models do not generate images; "
                      "images are served by provider models",
                      "model", "unsupported_endpoint"};
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    auto env = media_detail::admission_envelope(core::endpoint::images, core::front_api::images, model.id, req.prompt);
    auto denied = co_await hooks.admit(ex, st, env, model);
    if (denied) {
        record.c.error = denied->kind;
        co_await ex.respond_error(*denied);
        co_return;
    }
    if (!be) {
        auto e = media_detail::backend_missing(model, be);
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    const upstream& up = *be.remote;
    record.c.provider = up.name;
    record.c.outcome = "cancelled";
    auto sent = co_await media_detail::send_passthrough(up, core::endpoint::images, "/images/generations",
                                                        media_detail::upstream_body(std::move(req.body), model),
                                                        ex.request_id());
    if (!sent) {
        auto e = std::move(sent).error();
        record.c.outcome = "upstream_error";
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    auto answer = co_await media_detail::read_json(sent.value(), up);
    if (!answer) {
        auto e = std::move(answer).error();
        record.c.outcome = "upstream_error";
        record.c.error = e.kind;
        co_await ex.respond_error(e);
        co_return;
    }
    boost::json::value body(std::move(answer.value()));
    record.c.used.output = api::count_images(body);
    record.c.outcome = "ok";
    record.c.first_token = std::chrono::steady_clock::now();
    co_await ex.respond_json(transport::http::status::ok, boost::json::serialize(body));
}

} // namespace sluice::exec

#endif
