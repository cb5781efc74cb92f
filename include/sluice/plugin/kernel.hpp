#ifndef SLUICE_PLUGIN_KERNEL_HPP
#define SLUICE_PLUGIN_KERNEL_HPP

// A kernel plugin runs a model in process: it loads weights, takes requests, and pushes
// canonical events from its own scheduler threads to a sink per request.
//
//   class my_kernel final : public sluice::plugin::kernel { ... };
//   SLUICE_KERNEL_PLUGIN(my_kernel, "my", "1.0.0")   // exports sluice_my.so's entry points
//
// First version: the lm kernel work will refine it (batch hints, token counting, embeddings).

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
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace sluice::plugin {

struct kernel_config {
    std::string name;            // the model's name in the gateway config
    std::string model_path;      // weights file or folder
    boost::json::object options; // kernel-specific settings (threads, kv blocks, ...)
};

struct kernel_info {
    std::string name;    // the plugin's name, "lm"
    std::string version; // the plugin's version
    std::string model;   // the loaded model, empty before load()
    core::endpoint_set endpoints;
    std::uint32_t context_window = 0; // tokens; 0 when unknown or not loaded
};

/// A snapshot for routing and /metrics.
struct kernel_load {
    std::uint32_t queue_depth = 0;      // accepted, not yet running
    std::uint32_t running = 0;          // in the current batch
    std::uint64_t kv_blocks_used = 0;
    std::uint64_t kv_blocks_total = 0;
    double prefix_cache_hit_rate = 0;   // prompt tokens served from the prefix cache / prompt tokens
};

using request_id = std::uint64_t;

/// Receives one request's events, on a kernel thread. It must be cheap and must not throw
/// (the host wraps the sinks it hands over, so a throw stays on the host's side).
/// The last call carries message_stop or an error; after it the kernel drops the sink.
using event_sink = std::function<void(core::event&&)>;

class BOOST_SYMBOL_VISIBLE kernel {
public:
    /// Ends every accepted request with an error event, stops the scheduler and joins its
    /// threads before returning: the library may be unmapped right after.
    virtual ~kernel() = default;
    /// Loads the model. Called once, before submit; slow (seconds), so not on a network thread.
    virtual result<void> load(const kernel_config& config) = 0;
    virtual kernel_info describe() const = 0;
    /// Queues `request`; its events go to `sink`. Refuses at once (overloaded, invalid_request)
    /// without calling the sink.
    virtual result<request_id> submit(core::envelope request, event_sink sink) = 0;
    /// Stops a request soon (client gone, deadline passed). Unless it had already ended, its sink
    /// gets `reason` as the last event. False when the id is unknown or the request is done.
    virtual bool cancel(request_id id, core::error reason) = 0;
    virtual kernel_load current_load() const = 0;
};

/// The factory every kernel plugin exports as `sluice_create_kernel`: an empty kernel, to load.
/// It never throws: on failure it returns nullptr and says why in `error`.
using kernel_factory = kernel*(std::string& error);

namespace detail {

inline core::error kernel_thrown_error(std::string_view call) {
    std::string what = "unknown exception";
    try {
        throw;
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
    }
    return core::error{core::error_kind::internal, "kernel: " + std::string(call) + " threw: " + what, {}, {}};
}

// Exceptions are caught inside the plugin, where they are thrown (see provider.hpp).
template <class Impl>
class guarded_kernel final : public kernel {
public:
    result<void> load(const kernel_config& config) override {
        try {
            return impl_.load(config);
        } catch (...) {
            return kernel_thrown_error("load");
        }
    }
    kernel_info describe() const override {
        try {
            return impl_.describe();
        } catch (...) {
            return {};
        }
    }
    result<request_id> submit(core::envelope request, event_sink sink) override {
        try {
            return impl_.submit(std::move(request), std::move(sink));
        } catch (...) {
            return kernel_thrown_error("submit");
        }
    }
    bool cancel(request_id id, core::error reason) override {
        try {
            return impl_.cancel(id, std::move(reason));
        } catch (...) {
            return false;
        }
    }
    kernel_load current_load() const override {
        try {
            return impl_.current_load();
        } catch (...) {
            return {};
        }
    }

private:
    Impl impl_;
};

template <class Impl>
    requires std::derived_from<Impl, kernel> && std::default_initializable<Impl>
kernel* create_guarded_kernel(std::string& error) noexcept {
    try {
        return new guarded_kernel<Impl>();
    } catch (const std::exception& e) {
        try { error = e.what(); } catch (...) {}
    } catch (...) {
        try { error = "unknown exception"; } catch (...) {}
    }
    return nullptr;
}

} // namespace detail
} // namespace sluice::plugin

/// Exports a kernel plugin in one line, at global scope in one source file of the plugin.
#define SLUICE_KERNEL_PLUGIN(CLASS, NAME, VERSION)                                     \
    SLUICE_PLUGIN_EXPORT_ABI(::sluice::plugin::kernel_kind, NAME, VERSION)              \
    namespace sluice_plugin_entry {                                                     \
    inline ::sluice::plugin::kernel* create_kernel(std::string& error) {                \
        return ::sluice::plugin::detail::create_guarded_kernel<CLASS>(error);           \
    }                                                                                   \
    }                                                                                   \
    BOOST_DLL_ALIAS(sluice_plugin_entry::create_kernel, sluice_create_kernel)

#endif
