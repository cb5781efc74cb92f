#ifndef SLUICE_PLUGIN_PROVIDER_HPP
#define SLUICE_PLUGIN_PROVIDER_HPP

// A provider plugin translates and does no I/O: envelope -> native HTTP request; native body or
// stream bytes -> canonical events; native error -> core::error. The host owns connections,
// TLS, timeouts and retries, so one plugin serves every upstream that speaks its dialect.
//
//   class my_provider final : public sluice::plugin::provider { ... };
//   SLUICE_PROVIDER_PLUGIN(my_provider, "my", "1.0.0")   // exports sluice_my.so's entry points

#include <sluice/core/endpoint.hpp>
#include <sluice/core/envelope.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/event.hpp>
#include <sluice/plugin/abi.hpp>
#include <sluice/plugin/result.hpp>

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>
#include <boost/json/object.hpp>

#include <concepts>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::plugin {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// One configured upstream, given to the plugin when it is created.
struct provider_config {
    std::string name;             // the provider's name in the gateway config
    std::string base_url;         // "https://api.openai.com/v1"; request paths are appended
    std::string api_key;          // empty when the upstream takes none
    header_list headers;          // extra headers sent on every request
    boost::json::object options;  // plugin-specific settings, passed as written in the config
};

/// Where the credential goes. The plugin writes it itself; the host reads this to redact that
/// header in logs and to swap in a caller's own key where the config allows it.
enum class auth_scheme : std::uint8_t {
    none,
    bearer,    // Authorization: Bearer <key>
    x_api_key, // x-api-key: <key>
    header,    // <auth_header>: <key>, a header of the plugin's choosing
};

struct provider_info {
    std::string name;    // the plugin's name, "openai"
    std::string version; // the plugin's version
    core::endpoint_set endpoints;
    auth_scheme auth = auth_scheme::bearer;
    std::string auth_header; // with auth_scheme::header
};

/// The native request, without Beast types so nothing but plain values crosses the boundary.
struct upstream_request {
    std::string method = "POST";
    std::string path; // appended to provider_config::base_url
    header_list headers;
    std::string body;
};

/// Turns the bytes of one streamed response into events as they arrive. One per response.
class BOOST_SYMBOL_VISIBLE stream_decoder {
public:
    virtual ~stream_decoder() = default;
    /// Appends the events these bytes complete; keeps a partial line or frame for the next call.
    /// A failure the stream reports becomes a core::error event, the last one appended.
    virtual void feed(std::string_view bytes, std::vector<core::event>& out) = 0;
    /// The upstream closed. Appends what the rest completes; when the stream ended before its
    /// natural end (no message_stop yet) appends a core::error (WIRE.md failure 7).
    virtual void finish(std::vector<core::event>& out) = 0;
};

class BOOST_SYMBOL_VISIBLE provider {
public:
    virtual ~provider() = default;
    virtual provider_info describe() const = 0;
    /// The native request for `request`, or why it cannot be expressed (invalid_request).
    virtual result<upstream_request> build_request(const core::envelope& request) const = 0;
    /// A whole non-streaming response body -> the events of the answer, message_stop included.
    virtual result<std::vector<core::event>> decode_response(std::string_view body) const = 0;
    /// A decoder for the streamed response to `request` (the request tells e.g. include_usage).
    virtual result<std::unique_ptr<stream_decoder>> make_stream_decoder(const core::envelope& request) const = 0;
    /// A non-2xx answer -> the canonical error (429 -> rate_limit, 5xx -> upstream, ...).
    virtual core::error map_error(unsigned status, std::string_view body) const = 0;
    /// The endpoints that are not text generation (embeddings, images, speech, video jobs) pass
    /// through in OpenAI's shape: the gateway fills `request` with the OpenAI method, path
    /// ("/embeddings", "/videos/ID") and body (model already the upstream's id); the plugin adds its
    /// credentials and whatever its dialect changes. A provider that cannot serve `kind` says so
    /// (the default).
    virtual result<upstream_request> build_passthrough(core::endpoint kind, upstream_request request) const {
        (void)request;
        return core::error{core::error_kind::invalid_request,
                           "provider " + describe().name + " does not serve " + std::string(core::to_string(kind)),
                           "model", "unsupported_endpoint"};
    }
};

/// The factory every provider plugin exports as `sluice_create_provider`. It never throws:
/// on failure it returns nullptr and says why in `error`.
using provider_factory = provider*(const provider_config& config, std::string& error);

namespace detail {

// Exceptions are caught here, inside the plugin (the macro compiles this into it), because
// unwinding across a dlopen boundary is only safe when both sides share one runtime.

inline core::error thrown_error(std::string_view plugin, std::string_view call) {
    std::string what = "unknown exception";
    try {
        throw;
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
    }
    return core::error{core::error_kind::internal,
                       "provider " + std::string(plugin) + ": " + std::string(call) + " threw: " + what, {}, {}};
}

class guarded_stream_decoder final : public stream_decoder {
public:
    guarded_stream_decoder(std::unique_ptr<stream_decoder> impl, std::string plugin)
        : impl_(std::move(impl)), plugin_(std::move(plugin)) {}

    void feed(std::string_view bytes, std::vector<core::event>& out) override {
        try {
            impl_->feed(bytes, out);
        } catch (...) {
            out.emplace_back(thrown_error(plugin_, "stream_decoder::feed"));
        }
    }
    void finish(std::vector<core::event>& out) override {
        try {
            impl_->finish(out);
        } catch (...) {
            out.emplace_back(thrown_error(plugin_, "stream_decoder::finish"));
        }
    }

private:
    std::unique_ptr<stream_decoder> impl_;
    std::string plugin_;
};

template <class Impl>
class guarded_provider final : public provider {
public:
    // describe() is asked once here, inside the factory's try, and answered from the copy.
    explicit guarded_provider(const provider_config& config) : impl_(config), info_(impl_.describe()) {}

    provider_info describe() const override { return info_; }

    result<upstream_request> build_request(const core::envelope& request) const override {
        try {
            return impl_.build_request(request);
        } catch (...) {
            return thrown_error(info_.name, "build_request");
        }
    }
    result<std::vector<core::event>> decode_response(std::string_view body) const override {
        try {
            return impl_.decode_response(body);
        } catch (...) {
            return thrown_error(info_.name, "decode_response");
        }
    }
    result<std::unique_ptr<stream_decoder>> make_stream_decoder(const core::envelope& request) const override {
        try {
            auto made = impl_.make_stream_decoder(request);
            if (!made) return std::move(made).error();
            return std::unique_ptr<stream_decoder>(
                std::make_unique<guarded_stream_decoder>(std::move(made).value(), info_.name));
        } catch (...) {
            return thrown_error(info_.name, "make_stream_decoder");
        }
    }
    core::error map_error(unsigned status, std::string_view body) const override {
        try {
            return impl_.map_error(status, body);
        } catch (...) {
            return thrown_error(info_.name, "map_error");
        }
    }
    result<upstream_request> build_passthrough(core::endpoint kind, upstream_request request) const override {
        try {
            return impl_.build_passthrough(kind, std::move(request));
        } catch (...) {
            return thrown_error(info_.name, "build_passthrough");
        }
    }

private:
    Impl impl_;
    provider_info info_;
};

template <class Impl>
    requires std::derived_from<Impl, provider> && std::constructible_from<Impl, const provider_config&>
provider* create_guarded_provider(const provider_config& config, std::string& error) noexcept {
    try {
        return new guarded_provider<Impl>(config);
    } catch (const std::exception& e) {
        try { error = e.what(); } catch (...) {}
    } catch (...) {
        try { error = "unknown exception"; } catch (...) {}
    }
    return nullptr;
}

} // namespace detail
} // namespace sluice::plugin

/// Exports a provider plugin in one line, at global scope in one source file of the plugin:
/// the ABI functions, and a factory that builds CLASS from a provider_config with every call
/// guarded so that no exception leaves the plugin.
#define SLUICE_PROVIDER_PLUGIN(CLASS, NAME, VERSION)                                                   \
    SLUICE_PLUGIN_EXPORT_ABI(::sluice::plugin::provider_kind, NAME, VERSION)                            \
    namespace sluice_plugin_entry {                                                                     \
    inline ::sluice::plugin::provider* create_provider(const ::sluice::plugin::provider_config& config, \
                                                       std::string& error) {                            \
        return ::sluice::plugin::detail::create_guarded_provider<CLASS>(config, error);                 \
    }                                                                                                   \
    }                                                                                                   \
    BOOST_DLL_ALIAS(sluice_plugin_entry::create_provider, sluice_create_provider)

#endif
