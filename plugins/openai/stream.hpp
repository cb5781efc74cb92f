#ifndef SLUICE_PLUGINS_OPENAI_STREAM_HPP
#define SLUICE_PLUGINS_OPENAI_STREAM_HPP

// chat.completion.chunk SSE -> canonical events, as the bytes arrive.
//
//   first chunk              message_start {id, model}
//   delta.reasoning_content  reasoning block (or delta.reasoning)   } one of these two open at a
//   delta.content            text block                             } time: a change of kind
//                                                                     closes the open one (failure 5)
//   delta.tool_calls[i]      one tool_call block per upstream index i; the blocks stay open to the
//                            end, since OpenAI may interleave the fragments of parallel calls
//                            (failures 1 and 3)
//   finish_reason            remembered
//   usage                    remembered, the last one wins (vLLM's continuous usage repeats it)
//   [DONE]                   open blocks stop, usage, message_stop
//   {"error":{...}}          error, and nothing after it
//   end without [DONE]       usage if any, then an error: never a clean end (failure 7)
// Only choice 0 is read: the canonical answer is one message.

#include "errors.hpp"
#include <sluice/core/sse_parser.hpp>
#include "wire.hpp"

#include <sluice/core/event.hpp>
#include <sluice/plugin/provider.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::providers::openai {

class chat_stream_decoder final : public plugin::stream_decoder {
public:
    /// `requested_model` names the answer when the upstream's chunks do not.
    explicit chat_stream_decoder(std::string requested_model) : fallback_model_(std::move(requested_model)) {}

    void feed(std::string_view bytes, std::vector<core::event>& out) override {
        if (ended_) return;
        const bool fits = sse_.feed(bytes, [&](std::string_view name, std::string_view data) { on_event(name, data, out); });
        if (!fits && !ended_)
            fail(out, "a stream event grew past " + std::to_string(core::sse_parser::max_event_bytes) + " bytes");
    }

    void finish(std::vector<core::event>& out) override {
        if (ended_) return;
        finishing_ = true;
        sse_.finish([&](std::string_view name, std::string_view data) { on_event(name, data, out); });
        if (ended_) return;
        if (usage_) out.emplace_back(*usage_); // what the upstream counted is still billed
        fail(out, "the stream ended before [DONE]: the upstream closed it mid-answer");
    }

private:
    struct tool_slot {
        std::uint64_t upstream; // the chunk's tool_calls[].index
        std::string id;
        std::uint32_t block;
    };
    struct open_block {
        std::uint32_t index;
        core::block_kind kind;
    };

    void on_event(std::string_view name, std::string_view data, std::vector<core::event>& out) {
        if (ended_) return;
        if (data == "[DONE]") return done(out);
        // One chunk's tree lives only for this call and every string is copied out: an arena on
        // the stack, and a parser kept across chunks, instead of allocations per key and value.
        unsigned char arena[2048];
        boost::json::monotonic_resource memory(arena, sizeof arena);
        boost::system::error_code ec;
        parser_.reset(&memory);
        parser_.write(data, ec);
        boost::json::value parsed = ec ? boost::json::value() : parser_.release();
        if (ec) {
            if (finishing_) return fail(out, "the stream was cut inside a chunk, before [DONE]");
            return fail(out, "a stream chunk is not JSON (" + ec.message() + "): " + detail::excerpt(data));
        }
        const auto* chunk = parsed.if_object();
        if (!chunk) return fail(out, "a stream chunk is not a JSON object: " + detail::excerpt(data));
        if (auto e = error_from_json(*chunk, std::nullopt)) {
            out.emplace_back(std::move(*e));
            ended_ = true;
            return;
        }
        if (name == "error") return fail(out, "the stream sent an error event: " + detail::excerpt(data));
        on_chunk(*chunk, out);
    }

    void on_chunk(const boost::json::object& chunk, std::vector<core::event>& out) {
        if (!started_) {
            auto model = string_at(chunk, "model");
            out.emplace_back(core::message_start{std::string(string_at(chunk, "id")),
                                                 std::string(model.empty() ? fallback_model_ : model)});
            started_ = true;
        }
        if (const auto* choices = array_at(chunk, "choices")) {
            for (const auto& c : *choices) {
                const auto* choice = c.if_object();
                if (!choice || count_at(choice, "index") != 0) continue;
                if (const auto* delta = object_at(*choice, "delta")) on_delta(*delta, out);
                if (auto finish = string_at(*choice, "finish_reason"); !finish.empty()) {
                    finish_ = finish_from_openai(finish);
                    stop_sequence_ = std::string(string_at(*choice, "stop_reason"));
                }
            }
        }
        if (const auto* u = object_at(chunk, "usage")) usage_ = usage_from_json(*u);
    }

    void on_delta(const boost::json::object& delta, std::vector<core::event>& out) {
        append(core::block_kind::reasoning, reasoning_text_of(delta), out);
        append(core::block_kind::text, string_at(delta, "content"), out);
        append(core::block_kind::text, string_at(delta, "refusal"), out);
        if (const auto* calls = array_at(delta, "tool_calls"))
            for (std::size_t i = 0; i < calls->size(); ++i)
                if (const auto* call = (*calls)[i].if_object()) on_tool_delta(*call, i, out);
    }

    /// Text or reasoning: into the open block of that kind, or a new one.
    void append(core::block_kind kind, std::string_view text, std::vector<core::event>& out) {
        if (text.empty()) return;
        if (current_ && current_->kind != kind) close_current(out);
        if (!current_) {
            current_ = open_block{next_index_++, kind};
            out.push_back(kind == core::block_kind::text ? core::text_start(current_->index)
                                                         : core::reasoning_start(current_->index));
        }
        out.emplace_back(core::block_delta{
            current_->index, kind == core::block_kind::text ? core::delta_kind::text : core::delta_kind::reasoning,
            std::string(text)});
    }

    void on_tool_delta(const boost::json::object& call, std::size_t position, std::vector<core::event>& out) {
        const auto id = string_at(call, "id");
        const auto* function = object_at(call, "function");
        const bool has_index = call.contains("index");
        const std::uint64_t upstream = has_index ? count_at(&call, "index") : position;

        tool_slot* slot = nullptr;
        for (auto it = tools_.rbegin(); it != tools_.rend() && !slot; ++it)
            if (has_index ? it->upstream == upstream : (id.empty() || it->id == id)) slot = &*it;
        // A fresh id under a known index is a new call from a server that reuses indexes.
        if (slot && !id.empty() && slot->id != id) slot = nullptr;

        if (!slot) {
            close_current(out);
            const std::uint32_t block = next_index_++;
            std::string call_id = id.empty() ? "call_" + std::to_string(block) : std::string(id);
            out.push_back(core::tool_call_start(block, call_id,
                                                std::string(function ? string_at(*function, "name") : "")));
            tools_.push_back({upstream, std::move(call_id), block});
            open_tools_.push_back(block);
            slot = &tools_.back();
        }
        if (!function) return;
        std::string fragment;
        if (const auto* args = function->if_contains("arguments")) {
            if (const auto* s = args->if_string()) fragment = std::string(*s);
            else if (!args->is_null()) fragment = boost::json::serialize(*args); // an object, from lax servers
        }
        if (!fragment.empty()) out.push_back(core::arguments_delta(slot->block, std::move(fragment)));
    }

    void close_current(std::vector<core::event>& out) {
        if (!current_) return;
        out.emplace_back(core::block_stop{current_->index});
        current_.reset();
    }

    void done(std::vector<core::event>& out) {
        if (!started_) return fail(out, "the stream ended ([DONE]) before any chunk");
        close_current(out);
        std::sort(open_tools_.begin(), open_tools_.end());
        for (auto index : open_tools_) out.emplace_back(core::block_stop{index});
        open_tools_.clear();
        if (usage_) out.emplace_back(*usage_);
        const auto finish = settle_finish(finish_.value_or(core::finish_reason::stop), !tools_.empty());
        out.emplace_back(core::message_stop{finish, finish == core::finish_reason::stop ? stop_sequence_ : ""});
        ended_ = true;
    }

    void fail(std::vector<core::event>& out, std::string what) {
        out.emplace_back(core::error{core::error_kind::upstream, std::string(upstream_prefix) + std::move(what), {}, {}});
        ended_ = true;
    }

    core::sse_parser sse_;
    boost::json::parser parser_; // reset per chunk; keeps its working memory
    std::string fallback_model_;
    bool started_ = false;
    bool ended_ = false;     // message_stop or error sent: the rest of the bytes are ignored
    bool finishing_ = false; // inside finish(): a chunk that does not parse was cut
    std::uint32_t next_index_ = 0;
    std::optional<open_block> current_; // the open text or reasoning block
    std::vector<tool_slot> tools_;
    std::vector<std::uint32_t> open_tools_;
    std::optional<core::finish_reason> finish_;
    std::string stop_sequence_;
    std::optional<core::usage> usage_;
};

} // namespace sluice::providers::openai

#endif
