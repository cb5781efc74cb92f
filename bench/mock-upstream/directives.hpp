#ifndef SLUICE_MOCK_DIRECTIVES_HPP
#define SLUICE_MOCK_DIRECTIVES_HPP

// Per-request directives: one mock serves every test. The last user message's text may hold
// `mock:` followed by space-separated key=value pairs, e.g. "What now? mock: tools=2 cached=40".
// Unknown keys, tokens without '=' and values that do not parse are ignored.

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::mock {

/// Upper bounds: a directive typo must not make the mock allocate or sleep without end.
inline constexpr int max_tools = 64;
inline constexpr int max_chunks = 100000;
inline constexpr int max_delay_ms = 600000;
static_assert(max_tools >= 1 && max_chunks >= 1 && max_delay_ms >= 1);

struct directives {
    std::optional<std::string> text; // text=Hello_there -> "Hello there"
    int tools = 0;                   // tools=N: N parallel get_weather calls
    bool reasoning = false;          // reasoning=1: reasoning first, then the answer
    std::int64_t cached = 0;         // cached=N: N prompt tokens reported as cached
    int error = 0;                   // error=STATUS: answer with that status and the provider's error body
    int cut = -1;                    // cut=K: close the connection after K stream events
    int delay_ms = 0;                // delay_ms=N: wait before the response headers
    bool echo = false;               // echo=1: the answer is {"headers":{..},"body":<request body>}
    bool length = false;             // length=1: finish because of max tokens
    std::optional<int> chunks;       // chunks=N: overrides --chunks for this request
    std::optional<int> gap_ms;       // gap_ms=N: overrides --gap-ms for this request

    friend bool operator==(const directives&, const directives&) = default;
};

inline constexpr std::string_view directive_marker = "mock:";

namespace detail {

template <class Int>
bool parse_int(std::string_view v, Int lo, Int hi, Int& out) {
    Int n{};
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n < lo || n > hi) return false;
    out = n;
    return true;
}

inline bool parse_flag(std::string_view v) { return v == "1" || v == "true" || v == "yes"; }

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

} // namespace detail

/// Reads the directives of one message text; no marker gives the defaults.
inline directives parse_directives(std::string_view text) {
    directives d;
    auto at = text.find(directive_marker);
    if (at == std::string_view::npos) return d;
    text.remove_prefix(at + directive_marker.size());
    while (!text.empty()) {
        while (!text.empty() && detail::is_space(text.front())) text.remove_prefix(1);
        std::size_t end = 0;
        while (end < text.size() && !detail::is_space(text[end])) ++end;
        auto token = text.substr(0, end);
        text.remove_prefix(end);
        auto eq = token.find('=');
        if (eq == std::string_view::npos) continue;
        auto key = token.substr(0, eq);
        auto value = token.substr(eq + 1);
        int n = 0;
        if (key == "text") {
            std::string t(value);
            std::replace(t.begin(), t.end(), '_', ' ');
            d.text = std::move(t);
        } else if (key == "tools") {
            if (detail::parse_int(value, 0, max_tools, n)) d.tools = n;
        } else if (key == "reasoning") {
            d.reasoning = detail::parse_flag(value);
        } else if (key == "cached") {
            std::int64_t c = 0;
            if (detail::parse_int<std::int64_t>(value, 0, std::int64_t(1) << 40, c)) d.cached = c;
        } else if (key == "error") {
            if (detail::parse_int(value, 400, 599, n)) d.error = n;
        } else if (key == "cut") {
            if (detail::parse_int(value, 0, max_chunks, n)) d.cut = n;
        } else if (key == "delay_ms") {
            if (detail::parse_int(value, 0, max_delay_ms, n)) d.delay_ms = n;
        } else if (key == "echo") {
            d.echo = detail::parse_flag(value);
        } else if (key == "length") {
            d.length = detail::parse_flag(value);
        } else if (key == "chunks") {
            if (detail::parse_int(value, 1, max_chunks, n)) d.chunks = n;
        } else if (key == "gap_ms") {
            if (detail::parse_int(value, 0, max_delay_ms, n)) d.gap_ms = n;
        }
    }
    return d;
}

} // namespace sluice::mock

#endif
