#ifndef SLUICE_PLUGINS_ANTHROPIC_PROVIDER_HPP
#define SLUICE_PLUGINS_ANTHROPIC_PROVIDER_HPP

// The `anthropic` provider: the Anthropic Messages API (POST {base_url}/v1/messages, base_url
// being the host, "https://api.anthropic.com"). Pure translation; the host does the I/O.
//
// Options (provider_config::options):
//   default_max_tokens  max_tokens when the request gives none (default 4096)
//   anthropic_version   the anthropic-version header when the client sends none (default 2023-06-01)

#include "error.hpp"
#include "native.hpp"
#include "request.hpp"
#include "response.hpp"
#include "stream.hpp"

#include <sluice/plugin/provider.hpp>

#include <memory>

namespace sluice::anthropic {

class anthropic_provider final : public plugin::provider {
public:
    /// Throws std::invalid_argument on a bad option; the plugin factory turns that into its error.
    explicit anthropic_provider(const plugin::provider_config& config)
        : settings_(request_settings::from_config(config)) {}

    plugin::provider_info describe() const override {
        return {std::string(plugin_name),
                std::string(plugin_version),
                {core::endpoint::chat},
                plugin::auth_scheme::x_api_key,
                {}};
    }

    plugin::result<plugin::upstream_request> build_request(const core::envelope& request) const override {
        return anthropic::build_request(request, settings_);
    }

    plugin::result<std::vector<core::event>> decode_response(std::string_view body) const override {
        return anthropic::decode_response(body);
    }

    plugin::result<std::unique_ptr<plugin::stream_decoder>> make_stream_decoder(const core::envelope&) const override {
        // Anthropic always reports usage in its stream; nothing in the request changes decoding.
        return std::unique_ptr<plugin::stream_decoder>(std::make_unique<stream_decoder>());
    }

    core::error map_error(unsigned status, std::string_view body) const override {
        return anthropic::map_error(status, body);
    }

private:
    request_settings settings_;
};

} // namespace sluice::anthropic

#endif
