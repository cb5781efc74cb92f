#include <sluice/api/messages_decode.hpp>

#include "messages_golden.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace sluice;
using messages_test::check_golden;
using messages_test::read_fixture;
using messages_test::render_envelope;

namespace {

// What Claude Code sends besides the body (the transport lower-cases the names).
const api::request_headers claude_code_headers{
    {"host", "gateway.local:8080"},
    {"x-api-key", "sk-gw-test"},
    {"anthropic-version", "2023-06-01"},
    {"anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"},
    {"user-agent", "claude-cli/2.0.14 (external, cli)"},
    {"x-app", "cli"},
};

core::envelope decode_ok(std::string_view body, const api::request_headers& headers = {}) {
    auto r = api::decode_messages_request(body, headers);
    if (!r) FAIL("decode failed: " << r.error().message << " (param " << r.error().param << ")");
    return std::move(r).value();
}

core::error decode_error(std::string_view body, const api::request_headers& headers = {}) {
    auto r = api::decode_messages_request(body, headers);
    REQUIRE_FALSE(r);
    return r.error();
}

} // namespace

TEST_CASE("a Claude Code request keeps cache_control, tools, thinking and tool results - WIRE failure 6",
          "[api][messages][decode]") {
    const auto e = decode_ok(read_fixture("request_claude_code.json"), claude_code_headers);
    check_golden("request_claude_code.envelope.json", render_envelope(e));

    // The points the golden file makes, stated once more where a reader looks first.
    REQUIRE(e.system.size() == 2);
    CHECK(e.system[0].cache == core::cache_control{});
    CHECK(e.system[1].cache->ttl == core::cache_control::time_to_live::one_hour);
    CHECK(e.tools[2].cache.has_value());
    const auto& result = std::get<core::tool_result_part>(e.messages[4].content[0]);
    CHECK(result.is_error);
    CHECK(result.cache.has_value());
    CHECK(std::get<core::text_part>(e.messages[0].content[1]).cache.has_value());
    CHECK(std::get<core::reasoning_part>(e.messages[1].content[0]).signature == "EqQBCkYIBxgCKkB0x9f3Qm");
    CHECK(std::get<core::tool_call_part>(e.messages[1].content[2]).arguments ==
          R"({"file_path":"/repo/src/parser.cpp"})");
    CHECK(e.reasoning.budget_tokens == 31999u);
    CHECK(e.user == "user_2f1c_account__session_8d3e");
}

TEST_CASE("anthropic-version and anthropic-beta reach forward_headers and nothing else does",
          "[api][messages][decode]") {
    const auto e = decode_ok(read_fixture("request_minimal.json"), claude_code_headers);
    REQUIRE(e.forward_headers.size() == 2);
    CHECK(e.forward_headers[0] == std::pair<std::string, std::string>{"anthropic-version", "2023-06-01"});
    CHECK(e.forward_headers[1].first == "anthropic-beta");
    CHECK(e.forward_headers[1].second == claude_code_headers[3].second);

    SECTION("an unknown beta is never a reason to refuse") {
        const auto odd = decode_ok(read_fixture("request_minimal.json"), {{"anthropic-beta", "made-up-2031-01-01"}});
        CHECK(odd.forward_headers.size() == 1);
    }
    SECTION("no headers, nothing forwarded") {
        CHECK(decode_ok(read_fixture("request_minimal.json")).forward_headers.empty());
    }
}

TEST_CASE("good requests decode into the envelopes of their golden files", "[api][messages][decode]") {
    for (std::string_view name : {"request_minimal", "request_media", "request_options"}) {
        INFO("fixture " << name);
        const auto e = decode_ok(read_fixture(std::string(name) + ".json"));
        check_golden(std::string(name) + ".envelope.json", render_envelope(e));
    }
}

TEST_CASE("a decoded request is the Messages API asking for a chat endpoint", "[api][messages][decode]") {
    const auto e = decode_ok(read_fixture("request_minimal.json"));
    CHECK(e.api == core::front_api::messages);
    CHECK(e.endpoint == core::endpoint::chat);
    CHECK(e.sampling.max_output_tokens == 1024u);
    CHECK(e.system_text() == "Answer in one word.");
    CHECK_FALSE(e.stream);
}

TEST_CASE("a request without max_tokens is a 400 on max_tokens", "[api][messages][decode]") {
    const auto err = decode_error(R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]})");
    CHECK(err.kind == core::error_kind::invalid_request);
    CHECK(err.param == "max_tokens");
    CHECK(err.message == "max_tokens: field required (the most tokens the answer may have, a positive integer)");
    CHECK(
        core::anthropic_error_body(err) ==
        R"j({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: field required (the most tokens the answer may have, a positive integer)"}})j");
}

TEST_CASE("a bad image media type names the exact block", "[api][messages][decode]") {
    const auto err = decode_error(R"({"model":"m","max_tokens":10,"messages":[
        {"role":"user","content":"look"},
        {"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"Qk0="}}]}]})");
    CHECK(err.param == "messages[1].content[0].source.media_type");
    CHECK(err.message == "messages[1].content[0].source.media_type: expected \"image/jpeg\", \"image/png\", "
                         "\"image/gif\" or \"image/webp\", got \"image/bmp\"");
}

TEST_CASE("malformed JSON is a 400 that says where it breaks", "[api][messages][decode]") {
    const auto err = decode_error("{\n  \"model\": \"m\",,\n  \"max_tokens\": 1\n}");
    CHECK(err.kind == core::error_kind::invalid_request);
    CHECK(err.param.empty());
    CHECK(err.message == "the request body is not valid JSON: syntax error at line 2, column 16 (byte 17)");
}

TEST_CASE("bad requests get the param and message of the golden table", "[api][messages][decode]") {
    struct bad {
        std::string_view name;
        std::string_view body;
    };
    // Each body differs from a good request in one place.
    static constexpr bad table[] = {
        {"max_tokens missing", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"},
        {"max_tokens zero", R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]})"},
        {"max_tokens a string", R"({"model":"m","max_tokens":"1024","messages":[{"role":"user","content":"hi"}]})"},
        {"max_tokens fractional", R"({"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"hi"}]})"},
        {"model missing", R"({"max_tokens":10,"messages":[{"role":"user","content":"hi"}]})"},
        {"model empty", R"({"model":"","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})"},
        {"messages missing", R"({"model":"m","max_tokens":10})"},
        {"messages empty", R"({"model":"m","max_tokens":10,"messages":[]})"},
        {"messages not an array", R"({"model":"m","max_tokens":10,"messages":"hi"})"},
        {"system role in messages",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"system","content":"be nice"}]})"},
        {"unknown role", R"({"model":"m","max_tokens":10,"messages":[{"role":"tool","content":"42"}]})"},
        {"content missing", R"({"model":"m","max_tokens":10,"messages":[{"role":"user"}]})"},
        {"content a number", R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":42}]})"},
        {"block without type",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"text":"hi"}]}]})"},
        {"text block without text",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text"}]}]})"},
        {"unknown block type",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"search_result","source":"x"}]}]})"},
        {"tool_use in a user turn",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]}]})"},
        {"tool_result in an assistant turn",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}]})"},
        {"image in an assistant turn",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]})"},
        {"tool_use without id",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"n","input":{}}]}]})"},
        {"tool_use input a string",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":"{\"a\":1}"}]}]})"},
        {"tool_result without tool_use_id",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","content":"ok"}]}]})"},
        {"tool_result is_error a string",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]}]})"},
        {"tool_result with a tool_use inside",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"tool_use","id":"x","name":"n","input":{}}]}]}]})"},
        {"thinking without text",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"thinking","signature":"s"}]}]})"},
        {"image media type bmp",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"Qk0="}}]}]})"},
        {"image without data",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]}]})"},
        {"image from the Files API",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_01"}}]}]})"},
        {"image source type unknown",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"path","path":"/x.png"}}]}]})"},
        {"PDF document",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]}]})"},
        {"cache_control type persistent",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"persistent"}}]}]})"},
        {"cache_control ttl 10m",
         R"({"model":"m","max_tokens":10,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral","ttl":"10m"}}],"messages":[{"role":"user","content":"hi"}]})"},
        {"system a number", R"({"model":"m","max_tokens":10,"system":7,"messages":[{"role":"user","content":"hi"}]})"},
        {"system with an image block",
         R"({"model":"m","max_tokens":10,"system":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}],"messages":[{"role":"user","content":"hi"}]})"},
        {"server tool web_search",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"news?"}],"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]})"},
        {"tool name with a space",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"get weather","input_schema":{"type":"object"}}]})"},
        {"tool names twice",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a","input_schema":{"type":"object"}},{"name":"a","input_schema":{"type":"object"}}]})"},
        {"tool without input_schema",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a"}]})"},
        {"tool input_schema of type array",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a","input_schema":{"type":"array"}}]})"},
        {"tool_choice names an unknown tool",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"b"}})"},
        {"tool_choice any without tools",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"any"}})"},
        {"tool_choice type required",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"required"}})"},
        {"temperature above 1",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"temperature":1.5})"},
        {"top_p a string",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"top_p":"0.9"})"},
        {"top_k negative", R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"top_k":-1})"},
        {"stop sequence empty",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"stop_sequences":["END",""]})"},
        {"stream a string",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"stream":"true"})"},
        {"thinking budget below 1024",
         R"({"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":512}})"},
        {"thinking budget not below max_tokens",
         R"({"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":4096}})"},
        {"thinking without budget",
         R"({"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled"}})"},
        {"thinking type on",
         R"({"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"on"}})"},
        {"adaptive effort extreme",
         R"({"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"adaptive"},"output_config":{"effort":"extreme"}})"},
        {"output format not json_schema",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"output_config":{"format":{"type":"regex"}}})"},
        {"metadata user_id a number",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":7}})"},
        {"container",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"container":"container_01"})"},
        {"mcp_servers",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"mcp_servers":[{"type":"url","url":"https://mcp.example.com","name":"x"}]})"},
        {"body empty", "  \n"},
        {"body an array", R"([{"model":"m"}])"},
        {"body cut short", R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"})"},
        {"body with trailing garbage",
         R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}]} x)"},
    };
    std::string report;
    for (const auto& [name, body] : table) {
        auto r = api::decode_messages_request(body, {});
        INFO("case: " << name);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == core::error_kind::invalid_request);
        // The message starts with the param it names, since Anthropic's error shape shows only the message.
        if (!r.error().param.empty()) CHECK(r.error().message.rfind(r.error().param + ": ", 0) == 0);
        report += std::string(name) + "\n  body:    " + std::string(body) + "\n  param:   " + r.error().param +
                  "\n  message: " + r.error().message + "\n\n";
    }
    check_golden("bad_requests.txt", report);
}

TEST_CASE("with the interleaved-thinking beta the thinking budget may pass max_tokens", "[api][messages][decode]") {
    constexpr std::string_view body =
        R"({"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"enabled","budget_tokens":8000}})";
    CHECK(decode_error(body).param == "thinking.budget_tokens");
    const auto e = decode_ok(body, {{"anthropic-beta", "interleaved-thinking-2025-05-14"}});
    CHECK(e.reasoning.budget_tokens == 8000u);
}

TEST_CASE("thinking disabled asks for no reasoning, adaptive for an effort", "[api][messages][decode]") {
    auto with = [](std::string_view thinking, std::string_view extra = "") {
        return decode_ok(R"({"model":"m","max_tokens":4096,"messages":[{"role":"user","content":"hi"}],"thinking":)" +
                         std::string(thinking) + std::string(extra) + "}");
    };
    CHECK(with(R"({"type":"disabled"})").reasoning == core::reasoning_options{});
    CHECK(with(R"({"type":"adaptive"})").reasoning.effort == core::reasoning_effort::high);
    CHECK(with(R"({"type":"adaptive"})", R"(,"output_config":{"effort":"low"})").reasoning.effort ==
          core::reasoning_effort::low);
    CHECK(with(R"({"type":"adaptive"})", R"(,"output_config":{"effort":"max"})").reasoning.effort ==
          core::reasoning_effort::max);
    CHECK(with(R"({"type":"adaptive"})", R"(,"output_config":{"effort":"xhigh"})").reasoning.effort ==
          core::reasoning_effort::high);
    const auto budget = with(R"({"type":"enabled","budget_tokens":2048})");
    CHECK(budget.reasoning.budget_tokens == 2048u);
    CHECK_FALSE(budget.reasoning.effort);
}

TEST_CASE("tool_choice maps to the canonical modes", "[api][messages][decode]") {
    auto choice = [](std::string_view c) {
        return decode_ok(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"hi"}],)"
                         R"("tools":[{"name":"a","input_schema":{"type":"object"}}],"tool_choice":)" +
                         std::string(c) + "}");
    };
    CHECK(choice(R"({"type":"auto"})").tool_choice->mode == core::tool_choice::mode::automatic);
    CHECK(choice(R"({"type":"any"})").tool_choice->mode == core::tool_choice::mode::required);
    CHECK(choice(R"({"type":"none"})").tool_choice->mode == core::tool_choice::mode::none);
    CHECK(choice(R"({"type":"tool","name":"a"})").tool_choice == core::tool_choice::force("a"));
    CHECK_FALSE(choice(R"({"type":"auto"})").parallel_tool_calls);
    CHECK(choice(R"({"type":"auto","disable_parallel_tool_use":true})").parallel_tool_calls == false);
    CHECK(choice(R"({"type":"any","disable_parallel_tool_use":false})").parallel_tool_calls == true);
}

TEST_CASE("count_tokens takes the same request without max_tokens", "[api][messages][decode][count_tokens]") {
    const auto body = read_fixture("count_tokens_request.json");
    CHECK(api::decode_messages_request(body, {}).error().param == "max_tokens");
    auto r = api::decode_count_tokens_request(body, claude_code_headers);
    REQUIRE(r);
    CHECK_FALSE(r->sampling.max_output_tokens);
    CHECK(r->reasoning.budget_tokens == 2048u);
    CHECK(r->tools.size() == 1);
    CHECK(r->system[0].cache.has_value());
    CHECK(r->forward_headers.size() == 2);
    SECTION("its other checks still hold") {
        const auto bad = api::decode_count_tokens_request(
            R"({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/tiff","data":"x"}}]}]})",
            {});
        REQUIRE_FALSE(bad);
        CHECK(bad.error().param == "messages[0].content[0].source.media_type");
    }
    SECTION("stream is not a count_tokens option") {
        auto s = api::decode_count_tokens_request(
            R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})", {});
        REQUIRE(s);
        CHECK_FALSE(s->stream);
    }
}
