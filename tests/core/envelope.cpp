#include <sluice/core/envelope.hpp>

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

using namespace sluice::core;

namespace {

// An agent turn as Claude Code sends it: cached system prompt, a tool, a finished tool round trip.
envelope agent_turn() {
    envelope e;
    e.api = front_api::messages;
    e.model = "claude-sonnet";
    e.system.push_back({"You are a coding agent.", cache_control{cache_control::time_to_live::one_hour}});
    e.tools.push_back({"read_file", "Reads a file",
                       boost::json::parse(R"({"type":"object","properties":{"path":{"type":"string"}}})"), {},
                       cache_control{}});
    e.tool_choice = tool_choice{tool_choice::mode::automatic, {}};
    e.messages.push_back(message::user("Open main.cpp"));
    e.messages.push_back({role::assistant,
                          {reasoning_part{"I should read it.", "sig-1", false},
                           tool_call_part{"toolu_1", "read_file", R"({"path":"main.cpp"})", {}}},
                          {}});
    e.messages.push_back({role::user,
                          {tool_result_part{"toolu_1", {text_part{"int main() {}", {}}}, false, {}}},
                          {}});
    e.sampling.max_output_tokens = 4096;
    e.reasoning.budget_tokens = 2048;
    e.stream = true;
    return e;
}

} // namespace

TEST_CASE("an envelope holds a whole agent turn and compares by value", "[core][envelope]") {
    envelope a = agent_turn();
    envelope b = a;
    CHECK(a == b);

    REQUIRE(a.messages.size() == 3);
    CHECK(has_tool_calls(a.messages[1]));
    CHECK_FALSE(has_tool_calls(a.messages[0]));
    const auto& result = std::get<tool_result_part>(a.messages[2].content[0]);
    CHECK(result.call_id == "toolu_1");
    CHECK(std::get<text_part>(result.content[0]).text == "int main() {}");
    CHECK(a.system[0].cache->ttl == cache_control::time_to_live::one_hour);
    CHECK(a.tools[0].input_schema.at("type") == "object");

    SECTION("a change anywhere is seen") {
        std::get<tool_call_part>(b.messages[1].content[1]).arguments = "{}";
        CHECK(a != b);
    }
    SECTION("provider extras are part of the value") {
        b.extras["top_a"] = 0.2;
        CHECK(a != b);
    }
}

TEST_CASE("unset options stay unset by default", "[core][envelope]") {
    envelope e;
    CHECK(e.endpoint == endpoint::chat);
    CHECK_FALSE(e.sampling.temperature);
    CHECK_FALSE(e.sampling.max_output_tokens);
    CHECK(e.sampling.stop.empty());
    CHECK_FALSE(e.tool_choice);
    CHECK(e.response_format.is_null());
    CHECK(e.extras.empty());
    CHECK_FALSE(e.stream);
    CHECK_FALSE(e.include_usage);
}

TEST_CASE("text_of joins the text parts and skips the rest", "[core][envelope]") {
    std::vector<content_part> parts{text_part{"Hello, ", {}}, image_part{"https://x/y.png", {}, {}, {}, {}},
                                    text_part{"world", {}}};
    CHECK(text_of(parts) == "Hello, world");
}

TEST_CASE("system_text joins system parts with a blank line", "[core][envelope]") {
    envelope e;
    e.system = {{"one", {}}, {"two", {}}};
    CHECK(e.system_text() == "one\n\ntwo");
}

TEST_CASE("an inline image becomes a data URL and a linked one keeps its URL", "[core][envelope]") {
    image_part inline_image{{}, "iVBORw0KGgo=", "image/png", {}, {}};
    CHECK(inline_image.is_inline());
    CHECK(inline_image.data_url() == "data:image/png;base64,iVBORw0KGgo=");
    image_part linked{"https://example.com/cat.jpg", {}, {}, "low", {}};
    CHECK_FALSE(linked.is_inline());
    CHECK(linked.data_url() == "https://example.com/cat.jpg");
}

TEST_CASE("the reasoning budget comes from the explicit budget or a share of the output limit", "[core][envelope]") {
    CHECK(reasoning_budget({reasoning_effort::high, 1234}, 10000) == 1234u);
    CHECK(reasoning_budget({reasoning_effort::low, {}}, 10000) == 2000u);
    CHECK(reasoning_budget({reasoning_effort::medium, {}}, 10000) == 5000u);
    CHECK(reasoning_budget({reasoning_effort::high, {}}, 10000) == 8000u);
    CHECK(reasoning_budget({reasoning_effort::max, {}}, 10000) == 9500u);
    CHECK_FALSE(reasoning_budget({reasoning_effort::none, {}}, 10000));
    CHECK_FALSE(reasoning_budget({}, 10000));
}

TEST_CASE("a thinking budget maps back to the nearest effort", "[core][envelope]") {
    CHECK(effort_for_budget(0, 10000) == reasoning_effort::none);
    CHECK(effort_for_budget(2000, 10000) == reasoning_effort::low);
    CHECK(effort_for_budget(5000, 10000) == reasoning_effort::medium);
    CHECK(effort_for_budget(8000, 10000) == reasoning_effort::high);
    CHECK(effort_for_budget(9500, 10000) == reasoning_effort::max);
    CHECK(effort_for_budget(20000, 10000) == reasoning_effort::max);
    for (auto e : {reasoning_effort::low, reasoning_effort::medium, reasoning_effort::high, reasoning_effort::max})
        CHECK(effort_for_budget(*reasoning_budget({e, {}}, 32000), 32000) == e);
}

TEST_CASE("enumerations round-trip through their wire names", "[core][envelope]") {
    for (auto a : {front_api::chat_completions, front_api::responses, front_api::messages, front_api::internal})
        CHECK(front_api_from_string(to_string(a)) == a);
    for (auto r : {role::system, role::developer, role::user, role::assistant, role::tool})
        CHECK(role_from_string(to_string(r)) == r);
    for (auto e : {reasoning_effort::none, reasoning_effort::low, reasoning_effort::max})
        CHECK(reasoning_effort_from_string(to_string(e)) == e);
    CHECK(ttl_from_string("1h") == cache_control::time_to_live::one_hour);
    CHECK(to_string(cache_control::time_to_live::five_minutes) == "5m");
    CHECK_FALSE(role_from_string("narrator"));
    CHECK_FALSE(ttl_from_string("2h"));
}

TEST_CASE("tool_choice names a tool to force", "[core][envelope]") {
    auto c = tool_choice::force("read_file");
    CHECK(c.mode == tool_choice::mode::named);
    CHECK(c.name == "read_file");
}
