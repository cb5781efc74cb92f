#ifndef SLUICE_PLUGINS_ANTHROPIC_NATIVE_HPP
#define SLUICE_PLUGINS_ANTHROPIC_NATIVE_HPP

// Anthropic's own words, read the same way by the body decoder and the stream decoder:
// stop reasons, usage counters, and the few JSON look-ups both need.

#include <sluice/core/event.hpp>
#include <sluice/core/usage.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::anthropic {

inline constexpr std::string_view plugin_name = "anthropic";
inline constexpr std::string_view plugin_version = "0.1.0";

/// The API version sent when neither the client nor the config names one.
inline constexpr std::string_view default_api_version = "2023-06-01";

// ---------------------------------------------------------------- JSON look-ups

/// The string at `key`, or empty when absent or not a string.
inline std::string_view string_at(const boost::json::object& o, std::string_view key) noexcept {
    if (const auto* v = o.if_contains(key))
        if (const auto* s = v->if_string()) return *s;
    return {};
}

/// The object at `key`, or nullptr.
inline const boost::json::object* object_at(const boost::json::object& o, std::string_view key) noexcept {
    if (const auto* v = o.if_contains(key)) return v->if_object();
    return nullptr;
}

/// The non-negative integer at `key`, or nullopt (absent, null, negative or not a number).
inline std::optional<std::uint64_t> count_at(const boost::json::object& o, std::string_view key) noexcept {
    const auto* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (const auto* u = v->if_uint64()) return *u;
    if (const auto* i = v->if_int64()) return *i >= 0 ? std::optional<std::uint64_t>(std::uint64_t(*i)) : std::nullopt;
    // A double past 2^64 does not convert: out of range is no count, not undefined behaviour.
    if (const auto* d = v->if_double()) return *d >= 0 && *d < 0x1p64 ? std::optional<std::uint64_t>(std::uint64_t(*d)) : std::nullopt;
    return std::nullopt;
}

// ---------------------------------------------------------------- usage

/// Anthropic's usage object as it stands: every counter is a running total of the message, and
/// a counter the object leaves out is unknown, not zero. The stream sends it twice (message_start
/// and message_delta, the second repeating the first's input counters in newer API versions), so
/// canonical usage events carry only what grew since the last report (WIRE.md failure 4).
struct usage_totals {
    std::optional<std::uint64_t> input;       // input_tokens
    std::optional<std::uint64_t> output;      // output_tokens
    std::optional<std::uint64_t> cache_read;  // cache_read_input_tokens
    std::optional<std::uint64_t> cache_write; // cache_creation_input_tokens

    static usage_totals read(const boost::json::object& u) noexcept {
        return {count_at(u, "input_tokens"), count_at(u, "output_tokens"), count_at(u, "cache_read_input_tokens"),
                count_at(u, "cache_creation_input_tokens")};
    }
};

/// Keeps what has been reported and answers each new set of totals with the growth since.
class usage_ledger {
public:
    /// The canonical usage to emit for `totals`; empty when nothing grew.
    core::usage advance(const usage_totals& totals) noexcept {
        core::usage grew;
        grew.input = step(reported_.input, totals.input);
        grew.output = step(reported_.output, totals.output);
        grew.cache_read = step(reported_.cache_read, totals.cache_read);
        grew.cache_write = step(reported_.cache_write, totals.cache_write);
        return grew;
    }

private:
    // A total below what was reported is ignored: usage events only ever add.
    static std::uint64_t step(std::uint64_t& reported, std::optional<std::uint64_t> total) noexcept {
        if (!total || *total <= reported) return 0;
        const std::uint64_t grew = *total - reported;
        reported = *total;
        return grew;
    }

    core::usage reported_;
};

// ---------------------------------------------------------------- stop reasons

/// Anthropic's stop_reason as a canonical finish. A turn that holds a tool call and says
/// end_turn (or nothing) is a tool-call turn: clients run tools only on tool_calls / tool_use
/// (WIRE.md failure 2). pause_turn (a server tool paused a long turn) ends this answer as stop.
inline core::finish_reason finish_for(std::string_view stop_reason, bool saw_tool_call) noexcept {
    if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded")
        return core::finish_reason::length;
    if (stop_reason == "tool_use") return core::finish_reason::tool_calls;
    if (stop_reason == "refusal") return core::finish_reason::content_filter;
    if (saw_tool_call && (stop_reason == "end_turn" || stop_reason.empty())) return core::finish_reason::tool_calls;
    return core::finish_reason::stop; // end_turn, stop_sequence, pause_turn, and words not known yet
}

} // namespace sluice::anthropic

#endif
