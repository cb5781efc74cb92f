#include <sluice/api/messages_encode.hpp>

#include "messages_golden.hpp"

#include <sluice/core/aggregate.hpp>

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <string>
#include <string_view>

using namespace sluice;
using messages_test::check_golden;
using messages_test::parse_events;
using messages_test::read_fixture;

namespace {

const api::response_context context{"msg_gw_01", "gateway-model", 1761000000, false};

core::response_aggregate fold(std::string_view fixture) {
    return core::response_aggregate::fold(parse_events(read_fixture(std::string(fixture) + ".events")));
}

boost::json::object body_of(std::string_view fixture) {
    return boost::json::parse(api::encode_messages_body(fold(fixture), context)).as_object();
}

} // namespace

TEST_CASE("each answer's body matches its golden file byte for byte", "[api][messages][encode]") {
    for (std::string_view name :
         {"text", "thinking_text", "openai_parallel_tools", "interleaved_text_tools", "tool_call_finish_stop",
          "tool_arguments_not_json", "cache_usage", "max_tokens", "error_mid_stream", "overloaded_before_content"}) {
        INFO("fixture " << name);
        check_golden(std::string(name) + ".body.json", api::encode_messages_body(fold(name), context) + "\n");
    }
}

TEST_CASE("a body has the Message shape with the gateway's id and model", "[api][messages][encode]") {
    const auto body = body_of("text");
    std::vector<std::string_view> keys;
    for (const auto& [k, v] : body) keys.push_back(k);
    CHECK(keys == std::vector<std::string_view>{"id", "type", "role", "model", "content", "stop_reason",
                                                "stop_sequence", "usage"});
    CHECK(body.at("id") == "msg_gw_01");
    CHECK(body.at("type") == "message");
    CHECK(body.at("role") == "assistant");
    CHECK(body.at("model") == "gateway-model");
    CHECK(body.at("stop_reason") == "end_turn");
    CHECK(body.at("stop_sequence").is_null());
    CHECK(body.at("content").as_array().at(0).as_object().at("text") == "Hello! How can I help \"you\" today?\n");

    SECTION("without a context id and model, the upstream's are shown") {
        const auto plain = boost::json::parse(api::encode_messages_body(fold("text"), {})).as_object();
        CHECK(plain.at("id") == "msg_01XFDUDYJgAACzvnptvVoYEL");
        CHECK(plain.at("model") == "claude-sonnet-4-5-20250929");
    }
}

TEST_CASE("tool calls keep their streamed arguments as the input object - WIRE failure 1", "[api][messages][encode]") {
    const auto content = body_of("openai_parallel_tools").at("content").as_array();
    REQUIRE(content.size() == 2);
    CHECK(content[0] ==
          boost::json::parse(R"({"type":"tool_use","id":"call_w8Zp","name":"get_weather","input":{"city":"Paris"}})"));
    CHECK(content[1] == boost::json::parse(
                            R"({"type":"tool_use","id":"call_t3Qx","name":"get_time","input":{"tz":"Europe/Paris"}})"));
}

TEST_CASE("arguments that do not parse are kept as raw text, never emptied - WIRE failure 1",
          "[api][messages][encode]") {
    const auto body = body_of("tool_arguments_not_json");
    const auto& content = body.at("content").as_array();
    REQUIRE(content.size() == 2);
    CHECK(content[0].at("input") ==
          boost::json::parse(R"({"_raw_arguments":"{\"file_path\": \"/tmp/a.txt\", \"content\": \"hel"})"));
    CHECK(content[1].at("input") == boost::json::object{}); // a call without arguments is {}
    CHECK(body.at("stop_reason") == "max_tokens");

    SECTION("JSON that is not an object is kept the same way") {
        core::response_aggregate a;
        for (auto& e : std::vector<core::event>{core::message_start{"m", "x"}, core::tool_call_start(0, "c", "f"),
                                                core::arguments_delta(0, "[1, 2]"), core::block_stop{0},
                                                core::message_stop{core::finish_reason::tool_calls, {}}})
            a.add(std::move(e));
        const auto b = boost::json::parse(api::encode_messages_body(a, context));
        CHECK(b.at("content").at(0).at("input") == boost::json::parse(R"({"_raw_arguments":"[1, 2]"})"));
    }
}

TEST_CASE("a turn ending with a tool call says tool_use even when the upstream said stop - WIRE failure 2",
          "[api][messages][encode]") {
    CHECK(body_of("tool_call_finish_stop").at("stop_reason") == "tool_use");
    CHECK(body_of("openai_parallel_tools").at("stop_reason") == "tool_use");
    CHECK(body_of("interleaved_text_tools").at("stop_reason") == "tool_use");
}

TEST_CASE("stop reasons map one to one", "[api][messages][encode]") {
    using api::messages_detail::stop_reason_for;
    using core::finish_reason;
    CHECK(stop_reason_for(finish_reason::stop, false, false) == "end_turn");
    CHECK(stop_reason_for(finish_reason::stop, false, true) == "stop_sequence");
    CHECK(stop_reason_for(finish_reason::stop, true, false) == "tool_use");
    CHECK(stop_reason_for(finish_reason::length, false, false) == "max_tokens");
    CHECK(stop_reason_for(finish_reason::length, true, false) == "max_tokens");
    CHECK(stop_reason_for(finish_reason::tool_calls, false, false) == "tool_use");
    CHECK(stop_reason_for(finish_reason::content_filter, false, false) == "refusal");
}

TEST_CASE("thinking comes back with its signature, before the text - WIRE failure 5", "[api][messages][encode]") {
    const auto content = body_of("thinking_text").at("content").as_array();
    REQUIRE(content.size() == 2);
    CHECK(content[0].at("type") == "thinking");
    CHECK(content[0].at("thinking") == "Let me work out 27 * 453.\n27 * 453 = 12231.");
    CHECK(content[0].at("signature") == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds");
    CHECK(content[1] == boost::json::parse(R"({"type":"text","text":"27 * 453 = 12,231."})"));
}

TEST_CASE("cache tokens are reported, not zeroed - WIRE failure 6", "[api][messages][encode]") {
    const auto body = body_of("cache_usage");
    CHECK(body.at("usage") == boost::json::parse(R"({"input_tokens":12,"cache_creation_input_tokens":2400,)"
                                                 R"("cache_read_input_tokens":18000,"output_tokens":7})"));
    CHECK(body.at("stop_reason") == "stop_sequence");
    CHECK(body.at("stop_sequence") == "\n\nHuman:");
}

TEST_CASE("an answer that ended in an error gives the Anthropic error body - WIRE failure 7",
          "[api][messages][encode]") {
    const auto a = fold("error_mid_stream");
    REQUIRE_FALSE(a.complete());
    CHECK(
        api::encode_messages_body(a, context) ==
        R"({"type":"error","error":{"type":"api_error","message":"anthropic upstream stream ended before message_stop"}})");
    CHECK(core::anthropic_http_status(a.error()->kind) == 502);
}
