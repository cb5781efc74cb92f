#include "stream.hpp"

#include "error.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace sluice::anthropic {

namespace json = boost::json;

namespace {

/// Each delta type, the field that holds its fragment, and its canonical kind.
struct delta_form {
    std::string_view type;
    std::string_view field;
    core::delta_kind kind;
};

constexpr std::array<delta_form, 4> delta_forms{{
    {"text_delta", "text", core::delta_kind::text},
    {"input_json_delta", "partial_json", core::delta_kind::arguments},
    {"thinking_delta", "thinking", core::delta_kind::reasoning},
    {"signature_delta", "signature", core::delta_kind::signature},
}};

core::error upstream_error(std::string message) {
    return core::error{core::error_kind::upstream, std::move(message), {}, {}};
}

} // namespace

void stream_decoder::feed(std::string_view bytes, std::vector<core::event>& out) {
    if (ended_) return; // what follows the end is not read, nor kept
    const bool ok =
        parser_.feed(bytes, [&](std::string_view name, std::string_view data) { on_sse_event(name, data, out); });
    if (!ok && !ended_)
        malformed("an event is longer than " + std::to_string(core::sse_parser::max_event_bytes) + " bytes", out);
}

void stream_decoder::finish(std::vector<core::event>& out) {
    // A last event without its blank line counts only when whole: cut JSON is the cut below.
    if (!ended_)
        parser_.finish([&](std::string_view name, std::string_view data) { on_sse_event(name, data, out, true); });
    if (ended_) return;
    fail(upstream_error(started_ ? "anthropic upstream stream ended before message_stop"
                                 : "anthropic upstream stream ended before message_start"),
         out);
}

void stream_decoder::on_sse_event(std::string_view name, std::string_view payload, std::vector<core::event>& out,
                                  bool at_end) {
    if (ended_ || payload.empty()) return;
    boost::system::error_code ec;
    const json::value parsed = json::parse(payload, ec);
    const auto* data = ec ? nullptr : parsed.if_object();
    if (!data && at_end) return;
    if (!data) return malformed("the data of event '" + std::string(name) + "' is not a JSON object", out);

    // The data's own type is authoritative; the SSE event name stands in when it is missing.
    std::string_view type = string_at(*data, "type");
    if (type.empty()) type = name;

    if (type == "content_block_delta")
        on_block_delta(*data, out);
    else if (type == "content_block_start")
        on_block_start(*data, out);
    else if (type == "content_block_stop")
        on_block_stop(*data, out);
    else if (type == "message_start")
        on_message_start(*data, out);
    else if (type == "message_delta")
        on_message_delta(*data, out);
    else if (type == "message_stop")
        on_message_stop(out);
    else if (type == "error")
        on_error(*data, out);
    // ping and event types added after this plugin was written are ignored, as Anthropic asks.
}

void stream_decoder::on_error(const json::object& data, std::vector<core::event>& out) {
    const auto* inner = object_at(data, "error");
    fail(inner ? error_from_object(*inner, string_at(data, "request_id"))
               : upstream_error("anthropic upstream sent an error event without an error"),
         out);
}

void stream_decoder::on_message_start(const json::object& data, std::vector<core::event>& out) {
    if (started_ && !stand_in_start_) return malformed("a second message_start", out);
    const auto* message = object_at(data, "message");
    if (!message) return malformed("message_start without a message", out);
    if (!started_)
        out.emplace_back(
            core::message_start{std::string(string_at(*message, "id")), std::string(string_at(*message, "model"))});
    started_ = true;
    stand_in_start_ = false;
    if (const auto* u = object_at(*message, "usage"))
        if (auto grew = usage_.advance(usage_totals::read(*u)); !grew.empty()) out.emplace_back(grew);
}

void stream_decoder::on_block_start(const json::object& data, std::vector<core::event>& out) {
    const auto native = count_at(data, "index");
    const auto* content = object_at(data, "content_block");
    if (!native || !content) return malformed("content_block_start without an index or a content_block", out);
    if (find(std::uint32_t(*native))) return malformed("block " + std::to_string(*native) + " started twice", out);
    ensure_started(out);

    block b;
    b.native = std::uint32_t(*native);
    const auto kind = string_at(*content, "type");
    if (kind == "text") {
        b.kind = core::block_kind::text;
    } else if (kind == "thinking") {
        b.kind = core::block_kind::reasoning;
    } else if (kind == "tool_use") {
        b.kind = core::block_kind::tool_call;
        const auto* input = content->if_contains("input");
        if (input && input->is_object() && !input->as_object().empty()) b.start_input = json::serialize(*input);
    } else {
        b.skipped = true; // redacted_thinking, server_tool_use, web_search_tool_result...
        blocks_.push_back(std::move(b));
        return;
    }
    b.index = next_index_++;
    if (b.kind == core::block_kind::tool_call) {
        saw_tool_call_ = true;
        out.push_back(core::tool_call_start(b.index, std::string(string_at(*content, "id")),
                                            std::string(string_at(*content, "name"))));
    } else {
        out.emplace_back(core::block_start{b.index, b.kind, {}, {}});
    }
    // A start may carry initial text (compatible servers do); pass it on as a first delta.
    if (b.kind == core::block_kind::text) {
        if (auto text = string_at(*content, "text"); !text.empty())
            out.push_back(core::text_delta(b.index, std::string(text)));
    } else if (b.kind == core::block_kind::reasoning) {
        if (auto text = string_at(*content, "thinking"); !text.empty())
            out.push_back(core::reasoning_delta(b.index, std::string(text)));
        if (auto sig = string_at(*content, "signature"); !sig.empty())
            out.push_back(core::signature_delta(b.index, std::string(sig)));
    }
    blocks_.push_back(std::move(b));
}

void stream_decoder::on_block_delta(const json::object& data, std::vector<core::event>& out) {
    const auto native = count_at(data, "index");
    const auto* delta = object_at(data, "delta");
    if (!native || !delta) return malformed("content_block_delta without an index or a delta", out);
    block* b = find(std::uint32_t(*native));
    if (!b) return malformed("a delta for block " + std::to_string(*native) + " that never started", out);
    if (b->skipped) return;
    if (!b->open) return malformed("a delta for block " + std::to_string(*native) + " after its stop", out);

    const auto type = string_at(*delta, "type");
    const auto* form =
        std::find_if(delta_forms.begin(), delta_forms.end(), [&](const delta_form& f) { return f.type == type; });
    if (form == delta_forms.end()) return; // citations_delta and later additions: no canonical form yet
    const auto kind = form->kind;
    const auto text = string_at(*delta, form->field);

    if (core::block_kind_of(kind) != b->kind)
        return malformed("a " + std::string(type) + " in " + std::string(core::to_string(b->kind)) + " block " +
                             std::to_string(*native),
                         out);
    if (text.empty()) return;
    if (kind == core::delta_kind::arguments) b->has_arguments = true;
    out.emplace_back(core::block_delta{b->index, kind, std::string(text)});
}

void stream_decoder::on_block_stop(const json::object& data, std::vector<core::event>& out) {
    const auto native = count_at(data, "index");
    if (!native) return malformed("content_block_stop without an index", out);
    block* b = find(std::uint32_t(*native));
    if (!b) return malformed("a stop for block " + std::to_string(*native) + " that never started", out);
    if (!b->open) return malformed("block " + std::to_string(*native) + " stopped twice", out);
    close(*b, out);
}

void stream_decoder::on_message_delta(const json::object& data, std::vector<core::event>& out) {
    ensure_started(out);
    if (const auto* delta = object_at(data, "delta")) {
        if (auto reason = string_at(*delta, "stop_reason"); !reason.empty()) stop_reason_ = reason;
        if (auto seq = string_at(*delta, "stop_sequence"); !seq.empty()) stop_sequence_ = seq;
    }
    if (const auto* u = object_at(data, "usage"))
        if (auto grew = usage_.advance(usage_totals::read(*u)); !grew.empty()) out.emplace_back(grew);
}

void stream_decoder::on_message_stop(std::vector<core::event>& out) {
    ensure_started(out);
    for (auto& b : blocks_)
        if (b.open) close(b, out); // a block the upstream left open still ends before the message
    out.emplace_back(core::message_stop{finish_for(stop_reason_, saw_tool_call_), std::move(stop_sequence_)});
    ended_ = true;
}

void stream_decoder::ensure_started(std::vector<core::event>& out) {
    if (started_) return;
    // Content before message_start: the message still opens first; a late message_start then
    // adds its usage only.
    started_ = true;
    stand_in_start_ = true;
    out.emplace_back(core::message_start{});
}

void stream_decoder::close(block& b, std::vector<core::event>& out) {
    b.open = false;
    if (b.skipped) return;
    if (b.kind == core::block_kind::tool_call && !b.has_arguments)
        out.push_back(core::arguments_delta(b.index, b.start_input.empty() ? "{}" : std::move(b.start_input)));
    out.emplace_back(core::block_stop{b.index});
}

stream_decoder::block* stream_decoder::find(std::uint32_t native) noexcept {
    for (auto& b : blocks_)
        if (b.native == native) return &b;
    return nullptr;
}

void stream_decoder::fail(core::error e, std::vector<core::event>& out) {
    out.emplace_back(std::move(e));
    ended_ = true;
}

void stream_decoder::malformed(std::string what, std::vector<core::event>& out) {
    fail(upstream_error("anthropic upstream stream is malformed: " + std::move(what)), out);
}

} // namespace sluice::anthropic
