#ifndef SLUICE_API_CHAT_COMPLETIONS_ENCODE_HPP
#define SLUICE_API_CHAT_COMPLETIONS_ENCODE_HPP

// Canonical events -> what a Chat Completions client reads: one chat.completion body, or
// chat.completion.chunk frames ending in [DONE]. Keys come in one fixed order (golden tests
// compare bytes), written straight into strings: no JSON tree per chunk.
//
// Decisions:
//   - system_fingerprint is left out (the SDKs type it optional; null trips strict clients).
//   - refusal is always null: the canonical answer carries refusals as text.
//   - reasoning goes to `reasoning_content` (the DeepSeek / vLLM field), never into content;
//     signatures and redacted reasoning have no place in this API and are dropped.
//   - A turn with tool calls that says "stop" ends in "tool_calls" (WIRE.md failure 2).
//   - A tool call whose arguments never arrived gets "{}", so clients that JSON.parse them work.
//   - usage.prompt_tokens = input + cache_read + cache_write (core::usage keeps them apart);
//     prompt_tokens_details.cached_tokens = cache_read.

#include <sluice/api/chat_completions_json.hpp>
#include <sluice/api/codec.hpp>
#include <sluice/core/aggregate.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/event.hpp>
#include <sluice/core/usage.hpp>

#include <boost/json/serialize.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::api {

namespace chat_completions_detail {

/// The API's word for a finish; `error` never reaches a client as a finish (see the encoders).
constexpr std::string_view finish_word(core::finish_reason f) noexcept {
    switch (f) {
    case core::finish_reason::stop: return "stop";
    case core::finish_reason::length: return "length";
    case core::finish_reason::tool_calls: return "tool_calls";
    case core::finish_reason::content_filter: return "content_filter";
    case core::finish_reason::error: break;
    }
    return "stop";
}

constexpr core::finish_reason settle_finish(core::finish_reason f, bool made_tool_calls) noexcept {
    return made_tool_calls && f == core::finish_reason::stop ? core::finish_reason::tool_calls : f;
}

inline void append_usage(std::string& out, const core::usage& u) {
    out += "{\"prompt_tokens\":";
    append_json_number(out, u.prompt());
    out += ",\"completion_tokens\":";
    append_json_number(out, u.output);
    out += ",\"total_tokens\":";
    append_json_number(out, u.total());
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    append_json_number(out, u.cache_read);
    out += "},\"completion_tokens_details\":{\"reasoning_tokens\":";
    append_json_number(out, u.reasoning);
    out += "}}";
}

/// `{"id":..,"object":..,"created":..,"model":..,` — what every body and chunk starts with.
inline std::string head(std::string_view object, std::string_view id, std::int64_t created, std::string_view model) {
    std::string out = "{\"id\":";
    append_json_string(out, id);
    out += ",\"object\":\"";
    out += object;
    out += "\",\"created\":";
    append_json_number(out, created);
    out += ",\"model\":";
    append_json_string(out, model);
    out += ',';
    return out;
}

inline core::error malformed(std::string what) {
    return core::error{core::error_kind::internal, "malformed event stream: " + std::move(what), {}, {}};
}

} // namespace chat_completions_detail

/// The chat.completion body for a complete answer. Errors are the executor's to render with
/// their HTTP status; handed an aggregate that failed or never finished anyway, this returns
/// the OpenAI error body rather than a body that looks like a clean answer.
inline std::string encode_chat_completions_body(const core::response_aggregate& answer, const response_context& ctx) {
    namespace detail = chat_completions_detail;
    if (answer.error()) return core::openai_error_body(*answer.error());
    if (!answer.complete()) return core::openai_error_body(detail::malformed("the answer never finished"));
    if (answer.finish() == core::finish_reason::error)
        return core::openai_error_body(detail::malformed("the answer finished with an error and no error event"));

    std::string text, reasoning, calls;
    for (const auto& part : answer.message().content) {
        if (const auto* t = std::get_if<core::text_part>(&part)) {
            text += t->text;
        } else if (const auto* r = std::get_if<core::reasoning_part>(&part)) {
            if (!r->redacted) reasoning += r->text;
        } else if (const auto* c = std::get_if<core::tool_call_part>(&part)) {
            calls += calls.empty() ? "[" : ",";
            calls += "{\"id\":";
            detail::append_json_string(calls, c->id);
            calls += ",\"type\":\"function\",\"function\":{\"name\":";
            detail::append_json_string(calls, c->name);
            calls += ",\"arguments\":";
            detail::append_json_string(calls, c->arguments.empty() ? std::string_view("{}") : c->arguments);
            calls += "}}";
        }
    }
    if (!calls.empty()) calls += ']';

    std::string out = detail::head("chat.completion", ctx.id.empty() ? answer.id() : ctx.id, ctx.created,
                                   ctx.model.empty() ? answer.model() : ctx.model);
    out += "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
    if (text.empty() && !calls.empty()) out += "null";
    else detail::append_json_string(out, text);
    out += ",\"refusal\":null";
    if (!calls.empty()) {
        out += ",\"tool_calls\":";
        out += calls;
    }
    if (!reasoning.empty()) {
        out += ",\"reasoning_content\":";
        detail::append_json_string(out, reasoning);
    }
    out += "},\"logprobs\":null,\"finish_reason\":\"";
    out += detail::finish_word(detail::settle_finish(*answer.finish(), !calls.empty()));
    out += "\"}],\"usage\":";
    detail::append_usage(out, answer.usage());
    out += '}';
    return out;
}

/// Events -> chat.completion.chunk frames (data only, no event names):
///   first event          {"role":"assistant","content":""}
///   text delta           {"content":..}
///   reasoning delta      {"reasoning_content":..}
///   tool_call block      {"tool_calls":[{index,id,type,function:{name,arguments:""}}]}, then
///                        {"tool_calls":[{index,function:{arguments:..}}]} per fragment; OpenAI
///                        tool indexes count 0, 1, ... in the order the blocks start
///   message_stop         {} with finish_reason; with include_usage a chunk with choices [] and
///                        the usage (every other chunk then has "usage":null, as OpenAI sends);
///                        then [DONE]
///   error                {"error":{message,type,param,code}} and nothing after, no [DONE]
/// A stream that breaks the event grammar (a delta for an unknown block, a text delta in a
/// reasoning block) ends with an internal error frame instead of a wrong answer.
class chat_completions_stream_encoder {
public:
    explicit chat_completions_stream_encoder(response_context ctx) : ctx_(std::move(ctx)) { make_head(); }

    void add(const core::event& e, std::vector<sse_frame>& out) {
        if (ended_) return;
        std::visit([&](const auto& x) { on(x, out); }, e);
    }

    /// [DONE] or an error frame was written: nothing more will be.
    bool done() const noexcept { return ended_; }

private:
    struct block {
        std::uint32_t index;
        core::block_kind kind;
        std::uint32_t tool; // the OpenAI tool index, for tool_call blocks
        bool open;
        bool has_arguments;
    };

    void on(const core::message_start& m, std::vector<sse_frame>& out) {
        if (started_) return;
        if (ctx_.id.empty() || ctx_.model.empty()) {
            if (ctx_.id.empty()) ctx_.id = m.id;
            if (ctx_.model.empty()) ctx_.model = m.model;
            make_head();
        }
        start(out);
    }

    void on(const core::block_start& b, std::vector<sse_frame>& out) {
        start(out);
        if (find(b.index)) return fail(out, "block " + std::to_string(b.index) + " started twice");
        block slot{b.index, b.kind, 0, true, false};
        if (b.kind == core::block_kind::tool_call) {
            slot.tool = tools_++;
            std::string delta = "{\"tool_calls\":[{\"index\":";
            chat_completions_detail::append_json_number(delta, std::uint64_t(slot.tool));
            delta += ",\"id\":";
            chat_completions_detail::append_json_string(delta, b.tool_id);
            delta += ",\"type\":\"function\",\"function\":{\"name\":";
            chat_completions_detail::append_json_string(delta, b.tool_name);
            delta += ",\"arguments\":\"\"}}]}";
            chunk(delta, {}, out);
        }
        blocks_.push_back(slot);
    }

    void on(const core::block_delta& d, std::vector<sse_frame>& out) {
        start(out);
        block* slot = find(d.index);
        const std::string index = std::to_string(d.index);
        if (!slot) return fail(out, "delta for block " + index + " that never started");
        if (!slot->open) return fail(out, "delta for block " + index + " after its stop");
        if (core::block_kind_of(d.kind) != slot->kind)
            return fail(out, "a " + std::string(core::to_string(core::block_kind_of(d.kind))) + " delta in " +
                                 std::string(core::to_string(slot->kind)) + " block " + index);
        if (d.text.empty() || d.kind == core::delta_kind::signature) return;
        std::string delta;
        switch (d.kind) {
        case core::delta_kind::text: delta = "{\"content\":"; break;
        case core::delta_kind::reasoning: delta = "{\"reasoning_content\":"; break;
        case core::delta_kind::arguments: return arguments(*slot, d.text, out);
        case core::delta_kind::signature: return;
        }
        chat_completions_detail::append_json_string(delta, d.text);
        delta += '}';
        chunk(delta, {}, out);
    }

    void on(const core::block_stop& s, std::vector<sse_frame>& out) {
        block* slot = find(s.index);
        if (!slot) return fail(out, "stop for block " + std::to_string(s.index) + " that never started");
        if (slot->open && slot->kind == core::block_kind::tool_call && !slot->has_arguments)
            arguments(*slot, "{}", out);
        slot->open = false;
    }

    void on(const core::usage& u, std::vector<sse_frame>&) { usage_ += u; }

    void on(const core::message_stop& m, std::vector<sse_frame>& out) {
        if (m.finish == core::finish_reason::error)
            return fail(out, "the answer finished with an error and no error event");
        start(out);
        for (auto& slot : blocks_)
            if (slot.kind == core::block_kind::tool_call && !slot.has_arguments) arguments(slot, "{}", out);
        chunk("{}", chat_completions_detail::finish_word(chat_completions_detail::settle_finish(m.finish, tools_ > 0)),
              out);
        if (ctx_.include_usage) {
            std::string data = head_;
            data += "\"choices\":[],\"usage\":";
            chat_completions_detail::append_usage(data, usage_);
            data += '}';
            out.push_back({{}, std::move(data)});
        }
        out.push_back({{}, "[DONE]"});
        ended_ = true;
    }

    void on(const core::error& e, std::vector<sse_frame>& out) {
        out.push_back({{}, core::openai_error_body(e)});
        ended_ = true;
    }

    void arguments(block& slot, std::string_view fragment, std::vector<sse_frame>& out) {
        std::string delta = "{\"tool_calls\":[{\"index\":";
        chat_completions_detail::append_json_number(delta, std::uint64_t(slot.tool));
        delta += ",\"function\":{\"arguments\":";
        chat_completions_detail::append_json_string(delta, fragment);
        delta += "}}]}";
        chunk(delta, {}, out);
        slot.has_arguments = true;
    }

    /// The role chunk, once, before anything else the client sees.
    void start(std::vector<sse_frame>& out) {
        if (started_) return;
        started_ = true;
        chunk("{\"role\":\"assistant\",\"content\":\"\"}", {}, out);
    }

    void chunk(std::string_view delta, std::string_view finish, std::vector<sse_frame>& out) {
        std::string data;
        data.reserve(head_.size() + delta.size() + 96);
        data += head_;
        data += "\"choices\":[{\"index\":0,\"delta\":";
        data += delta;
        data += ",\"logprobs\":null,\"finish_reason\":";
        if (finish.empty()) {
            data += "null";
        } else {
            data += '"';
            data += finish;
            data += '"';
        }
        data += "}]";
        if (ctx_.include_usage) data += ",\"usage\":null";
        data += '}';
        out.push_back({{}, std::move(data)});
    }

    void fail(std::vector<sse_frame>& out, std::string what) {
        on(chat_completions_detail::malformed(std::move(what)), out);
    }

    block* find(std::uint32_t index) noexcept {
        for (auto& b : blocks_) // a handful of blocks: a scan beats a map
            if (b.index == index) return &b;
        return nullptr;
    }

    void make_head() {
        head_ = chat_completions_detail::head("chat.completion.chunk", ctx_.id, ctx_.created, ctx_.model);
    }

    response_context ctx_;
    std::string head_; // the chunk's opening keys, the same on every chunk
    std::vector<block> blocks_;
    std::uint32_t tools_ = 0;
    core::usage usage_;
    bool started_ = false;
    bool ended_ = false;
};

} // namespace sluice::api

#endif
