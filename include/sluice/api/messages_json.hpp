#ifndef SLUICE_API_MESSAGES_JSON_HPP
#define SLUICE_API_MESSAGES_JSON_HPP

// The small JSON tools the Messages codec shares: reading a request with errors that name the
// field at fault, and writing JSON text straight into a string (the stream encoder runs once
// per token, so it appends instead of building a JSON tree per frame).

#include <sluice/core/json_text.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/error.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::api::messages_detail {

namespace json = boost::json;

/// A decoding step that either worked (nullopt) or names what is wrong.
using failure = std::optional<core::error>;

/// 400 invalid_request; the message starts with the field's path, since Anthropic's error shape
/// has no `param` and a developer reading only the message must still find the field.
inline core::error invalid(const std::string& param, std::string_view what) {
    std::string message = param.empty() ? std::string(what) : param + ": " + std::string(what);
    return core::error{core::error_kind::invalid_request, std::move(message), param, {}};
}

inline std::string_view type_name(const json::value& v) noexcept {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
    }
    return "a value";
}

/// A double as people write it: 1.5, 0, 1e+30 (Boost.JSON writes 1.5E0).
inline std::string number_text(double d) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
}

/// "got 1.5" / "got \"hot\"" for short scalars, "got an object" for the rest.
inline std::string got(const json::value& v) {
    if (v.is_double()) return "got " + number_text(v.get_double());
    if (!v.is_structured() && !v.is_null()) {
        std::string text = json::serialize(v);
        if (text.size() <= 40) return "got " + text;
    }
    return "got " + std::string(type_name(v));
}

inline std::string quote_json(std::string_view s) { return json::serialize(json::string_view(s)); }

inline std::string at(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}
inline std::string at(const std::string& path, std::size_t index) { return path + "[" + std::to_string(index) + "]"; }

/// The body as a JSON value, or 400 with the line and column where it stops being JSON.
inline core::result<json::value> parse_body(std::string_view body) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return invalid("", "the request body is empty; expected a JSON object");
    json::parse_options options;
    options.max_depth = 128; // tool schemas and tool inputs nest deeper than the default 32
    json::stream_parser parser({}, options);
    boost::system::error_code ec;
    std::size_t position = parser.write(body.data(), body.size(), ec);
    if (!ec) {
        parser.finish(ec);
        position = body.size();
    }
    if (ec) {
        position = std::min(position, body.size());
        if (ec == json::error::extra_data) // point at the extra data, not the space before it
            while (position < body.size() && std::string_view(" \t\r\n").find(body[position]) != std::string_view::npos)
                ++position;
        const auto before = body.substr(0, position);
        const std::size_t line = std::size_t(std::count(before.begin(), before.end(), '\n')) + 1;
        const auto last_nl = before.rfind('\n');
        const std::size_t column = position - (last_nl == std::string_view::npos ? 0 : last_nl + 1) + 1;
        return invalid("", "the request body is not valid JSON: " + ec.message() + " at line " + std::to_string(line) +
                               ", column " + std::to_string(column) + " (byte " + std::to_string(position) + ")");
    }
    return parser.release();
}

/// A whole number in [min, max], or the error for `path`.
inline core::result<std::uint64_t> whole_number(const json::value& v, const std::string& path, std::uint64_t min,
                                                std::uint64_t max, std::string_view meaning) {
    std::optional<std::uint64_t> n;
    if (const auto* i = v.if_int64()) {
        if (*i >= 0) n = std::uint64_t(*i);
    } else if (const auto* u = v.if_uint64()) {
        n = *u;
    }
    if (!n || *n < min || *n > max) {
        std::string range = "an integer";
        if (max == UINT32_MAX || max == UINT64_MAX)
            range += " of at least " + std::to_string(min);
        else
            range += " from " + std::to_string(min) + " to " + std::to_string(max);
        return invalid(path, "expected " + range + " (" + std::string(meaning) + "), " + got(v));
    }
    return *n;
}

/// A number in [min, max], or the error for `path`.
inline core::result<double> number_in(const json::value& v, const std::string& path, double min, double max) {
    const std::string range = "from " + number_text(min) + " to " + number_text(max);
    if (!v.is_number()) return invalid(path, "expected a number " + range + ", " + got(v));
    const double d = v.to_number<double>();
    if (!(d >= min && d <= max)) return invalid(path, "must be " + range + ", " + got(v));
    return d;
}

// ---------------------------------------------------------------- writing

/// Appends `s` as a JSON string, quotes included (the escaping Boost.JSON's serializer uses).
inline void append_string(std::string& out, std::string_view s) { core::append_json_string(out, s); }

inline void append_number(std::string& out, std::uint64_t n) { out += std::to_string(n); }

} // namespace sluice::api::messages_detail

#endif
