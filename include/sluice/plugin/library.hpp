#ifndef SLUICE_PLUGIN_LIBRARY_HPP
#define SLUICE_PLUGIN_LIBRARY_HPP

// One plugin file, opened and checked. open() reads the ABI version before it imports anything
// else and refuses a mismatch with one log line; what create_provider / create_kernel return
// keeps the library mapped for as long as it lives, so the caller never manages the .so.

#include <sluice/core/error.hpp>
#include <sluice/core/log.hpp>
#include <sluice/plugin/abi.hpp>
#include <sluice/plugin/kernel.hpp>
#include <sluice/plugin/provider.hpp>
#include <sluice/plugin/result.hpp>

#include <boost/dll/shared_library.hpp>

#include <dlfcn.h>

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace sluice::plugin {

enum class plugin_error_kind : std::uint8_t {
    not_found,      // no file by that name in the search path
    load_failed,    // the file is there but the dynamic loader refused it
    abi_mismatch,   // built for another major, or a newer minor
    missing_symbol, // an entry point is not exported
    wrong_kind,     // a kernel where a provider was asked for, or the other way round
    factory_failed, // the factory threw or returned nothing
};

inline constexpr std::array<std::string_view, 6> plugin_error_kind_names{
    "not_found", "load_failed", "abi_mismatch", "missing_symbol", "wrong_kind", "factory_failed"};

constexpr std::string_view to_string(plugin_error_kind k) noexcept { return plugin_error_kind_names[std::size_t(k)]; }

struct plugin_error {
    plugin_error_kind kind = plugin_error_kind::not_found;
    std::string plugin;  // the name asked for, or the file
    std::string message; // one line that names the plugin (and, for not_found, every path tried)
};

/// For callers that report a plugin failure to a client: it is the gateway's fault, not theirs.
inline core::error to_core_error(const plugin_error& e) {
    return core::error{core::error_kind::internal, e.message, {}, "plugin_" + std::string(to_string(e.kind))};
}

/// What a plugin says about itself through its extern "C" functions.
struct plugin_info {
    std::filesystem::path file;
    std::string kind; // provider_kind or kernel_kind
    std::string name;
    std::string version;
    abi_version abi{0, 0};
};

namespace detail {

using shared_library_ptr = std::shared_ptr<const boost::dll::shared_library>;

// Host-side wrappers whose only job is lifetime: the library is declared first, so it is
// released last, after the plugin's object has run its destructor.

class library_bound_stream_decoder final : public stream_decoder {
public:
    library_bound_stream_decoder(shared_library_ptr lib, std::unique_ptr<stream_decoder> impl)
        : lib_(std::move(lib)), impl_(std::move(impl)) {}
    void feed(std::string_view bytes, std::vector<core::event>& out) override { impl_->feed(bytes, out); }
    void finish(std::vector<core::event>& out) override { impl_->finish(out); }

private:
    shared_library_ptr lib_;
    std::unique_ptr<stream_decoder> impl_;
};

class library_bound_provider final : public provider {
public:
    library_bound_provider(shared_library_ptr lib, std::unique_ptr<provider> impl)
        : lib_(std::move(lib)), impl_(std::move(impl)) {}

    provider_info describe() const override { return impl_->describe(); }
    result<upstream_request> build_request(const core::envelope& r) const override { return impl_->build_request(r); }
    result<std::vector<core::event>> decode_response(std::string_view body) const override {
        return impl_->decode_response(body);
    }
    result<std::unique_ptr<stream_decoder>> make_stream_decoder(const core::envelope& r) const override {
        auto made = impl_->make_stream_decoder(r);
        if (!made) return std::move(made).error();
        return std::unique_ptr<stream_decoder>(
            std::make_unique<library_bound_stream_decoder>(lib_, std::move(made).value()));
    }
    core::error map_error(unsigned status, std::string_view body) const override {
        return impl_->map_error(status, body);
    }
    result<upstream_request> build_passthrough(core::endpoint kind, upstream_request request) const override {
        return impl_->build_passthrough(kind, std::move(request));
    }

private:
    shared_library_ptr lib_;
    std::unique_ptr<provider> impl_;
};

class library_bound_kernel final : public kernel {
public:
    library_bound_kernel(shared_library_ptr lib, std::unique_ptr<kernel> impl)
        : lib_(std::move(lib)), impl_(std::move(impl)) {}

    result<void> load(const kernel_config& c) override { return impl_->load(c); }
    kernel_info describe() const override { return impl_->describe(); }
    result<request_id> submit(core::envelope request, event_sink sink) override {
        // A throw from the host's sink stays on the host's side of the boundary.
        event_sink guarded = [sink = std::move(sink)](core::event&& e) noexcept {
            try {
                sink(std::move(e));
            } catch (const std::exception& x) {
                log::error("kernel_sink_threw", {{"what", x.what()}});
            } catch (...) {
                log::error("kernel_sink_threw", {{"what", "unknown exception"}});
            }
        };
        return impl_->submit(std::move(request), std::move(guarded));
    }
    bool cancel(request_id id, core::error reason) override { return impl_->cancel(id, std::move(reason)); }
    kernel_load current_load() const override { return impl_->current_load(); }
    result<embedding_result> embed(const embedding_request& r) override { return impl_->embed(r); }
    result<request_id> speak(speech_request request, speech_sink sink) override {
        speech_sink guarded = [sink = std::move(sink)](speech_chunk&& c) noexcept {
            try {
                sink(std::move(c));
            } catch (const std::exception& x) {
                log::error("kernel_sink_threw", {{"what", x.what()}});
            } catch (...) {
                log::error("kernel_sink_threw", {{"what", "unknown exception"}});
            }
        };
        return impl_->speak(std::move(request), std::move(guarded));
    }

private:
    shared_library_ptr lib_;
    std::unique_ptr<kernel> impl_;
};

} // namespace detail

class plugin_library {
public:
    /// Loads `file` and checks it: the ABI first, then the identity functions, then that the
    /// factory of its kind is exported. `host` is this build's ABI; tests may pretend otherwise.
    static result<std::shared_ptr<const plugin_library>, plugin_error> open(const std::filesystem::path& file,
                                                                           abi_version host = host_abi) {
        const std::string where = file.string();
        auto lib = std::make_shared<boost::dll::shared_library>();
        boost::dll::fs::error_code ec;
        // rtld_now: an unresolved symbol fails here, not in the middle of a request.
        lib->load(boost::dll::fs::path(where), ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
        if (ec || !lib->is_loaded()) {
            const char* why = ::dlerror();
            return refuse(plugin_error_kind::load_failed, where,
                          "plugin " + where + " could not be loaded: " + (why ? why : ec.message()));
        }

        // The ABI is read before anything else is imported.
        if (!lib->has(symbol::abi))
            return refuse(plugin_error_kind::missing_symbol, where,
                          "plugin " + where + " exports no " + symbol::abi + "(): not a sluice plugin");
        const abi_version abi = lib->get<sluice_plugin_abi_version()>(symbol::abi)();
        if (!abi_compatible(host, abi)) {
            std::string message = "plugin " + where + " refused: built for plugin ABI " + to_string(abi) +
                                  ", this host speaks " + to_string(host) +
                                  " (the major must match and the minor must not be newer)";
            log::warn("plugin_refused", {{"plugin", where},
                                         {"reason", "abi_mismatch"},
                                         {"plugin_abi", to_string(abi)},
                                         {"host_abi", to_string(host)}});
            return plugin_error{plugin_error_kind::abi_mismatch, where, std::move(message)};
        }

        plugin_info info{file, {}, {}, {}, abi};
        for (auto [name, out] : {std::pair{symbol::kind, &info.kind}, std::pair{symbol::name, &info.name},
                                 std::pair{symbol::version, &info.version}}) {
            if (!lib->has(name))
                return refuse(plugin_error_kind::missing_symbol, where,
                              "plugin " + where + " exports no " + name + "()");
            const char* text = lib->get<const char*()>(name)();
            *out = text ? text : "";
        }

        const char* factory = info.kind == provider_kind ? symbol::create_provider
                              : info.kind == kernel_kind ? symbol::create_kernel
                                                         : nullptr;
        if (!factory)
            return refuse(plugin_error_kind::wrong_kind, where,
                          "plugin " + where + " is of unknown kind '" + info.kind + "'");
        if (!lib->has(factory))
            return refuse(plugin_error_kind::missing_symbol, where,
                          "plugin " + where + " (" + info.kind + ") exports no factory " + factory);

        auto opened = std::shared_ptr<plugin_library>(new plugin_library(std::move(lib), std::move(info)));
        return std::shared_ptr<const plugin_library>(std::move(opened));
    }

    const plugin_info& info() const noexcept { return info_; }

    /// A provider from this library. It keeps the library loaded, and so do its stream decoders.
    result<std::shared_ptr<provider>, plugin_error> create_provider(const provider_config& config) const {
        if (info_.kind != provider_kind) return wrong_kind(provider_kind);
        auto& factory = lib_->get_alias<provider_factory>(symbol::create_provider);
        std::string why;
        std::unique_ptr<provider> made(factory(config, why));
        if (!made) return factory_failed(why);
        return std::shared_ptr<provider>(std::make_shared<detail::library_bound_provider>(lib_, std::move(made)));
    }

    /// An empty kernel from this library, to load(); it keeps the library loaded.
    result<std::shared_ptr<kernel>, plugin_error> create_kernel() const {
        if (info_.kind != kernel_kind) return wrong_kind(kernel_kind);
        auto& factory = lib_->get_alias<kernel_factory>(symbol::create_kernel);
        std::string why;
        std::unique_ptr<kernel> made(factory(why));
        if (!made) return factory_failed(why);
        return std::shared_ptr<kernel>(std::make_shared<detail::library_bound_kernel>(lib_, std::move(made)));
    }

private:
    plugin_library(std::shared_ptr<boost::dll::shared_library> lib, plugin_info info)
        : lib_(std::move(lib)), info_(std::move(info)) {}

    static plugin_error refuse(plugin_error_kind kind, const std::string& file, std::string message) {
        log::warn("plugin_refused", {{"plugin", file}, {"reason", to_string(kind)}, {"message", message}});
        return plugin_error{kind, file, std::move(message)};
    }

    plugin_error wrong_kind(std::string_view wanted) const {
        return {plugin_error_kind::wrong_kind, info_.name,
                "plugin " + info_.name + " (" + info_.file.string() + ") is a " + info_.kind + " plugin, not a " +
                    std::string(wanted)};
    }

    plugin_error factory_failed(const std::string& why) const {
        return {plugin_error_kind::factory_failed, info_.name,
                "plugin " + info_.name + " (" + info_.file.string() + ") failed to create its " + info_.kind + ": " +
                    (why.empty() ? "the factory returned nothing" : why)};
    }

    detail::shared_library_ptr lib_;
    plugin_info info_;
};

} // namespace sluice::plugin

#endif
