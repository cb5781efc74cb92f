#ifndef SLUICE_CORE_EVENT_HPP
#define SLUICE_CORE_EVENT_HPP

// The one stream vocabulary. Provider decoders and kernels produce events; front API encoders
// turn them into SSE frames or, folded by response_aggregate, into one JSON body.
//
// A well-formed message is:
//   message_start  (block_start  block_delta*  block_stop)*  message_stop
// or it ends early with an `error` instead of message_stop. Blocks are numbered from 0 in the
// order they start and may interleave (two tool calls streaming at once), but a block has one
// kind: a text delta never lands in a reasoning block. `usage` events may come anywhere before
// the end and add up: a message's usage is the sum of its usage events (Anthropic reports input
// at the start and output at the end; OpenAI all at the end).

#include <sluice/core/error.hpp>
#include <sluice/core/usage.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice::core {

enum class block_kind : std::uint8_t { text, tool_call, reasoning };

inline constexpr std::array<std::string_view, 3> block_kind_names{"text", "tool_call", "reasoning"};

constexpr std::string_view to_string(block_kind k) noexcept { return block_kind_names[std::size_t(k)]; }

/// Why generation ended. The API's own word (end_turn, tool_use, max_tokens...) is the encoder's.
enum class finish_reason : std::uint8_t { stop, length, tool_calls, content_filter, error };

inline constexpr std::array<std::string_view, 5> finish_reason_names{"stop", "length", "tool_calls",
                                                                     "content_filter", "error"};

constexpr std::string_view to_string(finish_reason f) noexcept { return finish_reason_names[std::size_t(f)]; }

constexpr std::optional<finish_reason> finish_reason_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < finish_reason_names.size(); ++i)
        if (finish_reason_names[i] == s) return finish_reason(i);
    return std::nullopt;
}

// ---------------------------------------------------------------- the events

struct message_start {
    std::string id;    // the upstream's id, or one the gateway made
    std::string model; // the model that answers (may differ from the requested alias)

    friend bool operator==(const message_start&, const message_start&) = default;
};

struct block_start {
    std::uint32_t index = 0;
    block_kind kind = block_kind::text;
    std::string tool_id;   // tool_call blocks only
    std::string tool_name; // tool_call blocks only

    friend bool operator==(const block_start&, const block_start&) = default;
};

/// What a delta adds to its block; each kind belongs to one block kind.
enum class delta_kind : std::uint8_t {
    text,      // text block
    arguments, // tool_call block: a fragment of the arguments JSON text
    reasoning, // reasoning block: thinking text
    signature, // reasoning block: the signature (Anthropic signature_delta)
};

constexpr block_kind block_kind_of(delta_kind d) noexcept {
    switch (d) {
    case delta_kind::text: return block_kind::text;
    case delta_kind::arguments: return block_kind::tool_call;
    case delta_kind::reasoning:
    case delta_kind::signature: return block_kind::reasoning;
    }
    return block_kind::text;
}

struct block_delta {
    std::uint32_t index = 0;
    delta_kind kind = delta_kind::text;
    std::string text; // the fragment, whatever its kind

    friend bool operator==(const block_delta&, const block_delta&) = default;
};

struct block_stop {
    std::uint32_t index = 0;

    friend bool operator==(const block_stop&, const block_stop&) = default;
};

struct message_stop {
    finish_reason finish = finish_reason::stop;
    std::string stop_sequence; // the stop sequence that matched, when finish is stop; else empty

    friend bool operator==(const message_stop&, const message_stop&) = default;
};

/// `usage` and `error` are the core types themselves: no wrapper to unwrap.
using event = std::variant<message_start, block_start, block_delta, block_stop, usage, message_stop, error>;

// ---------------------------------------------------------------- building events

inline event text_start(std::uint32_t index) { return block_start{index, block_kind::text, {}, {}}; }
inline event reasoning_start(std::uint32_t index) { return block_start{index, block_kind::reasoning, {}, {}}; }
inline event tool_call_start(std::uint32_t index, std::string id, std::string name) {
    return block_start{index, block_kind::tool_call, std::move(id), std::move(name)};
}
inline event text_delta(std::uint32_t index, std::string text) {
    return block_delta{index, delta_kind::text, std::move(text)};
}
inline event arguments_delta(std::uint32_t index, std::string fragment) {
    return block_delta{index, delta_kind::arguments, std::move(fragment)};
}
inline event reasoning_delta(std::uint32_t index, std::string text) {
    return block_delta{index, delta_kind::reasoning, std::move(text)};
}
inline event signature_delta(std::uint32_t index, std::string signature) {
    return block_delta{index, delta_kind::signature, std::move(signature)};
}

// ---------------------------------------------------------------- reading events

/// message_stop and error end a message; nothing follows either.
inline bool is_terminal(const event& e) noexcept {
    return std::holds_alternative<message_stop>(e) || std::holds_alternative<error>(e);
}

/// The error among `events`, if any (a decoder reports a failure as an error event).
template <class Range>
const error* find_error(const Range& events) noexcept {
    for (const auto& e : events)
        if (const auto* err = std::get_if<error>(&e)) return err;
    return nullptr;
}

/// The event's name, for logs and test messages.
inline std::string_view event_name(const event& e) noexcept {
    static constexpr std::array<std::string_view, std::variant_size_v<event>> names{
        "message_start", "block_start", "block_delta", "block_stop", "usage", "message_stop", "error"};
    return names[e.index()];
}

} // namespace sluice::core

#endif
