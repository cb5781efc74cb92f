// Plugins that are wrong in one way each; the build picks the way with ODD_WAY.

#include <sluice/plugin/provider.hpp>

#include <stdexcept>

namespace {

using namespace sluice;

// Its constructor throws, as a provider does when its config is unusable.
class throwing_provider final : public plugin::provider {
public:
    explicit throwing_provider(const plugin::provider_config& c) {
        throw std::runtime_error("provider " + c.name + ": options.region is required");
    }
    plugin::provider_info describe() const override { return {}; }
    plugin::result<plugin::upstream_request> build_request(const core::envelope&) const override {
        return plugin::upstream_request{};
    }
    plugin::result<std::vector<core::event>> decode_response(std::string_view) const override {
        return std::vector<core::event>{};
    }
    plugin::result<std::unique_ptr<plugin::stream_decoder>> make_stream_decoder(const core::envelope&) const override {
        return core::error{};
    }
    core::error map_error(unsigned, std::string_view) const override { return {}; }
};

} // namespace

#if ODD_WAY == 1
SLUICE_PROVIDER_PLUGIN(throwing_provider, "throwing", "0.1.0")
#elif ODD_WAY == 2
// The identity functions, and no factory.
SLUICE_PLUGIN_EXPORT_ABI(::sluice::plugin::provider_kind, "no_factory", "0.1.0")
#elif ODD_WAY == 3
// A kind this host does not know.
SLUICE_PLUGIN_EXPORT_ABI("tokenizer", "odd_kind", "0.1.0")
#elif ODD_WAY == 4
// A shared library that is no sluice plugin at all.
extern "C" BOOST_SYMBOL_EXPORT int something_else() { return 1; }
#endif
