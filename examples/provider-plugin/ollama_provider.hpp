#ifndef SLUICE_EXAMPLES_OLLAMA_PROVIDER_HPP
#define SLUICE_EXAMPLES_OLLAMA_PROVIDER_HPP

// An example provider plugin: Ollama's native chat API, POST {base_url}/api/chat.
// Copy this folder to start your own. A provider is pure translation: besides describe(), four jobs:
//
//   build_request        envelope -> {"model","messages":[{"role","content","images"}],"stream",
//                                     "options":{"temperature","top_p","top_k","num_predict",...}}
//   decode_response      {"model","message":{"role","content"},"done":true,"done_reason",
//                         "prompt_eval_count","eval_count"} -> events
//   make_stream_decoder  the same objects, one per line (NDJSON, not SSE), the last with
//                        done:true and the counts -> events as the bytes arrive
//   map_error            a non-2xx answer, {"error":"..."} -> core::error
//
// The host does all the I/O (connections, TLS, timeouts, retries); nothing here touches a socket,
// so every line of it is tested without a network (tests/examples/ollama_provider.cpp).
//
// What Ollama's chat API can say but this example does not translate is refused with a clear
// invalid_request, never silently dropped: tools, reasoning (`think`), response_format (`format`),
// images by URL, n > 1. Each is one place in not_translated() below, where a team adds it.

#include <sluice/core/envelope.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/event.hpp>
#include <sluice/core/usage.hpp>
#include <sluice/plugin/provider.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ollama {

namespace core = sluice::core;
namespace plugin = sluice::plugin;
namespace json = boost::json;

inline constexpr const char* plugin_name = "ollama";
inline constexpr const char* plugin_version = "0.1.0";
inline constexpr std::string_view chat_path = "/api/chat";

// ---------------------------------------------------------------- configuration

/// What `options:` under this provider in the gateway config may say. Unknown keys are refused
/// when the provider is created, so a typo fails at start-up, not on every request.
///
///   options:
///     keep_alive: 10m     # how long Ollama keeps the model loaded after a request ("5m", 0, -1)
///     num_ctx: 8192       # the context window Ollama allocates (its default is small)
struct settings {
    json::value keep_alive;              // null: Ollama's default
    std::optional<std::int64_t> num_ctx; // unset: Ollama's default

    /// Throws std::invalid_argument naming the option; the plugin factory reports the message.
    static settings from_json(const json::object& raw) {
        auto refuse_option = [](std::string_view key, const json::value& value, std::string_view expected) {
            return std::invalid_argument("ollama: option " + std::string(key) + " is " + json::serialize(value) +
                                         "; expected " + std::string(expected));
        };
        settings s;
        for (const auto& [key, value] : raw) {
            if (key == "keep_alive") {
                if (!value.is_string() && !value.is_int64()) throw refuse_option(key, value, "a duration such as 5m, or seconds");
                s.keep_alive = value;
            } else if (key == "num_ctx") {
                if (!value.is_int64() || value.get_int64() <= 0) throw refuse_option(key, value, "a positive integer");
                s.num_ctx = value.get_int64();
            } else {
                throw std::invalid_argument("ollama: unknown option " + std::string(key) + " (known: keep_alive, num_ctx)");
            }
        }
        return s;
    }
};

// ---------------------------------------------------------------- errors

inline constexpr std::string_view upstream_prefix = "upstream: "; // "the upstream said it, not the gateway"
inline constexpr std::size_t excerpt_limit = 200;                    // bytes of a bad body quoted in a message
static_assert(excerpt_limit >= 16);

inline core::error refuse(std::string message, std::string param) {
    return core::error{core::error_kind::invalid_request, "ollama: " + std::move(message), std::move(param), {}};
}

inline core::error upstream_error(std::string message, core::error_kind kind = core::error_kind::upstream) {
    return core::error{kind, std::string(upstream_prefix) + std::move(message), {}, {}};
}

/// The first bytes of `body`, cut on a UTF-8 boundary, for error messages.
inline std::string excerpt(std::string_view body) {
    if (body.size() <= excerpt_limit) return std::string(body);
    std::size_t end = excerpt_limit;
    while (end > 0 && (static_cast<unsigned char>(body[end]) & 0xC0) == 0x80) --end; // not mid-character
    return std::string(body.substr(0, end)) + "...";
}

inline std::string_view string_at(const json::object& o, std::string_view key) noexcept {
    if (const auto* v = o.if_contains(key))
        if (const auto* s = v->if_string()) return *s;
    return {};
}

/// Ollama's own error shape, {"error":"..."}: in a non-2xx body, or as a line of a stream.
inline std::optional<std::string> error_text(const json::object& o) {
    const auto* e = o.if_contains("error");
    if (!e || e->is_null()) return std::nullopt;
    if (const auto* s = e->if_string()) return std::string(*s);
    return json::serialize(*e);
}

constexpr core::error_kind kind_for_status(unsigned status) noexcept {
    using k = core::error_kind;
    switch (status) {
    case 400: return k::invalid_request;
    case 401: return k::authentication; // an Ollama behind an authenticating proxy
    case 403: return k::permission;
    case 404: return k::not_found;      // "model 'x' not found": the model is not pulled
    case 413: return k::request_too_large;
    case 429: return k::rate_limit;
    case 503: return k::overloaded;     // "server busy, please try again. maximum pending requests exceeded"
    case 504: return k::timeout;
    default: return status >= 400 && status < 500 ? k::invalid_request : k::upstream;
    }
}

/// A non-2xx answer -> the canonical error: the kind by status, the message from the body.
inline core::error map_error(unsigned status, std::string_view body) {
    boost::system::error_code ec;
    auto parsed = json::parse(body, ec);
    if (!ec && parsed.is_object())
        if (auto text = error_text(parsed.get_object())) return upstream_error(std::move(*text), kind_for_status(status));
    return upstream_error("HTTP " + std::to_string(status) + (body.empty() ? " with an empty body" : ": " + excerpt(body)),
                          kind_for_status(status));
}

// ---------------------------------------------------------------- envelope -> request

/// The first thing in `e` this example cannot express, as the error the client gets.
/// This is the place to grow the plugin: each refusal here is a feature Ollama has.
inline std::optional<core::error> not_translated(const core::envelope& e) {
    if (e.endpoint != core::endpoint::chat)
        return refuse("this provider serves chat only, not " + std::string(core::to_string(e.endpoint)), "model");
    // Ollama takes `tools`, and tool_calls / role "tool" in messages: translate them here.
    if (!e.tools.empty()) return refuse("this example plugin does not translate tools", "tools");
    // Ollama's `think` (true, or "low" | "medium" | "high" for some models) would carry this.
    const bool reasoning = (e.reasoning.effort && *e.reasoning.effort != core::reasoning_effort::none) ||
                           e.reasoning.budget_tokens.value_or(0) > 0;
    if (reasoning) return refuse("this example plugin does not translate reasoning", "reasoning");
    // Ollama's `format` ("json" or a JSON schema) would carry this.
    if (!e.response_format.is_null()) return refuse("this example plugin does not translate response_format", "response_format");
    if (e.sampling.n.value_or(1) != 1) return refuse("Ollama answers with one choice; n must be 1", "n");
    return std::nullopt;
}

inline std::string_view role_word(core::role r) noexcept {
    switch (r) {
    case core::role::system:
    case core::role::developer: return "system"; // Ollama has no developer role
    case core::role::assistant: return "assistant";
    case core::role::tool: return "tool"; // refused in message_json with its tool results
    case core::role::user: break;
    }
    return "user";
}

/// One message: its text parts joined into `content`, inline images as `images: [base64]`.
inline core::result<json::object> message_json(const core::message& m, std::size_t at) {
    const std::string where = "messages[" + std::to_string(at) + "]";
    json::array images;
    for (std::size_t i = 0; i < m.content.size(); ++i) {
        const std::string part = where + ".content[" + std::to_string(i) + "]";
        if (const auto* img = std::get_if<core::image_part>(&m.content[i])) {
            if (!img->is_inline() || img->data.empty())
                return refuse("Ollama takes images inline as base64; this example does not fetch image URLs", part);
            images.emplace_back(img->data); // Ollama sniffs the type itself: media_type is not sent
        } else if (std::holds_alternative<core::tool_call_part>(m.content[i]) ||
                   std::holds_alternative<core::tool_result_part>(m.content[i])) {
            return refuse("this example plugin does not translate tools", part);
        }
        // text parts are joined below; reasoning parts of earlier turns are not sent back.
    }
    if (m.role == core::role::tool) return refuse("this example plugin does not translate tools", where);
    json::object out;
    out["role"] = role_word(m.role);
    out["content"] = core::text_of(m.content);
    if (!images.empty()) out["images"] = std::move(images);
    return out;
}

/// The /api/chat body for `e`, or why it cannot be expressed.
inline core::result<json::object> encode_body(const core::envelope& e, const settings& s) {
    if (auto why = not_translated(e)) return std::move(*why);
    if (e.model.empty()) return refuse("the request names no model", "model");

    json::array messages;
    if (!e.system.empty()) messages.push_back(json::object{{"role", "system"}, {"content", e.system_text()}});
    for (std::size_t i = 0; i < e.messages.size(); ++i) {
        auto m = message_json(e.messages[i], i);
        if (!m) return std::move(m).error();
        messages.push_back(std::move(*m));
    }
    if (messages.empty()) return refuse("the request has no messages", "messages"); // Ollama would just load the model

    // Sampling goes in `options`, under Ollama's (llama.cpp's) names.
    json::object options;
    const auto& p = e.sampling;
    if (p.temperature) options["temperature"] = *p.temperature;
    if (p.top_p) options["top_p"] = *p.top_p;
    if (p.top_k) options["top_k"] = *p.top_k;
    if (p.max_output_tokens) options["num_predict"] = *p.max_output_tokens;
    if (!p.stop.empty()) {
        json::array stop;
        for (const auto& x : p.stop) stop.emplace_back(x);
        options["stop"] = std::move(stop);
    }
    if (p.seed) options["seed"] = *p.seed;
    if (p.presence_penalty) options["presence_penalty"] = *p.presence_penalty;
    if (p.frequency_penalty) options["frequency_penalty"] = *p.frequency_penalty;
    if (s.num_ctx) options["num_ctx"] = *s.num_ctx;

    json::object body;
    body["model"] = e.model; // the catalog's upstream_model, e.g. "llama3.2:3b"
    body["messages"] = std::move(messages);
    body["stream"] = e.stream; // always written: Ollama streams unless told false
    if (!options.empty()) body["options"] = std::move(options);
    if (!s.keep_alive.is_null()) body["keep_alive"] = s.keep_alive;
    // Fields the catalog lets through as they are, but none that changes the answer's shape.
    for (const auto& [key, value] : e.extras)
        if (key != "model" && key != "messages" && key != "stream") body[key] = value;
    return body;
}

// ---------------------------------------------------------------- response -> events

inline std::uint64_t count_at(const json::object& o, std::string_view key) noexcept {
    if (const auto* v = o.if_contains(key)) {
        if (v->is_uint64()) return v->get_uint64();
        if (v->is_int64() && v->get_int64() > 0) return std::uint64_t(v->get_int64());
    }
    return 0;
}

/// The counts of the final object. prompt_eval_count is the whole prompt; newer Ollama also
/// says how much of it came from its prefix cache. core::usage keeps those classes apart.
inline core::usage usage_of(const json::object& done) noexcept {
    const std::uint64_t prompt = count_at(done, "prompt_eval_count");
    const std::uint64_t cached = std::min(count_at(done, "prompt_eval_cached_count"), prompt);
    core::usage u;
    u.input = prompt - cached;
    u.cache_read = cached;
    u.output = count_at(done, "eval_count");
    return u;
}

/// "length" when num_predict cut the answer; "stop" (or "load", "unload") otherwise.
inline core::finish_reason finish_of(const json::object& done) noexcept {
    return string_at(done, "done_reason") == "length" ? core::finish_reason::length : core::finish_reason::stop;
}

inline std::string_view content_of(const json::object& o) noexcept {
    if (const auto* m = o.if_contains("message"))
        if (const auto* msg = m->if_object()) return string_at(*msg, "content");
    return {};
}

/// One line or body, parsed: the object, or the error to report.
inline core::result<json::object> parse_object(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    auto parsed = json::parse(text, ec);
    if (ec) return upstream_error(std::string(what) + " is not JSON (" + ec.message() + "): " + excerpt(text));
    if (!parsed.is_object()) return upstream_error(std::string(what) + " is not a JSON object: " + excerpt(text));
    auto& o = parsed.get_object();
    if (auto text_of_error = error_text(o)) return upstream_error(std::move(*text_of_error)); // {"error":...} with 200
    return std::move(o);
}

/// A whole non-streaming body -> message_start, [one text block], usage, message_stop.
inline core::result<std::vector<core::event>> decode_response(std::string_view body) {
    auto parsed = parse_object(body, "the response body");
    if (!parsed) return std::move(parsed).error();
    const auto& o = *parsed;
    if (!o.contains("message")) return upstream_error("the response has no 'message': " + excerpt(body));
    if (const auto* done = o.if_contains("done"); !done || !done->is_bool() || !done->get_bool())
        return upstream_error("the response is not finished (no done: true): " + excerpt(body));

    std::vector<core::event> out;
    out.emplace_back(core::message_start{{}, std::string(string_at(o, "model"))}); // Ollama sends no id
    if (auto text = content_of(o); !text.empty()) {
        out.push_back(core::text_start(0));
        out.push_back(core::text_delta(0, std::string(text)));
        out.emplace_back(core::block_stop{0});
    }
    out.emplace_back(usage_of(o));
    out.emplace_back(core::message_stop{finish_of(o), {}});
    return out;
}

/// NDJSON -> events as the bytes arrive. Bytes come in any split: a line may arrive in pieces,
/// or many lines at once, so a partial line waits for its '\n' in `pending_`.
///
///   first line           message_start
///   message.content      text block 0 (opened by the first non-empty piece)
///   done: true           block_stop, usage, message_stop: the one clean end
///   {"error": "..."}     an error event, and nothing after it
///   end without done     an error event: a cut stream is never a clean end (WIRE.md failure 7)
class ndjson_stream_decoder final : public plugin::stream_decoder {
public:
    /// One line holds one token piece, or the final counts; a line this long is not Ollama.
    static constexpr std::size_t max_line_bytes = 1 << 20;
    static_assert(max_line_bytes >= 64 * 1024, "room for a long piece of text and the final object");

    /// `requested_model` names the answer if the first line does not.
    explicit ndjson_stream_decoder(std::string requested_model) : fallback_model_(std::move(requested_model)) {}

    void feed(std::string_view bytes, std::vector<core::event>& out) override {
        if (ended_) return;
        std::size_t search_from = pending_.size(); // the bytes before have no '\n': scan only the new ones
        pending_.append(bytes);
        std::size_t line_start = 0;
        for (std::size_t nl; !ended_ && (nl = pending_.find('\n', search_from)) != std::string::npos;) {
            on_line(std::string_view(pending_).substr(line_start, nl - line_start), out);
            line_start = search_from = nl + 1;
        }
        pending_.erase(0, line_start);
        if (!ended_ && pending_.size() > max_line_bytes)
            fail(out, "a stream line grew past " + std::to_string(max_line_bytes) + " bytes");
    }

    void finish(std::vector<core::event>& out) override {
        if (ended_) return;
        if (auto last = trimmed(pending_); !last.empty()) { // a last line without its '\n'
            boost::system::error_code ec;
            json::parse(last, ec);
            if (ec) return fail(out, "the stream was cut inside a line, before its final done:true object");
            on_line(last, out);
        }
        if (!ended_) fail(out, "the stream ended before its final done:true object: the upstream closed it mid-answer");
    }

private:
    static std::string_view trimmed(std::string_view line) noexcept {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        return line;
    }

    void on_line(std::string_view line, std::vector<core::event>& out) {
        line = trimmed(line);
        if (line.empty()) return;
        auto object = parse_object(line, "a stream line");
        if (!object) {
            out.emplace_back(std::move(object).error()); // Ollama's own {"error"} or a line that is not JSON
            ended_ = true;
            return;
        }
        const auto& o = *object;
        if (!started_) {
            auto model = string_at(o, "model");
            out.emplace_back(core::message_start{{}, std::string(model.empty() ? fallback_model_ : model)});
            started_ = true;
        }
        if (auto text = content_of(o); !text.empty()) {
            if (!text_open_) out.push_back(core::text_start(0));
            text_open_ = true;
            out.push_back(core::text_delta(0, std::string(text)));
        }
        if (const auto* done = o.if_contains("done"); done && done->is_bool() && done->get_bool()) {
            if (text_open_) out.emplace_back(core::block_stop{0});
            out.emplace_back(usage_of(o));
            out.emplace_back(core::message_stop{finish_of(o), {}});
            ended_ = true;
        }
    }

    void fail(std::vector<core::event>& out, std::string what) {
        out.emplace_back(upstream_error(std::move(what)));
        ended_ = true;
    }

    std::string fallback_model_;
    std::string pending_;    // the start of a line whose '\n' has not come yet
    bool started_ = false;   // message_start sent
    bool text_open_ = false; // block 0 started and not stopped
    bool ended_ = false;     // message_stop or an error sent: later bytes are ignored
};

// ---------------------------------------------------------------- the provider

class ollama_provider final : public plugin::provider {
public:
    /// Throws std::invalid_argument on a bad option: the factory turns it into factory_failed.
    explicit ollama_provider(const plugin::provider_config& config)
        : headers_(config.headers), settings_(settings::from_json(config.options)) {}

    plugin::provider_info describe() const override {
        // auth none: a local Ollama takes no key, so provider_config::api_key is not sent.
        // An Ollama behind a proxy that wants one: auth_scheme::bearer, and write it in build_request.
        return {plugin_name, plugin_version, {core::endpoint::chat}, plugin::auth_scheme::none, {}};
    }

    plugin::result<plugin::upstream_request> build_request(const core::envelope& request) const override {
        auto body = encode_body(request, settings_);
        if (!body) return std::move(body).error();
        plugin::upstream_request out; // POST
        out.path = std::string(chat_path);
        out.headers.emplace_back("Content-Type", "application/json");
        out.headers.insert(out.headers.end(), headers_.begin(), headers_.end());
        out.body = json::serialize(*body);
        return out;
    }

    plugin::result<std::vector<core::event>> decode_response(std::string_view body) const override {
        return ollama::decode_response(body);
    }

    plugin::result<std::unique_ptr<plugin::stream_decoder>> make_stream_decoder(
        const core::envelope& request) const override {
        return std::unique_ptr<plugin::stream_decoder>(std::make_unique<ndjson_stream_decoder>(request.model));
    }

    core::error map_error(unsigned status, std::string_view body) const override {
        return ollama::map_error(status, body);
    }

private:
    plugin::header_list headers_; // the config's extra headers, sent on every request
    settings settings_;
};

} // namespace ollama

#endif
