#include <sluice/api/messages_stream.hpp>

#include "messages_golden.hpp"

#include <sluice/api/messages_encode.hpp>
#include <sluice/core/aggregate.hpp>

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace sluice;
using messages_test::check_golden;
using messages_test::parse_events;
using messages_test::read_fixture;
using messages_test::read_like_sdk;
using messages_test::wire;

namespace {

const api::response_context context{"msg_gw_01", "gateway-model", 1761000000, false};

std::vector<api::sse_frame> encode(const std::vector<core::event>& events) {
    api::messages_stream_encoder encoder(context);
    std::vector<api::sse_frame> out;
    for (const auto& e : events) encoder.add(e, out);
    return out;
}

std::vector<api::sse_frame> encode_fixture(std::string_view name) {
    return encode(parse_events(read_fixture(std::string(name) + ".events")));
}

std::vector<std::string> names(const std::vector<api::sse_frame>& frames) {
    std::vector<std::string> out;
    for (const auto& f : frames) out.push_back(f.event);
    return out;
}

boost::json::value data(const api::sse_frame& f) { return boost::json::parse(f.data); }

const api::sse_frame& first(const std::vector<api::sse_frame>& frames, std::string_view event) {
    auto it = std::find_if(frames.begin(), frames.end(), [&](const auto& f) { return f.event == event; });
    REQUIRE(it != frames.end());
    return *it;
}

constexpr std::string_view complete_fixtures[] = {"text",
                                                  "thinking_text",
                                                  "openai_parallel_tools",
                                                  "interleaved_text_tools",
                                                  "tool_call_finish_stop",
                                                  "tool_arguments_not_json",
                                                  "cache_usage",
                                                  "max_tokens"};

} // namespace

TEST_CASE("each stream matches its golden SSE bytes", "[api][messages][stream]") {
    for (std::string_view name : complete_fixtures) {
        INFO("fixture " << name);
        check_golden(std::string(name) + ".sse", wire(encode_fixture(name)));
    }
    for (std::string_view name : {"error_mid_stream", "overloaded_before_content"}) {
        INFO("fixture " << name);
        check_golden(std::string(name) + ".sse", wire(encode_fixture(name)));
    }
}

TEST_CASE("the SDK reads each stream into the same message as the body", "[api][messages][stream]") {
    for (std::string_view name : complete_fixtures) {
        INFO("fixture " << name);
        const auto events = parse_events(read_fixture(std::string(name) + ".events"));
        const auto reading = read_like_sdk(encode(events));
        CHECK(reading.stopped);
        CHECK(reading.pings == 1);
        auto body = boost::json::parse(api::encode_messages_body(core::response_aggregate::fold(events), context));
        if (name == "tool_arguments_not_json") // the body wraps what the stream passes through as written
            body.at("content").at(0).as_object()["input"] =
                boost::json::value("{\"file_path\": \"/tmp/a.txt\", \"content\": \"hel");
        CHECK(boost::json::value(reading.message) == body);
    }
}

TEST_CASE("interleaved tool calls go out as sequential blocks - WIRE failure 3", "[api][messages][stream]") {
    const auto frames = encode_fixture("openai_parallel_tools");
    CHECK(names(frames) == std::vector<std::string>{"message_start", "ping", "content_block_start",
                                                    "content_block_delta", "content_block_delta", "content_block_delta",
                                                    "content_block_stop", "content_block_start", "content_block_delta",
                                                    "content_block_stop", "message_delta", "message_stop"});
    // The first call streams live; the second waits, its fragments joined, until the first stops.
    CHECK(
        frames[2].data ==
        R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"call_w8Zp","name":"get_weather","input":{}}})");
    CHECK(
        frames[7].data ==
        R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_t3Qx","name":"get_time","input":{}}})");
    CHECK(
        frames[8].data ==
        R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"tz\": \"Europe/Paris\"}"}})");
    CHECK(frames[9].data == R"({"type":"content_block_stop","index":1})");

    const auto reading = read_like_sdk(frames);
    const auto& content = reading.message.at("content").as_array();
    CHECK(content.at(0).at("input") == boost::json::parse(R"({"city":"Paris"})"));
    CHECK(content.at(1).at("input") == boost::json::parse(R"({"tz":"Europe/Paris"})"));
}

TEST_CASE("text and tool calls interleaved in any order stay sequential - WIRE failure 3", "[api][messages][stream]") {
    const auto frames = encode_fixture("interleaved_text_tools");
    const auto reading = read_like_sdk(frames);
    const auto& content = reading.message.at("content").as_array();
    REQUIRE(content.size() == 3); // the empty text block 3 is never sent
    CHECK(content[0].at("text") == "Checking both files. One moment.");
    CHECK(content[1].at("id") == "call_a");
    CHECK(content[1].at("input") == boost::json::parse(R"({"file_path":"/a.txt"})"));
    CHECK(content[2].at("id") == "call_b");
    CHECK(content[2].at("input") == boost::json::parse(R"({"file_path":"/b.txt"})"));
}

TEST_CASE("random interleavings of parallel tool calls always read back whole - WIRE failure 3",
          "[api][messages][stream]") {
    std::mt19937 random(20251122);
    for (int round = 0; round < 200; ++round) {
        const std::uint32_t calls = 1 + random() % 5;
        std::vector<std::string> arguments;
        std::vector<std::vector<std::string>> fragments(calls);
        for (std::uint32_t c = 0; c < calls; ++c) {
            arguments.push_back(R"({"n":)" + std::to_string(c) + R"(,"text":"call \"number\" )" + std::to_string(c) +
                                "\"}");
            for (std::size_t at = 0; at < arguments[c].size();) {
                const std::size_t n = 1 + random() % 7;
                fragments[c].push_back(arguments[c].substr(at, n));
                at += n;
            }
        }
        // Each call starts before its first fragment and stops after its last; otherwise any order.
        std::vector<core::event> events{core::message_start{"id", "m"}};
        std::vector<std::size_t> next(calls, 0);
        std::vector<bool> started(calls, false), stopped(calls, false);
        std::uint32_t open_calls = calls;
        std::uint32_t next_start = 0;
        while (open_calls > 0) {
            const std::uint32_t c = random() % calls;
            if (stopped[c]) continue;
            if (!started[c]) {
                if (c != next_start) continue; // blocks start in index order
                events.push_back(core::tool_call_start(c, "call_" + std::to_string(c), "tool"));
                started[c] = true;
                ++next_start;
            } else if (next[c] < fragments[c].size()) {
                events.push_back(core::arguments_delta(c, fragments[c][next[c]++]));
            } else {
                events.push_back(core::block_stop{c});
                stopped[c] = true;
                --open_calls;
            }
        }
        events.push_back(core::usage{10, 20, 0, 0, 0});
        events.push_back(core::message_stop{core::finish_reason::tool_calls, {}});

        INFO("round " << round << " with " << calls << " calls");
        const auto reading = read_like_sdk(encode(events));
        REQUIRE(reading.stopped);
        const auto& content = reading.message.at("content").as_array();
        REQUIRE(content.size() == calls);
        for (std::uint32_t c = 0; c < calls; ++c) {
            CHECK(content[c].at("id") == boost::json::value("call_" + std::to_string(c)));
            CHECK(content[c].at("input") == boost::json::parse(arguments[c]));
        }
        CHECK(reading.message.at("stop_reason") == "tool_use");
    }
}

TEST_CASE("usage: input in message_start when known, all of it in message_delta - WIRE failure 4",
          "[api][messages][stream]") {
    SECTION("an Anthropic upstream reports input up front") {
        const auto frames = encode_fixture("text");
        CHECK(
            data(first(frames, "message_start")).at("message").at("usage") ==
            boost::json::parse(
                R"({"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1})"));
        CHECK(
            data(first(frames, "message_delta")).at("usage") ==
            boost::json::parse(
                R"({"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":15})"));
    }
    SECTION("an OpenAI upstream reports it only at the end") {
        const auto frames = encode_fixture("openai_parallel_tools");
        CHECK(
            data(first(frames, "message_start")).at("message").at("usage") ==
            boost::json::parse(
                R"({"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0})"));
        CHECK(
            data(first(frames, "message_delta")).at("usage") ==
            boost::json::parse(
                R"({"input_tokens":82,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":47})"));
        const auto reading = read_like_sdk(frames);
        CHECK(reading.message.at("usage").at("input_tokens") == 82);
        CHECK(reading.message.at("usage").at("output_tokens") == 47);
    }
    SECTION("usage after message_stop is not sent") {
        api::messages_stream_encoder encoder(context);
        std::vector<api::sse_frame> out;
        for (const auto& e : parse_events(read_fixture("max_tokens.events"))) encoder.add(e, out);
        const auto n = out.size();
        encoder.add(core::usage{1, 1, 0, 0, 0}, out);
        CHECK(out.size() == n);
        CHECK(encoder.done());
    }
}

TEST_CASE("thinking and text never share a block - WIRE failure 5", "[api][messages][stream]") {
    const auto frames = encode_fixture("thinking_text");
    const auto reading = read_like_sdk(frames);
    const auto& content = reading.message.at("content").as_array();
    REQUIRE(content.size() == 2);
    CHECK(content[0].at("type") == "thinking");
    CHECK(content[1].at("type") == "text");
    // The signature is one delta, right before the thinking block's stop.
    const auto sig = std::find_if(frames.begin(), frames.end(),
                                  [](const auto& f) { return f.data.find("signature_delta") != std::string::npos; });
    REQUIRE(sig != frames.end());
    CHECK(std::next(sig)->data == R"({"type":"content_block_stop","index":0})");

    SECTION("a delta of the wrong kind for its block is an error, never a mixed block") {
        const auto bad = encode({core::message_start{"id", "m"}, core::text_start(0), core::text_delta(0, "Hi"),
                                 core::reasoning_delta(0, "hmm"), core::block_stop{0},
                                 core::message_stop{core::finish_reason::stop, {}}});
        REQUIRE(bad.back().event == "error");
        CHECK(
            bad.back().data ==
            R"({"type":"error","error":{"type":"api_error","message":"malformed event stream: a reasoning delta in text block 0"}})");
        CHECK(std::none_of(bad.begin(), bad.end(), [](const auto& f) { return f.event == "message_stop"; }));
    }
    SECTION("a delta for a block that never started is an error") {
        const auto bad = encode({core::message_start{"id", "m"}, core::text_delta(3, "Hi")});
        REQUIRE(bad.size() == 1);
        CHECK(bad[0].event == "error");
    }
}

TEST_CASE("cache tokens reach message_start and message_delta - WIRE failure 6", "[api][messages][stream]") {
    const auto frames = encode_fixture("cache_usage");
    CHECK(
        data(first(frames, "message_start")).at("message").at("usage") ==
        boost::json::parse(
            R"({"input_tokens":12,"cache_creation_input_tokens":2400,"cache_read_input_tokens":18000,"output_tokens":1})"));
    CHECK(
        data(first(frames, "message_delta")) ==
        boost::json::parse(
            R"({"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"\n\nHuman:"},)"
            R"("usage":{"input_tokens":12,"cache_creation_input_tokens":2400,"cache_read_input_tokens":18000,"output_tokens":7}})"));
}

TEST_CASE("an error mid-stream is an error event and the last one - WIRE failure 7", "[api][messages][stream]") {
    const auto frames = encode_fixture("error_mid_stream");
    CHECK(names(frames) ==
          std::vector<std::string>{"message_start", "ping", "content_block_start", "content_block_delta", "error"});
    CHECK(
        frames.back().data ==
        R"({"type":"error","error":{"type":"api_error","message":"anthropic upstream stream ended before message_stop"}})");
    const auto reading = read_like_sdk(frames);
    CHECK(reading.error);
    CHECK_FALSE(reading.stopped);

    SECTION("nothing follows the error") {
        api::messages_stream_encoder encoder(context);
        std::vector<api::sse_frame> out;
        for (const auto& e : parse_events(read_fixture("error_mid_stream.events"))) encoder.add(e, out);
        const auto n = out.size();
        encoder.add(core::text_delta(0, " 42"), out);
        encoder.add(core::message_stop{core::finish_reason::stop, {}}, out);
        CHECK(out.size() == n);
    }
    SECTION("an error before anything else is the whole stream") {
        const auto only = encode_fixture("overloaded_before_content");
        REQUIRE(only.size() == 1);
        CHECK(only[0].event == "error");
        CHECK(only[0].data == R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
    }
    SECTION("a message_stop that says error is an error event too") {
        const auto bad = encode({core::message_start{"id", "m"}, core::text_start(0), core::text_delta(0, "Hi"),
                                 core::message_stop{core::finish_reason::error, {}}});
        CHECK(bad.back().event == "error");
        CHECK(std::none_of(bad.begin(), bad.end(), [](const auto& f) { return f.event == "message_stop"; }));
    }
}

TEST_CASE("the message opens even when content arrives without message_start", "[api][messages][stream]") {
    const auto frames = encode({core::text_start(0), core::text_delta(0, "Hi"), core::block_stop{0},
                                core::message_stop{core::finish_reason::stop, {}}});
    const auto reading = read_like_sdk(frames);
    CHECK(reading.message.at("id") == "msg_gw_01");
    CHECK(reading.message.at("model") == "gateway-model");
    CHECK(reading.message.at("content").at(0).at("text") == "Hi");

    SECTION("an empty answer is message_start, ping, message_delta, message_stop") {
        const auto empty = encode({core::message_start{"id", "m"}, core::message_stop{core::finish_reason::stop, {}}});
        CHECK(names(empty) == std::vector<std::string>{"message_start", "ping", "message_delta", "message_stop"});
    }
}
