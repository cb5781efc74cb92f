#ifndef SLUICE_PLUGINS_OPENAI_ERRORS_HPP
#define SLUICE_PLUGINS_OPENAI_ERRORS_HPP

// Upstream failures -> core::error. OpenAI answers {"error":{"message","type","param","code"}};
// vLLM puts the HTTP status in `code` (older vLLM: {"object":"error","message",...} at the top);
// FastAPI-based servers send {"detail": ...}; proxies send HTML. Every message starts with
// "upstream: " so a client can tell the upstream said it, not the gateway.

#include "wire.hpp"

#include <sluice/core/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::providers::openai {

/// How much of a body that is not an OpenAI error goes into the message.
inline constexpr std::size_t error_excerpt_limit = 200;
static_assert(error_excerpt_limit >= 16);

inline constexpr std::string_view upstream_prefix = "upstream: ";

constexpr core::error_kind kind_for_status(unsigned status) noexcept {
    using k = core::error_kind;
    switch (status) {
    case 400: return k::invalid_request;
    case 401: return k::authentication;
    case 403: return k::permission;
    case 404: return k::not_found;
    case 408: return k::timeout;
    case 413: return k::request_too_large;
    case 422: return k::invalid_request;
    case 429: return k::rate_limit;
    case 503: return k::overloaded;
    case 504: return k::timeout;
    case 529: return k::overloaded; // Anthropic-style servers behind an OpenAI facade
    default: return status >= 400 && status < 500 ? k::invalid_request : k::upstream;
    }
}

/// For errors without a status (inside a stream): the kind by OpenAI's `type` or `code` word.
inline core::error_kind kind_for_words(std::string_view type, std::string_view code) noexcept {
    using k = core::error_kind;
    for (auto word : {code, type}) {
        if (word == "invalid_request_error" || word == "BadRequestError" || word == "context_length_exceeded")
            return k::invalid_request;
        if (word == "authentication_error" || word == "invalid_api_key") return k::authentication;
        if (word == "permission_error") return k::permission;
        if (word == "not_found_error" || word == "model_not_found" || word == "NotFoundError") return k::not_found;
        if (word == "rate_limit_error" || word == "rate_limit_exceeded" || word == "insufficient_quota")
            return k::rate_limit;
        if (word == "overloaded_error" || word == "server_overloaded" || word == "overloaded") return k::overloaded;
        if (word == "timeout" || word == "timeout_error") return k::timeout;
    }
    return k::upstream;
}

namespace detail {

/// The first `limit` bytes of `body`, cut on a UTF-8 boundary, line breaks as spaces.
inline std::string excerpt(std::string_view body, std::size_t limit = error_excerpt_limit) {
    bool cut = body.size() > limit;
    if (cut) {
        std::size_t end = limit;
        while (end > 0 && (static_cast<unsigned char>(body[end]) & 0xC0) == 0x80) --end; // not mid-character
        body = body.substr(0, end);
    }
    std::string out;
    out.reserve(body.size() + 3);
    for (char c : body) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    if (cut) out += "...";
    return out;
}

} // namespace detail

/// The error an OpenAI-style error object describes. `holder` is the object that holds
/// `error` (or, for older vLLM, is the error itself); `status` is the HTTP status when known.
inline std::optional<core::error> error_from_json(const boost::json::object& holder,
                                                  std::optional<unsigned> status) {
    const boost::json::object* err = nullptr;
    std::string flat_message;
    const auto* e = holder.if_contains("error");
    if (e && e->is_null()) e = nullptr; // {"error": null} beside a normal answer is no error
    if (e) {
        if (const auto* o = e->if_object()) err = o;
        else if (const auto* s = e->if_string()) flat_message = std::string(*s); // {"error": "text"}
    } else if (string_at(holder, "object") == "error") {
        err = &holder;
    } else if (const auto* d = holder.if_contains("detail")) { // FastAPI
        flat_message = d->is_string() ? std::string(d->get_string()) : boost::json::serialize(*d);
    } else {
        return std::nullopt;
    }

    core::error out;
    std::string_view type, code;
    std::optional<unsigned> code_status;
    if (err) {
        flat_message = std::string(string_at(*err, "message"));
        type = string_at(*err, "type");
        out.param = std::string(string_at(*err, "param"));
        if (const auto* c = err->if_contains("code")) {
            if (const auto* s = c->if_string()) code = *s;
            else if (c->is_int64() && c->get_int64() >= 100 && c->get_int64() < 600) // vLLM: the status
                code_status = unsigned(c->get_int64());
        }
    }
    out.code = std::string(code);
    if (status) out.kind = kind_for_status(*status);
    else if (code_status) out.kind = kind_for_status(*code_status);
    else out.kind = kind_for_words(type, code);
    if (flat_message.empty())
        flat_message = type.empty() ? std::string("the upstream reported an error without a message")
                                    : std::string(type);
    out.message = std::string(upstream_prefix) + flat_message;
    return out;
}

/// A non-2xx answer -> the canonical error: the kind by status, the message from the body.
inline core::error map_error(unsigned status, std::string_view body) {
    boost::system::error_code ec;
    auto parsed = boost::json::parse(body, ec);
    if (!ec)
        if (const auto* o = parsed.if_object())
            if (auto e = error_from_json(*o, status)) return std::move(*e);

    core::error out;
    out.kind = kind_for_status(status);
    out.message = std::string(upstream_prefix) + "HTTP " + std::to_string(status);
    out.message += body.empty() ? " with an empty body" : ": " + detail::excerpt(body);
    return out;
}

} // namespace sluice::providers::openai

#endif
