// A provider built as if against another plugin ABI: the build sets ABI_MAJOR_STEP and
// ABI_MINOR_STEP, and the export macro picks the changed numbers up.

#include <sluice/plugin/provider.hpp>

constexpr unsigned host_major = SLUICE_PLUGIN_ABI_MAJOR;
constexpr unsigned host_minor = SLUICE_PLUGIN_ABI_MINOR;
#undef SLUICE_PLUGIN_ABI_MAJOR
#undef SLUICE_PLUGIN_ABI_MINOR
#define SLUICE_PLUGIN_ABI_MAJOR (host_major + ABI_MAJOR_STEP)
#define SLUICE_PLUGIN_ABI_MINOR (host_minor + ABI_MINOR_STEP)

namespace {

using namespace sluice;

class versioned_provider final : public plugin::provider {
public:
    explicit versioned_provider(const plugin::provider_config&) {}
    plugin::provider_info describe() const override { return {"versioned", "0.0.1", {core::endpoint::chat}, {}, {}}; }
    plugin::result<plugin::upstream_request> build_request(const core::envelope&) const override {
        return plugin::upstream_request{"POST", "/v", {}, "{}"};
    }
    plugin::result<std::vector<core::event>> decode_response(std::string_view) const override {
        return std::vector<core::event>{};
    }
    plugin::result<std::unique_ptr<plugin::stream_decoder>> make_stream_decoder(const core::envelope&) const override {
        return core::error{core::error_kind::invalid_request, "no streams", {}, {}};
    }
    core::error map_error(unsigned, std::string_view body) const override {
        return {core::error_kind::upstream, std::string(body), {}, {}};
    }
};

} // namespace

SLUICE_PROVIDER_PLUGIN(versioned_provider, "versioned", "0.0.1")
