#ifndef SLUICE_PLUGINS_OPENAI_OPTIONS_HPP
#define SLUICE_PLUGINS_OPENAI_OPTIONS_HPP

// What one configured upstream of the openai plugin accepts, read from provider_config.options:
//
//   options:
//     dialect: openai            # openai (default) | vllm: vllm also takes top_k (OpenAI rejects it)
//     max_tokens_field: max_tokens   # max_tokens (default: every compatible server takes it)
//                                    # | max_completion_tokens (OpenAI's reasoning models need it)
//     max_effort: high           # the reasoning_effort word sent for effort "max" (e.g. xhigh)
//
// An unknown key or value is refused when the provider is created, so a typo fails at start-up
// instead of silently sending the wrong field on every request.

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::providers::openai {

enum class dialect : std::uint8_t { openai, vllm };

enum class max_tokens_field : std::uint8_t { max_tokens, max_completion_tokens };

struct options {
    openai::dialect dialect = dialect::openai;
    openai::max_tokens_field max_tokens_field = max_tokens_field::max_tokens;
    std::string max_effort = "high"; // every OpenAI-compatible server knows "high"; few know "xhigh"

    bool allows_top_k() const noexcept { return dialect == dialect::vllm; }
    std::string_view max_tokens_name() const noexcept {
        return max_tokens_field == max_tokens_field::max_completion_tokens ? "max_completion_tokens" : "max_tokens";
    }

    /// Reads `raw`; throws std::invalid_argument naming the offending option.
    static options from_json(const boost::json::object& raw) {
        options o;
        for (const auto& [key, value] : raw) {
            const auto* text = value.if_string();
            auto refuse = [&](std::string_view allowed) {
                throw std::invalid_argument("openai: option " + std::string(key) + " is " +
                                            boost::json::serialize(value) + "; expected " + std::string(allowed));
            };
            if (key == "dialect") {
                if (text && *text == "openai") o.dialect = dialect::openai;
                else if (text && *text == "vllm") o.dialect = dialect::vllm;
                else refuse("openai or vllm");
            } else if (key == "max_tokens_field") {
                if (text && *text == "max_tokens") o.max_tokens_field = max_tokens_field::max_tokens;
                else if (text && *text == "max_completion_tokens")
                    o.max_tokens_field = max_tokens_field::max_completion_tokens;
                else refuse("max_tokens or max_completion_tokens");
            } else if (key == "max_effort") {
                if (!text || text->empty()) refuse("a reasoning_effort word such as high or xhigh");
                o.max_effort = std::string(*text);
            } else {
                throw std::invalid_argument("openai: unknown option " + std::string(key) +
                                            " (known: dialect, max_tokens_field, max_effort)");
            }
        }
        return o;
    }
};

} // namespace sluice::providers::openai

#endif
