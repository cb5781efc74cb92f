#ifndef SLUICE_TESTS_PROVIDERS_ANTHROPIC_GOLDEN_HPP
#define SLUICE_TESTS_PROVIDERS_ANTHROPIC_GOLDEN_HPP

// Golden files for the anthropic provider: canonical events in a stable text form, JSON in a
// stable indented form (keys in the order they were written), and the comparison against
// tests/data/providers/anthropic/. SLUICE_UPDATE_GOLDEN=1 rewrites the files instead; review
// the diff before committing it.

#include <sluice/core/event.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace anthropic_test {

inline std::filesystem::path fixture_dir() { return SLUICE_ANTHROPIC_FIXTURES; }

inline std::string read_fixture(std::string_view name) {
    std::ifstream in(fixture_dir() / std::string(name), std::ios::binary);
    INFO("fixture " << (fixture_dir() / std::string(name)).string());
    REQUIRE(in.good());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// `actual` equals the golden file `name` byte for byte (or, when updating, becomes it).
inline void check_golden(std::string_view name, const std::string& actual) {
    if (std::getenv("SLUICE_UPDATE_GOLDEN")) {
        std::ofstream(fixture_dir() / std::string(name), std::ios::binary) << actual;
        WARN("rewrote golden file " << name);
        return;
    }
    INFO("golden file " << name);
    CHECK(actual == read_fixture(name));
}

inline std::string json_quoted(std::string_view s) { return boost::json::serialize(boost::json::string_view(s)); }

/// One event on one line.
inline std::string to_text(const sluice::core::event& e) {
    using namespace sluice::core;
    return std::visit(
        [](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, message_start>) {
                return "message_start id=" + json_quoted(x.id) + " model=" + json_quoted(x.model);
            } else if constexpr (std::is_same_v<T, block_start>) {
                std::string s = "block_start " + std::to_string(x.index) + " " + std::string(to_string(x.kind));
                if (x.kind == block_kind::tool_call)
                    s += " id=" + json_quoted(x.tool_id) + " name=" + json_quoted(x.tool_name);
                return s;
            } else if constexpr (std::is_same_v<T, block_delta>) {
                static constexpr std::string_view kinds[] = {"text", "arguments", "reasoning", "signature"};
                return "block_delta " + std::to_string(x.index) + " " + std::string(kinds[std::size_t(x.kind)]) + " " +
                       json_quoted(x.text);
            } else if constexpr (std::is_same_v<T, block_stop>) {
                return "block_stop " + std::to_string(x.index);
            } else if constexpr (std::is_same_v<T, usage>) {
                return "usage input=" + std::to_string(x.input) + " output=" + std::to_string(x.output) +
                       " cache_read=" + std::to_string(x.cache_read) + " cache_write=" + std::to_string(x.cache_write) +
                       " reasoning=" + std::to_string(x.reasoning);
            } else if constexpr (std::is_same_v<T, message_stop>) {
                std::string s = "message_stop " + std::string(to_string(x.finish));
                if (!x.stop_sequence.empty()) s += " stop_sequence=" + json_quoted(x.stop_sequence);
                return s;
            } else {
                std::string s = "error " + std::to_string(http_status(x.kind)) + " " +
                                std::string(anthropic_type(x.kind)) + " " + json_quoted(x.message);
                if (!x.param.empty()) s += " param=" + json_quoted(x.param);
                if (!x.code.empty()) s += " code=" + json_quoted(x.code);
                return s;
            }
        },
        e);
}

inline std::string to_text(const std::vector<sluice::core::event>& events) {
    std::string out;
    for (const auto& e : events) out += to_text(e) + "\n";
    return out;
}

/// JSON indented by two spaces, keys in their stored order, ending in a line break.
inline void pretty(const boost::json::value& v, std::string& out, std::size_t depth = 0) {
    const std::string pad((depth + 1) * 2, ' ');
    const std::string close(depth * 2, ' ');
    if (const auto* o = v.if_object(); o && !o->empty()) {
        out += "{\n";
        std::size_t i = 0;
        for (const auto& [key, value] : *o) {
            out += pad + boost::json::serialize(boost::json::string_view(key)) + ": ";
            pretty(value, out, depth + 1);
            out += ++i < o->size() ? ",\n" : "\n";
        }
        out += close + "}";
    } else if (const auto* a = v.if_array(); a && !a->empty()) {
        out += "[\n";
        for (std::size_t i = 0; i < a->size(); ++i) {
            out += pad;
            pretty((*a)[i], out, depth + 1);
            out += i + 1 < a->size() ? ",\n" : "\n";
        }
        out += close + "]";
    } else {
        out += boost::json::serialize(v);
    }
}

inline std::string pretty(const boost::json::value& v) {
    std::string out;
    pretty(v, out);
    return out + "\n";
}

} // namespace anthropic_test

#endif
