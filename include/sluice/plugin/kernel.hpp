#ifndef SLUICE_PLUGIN_KERNEL_HPP
#define SLUICE_PLUGIN_KERNEL_HPP

// A kernel plugin runs a model in process: it loads weights, takes requests, and pushes
// canonical events from its own scheduler threads to a sink per request.
//
//   class my_kernel final : public sluice::plugin::kernel { ... };
//   SLUICE_KERNEL_PLUGIN(my_kernel, "my", "1.0.0")   // exports sluice_my.so's entry points
//
// Three kinds of work cross this interface: text generation (submit, canonical events), embeddings
// (embed, one synchronous call) and speech (speak, encoded audio bytes as they are made). A kernel
// serves what describe().endpoints says; the others answer with the base class's `unsupported`.

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
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

/// POST /v1/embeddings, already checked by the gateway: exactly one of `texts` and `tokens` is
/// non-empty, and no input is empty.
struct embedding_request {
    std::vector<std::string> texts;
    std::vector<std::vector<std::int64_t>> tokens; // token-id arrays, as OpenAI's API allows
    std::uint32_t dimensions = 0;                  // 0: the model's own
};

struct embedding_result {
    std::vector<std::vector<float>> vectors; // one per input, in order, L2-normalised
    std::uint64_t input_tokens = 0;          // what usage reports and metering prices
};

/// POST /v1/audio/speech, already checked by the gateway (voice, format and speed in range).
struct speech_request {
    std::string input;
    std::string voice = "alloy";  // an OpenAI voice name; the kernel maps it to its own voices
    double speed = 1.0;           // 0.25 .. 4.0
    std::string format = "mp3";   // wav, pcm, mp3, opus, flac
    std::string instructions;     // style hints; a kernel may ignore them
};

/// One piece of a speech answer. The pieces concatenated are the whole file in `format`; the last
/// piece has `last` set (and `error` when synthesis failed part-way: the bytes so far are cut).
struct speech_chunk {
    std::string bytes;
    bool last = false;
    std::optional<core::error> error;
    std::uint64_t input_characters = 0; // set on the last piece: what was synthesised
};

/// Receives one speech request's chunks, on a kernel thread. Like event_sink: cheap, never throws.
using speech_sink = std::function<void(speech_chunk&&)>;

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

    /// Embeds every input; a kernel without the embeddings endpoint answers `unsupported`.
    virtual result<embedding_result> embed(const embedding_request&) { return unsupported("embeddings"); }
    /// Starts synthesising `request`; chunks go to `sink`, the last one marked. cancel() stops it
    /// (the sink then gets a last chunk carrying the reason). Refuses at once without calling the sink.
    virtual result<request_id> speak(speech_request, speech_sink) { return unsupported("speech"); }

protected:
    static core::error unsupported(std::string_view what) {
        return core::error{core::error_kind::invalid_request,
                           "this model does not serve " + std::string(what), "model", "unsupported_endpoint"};
    }
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
    result<embedding_result> embed(const embedding_request& request) override {
        try {
            return impl_.embed(request);
        } catch (...) {
            return kernel_thrown_error("embed");
        }
    }
    result<request_id> speak(speech_request request, speech_sink sink) override {
        try {
            return impl_.speak(std::move(request), std::move(sink));
        } catch (...) {
            return kernel_thrown_error("speak");
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
