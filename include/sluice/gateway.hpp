#ifndef SLUICE_GATEWAY_HPP
#define SLUICE_GATEWAY_HPP

// The gateway: a configuration, the providers its plugins supply, the catalog of models, and
// the HTTP server that serves them. The reference app is this class and a command line.

#include <sluice/api/fronts.hpp>
#include <sluice/config/config.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/log.hpp>
#include <sluice/exec/serve.hpp>
#include <sluice/plugin/host.hpp>
#include <sluice/transport/route_table.hpp>
#include <sluice/transport/server.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace sluice {

/// A configuration the gateway cannot start with; the message names the culprit.
class startup_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// What the embedding program knows that the config file does not.
struct gateway_options {
    std::optional<std::filesystem::path> build_plugin_dir; // the build tree's plugins/, for uninstalled runs
};

namespace detail {

inline transport::server_options server_options_from(const config::gateway_config& c) {
    transport::server_options o;
    o.host = c.listen.host;
    o.port = c.listen.port;
    o.threads = c.threads;
    o.header_timeout = c.server.header_timeout;
    o.body_timeout = c.server.body_timeout;
    o.idle_timeout = c.server.idle_timeout;
    o.write_timeout = c.server.write_timeout;
    o.drain_timeout = c.server.drain_timeout;
    o.body_limit = c.server.body_limit;
    o.header_limit = c.server.header_limit;
    if (c.server.tls) o.tls = transport::tls_files{c.server.tls->cert_file.string(), c.server.tls->key_file.string()};
    return o;
}

inline std::string rfc3339(std::int64_t unix_seconds) {
    std::time_t t = unix_seconds;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

} // namespace detail

class gateway {
public:
    /// Loads every provider's plugin and builds the catalog; a plugin that is missing, refused or
    /// failing is a startup_error naming the provider, the plugin and the config line.
    explicit gateway(config::gateway_config cfg, gateway_options options = {})
        : config_(std::move(cfg)), plugins_(config_.plugin_path, options.build_plugin_dir),
          server_(detail::server_options_from(config_), std::ref(routes_)),
          // Caught from construction on: a signal that comes before run() waits for it, not kills us.
          // A strand, as the handler and the drained callback run on different io threads.
          signals_(transport::net::make_strand(server_.context()), SIGINT, SIGTERM) {
        load_providers();
        build_catalog();
        add_routes();
    }

    gateway(const gateway&) = delete;
    gateway& operator=(const gateway&) = delete;

    /// Binds the listen address; throws std::runtime_error naming it when it cannot.
    void listen() {
        server_.listen();
        ready_ = true; // everything is loaded before listen(); later work (model kernels) moves this
    }

    /// Serves until SIGINT or SIGTERM has drained the server (a second signal stops at once).
    void run() {
        server_.on_drained([this] { transport::net::post(signals_.get_executor(), [this] { signals_.cancel(); }); });
        signals_.async_wait([this](const error_code& ec, int sig) { on_signal(ec, sig); });
        server_.run();
    }

    void drain() { server_.drain(); }
    void stop() { server_.stop(); }

    std::uint16_t port() const noexcept { return server_.port(); }
    bool ready() const noexcept { return ready_; }
    const core::catalog& catalog() const noexcept { return catalog_; }
    const config::gateway_config& config() const noexcept { return config_; }
    transport::route_table& routes() noexcept { return routes_; }
    std::shared_ptr<plugin::provider> provider(std::string_view name) const {
        auto it = providers_.find(std::string(name));
        return it == providers_.end() ? nullptr : it->second;
    }

private:
    using exchange = transport::exchange;
    using error_code = transport::error_code;
    static constexpr auto get = boost::beast::http::verb::get;
    static constexpr auto post = boost::beast::http::verb::post;

    void on_signal(const error_code& ec, int sig) {
        if (ec) return;
        if (server_.draining()) {
            log::warn("stop", {{"signal", sig}});
            server_.stop();
            return;
        }
        log::info("shutdown", {{"signal", sig}});
        ready_ = false;
        server_.drain();
        signals_.async_wait([this](const error_code& e, int s) { on_signal(e, s); });
    }

    void load_providers() {
        for (const auto& p : config_.providers) {
            plugin::provider_config pc{p.name, p.base_url, p.api_key, p.headers, p.options};
            auto made = plugins_.create_provider(p.plugin, pc);
            if (!made && made.error().kind == plugin::plugin_error_kind::abi_mismatch)
                continue; // the host has logged the refusal; this provider's models are left out below
            if (!made)
                throw startup_error(config_.source + ":" + std::to_string(p.line) + ": provider '" + p.name +
                                    "': " + made.error().message);
            auto info = (*made)->describe();
            log::info("provider_loaded", {{"provider", p.name}, {"plugin", info.name}, {"version", info.version}});
            transport::client_options co;
            co.max_connections_per_origin = p.max_connections;
            co.connect_timeout = p.timeouts.connect;
            co.first_byte_timeout = p.timeouts.first_byte;
            co.total_timeout = p.timeouts.total;
            co.verify_peer = p.tls.verify;
            if (p.tls.ca_file) co.ca_file = p.tls.ca_file->string();
            upstreams_.emplace(p.name, exec::upstream{p.name, made.value(), p.base_url,
                                                      std::make_shared<transport::http_client>(co)});
            providers_.emplace(p.name, std::move(made).value());
        }
    }

    void build_catalog() {
        for (const auto& m : config_.models) {
            if (!providers_.contains(m.provider)) {
                log::warn("model_unavailable", {{"model", m.id}, {"provider", m.provider},
                                                {"reason", "its provider's plugin was refused"}});
                continue;
            }
            core::model_entry e;
            e.id = m.id;
            e.provider = m.provider;
            e.upstream_model = m.upstream_model;
            e.endpoints = m.endpoints ? *m.endpoints : providers_.at(m.provider)->describe().endpoints;
            e.context_window = m.context_window;
            e.max_output_tokens = m.max_output_tokens;
            e.open_weight = m.open_weight;
            e.owned_by = m.owned_by;
            e.created = m.created;
            e.supports = m.supports;
            if (m.price) {
                e.price = core::price{m.price->input, m.price->output, m.price->cached_input, m.price->cache_write};
            }
            catalog_.add(std::move(e));
        }
    }

    void add_routes() {
        routes_.add(get, "/healthz", [](exchange& ex) -> transport::net::awaitable<void> {
            co_await ex.respond_json(boost::beast::http::status::ok, R"({"status":"ok"})");
        });
        routes_.add(get, "/readyz", [this](exchange& ex) -> transport::net::awaitable<void> {
            if (ready_)
                co_await ex.respond_json(boost::beast::http::status::ok,
                                         R"({"status":"ready","models":)" + std::to_string(catalog_.size()) + "}");
            else
                co_await ex.respond_json(boost::beast::http::status::service_unavailable, R"({"status":"starting"})");
        });
        routes_.add(get, "/v1/models", [this](exchange& ex) -> transport::net::awaitable<void> { co_await list_models(ex); });
        routes_.add(post, "/v1/chat/completions", [this](exchange& ex) {
            return exec::serve_text<api::chat_completions_front>(ex, catalog_, upstream_for_);
        });
        routes_.add(post, "/v1/responses", [this](exchange& ex) {
            return exec::serve_text<api::responses_front>(ex, catalog_, upstream_for_);
        });
        routes_.add(post, "/v1/messages", [this](exchange& ex) {
            return exec::serve_text<api::messages_front>(ex, catalog_, upstream_for_);
        });
        routes_.add(post, "/v1/messages/count_tokens",
                    [this](exchange& ex) -> transport::net::awaitable<void> { co_await count_tokens(ex); });
        routes_.add_prefix(get, "/v1/models/", [this](exchange& ex) -> transport::net::awaitable<void> { co_await get_model(ex); });
    }

    static bool anthropic_client(const exchange& ex) {
        return ex.request().find("anthropic-version") != ex.request().end();
    }

    /// OpenAI's model object, or Anthropic's for a client that sends anthropic-version.
    static boost::json::object model_json(const core::model_entry& m, bool anthropic) {
        if (anthropic)
            return {{"type", "model"}, {"id", m.id}, {"display_name", m.id}, {"created_at", detail::rfc3339(m.created)}};
        return {{"id", m.id}, {"object", "model"}, {"created", m.created}, {"owned_by", m.owned_by}};
    }

    transport::net::awaitable<void> list_models(exchange& ex) {
        bool anthropic = anthropic_client(ex);
        boost::json::array data;
        data.reserve(catalog_.size());
        for (const auto& m : catalog_.models()) data.push_back(model_json(m, anthropic));
        boost::json::object body;
        if (anthropic) {
            body["data"] = std::move(data);
            body["has_more"] = false;
            body["first_id"] = catalog_.size() ? boost::json::value(catalog_.models().front().id) : nullptr;
            body["last_id"] = catalog_.size() ? boost::json::value(catalog_.models().back().id) : nullptr;
        } else {
            body["object"] = "list";
            body["data"] = std::move(data);
        }
        co_await ex.respond_json(boost::beast::http::status::ok, boost::json::serialize(body));
    }

    transport::net::awaitable<void> get_model(exchange& ex) {
        auto id = ex.path().substr(std::string_view("/v1/models/").size());
        if (const auto* m = catalog_.find(id)) {
            co_await ex.respond_json(boost::beast::http::status::ok,
                                     boost::json::serialize(model_json(*m, anthropic_client(ex))));
            co_return;
        }
        core::error e{core::error_kind::not_found, "The model '" + std::string(id) + "' does not exist", "model",
                      "model_not_found"};
        co_await ex.respond_error(e);
    }

    /// Anthropic's token counter, estimated here for any model in the catalog.
    transport::net::awaitable<void> count_tokens(exchange& ex) {
        auto decoded = api::decode_count_tokens_request(ex.request().body(), exec::detail::forwardable_headers(ex.request()));
        if (!decoded) {
            auto e = std::move(decoded).error();
            co_await ex.respond_error(e);
            co_return;
        }
        auto found = exec::find_model(catalog_, decoded.value());
        if (!found) {
            auto e = std::move(found).error();
            co_await ex.respond_error(e);
            co_return;
        }
        co_await ex.respond_json(boost::beast::http::status::ok,
                                 api::encode_count_tokens_body(api::estimate_input_tokens(decoded.value())));
    }

    config::gateway_config config_;
    plugin::host plugins_;
    std::map<std::string, std::shared_ptr<plugin::provider>, std::less<>> providers_;
    core::catalog catalog_;
    transport::route_table routes_;
    transport::server server_;
    transport::net::signal_set signals_;
    // After server_: the clients' connections live on its io_context and must close first.
    std::map<std::string, exec::upstream, std::less<>> upstreams_;
    exec::upstream_lookup upstream_for_ = [this](const core::model_entry& m) -> const exec::upstream* {
        auto it = upstreams_.find(m.provider);
        return it == upstreams_.end() ? nullptr : &it->second;
    };
    std::atomic<bool> ready_{false};
};

} // namespace sluice

#endif
