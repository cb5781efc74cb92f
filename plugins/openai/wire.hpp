#ifndef SLUICE_PLUGINS_OPENAI_WIRE_HPP
#define SLUICE_PLUGINS_OPENAI_WIRE_HPP

// Fields that bodies and stream chunks share: usage, finish_reason, and lenient JSON reads
// (compatible servers send null where OpenAI leaves a field out, and numbers as floats).

#include <sluice/core/event.hpp>
#include <sluice/core/usage.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::providers::openai {

/// The string at `key`, or empty when it is absent, null or not a string.
inline std::string_view string_at(const boost::json::object& o, std::string_view key) noexcept {
    if (const auto* v = o.if_contains(key))
        if (const auto* s = v->if_string()) return *s;
    return {};
}

inline const boost::json::object* object_at(const boost::json::object& o, std::string_view key) noexcept {
    if (const auto* v = o.if_contains(key)) return v->if_object();
    return nullptr;
}

inline const boost::json::array* array_at(const boost::json::object& o, std::string_view key) noexcept {
    if (const auto* v = o.if_contains(key)) return v->if_array();
    return nullptr;
}

/// A token count: a non-negative number at `key`, else 0.
inline std::uint64_t count_at(const boost::json::object* o, std::string_view key) noexcept {
    if (!o) return 0;
    const auto* v = o->if_contains(key);
    if (!v) return 0;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64()) return v->get_int64() > 0 ? std::uint64_t(v->get_int64()) : 0;
    if (v->is_double()) return v->get_double() > 0 && v->get_double() < 0x1p64 ? std::uint64_t(v->get_double()) : 0; // no UB past 2^64
    return 0;
}

/// OpenAI usage -> canonical usage. OpenAI's prompt_tokens include the cached ones; core::usage
/// keeps the classes disjoint, so input = prompt - cached (WIRE.md failure 6: cache reads count).
/// DeepSeek reports cache hits as prompt_cache_hit_tokens instead of prompt_tokens_details.
inline core::usage usage_from_json(const boost::json::object& u) noexcept {
    const std::uint64_t prompt = count_at(&u, "prompt_tokens");
    const std::uint64_t completion = count_at(&u, "completion_tokens");
    const auto* prompt_details = object_at(u, "prompt_tokens_details");
    std::uint64_t cached = count_at(prompt_details, "cached_tokens");
    if (cached == 0) cached = count_at(&u, "prompt_cache_hit_tokens");
    cached = std::min(cached, prompt);
    const std::uint64_t reasoning = count_at(object_at(u, "completion_tokens_details"), "reasoning_tokens");

    core::usage out;
    out.input = prompt - cached;
    out.cache_read = cached;
    out.output = completion;
    out.reasoning = std::min(reasoning, completion);
    return out;
}

/// OpenAI's finish_reason -> the canonical one. The legacy `function_call` is a tool call; a
/// word we do not know (a server's own, such as "eos") ends the turn normally.
constexpr core::finish_reason finish_from_openai(std::string_view s) noexcept {
    if (s == "length") return core::finish_reason::length;
    if (s == "tool_calls" || s == "function_call") return core::finish_reason::tool_calls;
    if (s == "content_filter") return core::finish_reason::content_filter;
    return core::finish_reason::stop;
}

/// A turn that made tool calls ends in tool_calls even when the server says "stop", as some
/// compatible servers do (WIRE.md failure 2: clients then never run the tools).
constexpr core::finish_reason settle_finish(core::finish_reason f, bool made_tool_calls) noexcept {
    return made_tool_calls && f == core::finish_reason::stop ? core::finish_reason::tool_calls : f;
}

/// vLLM names the stop string that matched in `stop_reason` (a token id there is not a string).
inline std::string stop_sequence_of(const boost::json::object& choice, core::finish_reason f) {
    if (f != core::finish_reason::stop) return {};
    return std::string(string_at(choice, "stop_reason"));
}

/// Reasoning text: vLLM and DeepSeek send `reasoning_content`; newer vLLM and OpenRouter `reasoning`.
inline std::string_view reasoning_text_of(const boost::json::object& message) noexcept {
    auto text = string_at(message, "reasoning_content");
    return text.empty() ? string_at(message, "reasoning") : text;
}

} // namespace sluice::providers::openai

#endif
