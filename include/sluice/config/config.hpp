#ifndef SLUICE_CONFIG_CONFIG_HPP
#define SLUICE_CONFIG_CONFIG_HPP

// The gateway configuration as the loader hands it over: every value checked, every default
// filled in. docs/config.md is the reference for each key; load.hpp reads the file.

#include <sluice/config/access.hpp>
#include <sluice/config/jobs.hpp>
#include <sluice/config/listen.hpp>
#include <sluice/config/node.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/endpoint.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::config {

struct server_tls {
    std::filesystem::path cert_file;
    std::filesystem::path key_file;
};

/// The client-facing HTTP server.
struct server_settings {
    // To read a request's headers, to read its body, to wait on keep-alive for the next
    // request, and to write one response chunk.
    std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
    std::chrono::milliseconds body_timeout = std::chrono::seconds(60);
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
    std::chrono::milliseconds write_timeout = std::chrono::seconds(60);
    // Graceful shutdown deadline; 0 closes at once.
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(10);
    std::uint64_t body_limit = 16ull << 20; // bytes
    std::uint32_t header_limit = 16u << 10; // bytes
    std::optional<server_tls> tls;          // absent: plain HTTP
};

/// Each must be positive; connect and first_byte fit inside total.
struct upstream_timeouts {
    std::chrono::milliseconds connect = std::chrono::seconds(10);
    // From the request sent to the first response byte.
    std::chrono::milliseconds first_byte = std::chrono::seconds(60);
    // The whole exchange, a stream included.
    std::chrono::milliseconds total = std::chrono::seconds(600);
};

struct upstream_tls {
    bool verify = true;                           // check the server certificate and host name
    std::optional<std::filesystem::path> ca_file; // absent: the system trust store
};

/// An upstream service reached through a provider plugin.
struct provider_config {
    std::string name;     // unique, [a-z0-9_-]+
    std::string plugin;   // a plugin name (loads sluice_<plugin>.so) or a path to a .so
    std::string base_url; // http(s) URL without a trailing '/'
    std::string api_key;  // empty: none
    std::vector<std::pair<std::string, std::string>> headers; // extra upstream headers, in file order
    upstream_timeouts timeouts;
    unsigned max_connections = 64;
    upstream_tls tls;
    boost::json::object options; // plugin-specific settings, handed to the plugin as written
    int line = 0; // the line of its name, for messages that point back at the file

    /// Whether plugin names a file rather than a plugin in the search path.
    bool plugin_is_path() const {
        return plugin.find('/') != std::string::npos || std::string_view(plugin).ends_with(".so");
    }
};

/// USD per million tokens.
struct token_price {
    double input = 0;
    double output = 0;
    double cached_input = 0; // tokens read from the prompt cache; defaults to input
    double cache_write = 0;  // tokens written to the prompt cache; defaults to input
};

/// A model run in this process by a kernel plugin (the `local` backend) instead of an upstream.
struct kernel_model_config {
    std::string plugin;         // a kernel plugin's name ("lm") or a path to its .so
    std::filesystem::path path;     // the weights, as written; empty for kernels that need none
    std::filesystem::path base_dir; // the config file's folder, where a relative path is looked
                                    // for first; empty for a config without a file (the embedded
                                    // default). The gateway then tries the model search path
    boost::json::object options; // handed to the kernel as they are (threads, kv blocks, ...)
    int line = 0;                // the line of `kernel:`
};

/// A public model id and what serves it: an upstream (provider) or a kernel, exactly one.
struct model_config {
    std::string id;                              // public id, unique
    std::string provider;                        // names a provider_config; empty for a kernel model
    std::optional<kernel_model_config> kernel;   // set for a model served in process
    std::string upstream_model;                  // the id the provider knows it by; defaults to id
    std::optional<core::endpoint_set> endpoints; // absent: whatever the provider serves
    std::optional<std::uint64_t> context_window;
    std::optional<std::uint64_t> max_output_tokens;
    bool open_weight = false;
    std::string owned_by;     // defaults to the provider name ("local" for a kernel model)
    std::int64_t created = 0; // unix seconds
    std::optional<token_price> price;
    core::model_features supports; // what requests may use; all true unless the config says otherwise
    int line = 0; // the line of its id
};

struct gateway_config {
    std::string source; // the file name (or source name) it was loaded from
    listen_address listen;
    unsigned threads = 1; // io threads; the loader defaults it to the hardware concurrency
    server_settings server;
    std::vector<std::filesystem::path> plugin_path; // searched before the built-in plugin dirs
    std::vector<provider_config> providers;
    std::vector<model_config> models;

    auth_settings auth;
    std::vector<account_config> accounts;
    limits_settings limits;
    std::optional<metering_settings> metering; // absent: usage goes to the completion log line only
    metrics_settings metrics;
    jobs_settings jobs; // async jobs: video generations, /v1/async-invoke

    // Reserved sections, kept as written (any YAML) for the feature that owns each to validate
    // with the same node accessors, so its errors carry the same file, line and key path.
    std::optional<node> routers;

    const provider_config* find_provider(std::string_view name) const {
        for (const auto& p : providers)
            if (p.name == name) return &p;
        return nullptr;
    }
    const account_config* find_account(std::string_view id) const {
        for (const auto& a : accounts)
            if (a.id == id) return &a;
        return nullptr;
    }
    const model_config* find_model(std::string_view id) const {
        for (const auto& m : models)
            if (m.id == id) return &m;
        return nullptr;
    }
};

} // namespace sluice::config

#endif
