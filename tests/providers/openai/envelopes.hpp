#ifndef SLUICE_TESTS_PROVIDERS_OPENAI_ENVELOPES_HPP
#define SLUICE_TESTS_PROVIDERS_OPENAI_ENVELOPES_HPP

// The canonical requests behind the request golden files, shared by the direct tests and the
// test that goes through the built plugin.

#include <sluice/core/envelope.hpp>

#include <boost/json/parse.hpp>

namespace openai_test {

using namespace sluice;

/// Two system parts, three turns, a temperature and an output limit.
inline core::envelope plain_chat() {
    core::envelope e;
    e.model = "gpt-4o-mini";
    e.system = {{"You are terse.", {}}, {"Answer in English.", {}}};
    e.messages = {core::message::user("Hi"), core::message::assistant("Hello!"),
                  core::message::user("What is 2+2?")};
    e.sampling.temperature = 0.2;
    e.sampling.max_output_tokens = 256;
    return e;
}

/// An Anthropic-shaped conversation: images, reasoning, parallel tool calls, tool results
/// inside a user turn, an error result with an image.
inline core::envelope tool_round_trip() {
    core::envelope e;
    e.api = core::front_api::messages;
    e.model = "gpt-4.1";
    e.tools = {
        {"get_weather", "Current weather for a city",
         boost::json::parse(R"({"type":"object","properties":{"city":{"type":"string"},"day":{"type":"string"}},"required":["city"]})"),
         true, {}},
        {"get_time", "", nullptr, std::nullopt, {}},
    };
    e.tool_choice = core::tool_choice::force("get_weather");
    e.parallel_tool_calls = true;

    core::image_part by_url{"https://example.com/paris.jpg", "", "", "high", {}};
    core::image_part inline_png{"", "iVBORw0KGgo=", "image/png", "", {}};
    e.messages.push_back({core::role::user,
                          {core::text_part{"Weather and time in Paris?", {}}, by_url, inline_png},
                          {}});
    e.messages.push_back({core::role::assistant,
                          {core::reasoning_part{"Two lookups; run them in parallel.", "sig-abc", false},
                           core::text_part{"Let me check.", {}},
                           core::tool_call_part{"call_1", "get_weather", R"({"city":"Paris"})", {}},
                           core::tool_call_part{"call_2", "get_time", "", {}}},
                          {}});
    e.messages.push_back({core::role::user,
                          {core::tool_result_part{"call_1", {core::text_part{"18\u00b0C, cloudy", {}}}, false, {}},
                           core::tool_result_part{"call_2", {core::text_part{"14:05", {}}}, false, {}},
                           core::text_part{"Thanks. And tomorrow?", {}}},
                          {}});
    e.messages.push_back({core::role::assistant,
                          {core::tool_call_part{"call_3", "get_weather", R"({"city":"Paris","day":"tomorrow"})", {}}},
                          {}});
    e.messages.push_back({core::role::tool,
                          {core::tool_result_part{"call_3",
                                                  {core::text_part{"forecast service down; last chart:", {}},
                                                   core::image_part{"", "R0lGODlh", "image/gif", "", {}}},
                                                  true, {}}},
                          {}});
    return e;
}

/// Every sampling knob, for a vLLM upstream, streamed, with extras the catalog let through.
inline core::envelope vllm_sampling() {
    core::envelope e;
    e.model = "Qwen/Qwen3-8B";
    e.messages = {core::message::user("Write a haiku about rivers.")};
    e.sampling.temperature = 0.7;
    e.sampling.top_p = 0.95;
    e.sampling.top_k = 20;
    e.sampling.max_output_tokens = 512;
    e.sampling.stop = {"\n\n\n", "###"};
    e.sampling.seed = -7;
    e.sampling.n = 1;
    e.sampling.presence_penalty = 0.5;
    e.sampling.frequency_penalty = 0.25;
    e.reasoning.effort = core::reasoning_effort::max;
    e.response_format = boost::json::parse(
        R"({"type":"json_schema","json_schema":{"name":"haiku","schema":{"type":"object","properties":{"lines":{"type":"array"}}},"strict":true}})");
    e.prompt_cache_key = "tenant-7";
    e.prompt_cache_retention = "24h";
    e.user = "u-42";
    e.metadata = {{"trace", "abc"}};
    e.stream = true;
    e.include_usage = true;
    e.extras = boost::json::parse(R"({"repetition_penalty":1.05,"chat_template_kwargs":{"enable_thinking":true},"stream":false})")
                   .as_object();
    return e;
}

/// OpenAI proper: top_k has no place, a thinking budget becomes an effort, and a Responses-API
/// response_format is folded into the Chat Completions shape.
inline core::envelope openai_budget() {
    core::envelope e;
    e.api = core::front_api::responses;
    e.model = "o4-mini";
    e.messages = {core::message::user("Prove that sqrt(2) is irrational.")};
    e.sampling.top_k = 40;
    e.sampling.max_output_tokens = 10000;
    e.reasoning.budget_tokens = 8000;
    e.response_format =
        boost::json::parse(R"({"type":"json_schema","name":"proof","schema":{"type":"object"},"strict":true})");
    return e;
}

} // namespace openai_test

#endif
