#ifndef SLUICE_EXEC_VALIDATE_HPP
#define SLUICE_EXEC_VALIDATE_HPP

// The model's contract from the catalog, checked before any backend is called: a request never
// reaches a backend in a shape it cannot take.

#include <sluice/api/codec.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/core/result.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::exec {

/// The model, or 404 naming it.
inline core::result<const core::model_entry*> find_model(const core::catalog& catalog, const core::envelope& env) {
    if (const auto* m = catalog.find(env.model)) return m;
    return core::error{core::error_kind::not_found, "The model '" + env.model + "' does not exist", "model",
                       "model_not_found"};
}

namespace detail {

inline bool has_images(const core::envelope& env) {
    for (const auto& msg : env.messages)
        for (const auto& part : msg.content) {
            if (std::holds_alternative<core::image_part>(part)) return true;
            if (const auto* r = std::get_if<core::tool_result_part>(&part))
                for (const auto& inner : r->content)
                    if (std::holds_alternative<core::image_part>(inner)) return true;
        }
    return false;
}

inline bool wants_reasoning(const core::envelope& env) {
    const auto& r = env.reasoning;
    return (r.budget_tokens && *r.budget_tokens > 0) || (r.effort && *r.effort != core::reasoning_effort::none);
}

inline core::error unsupported(const core::model_entry& m, std::string_view what, std::string_view param) {
    return core::error{core::error_kind::invalid_request,
                       "The model '" + m.id + "' does not support " + std::string(what), std::string(param),
                       "unsupported_parameter"};
}

/// The format of an image by its first bytes; empty when it is none the providers take.
inline std::string_view sniff_image(std::string_view head) noexcept {
    if (head.starts_with("\x89PNG\r\n\x1a\n")) return "image/png";
    if (head.starts_with("\xff\xd8\xff")) return "image/jpeg";
    if (head.size() >= 12 && head.starts_with("RIFF") && head.substr(8, 4) == "WEBP") return "image/webp";
    if (head.starts_with("GIF87a") || head.starts_with("GIF89a")) return "image/gif";
    return {};
}

inline int base64_value(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/// Why an inline image cannot go upstream, or nullopt: checked here because a provider's answer
/// to a broken image is often a vague 400 or a 500, long after the request was paid for.
inline std::optional<std::string> inline_image_problem(const core::image_part& img, std::size_t max_bytes) {
    const std::string_view b64 = img.data;
    std::size_t end = b64.size();
    while (end > 0 && b64[end - 1] == '=') --end;
    if (end == 0) return "the image data is empty";
    if (b64.size() - end > 2) return "the image data is not valid base64";
    for (std::size_t i = 0; i < end; ++i)
        if (base64_value(b64[i]) < 0)
            return "the image data is not valid base64 (a '" + std::string(1, b64[i]) + "' at offset " + std::to_string(i) + ")";
    const std::size_t bytes = end * 3 / 4;
    if (bytes > max_bytes)
        return "the image is " + std::to_string(bytes) + " bytes; the limit is " + std::to_string(max_bytes) + " bytes";
    std::string head;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < end && head.size() < 16; ++i) {
        acc = (acc << 6) | std::uint32_t(base64_value(b64[i]));
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            head += char((acc >> bits) & 0xff);
        }
    }
    const auto format = sniff_image(head);
    if (format.empty()) return "the image data is not a PNG, JPEG, WEBP or GIF image";
    if (!img.media_type.empty() && img.media_type != format)
        return "the image data is " + std::string(format) + ", but its media type says " + img.media_type;
    return std::nullopt;
}

/// Every inline image of the request, each checked; the first problem is the answer.
inline std::optional<std::string> images_problem(const core::envelope& env, std::size_t max_bytes) {
    auto check = [&](const auto& part) -> std::optional<std::string> {
        const auto* img = std::get_if<core::image_part>(&part);
        if (!img) return std::nullopt;
        if (img->is_inline()) return inline_image_problem(*img, max_bytes);
        // The provider fetches a URL image itself: only a public https address is worth sending.
        if (!std::string_view(img->url).starts_with("https://"))
            return "an image URL must be an https:// URL or a base64 data: URL, not '" +
                   img->url.substr(0, std::min<std::size_t>(img->url.size(), 64)) + "'";
        return std::nullopt;
    };
    for (const auto& msg : env.messages)
        for (const auto& part : msg.content) {
            if (auto p = check(part)) return p;
            if (const auto* r = std::get_if<core::tool_result_part>(&part))
                for (const auto& inner : r->content)
                    if (auto p = check(inner)) return p;
        }
    return std::nullopt;
}

} // namespace detail

/// The largest inline image a request may carry, decoded (what OpenAI and Anthropic accept).
inline constexpr std::size_t max_inline_image_bytes = std::size_t(20) << 20;

/// `params` names the checked fields as the caller's API spells them, so an error names them too.
inline core::result<void> validate_against(const core::envelope& env, const core::model_entry& m,
                                           const api::param_names& params) {
    using core::error_kind;
    const std::string_view max_tokens_param = params.max_tokens;
    if (!m.endpoints.contains(env.endpoint))
        return core::error{error_kind::invalid_request,
                           "The model '" + m.id + "' does not serve " + std::string(core::to_string(env.endpoint)) +
                               " requests",
                           "model", "unsupported_endpoint"};
    if (auto asked = env.sampling.max_output_tokens) {
        if (m.max_output_tokens && *asked > *m.max_output_tokens)
            return core::error{error_kind::invalid_request,
                               std::string(max_tokens_param) + " is " + std::to_string(*asked) + ", but the model '" +
                                   m.id + "' writes at most " + std::to_string(*m.max_output_tokens) + " tokens",
                               std::string(max_tokens_param), "max_tokens_too_large"};
        if (m.context_window && *asked >= *m.context_window)
            return core::error{error_kind::invalid_request,
                               std::string(max_tokens_param) + " is " + std::to_string(*asked) +
                                   ", which leaves no room for input in the model's context window of " +
                                   std::to_string(*m.context_window) + " tokens",
                               std::string(max_tokens_param), "context_length_exceeded"};
    }
    if (!m.supports.tools && !env.tools.empty()) return detail::unsupported(m, "tools", params.tools);
    if (!m.supports.vision && detail::has_images(env)) return detail::unsupported(m, "image inputs", params.images);
    if (auto why = detail::images_problem(env, max_inline_image_bytes))
        return core::error{error_kind::invalid_request, "Invalid image: " + *why, std::string(params.images), "invalid_image"};
    if (!m.supports.reasoning && detail::wants_reasoning(env)) return detail::unsupported(m, "reasoning", params.reasoning);
    if (!m.supports.response_format && !env.response_format.is_null())
        return detail::unsupported(m, "structured output", params.response_format);
    if (env.sampling.n && *env.sampling.n > 1)
        return core::error{error_kind::invalid_request, "n greater than 1 is not supported", "n", "unsupported_parameter"};
    return {};
}

} // namespace sluice::exec

#endif
