// Tests plugins/openai/response.hpp: a whole chat.completion body -> events.

#include "openai/response.hpp"

#include "golden.hpp"

#include <sluice/core/aggregate.hpp>

#include <catch2/catch.hpp>

namespace openai = sluice::providers::openai;
using namespace openai_test;

namespace {

std::vector<core::event> decoded(std::string_view name) {
    auto events = openai::decode_response(read_fixture("response/" + std::string(name) + ".json"));
    if (!events) FAIL("decode_response failed: " << events.error().message);
    return std::move(events).value();
}

void check_body(std::string_view name) {
    auto events = decoded(name);
    check_golden("response/" + std::string(name) + ".events", to_text(events));
    auto answer = core::response_aggregate::fold(events);
    INFO(to_text(events));
    CHECK(answer.complete()); // the events make a well-formed message (WIRE failures 3 and 5)
}

core::error failure_of(std::string_view body) {
    auto events = openai::decode_response(body);
    REQUIRE_FALSE(events.has_value());
    return events.error();
}

} // namespace

TEST_CASE("a text answer decodes to one text block, usage and stop", "[openai][response]") { check_body("text"); }

TEST_CASE("two tool calls decode to two tool_call blocks with their ids and whole arguments (WIRE failures 1, 3)",
          "[openai][response]") {
    check_body("tool_calls");
    auto answer = core::response_aggregate::fold(decoded("tool_calls"));
    REQUIRE(answer.message().content.size() == 2);
    const auto& first = std::get<core::tool_call_part>(answer.message().content[0]);
    CHECK(first.id == "call_abc123");
    CHECK(first.arguments == "{\n\"location\": \"Boston, MA\"\n}");
    CHECK(answer.finish() == core::finish_reason::tool_calls);
}

TEST_CASE("cached prompt tokens are cache reads, not input (WIRE failure 6)", "[openai][response]") {
    auto answer = core::response_aggregate::fold(decoded("tool_calls"));
    CHECK(answer.usage() == core::usage{162, 41, 1920, 0, 0});
    CHECK(answer.usage().prompt() == 2082);
}

TEST_CASE("DeepSeek reasoning_content comes first as a reasoning block and its cache hits count (WIRE failure 6)",
          "[openai][response]") {
    check_body("reasoning_deepseek");
    auto answer = core::response_aggregate::fold(decoded("reasoning_deepseek"));
    CHECK(answer.usage() == core::usage{16, 112, 48, 0, 97});
}

TEST_CASE("vLLM's reasoning field and the stop string it names in stop_reason are kept", "[openai][response]") {
    check_body("stop_sequence_vllm");
}

TEST_CASE("a turn with tool calls ends in tool_calls even when the server says stop (WIRE failure 2)",
          "[openai][response]") {
    check_body("tool_calls_finish_stop");
}

TEST_CASE("a legacy function_call is a tool call", "[openai][response]") {
    auto events = openai::decode_response(
        R"({"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{}"}},"finish_reason":"function_call"}]})");
    REQUIRE(events.has_value());
    CHECK(to_text(*events) == "message_start id=\"x\" model=\"m\"\n"
                              "block_start 0 tool_call id=\"call_0\" name=\"f\"\n"
                              "block_delta 0 arguments \"{}\"\n"
                              "block_stop 0\n"
                              "message_stop tool_calls\n");
}

TEST_CASE("a refusal is answered as text", "[openai][response]") {
    auto events = openai::decode_response(
        R"({"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]})");
    REQUIRE(events.has_value());
    auto answer = core::response_aggregate::fold(*events);
    CHECK(core::text_of(answer.message().content) == "I can't help with that.");
}

TEST_CASE("a body that is not a chat completion is an upstream error that says what is wrong", "[openai][response]") {
    SECTION("not JSON") {
        auto err = failure_of("<html>502 Bad Gateway</html>");
        CHECK(err.kind == core::error_kind::upstream);
        CHECK_THAT(err.message, Catch::StartsWith("upstream: the response body is not JSON ("));
        CHECK_THAT(err.message, Catch::EndsWith("): <html>502 Bad Gateway</html>"));
    }
    SECTION("no choices") {
        auto err = failure_of(R"({"id":"x","object":"chat.completion"})");
        CHECK(err.kind == core::error_kind::upstream);
        CHECK(err.message == R"(upstream: the response has no 'choices' array: {"id":"x","object":"chat.completion"})");
    }
    SECTION("empty choices") {
        CHECK_THAT(failure_of(R"({"choices":[]})").message, Catch::Contains("no choice with index 0"));
    }
    SECTION("a choice without a message") {
        CHECK_THAT(failure_of(R"({"choices":[{"index":0,"text":"hi"}]})").message,
                   Catch::Contains("choices[0] has no 'message' object"));
    }
    SECTION("an error object sent with status 200") {
        auto err = failure_of(R"({"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}})");
        CHECK(err.kind == core::error_kind::rate_limit);
        CHECK(err.message == "upstream: Rate limit reached");
        CHECK(err.code == "rate_limit_exceeded");
    }
}
