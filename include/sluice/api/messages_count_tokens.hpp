#ifndef SLUICE_API_MESSAGES_COUNT_TOKENS_HPP
#define SLUICE_API_MESSAGES_COUNT_TOKENS_HPP

// POST /v1/messages/count_tokens: the request decodes with decode_count_tokens_request
// (messages_decode.hpp); the answer is {"input_tokens": N}. When the serving backend cannot count
// (no Anthropic upstream, no tokenizer in process), estimate_input_tokens gives N.

#include <sluice/core/envelope.hpp>

#include <boost/json/serialize.hpp>

#include <cstdint>
#include <string>
#include <variant>

namespace sluice::api {

/// `{"input_tokens":N}`.
inline std::string encode_count_tokens_body(std::uint64_t input_tokens) {
    return "{\"input_tokens\":" + std::to_string(input_tokens) + "}";
}

namespace messages_detail {

/// Tokens an image costs in the estimate: Anthropic's count for an image at its largest size
/// before it is scaled down (about 1.15 megapixels / 750 pixels per token).
inline constexpr std::uint64_t estimated_image_tokens = 1600;
/// What a turn costs besides its content (role markers), and the whole prompt's frame.
inline constexpr std::uint64_t estimated_message_tokens = 4;
inline constexpr std::uint64_t estimated_prompt_tokens = 3;
/// The instructions Anthropic adds to the system prompt when tools are given (about 300 to 350
/// tokens, by model and tool_choice), and each tool's own framing.
inline constexpr std::uint64_t estimated_tool_use_tokens = 320;
inline constexpr std::uint64_t estimated_tool_tokens = 8;

} // namespace messages_detail

/// An estimate of the prompt tokens of `request`: no tokenizer, a rule of thumb. Every text the
/// model reads (system, text, tool calls' names and arguments, tool results, each tool's name,
/// description and JSON schema) counts ceil(UTF-8 bytes / 3.5), Anthropic's own figure of about
/// 3.5 characters per English token; each image a fixed 1,600 (the most an image costs); each
/// message 4, the prompt 3, and tools 320 once for the tool-use instructions plus 8 each.
/// Thinking from earlier turns is not counted (Anthropic strips it from the context).
/// It is an estimate: on English prose expect it within about 25 % of Anthropic's count (the
/// tokenizer differs between model generations); it runs low on code, JSON and non-Latin
/// scripts (more tokens per byte there), and high on small images.
inline std::uint64_t estimate_input_tokens(const core::envelope& request) {
    namespace d = messages_detail;
    std::uint64_t bytes = 0;
    std::uint64_t fixed = d::estimated_prompt_tokens;
    for (const auto& s : request.system) bytes += s.text.size();
    for (const auto& m : request.messages) {
        fixed += d::estimated_message_tokens;
        for (const auto& part : m.content) {
            if (const auto* t = std::get_if<core::text_part>(&part)) {
                bytes += t->text.size();
            } else if (std::holds_alternative<core::image_part>(part)) {
                fixed += d::estimated_image_tokens;
            } else if (const auto* call = std::get_if<core::tool_call_part>(&part)) {
                bytes += call->name.size() + call->arguments.size();
            } else if (const auto* result = std::get_if<core::tool_result_part>(&part)) {
                for (const auto& c : result->content) {
                    if (const auto* t = std::get_if<core::text_part>(&c))
                        bytes += t->text.size();
                    else
                        fixed += d::estimated_image_tokens;
                }
            }
        }
    }
    if (!request.tools.empty()) fixed += d::estimated_tool_use_tokens;
    for (const auto& tool : request.tools) {
        fixed += d::estimated_tool_tokens;
        bytes += tool.name.size() + tool.description.size();
        if (!tool.input_schema.is_null()) bytes += boost::json::serialize(tool.input_schema).size();
    }
    return fixed + (bytes * 2 + 6) / 7; // ceil(bytes / 3.5)
}

} // namespace sluice::api

#endif
