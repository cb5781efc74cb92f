// Tests plugins/openai/request.hpp: envelope -> Chat Completions request, byte for byte.

#include "openai/request.hpp"

#include "envelopes.hpp"
#include "golden.hpp"

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>

namespace openai = sluice::providers::openai;
using namespace openai_test;

namespace {

openai::options options_from(std::string_view json) { return openai::options::from_json(boost::json::parse(json).as_object()); }

std::string body_of(const core::envelope& e, const openai::options& opt = {}) {
    auto body = openai::encode_body(e, opt);
    if (!body) FAIL("encode_body failed: " << body.error().message);
    return boost::json::serialize(*body);
}

boost::json::object parsed_body(const core::envelope& e, const openai::options& opt = {}) {
    return boost::json::parse(body_of(e, opt)).as_object();
}

core::error refusal_of(const core::envelope& e) {
    auto body = openai::encode_body(e, {});
    REQUIRE_FALSE(body.has_value());
    return body.error();
}

} // namespace

TEST_CASE("a plain chat becomes one leading system message, the turns in order and max_tokens", "[openai][request]") {
    check_golden("request/plain_chat.json", body_of(plain_chat()) + "\n");
}

TEST_CASE("a stream always asks upstream for usage, even when the client did not (WIRE failure 4)",
          "[openai][request]") {
    auto e = plain_chat();
    e.stream = true;
    e.include_usage = false;
    check_golden("request/stream_usage.json", body_of(e) + "\n");
}

TEST_CASE("tool calls, tool results and images keep their order and ids, and reasoning is not sent back",
          "[openai][request]") {
    check_golden("request/tool_round_trip.json", body_of(tool_round_trip()) + "\n");
}

TEST_CASE("the vllm dialect sends top_k, options pick the max-tokens field and the max effort, extras merge",
          "[openai][request]") {
    auto opt = options_from(R"({"dialect":"vllm","max_tokens_field":"max_completion_tokens","max_effort":"xhigh"})");
    check_golden("request/vllm_sampling.json", body_of(vllm_sampling(), opt) + "\n");
}

TEST_CASE("the openai dialect drops top_k, turns a thinking budget into an effort and folds a Responses format",
          "[openai][request]") {
    check_golden("request/openai_budget.json", body_of(openai_budget()) + "\n");
}

TEST_CASE("reasoning effort words: none passes as none, max as the configured word", "[openai][request]") {
    auto e = plain_chat();
    e.reasoning.effort = core::reasoning_effort::none;
    CHECK(parsed_body(e).at("reasoning_effort") == "none");
    e.reasoning.effort = core::reasoning_effort::max;
    CHECK(parsed_body(e).at("reasoning_effort") == "high");
    CHECK(parsed_body(e, options_from(R"({"max_effort":"xhigh"})")).at("reasoning_effort") == "xhigh");
    e.reasoning = {std::nullopt, 0u}; // an explicit zero budget: no thinking
    CHECK(parsed_body(e).at("reasoning_effort") == "none");
}

TEST_CASE("tool_choice and parallel_tool_calls are left out without tools (OpenAI refuses them)", "[openai][request]") {
    auto e = plain_chat();
    e.tool_choice = core::tool_choice{core::tool_choice::mode::required, {}};
    e.parallel_tool_calls = false;
    auto body = parsed_body(e);
    CHECK_FALSE(body.contains("tool_choice"));
    CHECK_FALSE(body.contains("parallel_tool_calls"));
    e.tools = {{"f", "", nullptr, std::nullopt, {}}};
    body = parsed_body(e);
    CHECK(body.at("tool_choice") == "required");
    CHECK(body.at("parallel_tool_calls") == false);
}

TEST_CASE("a user turn of several text parts is sent as a list of parts, one text part as a string",
          "[openai][request]") {
    core::envelope e;
    e.model = "m";
    e.messages = {{core::role::user, {core::text_part{"<reminder/>", {}}, core::text_part{"Go on", {}}}, "ann"}};
    auto body = parsed_body(e);
    CHECK(boost::json::serialize(body.at("messages")) ==
          R"([{"role":"user","content":[{"type":"text","text":"<reminder/>"},{"type":"text","text":"Go on"}],"name":"ann"}])");
}

TEST_CASE("the request goes to /chat/completions with the key as a bearer token and the configured headers",
          "[openai][request]") {
    plugin::provider_config config{"openai-main", "https://api.openai.com/v1", "sk-test", {{"OpenAI-Organization", "org-1"}}, {}};
    auto request = openai::build_request(plain_chat(), config, {});
    REQUIRE(request.has_value());
    CHECK(request->method == "POST");
    CHECK(request->path == "/chat/completions");
    CHECK(request->headers == plugin::header_list{{"Content-Type", "application/json"},
                                                  {"Authorization", "Bearer sk-test"},
                                                  {"OpenAI-Organization", "org-1"}});
    CHECK(request->body + "\n" == read_fixture("request/plain_chat.json"));

    SECTION("an upstream without a key gets no Authorization header") {
        config.api_key.clear();
        auto keyless = openai::build_request(plain_chat(), config, {});
        REQUIRE(keyless.has_value());
        for (const auto& [name, value] : keyless->headers) CHECK(name != "Authorization");
    }
}

TEST_CASE("what Chat Completions cannot express is refused as invalid_request naming the field",
          "[openai][request]") {
    SECTION("another endpoint") {
        auto e = plain_chat();
        e.endpoint = core::endpoint::embeddings;
        auto err = refusal_of(e);
        CHECK(err.kind == core::error_kind::invalid_request);
        CHECK(err.message == "openai: this provider serves chat only, not embeddings");
    }
    SECTION("no messages") {
        core::envelope e;
        e.model = "m";
        CHECK(refusal_of(e).param == "messages");
    }
    SECTION("an image with neither url nor data") {
        core::envelope e;
        e.model = "m";
        e.messages = {{core::role::user, {core::text_part{"look", {}}, core::image_part{}}, {}}};
        auto err = refusal_of(e);
        CHECK(err.param == "messages[0].content[1]");
        CHECK(err.message == "openai: messages[0].content[1]: an image needs a url or data");
    }
    SECTION("a tool result without its call id") {
        core::envelope e;
        e.model = "m";
        e.messages = {{core::role::tool, {core::tool_result_part{"", {}, false, {}}}, {}}};
        CHECK(refusal_of(e).message == "openai: messages[0].content[0]: a tool result needs its call id");
    }
    SECTION("a tool call without a name") {
        core::envelope e;
        e.model = "m";
        e.messages = {core::message::user("x"), {core::role::assistant, {core::tool_call_part{"c", "", "{}", {}}}, {}}};
        CHECK(refusal_of(e).param == "messages[1]");
    }
}

TEST_CASE("an unknown option or value is refused when the provider is configured", "[openai][request]") {
    CHECK_THROWS_WITH(options_from(R"({"dialet":"vllm"})"),
                      "openai: unknown option dialet (known: dialect, max_tokens_field, max_effort)");
    CHECK_THROWS_WITH(options_from(R"({"dialect":"sglang"})"),
                      "openai: option dialect is \"sglang\"; expected openai or vllm");
    CHECK_THROWS_AS(options_from(R"({"max_tokens_field":1})"), std::invalid_argument);
    CHECK(options_from("{}").max_tokens_name() == "max_tokens");
}
