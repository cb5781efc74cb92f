#ifndef SLUICE_MOCK_JSON_TEXT_HPP
#define SLUICE_MOCK_JSON_TEXT_HPP

// Appending JSON by hand: the mock writes every body and chunk with string appends, which is
// several times cheaper than building a boost::json::value per chunk.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::mock {

/// Appends `s` as a JSON string literal, quotes included. UTF-8 passes through unchanged.
inline void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t run = 0; // start of the pending stretch that needs no escape
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

inline void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

} // namespace sluice::mock

#endif
