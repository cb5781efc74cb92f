#include "directives.hpp"
#include "request.hpp"
#include "answer.hpp"

#include "support.hpp"

#include <catch2/catch.hpp>

using namespace sluice::mock;
using namespace sluice::mock::test;

TEST_CASE("text without the marker gives the default directives", "[mock]") {
    CHECK(parse_directives("What is the weather in Paris? tools=2") == directives{});
    CHECK(parse_directives("") == directives{});
}

TEST_CASE("every directive after the marker is read", "[mock]") {
    auto d = parse_directives("Weather? mock: tools=2 reasoning=1 cached=40 error=429 cut=3 delay_ms=50 echo=1 "
                              "length=1 chunks=4 gap_ms=10 text=Hi_there,_friend");
    CHECK(d.tools == 2);
    CHECK(d.reasoning);
    CHECK(d.cached == 40);
    CHECK(d.error == 429);
    CHECK(d.cut == 3);
    CHECK(d.delay_ms == 50);
    CHECK(d.echo);
    CHECK(d.length);
    CHECK(d.chunks == 4);
    CHECK(d.gap_ms == 10);
    CHECK(d.text == "Hi there, friend");
}

TEST_CASE("unknown keys, bare words and bad or out-of-range values are ignored", "[mock]") {
    auto d = parse_directives("mock:\ttools=x please colour=red error=200 cut=-1 delay_ms=99999999 tools=65 chunks=0\n"
                              "cached=7");
    directives expected;
    expected.cached = 7;
    CHECK(d == expected);
}

TEST_CASE("an OpenAI request gives its model, stream flags, size and the last user message's directives", "[mock]") {
    SECTION("string content") {
        auto body = openai_chat("hi mock: tools=1", R"(,"stream":true,"stream_options":{"include_usage":true})");
        auto r = read_ok(api::openai, body);
        CHECK(r.model == "gpt-test");
        CHECK(r.stream);
        CHECK(r.include_usage);
        CHECK(r.prompt_tokens == std::int64_t(body.size() / 4));
        CHECK(r.dir.tools == 1);
    }
    SECTION("text parts, and only the last user message counts") {
        auto r = read_ok(api::openai, R"({"model":"m","messages":[
            {"role":"system","content":"mock: error=500"},
            {"role":"user","content":"mock: error=400"},
            {"role":"assistant","content":"ok"},
            {"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"look mock: cached=12"}]}]})");
        CHECK(r.dir.cached == 12);
        CHECK(r.dir.error == 0);
        CHECK_FALSE(r.stream);
    }
    SECTION("tool results after the directive message end the tool loop, other directives stay") {
        auto r = read_ok(api::openai, R"({"model":"m","messages":[
            {"role":"user","content":"mock: tools=2 cached=5"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_0","content":"sunny"}]})");
        CHECK(r.dir.tools == 0);
        CHECK(r.after_tool_result);
        CHECK(r.dir.cached == 5);
    }
}

TEST_CASE("an Anthropic request reads text blocks and treats tool_result turns as the end of the tool loop", "[mock]") {
    SECTION("text blocks") {
        auto r = read_ok(api::anthropic, R"({"model":"c","max_tokens":10,"stream":true,"messages":[
            {"role":"user","content":[{"type":"text","text":"hello","cache_control":{"type":"ephemeral"}},{"type":"text","text":"mock: reasoning=1"}]}]})");
        CHECK(r.model == "c");
        CHECK(r.stream);
        CHECK_FALSE(r.include_usage);
        CHECK(r.dir.reasoning);
    }
    SECTION("a later turn of tool results only") {
        auto r = read_ok(api::anthropic, R"({"model":"c","max_tokens":10,"messages":[
            {"role":"user","content":"mock: tools=1"},
            {"role":"assistant","content":[{"type":"tool_use","id":"toolu_0","name":"get_weather","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_0","content":"sunny"}]}]})");
        CHECK(r.dir.tools == 0);
        CHECK(r.after_tool_result);
    }
    SECTION("text beside the tool results is a new instruction") {
        auto r = read_ok(api::anthropic, R"({"model":"c","max_tokens":10,"messages":[
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_0","content":"sunny"},{"type":"text","text":"mock: tools=1"}]}]})");
        CHECK(r.dir.tools == 1);
    }
}

TEST_CASE("requests the provider would refuse are refused with its message", "[mock]") {
    auto error_of = [](api kind, std::string_view body) { return std::get<request_error>(read_request(kind, body)); };
    CHECK(error_of(api::openai, "{nope").message.starts_with("We could not parse the JSON body"));
    CHECK(error_of(api::anthropic, "[1,2]").status == 400);
    CHECK(error_of(api::openai, R"({"messages":[]})").message == "you must provide a model parameter");
    auto missing = error_of(api::openai, R"({"model":"m"})");
    CHECK(missing.param == "messages");
    CHECK(missing.code == "missing_required_parameter");
    CHECK(error_of(api::anthropic, R"({"model":"m","messages":[]})").message == "max_tokens: Field required");
    CHECK(error_of(api::anthropic, R"({"model":"m","max_tokens":"9","messages":[]})").message ==
          "max_tokens: Input should be a valid integer");
    CHECK(std::holds_alternative<mock_request>(read_request(api::openai, R"({"model":"m","messages":[]})")));
}

TEST_CASE("the echo text holds the lower-case headers and the body exactly as received", "[mock]") {
    std::string body = R"({"model":"m", "messages":[{"role":"user","content":"a \"q\""}]})";
    auto text = echo_text({{"host", "x"}, {"anthropic-beta", "a"}, {"anthropic-beta", "b"}, {"x-q", "say \"hi\""}}, body);
    CHECK(text == R"({"headers":{"host":"x","anthropic-beta":"a, b","x-q":"say \"hi\""},"body":)" + body + "}");
    auto v = json(text);
    CHECK(v.at("body").at("messages").at(0).at("content").as_string() == "a \"q\"");
}

TEST_CASE("text is cut into at most N pieces, never inside a UTF-8 character", "[mock]") {
    CHECK(even_cuts("abcdefgh", 4) == std::vector<std::uint32_t>{0, 2, 4, 6, 8});
    CHECK(even_cuts("abc", 8) == std::vector<std::uint32_t>{0, 1, 2, 3});
    CHECK(even_cuts("", 8) == std::vector<std::uint32_t>{0});
    std::string s = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC!"; // héllo wörld €!
    auto cuts = even_cuts(s, 7);
    for (auto c : cuts)
        if (c < s.size()) CHECK((static_cast<unsigned char>(s[c]) & 0xC0) != 0x80);
    CHECK(cuts.back() == s.size());
    CHECK(filler_text(300).size() == 300);
}

TEST_CASE("the plan counts pieces as completion tokens and never reports fewer prompt tokens than cached", "[mock]") {
    mock_options opts;
    opts.chunks = 4;
    opts.text = "abcdefgh";
    SECTION("text") {
        auto p = make_answer(read_ok(api::openai, openai_chat("hi")), opts, "id", 1);
        REQUIRE(p.blocks.size() == 1);
        CHECK(p.blocks[0].pieces() == 4);
        CHECK(p.usage.completion == 4);
        CHECK(p.usage.reasoning == 0);
        CHECK(p.finish == finish_kind::stop);
    }
    SECTION("reasoning, tools and a large cache") {
        auto p = make_answer(read_ok(api::openai, openai_chat("mock: reasoning=1 tools=3 cached=5000")), opts, "id", 1);
        REQUIRE(p.blocks.size() == 4);
        CHECK(p.blocks[0].kind == block_kind::reasoning);
        CHECK(p.blocks[3].id == "call_2");
        CHECK(p.usage.reasoning == 4);
        CHECK(p.usage.completion == 4 + 3 * 5);
        CHECK(p.usage.prompt == 5000);
        CHECK(p.usage.cached == 5000);
        CHECK(p.finish == finish_kind::tool_calls);
    }
    SECTION("per-request chunks, text beside tools, length") {
        auto p = make_answer(read_ok(api::anthropic, anthropic_messages("mock: chunks=2 text=ab_cd tools=1 length=1 gap_ms=3")),
                             opts, "id", 1);
        REQUIRE(p.blocks.size() == 2);
        CHECK(p.blocks[0].text == "ab cd");
        CHECK(p.blocks[0].pieces() == 2);
        CHECK(p.blocks[1].id == "toolu_0");
        CHECK(p.finish == finish_kind::length);
        CHECK(p.gap_ms == 3);
    }
    SECTION("echo replaces the text") {
        auto p = make_answer(read_ok(api::openai, openai_chat("mock: echo=1")), opts, "id", 1, std::string("{}"));
        CHECK(p.blocks.at(0).text == "{}");
    }
}
