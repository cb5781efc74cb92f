#ifndef SLUICE_TRANSPORT_ERROR_RESPONSE_HPP
#define SLUICE_TRANSPORT_ERROR_RESPONSE_HPP

#include <sluice/core/error.hpp>
#include <sluice/transport/http.hpp>

namespace sluice::transport {

/// Anthropic clients get Anthropic's error shape: its paths, or any request carrying anthropic-version.
inline bool wants_anthropic_shape(std::string_view target, const http_request* req) noexcept {
    auto path = target_path(target);
    if (path.starts_with("/v1/messages")) return true;
    return req && req->find("anthropic-version") != req->end();
}

/// A complete error response in the caller's API shape, with the kind's status.
inline http_response error_response(const core::error& e, std::string_view target, const http_request* req,
                                    unsigned version = 11) {
    bool anthropic = wants_anthropic_shape(target, req);
    auto status = anthropic ? core::anthropic_http_status(e.kind) : core::http_status(e.kind);
    http_response res;
    res.version(version);
    res.result(status); // the number as it is: 529 has no name in Beast's table
    if (http::int_to_status(status) == http::status::unknown) res.reason(status == 529 ? "Overloaded" : "Error");
    res.set(http::field::content_type, "application/json");
    res.body() = anthropic ? core::anthropic_error_body(e) : core::openai_error_body(e);
    return res;
}

} // namespace sluice::transport

#endif
