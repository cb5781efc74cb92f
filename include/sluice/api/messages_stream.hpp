#ifndef SLUICE_API_MESSAGES_STREAM_HPP
#define SLUICE_API_MESSAGES_STREAM_HPP

// Canonical events -> the SSE events of a streaming `POST /v1/messages`, as the Anthropic SDK and
// Claude Code read them:
//
//   message_start  ping  (content_block_start  content_block_delta*  content_block_stop)*
//   message_delta  message_stop                       or, at any point, one `error` and nothing more
//
// Decisions, each one line:
// - Blocks go out strictly one after another, numbered 0, 1, 2… in the order they started, with
//   the same number on start, deltas and stop (WIRE.md failure 3). Canonical blocks may
//   interleave (parallel tool calls from an OpenAI upstream): the first unfinished block streams
//   live, later ones are held (their deltas joined) and go out when the blocks before them stop.
// - A text or thinking block goes out at its first content: one that ends empty is never sent
//   (Anthropic refuses empty text blocks when the turn comes back). A tool_use block goes out at
//   once, input {} in its start and the arguments as input_json_delta fragments, as the model
//   wrote them: the client's own parser reads them, nothing here replaces them with {}.
// - A block's signature is held and sent as one signature_delta just before its stop: the SDK
//   keeps only the last signature_delta of a block.
// - A delta of the wrong kind for its block, or for a block never started or already stopped, is
//   an `error` event (api_error), never a mixed block (WIRE.md failure 5).
// - Usage (WIRE.md failure 4): message_start is sent when the first block starts (or the message
//   ends), so input and cache counters an Anthropic upstream reports up front are in it; an
//   OpenAI upstream reports usage only at the end, so there message_start says 0. message_delta
//   always carries the full totals: input_tokens, cache_creation_input_tokens,
//   cache_read_input_tokens and output_tokens. Both the SDK and Claude Code take the input-side
//   counters from message_delta when it has them. Usage after message_stop is not sent.
// - One `ping` follows message_start, as Anthropic sends it.
// - An error event (WIRE.md failure 7) is {"type":"error","error":{type,message}} and the last
//   event; a message_stop whose finish is `error` is sent as an error event too.

#include <sluice/api/codec.hpp>
#include <sluice/api/messages_encode.hpp>
#include <sluice/api/messages_json.hpp>

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

class messages_stream_encoder {
public:
    explicit messages_stream_encoder(response_context context) : context_(std::move(context)) {}

    /// Appends the frames `e` makes (often none: usage and held blocks wait) to `out`.
    void add(const core::event& e, std::vector<sse_frame>& out) {
        if (done_) return;
        std::visit([&](const auto& x) { on(x, out); }, e);
    }

    /// message_stop or an error went out: nothing more will.
    bool done() const noexcept { return done_; }

private:
    struct block {
        std::uint32_t index = 0; // canonical
        core::block_kind kind = core::block_kind::text;
        std::string tool_id;
        std::string tool_name;
        std::vector<std::pair<core::delta_kind, std::string>> held; // deltas not sent yet, joined by kind
        std::string signature;                                      // sent whole, just before the stop
        std::uint32_t wire = 0;                                     // Anthropic's index, once announced
        bool announced = false;
        bool stopped = false; // the canonical stop arrived
    };

    // ------------------------------------------------------------ events

    void on(const core::message_start& m, std::vector<sse_frame>&) {
        if (seen_start_) return;
        seen_start_ = true;
        upstream_id_ = m.id;
        upstream_model_ = m.model;
    }

    void on(const core::usage& u, std::vector<sse_frame>&) { usage_ += u; }

    void on(const core::block_start& b, std::vector<sse_frame>& out) {
        open_message(out);
        if (find(b.index) != npos) return malformed("block " + std::to_string(b.index) + " started twice", out);
        blocks_.push_back(block{b.index, b.kind, b.tool_id, b.tool_name, {}, {}, 0, false, false});
        if (b.kind == core::block_kind::tool_call) saw_tool_call_ = true;
        if (blocks_.size() - 1 == live_ && b.kind == core::block_kind::tool_call) announce(blocks_.back(), out);
    }

    void on(const core::block_delta& d, std::vector<sse_frame>& out) {
        const std::size_t at = find(d.index);
        if (at == npos) return malformed("delta for block " + std::to_string(d.index) + " that never started", out);
        block& b = blocks_[at];
        if (b.stopped) return malformed("delta for block " + std::to_string(d.index) + " after its stop", out);
        if (core::block_kind_of(d.kind) != b.kind)
            return malformed("a " + std::string(core::to_string(core::block_kind_of(d.kind))) + " delta in " +
                                 std::string(core::to_string(b.kind)) + " block " + std::to_string(d.index),
                             out);
        if (d.text.empty()) return;
        if (d.kind == core::delta_kind::signature) {
            b.signature += d.text;
        } else if (at == live_) {
            announce(b, out);
            send_delta(b, d.kind, d.text, out);
        } else if (!b.held.empty() && b.held.back().first == d.kind) {
            b.held.back().second += d.text;
        } else {
            b.held.emplace_back(d.kind, d.text);
        }
    }

    void on(const core::block_stop& s, std::vector<sse_frame>& out) {
        const std::size_t at = find(s.index);
        if (at == npos) return malformed("stop for block " + std::to_string(s.index) + " that never started", out);
        blocks_[at].stopped = true;
        if (at == live_) advance(out);
    }

    void on(const core::message_stop& m, std::vector<sse_frame>& out) {
        if (m.finish == core::finish_reason::error)
            return fail(core::error{core::error_kind::upstream, "the upstream ended the answer with an error", {}, {}},
                        out);
        open_message(out);
        for (; live_ < blocks_.size(); ++live_) { // blocks left open still end before the message
            flush(blocks_[live_], out);
            close(blocks_[live_], out);
        }
        std::string data = "{\"type\":\"message_delta\",\"delta\":{";
        messages_detail::append_stop(data, m.finish, m.stop_sequence, saw_tool_call_);
        data += "},\"usage\":";
        messages_detail::append_usage(data, usage_);
        data += '}';
        out.push_back({"message_delta", std::move(data)});
        out.push_back({"message_stop", "{\"type\":\"message_stop\"}"});
        done_ = true;
    }

    void on(const core::error& e, std::vector<sse_frame>& out) { fail(e, out); }

    // ------------------------------------------------------------ the wire

    void open_message(std::vector<sse_frame>& out) {
        if (started_) return;
        started_ = true;
        namespace d = messages_detail;
        std::string data = "{\"type\":\"message_start\",\"message\":{\"id\":";
        d::append_string(data, context_.id.empty() ? upstream_id_ : context_.id);
        data += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
        d::append_string(data, context_.model.empty() ? upstream_model_ : context_.model);
        data += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
        d::append_usage(data, usage_);
        data += "}}";
        out.push_back({"message_start", std::move(data)});
        out.push_back({"ping", "{\"type\":\"ping\"}"});
    }

    /// The live block stopped: close it and bring out the blocks held behind it.
    void advance(std::vector<sse_frame>& out) {
        while (live_ < blocks_.size()) {
            block& b = blocks_[live_];
            flush(b, out);
            if (!b.stopped) return; // the next live block
            close(b, out);
            ++live_;
        }
    }

    void flush(block& b, std::vector<sse_frame>& out) {
        if (b.held.empty() && b.kind != core::block_kind::tool_call) return;
        announce(b, out);
        for (auto& [kind, text] : b.held) send_delta(b, kind, text, out);
        b.held.clear();
        b.held.shrink_to_fit();
    }

    void close(block& b, std::vector<sse_frame>& out) {
        if (!b.signature.empty()) {
            announce(b, out);
            send_delta(b, core::delta_kind::signature, b.signature, out);
            b.signature.clear();
            b.signature.shrink_to_fit();
        }
        if (!b.announced) return; // an empty text or thinking block: never sent
        std::string data = "{\"type\":\"content_block_stop\",\"index\":";
        messages_detail::append_number(data, b.wire);
        data += '}';
        out.push_back({"content_block_stop", std::move(data)});
    }

    void announce(block& b, std::vector<sse_frame>& out) {
        if (b.announced) return;
        b.announced = true;
        b.wire = next_wire_++;
        namespace d = messages_detail;
        std::string data = "{\"type\":\"content_block_start\",\"index\":";
        d::append_number(data, b.wire);
        switch (b.kind) {
        case core::block_kind::text: data += ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"; break;
        case core::block_kind::reasoning:
            data += ",\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}";
            break;
        case core::block_kind::tool_call:
            data += ",\"content_block\":{\"type\":\"tool_use\",\"id\":";
            d::append_string(data, b.tool_id);
            data += ",\"name\":";
            d::append_string(data, b.tool_name);
            data += ",\"input\":{}}}";
            break;
        }
        out.push_back({"content_block_start", std::move(data)});
    }

    void send_delta(const block& b, core::delta_kind kind, std::string_view text, std::vector<sse_frame>& out) {
        namespace d = messages_detail;
        std::string data;
        data.reserve(text.size() + 80);
        data += "{\"type\":\"content_block_delta\",\"index\":";
        d::append_number(data, b.wire);
        switch (kind) {
        case core::delta_kind::text: data += ",\"delta\":{\"type\":\"text_delta\",\"text\":"; break;
        case core::delta_kind::arguments: data += ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"; break;
        case core::delta_kind::reasoning: data += ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"; break;
        case core::delta_kind::signature: data += ",\"delta\":{\"type\":\"signature_delta\",\"signature\":"; break;
        }
        d::append_string(data, text);
        data += "}}";
        out.push_back({"content_block_delta", std::move(data)});
    }

    void fail(const core::error& e, std::vector<sse_frame>& out) {
        out.push_back({"error", boost::json::serialize(core::anthropic_error_json(e))});
        done_ = true;
    }

    void malformed(std::string what, std::vector<sse_frame>& out) {
        fail(core::error{core::error_kind::internal, "malformed event stream: " + std::move(what), {}, {}}, out);
    }

    static constexpr std::size_t npos = std::size_t(-1);

    std::size_t find(std::uint32_t index) const noexcept {
        for (std::size_t i = 0; i < blocks_.size(); ++i) // a handful of blocks: a scan beats a map
            if (blocks_[i].index == index) return i;
        return npos;
    }

    response_context context_;
    std::string upstream_id_;
    std::string upstream_model_;
    std::vector<block> blocks_; // every block of the message, in start order
    std::size_t live_ = 0;      // the first block not yet finished on the wire
    std::uint32_t next_wire_ = 0;
    core::usage usage_;
    bool seen_start_ = false;
    bool started_ = false; // message_start went out
    bool saw_tool_call_ = false;
    bool done_ = false;
};

} // namespace sluice::api

#endif
