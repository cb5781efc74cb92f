#ifndef SLUICE_CORE_AGGREGATE_HPP
#define SLUICE_CORE_AGGREGATE_HPP

// A non-streaming answer is the stream folded: the same events, one code path, not two.
//
//   core::response_aggregate answer;
//   for (auto& e : events) answer.add(std::move(e));
//   if (answer.complete()) encode(answer.message(), answer.usage(), *answer.finish());
//
// The fold checks the stream as it goes (WIRE.md failures 3 and 5): a delta for a block that
// never started, a delta of the wrong kind for its block, a block index started twice, or an
// event after the end become an internal error instead of a silently wrong answer.

#include <sluice/core/envelope.hpp>
#include <sluice/core/event.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::core {

class response_aggregate {
public:
    /// Folds one event in. After an error (sent or found) the rest is ignored.
    void add(event e) {
        if (error_) return;
        if (done_) {
            if (auto* u = std::get_if<core::usage>(&e)) usage_ += *u; // late usage still counts
            else violate("event " + std::string(event_name(e)) + " after message_stop");
            return;
        }
        std::visit([this](auto&& x) { on(std::move(x)); }, std::move(e));
    }

    template <class Range>
    static response_aggregate fold(Range&& events) {
        response_aggregate a;
        for (auto&& e : events) a.add(std::forward<decltype(e)>(e));
        return a;
    }

    /// A message_stop or an error was seen.
    bool done() const noexcept { return done_ || error_.has_value(); }
    /// The message ended with message_stop and the stream broke no rule.
    bool complete() const noexcept { return done_ && !error_; }

    const std::string& id() const noexcept { return id_; }
    const std::string& model() const noexcept { return model_; }
    /// The assistant message: one content part per block, in the order the blocks started.
    const core::message& message() const& noexcept { return message_; }
    core::message&& message() && noexcept { return std::move(message_); }
    const core::usage& usage() const noexcept { return usage_; }
    std::optional<finish_reason> finish() const noexcept { return finish_; }
    const std::string& stop_sequence() const noexcept { return stop_sequence_; }
    /// The error the stream sent, or the rule it broke.
    const std::optional<core::error>& error() const noexcept { return error_; }

private:
    struct block_slot {
        std::uint32_t index;
        block_kind kind;
        std::size_t part; // position in message_.content
        bool open;
    };

    void on(message_start&& m) {
        id_ = std::move(m.id);
        model_ = std::move(m.model);
    }

    void on(block_start&& b) {
        if (find(b.index)) return violate("block " + std::to_string(b.index) + " started twice");
        blocks_.push_back({b.index, b.kind, message_.content.size(), true});
        switch (b.kind) {
        case block_kind::text: message_.content.emplace_back(text_part{}); break;
        case block_kind::reasoning: message_.content.emplace_back(reasoning_part{}); break;
        case block_kind::tool_call:
            message_.content.emplace_back(tool_call_part{std::move(b.tool_id), std::move(b.tool_name), {}, {}});
            break;
        }
    }

    void on(block_delta&& d) {
        block_slot* slot = find(d.index);
        if (!slot) return violate("delta for block " + std::to_string(d.index) + " that never started");
        if (!slot->open) return violate("delta for block " + std::to_string(d.index) + " after its stop");
        if (block_kind_of(d.kind) != slot->kind)
            return violate("a " + std::string(to_string(block_kind_of(d.kind))) + " delta in " +
                           std::string(to_string(slot->kind)) + " block " + std::to_string(d.index));
        auto& part = message_.content[slot->part];
        switch (d.kind) {
        case delta_kind::text: std::get<text_part>(part).text += d.text; break;
        case delta_kind::arguments: std::get<tool_call_part>(part).arguments += d.text; break;
        case delta_kind::reasoning: std::get<reasoning_part>(part).text += d.text; break;
        case delta_kind::signature: std::get<reasoning_part>(part).signature += d.text; break;
        }
    }

    void on(block_stop&& s) {
        block_slot* slot = find(s.index);
        if (!slot) return violate("stop for block " + std::to_string(s.index) + " that never started");
        slot->open = false;
    }

    void on(core::usage&& u) { usage_ += u; }

    void on(message_stop&& m) {
        finish_ = m.finish;
        stop_sequence_ = std::move(m.stop_sequence);
        done_ = true;
    }

    void on(core::error&& e) {
        error_ = std::move(e);
        finish_ = finish_reason::error;
    }

    block_slot* find(std::uint32_t index) noexcept {
        for (auto& b : blocks_) // a handful of blocks: a scan beats a map
            if (b.index == index) return &b;
        return nullptr;
    }

    void violate(std::string what) {
        error_ = core::error{error_kind::internal, "malformed event stream: " + std::move(what), {}, {}};
        finish_ = finish_reason::error;
    }

    std::string id_;
    std::string model_;
    core::message message_{role::assistant, {}, {}};
    std::vector<block_slot> blocks_;
    core::usage usage_;
    std::optional<finish_reason> finish_;
    std::string stop_sequence_;
    std::optional<core::error> error_;
    bool done_ = false;
};

} // namespace sluice::core

#endif
