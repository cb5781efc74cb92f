#ifndef SLUICE_CORE_ENVELOPE_HPP
#define SLUICE_CORE_ENVELOPE_HPP

// The canonical request. Every front API decodes into an envelope and every provider or kernel
// reads one, so N front APIs reach M backends through one shape, never N x M special cases.
// Plain values: copy when you must, move when you can; unset options are std::nullopt or empty.

#include <sluice/core/endpoint.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::core {

// ---------------------------------------------------------------- small enumerations

/// The front API a request came in through; encoders answer in the same shape.
enum class front_api : std::uint8_t {
    chat_completions, // POST /v1/chat/completions
    responses,        // POST /v1/responses
    messages,         // POST /v1/messages
    embeddings,       // POST /v1/embeddings
    images,           // POST /v1/images/generations
    speech,           // POST /v1/audio/speech
    transcriptions,   // POST /v1/audio/transcriptions
    video,            // POST /v1/videos
    internal,         // built in process (health probes, tests, async jobs)
};

inline constexpr std::array<std::string_view, 9> front_api_names{
    "chat_completions", "responses", "messages", "embeddings", "images",
    "speech", "transcriptions", "video", "internal"};

constexpr std::string_view to_string(front_api a) noexcept { return front_api_names[std::size_t(a)]; }

constexpr std::optional<front_api> front_api_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < front_api_names.size(); ++i)
        if (front_api_names[i] == s) return front_api(i);
    return std::nullopt;
}

/// `developer` is OpenAI's newer name for instructions inside the conversation; `tool` carries
/// tool results in OpenAI's shape (Anthropic puts them in a user turn; both decode to parts).
enum class role : std::uint8_t { system, developer, user, assistant, tool };

inline constexpr std::array<std::string_view, 5> role_names{"system", "developer", "user", "assistant", "tool"};

constexpr std::string_view to_string(role r) noexcept { return role_names[std::size_t(r)]; }

constexpr std::optional<role> role_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < role_names.size(); ++i)
        if (role_names[i] == s) return role(i);
    return std::nullopt;
}

// ---------------------------------------------------------------- cache hints

/// Anthropic's `cache_control {type: "ephemeral", ttl}`: a cache breakpoint after this part.
struct cache_control {
    enum class time_to_live : std::uint8_t { five_minutes, one_hour };
    time_to_live ttl = time_to_live::five_minutes;

    friend constexpr bool operator==(const cache_control&, const cache_control&) = default;
};

constexpr std::string_view to_string(cache_control::time_to_live t) noexcept {
    return t == cache_control::time_to_live::one_hour ? "1h" : "5m";
}

constexpr std::optional<cache_control::time_to_live> ttl_from_string(std::string_view s) noexcept {
    if (s == "5m") return cache_control::time_to_live::five_minutes;
    if (s == "1h") return cache_control::time_to_live::one_hour;
    return std::nullopt;
}

// ---------------------------------------------------------------- content parts

struct text_part {
    std::string text;
    std::optional<cache_control> cache;

    friend bool operator==(const text_part&, const text_part&) = default;
};

/// An image by URL, or inline as base64 `data` with its `media_type` (url empty).
struct image_part {
    std::string url;
    std::string data;       // base64, without a "data:" prefix
    std::string media_type; // "image/png", ...
    std::string detail;     // OpenAI "low" | "high" | "auto"; empty when unset
    std::optional<cache_control> cache;

    bool is_inline() const noexcept { return url.empty(); }
    /// The data: URL OpenAI takes for inline images.
    std::string data_url() const { return is_inline() ? "data:" + media_type + ";base64," + data : url; }

    friend bool operator==(const image_part&, const image_part&) = default;
};

/// A call the assistant made. `arguments` is JSON text, kept as text: streams deliver it in
/// fragments and providers pass it through, so nothing parses it on the hot path.
struct tool_call_part {
    std::string id;
    std::string name;
    std::string arguments;
    std::optional<cache_control> cache;

    friend bool operator==(const tool_call_part&, const tool_call_part&) = default;
};

/// What a tool result may hold (Anthropic allows text and images; OpenAI text).
using tool_result_content = std::variant<text_part, image_part>;

struct tool_result_part {
    std::string call_id;
    std::vector<tool_result_content> content;
    bool is_error = false;
    std::optional<cache_control> cache;

    friend bool operator==(const tool_result_part&, const tool_result_part&) = default;
};

/// Model reasoning. The signature lets Anthropic verify thinking sent back in a later turn;
/// `redacted` marks Anthropic's redacted_thinking, whose opaque data then sits in `text`.
struct reasoning_part {
    std::string text;
    std::string signature;
    bool redacted = false;

    friend bool operator==(const reasoning_part&, const reasoning_part&) = default;
};

using content_part = std::variant<text_part, image_part, tool_call_part, tool_result_part, reasoning_part>;

struct message {
    core::role role = core::role::user;
    std::vector<content_part> content;
    std::string name; // OpenAI participant name; empty when unset

    static message user(std::string text) { return {core::role::user, {text_part{std::move(text), {}}}, {}}; }
    static message assistant(std::string text) {
        return {core::role::assistant, {text_part{std::move(text), {}}}, {}};
    }

    friend bool operator==(const message&, const message&) = default;
};

/// The text parts of `parts` joined in order, everything else skipped.
inline std::string text_of(const std::vector<content_part>& parts) {
    std::string out;
    for (const auto& p : parts)
        if (const auto* t = std::get_if<text_part>(&p)) out += t->text;
    return out;
}

inline bool has_tool_calls(const message& m) noexcept {
    for (const auto& p : m.content)
        if (std::holds_alternative<tool_call_part>(p)) return true;
    return false;
}

// ---------------------------------------------------------------- tools

struct tool {
    std::string name;
    std::string description;
    boost::json::value input_schema; // JSON Schema of the arguments (OpenAI `parameters`)
    std::optional<bool> strict;      // OpenAI structured-outputs flag
    std::optional<cache_control> cache;

    friend bool operator==(const tool&, const tool&) = default;
};

/// OpenAI `required` is Anthropic `any`; a named tool is `{type:"function"|"tool", name}`.
struct tool_choice {
    enum class mode : std::uint8_t { automatic, none, required, named };
    tool_choice::mode mode = mode::automatic;
    std::string name; // with mode::named

    static tool_choice force(std::string tool_name) { return {mode::named, std::move(tool_name)}; }

    friend bool operator==(const tool_choice&, const tool_choice&) = default;
};

// ---------------------------------------------------------------- generation options

struct sampling {
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<std::uint32_t> top_k;
    std::optional<std::uint32_t> max_output_tokens; // Anthropic max_tokens, OpenAI max_completion_tokens
    std::vector<std::string> stop;                  // stop sequences; empty when none
    std::optional<std::int64_t> seed;
    std::optional<std::uint32_t> n; // choices wanted
    std::optional<double> presence_penalty;
    std::optional<double> frequency_penalty;

    friend bool operator==(const sampling&, const sampling&) = default;
};

enum class reasoning_effort : std::uint8_t { none, low, medium, high, max };

inline constexpr std::array<std::string_view, 5> reasoning_effort_names{"none", "low", "medium", "high", "max"};

constexpr std::string_view to_string(reasoning_effort e) noexcept { return reasoning_effort_names[std::size_t(e)]; }

constexpr std::optional<reasoning_effort> reasoning_effort_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < reasoning_effort_names.size(); ++i)
        if (reasoning_effort_names[i] == s) return reasoning_effort(i);
    return std::nullopt;
}

struct reasoning_options {
    std::optional<reasoning_effort> effort;
    std::optional<std::uint32_t> budget_tokens; // Anthropic thinking.budget_tokens

    friend bool operator==(const reasoning_options&, const reasoning_options&) = default;
};

/// The thinking budget for `r`: the explicit budget, else a share of the output limit by effort
/// (WIRE.md: low 20 %, medium 50 %, high 80 %, max 95 %); nullopt when reasoning is not asked for.
constexpr std::optional<std::uint32_t> reasoning_budget(const reasoning_options& r,
                                                        std::uint32_t max_output_tokens) noexcept {
    if (r.budget_tokens) return r.budget_tokens;
    if (!r.effort || *r.effort == reasoning_effort::none) return std::nullopt;
    constexpr std::array<std::uint32_t, 5> percent{0, 20, 50, 80, 95};
    return std::uint32_t(std::uint64_t(max_output_tokens) * percent[std::size_t(*r.effort)] / 100);
}

/// The effort whose share of the output limit lies nearest to `budget` (Anthropic -> OpenAI).
constexpr reasoning_effort effort_for_budget(std::uint32_t budget, std::uint32_t max_output_tokens) noexcept {
    if (budget == 0) return reasoning_effort::none;
    if (max_output_tokens == 0) return reasoning_effort::high;
    // Midpoints between the shares 20, 50, 80 and 95 %.
    const std::uint64_t permille = std::uint64_t(budget) * 1000 / max_output_tokens;
    if (permille <= 350) return reasoning_effort::low;
    if (permille <= 650) return reasoning_effort::medium;
    if (permille <= 875) return reasoning_effort::high;
    return reasoning_effort::max;
}

// ---------------------------------------------------------------- the envelope

struct envelope {
    core::endpoint endpoint = core::endpoint::chat;
    front_api api = front_api::chat_completions;
    std::string model; // public model id, or "router:NAME"

    std::vector<text_part> system; // system / instructions, in order
    std::vector<message> messages;

    std::vector<core::tool> tools;
    std::optional<core::tool_choice> tool_choice;
    std::optional<bool> parallel_tool_calls; // Anthropic: the inverse of disable_parallel_tool_use

    core::sampling sampling;
    reasoning_options reasoning;

    std::string prompt_cache_key;       // OpenAI prompt_cache_key; empty when unset
    std::string prompt_cache_retention; // OpenAI "in_memory" | "24h"; empty when unset

    boost::json::value response_format; // null when unset; the API's own JSON otherwise

    bool stream = false;
    bool include_usage = false; // OpenAI stream_options.include_usage

    // Client headers a provider may forward as they are: anthropic-beta and anthropic-version go
    // to Anthropic and are ignored elsewhere (lower-case names).
    std::vector<std::pair<std::string, std::string>> forward_headers;

    std::string user;                           // end-user id (OpenAI user, Anthropic metadata.user_id)
    std::map<std::string, std::string> metadata; // ordered, so encodings are stable
    boost::json::object extras;                  // provider-specific fields the catalog lets through

    /// The system parts as one string, for backends that take a single system prompt.
    std::string system_text() const {
        std::string out;
        for (const auto& s : system) {
            if (!out.empty() && !s.text.empty()) out += "\n\n";
            out += s.text;
        }
        return out;
    }

    friend bool operator==(const envelope&, const envelope&) = default;
};

} // namespace sluice::core

#endif
