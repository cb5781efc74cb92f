#ifndef SLUICE_GATEWAY_HPP
#define SLUICE_GATEWAY_HPP

// The gateway: a configuration, the providers its plugins supply, the kernels that run models in
// process (the `local` backend), the catalog of models, the policies every request passes (auth,
// limits), metering and metrics, and the HTTP server that serves them. The reference app is
// sluice::gateway and a command line; a custom gateway names its own policy types:
// basic_gateway<my_auth, my_limits>.

#include <sluice/api/fronts.hpp>
#include <sluice/config/config.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/log.hpp>
#include <sluice/exec/backend.hpp>
#include <sluice/exec/policy_stack.hpp>
#include <sluice/exec/serve.hpp>
#include <sluice/exec/serve_jobs.hpp>
#include <sluice/exec/serve_media.hpp>
#include <sluice/metering/pipeline.hpp>
#include <sluice/observe/gateway_metrics.hpp>
#include <sluice/plugin/host.hpp>
#include <sluice/reference_policies.hpp>
#include <sluice/config/routers.hpp>
#include <sluice/routing/router.hpp>
#include <sluice/transport/route_table.hpp>
#include <sluice/transport/server.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice {

/// A configuration the gateway cannot start with; the message names the culprit.
class startup_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// What the embedding program knows that the config file does not.
struct gateway_options {
    std::optional<std::filesystem::path> build_plugin_dir; // the build tree's plugins/, for uninstalled runs
    // The source tree's models/, for uninstalled runs: the last place a relative kernel model path
    // of a config without a folder (the embedded default) is looked for.
    std::optional<std::filesystem::path> source_model_dir;
    // Load the plugins and build the catalog, then stop: no key store, spool or Redis client is
    // opened, so `--check` writes nothing and needs no running Redis. Kernel plugins and model
    // files are only looked for, not opened or loaded.
    bool check_only = false;
    // Embeds text for the routers' classifiers (the reference app passes the embed kernel);
    // routers in the config and no embedder is a start-up error.
    routing::embedder embed;
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

/// Where a relative model path is looked for when the config has no folder (the embedded default),
/// in order: each folder of $SLUICE_MODEL_PATH (colon-separated), beside the binary
/// (../share/sluice/models, models/), then the source tree's models/.
inline std::vector<std::filesystem::path> model_search_path(const std::optional<std::filesystem::path>& source_dir) {
    std::vector<std::filesystem::path> dirs;
    auto add = [&](std::filesystem::path d) {
        if (d.empty()) return;
        d = d.lexically_normal();
        for (const auto& e : dirs)
            if (e == d) return;
        dirs.push_back(std::move(d));
    };
    if (const char* env = std::getenv("SLUICE_MODEL_PATH")) {
        std::string_view rest(env);
        while (!rest.empty()) {
            auto colon = rest.find(':');
            add(std::filesystem::path(std::string(rest.substr(0, colon))));
            rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
        }
    }
    boost::dll::fs::error_code ec;
    auto program = boost::dll::program_location(ec);
    if (!ec) {
        std::filesystem::path bin = std::filesystem::path(program.string()).parent_path();
        add(bin / ".." / "share" / "sluice" / "models");
        add(bin / "models");
    }
    if (source_dir) add(*source_dir);
    return dirs;
}

/// A GPU this process could use: the CUDA builds of kernel plugins are loaded only then.
inline bool gpu_present() {
    std::error_code ec;
    return std::filesystem::exists("/dev/nvidia0", ec) || std::filesystem::exists("/dev/nvidiactl", ec);
}

/// Builds a policy the gateway owns: from (config, executor) when it has such a constructor,
/// else default-constructed (auth::none, limits::unlimited).
template <class P>
std::unique_ptr<P> make_policy(const config::gateway_config& cfg, const boost::asio::any_io_executor& ex) {
    try {
        if constexpr (std::is_constructible_v<P, const config::gateway_config&, const boost::asio::any_io_executor&>)
            return std::make_unique<P>(cfg, ex);
        else
            return std::make_unique<P>();
    } catch (const std::exception& e) {
        throw startup_error(cfg.source + ": " + e.what());
    }
}

} // namespace detail

/// Auth, Limits: the policy families of every request; Routing: the routing::policy_set a router
/// config may name (routing::default_policies, or the team's own with its policy added).
template <auth::auth_policy Auth = configured_auth, limits::limits_policy Limits = configured_limits,
          class Routing = routing::default_policies>
class basic_gateway {
public:
    /// Loads every provider's plugin, builds the catalog and the policies; a plugin that is
    /// missing, refused or failing is a startup_error naming the provider, the plugin and the
    /// config line, and so is a key store or spool that cannot be opened.
    explicit basic_gateway(config::gateway_config cfg, gateway_options options = {})
        : config_(std::move(cfg)), plugins_(config_.plugin_path, options.build_plugin_dir),
          server_(detail::server_options_from(config_), std::ref(routes_)),
          // Caught from construction on: a signal that comes before run() waits for it, not kills us.
          // A strand, as the handler and the drained callback run on different io threads.
          signals_(transport::net::make_strand(server_.context()), SIGINT, SIGTERM) {
        if (config_.auth.mode == config::auth_settings::mode_kind::none && !config_.listen.is_loopback())
            throw startup_error("auth mode 'none' lets anyone who reaches " + config_.listen.to_string() +
                                " use every model: it is allowed only on a loopback listen address");
        load_providers();
        prepare_kernels(options);
        build_catalog();
        if (config_.routers)
            router_configs_ = config::read_routers(
                *config_.routers, [this](std::string_view id) { return catalog_.find(id) != nullptr; }, Routing::names);
        if (options.check_only) return;
        build_routers(options.embed);
        auth_ = detail::make_policy<Auth>(config_, server_.context().get_executor());
        limits_ = detail::make_policy<Limits>(config_, server_.context().get_executor());
        start_metering();
        hooks_.emplace(*auth_, *limits_, metrics_, recorder(), server_.context().get_executor());
        metrics_.set_limit_store_errors([l = limits_.get()] { return double(l->store_errors()); });
        register_kernel_gauges();
        add_routes();
    }

    ~basic_gateway() {
        if (loader_.joinable()) loader_.join(); // a load cannot be interrupted; it ends on its own
        if (metering_) metering_->stop(); // what is queued reaches the spool, fsync'd
        hooks_.reset();
    }

    basic_gateway(const basic_gateway&) = delete;
    basic_gateway& operator=(const basic_gateway&) = delete;

    /// Binds the listen address; throws std::runtime_error naming it when it cannot. Model
    /// kernels load after it on a thread of their own (seconds each): /readyz answers 503 until
    /// each has loaded or failed, and a model answers 503 until its kernel has loaded.
    void listen() {
        if (!hooks_) throw std::logic_error("a gateway built with check_only does not serve");
        server_.listen();
        if (kernels_.empty()) {
            ready_ = true;
            return;
        }
        if (!loader_.joinable()) loader_ = std::thread([this] { load_kernels(); });
    }

    /// Serves until SIGINT or SIGTERM has drained the server (a second signal stops at once).
    void run() {
        server_.on_drained([this] {
            if (jobs_) jobs_->stop(); // the poller's timer would keep the io threads running
            transport::net::post(signals_.get_executor(), [this] { signals_.cancel(); });
        });
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
    Auth& auth() noexcept { return *auth_; }
    Limits& limits() noexcept { return *limits_; }
    observe::gateway_metrics& metrics() noexcept { return metrics_; }
    std::shared_ptr<plugin::provider> provider(std::string_view name) const {
        auto it = providers_.find(std::string(name));
        return it == providers_.end() ? nullptr : it->second;
    }
    /// What serves each catalog model: an upstream, or a kernel once it has loaded.
    const exec::backend_lookup& backends() const noexcept { return backend_for_; }
    /// The loaded kernel of a model, or null (not a kernel model, or not loaded yet).
    std::shared_ptr<plugin::kernel> kernel(std::string_view model) const {
        auto it = kernels_.find(model);
        if (it == kernels_.end()) return nullptr;
        std::lock_guard lock(it->second->mutex);
        return it->second->loaded;
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
            if (m.kernel) {
                add_kernel_model(m);
                continue;
            }
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
                co_await ex.respond_json(boost::beast::http::status::ok, ready_body());
            else
                co_await ex.respond_json(boost::beast::http::status::service_unavailable, R"({"status":"starting"})");
        });
        routes_.add(get, "/v1/models", [this](exchange& ex) -> transport::net::awaitable<void> { co_await list_models(ex); });
        routes_.add(post, "/v1/chat/completions", [this](exchange& ex) {
            return exec::serve_text<api::chat_completions_front>(ex, catalog_, backend_for_, *hooks_, &routing_);
        });
        routes_.add(post, "/v1/responses", [this](exchange& ex) {
            return exec::serve_text<api::responses_front>(ex, catalog_, backend_for_, *hooks_, &routing_);
        });
        routes_.add(post, "/v1/messages", [this](exchange& ex) {
            return exec::serve_text<api::messages_front>(ex, catalog_, backend_for_, *hooks_, &routing_);
        });
        if (config_.metrics.enabled)
            routes_.add(get, config_.metrics.path, [this](exchange& ex) -> transport::net::awaitable<void> {
                transport::http_response res{boost::beast::http::status::ok, ex.request().version()};
                res.set(boost::beast::http::field::content_type, observe::registry::content_type);
                refresh_kernel_gauges();
                res.body() = metrics_.scrape();
                co_await ex.respond(std::move(res));
            });
        if constexpr (requires(Auth& a) { a.admin(); }) {
            if (auth_->admin())
                for (auto verb : {get, post, boost::beast::http::verb::delete_})
                    routes_.add_prefix(verb, "/admin/v1/", [this](exchange& ex) -> transport::net::awaitable<void> {
                        co_await admin(ex);
                    });
        }
        routes_.add(post, "/v1/messages/count_tokens",
                    [this](exchange& ex) -> transport::net::awaitable<void> { co_await count_tokens(ex); });
        routes_.add_prefix(get, "/v1/models/", [this](exchange& ex) -> transport::net::awaitable<void> { co_await get_model(ex); });
        // Embeddings, speech and images (exec/serve_media.hpp): a kernel in process or an upstream.
        routes_.add(post, "/v1/embeddings",
                    [this](exchange& ex) { return exec::serve_embeddings(ex, catalog_, backend_for_, *hooks_); });
        routes_.add(post, "/v1/audio/speech",
                    [this](exchange& ex) { return exec::serve_speech(ex, catalog_, backend_for_, *hooks_); });
        routes_.add(post, "/v1/images/generations",
                    [this](exchange& ex) { return exec::serve_images(ex, catalog_, backend_for_, *hooks_); });
        // Async jobs: video generations and /v1/async-invoke (exec/serve_jobs.hpp).
        {
            exec::job_options jo;
            jo.ttl = config_.jobs.ttl;
            jo.poll_interval = config_.jobs.poll_interval;
            jo.give_up_after = config_.jobs.give_up_after;
            try {
                jobs_ = std::make_unique<exec::job_service>(exec::open_job_store(config_.jobs, server_.context().get_executor()),
                                                            upstream_for_, recorder(), server_.context().get_executor(), jo,
                                                            &catalog_);
            } catch (const std::exception& e) {
                throw startup_error(config_.source + ": jobs: " + e.what());
            }
            exec::add_job_routes(routes_, catalog_, *jobs_, *hooks_);
        }
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

    template <class A = Auth>
    transport::net::awaitable<void> admin(exchange& ex) {
        const auto& req = ex.request();
        auto authz = req.find(boost::beast::http::field::authorization);
        auto reply = auth_->admin()->handle(req.method_string(), req.target(),
                                            authz == req.end() ? std::string_view{} : std::string_view(authz->value()),
                                            req.body(), exec::policy_detail::unix_now());
        log::info("admin", {{"request_id", ex.request_id()}, {"method", req.method_string()}, {"status", reply.status}});
        co_await ex.respond_json(boost::beast::http::status(reply.status), std::move(reply.body));
    }

    /// "router:NAME" in a request's model field picks the model; every attempt at any model feeds
    /// the statistics and circuit breakers the routers read.
    void build_routers(const routing::embedder& embed) {
        if (!router_configs_.empty() && !embed)
            throw startup_error(config_.source + ": routers: this gateway was built without an embedder for the classifier");
        try {
            routers_ = std::make_unique<routing::router_set<Routing>>(router_configs_, catalog_, embed);
        } catch (const std::exception& e) {
            throw startup_error(config_.source + ": routers: " + e.what());
        }
        for (const auto& r : router_configs_) log::info("router_loaded", {{"router", r.name}, {"tasks", r.tasks.size()}});
        routing_.resolve = [this](const core::envelope& env) -> std::optional<core::result<exec::route_plan>> {
            auto name = routing::router_set<Routing>::router_name(env.model);
            if (!name) return std::nullopt;
            auto* r = routers_->find(*name);
            if (!r)
                return core::result<exec::route_plan>(core::error{core::error_kind::not_found,
                                                                  "The router '" + std::string(*name) + "' does not exist",
                                                                  "model", "model_not_found"});
            auto d = r->route(env);
            if (d.candidates.empty())
                return core::result<exec::route_plan>(core::error{core::error_kind::overloaded,
                                                                  "router '" + r->name() + "' has no model to serve route '" + d.route + "'",
                                                                  "model", "no_route_candidate"});
            return core::result<exec::route_plan>(exec::route_plan{std::move(d.route), std::move(d.candidates)});
        };
        routing_.report = [this](const core::model_entry& m, const exec::attempt_outcome& o) {
            using std::chrono::duration_cast, std::chrono::microseconds;
            routing::outcome out = routing::failure{o.failure.value_or(core::error_kind::upstream)};
            if (!o.failure) {
                auto t = duration_cast<microseconds>(o.ttft.value_or(std::chrono::duration<double>{}));
                out = routing::success{t, t};
            }
            routers_->health().report(m, out, std::chrono::steady_clock::now());
        };
    }

    void start_metering() {
        if (!config_.metering) return;
        const auto& m = *config_.metering;
        metering::pipeline_options o;
        o.spool_dir = m.spool;
        o.fsync_interval = m.fsync_interval;
        o.queue_capacity = m.queue;
        std::vector<std::unique_ptr<metering::sink>> sinks;
        for (const auto& url : m.sinks) {
            auto made = metering::make_sink(url);
            if (!made) throw startup_error(config_.source + ": metering.sinks: " + made.error().message);
            sinks.push_back(std::move(made).value());
        }
        auto opened = metering::pipeline::open(std::move(o), std::move(sinks));
        if (!opened) throw startup_error(config_.source + ": metering.spool: " + opened.error().message);
        metering_ = std::move(opened).value();
        auto* p = metering_.get();
        metrics_.set_spool_backlog([p] { return double(p->backlog()); });
        auto& reg = metrics_.registry();
        reg.add_callback_counter("sluice_metering_events_durable_total",
                                 "Usage events written to the spool and fsync'd: acknowledged, never lost.")
            .set([p] { return double(p->durable()); });
        reg.add_callback_counter("sluice_metering_overflowed_total",
                                 "Usage events the request thread spooled itself because the queue was full.")
            .set([p] { return double(p->overflowed()); });
        reg.add_callback_counter("sluice_metering_sink_errors_total", "Failed deliveries to a metering sink.")
            .set([p] { return double(p->sink_errors()); });
    }

    exec::usage_recorder recorder() {
        if (!metering_) return {};
        return [p = metering_.get()](metering::usage_event e) { p->record(std::move(e)); };
    }

    // ---- Kernels: models run in this process ------------------------------------------------

    /// One kernel model: found at construction, loaded by the loader thread after listen().
    struct kernel_slot {
        std::string model;
        std::string plugin;                 // the plugin opened: "lm_cuda" where the CUDA build was chosen
        std::filesystem::path plugin_file;
        std::filesystem::path weights;      // empty: the kernel needs none
        std::string device;                 // "cpu" or "cuda"
        const config::model_config* config = nullptr;
        std::shared_ptr<plugin::kernel> instance; // created, not yet loaded (null with check_only)
        mutable std::mutex mutex;
        std::shared_ptr<plugin::kernel> loaded;   // set once load() succeeded
        std::optional<core::error> failure;       // set when load() failed
    };

    std::string where(const config::model_config& m) const {
        return config_.source + ":" + std::to_string(m.kernel->line) + ": model '" + m.id + "'";
    }

    /// Finds every kernel model's plugin and model file, and (unless check_only) creates its
    /// kernel: a missing plugin or file is a startup_error naming the model and each place tried.
    void prepare_kernels(const gateway_options& options) {
        std::vector<std::filesystem::path> search;
        bool searched = false;
        for (const auto& m : config_.models) {
            if (!m.kernel) continue;
            const auto& k = *m.kernel;
            auto slot = std::make_unique<kernel_slot>();
            slot->model = m.id;
            slot->config = &m;
            slot->plugin = k.plugin;
            slot->device = "cpu";
            // The CUDA build of the lm kernel, where there is a GPU to run it and the build exists.
            if (k.plugin == "lm" && detail::gpu_present()) {
                if (auto cuda = plugins_.locate("lm_cuda")) {
                    slot->plugin = "lm_cuda";
                    slot->device = "cuda";
                }
            }
            auto file = plugins_.locate(slot->plugin);
            if (!file) throw startup_error(where(m) + ": kernel: " + file.error().message);
            slot->plugin_file = *file;

            if (!k.path.empty()) {
                if (!searched) search = detail::model_search_path(options.source_model_dir), searched = true;
                std::vector<std::filesystem::path> tried;
                slot->weights = find_model_file(k, search, tried);
                if (slot->weights.empty()) {
                    std::string places;
                    for (const auto& t : tried) places += (places.empty() ? "" : ", ") + t.string();
                    throw startup_error(where(m) + ": kernel: model file not found: " + k.path.string() +
                                        " (tried: " + places + ")");
                }
            }
            if (!options.check_only) {
                auto made = plugins_.create_kernel(slot->plugin);
                if (!made && slot->device == "cuda") {
                    // A GPU node without a working CUDA runtime still serves, on the CPU.
                    log::warn("kernel_cuda_unavailable", {{"model", m.id}, {"error", made.error().message}});
                    if (!use_cpu_build(*slot)) throw startup_error(where(m) + ": kernel: " + made.error().message);
                    made = plugins_.create_kernel(slot->plugin);
                }
                if (!made && made.error().kind == plugin::plugin_error_kind::abi_mismatch) {
                    log::warn("model_unavailable", {{"model", m.id}, {"plugin", slot->plugin},
                                                    {"reason", "its kernel plugin was refused"}});
                    continue; // the host has logged why; the model is left out of the catalog
                }
                if (!made) throw startup_error(where(m) + ": kernel: " + made.error().message);
                slot->instance = std::move(made).value();
            }
            kernels_.emplace(m.id, std::move(slot));
        }
    }

    /// A kernel's model file: an absolute path as it is; a relative one in the config file's
    /// folder, then in each folder of the model search path (there also by its file name alone,
    /// so `models/x.gguf` is found in a models folder). Empty when none exists; `tried` lists all.
    static std::filesystem::path find_model_file(const config::kernel_model_config& k,
                                                 const std::vector<std::filesystem::path>& search,
                                                 std::vector<std::filesystem::path>& tried) {
        std::error_code ec;
        auto look = [&](std::filesystem::path p) {
            p = p.lexically_normal();
            for (const auto& t : tried)
                if (t == p) return false;
            tried.push_back(p);
            return std::filesystem::exists(p, ec);
        };
        if (k.path.is_absolute()) return look(k.path) ? tried.back() : std::filesystem::path{};
        if (!k.base_dir.empty() && look(k.base_dir / k.path)) return tried.back();
        for (const auto& dir : search) {
            if (look(dir / k.path)) return tried.back();
            if (k.path.has_parent_path() && look(dir / k.path.filename())) return tried.back();
        }
        return {};
    }

    /// Switches a slot from the CUDA build of its plugin to the CPU one; false when there is none.
    bool use_cpu_build(kernel_slot& slot) {
        auto file = plugins_.locate(slot.config->kernel->plugin);
        if (!file) return false;
        slot.plugin = slot.config->kernel->plugin;
        slot.plugin_file = *file;
        slot.device = "cpu";
        return true;
    }

    void add_kernel_model(const config::model_config& m) {
        auto it = kernels_.find(m.id);
        if (it == kernels_.end()) return; // refused: prepare_kernels logged it
        const auto& slot = *it->second;
        core::model_entry e;
        e.id = m.id;
        e.provider = "local";
        e.upstream_model = m.upstream_model;
        // Before load(), a kernel knows what it serves, not yet its model's context window.
        if (m.endpoints)
            e.endpoints = *m.endpoints;
        else if (slot.instance)
            e.endpoints = slot.instance->describe().endpoints;
        else
            e.endpoints = {core::endpoint::chat};
        e.context_window = m.context_window;
        e.max_output_tokens = m.max_output_tokens;
        e.open_weight = m.open_weight;
        e.owned_by = m.owned_by;
        e.created = m.created;
        e.supports = m.supports;
        if (m.price) e.price = core::price{m.price->input, m.price->output, m.price->cached_input, m.price->cache_write};
        catalog_.add(std::move(e));
    }

    /// The loader thread: each kernel in turn. A failure is logged and leaves that model answering
    /// 503 with the reason; the gateway serves on.
    void load_kernels() {
        for (auto& [id, slot] : kernels_) {
            if (!slot->instance) continue;
            const auto started = std::chrono::steady_clock::now();
            plugin::kernel_config kc{slot->model, slot->weights.string(), slot->config->kernel->options};
            auto loaded = slot->instance->load(kc);
            // A CUDA build that cannot load (no driver, too little memory): the CPU build serves.
            if (!loaded && slot->device == "cuda" && use_cpu_build(*slot)) {
                log::warn("kernel_cuda_unavailable", {{"model", slot->model}, {"error", loaded.error().message}});
                if (auto made = plugins_.create_kernel(slot->plugin)) {
                    slot->instance = std::move(made).value();
                    loaded = slot->instance->load(kc);
                }
            }
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            if (!loaded) {
                const auto& why = loaded.error();
                log::error("kernel_load_failed", {{"model", slot->model}, {"plugin", slot->plugin},
                                                  {"file", slot->plugin_file.string()}, {"error", why.message}});
                std::lock_guard lock(slot->mutex);
                slot->failure = core::error{core::error_kind::overloaded,
                                            "the model '" + slot->model + "' failed to load: " + why.message, "model",
                                            "model_load_failed"};
                continue;
            }
            auto info = slot->instance->describe();
            // Written before the kernel is published: a request reads the figure only after
            // backend_for_ has seen the kernel under the same lock.
            if (!slot->config->context_window && info.context_window)
                if (const auto* entry = catalog_.find(slot->model))
                    const_cast<core::model_entry*>(entry)->context_window = info.context_window;
            log::info("kernel_loaded", {{"model", slot->model}, {"plugin", slot->plugin},
                                        {"file", slot->plugin_file.string()}, {"backend", slot->device},
                                        {"weights", slot->weights.string()}, {"seconds", seconds}});
            std::lock_guard lock(slot->mutex);
            slot->loaded = slot->instance;
        }
        if (!server_.draining()) ready_ = true;
    }

    exec::backend kernel_backend(const kernel_slot& slot) const {
        std::lock_guard lock(slot.mutex);
        if (slot.loaded) return exec::backend{nullptr, slot.loaded, std::nullopt};
        if (slot.failure) return exec::backend{nullptr, nullptr, slot.failure};
        return exec::backend{nullptr, nullptr,
                             core::error{core::error_kind::overloaded,
                                         "the model '" + slot.model + "' is still loading; try again shortly", "model",
                                         "model_loading"}};
    }

    std::string ready_body() const {
        boost::json::object body{{"status", "ready"}, {"models", catalog_.size()}};
        boost::json::array failed;
        for (const auto& [id, slot] : kernels_) {
            std::lock_guard lock(slot->mutex);
            if (slot->failure) failed.push_back(boost::json::value(id));
        }
        if (!failed.empty()) body["unavailable"] = std::move(failed);
        return boost::json::serialize(body);
    }

    /// Read at scrape: the load figures of each loaded kernel.
    void register_kernel_gauges() {
        if (kernels_.empty()) return;
        {
            auto& reg = metrics_.registry();
            kernel_gauges_ = kernel_gauges{
                &reg.add_gauge("sluice_kernel_queue_depth", "Requests accepted by a model kernel, not yet running.", {"model"}),
                &reg.add_gauge("sluice_kernel_running", "Sequences in a model kernel's running batch.", {"model"}),
                &reg.add_gauge("sluice_kernel_kv_blocks_used", "KV-cache blocks in use by a model kernel.", {"model"}),
                &reg.add_gauge("sluice_kernel_kv_blocks_total", "KV-cache blocks a model kernel has.", {"model"}),
                &reg.add_gauge("sluice_kernel_prefix_cache_hit_rate",
                               "Prompt tokens served from a model kernel's prefix cache, as a share of prompt tokens.",
                               {"model"})};
        }
    }

    void refresh_kernel_gauges() {
        if (!kernel_gauges_) return;
        for (const auto& [id, slot] : kernels_) {
            std::shared_ptr<plugin::kernel> k;
            {
                std::lock_guard lock(slot->mutex);
                k = slot->loaded;
            }
            if (!k) continue;
            auto load = k->current_load();
            kernel_gauges_->queue_depth->labels({id}).set(double(load.queue_depth));
            kernel_gauges_->running->labels({id}).set(double(load.running));
            kernel_gauges_->kv_used->labels({id}).set(double(load.kv_blocks_used));
            kernel_gauges_->kv_total->labels({id}).set(double(load.kv_blocks_total));
            kernel_gauges_->hit_rate->labels({id}).set(load.prefix_cache_hit_rate);
        }
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
    // Every catalog model's backend: its kernel (by model id) or its provider's upstream.
    exec::backend_lookup backend_for_ = [this](const core::model_entry& m) -> exec::backend {
        if (auto it = kernels_.find(m.id); it != kernels_.end()) return kernel_backend(*it->second);
        return exec::backend{upstream_for_(m), nullptr, std::nullopt};
    };
    std::atomic<bool> ready_{false};
    observe::registry registry_;
    observe::gateway_metrics metrics_{registry_};
    std::unique_ptr<Auth> auth_;
    std::unique_ptr<Limits> limits_;
    std::unique_ptr<metering::pipeline> metering_;
    std::unique_ptr<exec::job_service> jobs_;
    std::optional<exec::policy_stack<Auth, Limits>> hooks_;
    std::vector<config::router_config> router_configs_;
    std::unique_ptr<routing::router_set<Routing>> routers_;
    exec::routing_hooks routing_;
    struct kernel_gauges {
        observe::gauge_family* queue_depth;
        observe::gauge_family* running;
        observe::gauge_family* kv_used;
        observe::gauge_family* kv_total;
        observe::gauge_family* hit_rate;
    };
    std::optional<kernel_gauges> kernel_gauges_; // registered when there are kernels
    // After server_: a kernel's threads push into bridges bound to its io_context, so the kernels
    // stop first. The loader (joined in the destructor body) is the last thing that touches them.
    std::map<std::string, std::unique_ptr<kernel_slot>, std::less<>> kernels_;
    std::thread loader_;
};

/// The reference gateway: its policies picked by the config.
using gateway = basic_gateway<>;

} // namespace sluice

#endif
