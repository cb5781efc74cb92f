// sluice-gateway: the reference gateway. With no --config it runs the embedded default
// (examples/configs/default.yaml).

#include <sluice/core/command_line.hpp>
#include <sluice/config/load.hpp>
#include <sluice/gateway.hpp>
#ifdef SLUICE_HAVE_EMBED
#include <sluice/kernels/embed.hpp>
#endif
#include <sluice/version.hpp>

#include "default_config.hpp"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr const char* usage_text =
    "usage: sluice-gateway [--config FILE] [--listen HOST:PORT] [--threads N] [--check]\n"
    "\n"
    "  --config FILE       the gateway config (YAML); without it, the embedded default\n"
    "  --listen HOST:PORT  overrides the config's listen address ([::1]:8080 for IPv6)\n"
    "  --threads N         overrides the config's io thread count\n"
    "  --check             validate the config and its plugins, then exit 0 (valid) or 1\n"
    "  --print-default     print the embedded default config and exit\n"
    "  --version           print the version and exit\n";

struct command_line {
    std::optional<std::string> config;
    std::optional<std::string> listen;
    std::optional<unsigned> threads;
    bool check = false;
};

[[noreturn]] void usage_error(const std::string& why) {
    std::fprintf(stderr, "sluice-gateway: %s\n\n%s", why.c_str(), usage_text);
    std::exit(2);
}

command_line parse(int argc, char** argv) {
    command_line cl;
    sluice::core::option_reader args(argc, argv);
    while (args.next()) {
        std::string_view a = args.name();
        auto next = [&]() -> std::string {
            auto v = args.value();
            if (!v) usage_error(std::string(a) + " needs a value");
            return *v;
        };
        if (a == "--help" || a == "-h") {
            std::fputs(usage_text, stdout);
            std::exit(0);
        } else if (a == "--version") {
            std::puts("sluice-gateway " SLUICE_VERSION_STRING);
            std::exit(0);
        } else if (a == "--print-default") {
            std::fwrite(embedded_default_config.data(), 1, embedded_default_config.size(), stdout);
            std::exit(0);
        } else if (a == "--config" || a == "-c") {
            cl.config = next();
        } else if (a == "--listen") {
            cl.listen = next();
        } else if (a == "--threads") {
            auto v = next();
            unsigned n = 0;
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc{} || p != v.data() + v.size() || n == 0 || n > sluice::config::max_threads)
                usage_error("--threads takes a number from 1 to " + std::to_string(sluice::config::max_threads));
            cl.threads = n;
        } else if (a == "--check") {
            cl.check = true;
        } else {
            usage_error("unknown option " + std::string(a));
        }
    }
    return cl;
}

} // namespace

int main(int argc, char** argv) {
    auto cl = parse(argc, argv);
    try {
        auto cfg = cl.config ? sluice::config::load_file(*cl.config)
                             : sluice::config::load_string(embedded_default_config, "default.yaml (embedded)");
        if (cl.listen) {
            std::string why;
            auto addr = sluice::config::parse_listen_address(*cl.listen, &why);
            if (!addr) usage_error("--listen " + *cl.listen + ": " + why);
            cfg.listen = *addr;
        }
        if (cl.threads) cfg.threads = *cl.threads;

        sluice::gateway_options options;
#ifdef SLUICE_BUILD_PLUGIN_DIR
        options.build_plugin_dir = SLUICE_BUILD_PLUGIN_DIR;
#endif
#ifdef SLUICE_SOURCE_MODEL_DIR
        options.source_model_dir = SLUICE_SOURCE_MODEL_DIR;
#endif
        options.check_only = cl.check;
#ifdef SLUICE_HAVE_EMBED
        options.embed = sluice::routing::row_major_embedder(
            [](std::span<const std::string_view> texts) { return sluice::kernels::embed::encode(texts); },
            sluice::kernels::embed::default_dim);
#endif
        sluice::gateway gw(std::move(cfg), options);
        if (cl.check) {
            std::printf("%s: ok (%zu providers, %zu models)\n", gw.config().source.c_str(),
                        gw.config().providers.size(), gw.catalog().size());
            return 0;
        }
        gw.listen();
        gw.run();
        return 0;
    } catch (const sluice::config::config_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
    } catch (const sluice::startup_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluice-gateway: %s\n", e.what());
    }
    return 1;
}
