#include "anthropic_shape.hpp"

#include "support.hpp"

#include <catch2/catch.hpp>

using namespace sluice::mock;
using namespace sluice::mock::test;

namespace {

answer_plan plan_for(std::string_view directive_text, bool stream = true) {
    mock_request r;
    r.kind = api::anthropic;
    r.model = "claude-test";
    r.stream = stream;
    r.prompt_tokens = 50;
    r.dir = parse_directives(directive_text);
    mock_options o;
    o.chunks = 2;
    o.text = "Hi there";
    return make_answer(r, o, "msg_01X", 1700000000);
}

std::string frames(const std::vector<stream_event>& events) {
    std::string out;
    for (const auto& e : events) {
        out += "event: ";
        out += e.event;
        out += "\ndata: " + e.data + "\n\n";
    }
    return out;
}

} // namespace

TEST_CASE("an Anthropic body is a message as api.anthropic.com sends it", "[mock]") {
    SECTION("text, cached tokens apart from input tokens") {
        CHECK(anthropic_body(plan_for("mock: cached=20", false)) ==
              R"({"id":"msg_01X","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"Hi there"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":30,"cache_creation_input_tokens":0,"cache_read_input_tokens":20,"output_tokens":2,"service_tier":"standard"}})");
    }
    SECTION("thinking, then tool_use blocks") {
        auto v = json(anthropic_body(plan_for("mock: reasoning=1 tools=2", false)));
        auto& content = v.at("content").as_array();
        REQUIRE(content.size() == 3);
        CHECK(content[0].at("type") == "thinking");
        CHECK(content[0].at("signature").as_string() == thinking_signature);
        CHECK(content[2].at("type") == "tool_use");
        CHECK(content[2].at("id") == "toolu_1");
        CHECK(content[2].at("input").at("city") == "Paris");
        CHECK(v.at("stop_reason") == "tool_use");
        CHECK(v.at("usage").at("output_tokens") == 2 + 10);
    }
    SECTION("max_tokens") {
        CHECK(json(anthropic_body(plan_for("mock: length=1", false))).at("stop_reason") == "max_tokens");
    }
}

TEST_CASE("an Anthropic text stream is message_start, a block with a ping, message_delta, message_stop", "[mock]") {
    auto events = collect<anthropic_stream>(plan_for("mock: cached=20"));
    CHECK(frames(events) ==
          "event: message_start\n"
          R"(data: {"type":"message_start","message":{"id":"msg_01X","type":"message","role":"assistant","model":"claude-test","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":30,"cache_creation_input_tokens":0,"cache_read_input_tokens":20,"output_tokens":1,"service_tier":"standard"}}})"
          "\n\n"
          "event: content_block_start\n"
          R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
          "\n\n"
          "event: ping\n"
          R"(data: {"type":"ping"})"
          "\n\n"
          "event: content_block_delta\n"
          R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi t"}})"
          "\n\n"
          "event: content_block_delta\n"
          R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"here"}})"
          "\n\n"
          "event: content_block_stop\n"
          R"(data: {"type":"content_block_stop","index":0})"
          "\n\n"
          "event: message_delta\n"
          R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}})"
          "\n\n"
          "event: message_stop\n"
          R"(data: {"type":"message_stop"})"
          "\n\n");
}

TEST_CASE("Anthropic stream blocks keep sequential indexes and never mix kinds", "[mock]") {
    auto events = collect<anthropic_stream>(plan_for("mock: reasoning=1 tools=2"));
    std::vector<std::string> types;
    std::int64_t open = -1, next_index = 0;
    std::string open_kind, thinking, signature, stop_reason;
    std::vector<std::string> inputs;
    for (const auto& e : events) {
        auto v = json(e.data);
        CHECK(v.at("type").as_string() == e.event);
        types.emplace_back(e.event);
        if (e.event == "content_block_start") {
            CHECK(open == -1);
            open = v.at("index").as_int64();
            CHECK(open == next_index++);
            open_kind = v.at("content_block").at("type").as_string();
            if (open_kind == "tool_use") {
                inputs.emplace_back();
                CHECK(v.at("content_block").at("id").as_string() == "toolu_" + std::to_string(inputs.size() - 1));
            }
        } else if (e.event == "content_block_delta") {
            CHECK(v.at("index").as_int64() == open);
            std::string type(v.at("delta").at("type").as_string());
            if (open_kind == "thinking") {
                CHECK((type == "thinking_delta" || type == "signature_delta"));
                if (type == "thinking_delta") thinking += v.at("delta").at("thinking").as_string();
                else signature = v.at("delta").at("signature").as_string();
            } else {
                CHECK(open_kind == "tool_use");
                CHECK(type == "input_json_delta");
                inputs.back() += v.at("delta").at("partial_json").as_string();
            }
        } else if (e.event == "content_block_stop") {
            CHECK(v.at("index").as_int64() == open);
            open = -1;
        } else if (e.event == "message_delta") {
            stop_reason = v.at("delta").at("stop_reason").as_string();
            CHECK(v.at("usage").at("output_tokens") == 12);
        }
    }
    CHECK(types.front() == "message_start");
    CHECK(types[2] == "ping");
    CHECK(types.back() == "message_stop");
    CHECK(next_index == 3);
    CHECK(thinking == reasoning_text);
    CHECK(signature == thinking_signature);
    CHECK(inputs == std::vector<std::string>{R"({"city":"Paris"})", R"({"city":"Paris"})"});
    CHECK(stop_reason == "tool_use");
}

TEST_CASE("Anthropic errors take the provider's shape and type", "[mock]") {
    CHECK(anthropic_error_body("invalid_request_error", "max_tokens: Field required") ==
          R"({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}})");
    CHECK(json(anthropic_error_body(529)).at("error").at("type") == "overloaded_error");
    CHECK(json(anthropic_error_body(429)).at("error").at("type") == "rate_limit_error");
    CHECK(json(anthropic_error_body(401)).at("error").at("type") == "authentication_error");
    CHECK(json(anthropic_error_body(503)).at("error").at("type") == "api_error");
    CHECK(json(anthropic_models_body()).at("data").at(0).at("type") == "model");
    CHECK(anthropic_count_tokens_body(7) == R"({"input_tokens":7})");
}
