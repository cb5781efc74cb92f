// Tests plugins/openai/stream.hpp: chat.completion.chunk SSE -> events, in any split.

#include "openai/stream.hpp"

#include "golden.hpp"

#include <sluice/core/aggregate.hpp>

#include <catch2/catch.hpp>

namespace openai = sluice::providers::openai;
using namespace openai_test;

namespace {

std::vector<core::event> decode(std::string_view bytes, std::size_t step = 0) {
    openai::chat_stream_decoder decoder("requested-model");
    return decode_stream(decoder, bytes, step);
}

std::vector<core::event> decode_fixture(std::string_view name, std::size_t step = 0) {
    return decode(read_fixture("stream/" + std::string(name) + ".sse"), step);
}

/// The fixture's events match the golden file, and stay the same however the bytes are split.
void check_stream(std::string_view name) {
    const std::string bytes = read_fixture("stream/" + std::string(name) + ".sse");
    const std::string whole = to_text(decode(bytes));
    check_golden("stream/" + std::string(name) + ".events", whole);
    for (std::size_t step : {1, 2, 3, 7, 64}) {
        INFO("fed " << step << " bytes at a time");
        CHECK(to_text(decode(bytes, step)) == whole);
    }
    INFO("with \\r\\n line endings, byte by byte");
    CHECK(to_text(decode(with_crlf(bytes), 1)) == whole);
    CHECK(to_text(decode(with_crlf(bytes))) == whole);
}

core::response_aggregate folded(std::string_view name) { return core::response_aggregate::fold(decode_fixture(name)); }

} // namespace

TEST_CASE("a plain text stream: message_start, one text block, usage from the last chunk, stop",
          "[openai][stream]") {
    check_stream("text");
    auto answer = folded("text");
    CHECK(answer.complete());
    CHECK(core::text_of(answer.message().content) == "Grüße! 👋 How can I help you today?");
}

TEST_CASE("streamed tool arguments survive parallel, interleaved fragments (WIRE failure 1)", "[openai][stream]") {
    check_stream("parallel_tool_calls");
    auto answer = folded("parallel_tool_calls");
    REQUIRE(answer.complete());
    REQUIRE(answer.message().content.size() == 2);
    const auto& weather = std::get<core::tool_call_part>(answer.message().content[0]);
    const auto& time = std::get<core::tool_call_part>(answer.message().content[1]);
    CHECK(weather.id == "call_w8Zp");
    CHECK(weather.name == "get_weather");
    CHECK(weather.arguments == R"({"city": "Paris"})");
    CHECK(time.id == "call_t3Qx");
    CHECK(time.arguments == R"({"tz": "Europe/Paris"})");
}

TEST_CASE("every delta and stop names a block that started, one block per tool call (WIRE failure 3)",
          "[openai][stream]") {
    for (auto name : {"text", "parallel_tool_calls", "reasoning_then_text", "usage_final_chunk",
                      "tool_calls_finish_stop"}) {
        INFO(name);
        auto events = decode_fixture(name, 1);
        CHECK(core::response_aggregate::fold(events).complete()); // the fold refuses unknown indexes
        std::vector<std::uint32_t> started, stopped;
        for (const auto& e : events) {
            if (const auto* b = std::get_if<core::block_start>(&e)) started.push_back(b->index);
            if (const auto* s = std::get_if<core::block_stop>(&e)) stopped.push_back(s->index);
        }
        for (std::uint32_t i = 0; i < started.size(); ++i) CHECK(started[i] == i); // numbered in start order
        std::sort(stopped.begin(), stopped.end());
        CHECK(stopped == started); // each block stops once
    }
}

TEST_CASE("reasoning then text: two blocks, never a thinking delta in a text block (WIRE failure 5)",
          "[openai][stream]") {
    check_stream("reasoning_then_text");
    auto events = decode_fixture("reasoning_then_text");
    auto answer = core::response_aggregate::fold(events);
    REQUIRE(answer.complete()); // the fold refuses a delta of the wrong kind
    REQUIRE(answer.message().content.size() == 2);
    CHECK(std::get<core::reasoning_part>(answer.message().content[0]).text ==
          "The user asks for the capital of France.\n");
    CHECK(std::get<core::text_part>(answer.message().content[1]).text == "The capital of France is Paris.");
    CHECK(answer.stop_sequence() == "###");
}

TEST_CASE("usage comes from the usage-only final chunk, cache reads and reasoning split out (WIRE failures 4, 6)",
          "[openai][stream]") {
    check_stream("usage_final_chunk");
    auto answer = folded("usage_final_chunk");
    CHECK(answer.usage() == core::usage{470, 256, 1536, 0, 192});
    CHECK(answer.finish() == core::finish_reason::length);
}

TEST_CASE("a stream cut before [DONE] ends in an error, never a clean end (WIRE failure 7)", "[openai][stream]") {
    check_stream("cut_mid_stream");
    auto events = decode_fixture("cut_mid_stream");
    REQUIRE_FALSE(events.empty());
    CHECK(std::holds_alternative<core::error>(events.back()));
    for (const auto& e : events) CHECK_FALSE(std::holds_alternative<core::message_stop>(e));

    SECTION("also when the cut falls between two chunks, after finish_reason and usage") {
        auto text = read_fixture("stream/text.sse");
        text.resize(text.find("data: [DONE]"));
        auto cut = decode(text);
        REQUIRE(std::holds_alternative<core::error>(cut.back()));
        CHECK(std::get<core::error>(cut.back()).message ==
              "upstream: the stream ended before [DONE]: the upstream closed it mid-answer");
        // The usage the upstream already sent is still billed.
        CHECK(std::holds_alternative<core::usage>(cut[cut.size() - 2]));
    }
}

TEST_CASE("an error object inside the stream becomes the last event and nothing after it counts", "[openai][stream]") {
    check_stream("error_in_stream");
    auto events = decode_fixture("error_in_stream");
    const auto& err = std::get<core::error>(events.back());
    CHECK(err.kind == core::error_kind::upstream);
    CHECK(err.message == "upstream: The server had an error while processing your request. Sorry about that!");
}

TEST_CASE("a tool-calling turn ends in tool_calls even when the stream says stop (WIRE failure 2)",
          "[openai][stream]") {
    check_stream("tool_calls_finish_stop");
    CHECK(folded("tool_calls_finish_stop").finish() == core::finish_reason::tool_calls);
}

TEST_CASE("the stream decoder takes odd but seen shapes", "[openai][stream]") {
    SECTION("bytes after [DONE] and a second finish() add nothing") {
        openai::chat_stream_decoder decoder("m");
        std::vector<core::event> out;
        decoder.feed("data: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n", out);
        const auto n = out.size();
        decoder.feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"late\"}}]}\n\n", out);
        decoder.finish(out);
        decoder.finish(out);
        CHECK(out.size() == n);
        CHECK(std::holds_alternative<core::message_stop>(out.back()));
    }
    SECTION("a chunk without a model is named after the requested model") {
        auto events = decode("data: {\"id\":\"a\",\"choices\":[]}\n\ndata: [DONE]\n\n");
        CHECK(to_text(events.front()) == "message_start id=\"a\" model=\"requested-model\"");
    }
    SECTION("choices other than 0 are left out") {
        auto events = decode(
            "data: {\"id\":\"a\",\"model\":\"m\",\"choices\":[{\"index\":1,\"delta\":{\"content\":\"B\"}},"
            "{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\ndata: [DONE]\n\n");
        CHECK(core::text_of(core::response_aggregate::fold(events).message().content) == "A");
    }
    SECTION("text, then a tool call, then text again: the text block closes before the call opens") {
        auto events = decode(
            "data: {\"id\":\"a\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Looking.\"}}]}\n\n"
            "data: {\"id\":\"a\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
            "\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}\n\n"
            "data: {\"id\":\"a\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\n\"},"
            "\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n");
        CHECK(to_text(events) == "message_start id=\"a\" model=\"m\"\n"
                                 "block_start 0 text\n"
                                 "block_delta 0 text \"Looking.\"\n"
                                 "block_stop 0\n"
                                 "block_start 1 tool_call id=\"c1\" name=\"f\"\n"
                                 "block_delta 1 arguments \"{}\"\n"
                                 "block_start 2 text\n"
                                 "block_delta 2 text \"\\n\"\n"
                                 "block_stop 2\n"
                                 "block_stop 1\n"
                                 "message_stop tool_calls\n");
        CHECK(core::response_aggregate::fold(events).complete());
    }
    SECTION("tool calls without an index are told apart by their ids") {
        auto events = decode(
            "data: {\"id\":\"a\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
            "{\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},"
            "{\"id\":\"c2\",\"function\":{\"name\":\"g\",\"arguments\":{\"b\":2}}}]}}]}\n\ndata: [DONE]\n\n");
        auto answer = core::response_aggregate::fold(events);
        REQUIRE(answer.message().content.size() == 2);
        CHECK(std::get<core::tool_call_part>(answer.message().content[0]).arguments == R"({"a":1})");
        CHECK(std::get<core::tool_call_part>(answer.message().content[1]).arguments == R"({"b":2})");
    }
    SECTION("a chunk with \"error\": null is an ordinary chunk") {
        auto events = decode("data: {\"id\":\"a\",\"model\":\"m\",\"error\":null,\"choices\":[{\"index\":0,"
                             "\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
        CHECK(core::response_aggregate::fold(events).complete());
    }
    SECTION("[DONE] before any chunk is an error") {
        auto events = decode("data: [DONE]\n\n");
        REQUIRE(events.size() == 1);
        CHECK(std::get<core::error>(events[0]).message == "upstream: the stream ended ([DONE]) before any chunk");
    }
    SECTION("a chunk that is not JSON is an error naming it") {
        auto events = decode("data: {\"id\":\"a\",\"choices\":[]}\n\ndata: {oops}\n\n");
        CHECK_THAT(std::get<core::error>(events.back()).message,
                   Catch::StartsWith("upstream: a stream chunk is not JSON (") && Catch::EndsWith("): {oops}"));
    }
    SECTION("an older vLLM error object in the stream keeps the status it names") {
        auto events = decode(
            "data: {\"object\":\"error\",\"message\":\"This model's maximum context length is 4096 tokens.\","
            "\"type\":\"BadRequestError\",\"param\":null,\"code\":400}\n\n");
        const auto& err = std::get<core::error>(events.back());
        CHECK(err.kind == core::error_kind::invalid_request);
        CHECK(err.message == "upstream: This model's maximum context length is 4096 tokens.");
    }
}
