#ifndef SLUICE_API_RESPONSES_STREAM_HPP
#define SLUICE_API_RESPONSES_STREAM_HPP

// Canonical events -> the Responses API's named SSE events, each data carrying `type` equal to
// the event name and a sequence_number from 0:
//   response.created, response.in_progress (the Response in progress: no output, no usage)
//   per block, in the order blocks start (output_index is that order, stable while blocks
//   interleave):
//     text       output_item.added, content_part.added, output_text.delta*, output_text.done,
//                content_part.done, output_item.done
//     tool_call  output_item.added, function_call_arguments.delta*, .done, output_item.done
//     reasoning  output_item.added, [reasoning_summary_part.added, reasoning_summary_text.delta*,
//                reasoning_summary_text.done, reasoning_summary_part.done], output_item.done
//   response.completed | response.incomplete (length, content filter)
//
// The encoder folds the events into a response_aggregate as they pass, and the terminal event
// carries encode_responses_body() of that aggregate: one code path for body and stream.
//
// A failure (an error event, or a stream that breaks the event rules) ends the stream with
// `response.failed` (the Response with status "failed" and error {code, message}) and then
// `event: error`. The openai SDKs throw an APIError on the `error` event; `response.failed`
// alone reaches a client as an ordinary event and the SDK's stream helper resolves with the
// partial text (WIRE.md failure 7: never a clean end after an error). Nothing follows either.

#include <sluice/api/codec.hpp>
#include <sluice/api/responses_encode.hpp>
#include <sluice/core/aggregate.hpp>
#include <sluice/core/event.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::api {

/// Canonical events -> Responses API stream events, each a named SSE event whose data carries the
/// same `type` and a sequence_number from 0.
class responses_stream_encoder {
public:
    explicit responses_stream_encoder(response_context ctx, responses_echo echo = {})
        : ctx_(std::move(ctx)), echo_(std::move(echo)) {}

    void add(const core::event& e, std::vector<sse_frame>& out) {
        if (finished_) return; // nothing may follow the terminal event
        if (!started_) start(out);
        answer_.add(e);
        if (answer_.error()) return fail(out); // an error event, or a broken rule of the stream
        if (const auto* b = std::get_if<core::block_start>(&e)) open(*b, out);
        else if (const auto* d = std::get_if<core::block_delta>(&e)) delta(*d, out);
        else if (const auto* s = std::get_if<core::block_stop>(&e)) close(*find(s->index), out);
        else if (std::holds_alternative<core::message_stop>(e)) finish(out);
    }

    /// The terminal event was sent.
    bool finished() const noexcept { return finished_; }
    const core::response_aggregate& aggregate() const noexcept { return answer_; }

private:
    struct block {
        std::uint32_t index;
        core::block_kind kind;
        std::string item_id;
        bool summary_open = false; // reasoning: a summary part was added
        bool closed = false;
    };

    using object_writer = responses_detail::object_writer;

    /// Starts an event's data: `{"type":NAME,"sequence_number":N`; the caller adds the rest.
    std::string& begin(std::vector<sse_frame>& out, std::string_view name) {
        auto& f = out.emplace_back();
        f.event = std::string(name);
        f.data.reserve(128);
        f.data += R"({"type":)";
        responses_detail::put_string(f.data, name);
        f.data += R"(,"sequence_number":)";
        f.data += std::to_string(sequence_++);
        return f.data;
    }

    void lifecycle(std::vector<sse_frame>& out, std::string_view name, responses_detail::response_state state) {
        auto& d = begin(out, name);
        d += R"(,"response":)";
        responses_detail::put_response(d, answer_, ctx_, echo_, state);
        d += '}';
    }

    void start(std::vector<sse_frame>& out) {
        started_ = true;
        lifecycle(out, "response.created", responses_detail::response_state::in_progress);
        lifecycle(out, "response.in_progress", responses_detail::response_state::in_progress);
    }

    /// `,"item_id":…,"output_index":N` (+ `,"content_index":0` for message text).
    void locate(std::string& d, const block& b, std::size_t output_index, const char* extra_index) {
        d += R"(,"item_id":)";
        responses_detail::put_string(d, b.item_id);
        d += R"(,"output_index":)";
        d += std::to_string(output_index);
        if (extra_index) {
            d += extra_index;
            d += "0";
        }
    }

    void open(const core::block_start& s, std::vector<sse_frame>& out) {
        const std::size_t at = blocks_.size();
        blocks_.push_back({s.index, s.kind, responses_detail::item_id(responses_detail::item_prefix(s.kind), ctx_.id, at)});
        auto& d = begin(out, "response.output_item.added");
        d += R"(,"output_index":)";
        d += std::to_string(at);
        d += R"(,"item":)";
        responses_detail::put_item(d, answer_.message().content[at], ctx_.id, at, false, "in_progress");
        d += '}';
        if (s.kind == core::block_kind::text) {
            auto& p = begin(out, "response.content_part.added");
            locate(p, blocks_.back(), at, R"(,"content_index":)");
            p += R"(,"part":)";
            responses_detail::put_output_text(p, "");
            p += '}';
        }
    }

    void delta(const core::block_delta& dl, std::vector<sse_frame>& out) {
        if (dl.text.empty() || dl.kind == core::delta_kind::signature) return; // the signature shows at done
        block& b = *find(dl.index);
        const std::size_t at = std::size_t(&b - blocks_.data());
        if (dl.kind == core::delta_kind::reasoning && !b.summary_open) {
            b.summary_open = true;
            auto& p = begin(out, "response.reasoning_summary_part.added");
            locate(p, b, at, R"(,"summary_index":)");
            p += R"(,"part":)";
            responses_detail::put_summary_text(p, "");
            p += '}';
        }
        switch (dl.kind) {
        case core::delta_kind::text: {
            auto& d = begin(out, "response.output_text.delta");
            locate(d, b, at, R"(,"content_index":)");
            d += R"(,"delta":)";
            responses_detail::put_string(d, dl.text);
            d += R"(,"logprobs":[]})";
            break;
        }
        case core::delta_kind::arguments: {
            auto& d = begin(out, "response.function_call_arguments.delta");
            locate(d, b, at, nullptr);
            d += R"(,"delta":)";
            responses_detail::put_string(d, dl.text);
            d += '}';
            break;
        }
        case core::delta_kind::reasoning: {
            auto& d = begin(out, "response.reasoning_summary_text.delta");
            locate(d, b, at, R"(,"summary_index":)");
            d += R"(,"delta":)";
            responses_detail::put_string(d, dl.text);
            d += '}';
            break;
        }
        case core::delta_kind::signature: break;
        }
    }

    void close(block& b, std::vector<sse_frame>& out) {
        if (b.closed) return;
        b.closed = true;
        const std::size_t at = std::size_t(&b - blocks_.data());
        const auto& part = answer_.message().content[at];
        if (const auto* t = std::get_if<core::text_part>(&part)) {
            auto& d = begin(out, "response.output_text.done");
            locate(d, b, at, R"(,"content_index":)");
            d += R"(,"text":)";
            responses_detail::put_string(d, t->text);
            d += R"(,"logprobs":[]})";
            auto& p = begin(out, "response.content_part.done");
            locate(p, b, at, R"(,"content_index":)");
            p += R"(,"part":)";
            responses_detail::put_output_text(p, t->text);
            p += '}';
        } else if (const auto* c = std::get_if<core::tool_call_part>(&part)) {
            auto& d = begin(out, "response.function_call_arguments.done");
            locate(d, b, at, nullptr);
            d += R"(,"arguments":)";
            responses_detail::put_string(d, responses_detail::arguments_of(*c));
            d += '}';
        } else if (const auto* r = std::get_if<core::reasoning_part>(&part); r && b.summary_open) {
            auto& d = begin(out, "response.reasoning_summary_text.done");
            locate(d, b, at, R"(,"summary_index":)");
            d += R"(,"text":)";
            responses_detail::put_string(d, r->text);
            d += '}';
            auto& p = begin(out, "response.reasoning_summary_part.done");
            locate(p, b, at, R"(,"summary_index":)");
            p += R"(,"part":)";
            responses_detail::put_summary_text(p, r->text);
            p += '}';
        }
        auto& d = begin(out, "response.output_item.done");
        d += R"(,"output_index":)";
        d += std::to_string(at);
        d += R"(,"item":)";
        responses_detail::put_item(d, part, ctx_.id, at, true, "completed");
        d += '}';
    }

    void finish(std::vector<sse_frame>& out) {
        for (auto& b : blocks_) close(b, out); // blocks the upstream never stopped end with the message
        const auto state = responses_detail::state_of(answer_);
        lifecycle(out, state == responses_detail::response_state::incomplete ? "response.incomplete"
                                                                              : "response.completed",
                  state);
        finished_ = true;
    }

    void fail(std::vector<sse_frame>& out) {
        lifecycle(out, "response.failed", responses_detail::response_state::failed);
        const auto err = responses_detail::failure_of(answer_);
        const auto code = responses_detail::failure_code(err);
        // Flat fields for the published ResponseErrorEvent; `error` nested too, since that is what
        // both SDKs' stream readers turn into a thrown APIError.
        auto& d = begin(out, "error");
        d += R"(,"code":)";
        responses_detail::put_string(d, code);
        d += R"(,"message":)";
        responses_detail::put_string(d, err.message);
        d += R"(,"param":)";
        if (err.param.empty()) d += "null";
        else responses_detail::put_string(d, err.param);
        d += R"(,"error":)";
        object_writer e(d);
        e.string("type", core::openai_type(err.kind));
        e.string("code", code);
        e.string("message", err.message);
        if (err.param.empty()) e.raw("param", "null");
        else e.string("param", err.param);
        e.close();
        d += '}';
        finished_ = true;
    }

    block* find(std::uint32_t index) noexcept {
        for (auto& b : blocks_) // the aggregate already refused unknown indexes
            if (b.index == index) return &b;
        return nullptr;
    }

    response_context ctx_;
    responses_echo echo_;
    core::response_aggregate answer_;
    std::vector<block> blocks_;
    std::uint64_t sequence_ = 0;
    bool started_ = false;
    bool finished_ = false;
};

} // namespace sluice::api

#endif
