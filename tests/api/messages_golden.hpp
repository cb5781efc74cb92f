#ifndef SLUICE_TESTS_API_MESSAGES_GOLDEN_HPP
#define SLUICE_TESTS_API_MESSAGES_GOLDEN_HPP

// Golden fixtures for the Messages codec (tests/data/api/messages/): a stable text form of an
// envelope, canonical events read from the `.events` text form the provider tests write, SSE
// frames as wire bytes, and a reader that folds a Messages stream the way @anthropic-ai/sdk's
// MessageStream does, failing on anything the SDK or Claude Code would choke on.
// SLUICE_UPDATE_GOLDEN=1 rewrites the expected files from what the code produces: read the diff
// before you keep it.

#include <sluice/api/codec.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/core/event.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace messages_test {

using namespace sluice;
namespace json = boost::json;

inline std::filesystem::path fixture(std::string_view name) {
    return std::filesystem::path(SLUICE_MESSAGES_FIXTURE_DIR) / std::string(name);
}

inline std::string read_fixture(std::string_view name) {
    std::ifstream in(fixture(name), std::ios::binary);
    if (!in) FAIL("missing fixture " << fixture(name).string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline bool updating_golden() {
    const char* update = std::getenv("SLUICE_UPDATE_GOLDEN");
    return update && std::string_view(update) == "1";
}

/// `actual` equals the golden file `name` byte for byte (or, when updating, becomes it).
inline void check_golden(std::string_view name, const std::string& actual) {
    if (updating_golden()) {
        std::ofstream(fixture(name), std::ios::binary) << actual;
        WARN("rewrote golden file " << name);
        return;
    }
    INFO("golden file tests/data/api/messages/" << name);
    CHECK(actual == read_fixture(name));
}

// ---------------------------------------------------------------- JSON and envelopes

/// JSON indented by two spaces, keys in their stored order, ending in a line break.
inline void pretty(const json::value& v, std::string& out, std::size_t depth = 0) {
    const std::string pad((depth + 1) * 2, ' ');
    const std::string close(depth * 2, ' ');
    if (const auto* o = v.if_object(); o && !o->empty()) {
        out += "{\n";
        std::size_t i = 0;
        for (const auto& [key, value] : *o) {
            out += pad + json::serialize(json::string_view(key)) + ": ";
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
        out += json::serialize(v);
    }
}

inline std::string pretty(const json::value& v) {
    std::string out;
    pretty(v, out);
    return out + "\n";
}

inline void put_cache(json::object& o, const std::optional<core::cache_control>& c) {
    if (c) o["cache"] = core::to_string(c->ttl);
}

inline json::object part_json(const core::text_part& t) {
    json::object o{{"part", "text"}, {"text", t.text}};
    put_cache(o, t.cache);
    return o;
}

inline json::object part_json(const core::image_part& i) {
    json::object o{{"part", "image"}};
    if (i.is_inline()) {
        o["media_type"] = i.media_type;
        o["data"] = i.data;
    } else {
        o["url"] = i.url;
    }
    put_cache(o, i.cache);
    return o;
}

inline json::object part_json(const core::tool_call_part& c) {
    json::object o{{"part", "tool_call"}, {"id", c.id}, {"name", c.name}, {"arguments", c.arguments}};
    put_cache(o, c.cache);
    return o;
}

inline json::object part_json(const core::tool_result_part& r) {
    json::array content;
    for (const auto& c : r.content) std::visit([&](const auto& x) { content.push_back(part_json(x)); }, c);
    json::object o{{"part", "tool_result"}, {"call_id", r.call_id}, {"is_error", r.is_error}, {"content", content}};
    put_cache(o, r.cache);
    return o;
}

inline json::object part_json(const core::reasoning_part& r) {
    return {{"part", "reasoning"}, {"text", r.text}, {"signature", r.signature}, {"redacted", r.redacted}};
}

/// Every field of `e` that is set, in a fixed order.
inline std::string render_envelope(const core::envelope& e) {
    json::object o;
    o["endpoint"] = core::to_string(e.endpoint);
    o["api"] = core::to_string(e.api);
    o["model"] = e.model;
    json::array system;
    for (const auto& s : e.system) system.push_back(part_json(s));
    o["system"] = std::move(system);
    json::array messages;
    for (const auto& m : e.messages) {
        json::array content;
        for (const auto& p : m.content) std::visit([&](const auto& x) { content.push_back(part_json(x)); }, p);
        messages.push_back(json::object{{"role", core::to_string(m.role)}, {"content", std::move(content)}});
    }
    o["messages"] = std::move(messages);
    if (!e.tools.empty()) {
        json::array tools;
        for (const auto& t : e.tools) {
            json::object tool{{"name", t.name}, {"description", t.description}, {"input_schema", t.input_schema}};
            if (t.strict) tool["strict"] = *t.strict;
            put_cache(tool, t.cache);
            tools.push_back(std::move(tool));
        }
        o["tools"] = std::move(tools);
    }
    if (e.tool_choice) {
        static constexpr std::string_view modes[] = {"automatic", "none", "required", "named"};
        json::object c{{"mode", modes[std::size_t(e.tool_choice->mode)]}};
        if (!e.tool_choice->name.empty()) c["name"] = e.tool_choice->name;
        o["tool_choice"] = std::move(c);
    }
    if (e.parallel_tool_calls) o["parallel_tool_calls"] = *e.parallel_tool_calls;
    json::object sampling;
    const auto& s = e.sampling;
    if (s.max_output_tokens) sampling["max_output_tokens"] = *s.max_output_tokens;
    if (s.temperature) sampling["temperature"] = *s.temperature;
    if (s.top_p) sampling["top_p"] = *s.top_p;
    if (s.top_k) sampling["top_k"] = *s.top_k;
    if (!s.stop.empty()) {
        json::array stop;
        for (const auto& x : s.stop) stop.emplace_back(x);
        sampling["stop"] = std::move(stop);
    }
    if (s.seed || s.n || s.presence_penalty || s.frequency_penalty) sampling["unexpected"] = true;
    o["sampling"] = std::move(sampling);
    json::object reasoning;
    if (e.reasoning.effort) reasoning["effort"] = core::to_string(*e.reasoning.effort);
    if (e.reasoning.budget_tokens) reasoning["budget_tokens"] = *e.reasoning.budget_tokens;
    if (!reasoning.empty()) o["reasoning"] = std::move(reasoning);
    if (!e.response_format.is_null()) o["response_format"] = e.response_format;
    o["stream"] = e.stream;
    o["include_usage"] = e.include_usage;
    json::array headers;
    for (const auto& [k, v] : e.forward_headers) headers.push_back(json::array{json::value(k), json::value(v)});
    if (!headers.empty()) o["forward_headers"] = std::move(headers);
    if (!e.user.empty()) o["user"] = e.user;
    if (!e.metadata.empty() || !e.extras.empty() || !e.prompt_cache_key.empty()) o["unexpected"] = true;
    return pretty(o);
}

// ---------------------------------------------------------------- canonical events as text

/// The tokens of one `.events` line: words, `key="json string"`, and bare `"json string"`s.
inline std::vector<std::pair<std::string, std::string>> tokens_of(std::string_view line) {
    std::vector<std::pair<std::string, std::string>> out; // {key (may be empty), value}
    std::size_t i = 0;
    while (i < line.size()) {
        if (line[i] == ' ') {
            ++i;
            continue;
        }
        std::string key;
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '"' && line[i] != '=') ++i;
        if (i < line.size() && line[i] == '=') {
            key = std::string(line.substr(start, i - start));
            ++i;
            start = i;
        }
        if (i < line.size() && line[i] == '"') {
            std::size_t j = i + 1;
            while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
            out.emplace_back(key, std::string(json::parse(line.substr(i, j + 1 - i)).as_string()));
            i = j + 1;
        } else {
            while (i < line.size() && line[i] != ' ') ++i;
            out.emplace_back(key, std::string(line.substr(start, i - start)));
        }
    }
    return out;
}

inline core::error_kind kind_for_status(unsigned status) {
    for (auto k : {core::error_kind::invalid_request, core::error_kind::authentication, core::error_kind::permission,
                   core::error_kind::not_found, core::error_kind::request_too_large, core::error_kind::rate_limit,
                   core::error_kind::internal, core::error_kind::upstream, core::error_kind::overloaded,
                   core::error_kind::timeout})
        if (core::http_status(k) == status || core::anthropic_http_status(k) == status) return k;
    FAIL("no error kind has status " << status);
    return core::error_kind::internal;
}

/// Events in the provider tests' text form, one a line; `#` starts a comment line.
inline std::vector<core::event> parse_events(std::string_view text) {
    std::vector<core::event> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty() || line.front() == '#') continue;
        const auto t = tokens_of(line);
        INFO("event line: " << line);
        REQUIRE(!t.empty());
        const auto& name = t[0].second;
        auto named = [&](std::string_view key) -> std::string {
            for (const auto& [k, v] : t)
                if (k == key) return v;
            return {};
        };
        auto number = [&](std::string_view key) -> std::uint64_t {
            const auto v = named(key);
            return v.empty() ? 0 : std::stoull(v);
        };
        if (name == "message_start") {
            out.emplace_back(core::message_start{named("id"), named("model")});
        } else if (name == "usage") {
            out.emplace_back(core::usage{number("input"), number("output"), number("cache_read"), number("cache_write"),
                                         number("reasoning")});
        } else if (name == "block_start") {
            REQUIRE(t.size() >= 3);
            const auto index = std::uint32_t(std::stoul(t[1].second));
            const auto& kind = t[2].second;
            if (kind == "text")
                out.push_back(core::text_start(index));
            else if (kind == "reasoning")
                out.push_back(core::reasoning_start(index));
            else if (kind == "tool_call")
                out.push_back(core::tool_call_start(index, named("id"), named("name")));
            else
                FAIL("unknown block kind " << kind);
        } else if (name == "block_delta") {
            REQUIRE(t.size() == 4);
            const auto index = std::uint32_t(std::stoul(t[1].second));
            static constexpr std::string_view kinds[] = {"text", "arguments", "reasoning", "signature"};
            std::size_t k = 0;
            while (k < 4 && kinds[k] != t[2].second) ++k;
            REQUIRE(k < 4);
            out.emplace_back(core::block_delta{index, core::delta_kind(k), t[3].second});
        } else if (name == "block_stop") {
            REQUIRE(t.size() == 2);
            out.emplace_back(core::block_stop{std::uint32_t(std::stoul(t[1].second))});
        } else if (name == "message_stop") {
            REQUIRE(t.size() >= 2);
            const auto finish = core::finish_reason_from_string(t[1].second);
            REQUIRE(finish);
            out.emplace_back(core::message_stop{*finish, named("stop_sequence")});
        } else if (name == "error") {
            REQUIRE(t.size() >= 4);
            out.emplace_back(core::error{kind_for_status(unsigned(std::stoul(t[1].second))), t[3].second, {}, {}});
        } else {
            FAIL("unknown event " << name);
        }
    }
    return out;
}

/// The frames as the bytes a client reads.
inline std::string wire(const std::vector<api::sse_frame>& frames) {
    std::string out;
    for (const auto& f : frames) api::append_sse_event(out, f.event, f.data);
    return out;
}

// ---------------------------------------------------------------- reading a stream like the SDK

/// What a client makes of a Messages stream.
struct sdk_reading {
    json::object message;              // the final Message, as MessageStream.finalMessage() has it
    std::optional<json::object> error; // the error event's data, when the stream sent one
    bool stopped = false;              // message_stop arrived
    std::size_t pings = 0;
    json::object start_usage; // usage in message_start
};

/// Folds `frames` as @anthropic-ai/sdk's MessageStream does, and REQUIREs what Anthropic
/// guarantees and Claude Code relies on: message_start first; blocks numbered 0, 1, 2… with each
/// stopped before the next starts; deltas only for the open block and of its kind; the SSE event
/// name equal to the data's type; nothing after message_stop or error. Tool inputs are parsed at
/// their block's stop (left as the raw text when they do not parse).
inline sdk_reading read_like_sdk(const std::vector<api::sse_frame>& frames) {
    sdk_reading r;
    bool started = false;
    std::optional<std::size_t> open; // the block between its start and its stop
    std::string json_buffer;
    for (std::size_t i = 0; i < frames.size(); ++i) {
        const auto& f = frames[i];
        INFO("frame " << i << ": event: " << f.event << " data: " << f.data);
        REQUIRE_FALSE(r.stopped);
        REQUIRE_FALSE(r.error);
        const auto data = json::parse(f.data).as_object();
        REQUIRE(data.at("type").as_string() == f.event);
        if (f.event == "ping") {
            ++r.pings;
        } else if (f.event == "error") {
            REQUIRE(data.at("error").as_object().at("type").is_string());
            REQUIRE(data.at("error").as_object().at("message").is_string());
            r.error = data;
        } else if (f.event == "message_start") {
            REQUIRE_FALSE(started);
            started = true;
            r.message = data.at("message").as_object();
            REQUIRE(r.message.at("content").as_array().empty());
            r.start_usage = r.message.at("usage").as_object();
        } else {
            REQUIRE(started);
            auto& content = r.message.at("content").as_array();
            if (f.event == "content_block_start") {
                REQUIRE_FALSE(open);
                REQUIRE(data.at("index").to_number<std::size_t>() == content.size());
                open = content.size();
                content.push_back(data.at("content_block"));
                json_buffer.clear();
            } else if (f.event == "content_block_delta") {
                REQUIRE(open);
                REQUIRE(data.at("index").to_number<std::size_t>() == *open);
                auto& block = content[*open].as_object();
                const auto& delta = data.at("delta").as_object();
                const auto type = delta.at("type").as_string();
                const auto kind = block.at("type").as_string();
                if (type == "text_delta") {
                    REQUIRE(kind == "text");
                    block["text"] = std::string(block["text"].as_string()) + std::string(delta.at("text").as_string());
                } else if (type == "input_json_delta") {
                    REQUIRE(kind == "tool_use");
                    json_buffer += delta.at("partial_json").as_string();
                } else if (type == "thinking_delta") {
                    REQUIRE(kind == "thinking");
                    block["thinking"] =
                        std::string(block["thinking"].as_string()) + std::string(delta.at("thinking").as_string());
                } else if (type == "signature_delta") {
                    REQUIRE(kind == "thinking");
                    block["signature"] = delta.at("signature"); // the SDK keeps the last one
                } else {
                    FAIL("unknown delta type " << type);
                }
            } else if (f.event == "content_block_stop") {
                REQUIRE(open);
                REQUIRE(data.at("index").to_number<std::size_t>() == *open);
                auto& block = content[*open].as_object();
                if (block.at("type").as_string() == "tool_use" && !json_buffer.empty()) {
                    boost::system::error_code ec;
                    auto input = json::parse(json_buffer, ec);
                    block["input"] = ec ? json::value(json_buffer) : input;
                }
                open.reset();
            } else if (f.event == "message_delta") {
                REQUIRE_FALSE(open);
                const auto& delta = data.at("delta").as_object();
                r.message["stop_reason"] = delta.at("stop_reason");
                r.message["stop_sequence"] = delta.at("stop_sequence");
                auto& usage = r.message["usage"].as_object();
                const auto& u = data.at("usage").as_object();
                usage["output_tokens"] = u.at("output_tokens");
                for (std::string_view key : {"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"})
                    if (const auto* v = u.if_contains(key); v && !v->is_null()) usage[key] = *v;
            } else if (f.event == "message_stop") {
                REQUIRE_FALSE(open);
                r.stopped = true;
            } else {
                FAIL("unknown event " << f.event);
            }
        }
    }
    return r;
}

} // namespace messages_test

#endif
