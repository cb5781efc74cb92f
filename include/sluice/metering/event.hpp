#ifndef SLUICE_METERING_EVENT_HPP
#define SLUICE_METERING_EVENT_HPP

// One billable request, as it is spooled and as every sink receives it: a compact JSON object
// with a fixed field order, so a line in a file sink is the same bytes as the spool record.

#include <sluice/core/error.hpp>
#include <sluice/core/json_text.hpp>
#include <sluice/core/result.hpp>
#include <sluice/core/usage.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::metering {

struct usage_event {
    std::string request_id; // the idempotency key of every sink: a replayed event is not billed twice
    std::string account;
    std::string key_id;
    std::string model;    // the public model id the client asked for
    std::string provider; // who served it
    std::string endpoint; // "chat.completions" | "responses" | "messages"
    std::string route;    // the router route that chose the model, empty when none
    std::uint64_t input_tokens = 0;
    std::uint64_t output_tokens = 0;
    std::uint64_t cached_tokens = 0;
    std::uint64_t cache_write_tokens = 0;
    std::uint64_t reasoning_tokens = 0;
    double cost_usd = 0;
    double latency_ms = 0;
    std::optional<double> ttft_ms; // streams only
    unsigned status = 0;           // the HTTP status the client got
    bool stream = false;
    std::int64_t ts_ms = 0; // unix milliseconds when the request finished

    friend bool operator==(const usage_event&, const usage_event&) = default;
};

/// Fills the token classes from `u` and prices them at `p` (no price: cost 0, as the catalog says).
inline void set_usage(usage_event& e, const core::usage& u, const std::optional<core::price>& p) {
    e.input_tokens = u.input;
    e.output_tokens = u.output;
    e.cached_tokens = u.cache_read;
    e.cache_write_tokens = u.cache_write;
    e.reasoning_tokens = u.reasoning;
    e.cost_usd = p ? core::cost_of(u, *p).total() : 0.0;
}

namespace detail {

inline void append_key(std::string& out, std::string_view key) {
    out += '"';
    out += key; // keys are ours: plain ASCII, nothing to escape
    out += "\":";
}

inline void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Shortest text that reads back to the same double. JSON has no NaN or infinity: null instead.
inline void append_double(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

} // namespace detail

/// One compact JSON object, fields always in this order.
inline std::string to_json(const usage_event& e) {
    std::string out;
    out.reserve(320 + e.request_id.size() + e.model.size());
    auto str = [&](std::string_view key, const std::string& v, bool first = false) {
        if (!first) out += ',';
        detail::append_key(out, key);
        core::append_json_string(out, v);
    };
    auto uint = [&](std::string_view key, std::uint64_t v) {
        out += ',';
        detail::append_key(out, key);
        detail::append_uint(out, v);
    };
    auto dbl = [&](std::string_view key, double v) {
        out += ',';
        detail::append_key(out, key);
        detail::append_double(out, v);
    };
    out += '{';
    str("request_id", e.request_id, true);
    str("account", e.account);
    str("key_id", e.key_id);
    str("model", e.model);
    str("provider", e.provider);
    str("endpoint", e.endpoint);
    str("route", e.route);
    uint("input_tokens", e.input_tokens);
    uint("output_tokens", e.output_tokens);
    uint("cached_tokens", e.cached_tokens);
    uint("cache_write_tokens", e.cache_write_tokens);
    uint("reasoning_tokens", e.reasoning_tokens);
    dbl("cost_usd", e.cost_usd);
    dbl("latency_ms", e.latency_ms);
    out += ',';
    detail::append_key(out, "ttft_ms");
    if (e.ttft_ms) detail::append_double(out, *e.ttft_ms);
    else out += "null";
    uint("status", e.status);
    out += ',';
    detail::append_key(out, "stream");
    out += e.stream ? "true" : "false";
    out += ',';
    detail::append_key(out, "ts_ms");
    if (e.ts_ms < 0) out += '-';
    detail::append_uint(out, e.ts_ms < 0 ? std::uint64_t(0) - std::uint64_t(e.ts_ms) : std::uint64_t(e.ts_ms));
    out += '}';
    return out;
}

/// Reads what to_json wrote. Unknown fields are ignored and missing ones keep their defaults, so
/// a spool written by an older or newer build still drains; request_id alone is required.
inline core::result<usage_event> from_json(std::string_view text) {
    namespace json = boost::json;
    auto bad = [](std::string message, std::string_view param = {}) {
        return core::error{core::error_kind::invalid_request, std::move(message), std::string(param), {}};
    };
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec) return bad("usage event: not JSON: " + ec.message());
    const json::object* o = v.if_object();
    if (!o) return bad("usage event: not a JSON object");

    usage_event e;
    for (const auto& [key, val] : *o) {
        auto string_field = [&](std::string& out) -> bool {
            if (!val.is_string()) return false;
            out.assign(val.get_string().data(), val.get_string().size());
            return true;
        };
        auto uint_field = [&](std::uint64_t& out) -> bool {
            if (val.is_uint64()) out = val.get_uint64();
            else if (val.is_int64() && val.get_int64() >= 0) out = std::uint64_t(val.get_int64());
            else return false;
            return true;
        };
        auto double_field = [&](double& out) -> bool {
            if (val.is_null()) out = std::numeric_limits<double>::quiet_NaN();
            else if (val.is_number()) out = val.to_number<double>();
            else return false;
            return true;
        };
        bool ok = true;
        if (key == "request_id") ok = string_field(e.request_id);
        else if (key == "account") ok = string_field(e.account);
        else if (key == "key_id") ok = string_field(e.key_id);
        else if (key == "model") ok = string_field(e.model);
        else if (key == "provider") ok = string_field(e.provider);
        else if (key == "endpoint") ok = string_field(e.endpoint);
        else if (key == "route") ok = string_field(e.route);
        else if (key == "input_tokens") ok = uint_field(e.input_tokens);
        else if (key == "output_tokens") ok = uint_field(e.output_tokens);
        else if (key == "cached_tokens") ok = uint_field(e.cached_tokens);
        else if (key == "cache_write_tokens") ok = uint_field(e.cache_write_tokens);
        else if (key == "reasoning_tokens") ok = uint_field(e.reasoning_tokens);
        else if (key == "cost_usd") ok = double_field(e.cost_usd);
        else if (key == "latency_ms") ok = double_field(e.latency_ms);
        else if (key == "ttft_ms") {
            if (val.is_null()) e.ttft_ms.reset();
            else if (val.is_number()) e.ttft_ms = val.to_number<double>();
            else ok = false;
        } else if (key == "status") {
            std::uint64_t s = 0;
            ok = uint_field(s) && s <= std::numeric_limits<unsigned>::max();
            e.status = unsigned(s);
        } else if (key == "stream") {
            ok = val.is_bool();
            if (ok) e.stream = val.get_bool();
        } else if (key == "ts_ms") {
            if (val.is_int64()) e.ts_ms = val.get_int64();
            else if (val.is_uint64() && val.get_uint64() <= std::uint64_t(std::numeric_limits<std::int64_t>::max()))
                e.ts_ms = std::int64_t(val.get_uint64());
            else ok = false;
        }
        if (!ok) return bad("usage event: field has the wrong type or range", key);
    }
    if (e.request_id.empty()) return bad("usage event: request_id is required", "request_id");
    return e;
}

} // namespace sluice::metering

#endif
