#ifndef SLUICE_TESTS_API_CHAT_COMPLETIONS_GOLDEN_HPP
#define SLUICE_TESTS_API_CHAT_COMPLETIONS_GOLDEN_HPP

// Golden fixtures for the Chat Completions codec, a stable text form of an envelope, and the
// event sequences the encoder tests share. SLUICE_UPDATE_GOLDEN=1 rewrites the expected files
// from what the code produces: read the diff before you keep it.

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
#include <utility>
#include <vector>

namespace chat_test {

using namespace sluice;
namespace json = boost::json;

inline std::filesystem::path fixture(std::string_view relative) {
    return std::filesystem::path(SLUICE_CHAT_FIXTURE_DIR) / std::string(relative);
}

inline std::string read_fixture(std::string_view relative) {
    std::ifstream in(fixture(relative), std::ios::binary);
    if (!in) FAIL("missing fixture " << fixture(relative).string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline bool updating_golden() {
    const char* update = std::getenv("SLUICE_UPDATE_GOLDEN");
    return update && std::string_view(update) == "1";
}

/// `actual` must equal the fixture byte for byte.
inline void check_golden(std::string_view relative, const std::string& actual) {
    if (updating_golden()) {
        std::filesystem::create_directories(fixture(relative).parent_path());
        std::ofstream(fixture(relative), std::ios::binary) << actual;
        WARN("rewrote " << fixture(relative).string());
        return;
    }
    INFO("golden file " << fixture(relative).string());
    CHECK(actual == read_fixture(relative));
}

// ---------------------------------------------------------------- envelope as text

/// JSON pretty-printed two spaces deep, numbers as the shortest text that reads back.
inline void pretty(const json::value& v, std::string& out, int depth = 0) {
    const std::string pad(std::size_t(depth + 1) * 2, ' '), close_pad(std::size_t(depth) * 2, ' ');
    if (const auto* o = v.if_object()) {
        if (o->empty()) {
            out += "{}";
            return;
        }
        out += "{\n";
        bool first = true;
        for (const auto& [k, x] : *o) {
            if (!first) out += ",\n";
            first = false;
            out += pad + json::serialize(json::string_view(k)) + ": ";
            pretty(x, out, depth + 1);
        }
        out += "\n" + close_pad + "}";
    } else if (const auto* a = v.if_array()) {
        if (a->empty()) {
            out += "[]";
            return;
        }
        out += "[\n";
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (i) out += ",\n";
            out += pad;
            pretty((*a)[i], out, depth + 1);
        }
        out += "\n" + close_pad + "]";
    } else if (v.is_double()) {
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
        (void)ec;
        out.append(buf, end);
    } else {
        out += json::serialize(v);
    }
}

inline void put_cache(json::object& o, const std::optional<core::cache_control>& c) {
    if (c) o["cache_control"] = core::to_string(c->ttl);
}

inline json::value part_json(const core::content_part& p);

inline json::value text_json(const core::text_part& t) {
    json::object o{{"text", t.text}};
    put_cache(o, t.cache);
    return o;
}

inline json::value image_json(const core::image_part& img) {
    json::object o;
    if (!img.url.empty()) o["url"] = img.url;
    if (!img.media_type.empty()) o["media_type"] = img.media_type;
    if (!img.data.empty()) o["data"] = img.data;
    if (!img.detail.empty()) o["detail"] = img.detail;
    put_cache(o, img.cache);
    return json::object{{"image", std::move(o)}};
}

inline json::value part_json(const core::content_part& p) {
    if (const auto* t = std::get_if<core::text_part>(&p)) return text_json(*t);
    if (const auto* img = std::get_if<core::image_part>(&p)) return image_json(*img);
    if (const auto* c = std::get_if<core::tool_call_part>(&p)) {
        json::object o{{"id", c->id}, {"name", c->name}, {"arguments", c->arguments}};
        put_cache(o, c->cache);
        return json::object{{"tool_call", std::move(o)}};
    }
    if (const auto* r = std::get_if<core::tool_result_part>(&p)) {
        json::array content;
        for (const auto& c : r->content)
            content.push_back(std::holds_alternative<core::text_part>(c) ? text_json(std::get<core::text_part>(c))
                                                                         : image_json(std::get<core::image_part>(c)));
        json::object o{{"call_id", r->call_id}, {"content", std::move(content)}};
        if (r->is_error) o["is_error"] = true;
        put_cache(o, r->cache);
        return json::object{{"tool_result", std::move(o)}};
    }
    const auto& r = std::get<core::reasoning_part>(p);
    json::object o{{"text", r.text}};
    if (!r.signature.empty()) o["signature"] = r.signature;
    if (r.redacted) o["redacted"] = true;
    return json::object{{"reasoning", std::move(o)}};
}

/// Every field of `e` that is set, in the envelope's own order.
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
        json::object msg{{"role", core::to_string(m.role)}};
        if (!m.name.empty()) msg["name"] = m.name;
        json::array content;
        for (const auto& p : m.content) content.push_back(part_json(p));
        msg["content"] = std::move(content);
        messages.push_back(std::move(msg));
    }
    o["messages"] = std::move(messages);
    if (!e.tools.empty()) {
        json::array tools;
        for (const auto& t : e.tools) {
            json::object tool{{"name", t.name}};
            if (!t.description.empty()) tool["description"] = t.description;
            if (!t.input_schema.is_null()) tool["input_schema"] = t.input_schema;
            if (t.strict) tool["strict"] = *t.strict;
            put_cache(tool, t.cache);
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
    const auto& x = e.sampling;
    if (x.temperature) s["temperature"] = *x.temperature;
    if (x.top_p) s["top_p"] = *x.top_p;
    if (x.top_k) s["top_k"] = *x.top_k;
    if (x.max_output_tokens) s["max_output_tokens"] = *x.max_output_tokens;
    if (!x.stop.empty()) {
        json::array stop;
        for (const auto& t : x.stop) stop.emplace_back(t);
        s["stop"] = std::move(stop);
    }
    if (x.seed) s["seed"] = *x.seed;
    if (x.n) s["n"] = *x.n;
    if (x.presence_penalty) s["presence_penalty"] = *x.presence_penalty;
    if (x.frequency_penalty) s["frequency_penalty"] = *x.frequency_penalty;
    if (!s.empty()) o["sampling"] = std::move(s);
    json::object r;
    if (e.reasoning.effort) r["effort"] = core::to_string(*e.reasoning.effort);
    if (e.reasoning.budget_tokens) r["budget_tokens"] = *e.reasoning.budget_tokens;
    if (!r.empty()) o["reasoning"] = std::move(r);
    if (!e.prompt_cache_key.empty()) o["prompt_cache_key"] = e.prompt_cache_key;
    if (!e.prompt_cache_retention.empty()) o["prompt_cache_retention"] = e.prompt_cache_retention;
    if (!e.response_format.is_null()) o["response_format"] = e.response_format;
    o["stream"] = e.stream;
    o["include_usage"] = e.include_usage;
    if (!e.forward_headers.empty()) {
        json::array headers;
        for (const auto& [k, v] : e.forward_headers) headers.push_back(json::array{json::value(k), json::value(v)});
        o["forward_headers"] = std::move(headers);
    }
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

// ---------------------------------------------------------------- frames as bytes

/// The frames as they go on the wire.
inline std::string wire(const std::vector<api::sse_frame>& frames) {
    std::string out;
    for (const auto& f : frames) api::append_sse_event(out, f.event, f.data);
    return out;
}

} // namespace chat_test

#endif
