#include "error.hpp"

#include "native.hpp"

#include <boost/json/parse.hpp>

#include <string>

namespace sluice::anthropic {

namespace {

/// How much of a body that is not JSON goes into the message.
constexpr std::size_t body_excerpt_limit = 200;
static_assert(body_excerpt_limit >= 16);

/// The first bytes of `body` on one line, cut on a UTF-8 character boundary.
std::string excerpt(std::string_view body) {
    std::size_t n = body.size();
    if (n > body_excerpt_limit) {
        n = body_excerpt_limit;
        while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80) --n;
    }
    std::string out(body.substr(0, n));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    if (n < body.size()) out += "...";
    return out;
}

core::error make(core::error_kind kind, std::string_view what, std::string_view message, std::string_view request_id) {
    std::string text = "anthropic upstream (";
    text += what;
    text += "): ";
    text += message.empty() ? std::string_view("no message") : message;
    if (!request_id.empty()) {
        text += " [request_id ";
        text += request_id;
        text += ']';
    }
    return core::error{kind, std::move(text), {}, {}};
}

} // namespace

std::optional<core::error_kind> kind_for_error_type(std::string_view type) noexcept {
    using k = core::error_kind;
    if (type == "invalid_request_error") return k::invalid_request;
    if (type == "authentication_error") return k::authentication;
    if (type == "permission_error") return k::permission;
    if (type == "not_found_error") return k::not_found;
    if (type == "request_too_large") return k::request_too_large;
    if (type == "rate_limit_error") return k::rate_limit;
    if (type == "api_error") return k::upstream;
    if (type == "overloaded_error") return k::overloaded;
    if (type == "timeout_error") return k::timeout;
    if (type == "billing_error" || type == "conflict_error") return k::upstream;
    return std::nullopt;
}

core::error_kind kind_for_status(unsigned status) noexcept {
    using k = core::error_kind;
    switch (status) {
    case 400: return k::invalid_request;
    case 401: return k::authentication;
    case 403: return k::permission;
    case 404: return k::not_found;
    case 408: return k::timeout;
    case 413: return k::request_too_large;
    case 429: return k::rate_limit;
    case 503:
    case 529: return k::overloaded;
    case 504: return k::timeout;
    default: break;
    }
    // Anthropic uses invalid_request_error for 4xx statuses it does not list.
    if (status >= 400 && status < 500 && status != 402 && status != 409) return k::invalid_request;
    return k::upstream;
}

core::error error_from_object(const boost::json::object& error, std::string_view request_id) {
    const auto type = string_at(error, "type");
    const auto kind = kind_for_error_type(type).value_or(core::error_kind::upstream);
    return make(kind, type.empty() ? std::string_view("error") : type, string_at(error, "message"), request_id);
}

core::error map_error(unsigned status, std::string_view body) {
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(body, ec);
    const auto* top = ec ? nullptr : parsed.if_object();
    const auto* inner = top ? object_at(*top, "error") : nullptr;
    if (!inner) {
        std::string what = "HTTP " + std::to_string(status);
        return make(kind_for_status(status), what, body.empty() ? std::string("empty body") : excerpt(body), {});
    }
    const auto type = string_at(*inner, "type");
    const auto kind = kind_for_error_type(type).value_or(kind_for_status(status));
    std::string what = type.empty() ? "HTTP " + std::to_string(status) : std::string(type);
    return make(kind, what, string_at(*inner, "message"), string_at(*top, "request_id"));
}

} // namespace sluice::anthropic
