#include "stream.hpp"

#include "golden.hpp"

#include <sluice/core/aggregate.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

using namespace sluice;
using anthropic_test::check_golden;
using anthropic_test::read_fixture;
using anthropic_test::to_text;

namespace {

/// The events of `bytes` fed in pieces of `piece` bytes (0: all at once), then finish().
std::vector<core::event> decode(std::string_view bytes, std::size_t piece = 0) {
    anthropic::stream_decoder decoder;
    std::vector<core::event> out;
    if (piece == 0) piece = bytes.size() + 1;
    for (std::size_t at = 0; at < bytes.size(); at += piece) decoder.feed(bytes.substr(at, piece), out);
    decoder.finish(out);
    return out;
}

/// The same bytes cut at random places, the same way on every run.
std::vector<core::event> decode_scattered(std::string_view bytes, unsigned seed) {
    std::mt19937 random(seed);
    std::uniform_int_distribution<std::size_t> length(1, 40);
    anthropic::stream_decoder decoder;
    std::vector<core::event> out;
    for (std::size_t at = 0; at < bytes.size();) {
        const auto n = length(random);
        decoder.feed(bytes.substr(at, n), out);
        at += n;
    }
    decoder.finish(out);
    return out;
}

std::string with_crlf(std::string_view lf) {
    std::string out;
    for (char c : lf) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

std::string sse(std::string_view event, std::string_view data) {
    return "event: " + std::string(event) + "\ndata: " + std::string(data) + "\n\n";
}

const std::string start = sse(
    "message_start",
    R"({"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1,"output_tokens":1}}})");

std::string block_start(int index, std::string_view block) {
    return sse("content_block_start", R"({"type":"content_block_start","index":)" + std::to_string(index) +
                                          R"(,"content_block":)" + std::string(block) + "}");
}
std::string block_delta(int index, std::string_view delta) {
    return sse("content_block_delta", R"({"type":"content_block_delta","index":)" + std::to_string(index) +
                                          R"(,"delta":)" + std::string(delta) + "}");
}
std::string block_stop(int index) {
    return sse("content_block_stop", R"({"type":"content_block_stop","index":)" + std::to_string(index) + "}");
}
std::string message_end(std::string_view reason) {
    return sse("message_delta", R"({"type":"message_delta","delta":{"stop_reason":")" + std::string(reason) +
                                    R"("},"usage":{"output_tokens":5}})") +
           sse("message_stop", R"({"type":"message_stop"})");
}

core::error last_error(const std::vector<core::event>& events) {
    REQUIRE_FALSE(events.empty());
    const auto* e = std::get_if<core::error>(&events.back());
    REQUIRE(e);
    return *e;
}

} // namespace

TEST_CASE("streams decode to golden events, whatever the byte splits and line endings",
          "[providers][anthropic][stream]") {
    const auto [name, complete] = GENERATE(table<std::string, bool>({
        {"stream_text", true},        // plain text, a ping, an escaped character, a line break in text
        {"stream_thinking", true},    // WIRE failure 5: thinking + signature, then text, never mixed
        {"stream_tool_use", true},    // WIRE failures 1, 2, 3: two tool calls from input_json_delta fragments
        {"stream_cache_usage", true}, // WIRE failures 4, 6: cache counters, usage split over two events
        {"stream_pings", true},       // pings everywhere, a comment, an event type not known yet
        {"stream_cut", false},        // WIRE failure 7: cut before message_stop
        {"stream_error", false},      // an error event ends the stream
    }));
    INFO("fixture " << name);
    const auto bytes = read_fixture(name + ".sse");
    const auto events = decode(bytes);
    const auto text = to_text(events);
    check_golden(name + ".events", text);

    CHECK(to_text(decode(bytes, 1)) == text);
    CHECK(to_text(decode(bytes, 7)) == text);
    CHECK(to_text(decode_scattered(bytes, 1)) == text);
    CHECK(to_text(decode_scattered(bytes, 2)) == text);
    const auto crlf = with_crlf(bytes);
    CHECK(to_text(decode(crlf)) == text);
    CHECK(to_text(decode(crlf, 1)) == text); // \r and \n in separate reads

    // The core fold checks indexes and block kinds (failures 3 and 5) on every fixture.
    auto answer = core::response_aggregate::fold(events);
    CHECK(answer.complete() == complete);
    if (!complete) CHECK(answer.error()->message.find("malformed event stream") == std::string::npos);
}

TEST_CASE("usage from message_start and message_delta adds up once, never twice (WIRE failures 4, 6)",
          "[providers][anthropic][stream]") {
    auto answer = core::response_aggregate::fold(decode(read_fixture("stream_cache_usage.sse")));
    REQUIRE(answer.complete());
    CHECK(answer.usage() == core::usage{12, 57, 10240, 2048, 0});
    CHECK(answer.stop_sequence() == "END");

    auto plain = core::response_aggregate::fold(decode(read_fixture("stream_text.sse")));
    CHECK(plain.usage() == core::usage{25, 12, 0, 0, 0});
}

TEST_CASE("streamed tool arguments arrive whole (WIRE failure 1) and the turn ends as tool_calls (WIRE failure 2)",
          "[providers][anthropic][stream]") {
    auto answer = core::response_aggregate::fold(decode(read_fixture("stream_tool_use.sse")));
    REQUIRE(answer.complete());
    CHECK(answer.finish() == core::finish_reason::tool_calls);
    const auto& parts = answer.message().content;
    REQUIRE(parts.size() == 3);
    const auto& weather = std::get<core::tool_call_part>(parts[1]);
    CHECK(weather.id == "toolu_01Weather");
    CHECK(weather.arguments == R"({"city": "Paris", "unit": "celsius"})");
    CHECK(std::get<core::tool_call_part>(parts[2]).arguments == R"({"tz": "Europe/Paris"})");
}

TEST_CASE("a tool call whose input never streams gets the input of its start, {} at least (WIRE failure 1)",
          "[providers][anthropic][stream]") {
    const auto [block, expected] = GENERATE(table<std::string, std::string>({
        {R"({"type":"tool_use","id":"t1","name":"now","input":{}})", "{}"},
        {R"({"type":"tool_use","id":"t1","name":"now"})", "{}"},
        {R"({"type":"tool_use","id":"t1","name":"at","input":{"tz":"UTC"}})", R"({"tz":"UTC"})"},
    }));
    auto bytes = start + block_start(0, block) + block_delta(0, R"({"type":"input_json_delta","partial_json":""})") +
                 block_stop(0) + message_end("tool_use");
    auto answer = core::response_aggregate::fold(decode(bytes));
    REQUIRE(answer.complete());
    CHECK(std::get<core::tool_call_part>(answer.message().content[0]).arguments == expected);
}

TEST_CASE("a turn with a tool call finishes as tool_calls even when the upstream says end_turn (WIRE failure 2)",
          "[providers][anthropic][stream]") {
    auto bytes = start + block_start(0, R"({"type":"tool_use","id":"t1","name":"f","input":{}})") +
                 block_delta(0, R"({"type":"input_json_delta","partial_json":"{\"a\":1}"})") + block_stop(0) +
                 message_end("end_turn");
    auto answer = core::response_aggregate::fold(decode(bytes));
    REQUIRE(answer.complete());
    CHECK(answer.finish() == core::finish_reason::tool_calls);
}

TEST_CASE("Anthropic block indexes map to canonical ones consistently, skipped blocks leave no gap (WIRE failure 3)",
          "[providers][anthropic][stream]") {
    // A redacted thinking block at 0, then two tool calls whose deltas interleave.
    auto bytes = start + block_start(0, R"({"type":"redacted_thinking","data":"opaque"})") + block_stop(0) +
                 block_start(1, R"({"type":"tool_use","id":"a","name":"f","input":{}})") +
                 block_start(2, R"({"type":"tool_use","id":"b","name":"g","input":{}})") +
                 block_delta(2, R"({"type":"input_json_delta","partial_json":"{\"b\":"})") +
                 block_delta(1, R"({"type":"input_json_delta","partial_json":"{\"a\":1}"})") +
                 block_delta(2, R"({"type":"input_json_delta","partial_json":"2}"})") + block_stop(2) + block_stop(1) +
                 message_end("tool_use");
    const auto events = decode(bytes);
    CHECK(to_text(events) == "message_start id=\"msg_1\" model=\"m\"\n"
                             "usage input=1 output=1 cache_read=0 cache_write=0 reasoning=0\n"
                             "block_start 0 tool_call id=\"a\" name=\"f\"\n"
                             "block_start 1 tool_call id=\"b\" name=\"g\"\n"
                             "block_delta 1 arguments \"{\\\"b\\\":\"\n"
                             "block_delta 0 arguments \"{\\\"a\\\":1}\"\n"
                             "block_delta 1 arguments \"2}\"\n"
                             "block_stop 1\n"
                             "block_stop 0\n"
                             "usage input=0 output=4 cache_read=0 cache_write=0 reasoning=0\n"
                             "message_stop tool_calls\n");
    auto answer = core::response_aggregate::fold(events);
    REQUIRE(answer.complete());
    CHECK(std::get<core::tool_call_part>(answer.message().content[1]).arguments == R"({"b":2})");
}

TEST_CASE("a delta for a block that never started is an upstream error (WIRE failure 3)",
          "[providers][anthropic][stream]") {
    auto bytes = start + block_delta(3, R"({"type":"text_delta","text":"x"})") + message_end("end_turn");
    const auto e = last_error(decode(bytes));
    CHECK(e.kind == core::error_kind::upstream);
    CHECK_THAT(e.message, Catch::Contains("block 3 that never started"));
}

TEST_CASE("a thinking delta inside a text block is an error, never a mixed block (WIRE failure 5)",
          "[providers][anthropic][stream]") {
    auto bytes = start + block_start(0, R"({"type":"text","text":""})") +
                 block_delta(0, R"({"type":"thinking_delta","thinking":"hmm"})") + block_stop(0) +
                 message_end("end_turn");
    const auto events = decode(bytes);
    const auto e = last_error(events);
    CHECK(e.kind == core::error_kind::upstream);
    CHECK_THAT(e.message, Catch::Contains("thinking_delta in text block 0"));
    for (const auto& ev : events) CHECK_FALSE(std::holds_alternative<core::message_stop>(ev));
}

TEST_CASE("a stream that ends before message_stop ends in an error, never cleanly (WIRE failure 7)",
          "[providers][anthropic][stream]") {
    SECTION("nothing at all") {
        const auto e = last_error(decode(""));
        CHECK(e.kind == core::error_kind::upstream);
        CHECK_THAT(e.message, Catch::Contains("before message_start"));
    }
    SECTION("after the last block, before message_stop") {
        auto bytes = start + block_start(0, R"({"type":"text","text":""})") +
                     block_delta(0, R"({"type":"text_delta","text":"hi"})") + block_stop(0) +
                     sse("message_delta",
                         R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}})");
        const auto events = decode(bytes);
        CHECK_THAT(last_error(events).message, Catch::Contains("ended before message_stop"));
        CHECK(std::none_of(events.begin(), events.end(),
                           [](const core::event& e) { return std::holds_alternative<core::message_stop>(e); }));
    }
}

TEST_CASE("message_stop without its blank line still ends the stream", "[providers][anthropic][stream]") {
    auto bytes = start + message_end("end_turn");
    bytes.pop_back(); // the upstream closed right after the data line
    const auto events = decode(bytes);
    REQUIRE_FALSE(events.empty());
    CHECK(std::holds_alternative<core::message_stop>(events.back()));
}

TEST_CASE("nothing follows the end: bytes after message_stop or an error are dropped",
          "[providers][anthropic][stream]") {
    anthropic::stream_decoder decoder;
    std::vector<core::event> out;
    decoder.feed(start + message_end("end_turn"), out);
    const auto n = out.size();
    decoder.feed(block_start(0, R"({"type":"text","text":""})") + "garbage\n\n", out);
    decoder.finish(out);
    CHECK(out.size() == n);
    CHECK(std::holds_alternative<core::message_stop>(out.back()));
}

TEST_CASE("data that is not JSON is an upstream error naming the event", "[providers][anthropic][stream]") {
    const auto e = last_error(decode(start + sse("content_block_delta", "{oops")));
    CHECK(e.kind == core::error_kind::upstream);
    CHECK_THAT(e.message, Catch::Contains("content_block_delta") && Catch::Contains("not a JSON object"));
}

TEST_CASE("an oversized event is refused instead of buffered without end", "[providers][anthropic][stream]") {
    anthropic::stream_decoder decoder;
    std::vector<core::event> out;
    decoder.feed(start + "data: ", out);
    const std::string chunk(1 << 20, 'x');
    for (std::size_t sent = 0; sent <= core::sse_parser::max_event_bytes && out.size() < 3; sent += chunk.size())
        decoder.feed(chunk, out);
    const auto e = last_error(out);
    CHECK_THAT(e.message, Catch::Contains("longer than"));
}

TEST_CASE("an error event maps Anthropic's error type to the canonical kind", "[providers][anthropic][stream]") {
    const auto [type, kind] = GENERATE(table<std::string, core::error_kind>({
        {"overloaded_error", core::error_kind::overloaded},
        {"api_error", core::error_kind::upstream},
        {"rate_limit_error", core::error_kind::rate_limit},
        {"something_new", core::error_kind::upstream},
    }));
    auto bytes = start + sse("error", R"({"type":"error","error":{"type":")" + type + R"(","message":"m"}})");
    const auto e = last_error(decode(bytes));
    CHECK(e.kind == kind);
    CHECK(e.message == "anthropic upstream (" + type + "): m");
}

TEST_CASE("content before message_start still opens the message first, and a second message_start is an error",
          "[providers][anthropic][stream]") {
    const auto text_block =
        block_start(0, R"({"type":"text","text":""})") + block_delta(0, R"({"type":"text_delta","text":"early"})");
    SECTION("late message_start adds its usage only") {
        const auto events = decode(text_block + start + block_stop(0) + message_end("end_turn"));
        REQUIRE(std::holds_alternative<core::message_start>(events.front()));
        auto answer = core::response_aggregate::fold(events);
        REQUIRE(answer.complete());
        CHECK(answer.usage() == core::usage{1, 5, 0, 0, 0});
        CHECK(std::count_if(events.begin(), events.end(),
                            [](const core::event& e) { return std::holds_alternative<core::message_start>(e); }) == 1);
    }
    SECTION("two message_starts") {
        CHECK_THAT(last_error(decode(start + start)).message, Catch::Contains("a second message_start"));
    }
}
