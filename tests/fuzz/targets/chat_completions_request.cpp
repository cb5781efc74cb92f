// Fuzz target: api::decode_chat_completions_request.
//
// Invariants: any bytes decode to a chat_completions envelope with a model, or to a 400 with a
// message. Round trip: for a request that decodes, answering it (the request's model, its
// include_usage, its first tool's name) through the chat encoders, body and stream, never
// throws and gives JSON the SDKs can parse: every chunk is a JSON object and [DONE] ends the stream.

#include <sluice/api/chat_completions.hpp>

#include "request_checks.hpp"

#include <boost/json/parse.hpp>

#include <exception>
#include <vector>

namespace {

using namespace sluice;
using sluice_fuzz::describe;

std::vector<core::event> fixed_answer(const core::envelope& request) {
    const std::string tool = request.tools.empty() ? std::string("lookup") : request.tools.front().name;
    return {
        core::message_start{"chatcmpl-fuzz", request.model},
        core::reasoning_start(0),
        core::reasoning_delta(0, "thinking \xE2\x80\xA6"),
        core::block_stop{0},
        core::text_start(1),
        core::text_delta(1, "Hello, \"world\"\n"),
        core::block_stop{1},
        core::tool_call_start(2, "call_fuzz", tool),
        core::arguments_delta(2, "{\"q\":"),
        core::arguments_delta(2, "1}"),
        core::block_stop{2},
        core::usage{12, 7, 3, 0, 2},
        core::message_stop{core::finish_reason::tool_calls, {}},
    };
}

void check_json_object(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(text, ec);
    FUZZ_CHECK(!ec && parsed.is_object(), std::string(what) + " is not a JSON object: " + std::string(text));
}

void answer(const core::envelope& request) {
    const auto events = fixed_answer(request);
    api::response_context ctx{"chatcmpl-fuzz", request.model, 1700000000, request.include_usage};
    try {
        const auto folded = core::response_aggregate::fold(events);
        FUZZ_CHECK(folded.complete(), "the fixed answer did not fold: " + describe(events));
        const std::string body = api::encode_chat_completions_body(folded, ctx);
        check_json_object(body, "the chat.completion body");
        const auto model = boost::json::parse(body).as_object().at("model");
        FUZZ_CHECK(model.is_string() && model.get_string() == request.model, "the body names another model: " + body);

        api::chat_completions_stream_encoder encoder(ctx);
        std::vector<api::sse_frame> frames;
        for (const auto& e : events) encoder.add(e, frames);
        FUZZ_CHECK(encoder.done() && !frames.empty() && frames.back().data == "[DONE]",
                   "the stream did not end with [DONE]");
        for (std::size_t i = 0; i + 1 < frames.size(); ++i) check_json_object(frames[i].data, "a chunk");
    } catch (const std::exception& e) {
        FUZZ_CHECK(false, std::string("the chat encoder threw: ") + e.what());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto decoded = api::decode_chat_completions_request(sluice_fuzz::bytes_of(data, size), {});
    if (const auto* request = sluice_fuzz::check_decoded(decoded, core::front_api::chat_completions)) answer(*request);
    return 0;
}
