#ifndef SLUICE_MOCK_ANSWER_HPP
#define SLUICE_MOCK_ANSWER_HPP

// The answer to one request, before it takes a provider's shape: its content blocks (reasoning,
// text, tool calls), each already cut into the pieces a stream sends, the finish reason and the
// usage. Both the OpenAI and the Anthropic encoder render the same plan. Beast-free.

#include "request.hpp"

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mock {

inline constexpr std::string_view default_answer_text = "Hello from the sluice mock upstream. How can I help?";
inline constexpr std::string_view reasoning_text = "The user wants an answer. Let me think it through step by step.";
inline constexpr std::string_view thinking_signature = "EqQBCkgIBRABGAIiQG1vY2stc2lnbmF0dXJlLXNsdWljZQ==";
inline constexpr std::string_view tool_name = "get_weather";
inline constexpr std::string_view tool_arguments = R"({"city":"Paris"})";
/// Where the arguments split into stream fragments: {"  city  ":"  Paris  "}
inline constexpr std::uint32_t tool_argument_cuts[] = {0, 2, 6, 9, 14, 16};
static_assert(tool_argument_cuts[5] == tool_arguments.size());

/// Server-wide settings from the command line.
struct mock_options {
    int chunks = 8;      // text pieces of a streamed answer
    int gap_ms = 0;      // pause before each streamed piece but the first
    std::string text = std::string(default_answer_text);
};

/// `bytes` of filler words, for --text-bytes.
inline std::string filler_text(std::size_t bytes) {
    static constexpr std::string_view words =
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
        "et dolore magna aliqua. ";
    std::string out;
    out.reserve(bytes);
    while (out.size() < bytes) out.append(words.substr(0, std::min(words.size(), bytes - out.size())));
    return out;
}

enum class block_kind { reasoning, text, tool_call };
enum class finish_kind { stop, length, tool_calls };

struct answer_block {
    block_kind kind = block_kind::text;
    std::string text;                 // reasoning or answer text; for a tool call its arguments JSON
    std::vector<std::uint32_t> cuts;  // piece i is text[cuts[i], cuts[i+1])
    int tool_index = -1;              // tool calls: 0, 1, … among the calls
    std::string id;                   // tool calls: call_N (OpenAI) or toolu_N (Anthropic)

    std::size_t pieces() const noexcept { return cuts.empty() ? 0 : cuts.size() - 1; }
    std::string_view piece(std::size_t i) const noexcept {
        return std::string_view(text).substr(cuts[i], cuts[i + 1] - cuts[i]);
    }
};

struct answer_usage {
    std::int64_t prompt = 0;     // all input tokens, cached ones included
    std::int64_t cached = 0;     // of which read from the prompt cache
    std::int64_t completion = 0; // pieces sent: text and reasoning chunks, tool argument fragments
    std::int64_t reasoning = 0;  // of which reasoning
};

struct answer_plan {
    api kind = api::openai;
    std::string id;
    std::string model;
    std::int64_t created = 0;
    bool stream = false;
    bool include_usage = false;
    std::vector<answer_block> blocks;
    finish_kind finish = finish_kind::stop;
    answer_usage usage;
    int cut = -1;   // close the stream after this many events
    int gap_ms = 0; // pause before each streamed piece but the first
};

/// Cut points that split `text` into at most `n` nearly equal pieces, never inside a UTF-8 character.
inline std::vector<std::uint32_t> even_cuts(std::string_view text, int n) {
    std::vector<std::uint32_t> cuts{0};
    if (text.empty()) return cuts;
    if (n < 1) n = 1;
    cuts.reserve(std::size_t(n) + 1);
    for (int i = 1; i < n; ++i) {
        auto at = std::size_t(std::uint64_t(text.size()) * std::uint64_t(i) / std::uint64_t(n));
        while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
        if (at > cuts.back() && at < text.size()) cuts.push_back(std::uint32_t(at));
    }
    cuts.push_back(std::uint32_t(text.size()));
    return cuts;
}

/// An id in the provider's style: "chatcmpl-" and 29 characters, or "msg_01" and 22.
inline std::string new_answer_id(api kind) {
    static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    thread_local std::mt19937_64 gen{std::random_device{}()};
    std::string id = kind == api::openai ? "chatcmpl-" : "msg_01";
    std::size_t n = kind == api::openai ? 29 : 22;
    for (std::size_t i = 0; i < n; ++i) id += alphabet[gen() % (sizeof alphabet - 1)];
    return id;
}

/// The plan for a request. `echo` is the echo=1 text when the request asked for it.
inline answer_plan make_answer(const mock_request& req, const mock_options& opts, std::string id, std::int64_t created,
                               std::optional<std::string> echo = std::nullopt) {
    const auto& d = req.dir;
    answer_plan p;
    p.kind = req.kind;
    p.id = std::move(id);
    p.model = req.model;
    p.created = created;
    p.stream = req.stream;
    p.include_usage = req.include_usage;
    p.cut = d.cut;
    p.gap_ms = d.gap_ms.value_or(opts.gap_ms);
    const int chunks = d.chunks.value_or(opts.chunks);

    if (d.reasoning) {
        answer_block b;
        b.kind = block_kind::reasoning;
        b.text = reasoning_text;
        b.cuts = even_cuts(b.text, chunks);
        p.usage.reasoning = std::int64_t(b.pieces());
        p.blocks.push_back(std::move(b));
    }
    // With tools, text comes only when asked for (text=…); without tools there is always a text block.
    if (echo || d.text || d.tools == 0) {
        answer_block b;
        b.kind = block_kind::text;
        b.text = echo ? std::move(*echo) : d.text ? *d.text : opts.text;
        b.cuts = even_cuts(b.text, chunks);
        p.blocks.push_back(std::move(b));
    }
    for (int i = 0; i < d.tools; ++i) {
        answer_block b;
        b.kind = block_kind::tool_call;
        b.text = tool_arguments;
        b.cuts.assign(std::begin(tool_argument_cuts), std::end(tool_argument_cuts));
        b.tool_index = i;
        b.id = (req.kind == api::openai ? "call_" : "toolu_") + std::to_string(i);
        p.blocks.push_back(std::move(b));
    }

    p.finish = d.length ? finish_kind::length : d.tools > 0 ? finish_kind::tool_calls : finish_kind::stop;
    for (const auto& b : p.blocks) p.usage.completion += std::int64_t(b.pieces());
    p.usage.cached = d.cached;
    p.usage.prompt = std::max(req.prompt_tokens, d.cached);
    return p;
}

/// One server-sent event of a stream. `token` marks the events that carry generated pieces:
/// the gap (--gap-ms) goes before each of them but the first.
struct stream_event {
    std::string_view event; // empty: no `event:` line (OpenAI)
    std::string data;
    bool token = false;
};

/// One stream step: what to render, for which block, which piece.
struct stream_step {
    std::uint8_t what = 0;
    std::uint16_t block = 0;
    std::uint32_t piece = 0;
};

} // namespace sluice::mock

#endif
