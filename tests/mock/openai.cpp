#include "openai_shape.hpp"

#include "support.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace sluice::mock;
using namespace sluice::mock::test;

namespace {

answer_plan plan_for(std::string_view directive_text, bool stream = true, bool include_usage = true) {
    mock_request r;
    r.kind = api::openai;
    r.model = "gpt-test";
    r.stream = stream;
    r.include_usage = include_usage;
    r.prompt_tokens = 10;
    r.dir = parse_directives(directive_text);
    mock_options o;
    o.chunks = 2;
    o.text = "Hi there";
    return make_answer(r, o, "chatcmpl-1", 1700000000);
}

const std::string chunk_head =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-test","service_tier":"default","system_fingerprint":"fp_mock","choices":[)";

} // namespace

TEST_CASE("an OpenAI body is a chat.completion as api.openai.com sends it", "[mock]") {
    SECTION("text") {
        CHECK(openai_body(plan_for("mock: cached=4", false)) ==
              R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_mock"})");
    }
    SECTION("tool calls, with reasoning") {
        auto v = json(openai_body(plan_for("mock: tools=2 reasoning=1", false)));
        auto& choice = v.at("choices").at(0);
        CHECK(choice.at("finish_reason") == "tool_calls");
        CHECK(choice.at("message").at("content").is_null());
        CHECK(choice.at("message").at("reasoning_content").as_string() == reasoning_text);
        auto& calls = choice.at("message").at("tool_calls").as_array();
        REQUIRE(calls.size() == 2);
        CHECK(calls[1].at("id") == "call_1");
        CHECK(calls[1].at("type") == "function");
        CHECK(calls[1].at("function").at("name") == "get_weather");
        CHECK(calls[1].at("function").at("arguments") == R"({"city":"Paris"})");
        CHECK(v.at("usage").at("completion_tokens") == 2 + 10);
        CHECK(v.at("usage").at("completion_tokens_details").at("reasoning_tokens") == 2);
    }
    SECTION("length") {
        CHECK(json(openai_body(plan_for("mock: length=1", false))).at("choices").at(0).at("finish_reason") == "length");
    }
}

TEST_CASE("an OpenAI stream sends role, pieces, finish, usage with empty choices, then [DONE]", "[mock]") {
    auto events = collect<openai_stream>(plan_for(""));
    std::vector<std::string> data;
    for (const auto& e : events) {
        CHECK(e.event.empty());
        data.push_back(e.data);
    }
    CHECK(data == std::vector<std::string>{
        chunk_head + R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null})",
        chunk_head + R"({"index":0,"delta":{"content":"Hi t"},"logprobs":null,"finish_reason":null}],"usage":null})",
        chunk_head + R"({"index":0,"delta":{"content":"here"},"logprobs":null,"finish_reason":null}],"usage":null})",
        chunk_head + R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})",
        chunk_head + R"(],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}})",
        "[DONE]"});
    CHECK(events[1].token);
    CHECK_FALSE(events[0].token);
}

TEST_CASE("an OpenAI stream without include_usage has no usage at all", "[mock]") {
    auto events = collect<openai_stream>(plan_for("", true, false));
    REQUIRE(events.size() == 5);
    for (const auto& e : events) CHECK(e.data.find("usage") == std::string::npos);
    CHECK(events[3].data.find(R"("finish_reason":"stop"}]})") != std::string::npos);
}

TEST_CASE("parallel tool calls interleave their argument fragments by index", "[mock]") {
    auto events = collect<openai_stream>(plan_for("mock: tools=3"));
    std::vector<std::int64_t> order;
    std::map<std::int64_t, std::string> args, ids;
    std::string finish;
    for (const auto& e : events) {
        if (e.data == "[DONE]") continue;
        auto v = json(e.data);
        auto& choices = v.at("choices").as_array();
        if (choices.empty()) continue;
        auto& delta = choices[0].at("delta").as_object();
        if (auto f = choices[0].at("finish_reason"); f.is_string()) finish = f.as_string();
        if (!delta.contains("tool_calls")) continue;
        auto& call = delta.at("tool_calls").at(0).as_object();
        auto index = call.at("index").as_int64();
        if (call.contains("id")) {
            ids[index] = call.at("id").as_string();
            CHECK(call.at("function").at("name") == "get_weather");
            CHECK(call.at("function").at("arguments") == "");
        } else {
            CHECK_FALSE(call.at("function").as_object().contains("name"));
            order.push_back(index);
        }
        args[index] += call.at("function").at("arguments").as_string();
    }
    CHECK(events.front().data.find(R"("content":null)") != std::string::npos);
    CHECK(ids == std::map<std::int64_t, std::string>{{0, "call_0"}, {1, "call_1"}, {2, "call_2"}});
    CHECK(order == std::vector<std::int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2});
    for (auto& [i, a] : args) CHECK(a == R"({"city":"Paris"})");
    CHECK(finish == "tool_calls");
}

TEST_CASE("reasoning streams as reasoning_content before the content", "[mock]") {
    auto events = collect<openai_stream>(plan_for("mock: reasoning=1"));
    std::string reasoning, content;
    bool content_seen = false;
    for (const auto& e : events) {
        if (e.data == "[DONE]") continue;
        auto v = json(e.data);
        if (v.at("choices").as_array().empty()) {
            CHECK(v.at("usage").at("completion_tokens_details").at("reasoning_tokens") == 2);
            continue;
        }
        auto& d = v.at("choices").at(0).at("delta").as_object();
        if (d.contains("reasoning_content")) {
            CHECK_FALSE(content_seen);
            reasoning += d.at("reasoning_content").as_string();
        }
        if (d.contains("content") && d.at("content").is_string() && !d.contains("role")) {
            content_seen = true;
            content += d.at("content").as_string();
        }
    }
    CHECK(reasoning == reasoning_text);
    CHECK(content == "Hi there");
}

TEST_CASE("OpenAI errors take the provider's shape and type", "[mock]") {
    CHECK(openai_error_body("bad", "invalid_request_error", "messages", "invalid_type") ==
          R"({"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":"invalid_type"}})");
    auto v = json(openai_error_body(429));
    CHECK(v.at("error").at("type") == "requests");
    CHECK(v.at("error").at("code") == "rate_limit_exceeded");
    CHECK(v.at("error").at("param").is_null());
    CHECK(json(openai_error_body(503)).at("error").at("type") == "server_error");
    CHECK(json(openai_error_body(401)).at("error").at("code") == "invalid_api_key");
    CHECK(json(openai_models_body()).at("data").at(0).at("object") == "model");
}
