#include "response.hpp"

#include "golden.hpp"

#include <sluice/core/aggregate.hpp>

#include <catch2/catch.hpp>

using namespace sluice;
using anthropic_test::check_golden;
using anthropic_test::read_fixture;
using anthropic_test::to_text;

namespace {

std::vector<core::event> decode(std::string_view body) {
    auto events = anthropic::decode_response(body);
    if (!events) FAIL("decode_response failed: " << events.error().message);
    return std::move(*events);
}

core::message_stop stop_of(const std::vector<core::event>& events) {
    REQUIRE_FALSE(events.empty());
    const auto* stop = std::get_if<core::message_stop>(&events.back());
    REQUIRE(stop);
    return *stop;
}

std::string body_with(std::string_view content, std::string_view stop_reason) {
    return R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":)" +
           std::string(content) + R"(,"stop_reason":)" + std::string(stop_reason) +
           R"(,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":3}})";
}

constexpr std::string_view tool_content =
    R"([{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}])";

} // namespace

TEST_CASE("a text answer decodes to the events of its stream", "[providers][anthropic][response]") {
    const auto events = decode(read_fixture("response_text.json"));
    check_golden("response_text.events", to_text(events));

    auto answer = core::response_aggregate::fold(events);
    REQUIRE(answer.complete());
    CHECK(core::text_of(answer.message().content) == "Paris is the capital of France.");
    CHECK(answer.usage() == core::usage{14, 9, 0, 0, 0});
}

TEST_CASE("thinking with its signature, text and a tool call decode in order, with cache usage (WIRE failures 2, 6)",
          "[providers][anthropic][response]") {
    const auto events = decode(read_fixture("response_tool_use.json"));
    check_golden("response_tool_use.events", to_text(events));

    auto answer = core::response_aggregate::fold(events);
    REQUIRE(answer.complete());
    CHECK(answer.finish() == core::finish_reason::tool_calls);
    CHECK(answer.usage() == core::usage{3, 120, 4096, 512, 0});
    const auto& parts = answer.message().content;
    REQUIRE(parts.size() == 3);
    CHECK(std::get<core::reasoning_part>(parts[0]).signature ==
          "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds");
    CHECK(std::get<core::tool_call_part>(parts[2]).arguments == R"({"city":"Paris","unit":"celsius"})");
}

TEST_CASE("a turn that ends in tool use finishes as tool_calls (WIRE failure 2)", "[providers][anthropic][response]") {
    SECTION("as Anthropic says it") {
        CHECK(stop_of(decode(body_with(tool_content, R"("tool_use")"))).finish == core::finish_reason::tool_calls);
    }
    SECTION("even when a compatible server says end_turn") {
        CHECK(stop_of(decode(body_with(tool_content, R"("end_turn")"))).finish == core::finish_reason::tool_calls);
    }
    SECTION("or says nothing") {
        CHECK(stop_of(decode(body_with(tool_content, "null"))).finish == core::finish_reason::tool_calls);
    }
}

TEST_CASE("stop reasons map to canonical finishes", "[providers][anthropic][response]") {
    const auto [reason, finish] = GENERATE(table<std::string, core::finish_reason>({
        {R"("end_turn")", core::finish_reason::stop},
        {R"("stop_sequence")", core::finish_reason::stop},
        {R"("max_tokens")", core::finish_reason::length},
        {R"("model_context_window_exceeded")", core::finish_reason::length},
        {R"("tool_use")", core::finish_reason::tool_calls},
        {R"("refusal")", core::finish_reason::content_filter},
        {R"("pause_turn")", core::finish_reason::stop},
    }));
    INFO(reason);
    CHECK(stop_of(decode(body_with(R"([{"type":"text","text":"x"}])", reason))).finish == finish);
}

TEST_CASE("the matched stop sequence is kept", "[providers][anthropic][response]") {
    auto body = body_with(R"([{"type":"text","text":"one, two"}])", R"("stop_sequence")");
    body.replace(body.find(R"("stop_sequence":null)"), 20, R"("stop_sequence":"three")");
    const auto stop = stop_of(decode(body));
    CHECK(stop.finish == core::finish_reason::stop);
    CHECK(stop.stop_sequence == "three");
}

TEST_CASE("a tool call with no input has {} as its arguments, never nothing (WIRE failure 1)",
          "[providers][anthropic][response]") {
    const auto events =
        decode(body_with(R"([{"type":"tool_use","id":"toolu_1","name":"now","input":{}}])", R"("tool_use")"));
    auto answer = core::response_aggregate::fold(events);
    REQUIRE(answer.complete());
    CHECK(std::get<core::tool_call_part>(answer.message().content[0]).arguments == "{}");
}

TEST_CASE("blocks with no canonical kind are left out without a gap in the indexes (WIRE failure 3)",
          "[providers][anthropic][response]") {
    const auto events = decode(body_with(
        R"([{"type":"redacted_thinking","data":"opaque"},{"type":"text","text":"a"},)"
        R"({"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"q"}},{"type":"text","text":"b"}])",
        R"("end_turn")"));
    CHECK(to_text(events) == "message_start id=\"msg_1\" model=\"claude-sonnet-4-5\"\n"
                             "block_start 0 text\n"
                             "block_delta 0 text \"a\"\n"
                             "block_stop 0\n"
                             "block_start 1 text\n"
                             "block_delta 1 text \"b\"\n"
                             "block_stop 1\n"
                             "usage input=5 output=3 cache_read=0 cache_write=0 reasoning=0\n"
                             "message_stop stop\n");
}

TEST_CASE("a malformed body is a clear upstream error", "[providers][anthropic][response]") {
    const auto [body, says] = GENERATE(table<std::string, std::string>({
        {"", "not JSON"},
        {"<html>502 Bad Gateway</html>", "not JSON"},
        {"[1,2]", "not a JSON object"},
        {R"({"type":"completion"})", "not 'message'"},
        {R"({"type":"message","content":"hi"})", "no content array"},
        {R"({"type":"message","content":[7]})", "content[0] is not an object"},
    }));
    auto events = anthropic::decode_response(body);
    REQUIRE_FALSE(events);
    CHECK(events.error().kind == core::error_kind::upstream);
    CHECK_THAT(events.error().message,
               Catch::StartsWith("anthropic upstream sent a malformed response body") && Catch::Contains(says));
}

TEST_CASE("an error object in a 200 body is that error", "[providers][anthropic][response]") {
    auto events = anthropic::decode_response(
        R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"})");
    REQUIRE_FALSE(events);
    CHECK(events.error().kind == core::error_kind::overloaded);
    CHECK(events.error().message == "anthropic upstream (overloaded_error): Overloaded [request_id req_1]");
}
