#ifndef SLUICE_MOCK_JSON_TEXT_HPP
#define SLUICE_MOCK_JSON_TEXT_HPP

// Appending JSON by hand: the mock writes every body and chunk with string appends, which is
// several times cheaper than building a boost::json::value per chunk.

#include <sluice/core/json_text.hpp>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::mock {

/// Appends `s` as a JSON string literal, quotes included. UTF-8 passes through unchanged.
inline void append_json_string(std::string& out, std::string_view s) { core::append_json_string(out, s); }

inline void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

} // namespace sluice::mock

#endif
