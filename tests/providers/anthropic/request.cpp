#include "request.hpp"

#include "golden.hpp"

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

using namespace sluice;
namespace json = boost::json;
using anthropic_test::check_golden;
using anthropic_test::pretty;

namespace {

core::text_part text(std::string t, std::optional<core::cache_control> cache = {}) { return {std::move(t), cache}; }

core::message msg(core::role r, std::vector<core::content_part> parts) { return {r, std::move(parts), {}}; }

core::tool_call_part call(std::string id, std::string name, std::string arguments) {
    return {std::move(id), std::move(name), std::move(arguments), {}};
}

core::tool_result_part result_of(std::string id, std::string content, bool is_error = false) {
    return {std::move(id), {core::text_part{std::move(content), {}}}, is_error, {}};
}

constexpr std::uint32_t unset = 0; // no explicit thinking budget

constexpr core::cache_control five_minutes{core::cache_control::time_to_live::five_minutes};
constexpr core::cache_control one_hour{core::cache_control::time_to_live::one_hour};

anthropic::request_settings settings() {
    plugin::provider_config config{"anthropic", "https://api.anthropic.com", "sk-ant-test", {}, {}};
    return anthropic::request_settings::from_config(config);
}

json::object body_of(const core::envelope& e, const anthropic::request_settings& s = settings()) {
    auto body = anthropic::encode_body(e, s);
    if (!body) FAIL("encode_body failed: " << body.error().message);
    return std::move(*body);
}

/// The request's wire body equals the golden JSON, both as the indented file and byte for byte.
void check_request_golden(const core::envelope& e, std::string_view name) {
    auto req = anthropic::build_request(e, settings());
    REQUIRE(req);
    const auto parsed = json::parse(req->body);
    check_golden(name, pretty(parsed));
    if (!std::getenv("SLUICE_UPDATE_GOLDEN"))
        CHECK(req->body == json::serialize(json::parse(anthropic_test::read_fixture(name))));
}

core::envelope hello() {
    core::envelope e;
    e.model = "claude-sonnet-4-5";
    e.messages.push_back(core::message::user("Hello"));
    return e;
}

} // namespace

TEST_CASE("a plain conversation encodes as a Messages request", "[providers][anthropic][request]") {
    core::envelope e;
    e.model = "claude-sonnet-4-5";
    e.system = {text("You are terse.")};
    e.messages = {core::message::user("Hello"), core::message::assistant("Hi! How can I help?"),
                  core::message::user("What is 2+2?")};
    e.sampling.max_output_tokens = 256;
    e.sampling.temperature = 0.5;
    e.sampling.top_p = 0.875;
    e.sampling.top_k = 40;
    e.sampling.stop = {"\n\nHuman:"};
    e.stream = true;
    e.user = "user-42";
    check_request_golden(e, "request_basic.json");
}

TEST_CASE("tool calls and results encode as tool_use and merged tool_result turns (WIRE failures 1, 2)",
          "[providers][anthropic][request]") {
    core::envelope e;
    e.model = "claude-sonnet-4-5";
    e.system = {text("You are a weather bot.")};
    json::value schema =
        json::parse(R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})");
    e.tools = {core::tool{"get_weather", "Current weather for a city", schema, {}, {}},
               core::tool{"get_time", "", nullptr, {}, {}}};
    e.parallel_tool_calls = false;
    e.messages = {
        msg(core::role::developer, {text("Use metric units.")}),
        core::message::user("Weather and time in Paris?"),
        msg(core::role::assistant, {text("Let me check."), call("call_1", "get_weather", R"({"city":"Paris"})"),
                                    call("call_2", "get_time", R"({"tz": "Europe/Paris"})")}),
        msg(core::role::tool, {result_of("call_1", "18 C, clear")}),
        msg(core::role::tool, {result_of("call_2", "error: unknown tz", true)}),
        core::message::user("Thanks"),
    };
    e.sampling.max_output_tokens = 1024;
    check_request_golden(e, "request_tools.json");
}

TEST_CASE("thinking, images and cache_control survive the translation (WIRE failure 6)",
          "[providers][anthropic][request]") {
    // Four breakpoints, 1h before 5m, in Anthropic's cache order (tools, system, messages): what
    // the real API accepts.
    core::envelope e;
    e.model = "claude-opus-4-1";
    e.system = {text("Reference: the long document.", one_hour), text("Be precise.")};
    e.reasoning.effort = core::reasoning_effort::high;
    e.sampling.max_output_tokens = 10000;
    e.tools = {core::tool{"describe", "Describe images", json::parse(R"({"type":"object"})"), {}, one_hour}};
    core::image_part png{{}, "iVBORw0KGgo=", "image/png", {}, five_minutes};
    core::image_part url{"https://example.com/cat.jpg", {}, {}, "high", {}};
    core::image_part data_url{"data:image/jpeg;base64,/9j/4AAQ", {}, {}, {}, {}};
    core::tool_result_part described{
        "call_9", {text("done"), core::image_part{{}, "R0lGOD==", "image/gif", {}, {}}}, false, five_minutes};
    e.messages = {
        msg(core::role::user, {text("Describe these."), png, url}),
        msg(core::role::user, {data_url}),
        msg(core::role::assistant,
            {core::reasoning_part{"The user wants two images described.", "sig-abc", false},
             core::reasoning_part{"thought from another model", "", false},
             core::reasoning_part{"opaque-redacted-data", "", true}, call("call_9", "describe", R"({"n": 2})")}),
        msg(core::role::tool, {described}),
    };
    e.metadata = {{"trace", "t-1"}, {"user_id", "u-7"}};
    e.forward_headers = {{"anthropic-beta", "interleaved-thinking-2025-05-14"}};
    e.extras = json::object{{"service_tier", "auto"}};
    check_request_golden(e, "request_thinking_cache.json");
}

TEST_CASE("cache_control stays on text, tool_use and tool-result content blocks (WIRE failure 6)",
          "[providers][anthropic][request]") {
    auto e = hello();
    std::get<core::text_part>(e.messages[0].content[0]).cache = five_minutes;
    core::tool_call_part cached_call = call("call_1", "f", "{}");
    cached_call.cache = one_hour;
    e.messages.push_back(msg(core::role::assistant, {cached_call}));
    e.messages.push_back(
        msg(core::role::tool, {core::tool_result_part{"call_1", {text("r", five_minutes)}, false, {}}}));
    const auto body = body_of(e);
    const auto& turns = body.at("messages").as_array();
    CHECK(json::serialize(turns[0].at("content").at(0).at("cache_control")) == R"({"type":"ephemeral"})");
    CHECK(json::serialize(turns[1].at("content").at(0).at("cache_control")) == R"({"type":"ephemeral","ttl":"1h"})");
    CHECK(json::serialize(turns[2].at("content").at(0).at("content")) ==
          R"([{"type":"text","text":"r","cache_control":{"type":"ephemeral"}}])");
}

TEST_CASE("unparseable tool-call arguments are refused naming the message, never sent as {} (WIRE failure 1)",
          "[providers][anthropic][request]") {
    auto e = hello();
    e.messages.push_back(msg(core::role::assistant, {call("call_1", "get_weather", R"({"city": "Par)")}));
    e.messages.push_back(msg(core::role::tool, {result_of("call_1", "?")}));

    SECTION("cut JSON") {}
    SECTION("JSON that is not an object") {
        std::get<core::tool_call_part>(e.messages[1].content[0]).arguments = "[1,2]";
    }

    auto req = anthropic::build_request(e, settings());
    REQUIRE_FALSE(req);
    CHECK(req.error().kind == core::error_kind::invalid_request);
    CHECK(req.error().param == "messages[1]");
    CHECK_THAT(req.error().message,
               Catch::Contains("messages[1]") && Catch::Contains("call_1") && Catch::Contains("get_weather"));
}

TEST_CASE("empty tool-call arguments are an empty input object", "[providers][anthropic][request]") {
    auto e = hello();
    e.messages.push_back(msg(core::role::assistant, {call("call_1", "ping", "")}));
    const auto body = body_of(e);
    CHECK(json::serialize(body.at("messages").at(1).at("content").at(0).at("input")) == "{}");
}

TEST_CASE("tool results go first in a merged user turn, as Anthropic requires", "[providers][anthropic][request]") {
    auto e = hello();
    e.messages.push_back(msg(core::role::assistant, {call("call_1", "ping", "{}")}));
    e.messages.push_back(core::message::user("also this"));
    e.messages.push_back(msg(core::role::tool, {result_of("call_1", "pong")}));
    const auto body = body_of(e);
    const auto& turns = body.at("messages").as_array();
    REQUIRE(turns.size() == 3);
    const auto& last = turns[2].at("content").as_array();
    REQUIRE(last.size() == 2);
    CHECK(last[0].at("type") == "tool_result");
    CHECK(last[1].at("type") == "text");
}

TEST_CASE("max_tokens comes from the request, else the option, else 4096", "[providers][anthropic][request]") {
    auto e = hello();
    CHECK(body_of(e).at("max_tokens") == 4096);

    plugin::provider_config config{
        "a", "https://api.anthropic.com", "k", {}, json::object{{"default_max_tokens", 1000}}};
    const auto configured = anthropic::request_settings::from_config(config);
    CHECK(body_of(e, configured).at("max_tokens") == 1000);

    e.sampling.max_output_tokens = 77;
    CHECK(body_of(e, configured).at("max_tokens") == 77);

    config.options = json::object{{"default_max_tokens", "lots"}};
    CHECK_THROWS_WITH(anthropic::request_settings::from_config(config), Catch::Contains("default_max_tokens"));
    config.options = json::object{{"default_max_tokens", 0}};
    CHECK_THROWS_AS(anthropic::request_settings::from_config(config), std::invalid_argument);
}

TEST_CASE("reasoning effort becomes a thinking budget by WIRE.md's shares, clamped to Anthropic's range",
          "[providers][anthropic][request]") {
    using E = core::reasoning_effort;
    const auto [effort, explicit_budget, max_tokens, expected] =
        GENERATE(table<std::optional<E>, std::uint32_t, std::uint32_t, std::uint32_t>({
            {E::low, unset, 10000, 2000},
            {E::medium, unset, 10000, 5000},
            {E::high, unset, 10000, 8000},
            {E::max, unset, 10000, 9500},
            {E::low, unset, 4096, 1024},      // 819 is under Anthropic's floor of 1024
            {E::max, unset, 1100, 1045},      // 95 % of 1100
            {std::nullopt, 500, 8000, 1024},  // an explicit budget is clamped too
            {std::nullopt, 9000, 8000, 7999}, // and stays below max_tokens
            {E::low, 3000, 10000, 3000},      // the explicit budget wins over the effort
        }));
    auto e = hello();
    e.reasoning.effort = effort;
    if (explicit_budget != unset) e.reasoning.budget_tokens = explicit_budget;
    e.sampling.max_output_tokens = max_tokens;
    const auto body = body_of(e);
    INFO("max_tokens " << max_tokens);
    REQUIRE(body.contains("thinking"));
    CHECK(body.at("thinking").at("type") == "enabled");
    CHECK(body.at("thinking").at("budget_tokens") == expected);
}

TEST_CASE("no reasoning asked, or effort none, sends no thinking", "[providers][anthropic][request]") {
    auto e = hello();
    CHECK_FALSE(body_of(e).contains("thinking"));
    e.reasoning.effort = core::reasoning_effort::none;
    CHECK_FALSE(body_of(e).contains("thinking"));
}

TEST_CASE("reasoning with max_tokens at or under 1024 is refused on max_tokens", "[providers][anthropic][request]") {
    auto e = hello();
    e.reasoning.effort = core::reasoning_effort::low;
    e.sampling.max_output_tokens = 1024;
    auto body = anthropic::encode_body(e, settings());
    REQUIRE_FALSE(body);
    CHECK(body.error().kind == core::error_kind::invalid_request);
    CHECK(body.error().param == "max_tokens");
}

TEST_CASE("tool_choice maps auto, required, none and a named tool", "[providers][anthropic][request]") {
    using M = decltype(core::tool_choice{}.mode); // the member shares the enum's name
    const auto [mode, expected] = GENERATE(table<M, std::string>({
        {M::automatic, R"({"type":"auto"})"},
        {M::required, R"({"type":"any"})"},
        {M::none, R"({"type":"none"})"},
        {M::named, R"({"type":"tool","name":"get_weather"})"},
    }));
    auto e = hello();
    e.tools = {core::tool{"get_weather", "", nullptr, {}, {}}};
    e.tool_choice = core::tool_choice{mode, mode == M::named ? "get_weather" : ""};
    CHECK(json::serialize(body_of(e).at("tool_choice")) == expected);

    e.parallel_tool_calls = false;
    const auto serial = body_of(e).at("tool_choice").as_object();
    CHECK(serial.contains("disable_parallel_tool_use") == (mode != M::none));
}

TEST_CASE("no tools, no tool_choice", "[providers][anthropic][request]") {
    auto e = hello();
    e.tool_choice = core::tool_choice{core::tool_choice::mode::required, {}};
    const auto body = body_of(e);
    CHECK_FALSE(body.contains("tools"));
    CHECK_FALSE(body.contains("tool_choice"));
}

TEST_CASE("more than one choice cannot be asked of Anthropic", "[providers][anthropic][request]") {
    auto e = hello();
    e.sampling.n = 2;
    auto body = anthropic::encode_body(e, settings());
    REQUIRE_FALSE(body);
    CHECK(body.error().kind == core::error_kind::invalid_request);
    CHECK(body.error().param == "n");
    e.sampling.n = 1;
    CHECK(anthropic::encode_body(e, settings()));
}

TEST_CASE("an image data URL that is not base64 is refused", "[providers][anthropic][request]") {
    auto e = hello();
    e.messages.push_back(msg(core::role::user, {core::image_part{"data:text/plain,hello", {}, {}, {}, {}}}));
    auto body = anthropic::encode_body(e, settings());
    REQUIRE_FALSE(body);
    CHECK(body.error().param == "messages[1]");
}

TEST_CASE("the request carries the key, the API version and the client's beta flags",
          "[providers][anthropic][request]") {
    plugin::provider_config config{"anthropic",
                                   "https://api.anthropic.com",
                                   "sk-ant-test",
                                   {{"anthropic-beta", "prompt-caching-2024-07-31"}, {"x-team", "search"}},
                                   {}};
    auto s = anthropic::request_settings::from_config(config);
    auto e = hello();

    SECTION("defaults") {
        auto req = anthropic::build_request(e, s);
        REQUIRE(req);
        CHECK(req->method == "POST");
        CHECK(req->path == "/v1/messages");
        const plugin::header_list expected{{"content-type", "application/json"},
                                           {"x-api-key", "sk-ant-test"},
                                           {"anthropic-version", "2023-06-01"},
                                           {"anthropic-beta", "prompt-caching-2024-07-31"},
                                           {"x-team", "search"}};
        CHECK(req->headers == expected);
    }
    SECTION("the client's anthropic-version and anthropic-beta are passed on, betas without repeats") {
        e.forward_headers = {{"anthropic-version", "2023-01-01"},
                             {"anthropic-beta", "prompt-caching-2024-07-31, files-api-2025-04-14"},
                             {"anthropic-beta", "context-1m-2025-08-07"},
                             {"anthropic-dangerous-direct-browser-access", "true"}};
        auto req = anthropic::build_request(e, s);
        REQUIRE(req);
        const plugin::header_list expected{
            {"content-type", "application/json"},
            {"x-api-key", "sk-ant-test"},
            {"anthropic-version", "2023-01-01"},
            {"anthropic-beta", "prompt-caching-2024-07-31,files-api-2025-04-14,context-1m-2025-08-07"},
            {"x-team", "search"},
            {"anthropic-dangerous-direct-browser-access", "true"}};
        CHECK(req->headers == expected);
        CHECK(req->body.find("anthropic") == std::string::npos);
    }
    SECTION("the option anthropic_version replaces the default") {
        config.options = json::object{{"anthropic_version", "2024-10-22"}};
        auto req = anthropic::build_request(e, anthropic::request_settings::from_config(config));
        REQUIRE(req);
        CHECK(req->headers[2] == std::pair<std::string, std::string>{"anthropic-version", "2024-10-22"});
    }
}

TEST_CASE("base_url is the host, and one that ends in /v1 is accepted too", "[providers][anthropic][request]") {
    CHECK(anthropic::messages_path("https://api.anthropic.com") == "/v1/messages");
    CHECK(anthropic::messages_path("https://api.anthropic.com/") == "/v1/messages");
    CHECK(anthropic::messages_path("https://proxy.internal/anthropic/v1") == "/messages");
    CHECK(anthropic::messages_path("https://proxy.internal/anthropic/v1/") == "/messages");
}

TEST_CASE("extras reach the body but never replace a field the envelope set", "[providers][anthropic][request]") {
    auto e = hello();
    e.extras = json::object{{"model", "other"}, {"container", "c-1"}};
    const auto body = body_of(e);
    CHECK(body.at("model") == "claude-sonnet-4-5");
    CHECK(body.at("container") == "c-1");
}
