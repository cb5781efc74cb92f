#ifndef SLUICE_CORE_JSON_TEXT_HPP
#define SLUICE_CORE_JSON_TEXT_HPP

// JSON text written by hand: encoders and logs append strings instead of building a
// boost::json::value per chunk, which is several times cheaper on the streaming path.

#include <string>
#include <string_view>

namespace sluice::core {

/// Appends `s` as a JSON string, quotes included, escaped byte for byte as
/// boost::json::serialize does (UTF-8 passes through unchanged).
inline void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t run = 0; // bytes copied as they are, flushed at each escape
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        out += '\\';
        switch (c) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '\b': out += 'b'; break;
        case '\t': out += 't'; break;
        case '\n': out += 'n'; break;
        case '\f': out += 'f'; break;
        case '\r': out += 'r'; break;
        default:
            out += "u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

} // namespace sluice::core

#endif
