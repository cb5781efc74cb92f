// Tests include/sluice/api/chat_completions_decode.hpp: request bodies -> envelopes, and every
// refusal naming its exact parameter.

#include <sluice/api/chat_completions.hpp>

#include "chat_completions_golden.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace chat_test;

namespace {

core::result<core::envelope> decode(std::string_view body) { return api::decode_chat_completions_request(body, {}); }

/// A valid request with `fields` added at the top level.
std::string with(std::string_view fields) {
    return R"({"model":"m","messages":[{"role":"user","content":"hi"}],)" + std::string(fields) + "}";
}

/// A request whose messages are `messages`.
std::string conversation(std::string_view messages) {
    return R"({"model":"m","messages":)" + std::string(messages) + "}";
}

struct bad_request {
    std::string body;
    std::string param;
    std::string message;
};

} // namespace

TEST_CASE("request bodies decode into the envelopes of the golden files", "[api][chat][decode]") {
    for (std::string_view name : {"minimal", "system_developer", "multimodal", "tool_round_trip", "every_option",
                                  "refusal_and_defaults", "sdk_stream_tools"}) {
        INFO("fixture decode/" << name);
        auto env = decode(read_fixture("decode/" + std::string(name) + ".request.json"));
        if (!env) FAIL("refused: " << env.error().param << ": " << env.error().message);
        check_golden("decode/" + std::string(name) + ".envelope.json", render(*env));
    }
}

TEST_CASE("leading system and developer messages become the system parts, later ones stay in place",
          "[api][chat][decode]") {
    auto env = decode(read_fixture("decode/system_developer.request.json"));
    REQUIRE(env);
    REQUIRE(env->system.size() == 3);
    CHECK(env->system[2].cache == core::cache_control{core::cache_control::time_to_live::one_hour});
    REQUIRE(env->messages.size() == 5);
    CHECK(env->messages[2].role == core::role::developer);
    CHECK(env->messages[3].role == core::role::system);
    CHECK(env->messages[0].name == "ana");
}

TEST_CASE("a data URL image is split into media type and base64 data", "[api][chat][decode]") {
    auto env = decode(conversation(
        R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/webp;base64,UklGRg=="}}]}])"));
    REQUIRE(env);
    const auto& img = std::get<core::image_part>(env->messages[0].content[0]);
    CHECK(img.url.empty());
    CHECK(img.media_type == "image/webp");
    CHECK(img.data == "UklGRg==");
    CHECK(img.data_url() == "data:image/webp;base64,UklGRg==");
}

TEST_CASE("max_completion_tokens wins over max_tokens whatever their order", "[api][chat][decode]") {
    auto a = decode(with(R"("max_tokens":100,"max_completion_tokens":50)"));
    auto b = decode(with(R"("max_completion_tokens":50,"max_tokens":100)"));
    auto c = decode(with(R"("max_tokens":100)"));
    REQUIRE((a && b && c));
    CHECK(a->sampling.max_output_tokens == 50u);
    CHECK(b->sampling.max_output_tokens == 50u);
    CHECK(c->sampling.max_output_tokens == 100u);
}

TEST_CASE("reasoning_effort maps OpenAI's six words onto the canonical five", "[api][chat][decode]") {
    using r = core::reasoning_effort;
    const std::vector<std::pair<std::string_view, r>> table{{"none", r::none},     {"minimal", r::low},
                                                            {"low", r::low},       {"medium", r::medium},
                                                            {"high", r::high},     {"xhigh", r::max},
                                                            {"max", r::max}};
    for (const auto& [word, effort] : table) {
        INFO(word);
        auto env = decode(with(R"("reasoning_effort":")" + std::string(word) + "\""));
        REQUIRE(env);
        CHECK(env->reasoning.effort == effort);
    }
}

TEST_CASE("include_usage counts only for streams, and unknown fields land in extras without nulls",
          "[api][chat][decode]") {
    auto plain = decode(with(R"("stream_options":{"include_usage":true},"vendor_knob":{"a":1},"other":null)"));
    REQUIRE(plain);
    CHECK_FALSE(plain->stream);
    CHECK_FALSE(plain->include_usage);
    CHECK(plain->extras.size() == 1);
    CHECK(plain->extras.at("vendor_knob").at("a") == 1);

    auto streamed = decode(with(R"("stream_options":{"include_usage":true},"stream":true)"));
    REQUIRE(streamed);
    CHECK(streamed->include_usage);
}

TEST_CASE("malformed JSON is refused with the line and column where it breaks", "[api][chat][decode]") {
    auto e = decode("{\n  \"model\": \"m\",\n  \"messages\": [1 2]\n}");
    REQUIRE_FALSE(e);
    CHECK(e.error().kind == core::error_kind::invalid_request);
    CHECK(e.error().param.empty());
    CHECK(e.error().message == "the request body is not valid JSON: syntax error at line 3, column 18 (byte 35)");
}

TEST_CASE("whitespace around the body is fine, as curl and SDKs send it", "[api][chat][decode]") {
    CHECK(decode("\n  " + with(R"("stream":false)") + "\r\n\t "));
}

TEST_CASE("every bad input is a 400 that names the exact parameter", "[api][chat][decode]") {
    const std::string deep = R"({"model":"m","messages":[{"role":"user","content":"x"}],"x":)" + std::string(200, '[') +
                             std::string(200, ']') + "}";
    const std::vector<bad_request> table{
        // the body
        {"", "", "the request body is empty; expected a JSON object"},
        {R"({"model":"m",)", "", "the request body is not valid JSON: incomplete JSON at line 1, column 14 (byte 13)"},
        {R"({"model": "m", "messages": [})", "",
         "the request body is not valid JSON: syntax error at line 1, column 29 (byte 28)"},
        {R"({"model":"m","messages":[{"role":"user","content":"hi"}]} trailing)", "",
         "the request body is not valid JSON: unexpected text after the JSON value at line 1, column 59 (byte 58)"},
        {"{\"model\":\"m\xff\"}", "", "the request body is not valid JSON: syntax error at line 1, column 12 (byte 11)"},
        {deep, "", "the request body is not valid JSON: too deep at line 1, column 188 (byte 187)"},
        {"[1,2]", "", "the request body must be a JSON object, got array"},
        // model and messages
        {R"({"messages":[{"role":"user","content":"x"}]})", "model", "model is required: name the model to use"},
        {R"({"model":5,"messages":[]})", "model", "model must be a string, got integer"},
        {R"({"model":"","messages":[]})", "model", "model must not be empty"},
        {R"({"model":"m"})", "messages", "messages is required: a non-empty array of messages"},
        {conversation("{}"), "messages", "messages must be an array, got object"},
        {conversation("[]"), "messages", "messages must not be empty: send at least one message"},
        {conversation(R"(["hi"])"), "messages[0]", "messages[0] must be an object, got string"},
        {conversation(R"([{"content":"x"}])"), "messages[0].role", "messages[0].role is required"},
        {conversation(R"([{"role":"bot","content":"x"}])"), "messages[0].role",
         R"(messages[0].role must be one of system, developer, user, assistant, tool, got "bot")"},
        {conversation(R"([{"role":"function","name":"f","content":"x"}])"), "messages[0].role",
         R"(messages[0].role: the legacy role "function" is not supported by this gateway; send tool messages)"},
        {conversation(R"([{"role":"user","content":"x","name":5}])"), "messages[0].name",
         "messages[0].name must be a string, got integer"},
        {conversation(R"([{"role":"user","content":"x","cache_control":{"type":"ephemeral","ttl":"10m"}}])"),
         "messages[0].cache_control.ttl", R"(messages[0].cache_control.ttl must be one of 5m, 1h, got "10m")"},
        // user content
        {conversation(R"([{"role":"user"}])"), "messages[0].content", "messages[0].content is required"},
        {conversation(R"([{"role":"user","content":5}])"), "messages[0].content",
         "messages[0].content must be a string or an array of content parts, got integer"},
        {conversation(R"([{"role":"user","content":[]}])"), "messages[0].content",
         "messages[0].content must not be an empty array"},
        {conversation(R"([{"role":"user","content":[{"text":"x"}]}])"), "messages[0].content[0].type",
         "messages[0].content[0].type is required"},
        {conversation(R"([{"role":"user","content":[{"type":"video"}]}])"), "messages[0].content[0].type",
         R"(messages[0].content[0].type must be one of text, image_url, got "video")"},
        {conversation(R"([{"role":"user","content":[{"type":"text","text":"x"},{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}}]}])"),
         "messages[0].content[1].type",
         "messages[0].content[1].type: input_audio content is not supported by this gateway; send text or image_url "
         "parts"},
        {conversation(R"([{"role":"user","content":[{"type":"file","file":{"file_id":"f"}}]}])"),
         "messages[0].content[0].type",
         "messages[0].content[0].type: file content is not supported by this gateway; send text or image_url parts"},
        {conversation(R"([{"role":"user","content":[{"type":"text","text":3}]}])"), "messages[0].content[0].text",
         "messages[0].content[0].text must be a string, got integer"},
        {conversation(R"([{"role":"user","content":[{"type":"text"}]}])"), "messages[0].content[0].text",
         "messages[0].content[0].text is required"},
        {conversation(R"([{"role":"user","content":[{"type":"image_url","image_url":5}]}])"),
         "messages[0].content[0].image_url", "messages[0].content[0].image_url must be an object, got integer"},
        {conversation(R"([{"role":"user","content":[{"type":"image_url","image_url":{"detail":"low"}}]}])"),
         "messages[0].content[0].image_url.url", "messages[0].content[0].image_url.url is required"},
        {conversation(R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":42}}]}])"),
         "messages[0].content[0].image_url.url", "messages[0].content[0].image_url.url must be a string, got integer"},
        {conversation(R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}])"),
         "messages[0].content[0].image_url.url",
         "messages[0].content[0].image_url.url must be an http(s) URL or a base64 data URL "
         "(data:image/png;base64,...)"},
        {conversation(R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:;base64,AAAA"}}]}])"),
         "messages[0].content[0].image_url.url",
         "messages[0].content[0].image_url.url must be an http(s) URL or a base64 data URL "
         "(data:image/png;base64,...)"},
        {conversation(R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"ultra"}}]}])"),
         "messages[0].content[0].image_url.detail",
         R"(messages[0].content[0].image_url.detail must be one of auto, low, high, got "ultra")"},
        {conversation(R"([{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"persistent"}}]}])"),
         "messages[0].content[0].cache_control.type",
         R"(messages[0].content[0].cache_control.type must be "ephemeral", got "persistent")"},
        // system, assistant and tool messages
        {conversation(R"([{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}])"),
         "messages[0].content[0].type", R"(messages[0].content[0].type must be "text" here, got "image_url")"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","content":5}])"), "messages[1].content",
         "messages[1].content must be a string, an array of content parts or null, got integer"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"image_url"}]}])"),
         "messages[1].content[0].type", R"(messages[1].content[0].type must be one of text, refusal, got "image_url")"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","tool_calls":{}}])"),
         "messages[1].tool_calls", "messages[1].tool_calls must be an array, got object"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}])"),
         "messages[1].tool_calls[0].id", "messages[1].tool_calls[0].id is required"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"custom","custom":{}}]}])"),
         "messages[1].tool_calls[0].type", R"(messages[1].tool_calls[0].type must be "function", got "custom")"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{"a":1}}}]}])"),
         "messages[1].tool_calls[0].function.arguments",
         "messages[1].tool_calls[0].function.arguments must be a string, got object"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f"}}]}])"),
         "messages[1].tool_calls[0].function.arguments",
         R"(messages[1].tool_calls[0].function.arguments is required (a JSON text, such as "{}"))"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}])"),
         "messages[1].function_call",
         "messages[1].function_call: the legacy function_call is not supported by this gateway; send tool_calls"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"r"}])"),
         "messages[2].tool_call_id", "messages[2].tool_call_id is required: the id of the tool call this answers"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"tool","tool_call_id":"call_9","content":"r"}])"),
         "messages[1].tool_call_id",
         R"(messages[1].tool_call_id must name a tool call of an earlier assistant message, got "call_9")"},
        {conversation(R"([{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}])"),
         "messages[2].content[0].type", R"(messages[2].content[0].type must be "text" here, got "image_url")"},
        // tools and tool_choice
        {with(R"("tools":{})"), "tools", "tools must be an array, got object"},
        {with(R"("tools":[{"type":"web_search"}])"), "tools[0].type",
         R"(tools[0].type: tools of type "web_search" are not supported by this gateway; only function tools are)"},
        {with(R"("tools":[{"type":"function"}])"), "tools[0].function", "tools[0].function is required"},
        {with(R"("tools":[{"type":"function","function":{"name":"get weather"}}])"), "tools[0].function.name",
         R"(tools[0].function.name must be 1 to 64 letters, digits, _ or -, got "get weather")"},
        {with(R"("tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}])"),
         "tools[1].function.name", R"(tools[1].function.name must be unique: "f" names two tools)"},
        {with(R"("tools":[{"type":"function","function":{"name":"f","parameters":"x"}}])"),
         "tools[0].function.parameters", "tools[0].function.parameters must be an object (a JSON Schema), got string"},
        {with(R"("tools":[{"type":"function","function":{"name":"f","strict":"yes"}}])"), "tools[0].function.strict",
         "tools[0].function.strict must be a boolean, got string"},
        {with(R"("tools":[{"type":"function","function":{"name":"f","description":5}}])"),
         "tools[0].function.description", "tools[0].function.description must be a string, got integer"},
        {with(R"("tool_choice":"any")"), "tool_choice", R"(tool_choice must be one of auto, none, required, got "any")"},
        {with(R"("tool_choice":1)"), "tool_choice",
         R"(tool_choice must be "auto", "none", "required" or an object, got integer)"},
        {with(R"("tool_choice":"required")"), "tool_choice", "tool_choice needs tools: the request defines none"},
        {with(R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"nope"}})"),
         "tool_choice.function.name", R"(tool_choice.function.name names no tool of the request: "nope")"},
        {with(R"("tool_choice":{"type":"allowed_tools","allowed_tools":{}})"), "tool_choice.type",
         R"(tool_choice.type: tool_choice of type "allowed_tools" is not supported by this gateway; name a function or send auto, none or required)"},
        // sampling
        {with(R"("temperature":3)"), "temperature", "temperature must be between 0 and 2, got 3"},
        {with(R"("temperature":"hot")"), "temperature", "temperature must be a number, got string"},
        {with(R"("top_p":1.5)"), "top_p", "top_p must be between 0 and 1, got 1.5"},
        {with(R"("presence_penalty":-3)"), "presence_penalty", "presence_penalty must be between -2 and 2, got -3"},
        {with(R"("frequency_penalty":2.5)"), "frequency_penalty",
         "frequency_penalty must be between -2 and 2, got 2.5"},
        {with(R"("max_tokens":0)"), "max_tokens", "max_tokens must be a positive integer, got 0"},
        {with(R"("max_tokens":1.5)"), "max_tokens", "max_tokens must be an integer, got 1.5"},
        {with(R"("max_tokens":"100")"), "max_tokens", "max_tokens must be an integer, got string"},
        {with(R"("max_completion_tokens":-5)"), "max_completion_tokens",
         "max_completion_tokens must be a positive integer, got -5"},
        {with(R"("max_completion_tokens":5000000000)"), "max_completion_tokens",
         "max_completion_tokens must be at most 4294967295, got 5000000000"},
        {with(R"("stop":["a","b","c","d","e"])"), "stop", "stop must hold at most 4 sequences, got 5"},
        {with(R"("stop":["a",1])"), "stop[1]", "stop[1] must be a string, got integer"},
        {with(R"("stop":"")"), "stop", "stop must not be an empty string"},
        {with(R"("stop":{})"), "stop", "stop must be a string or an array of strings, got object"},
        {with(R"("seed":1.5)"), "seed", "seed must be an integer, got 1.5"},
        {with(R"("seed":1e30)"), "seed", "seed must be an integer, got 1e+30"},
        {with(R"("n":2)"), "n",
         "n must be 1, got 2: this gateway answers with one choice (send separate requests for more)"},
        {with(R"("n":0)"), "n", "n must be a positive integer, got 0"},
        {with(R"("top_k":-2)"), "top_k", "top_k must be a non-negative integer (or -1 for none), got -2"},
        {with(R"("reasoning_effort":"extreme")"), "reasoning_effort",
         R"(reasoning_effort must be one of none, minimal, low, medium, high, xhigh, max, got "extreme")"},
        // output shape and the rest
        {with(R"("response_format":"json")"), "response_format", "response_format must be an object, got string"},
        {with(R"("response_format":{"type":"xml"})"), "response_format.type",
         R"(response_format.type must be one of text, json_object, json_schema, got "xml")"},
        {with(R"("response_format":{"type":"json_schema"})"), "response_format.json_schema",
         "response_format.json_schema is required with type json_schema"},
        {with(R"("response_format":{"type":"json_schema","json_schema":{"schema":{}}})"),
         "response_format.json_schema.name", "response_format.json_schema.name is required"},
        {with(R"("stream":"yes")"), "stream", "stream must be a boolean, got string"},
        {with(R"("stream":true,"stream_options":{"include_usage":"yes"})"), "stream_options.include_usage",
         "stream_options.include_usage must be a boolean, got string"},
        {with(R"("metadata":{"a":1})"), "metadata.a", "metadata.a must be a string, got integer"},
        {with(R"("user":5)"), "user", "user must be a string, got integer"},
        {with(R"("prompt_cache_retention":"1h")"), "prompt_cache_retention",
         R"(prompt_cache_retention must be one of in_memory, in-memory, 24h, got "1h")"},
        {with(R"("logprobs":true)"), "logprobs", "logprobs: log probabilities are not supported by this gateway"},
        {with(R"("top_logprobs":5)"), "top_logprobs",
         "top_logprobs: log probabilities are not supported by this gateway"},
        {with(R"("functions":[{"name":"f"}])"), "functions",
         "functions: the legacy functions parameter is not supported by this gateway; send tools and tool_choice"},
        {with(R"("audio":{"voice":"alloy","format":"wav"})"), "audio",
         "audio: audio output is not supported by this gateway"},
        {with(R"("modalities":["text","audio"])"), "modalities[1]",
         "modalities[1]: audio output is not supported by this gateway"},
    };
    for (const auto& bad : table) {
        INFO("body: " << bad.body);
        auto e = decode(bad.body);
        REQUIRE_FALSE(e);
        CHECK(e.error().kind == core::error_kind::invalid_request);
        CHECK(e.error().param == bad.param);
        CHECK(e.error().message == bad.message);
        CHECK(std::string_view(e.error().message).substr(0, bad.param.size()) == bad.param);
    }
}

TEST_CASE("a refusal renders as an OpenAI error body with its param", "[api][chat][decode]") {
    auto e = decode(with(R"("temperature":3)"));
    REQUIRE_FALSE(e);
    CHECK(core::http_status(e.error().kind) == 400);
    CHECK(core::openai_error_body(e.error()) ==
          R"({"error":{"message":"temperature must be between 0 and 2, got 3","type":"invalid_request_error","param":"temperature","code":null}})");
}
