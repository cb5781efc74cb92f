// A team's own gateway from the sluice templates: the reference auth (keys, or none), no rate
// limits at all, and a routing policy set with the team's own policy added next to sluice's four.
// Nothing in sluice changes; the config names "prefer-mini" like any built-in policy.
//
//   custom-gateway --config gateway.yaml [--check]

#include "../policy-unit-test/prefer_mini.hpp"

#include <sluice/config/load.hpp>
#include <sluice/gateway.hpp>
#include <sluice/kernels/embed.hpp>

#include <cstdio>
#include <string_view>

using acme_gateway = sluice::basic_gateway<sluice::configured_auth, sluice::limits::unlimited, acme::policies>;

int main(int argc, char** argv) {
    const char* config = nullptr;
    bool check = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--check")
            check = true;
        else if (a == "--config" && i + 1 < argc)
            config = argv[++i];
    }
    if (!config) {
        std::fprintf(stderr, "usage: custom-gateway --config FILE [--check]\n");
        return 2;
    }
    try {
        sluice::gateway_options options;
        options.check_only = check;
#ifdef SLUICE_BUILD_PLUGIN_DIR
        options.build_plugin_dir = SLUICE_BUILD_PLUGIN_DIR;
#endif
        options.embed = sluice::routing::row_major_embedder(
            [](std::span<const std::string_view> texts) { return sluice::kernels::embed::encode(texts); },
            sluice::kernels::embed::default_dim);
        acme_gateway gw(sluice::config::load_file(config), options);
        if (check) {
            std::printf("%s: ok\n", config);
            return 0;
        }
        gw.listen();
        gw.run();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
