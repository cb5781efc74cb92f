// The Chat Completions codec against the openai provider, which speaks the same format in the
// other direction: a request the provider builds decodes back to the envelope it came from, and
// the bodies and streams the codec writes decode, through the provider, back to the same answer.

#include <sluice/api/chat_completions.hpp>

#include "chat_completions_golden.hpp"

#include "openai/request.hpp"
#include "openai/response.hpp"
#include "openai/stream.hpp"

#include <sluice/core/aggregate.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace chat_test;
namespace openai = sluice::providers::openai;

namespace {

openai::options options(std::string_view json_text) {
    return openai::options::from_json(json::parse(json_text).as_object());
}

/// Everything both directions of the format can say, and nothing only one of them can: one
/// system part (the provider joins several), no metadata (it is not sent), no reasoning parts in
/// history (not sent back), no developer role (sent as system).
core::envelope overlap() {
    core::envelope e;
    e.model = "gpt-4.1";
    e.system = {{"You are terse.", {}}};
    e.messages.push_back({core::role::user,
                          {core::text_part{"Weather and time in Paris?", {}},
                           core::image_part{"https://example.com/paris.jpg", "", "", "high", {}},
                           core::image_part{"", "iVBORw0KGgo=", "image/png", "", {}}},
                          "ana"});
    e.messages.push_back({core::role::assistant,
                          {core::text_part{"Let me check.", {}},
                           core::tool_call_part{"call_1", "get_weather", R"({"city":"Paris"})", {}},
                           core::tool_call_part{"call_2", "get_time", "{}", {}}},
                          {}});
    auto result = [](std::string id, std::string text) {
        return core::message{core::role::tool,
                             {core::tool_result_part{std::move(id), {core::text_part{std::move(text), {}}}, false, {}}},
                             {}};
    };
    e.messages.push_back(result("call_1", "18\u00b0C"));
    e.messages.push_back(result("call_2", "14:05"));
    e.messages.push_back(core::message::assistant("18\u00b0C at 14:05."));
    e.messages.push_back({core::role::system, {core::text_part{"Now answer in French.", {}}}, {}});
    e.messages.push_back(core::message::user("Et demain ?"));
    e.tools = {{"get_weather", "Current weather for a city",
                json::parse(R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"), true,
                {}},
               {"get_time", "", nullptr, std::nullopt, {}}};
    e.tool_choice = core::tool_choice::force("get_weather");
    e.parallel_tool_calls = true;
    e.sampling.temperature = 0.2;
    e.sampling.top_p = 0.9;
    e.sampling.top_k = 40;
    e.sampling.max_output_tokens = 256;
    e.sampling.stop = {"###", "\n\n"};
    e.sampling.seed = -7;
    e.sampling.n = 1;
    e.sampling.presence_penalty = 0.1;
    e.sampling.frequency_penalty = -0.3;
    e.reasoning.effort = core::reasoning_effort::max;
    e.response_format = json::parse(R"({"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"}}})");
    e.prompt_cache_key = "tenant-7";
    e.prompt_cache_retention = "24h";
    e.user = "u-42";
    e.stream = true;
    e.include_usage = true;
    e.extras =
        json::parse(R"({"repetition_penalty":1.05,"chat_template_kwargs":{"enable_thinking":true}})").as_object();
    return e;
}

/// The answer as both directions can carry it: no reasoning signatures (chat has no field for
/// them) and tool arguments never empty (the codec sends "{}").
core::message comparable(core::message m) {
    for (auto& p : m.content) {
        if (auto* r = std::get_if<core::reasoning_part>(&p)) r->signature.clear();
        if (auto* c = std::get_if<core::tool_call_part>(&p); c && c->arguments.empty()) c->arguments = "{}";
    }
    return m;
}

std::vector<std::vector<core::event>> answers() {
    using core::block_stop;
    using core::message_start;
    using core::message_stop;
    return {
        {message_start{"up", "m"}, core::text_start(0), core::text_delta(0, "Hello, "), core::text_delta(0, "world"),
         block_stop{0}, core::usage{10, 2, 0, 0, 0}, message_stop{core::finish_reason::stop, {}}},
        {message_start{"up", "m"}, core::reasoning_start(0), core::reasoning_delta(0, "Think."),
         core::signature_delta(0, "sig"), block_stop{0}, core::text_start(1), core::text_delta(1, "Done."),
         block_stop{1}, core::usage{10, 30, 90, 0, 20}, message_stop{core::finish_reason::length, {}}},
        {message_start{"up", "m"}, core::text_start(0), core::text_delta(0, "Checking."), block_stop{0},
         core::tool_call_start(1, "call_a", "get_weather"), core::tool_call_start(2, "call_b", "get_time"),
         core::arguments_delta(1, R"({"city":)"), core::arguments_delta(2, "{}"),
         core::arguments_delta(1, R"("Oslo"})"),
         block_stop{1}, block_stop{2}, core::usage{40, 12, 0, 0, 0}, message_stop{core::finish_reason::tool_calls, {}}},
        {message_start{"up", "m"}, core::tool_call_start(0, "call_z", "noop"), block_stop{0},
         message_stop{core::finish_reason::stop, {}}},
    };
}

void check_same_answer(const core::response_aggregate& back, const core::response_aggregate& original) {
    REQUIRE(back.complete());
    CHECK(comparable(back.message()) == comparable(original.message()));
    CHECK(back.finish() == openai::settle_finish(*original.finish(), core::has_tool_calls(original.message())));
    // OpenAI's usage has no cache-write class: those tokens come back as plain input.
    CHECK(back.usage().prompt() == original.usage().prompt());
    CHECK(back.usage().cache_read == original.usage().cache_read);
    CHECK(back.usage().output == original.usage().output);
    CHECK(back.usage().reasoning == original.usage().reasoning);
}

} // namespace

TEST_CASE("a request the openai provider builds decodes back to the envelope it came from",
          "[api][chat][round-trip]") {
    const auto opt = options(R"({"dialect":"vllm","max_tokens_field":"max_completion_tokens","max_effort":"xhigh"})");
    const core::envelope original = overlap();
    auto body = openai::encode_body(original, opt);
    REQUIRE(body);
    auto back = api::decode_chat_completions_request(json::serialize(*body), {});
    if (!back) FAIL("refused: " << back.error().param << ": " << back.error().message);
    INFO("sent: " << json::serialize(*body));
    CHECK(render(*back) == render(original));
    CHECK(*back == original);

    SECTION("and with the plain max_tokens field") {
        auto plain = openai::encode_body(original, options(R"({"dialect":"vllm","max_effort":"xhigh"})"));
        REQUIRE(plain);
        auto again = api::decode_chat_completions_request(json::serialize(*plain), {});
        REQUIRE(again);
        CHECK(*again == original);
    }
}

TEST_CASE("a streamed answer decodes through the openai provider back to the same answer",
          "[api][chat][round-trip]") {
    for (const auto& es : answers()) {
        const auto original = core::response_aggregate::fold(es);
        api::chat_completions_stream_encoder encoder({"chatcmpl-rt", "m", 1, true});
        std::vector<api::sse_frame> frames;
        for (const auto& e : es) encoder.add(e, frames);
        const std::string bytes = wire(frames);
        INFO("stream:\n" << bytes);

        openai::chat_stream_decoder decoder("m");
        std::vector<core::event> decoded;
        decoder.feed(bytes, decoded);
        decoder.finish(decoded);
        check_same_answer(core::response_aggregate::fold(decoded), original);
    }
}

TEST_CASE("a body decodes through the openai provider back to the same answer", "[api][chat][round-trip]") {
    for (const auto& es : answers()) {
        const auto original = core::response_aggregate::fold(es);
        const std::string body = api::encode_chat_completions_body(original, {"chatcmpl-rt", "m", 1, false});
        INFO("body: " << body);
        auto decoded = openai::decode_response(body);
        if (!decoded) FAIL("refused: " << decoded.error().message);
        check_same_answer(core::response_aggregate::fold(*decoded), original);
    }
}
