#ifndef SLUICE_API_CHAT_COMPLETIONS_JSON_HPP
#define SLUICE_API_CHAT_COMPLETIONS_JSON_HPP

// The JSON plumbing of the Chat Completions codec: reading a request body with errors that name
// the exact parameter (`messages[2].content[0].image_url.url`) and the expected type, and writing
// JSON text straight into a string (chunks are small and many: no DOM per chunk).
// Kept in its own namespace, so other codecs' helpers of the same names never collide.

#include <sluice/core/json_text.hpp>
#include <sluice/core/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace sluice::api::chat_completions_detail {

namespace json = boost::json;

// ---------------------------------------------------------------- where a value sits

/// A parameter path as a chain of stack frames: the happy path builds no string, an error
/// renders it. Keep every json_path a named local or a call argument (it points at its parent).
class json_path {
public:
    json_path() = default; // the body itself

    json_path operator/(std::string_view key) const noexcept { return json_path(this, key, no_index); }
    json_path operator[](std::size_t index) const noexcept { return json_path(this, {}, index); }

    std::string str() const {
        std::string out;
        append_to(out);
        return out;
    }

private:
    static constexpr std::size_t no_index = std::size_t(-1);

    json_path(const json_path* parent, std::string_view key, std::size_t index) noexcept
        : parent_(parent), key_(key), index_(index) {}

    void append_to(std::string& out) const {
        if (parent_) parent_->append_to(out);
        if (index_ != no_index) {
            out += '[';
            out += std::to_string(index_);
            out += ']';
        } else if (!key_.empty()) {
            if (!out.empty()) out += '.';
            out += key_;
        }
    }

    const json_path* parent_ = nullptr;
    std::string_view key_;
    std::size_t index_ = no_index;
};

/// A 400 about the value at `at`; the message starts with the parameter's path.
inline core::error invalid(const json_path& at, std::string_view what) {
    std::string param = at.str();
    std::string message = param.empty() ? std::string(what) : param + " " + std::string(what);
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), {}};
}

/// A 400 for something valid in OpenAI's API that this gateway does not serve.
inline core::error unsupported(const json_path& at, std::string_view sentence) {
    std::string param = at.str();
    std::string message = param + ": " + std::string(sentence);
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), {}};
}

// ---------------------------------------------------------------- describing values

inline std::string_view kind_name(const json::value& v) noexcept {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64: return "integer";
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
    }
    return "value";
}

/// The shortest text that reads back as `x` ("0.7", "3", "1e+300").
inline std::string format_number(double x) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
    return ec == std::errc{} ? std::string(buf, end) : std::string("?");
}

/// A value as a message quotes it: numbers plainly, strings quoted and cut at 64 bytes.
inline std::string shown(const json::value& v) {
    constexpr std::size_t limit = 64;
    if (v.is_double()) return format_number(v.get_double());
    if (const auto* s = v.if_string(); s && s->size() > limit)
        return json::serialize(json::string_view(s->data(), limit)) + "...";
    return json::serialize(v);
}

inline core::error wrong_type(const json::value& v, const json_path& at, std::string_view expected) {
    return invalid(at, "must be " + std::string(expected) + ", got " + std::string(kind_name(v)));
}

// ---------------------------------------------------------------- typed reads

inline std::optional<core::error> read_string(const json::value& v, const json_path& at, std::string& out) {
    const auto* s = v.if_string();
    if (!s) return wrong_type(v, at, "a string");
    out.assign(s->data(), s->size());
    return std::nullopt;
}

inline std::optional<core::error> read_bool(const json::value& v, const json_path& at, bool& out) {
    if (!v.is_bool()) return wrong_type(v, at, "a boolean");
    out = v.get_bool();
    return std::nullopt;
}

/// A number in [lo, hi].
inline std::optional<core::error> read_number(const json::value& v, const json_path& at, double lo, double hi,
                                              std::optional<double>& out) {
    if (!v.is_number()) return wrong_type(v, at, "a number");
    const double x = v.to_number<double>();
    if (!(x >= lo && x <= hi))
        return invalid(at, "must be between " + format_number(lo) + " and " + format_number(hi) + ", got " + shown(v));
    out = x;
    return std::nullopt;
}

/// A whole number (an integral float such as 2.0 counts) that fits an int64.
inline std::optional<core::error> read_integer(const json::value& v, const json_path& at, std::int64_t& out) {
    if (v.is_int64()) {
        out = v.get_int64();
        return std::nullopt;
    }
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    if (v.is_uint64()) {
        if (v.get_uint64() > std::uint64_t(max))
            return invalid(at, "must fit a signed 64-bit integer, got " + shown(v));
        out = std::int64_t(v.get_uint64());
        return std::nullopt;
    }
    if (v.is_double()) {
        const double x = v.get_double();
        if (x != x || x < -9.2e18 || x > 9.2e18 || double(std::int64_t(x)) != x)
            return invalid(at, "must be an integer, got " + shown(v));
        out = std::int64_t(x);
        return std::nullopt;
    }
    return wrong_type(v, at, "an integer");
}

/// An integer in [1, 2^32 - 1]: token counts.
inline std::optional<core::error> read_positive_count(const json::value& v, const json_path& at,
                                                      std::optional<std::uint32_t>& out) {
    std::int64_t n = 0;
    if (v.is_uint64() && v.get_uint64() > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
        n = std::numeric_limits<std::int64_t>::max();
    else if (auto e = read_integer(v, at, n)) return e;
    if (n < 1) return invalid(at, "must be a positive integer, got " + shown(v));
    constexpr auto max = std::numeric_limits<std::uint32_t>::max();
    if (n > std::int64_t(max)) return invalid(at, "must be at most " + std::to_string(max) + ", got " + shown(v));
    out = std::uint32_t(n);
    return std::nullopt;
}

// ---------------------------------------------------------------- small readers

using error_slot = std::optional<core::error>;

/// The value at `key`, or nullptr when it is absent or null (a null optional is an absent one).
inline const json::value* field(const json::object& o, std::string_view key) noexcept {
    const auto* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}

/// One of `words`, else a 400 that lists them.
inline error_slot one_of(const json::value& v, const json_path& at, std::initializer_list<std::string_view> words,
                         std::string_view& out) {
    const auto* s = v.if_string();
    if (!s) return wrong_type(v, at, "a string");
    for (auto w : words)
        if (*s == w) {
            out = w;
            return std::nullopt;
        }
    if (words.size() == 1) return invalid(at, "must be \"" + std::string(*words.begin()) + "\", got " + shown(v));
    std::string list;
    for (auto w : words) list += (list.empty() ? "" : ", ") + std::string(w);
    return invalid(at, "must be one of " + list + ", got " + shown(v));
}

// ---------------------------------------------------------------- parsing the body

/// How deep a request may nest: tool schemas nest, but not without bound.
inline constexpr std::size_t max_json_depth = 128;
static_assert(max_json_depth >= 32, "tool parameter schemas nest several levels deep");

/// Line and column (from 1) of byte `offset` in `text`.
inline std::string position_of(std::string_view text, std::size_t offset) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + " (byte " +
           std::to_string(offset) + ")";
}

/// The body as a JSON object, or a 400 that says where the text stops being JSON.
inline std::optional<core::error> parse_body(std::string_view body, json::value& out) {
    auto fail = [](std::string message) {
        return core::error{core::error_kind::invalid_request, std::move(message), {}, {}};
    };
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return fail("the request body is empty; expected a JSON object");
    json::parse_options options;
    options.max_depth = max_json_depth;
    json::stream_parser parser({}, options);
    boost::system::error_code ec;
    const std::size_t used = parser.write_some(body.data(), body.size(), ec);
    if (ec)
        return fail("the request body is not valid JSON: " + ec.message() + " at " + position_of(body, used));
    if (used < body.size())
        return fail("the request body is not valid JSON: unexpected text after the JSON value at " +
                    position_of(body, used));
    parser.finish(ec);
    if (ec)
        return fail("the request body is not valid JSON: " + ec.message() + " at " + position_of(body, body.size()));
    out = parser.release();
    if (!out.is_object())
        return fail("the request body must be a JSON object, got " + std::string(kind_name(out)));
    return std::nullopt;
}

// ---------------------------------------------------------------- writing JSON text

/// Appends `s` as a JSON string, escaped byte for byte as boost::json::serialize does.
inline void append_json_string(std::string& out, std::string_view s) { core::append_json_string(out, s); }

inline void append_json_number(std::string& out, std::uint64_t n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    (void)ec; // 24 bytes hold every uint64
    out.append(buf, end);
}

inline void append_json_number(std::string& out, std::int64_t n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
    (void)ec;
    out.append(buf, end);
}

} // namespace sluice::api::chat_completions_detail

#endif
