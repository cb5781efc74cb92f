// Tests include/sluice/api/responses_decode.hpp, included first to prove it self-contained.
#include <sluice/api/responses_decode.hpp>

#include "responses_golden.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using namespace sluice;
using namespace responses_test;

namespace {

core::result<core::envelope> decode(std::string_view body) { return api::decode_responses_request(body, {}); }

} // namespace

TEST_CASE("responses requests as the SDK sends them decode to the golden envelopes", "[api][responses]") {
    for (const char* name : {"string_input", "conversation", "tools_and_options", "easy_messages"}) {
        INFO("fixture " << name);
        auto e = decode(read_fixture(std::string("decode/") + name + ".request.json"));
        if (!e) FAIL_CHECK(e.error().param << ": " << e.error().message);
        else check_golden(std::string("decode/") + name + ".envelope.json", render(*e));
    }
}

TEST_CASE("responses decoding joins assistant-side items into one turn and tool outputs into another",
          "[api][responses]") {
    auto e = decode(read_fixture("decode/conversation.request.json"));
    REQUIRE(e);
    REQUIRE(e->messages.size() == 5);
    CHECK(e->messages[0].role == core::role::developer);
    CHECK(e->messages[1].role == core::role::user);
    const auto& turn = e->messages[2];
    CHECK(turn.role == core::role::assistant);
    REQUIRE(turn.content.size() == 4); // reasoning, text, two calls
    const auto& r = std::get<core::reasoning_part>(turn.content[0]);
    CHECK(r.text == "Two lookups.\n\nRun them in parallel.");
    CHECK(r.signature == "gAAAAB-opaque"); // encrypted_content kept as the signature
    CHECK(std::get<core::tool_call_part>(turn.content[3]).id == "call_2");
    CHECK(e->messages[3].role == core::role::tool);
    CHECK(e->messages[3].content.size() == 2);
    CHECK(e->messages[4].role == core::role::user);
    CHECK(e->api == core::front_api::responses);
    CHECK(e->endpoint == core::endpoint::chat);
}

TEST_CASE("responses decoding keeps unknown fields as extras and drops what a stateless gateway ignores",
          "[api][responses]") {
    auto e = decode(read_fixture("decode/tools_and_options.request.json"));
    REQUIRE(e);
    CHECK(e->extras.size() == 3);
    CHECK(e->extras.contains("service_tier"));
    CHECK(e->extras.contains("safety_identifier"));
    CHECK(e->extras.at("verbosity") == "low");
    for (const char* ignored : {"store", "include", "truncation", "stream_options", "previous_response_id",
                                "background", "reasoning", "text", "metadata"})
        CHECK_FALSE(e->extras.contains(ignored));
    CHECK(e->prompt_cache_retention == "in_memory"); // the SDK's older spelling, normalised
    CHECK(e->reasoning.effort == core::reasoning_effort::max);
}

TEST_CASE("responses decoding answers bad requests with the exact param and message", "[api][responses]") {
    struct bad_case {
        const char* name;
        std::string body;
        std::string param;
        std::string message;
    };
    const std::string head = R"({"model":"gpt-4.1",)";
    const bad_case cases[] = {
        {"not json", "hello", "", "We could not parse the JSON body of your request: syntax error at line 1, column 1 (byte 0)."},
        {"trailing comma", "{\"model\":\"m\",\n\"input\":\"hi\",}", "",
         "We could not parse the JSON body of your request: syntax error at line 2, column 14 (byte 27)."},
        {"cut short", R"({"model":"m","input":[)", "",
         "We could not parse the JSON body of your request: incomplete JSON at line 1, column 23 (byte 22)."},
        {"not an object", "[1]", "", "The request body must be a JSON object, but it is an array."},
        {"no model", R"({"input":"hi"})", "model", "Missing required parameter: 'model'."},
        {"model a number", R"({"model":4,"input":"hi"})", "model",
         "Invalid type for 'model': expected a string, but got an integer instead."},
        {"no input", R"({"model":"m"})", "input", "Missing required parameter: 'input'."},
        {"empty input", head + R"("input":[]})", "input", "Invalid value for 'input': send at least one input item."},
        {"input a number", head + R"("input":7})", "input",
         "Invalid type for 'input': expected a string or an array, but got an integer instead."},
        {"previous_response_id", head + R"("input":"hi","previous_response_id":"resp_1"})", "previous_response_id",
         "'previous_response_id' is not supported: sluice is stateless; send the whole input."},
        {"conversation", head + R"("input":"hi","conversation":"conv_1"})", "conversation",
         "'conversation' is not supported: sluice is stateless; send the whole input."},
        {"stored prompt", head + R"("input":"hi","prompt":{"id":"pmpt_1"}})", "prompt",
         "'prompt' is not supported: sluice is stateless; stored prompt templates live at OpenAI; send the whole input."},
        {"background", head + R"("input":"hi","background":true})", "background",
         "'background' is not supported: sluice is stateless; it keeps no response to poll later; leave background out or false."},
        {"item reference", head + R"("input":[{"type":"item_reference","id":"msg_1"}]})", "input[0]",
         "'input[0]' is not supported: sluice is stateless; it cannot look items up; send the item itself."},
        {"image without url", head + R"("input":[{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"},{"role":"user","content":[{"type":"input_image","detail":"low"}]}]})",
         "input[3].content[0].image_url", "Missing required parameter: 'input[3].content[0].image_url'."},
        {"image by file id", head + R"("input":[{"role":"user","content":[{"type":"input_text","text":"x"},{"type":"input_image","file_id":"file-1"}]}]})",
         "input[0].content[1].file_id",
         "Images by 'file_id' are not supported: sluice keeps no files; send 'image_url' as an https URL or a data: URL."},
        {"data url not base64", head + R"("input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image/png,abc"}]}]})",
         "input[0].content[0].image_url",
         "Invalid value for 'input[0].content[0].image_url': a data URL must look like data:<media type>;base64,<data>."},
        {"input file", head + R"("input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]}]})",
         "input[0].content[0].type",
         "Input files are not supported: send the document's text as 'input_text' (or a page as an 'input_image')."},
        {"output text from the user", head + R"("input":[{"role":"user","content":[{"type":"output_text","text":"x"}]}]})",
         "input[0].content[0].type", "Invalid value: 'output_text'. Supported values are: 'input_text' and 'input_image'."},
        {"image in a system message", head + R"("input":[{"role":"system","content":[{"type":"input_image","image_url":"https://x/y.png"}]}]})",
         "input[0].content[0].type", "Invalid value: 'input_image'. Supported values are: 'input_text'."},
        {"tool role", head + R"("input":[{"role":"tool","content":"x"}]})", "input[0].role",
         "Invalid value: 'tool'. Supported values are: 'user', 'assistant', 'system' and 'developer'."},
        {"item without type or role", head + R"("input":[{"content":"x"}]})", "input[0].type",
         "Missing required parameter: 'input[0].type'."},
        {"hosted tool item", head + R"("input":[{"type":"web_search_call","id":"ws_1"}]})", "input[0].type",
         "Invalid value: 'web_search_call'. Supported values are: 'message', 'function_call', 'function_call_output' and 'reasoning'."},
        {"function call without call id", head + R"("input":[{"role":"user","content":"x"},{"type":"function_call","name":"f","arguments":"{}"}]})",
         "input[1].call_id", "Missing required parameter: 'input[1].call_id'."},
        {"function output without output", head + R"("input":[{"type":"function_call_output","call_id":"c"}]})",
         "input[0].output", "Missing required parameter: 'input[0].output'."},
        {"built-in tool", head + R"("input":"hi","tools":[{"type":"function","name":"f"},{"type":"web_search"}]})",
         "tools[1].type",
         "The tool type 'web_search' is not supported: it is a tool that OpenAI runs, and a gateway cannot run it. "
         "Declare it as a 'function' tool and run it yourself."},
        {"tool without name", head + R"("input":"hi","tools":[{"type":"function","parameters":{}}]})", "tools[0].name",
         "Missing required parameter: 'tools[0].name'."},
        {"tool choice word", head + R"("input":"hi","tool_choice":"any"})", "tool_choice",
         "Invalid value: 'any'. Supported values are: 'auto', 'none' and 'required'."},
        {"tool choice hosted", head + R"("input":"hi","tool_choice":{"type":"file_search"}})", "tool_choice.type",
         "The tool_choice type 'file_search' is not supported: name a 'function' tool, or use 'auto', 'none' or 'required'."},
        {"temperature a string", head + R"("input":"hi","temperature":"hot"})", "temperature",
         "Invalid type for 'temperature': expected a decimal, but got a string instead."},
        {"temperature too high", head + R"("input":"hi","temperature":2.5})", "temperature",
         "Invalid value for 'temperature': expected a number from 0 to 2, but got 2.5."},
        {"top_p too high", head + R"("input":"hi","top_p":1.5})", "top_p",
         "Invalid value for 'top_p': expected a number from 0 to 1, but got 1.5."},
        {"max_output_tokens zero", head + R"("input":"hi","max_output_tokens":0})", "max_output_tokens",
         "Invalid value for 'max_output_tokens': expected an integer from 1 to 4294967295, but got 0."},
        {"max_output_tokens a decimal", head + R"("input":"hi","max_output_tokens":1.5})", "max_output_tokens",
         "Invalid type for 'max_output_tokens': expected an integer, but got a decimal instead."},
        {"effort max", head + R"("input":"hi","reasoning":{"effort":"max"}})", "reasoning.effort",
         "Invalid value: 'max'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high' and 'xhigh'."},
        {"schema without schema", head + R"("input":"hi","text":{"format":{"type":"json_schema","name":"x"}}})",
         "text.format.schema", "Missing required parameter: 'text.format.schema'."},
        {"format unknown", head + R"("input":"hi","text":{"format":{"type":"yaml"}}})", "text.format.type",
         "Invalid value: 'yaml'. Supported values are: 'text', 'json_object' and 'json_schema'."},
        {"metadata number", head + R"("input":"hi","metadata":{"run":42}})", "metadata.run",
         "Invalid type for 'metadata.run': expected a string, but got an integer instead."},
        {"cache retention", head + R"("input":"hi","prompt_cache_retention":"1h"})", "prompt_cache_retention",
         "Invalid value: '1h'. Supported values are: 'in_memory' and '24h'."},
        {"stream a string", head + R"("input":"hi","stream":"yes"})", "stream",
         "Invalid type for 'stream': expected a boolean, but got a string instead."},
        {"summary part type", head + R"("input":[{"type":"reasoning","summary":[{"type":"text","text":"x"}]}]})",
         "input[0].summary[0].type", "Invalid value: 'text'. Supported values are: 'summary_text'."},
    };
    for (const auto& c : cases) {
        INFO(c.name << ": " << c.body);
        auto e = decode(c.body);
        REQUIRE_FALSE(e);
        CHECK(e.error().kind == core::error_kind::invalid_request);
        CHECK(e.error().param == c.param);
        CHECK(e.error().message == c.message);
        CHECK(core::http_status(e.error().kind) == 400);
    }
}

TEST_CASE("responses decoding accepts nulls wherever the SDK may send them", "[api][responses]") {
    auto e = decode(R"({"model":"m","input":"hi","instructions":null,"temperature":null,"tools":null,
        "tool_choice":null,"reasoning":null,"text":null,"metadata":null,"user":null,"store":null,
        "previous_response_id":null,"conversation":null,"prompt":null,"include":null,"stream":null})");
    REQUIRE(e);
    CHECK(e->system.empty());
    CHECK_FALSE(e->stream);
    CHECK(e->extras.empty());
}

TEST_CASE("responses decoding reads raw reasoning text when an item has no summary", "[api][responses]") {
    auto e = decode(R"({"model":"m","input":[{"role":"user","content":"q"},
        {"type":"reasoning","summary":[],"content":[{"type":"reasoning_text","text":"step 1"}]},
        {"role":"assistant","content":"a"},{"role":"user","content":"next"}]})");
    REQUIRE(e);
    REQUIRE(e->messages.size() == 3);
    const auto& turn = e->messages[1];
    REQUIRE(turn.content.size() == 2);
    CHECK(std::get<core::reasoning_part>(turn.content[0]).text == "step 1");
    CHECK(std::get<core::text_part>(turn.content[1]).text == "a");
}
