#ifndef SLUICE_PLUGINS_OPENAI_PROVIDER_HPP
#define SLUICE_PLUGINS_OPENAI_PROVIDER_HPP

// The openai provider: OpenAI and every server that speaks Chat Completions (vLLM, SGLang,
// DeepSeek, Together...). Pure translation; each idea lives in its own header:
//   options.hpp   what provider_config.options may say
//   request.hpp   envelope -> POST /chat/completions
//   response.hpp  chat.completion body -> events
//   stream.hpp    chat.completion.chunk SSE -> events (core/sse_parser.hpp frames the bytes)
//   errors.hpp    non-2xx answers and error objects -> core::error

#include "errors.hpp"
#include "options.hpp"
#include "request.hpp"
#include "response.hpp"
#include "stream.hpp"

#include <sluice/plugin/provider.hpp>

#include <memory>
#include <string>

namespace sluice::providers::openai {

inline constexpr const char* plugin_name = "openai";
inline constexpr const char* plugin_version = "0.1.0";

class openai_provider final : public plugin::provider {
public:
    /// Throws std::invalid_argument on an option it does not know (the factory reports it).
    explicit openai_provider(plugin::provider_config config)
        : config_(std::move(config)), options_(options::from_json(config_.options)) {}

    plugin::provider_info describe() const override {
        // Chat is what a model of this provider serves unless the config lists its endpoints;
        // embeddings, images, speech and video go through build_passthrough when it does.
        return {plugin_name, plugin_version, {core::endpoint::chat}, plugin::auth_scheme::bearer, {}};
    }

    plugin::result<plugin::upstream_request> build_request(const core::envelope& request) const override {
        return openai::build_request(request, config_, options_);
    }

    plugin::result<std::vector<core::event>> decode_response(std::string_view body) const override {
        return openai::decode_response(body);
    }

    plugin::result<std::unique_ptr<plugin::stream_decoder>> make_stream_decoder(
        const core::envelope& request) const override {
        return std::unique_ptr<plugin::stream_decoder>(std::make_unique<chat_stream_decoder>(request.model));
    }

    core::error map_error(unsigned status, std::string_view body) const override {
        return openai::map_error(status, body);
    }

    /// Everything but chat (embeddings, images, speech, video jobs) goes as the gateway wrote it,
    /// in OpenAI's own shape, which vLLM and the other compatible servers take too: only the
    /// credential and the configured headers are added, the same for both dialects.
    plugin::result<plugin::upstream_request> build_passthrough(core::endpoint kind,
                                                               plugin::upstream_request request) const override {
        if (kind == core::endpoint::chat) // chat is translated: build_request
            return plugin::provider::build_passthrough(kind, std::move(request));
        if (!config_.api_key.empty()) request.headers.emplace_back("Authorization", "Bearer " + config_.api_key);
        request.headers.insert(request.headers.end(), config_.headers.begin(), config_.headers.end());
        return request;
    }

private:
    plugin::provider_config config_;
    openai::options options_;
};

} // namespace sluice::providers::openai

#endif
