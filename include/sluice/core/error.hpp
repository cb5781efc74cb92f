#ifndef SLUICE_CORE_ERROR_HPP
#define SLUICE_CORE_ERROR_HPP

// The canonical error: one kind, a message and the offending parameter. Each front API renders it
// in its own shape with the right HTTP status:
//   OpenAI     {"error":{"message":..,"type":..,"param":..,"code":..}}
//   Anthropic  {"type":"error","error":{"type":..,"message":..}}

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace sluice::core {

enum class error_kind {
    invalid_request,    // 400
    authentication,     // 401
    permission,         // 403
    not_found,          // 404
    method_not_allowed, // 405
    request_too_large,  // 413
    rate_limit,         // 429
    internal,           // 500
    upstream,           // 502
    overloaded,         // 503 (Anthropic: 529)
    timeout,            // 504
};

struct error {
    error_kind kind = error_kind::internal;
    std::string message;
    std::string param; // the request field at fault, empty when none
    std::string code;  // a stable machine-readable code, empty for the kind's default
};

constexpr unsigned http_status(error_kind k) noexcept {
    switch (k) {
    case error_kind::invalid_request: return 400;
    case error_kind::authentication: return 401;
    case error_kind::permission: return 403;
    case error_kind::not_found: return 404;
    case error_kind::method_not_allowed: return 405;
    case error_kind::request_too_large: return 413;
    case error_kind::rate_limit: return 429;
    case error_kind::internal: return 500;
    case error_kind::upstream: return 502;
    case error_kind::overloaded: return 503;
    case error_kind::timeout: return 504;
    }
    return 500;
}

/// Anthropic answers "overloaded" with its own status.
constexpr unsigned anthropic_http_status(error_kind k) noexcept {
    return k == error_kind::overloaded ? 529 : http_status(k);
}

constexpr std::string_view openai_type(error_kind k) noexcept {
    switch (k) {
    case error_kind::invalid_request:
    case error_kind::not_found:
    case error_kind::method_not_allowed:
    case error_kind::request_too_large: return "invalid_request_error";
    case error_kind::authentication: return "authentication_error";
    case error_kind::permission: return "permission_error";
    case error_kind::rate_limit: return "rate_limit_error";
    case error_kind::timeout: return "timeout_error";
    case error_kind::overloaded: return "overloaded_error";
    case error_kind::upstream:
    case error_kind::internal: return "server_error";
    }
    return "server_error";
}

constexpr std::string_view default_code(error_kind k) noexcept {
    switch (k) {
    case error_kind::authentication: return "invalid_api_key";
    case error_kind::not_found: return "not_found";
    case error_kind::method_not_allowed: return "method_not_allowed";
    case error_kind::request_too_large: return "request_too_large";
    case error_kind::rate_limit: return "rate_limit_exceeded";
    case error_kind::upstream: return "upstream_error";
    case error_kind::timeout: return "timeout";
    case error_kind::overloaded: return "overloaded";
    default: return "";
    }
}

constexpr std::string_view anthropic_type(error_kind k) noexcept {
    switch (k) {
    case error_kind::invalid_request:
    case error_kind::method_not_allowed: return "invalid_request_error";
    case error_kind::authentication: return "authentication_error";
    case error_kind::permission: return "permission_error";
    case error_kind::not_found: return "not_found_error";
    case error_kind::request_too_large: return "request_too_large";
    case error_kind::rate_limit: return "rate_limit_error";
    case error_kind::overloaded: return "overloaded_error";
    case error_kind::timeout: return "timeout_error";
    case error_kind::upstream:
    case error_kind::internal: return "api_error";
    }
    return "api_error";
}

inline boost::json::value openai_error_json(const error& e) {
    auto code = e.code.empty() ? default_code(e.kind) : std::string_view(e.code);
    boost::json::object inner;
    inner["message"] = e.message;
    inner["type"] = openai_type(e.kind);
    inner["param"] = e.param.empty() ? boost::json::value(nullptr) : boost::json::value(e.param);
    inner["code"] = code.empty() ? boost::json::value(nullptr) : boost::json::value(code);
    return boost::json::object{{"error", std::move(inner)}};
}

inline boost::json::value anthropic_error_json(const error& e) {
    return boost::json::object{
        {"type", "error"},
        {"error", boost::json::object{{"type", anthropic_type(e.kind)}, {"message", e.message}}}};
}

inline std::string openai_error_body(const error& e) { return boost::json::serialize(openai_error_json(e)); }
inline std::string anthropic_error_body(const error& e) { return boost::json::serialize(anthropic_error_json(e)); }

} // namespace sluice::core

#endif
