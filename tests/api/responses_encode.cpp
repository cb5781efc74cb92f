// Tests include/sluice/api/responses_encode.hpp (included first to prove it self-contained) and
// responses_stream.hpp.
#include <sluice/api/responses_encode.hpp>
#include <sluice/api/responses_stream.hpp>
#include <sluice/api/responses.hpp>

#include "responses_golden.hpp"

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace sluice;
using namespace responses_test;

namespace {

std::string body_of(const std::vector<core::event>& events, const api::responses_echo& echo = {}) {
    return api::encode_responses_body(core::response_aggregate::fold(events), context(), echo);
}

std::vector<api::sse_frame> stream_of(const std::vector<core::event>& events, const api::responses_echo& echo = {}) {
    api::responses_stream_encoder encoder(context(), echo);
    std::vector<api::sse_frame> frames;
    for (const auto& e : events) encoder.add(e, frames);
    return frames;
}

/// Replays the frames as the openai SDK's accumulator does and checks every rule it enforces:
/// `type` equals the event name, sequence numbers count from 0, items are appended in
/// output_index order, item-scoped events name the item at their output_index, and content and
/// summary parts are appended before their deltas. Returns the text the client would show.
std::string replay(const std::vector<api::sse_frame>& frames) {
    std::vector<json::object> output;
    std::map<std::size_t, std::string> text; // output_index -> output_text so far
    for (std::size_t i = 0; i < frames.size(); ++i) {
        INFO("frame " << i << ": " << frames[i].event << " " << frames[i].data);
        auto v = json::parse(frames[i].data);
        const auto& o = v.as_object();
        REQUIRE(o.at("type").as_string() == frames[i].event);
        REQUIRE(o.at("sequence_number").to_number<std::size_t>() == i);
        if (i == 0) REQUIRE(frames[i].event == "response.created");
        if (!o.contains("output_index")) continue;
        const auto at = o.at("output_index").to_number<std::size_t>();
        if (frames[i].event == "response.output_item.added") {
            REQUIRE(at == output.size());
            output.push_back(o.at("item").as_object());
            continue;
        }
        REQUIRE(at < output.size());
        if (frames[i].event == "response.output_item.done") {
            REQUIRE(o.at("item").at("id") == output[at].at("id"));
            REQUIRE(o.at("item").at("type") == output[at].at("type"));
            output[at] = o.at("item").as_object();
            continue;
        }
        REQUIRE(o.at("item_id") == output[at].at("id"));
        if (frames[i].event == "response.content_part.added") {
            REQUIRE(o.at("content_index").to_number<std::size_t>() == output[at].at("content").as_array().size());
            output[at]["content"].as_array().push_back(o.at("part"));
        } else if (frames[i].event == "response.reasoning_summary_part.added") {
            REQUIRE(o.at("summary_index").to_number<std::size_t>() == output[at].at("summary").as_array().size());
            output[at]["summary"].as_array().push_back(o.at("part"));
        } else if (frames[i].event == "response.output_text.delta") {
            REQUIRE(output[at].at("type") == "message");
            REQUIRE(o.at("content_index").to_number<std::size_t>() < output[at].at("content").as_array().size());
            text[at] += o.at("delta").as_string();
        } else if (frames[i].event == "response.function_call_arguments.delta") {
            REQUIRE(output[at].at("type") == "function_call");
        } else if (frames[i].event.starts_with("response.reasoning_summary")) {
            REQUIRE(output[at].at("type") == "reasoning");
            REQUIRE(o.at("summary_index").to_number<std::size_t>() < output[at].at("summary").as_array().size());
        }
    }
    std::string shown;
    for (const auto& [at, t] : text) shown += t;
    return shown;
}

/// The last frame's `response`, as bytes: what response.completed (or .incomplete, .failed) carries.
std::string terminal_response(const std::vector<api::sse_frame>& frames, std::string_view name) {
    for (const auto& f : frames) {
        if (f.event != name) continue;
        const std::string prefix = R"({"type":")" + std::string(name) + R"(","sequence_number":)";
        REQUIRE(f.data.starts_with(prefix));
        const auto at = f.data.find(R"(,"response":)");
        REQUIRE(at != std::string::npos);
        REQUIRE(f.data.back() == '}');
        return f.data.substr(at + 12, f.data.size() - at - 13);
    }
    FAIL("no " << name << " event");
    return {};
}

/// output_text as the SDK computes it: every output_text of every message item, in order.
std::string output_text(const std::string& body) {
    std::string out;
    const auto response = json::parse(body);
    for (const auto& item : response.at("output").as_array()) {
        if (item.at("type") != "message") continue;
        for (const auto& c : item.at("content").as_array())
            if (c.at("type") == "output_text") out += c.at("text").as_string();
    }
    return out;
}

struct named_sequence {
    const char* name;
    std::vector<core::event> events;
    const char* terminal;
};

std::vector<named_sequence> sequences() {
    return {{"text", text_events(), "response.completed"},
            {"two_function_calls", two_calls_events(), "response.completed"},
            {"interleaved_tool_calls", interleaved_events(), "response.completed"},
            {"reasoning_then_text", reasoning_events(), "response.completed"},
            {"incomplete_length", length_events(), "response.incomplete"},
            {"error_mid_stream", error_events(), "response.failed"}};
}

} // namespace

TEST_CASE("responses bodies match the golden Response objects", "[api][responses]") {
    for (const auto& s : sequences()) {
        INFO("sequence " << s.name);
        check_golden(std::string("body/") + s.name + ".json", body_of(s.events));
    }
}

TEST_CASE("responses streams match the golden SSE bytes", "[api][responses]") {
    for (const auto& s : sequences()) {
        INFO("sequence " << s.name);
        check_golden(std::string("stream/") + s.name + ".sse", wire(stream_of(s.events)));
    }
}

TEST_CASE("responses stream terminal events carry exactly the body encoder's Response", "[api][responses]") {
    for (const auto& s : sequences()) {
        INFO("sequence " << s.name);
        const auto frames = stream_of(s.events);
        CHECK(terminal_response(frames, s.terminal) == body_of(s.events));
    }
}

TEST_CASE("responses streams replay cleanly under the SDK accumulator's rules", "[api][responses]") {
    for (const auto& s : sequences()) {
        INFO("sequence " << s.name);
        const auto frames = stream_of(s.events);
        const std::string shown = replay(frames);
        if (std::string_view(s.terminal) != "response.failed") CHECK(shown == output_text(body_of(s.events)));
    }
}

TEST_CASE("responses usage counts cached prompt tokens as input and reasoning inside output", "[api][responses]") {
    const auto body = json::parse(body_of(reasoning_events()));
    const auto& u = body.at("usage");
    CHECK(u.at("input_tokens") == 2448); // 100 uncached + 2048 read + 300 written
    CHECK(u.at("input_tokens_details").at("cached_tokens") == 2048);
    CHECK(u.at("output_tokens") == 57);
    CHECK(u.at("output_tokens_details").at("reasoning_tokens") == 40);
    CHECK(u.at("total_tokens") == 2505);
}

TEST_CASE("responses never put reasoning text into output_text", "[api][responses]") {
    const auto events = reasoning_events();
    const auto body = body_of(events);
    CHECK(output_text(body) == "42");
    const auto frames = stream_of(events);
    CHECK(replay(frames) == "42");
    for (const auto& f : frames) {
        if (f.event.starts_with("response.output_text") || f.event.starts_with("response.content_part"))
            CHECK(f.data.find("The user wants") == std::string::npos);
    }
    const auto parsed = json::parse(body);
    const auto& reasoning = parsed.at("output").at(0);
    CHECK(reasoning.at("type") == "reasoning");
    CHECK(reasoning.at("summary").at(0).at("text") == "The user wants a number.");
    CHECK(reasoning.at("encrypted_content") == "EqQBCkgIARABGAIiQL");
}

TEST_CASE("responses interleaved tool calls keep their output_index from added to done", "[api][responses]") {
    const auto frames = stream_of(interleaved_events());
    std::map<std::string, std::vector<std::size_t>> index_by_item;
    for (const auto& f : frames) {
        const auto v = json::parse(f.data);
        const auto& o = v.as_object();
        if (!o.contains("output_index")) continue;
        const std::string item = o.contains("item") ? std::string(o.at("item").at("id").as_string())
                                                    : std::string(o.at("item_id").as_string());
        index_by_item[item].push_back(o.at("output_index").to_number<std::size_t>());
    }
    REQUIRE(index_by_item.size() == 3);
    for (const auto& [item, indexes] : index_by_item)
        for (auto i : indexes) CHECK(i == indexes.front());
    CHECK(index_by_item["fc_abc123_1"].front() == 1);
    CHECK(index_by_item["fc_abc123_2"].front() == 2);
    const auto body = json::parse(body_of(interleaved_events()));
    CHECK(body.at("output").at(1).at("arguments") == R"({"city":"Oslo"})");
    CHECK(body.at("output").at(2).at("arguments") == R"({"city":"Rome"})");
}

TEST_CASE("responses streams end an error with response.failed then an error event, never a completion",
          "[api][responses]") {
    const auto frames = stream_of(error_events());
    REQUIRE(frames.size() >= 2);
    CHECK(frames[frames.size() - 2].event == "response.failed");
    CHECK(frames.back().event == "error");
    for (const auto& f : frames) {
        CHECK(f.event != "response.completed");
        CHECK(f.event != "response.incomplete");
    }
    const auto failed = json::parse(terminal_response(frames, "response.failed"));
    CHECK(failed.at("status") == "failed");
    CHECK(failed.at("error").at("code") == "server_error");
    const auto err = json::parse(frames.back().data);
    CHECK(err.at("message") == "upstream closed the connection mid-stream");
    CHECK(err.at("error").at("type") == "server_error"); // what the SDKs turn into an APIError
}

TEST_CASE("responses streams turn a broken event stream into a failure and ignore what follows the end",
          "[api][responses]") {
    SECTION("a delta for a block that never started") {
        const auto frames = stream_of({core::message_start{"up", "m"}, core::text_delta(3, "x")});
        CHECK(frames.back().event == "error");
        CHECK(json::parse(frames.back().data).at("message").as_string().starts_with("malformed event stream"));
    }
    SECTION("a stream that ends without message_stop gives a failed body") {
        const auto body = json::parse(body_of({core::message_start{"up", "m"}, core::text_start(0)}));
        CHECK(body.at("status") == "failed");
    }
    SECTION("events after response.completed") {
        auto events = text_events();
        events.push_back(core::text_delta(0, "late"));
        events.push_back(core::error{core::error_kind::upstream, "late", {}, {}});
        const auto frames = stream_of(events);
        CHECK(frames.back().event == "response.completed");
        CHECK(frames == stream_of(text_events()));
    }
    SECTION("blocks left open end with the message") {
        const auto frames = stream_of({core::message_start{"up", "m"}, core::text_start(0), core::text_delta(0, "hi"),
                                       core::message_stop{core::finish_reason::stop, {}}});
        REQUIRE(frames.size() >= 3);
        CHECK(frames[frames.size() - 2].event == "response.output_item.done");
        CHECK(replay(frames) == "hi");
    }
}

TEST_CASE("responses echo the request they answer", "[api][responses]") {
    auto request = api::decode_responses_request(read_fixture("decode/tools_and_options.request.json"), {});
    REQUIRE(request);
    const auto echo = api::responses_echo::of(*request);
    const auto body = body_of(two_calls_events(), echo);
    check_golden("body/echo_tools_and_options.json", body);
    const auto frames = stream_of(two_calls_events(), echo);
    CHECK(terminal_response(frames, "response.completed") == body);
    const auto v = json::parse(body);
    CHECK(v.at("instructions") == "Use the tools.");
    CHECK(v.at("tool_choice").at("name") == "get_weather");
    CHECK(v.at("reasoning").at("effort") == "xhigh");
    CHECK(v.at("parallel_tool_calls") == false);
    CHECK(v.at("store") == false); // the gateway keeps nothing, whatever the request said
}

TEST_CASE("responses give every function call a call_id and arguments a client can parse", "[api][responses]") {
    const std::vector<core::event> events{core::message_start{"up", "m"}, core::tool_call_start(0, "", "ping"),
                                          core::block_stop{0}, core::message_stop{core::finish_reason::tool_calls, {}}};
    const auto body = json::parse(body_of(events));
    CHECK(body.at("output").at(0).at("call_id") == "call_abc123_0"); // some servers send no id
    CHECK(body.at("output").at(0).at("arguments") == "{}");
    CHECK(replay(stream_of(events)).empty());
}

TEST_CASE("responses keep a reasoning block that has only a signature as an empty summary", "[api][responses]") {
    const std::vector<core::event> events{core::message_start{"up", "m"}, core::reasoning_start(0),
                                          core::signature_delta(0, "opaque"), core::block_stop{0},
                                          core::message_stop{core::finish_reason::stop, {}}};
    const auto body = json::parse(body_of(events));
    const auto& item = body.at("output").at(0);
    CHECK(item.at("summary").as_array().empty());
    CHECK(item.at("encrypted_content") == "opaque");
    const auto frames = stream_of(events);
    replay(frames);
    for (const auto& f : frames) CHECK_FALSE(f.event.starts_with("response.reasoning_summary"));
}

TEST_CASE("responses report a filtered answer as incomplete with reason content_filter", "[api][responses]") {
    auto events = length_events();
    events.back() = core::message_stop{core::finish_reason::content_filter, {}};
    const auto body = json::parse(body_of(events));
    CHECK(body.at("status") == "incomplete");
    CHECK(body.at("incomplete_details").at("reason") == "content_filter");
    CHECK(stream_of(events).back().event == "response.incomplete");
}
