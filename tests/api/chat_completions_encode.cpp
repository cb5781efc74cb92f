// Tests include/sluice/api/chat_completions_encode.hpp: events -> chat.completion bodies and
// chat.completion.chunk streams, byte for byte, and what an SDK rebuilds from them.

#include <sluice/api/chat_completions.hpp>

#include "chat_completions_golden.hpp"

#include <sluice/core/aggregate.hpp>

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

using namespace chat_test;

namespace {

using events = std::vector<core::event>;

api::response_context context(bool include_usage = true) {
    return {"chatcmpl-test123", "gpt-4o-mini", 1700000000, include_usage};
}

core::usage tokens(std::uint64_t input, std::uint64_t output, std::uint64_t cache_read = 0,
                   std::uint64_t cache_write = 0, std::uint64_t reasoning = 0) {
    return {input, output, cache_read, cache_write, reasoning};
}

events text_answer() {
    return {core::message_start{"chatcmpl-upstream", "gpt-4o-mini-2024-07-18"},
            core::text_start(0),
            core::text_delta(0, "Hello"),
            core::text_delta(0, ", world! \"quoted\"\n\ttab \u00e9\u4e16"),
            core::block_stop{0},
            tokens(12, 4),
            core::message_stop{core::finish_reason::stop, {}}};
}

/// Text, then two tool calls whose argument fragments interleave (WIRE failure 3).
events two_tool_calls() {
    return {core::message_start{"up", "gpt-4.1"},
            core::text_start(0),
            core::text_delta(0, "Let me check both."),
            core::block_stop{0},
            core::tool_call_start(1, "call_a", "get_weather"),
            core::tool_call_start(2, "call_b", "get_time"),
            core::arguments_delta(1, R"({"city":)"),
            core::arguments_delta(2, R"({"tz":"CET"})"),
            core::arguments_delta(1, R"("Paris"})"),
            core::block_stop{2},
            core::block_stop{1},
            tokens(50, 30),
            core::message_stop{core::finish_reason::tool_calls, {}}};
}

/// A server that says "stop" after a tool call (WIRE failure 2): the client must see tool_calls.
events tool_call_said_stop() {
    return {core::message_start{"up", "qwen3"},
            core::tool_call_start(0, "call_1", "lookup"),
            core::arguments_delta(0, R"({"q":"sluice"})"),
            core::block_stop{0},
            tokens(9, 6),
            core::message_stop{core::finish_reason::stop, {}}};
}

/// Reasoning, then text: the two never share a field (WIRE failure 5).
events reasoning_then_text() {
    return {core::message_start{"up", "deepseek-reasoner"},
            core::reasoning_start(0),
            core::reasoning_delta(0, "The user wants the answer."),
            core::reasoning_delta(0, " It is 42."),
            core::signature_delta(0, "sig-opaque"),
            core::block_stop{0},
            core::text_start(1),
            core::text_delta(1, "42"),
            core::block_stop{1},
            tokens(20, 60, 0, 0, 40),
            core::message_stop{core::finish_reason::stop, {}}};
}

/// Usage in two parts, as Anthropic reports it, with cache reads and writes (WIRE failures 4, 6).
events cached_usage() {
    return {core::message_start{"up", "claude-sonnet"},
            tokens(100, 0, 900, 50),
            core::text_start(0),
            core::text_delta(0, "Cached."),
            core::block_stop{0},
            tokens(0, 7),
            core::message_stop{core::finish_reason::stop, {}}};
}

events length_finish() {
    return {core::message_start{"up", "m"},
            core::text_start(0),
            core::text_delta(0, "The river runs and"),
            core::block_stop{0},
            tokens(5, 16),
            core::message_stop{core::finish_reason::length, {}}};
}

events content_filter_finish() {
    return {core::message_start{"up", "m"},
            core::text_start(0),
            core::text_delta(0, "I"),
            core::block_stop{0},
            tokens(5, 1),
            core::message_stop{core::finish_reason::content_filter, {}}};
}

/// A tool call whose arguments never came: the client still gets JSON text, "{}".
events tool_without_arguments() {
    return {core::message_start{"up", "m"}, core::tool_call_start(0, "call_x", "list_files"), core::block_stop{0},
            tokens(3, 2), core::message_stop{core::finish_reason::tool_calls, {}}};
}

/// The upstream broke off mid-answer (WIRE failure 7): an error, never a clean end.
events error_mid_stream() {
    return {core::message_start{"up", "m"}, core::text_start(0), core::text_delta(0, "Once upon"), tokens(8, 2),
            core::error{core::error_kind::upstream,
                        "upstream: the stream ended before [DONE]: the upstream closed it mid-answer", {}, {}}};
}

struct sequence {
    std::string_view name;
    events (*make)();
};

const std::vector<sequence> sequences{
    {"text", text_answer},
    {"two_tool_calls", two_tool_calls},
    {"tool_call_said_stop", tool_call_said_stop},
    {"reasoning_then_text", reasoning_then_text},
    {"cached_usage", cached_usage},
    {"length", length_finish},
    {"content_filter", content_filter_finish},
    {"tool_without_arguments", tool_without_arguments},
    {"error_mid_stream", error_mid_stream},
};

std::string body_of(const events& es, const api::response_context& ctx = context()) {
    return api::encode_chat_completions_body(core::response_aggregate::fold(es), ctx);
}

std::vector<api::sse_frame> frames_of(const events& es, const api::response_context& ctx = context()) {
    api::chat_completions_stream_encoder encoder(ctx);
    std::vector<api::sse_frame> out;
    for (const auto& e : es) encoder.add(e, out);
    return out;
}

/// What the openai SDK's stream helper rebuilds from the chunks: one message, finish, usage.
struct rebuilt {
    std::string content, reasoning, finish;
    std::vector<std::pair<std::string, std::string>> calls; // (id/name, arguments)
    json::value usage;
};

rebuilt rebuild(const std::vector<api::sse_frame>& frames) {
    rebuilt r;
    std::map<std::int64_t, std::size_t> by_index;
    for (const auto& f : frames) {
        CHECK(f.event.empty());
        if (f.data == "[DONE]") continue;
        const auto chunk = json::parse(f.data).as_object();
        CHECK(chunk.at("object") == "chat.completion.chunk");
        if (chunk.contains("usage") && !chunk.at("usage").is_null()) r.usage = chunk.at("usage");
        for (const auto& c : chunk.at("choices").as_array()) {
            const auto& delta = c.at("delta").as_object();
            if (const auto* s = delta.if_contains("content")) r.content += s->as_string();
            if (const auto* s = delta.if_contains("reasoning_content")) r.reasoning += s->as_string();
            if (const auto* calls = delta.if_contains("tool_calls")) {
                for (const auto& call : calls->as_array()) {
                    const auto index = call.at("index").as_int64();
                    if (call.as_object().contains("id")) {
                        by_index[index] = r.calls.size();
                        r.calls.emplace_back(std::string(call.at("id").as_string()) + "/" +
                                                 std::string(call.at("function").at("name").as_string()),
                                             "");
                    }
                    REQUIRE(by_index.count(index));
                    r.calls[by_index[index]].second += call.at("function").at("arguments").as_string();
                }
            }
            if (!c.at("finish_reason").is_null()) r.finish = c.at("finish_reason").as_string();
        }
    }
    return r;
}

} // namespace

TEST_CASE("answers encode into the chat.completion bodies of the golden files", "[api][chat][encode]") {
    for (const auto& s : sequences) {
        INFO("sequence " << s.name);
        check_golden("body/" + std::string(s.name) + ".json", body_of(s.make()) + "\n");
    }
}

TEST_CASE("answers stream as the chunk bytes of the golden files", "[api][chat][encode][stream]") {
    for (const auto& s : sequences) {
        INFO("sequence " << s.name);
        check_golden("stream/" + std::string(s.name) + ".sse", wire(frames_of(s.make())));
    }
    INFO("without include_usage");
    check_golden("stream/text_without_usage.sse", wire(frames_of(text_answer(), context(false))));
}

TEST_CASE("the stream an SDK rebuilds equals the body of the same answer", "[api][chat][encode][stream]") {
    for (const auto& s : sequences) {
        if (s.name == "error_mid_stream") continue;
        INFO("sequence " << s.name);
        const auto body = json::parse(body_of(s.make())).as_object();
        const auto& choice = body.at("choices").at(0).as_object();
        const auto& message = choice.at("message").as_object();
        const auto r = rebuild(frames_of(s.make()));

        CHECK(r.content == (message.at("content").is_null() ? "" : message.at("content").as_string()));
        CHECK(r.reasoning ==
              (message.contains("reasoning_content") ? message.at("reasoning_content").as_string() : ""));
        CHECK(r.finish == choice.at("finish_reason").as_string());
        CHECK(r.usage == body.at("usage"));
        std::vector<std::pair<std::string, std::string>> calls;
        if (const auto* list = message.if_contains("tool_calls"))
            for (const auto& c : list->as_array())
                calls.emplace_back(std::string(c.at("id").as_string()) + "/" +
                                       std::string(c.at("function").at("name").as_string()),
                                   std::string(c.at("function").at("arguments").as_string()));
        CHECK(r.calls == calls);
    }
}

TEST_CASE("a turn with tool calls finishes with tool_calls even when the events say stop",
          "[api][chat][encode]") {
    const auto body = json::parse(body_of(tool_call_said_stop()));
    CHECK(body.at("choices").at(0).at("finish_reason") == "tool_calls");
    CHECK(body.at("choices").at(0).at("message").at("content").is_null());
    CHECK(rebuild(frames_of(tool_call_said_stop())).finish == "tool_calls");
}

TEST_CASE("interleaved tool calls keep one OpenAI index each, the id and name only on the first fragment",
          "[api][chat][encode][stream]") {
    std::map<std::int64_t, int> fragments;
    for (const auto& f : frames_of(two_tool_calls())) {
        if (f.data == "[DONE]") continue;
        const auto chunk = json::parse(f.data);
        const auto& choices = chunk.at("choices").as_array();
        if (choices.empty()) continue;
        const auto* calls = choices[0].at("delta").as_object().if_contains("tool_calls");
        if (!calls) continue;
        REQUIRE(calls->as_array().size() == 1);
        const auto& call = calls->as_array()[0].as_object();
        const auto index = call.at("index").as_int64();
        const bool first = fragments[index]++ == 0;
        CHECK(call.contains("id") == first);
        CHECK(call.contains("type") == first);
        CHECK(call.at("function").as_object().contains("name") == first);
    }
    CHECK(fragments == std::map<std::int64_t, int>{{0, 3}, {1, 2}});
}

TEST_CASE("reasoning streams in reasoning_content and never inside content", "[api][chat][encode][stream]") {
    for (const auto& f : frames_of(reasoning_then_text())) {
        if (f.data == "[DONE]") continue;
        const auto chunk = json::parse(f.data);
        const auto& choices = chunk.at("choices").as_array();
        if (choices.empty()) continue;
        const auto& delta = choices[0].at("delta").as_object();
        CHECK_FALSE((delta.contains("content") && delta.contains("reasoning_content")));
        if (const auto* c = delta.if_contains("content")) CHECK(c->as_string().find("42.") == json::string::npos);
        CHECK(f.data.find("sig-opaque") == std::string::npos);
    }
}

TEST_CASE("usage comes in one last chunk only with include_usage, and every other chunk then says null",
          "[api][chat][encode][stream]") {
    SECTION("with include_usage") {
        const auto frames = frames_of(cached_usage());
        REQUIRE(frames.size() >= 3);
        CHECK(frames.back().data == "[DONE]");
        const auto last = json::parse(frames[frames.size() - 2].data);
        CHECK(last.at("choices").as_array().empty());
        CHECK(last.at("usage").at("prompt_tokens") == 1050);
        CHECK(last.at("usage").at("prompt_tokens_details").at("cached_tokens") == 900);
        CHECK(last.at("usage").at("total_tokens") == 1057);
        for (std::size_t i = 0; i + 2 < frames.size(); ++i) CHECK(json::parse(frames[i].data).at("usage").is_null());
    }
    SECTION("without include_usage") {
        const auto frames = frames_of(cached_usage(), context(false));
        CHECK(frames.back().data == "[DONE]");
        for (const auto& f : frames) CHECK(f.data.find("usage") == std::string::npos);
    }
}

TEST_CASE("an error mid-stream is one error frame and no [DONE] after it", "[api][chat][encode][stream]") {
    auto frames = frames_of(error_mid_stream());
    REQUIRE(frames.size() == 3); // role, "Once upon", the error
    const auto err = json::parse(frames.back().data);
    CHECK(err.at("error").at("type") == "server_error");
    CHECK(err.at("error").at("code") == "upstream_error");
    for (const auto& f : frames) CHECK(f.data != "[DONE]");

    api::chat_completions_stream_encoder encoder(context());
    std::vector<api::sse_frame> out;
    for (const auto& e : error_mid_stream()) encoder.add(e, out);
    CHECK(encoder.done());
    encoder.add(core::message_stop{}, out); // nothing follows an end
    CHECK(out.size() == 3);
}

TEST_CASE("a stream that breaks the event grammar ends in an internal error, not a wrong answer",
          "[api][chat][encode][stream]") {
    const std::vector<std::pair<std::string_view, events>> broken{
        {"text delta in a reasoning block", {core::reasoning_start(0), core::text_delta(0, "oops")}},
        {"delta for a block that never started", {core::text_delta(3, "x")}},
        {"block started twice", {core::text_start(0), core::text_start(0)}},
        {"delta after its stop", {core::text_start(0), core::block_stop{0}, core::text_delta(0, "x")}},
        {"finish error without an error event",
         {core::text_start(0), core::message_stop{core::finish_reason::error, {}}}},
    };
    for (const auto& [what, es] : broken) {
        INFO(what);
        const auto frames = frames_of(es);
        REQUIRE_FALSE(frames.empty());
        const auto last = json::parse(frames.back().data);
        CHECK(last.at("error").at("type") == "server_error");
        CHECK(std::string_view(last.at("error").at("message").as_string()).substr(0, 23) == "malformed event stream:");
        for (const auto& f : frames) CHECK(f.data.find("oops") == std::string::npos);
    }
}

TEST_CASE("a body is never encoded for a failed or unfinished answer", "[api][chat][encode]") {
    CHECK(body_of(error_mid_stream()) ==
          R"({"error":{"message":"upstream: the stream ended before [DONE]: the upstream closed it mid-answer","type":"server_error","param":null,"code":"upstream_error"}})");
    const auto unfinished = json::parse(body_of({core::message_start{}, core::text_start(0)}));
    CHECK(unfinished.at("error").at("type") == "server_error");
}

TEST_CASE("the context names the answer, and the upstream's id and model fill in when it is empty",
          "[api][chat][encode]") {
    const auto named = json::parse(body_of(text_answer()));
    CHECK(named.at("id") == "chatcmpl-test123");
    CHECK(named.at("model") == "gpt-4o-mini");
    CHECK(named.at("created") == 1700000000);

    const api::response_context blank{{}, {}, 5, false};
    const auto body = json::parse(body_of(text_answer(), blank));
    CHECK(body.at("id") == "chatcmpl-upstream");
    CHECK(body.at("model") == "gpt-4o-mini-2024-07-18");
    const auto first = json::parse(frames_of(text_answer(), blank).front().data);
    CHECK(first.at("id") == "chatcmpl-upstream");
    CHECK(first.at("model") == "gpt-4o-mini-2024-07-18");
}

TEST_CASE("strings are escaped exactly as boost::json escapes them", "[api][chat][encode]") {
    std::string every_ascii;
    for (int c = 0; c < 128; ++c) every_ascii += char(c);
    for (std::string s : {every_ascii, std::string("plain"), std::string(""), std::string("\u00e9\u4e16\U0001F600"),
                          std::string("a\"b\\c\nd")}) {
        std::string mine;
        api::chat_completions_detail::append_json_string(mine, s);
        CHECK(mine == json::serialize(json::string_view(s)));
    }
}
