#ifndef SLUICE_TESTS_PROVIDERS_OPENAI_GOLDEN_HPP
#define SLUICE_TESTS_PROVIDERS_OPENAI_GOLDEN_HPP

// Golden fixtures for the openai provider, and a stable text form of events to compare them by.
// SLUICE_UPDATE_GOLDEN=1 rewrites the expected files from what the code produces: read the diff
// before you keep it.

#include <sluice/core/event.hpp>
#include <sluice/plugin/provider.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace openai_test {

using namespace sluice;

inline std::filesystem::path fixture(std::string_view relative) {
    return std::filesystem::path(SLUICE_OPENAI_FIXTURE_DIR) / std::string(relative);
}

inline std::string read_fixture(std::string_view relative) {
    std::ifstream in(fixture(relative), std::ios::binary);
    if (!in) FAIL("missing fixture " << fixture(relative).string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// `actual` must equal the fixture byte for byte.
inline void check_golden(std::string_view relative, const std::string& actual) {
    if (const char* update = std::getenv("SLUICE_UPDATE_GOLDEN"); update && std::string_view(update) == "1") {
        std::ofstream(fixture(relative), std::ios::binary) << actual;
        WARN("rewrote " << fixture(relative).string());
        return;
    }
    INFO("golden file " << fixture(relative).string());
    CHECK(actual == read_fixture(relative));
}

inline std::string json_quoted(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

inline std::string_view kind_name(core::error_kind k) {
    static constexpr std::array<std::string_view, 11> names{
        "invalid_request", "authentication", "permission", "not_found", "method_not_allowed", "request_too_large",
        "rate_limit",      "internal",       "upstream",   "overloaded", "timeout"};
    return names[std::size_t(k)];
}

/// One line per event, every field shown, strings JSON-quoted.
inline std::string to_text(const core::event& e) {
    std::ostringstream s;
    s << core::event_name(e);
    if (const auto* m = std::get_if<core::message_start>(&e)) {
        s << " id=" << json_quoted(m->id) << " model=" << json_quoted(m->model);
    } else if (const auto* b = std::get_if<core::block_start>(&e)) {
        s << ' ' << b->index << ' ' << core::to_string(b->kind);
        if (b->kind == core::block_kind::tool_call) s << " id=" << json_quoted(b->tool_id) << " name=" << json_quoted(b->tool_name);
    } else if (const auto* d = std::get_if<core::block_delta>(&e)) {
        static constexpr std::array<std::string_view, 4> delta_names{"text", "arguments", "reasoning", "signature"};
        s << ' ' << d->index << ' ' << delta_names[std::size_t(d->kind)] << ' ' << json_quoted(d->text);
    } else if (const auto* st = std::get_if<core::block_stop>(&e)) {
        s << ' ' << st->index;
    } else if (const auto* u = std::get_if<core::usage>(&e)) {
        s << " input=" << u->input << " output=" << u->output << " cache_read=" << u->cache_read
          << " cache_write=" << u->cache_write << " reasoning=" << u->reasoning;
    } else if (const auto* f = std::get_if<core::message_stop>(&e)) {
        s << ' ' << core::to_string(f->finish);
        if (!f->stop_sequence.empty()) s << " stop_sequence=" << json_quoted(f->stop_sequence);
    } else if (const auto* err = std::get_if<core::error>(&e)) {
        s << ' ' << kind_name(err->kind) << ' ' << json_quoted(err->message);
        if (!err->param.empty()) s << " param=" << json_quoted(err->param);
        if (!err->code.empty()) s << " code=" << json_quoted(err->code);
    }
    return s.str();
}

inline std::string to_text(const std::vector<core::event>& events) {
    std::string out;
    for (const auto& e : events) out += to_text(e) + '\n';
    return out;
}

/// Feeds `bytes` to `decoder` in pieces of `step` bytes (0: all at once), then finishes it.
inline std::vector<core::event> decode_stream(plugin::stream_decoder& decoder, std::string_view bytes,
                                              std::size_t step = 0) {
    std::vector<core::event> out;
    if (step == 0) step = bytes.size() + 1;
    for (std::size_t at = 0; at < bytes.size(); at += step) decoder.feed(bytes.substr(at, step), out);
    decoder.finish(out);
    return out;
}

/// `text` with every "\n" turned into "\r\n".
inline std::string with_crlf(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

} // namespace openai_test

#endif
