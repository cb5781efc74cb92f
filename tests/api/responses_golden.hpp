#ifndef SLUICE_TESTS_API_RESPONSES_GOLDEN_HPP
#define SLUICE_TESTS_API_RESPONSES_GOLDEN_HPP

// Golden fixtures for the Responses codec, a stable text form of an envelope, SSE frames as wire
// bytes, and the event sequences the encoder tests share. SLUICE_UPDATE_GOLDEN=1 rewrites the
// expected files from what the code produces: read the diff before you keep it.

#include <sluice/api/codec.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/core/event.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace responses_test {

using namespace sluice;
namespace json = boost::json;

inline std::filesystem::path fixture(std::string_view relative) {
    return std::filesystem::path(SLUICE_RESPONSES_FIXTURE_DIR) / std::string(relative);
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
        std::filesystem::create_directories(fixture(relative).parent_path());
        std::ofstream(fixture(relative), std::ios::binary) << actual;
        WARN("rewrote " << fixture(relative).string());
        return;
    }
    INFO("golden file " << fixture(relative).string());
    CHECK(actual == read_fixture(relative));
}

/// The frames as they go on the wire.
inline std::string wire(const std::vector<api::sse_frame>& frames) {
    std::string out;
    for (const auto& f : frames) api::append_sse_event(out, f.event, f.data);
    return out;
}

// ---------------------------------------------------------------- envelope as text

/// JSON two spaces deep, numbers as the shortest text that reads back.
inline void pretty(const json::value& v, std::string& out, std::size_t depth = 0) {
    const std::string pad((depth + 1) * 2, ' '), close_pad(depth * 2, ' ');
    if (const auto* o = v.if_object(); o && !o->empty()) {
        out += "{\n";
        bool first = true;
        for (const auto& [k, x] : *o) {
            out += first ? "" : ",\n";
            first = false;
            out += pad + json::serialize(json::string(k)) + ": ";
            pretty(x, out, depth + 1);
        }
        out += "\n" + close_pad + "}";
    } else if (const auto* a = v.if_array(); a && !a->empty()) {
        out += "[\n";
        for (std::size_t i = 0; i < a->size(); ++i) {
            out += i ? ",\n" + pad : pad;
            pretty((*a)[i], out, depth + 1);
        }
        out += "\n" + close_pad + "]";
    } else if (v.is_double()) {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, v.get_double());
        out.append(buf, r.ptr);
    } else {
        out += json::serialize(v);
    }
}

inline json::value text_json(const core::text_part& t) { return json::object{{"text", t.text}}; }

inline json::value image_json(const core::image_part& img) {
    json::object o;
    if (!img.url.empty()) o["url"] = img.url;
    if (!img.media_type.empty()) o["media_type"] = img.media_type;
    if (!img.data.empty()) o["data"] = img.data;
    if (!img.detail.empty()) o["detail"] = img.detail;
    return json::object{{"image", std::move(o)}};
}

inline json::value part_json(const core::content_part& p) {
    if (const auto* t = std::get_if<core::text_part>(&p)) return text_json(*t);
    if (const auto* img = std::get_if<core::image_part>(&p)) return image_json(*img);
    if (const auto* c = std::get_if<core::tool_call_part>(&p))
        return json::object{{"tool_call", json::object{{"id", c->id}, {"name", c->name}, {"arguments", c->arguments}}}};
    if (const auto* r = std::get_if<core::tool_result_part>(&p)) {
        json::array content;
        for (const auto& c : r->content)
            content.push_back(std::holds_alternative<core::text_part>(c) ? text_json(std::get<core::text_part>(c))
                                                                         : image_json(std::get<core::image_part>(c)));
        json::object o{{"call_id", r->call_id}, {"content", std::move(content)}};
        if (r->is_error) o["is_error"] = true;
        return json::object{{"tool_result", std::move(o)}};
    }
    const auto& r = std::get<core::reasoning_part>(p);
    json::object o{{"text", r.text}};
    if (!r.signature.empty()) o["signature"] = r.signature;
    return json::object{{"reasoning", std::move(o)}};
}

/// Every field of `e` that is set, in the envelope's own order, with a final newline.
inline std::string render(const core::envelope& e) {
    json::object o;
    o["api"] = core::to_string(e.api);
    o["endpoint"] = core::to_string(e.endpoint);
    o["model"] = e.model;
    if (!e.system.empty()) {
        json::array system;
        for (const auto& s : e.system) system.push_back(text_json(s));
        o["system"] = std::move(system);
    }
    json::array messages;
    for (const auto& m : e.messages) {
        json::array content;
        for (const auto& p : m.content) content.push_back(part_json(p));
        messages.push_back(json::object{{"role", core::to_string(m.role)}, {"content", std::move(content)}});
    }
    o["messages"] = std::move(messages);
    if (!e.tools.empty()) {
        json::array tools;
        for (const auto& t : e.tools) {
            json::object tool{{"name", t.name}};
            if (!t.description.empty()) tool["description"] = t.description;
            if (!t.input_schema.is_null()) tool["input_schema"] = t.input_schema;
            if (t.strict) tool["strict"] = *t.strict;
            tools.push_back(std::move(tool));
        }
        o["tools"] = std::move(tools);
    }
    if (e.tool_choice) {
        static constexpr std::string_view modes[] = {"automatic", "none", "required", "named"};
        json::object choice{{"mode", modes[std::size_t(e.tool_choice->mode)]}};
        if (!e.tool_choice->name.empty()) choice["name"] = e.tool_choice->name;
        o["tool_choice"] = std::move(choice);
    }
    if (e.parallel_tool_calls) o["parallel_tool_calls"] = *e.parallel_tool_calls;
    json::object s;
    if (e.sampling.temperature) s["temperature"] = *e.sampling.temperature;
    if (e.sampling.top_p) s["top_p"] = *e.sampling.top_p;
    if (e.sampling.max_output_tokens) s["max_output_tokens"] = *e.sampling.max_output_tokens;
    if (!s.empty()) o["sampling"] = std::move(s);
    if (e.reasoning.effort) o["reasoning_effort"] = core::to_string(*e.reasoning.effort);
    if (!e.prompt_cache_key.empty()) o["prompt_cache_key"] = e.prompt_cache_key;
    if (!e.prompt_cache_retention.empty()) o["prompt_cache_retention"] = e.prompt_cache_retention;
    if (!e.response_format.is_null()) o["response_format"] = e.response_format;
    o["stream"] = e.stream;
    o["include_usage"] = e.include_usage;
    if (!e.user.empty()) o["user"] = e.user;
    if (!e.metadata.empty()) {
        json::object m;
        for (const auto& [k, v] : e.metadata) m[k] = v;
        o["metadata"] = std::move(m);
    }
    if (!e.extras.empty()) o["extras"] = e.extras;
    std::string out;
    pretty(o, out);
    return out + "\n";
}

// ---------------------------------------------------------------- event sequences

/// A context with a fixed id and time, so item ids and bytes are stable.
inline api::response_context context() { return {"resp_abc123", "gpt-4.1", 1741476542, false}; }

inline core::usage usage(std::uint64_t input, std::uint64_t output, std::uint64_t cache_read = 0,
                         std::uint64_t cache_write = 0, std::uint64_t reasoning = 0) {
    return core::usage{input, output, cache_read, cache_write, reasoning};
}

/// "Hello" in two deltas, usage at the end.
inline std::vector<core::event> text_events() {
    return {core::message_start{"chatcmpl-up", "gpt-4.1-2025-04-14"},
            core::text_start(0),
            core::text_delta(0, "Hel"),
            core::text_delta(0, "lo \"world\"\n"),
            core::block_stop{0},
            usage(12, 5),
            core::message_stop{core::finish_reason::stop, {}}};
}

/// Two function calls, one after the other; the second has no arguments at all.
inline std::vector<core::event> two_calls_events() {
    return {core::message_start{"up", "gpt-4.1"},
            core::tool_call_start(0, "call_A", "get_weather"),
            core::arguments_delta(0, R"({"city":)"),
            core::arguments_delta(0, R"("Paris"})"),
            core::block_stop{0},
            core::tool_call_start(1, "call_B", "get_time"),
            core::block_stop{1},
            usage(40, 22),
            core::message_stop{core::finish_reason::tool_calls, {}}};
}

/// Two tool calls whose fragments alternate (WIRE.md failure 3), the first stopping last.
inline std::vector<core::event> interleaved_events() {
    return {core::message_start{"up", "gpt-4.1"},
            core::text_start(0),
            core::text_delta(0, "Checking both."),
            core::block_stop{0},
            core::tool_call_start(1, "call_1", "get_weather"),
            core::tool_call_start(2, "call_2", "get_weather"),
            core::arguments_delta(1, R"({"city":)"),
            core::arguments_delta(2, R"({"city":)"),
            core::arguments_delta(2, R"("Rome"})"),
            core::arguments_delta(1, R"("Oslo"})"),
            core::block_stop{2},
            core::block_stop{1},
            usage(30, 18),
            core::message_stop{core::finish_reason::tool_calls, {}}};
}

/// Thinking with a signature, then the answer; cached and reasoning tokens in the usage.
inline std::vector<core::event> reasoning_events() {
    return {core::message_start{"up", "claude-sonnet-4"},
            usage(100, 0, 2048, 300),
            core::reasoning_start(0),
            core::reasoning_delta(0, "The user wants "),
            core::reasoning_delta(0, "a number."),
            core::signature_delta(0, "EqQBCkgIARABGAIiQL"),
            core::block_stop{0},
            core::text_start(1),
            core::text_delta(1, "42"),
            core::block_stop{1},
            usage(0, 57, 0, 0, 40),
            core::message_stop{core::finish_reason::stop, {}}};
}

/// Cut by the output limit.
inline std::vector<core::event> length_events() {
    return {core::message_start{"up", "gpt-4.1"},
            core::text_start(0),
            core::text_delta(0, "Once upon a"),
            core::block_stop{0},
            usage(9, 3),
            core::message_stop{core::finish_reason::length, {}}};
}

/// The upstream fails after the first words (WIRE.md failure 7).
inline std::vector<core::event> error_events() {
    return {core::message_start{"up", "gpt-4.1"},
            core::text_start(0),
            core::text_delta(0, "Partial"),
            core::error{core::error_kind::upstream, "upstream closed the connection mid-stream", {}, {}}};
}

} // namespace responses_test

#endif
