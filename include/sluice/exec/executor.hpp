#ifndef SLUICE_EXEC_EXECUTOR_HPP
#define SLUICE_EXEC_EXECUTOR_HPP

// Runs one envelope against one upstream: the provider plugin translates, the HTTP client does
// the I/O, and what comes back is canonical events or a canonical error.
//
// Nothing reaches the client until the upstream has answered 2xx and its first events are
// decoded: up to then a failure is a plain error that a caller may fail over on (WIRE.md 8).

#include <sluice/core/aggregate.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/result.hpp>
#include <sluice/exec/upstream.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sluice::exec {

/// Upstream error bodies we read before mapping them; the rest is not worth the memory.
inline constexpr std::size_t max_error_body = 64 * 1024;
/// A non-streaming upstream answer larger than this is refused rather than buffered.
inline constexpr std::size_t max_response_body = 64u << 20;

namespace detail {

/// A plugin's native request as the HTTP client takes it, sent to `up`'s base URL.
inline core::result<transport::upstream_request> to_transport(plugin::upstream_request r, const upstream& up,
                                                             std::string_view request_id) {
    transport::upstream_request req;
    req.method = transport::http::string_to_verb(r.method);
    if (req.method == transport::http::verb::unknown)
        return core::error{core::error_kind::internal, "provider " + up.name + " built a request with method " + r.method, {}, {}};
    req.url = up.base_url + r.path;
    req.headers = std::move(r.headers);
    if (!request_id.empty()) req.headers.emplace_back("x-request-id", std::string(request_id));
    req.body = std::move(r.body);
    return req;
}

} // namespace detail

/// Sends a native request the provider built (a translated envelope, or a passthrough); a non-2xx
/// answer becomes the provider's mapping of it. With `keep_not_found` an upstream 404 stays
/// not_found (a job the upstream forgot) instead of what the provider maps it to.
inline transport::net::awaitable<core::result<transport::upstream_response>>
send_native(plugin::upstream_request native, const upstream& up, std::string_view request_id,
            bool keep_not_found = false) {
    auto req = detail::to_transport(std::move(native), up, request_id);
    if (!req) co_return std::move(req).error();
    auto sent = co_await up.client->send(std::move(req).value());
    // Cancelled (the client hung up, or the drain deadline passed): unwind, there is no one to answer.
    if (sent.ec == transport::net::error::operation_aborted) throw boost::system::system_error(sent.ec);
    if (sent.ec) co_return transport_error(sent.ec, up.name);
    auto status = sent.response.status();
    if (status < 200 || status > 299) {
        auto body = co_await sent.response.read_all(max_error_body);
        auto e = up.provider->map_error(status, body.body);
        if (e.code.empty()) e.code = "upstream_" + std::to_string(status);
        if (keep_not_found && status == 404) e.kind = core::error_kind::not_found;
        // The upstream refused the gateway's own key: the caller's key is fine, so not a 401 to them.
        if (e.kind == core::error_kind::authentication || e.kind == core::error_kind::permission) {
            e.kind = core::error_kind::upstream;
            e.code = "upstream_credentials_rejected";
        }
        log::info("upstream_error", {{"provider", up.name}, {"status", status}, {"kind", e.message}});
        co_return e;
    }
    co_return std::move(sent.response);
}

namespace detail {

/// Translates the envelope and sends it.
inline transport::net::awaitable<core::result<transport::upstream_response>>
send(const core::envelope& env, const upstream& up, std::string_view request_id) {
    auto built = up.provider->build_request(env);
    if (!built) co_return std::move(built).error();
    co_return co_await send_native(std::move(built).value(), up, request_id);
}

} // namespace detail

/// A streaming answer that has started. Cancellation (operation_aborted) is thrown, not turned
/// into an event: nobody is left to read it.
class upstream_stream {
public:
    upstream_stream(transport::upstream_response response, std::unique_ptr<plugin::stream_decoder> decoder,
                    std::string upstream_name)
        : response_(std::move(response)), decoder_(std::move(decoder)), name_(std::move(upstream_name)) {}

    /// Reads until at least one event is decoded or the stream ended; false once it has ended
    /// (a terminal event, message_stop or error, is then the last one given out).
    transport::net::awaitable<bool> next(std::vector<core::event>& out) {
        while (!ended_ && out.empty()) {
            auto chunk = co_await response_.read_some();
            if (chunk.ec == transport::net::error::operation_aborted) throw boost::system::system_error(chunk.ec);
            if (chunk.ec) {
                // A cut stream is never a clean end (WIRE.md 7): the decoder turns what it has into an error.
                log::info("upstream_stream_cut", {{"provider", name_}, {"error", chunk.ec.message()}});
                decoder_->finish(out);
                end(out);
            } else if (chunk.bytes.empty()) {
                decoder_->finish(out);
                end(out);
            } else {
                decoder_->feed(chunk.bytes, out);
                for (const auto& e : out)
                    if (core::is_terminal(e)) ended_ = true;
            }
        }
        co_return !out.empty() || !ended_;
    }

    bool ended() const noexcept { return ended_; }

private:
    void end(std::vector<core::event>& out) {
        ended_ = true;
        bool terminal = false;
        for (const auto& e : out) terminal |= core::is_terminal(e);
        if (!terminal)
            out.emplace_back(core::error{core::error_kind::upstream, "upstream " + name_ + " ended the stream early", {}, "upstream_stream_cut"});
    }

    transport::upstream_response response_;
    std::unique_ptr<plugin::stream_decoder> decoder_;
    std::string name_;
    bool ended_ = false;
};

/// A non-streaming answer: all events of the upstream's reply.
inline transport::net::awaitable<core::result<std::vector<core::event>>>
complete(const core::envelope& env, const upstream& up, std::string_view request_id = {}) {
    auto resp = co_await detail::send(env, up, request_id);
    if (!resp) co_return std::move(resp).error();
    auto body = co_await resp.value().read_all(max_response_body);
    if (body.ec == transport::net::error::operation_aborted) throw boost::system::system_error(body.ec);
    if (body.ec) co_return transport_error(body.ec, up.name);
    auto events = up.provider->decode_response(body.body);
    if (!events) co_return std::move(events).error();
    co_return std::move(events).value();
}

/// A streaming answer, opened: the upstream said 2xx and the first events are in `first`.
/// An error here has sent nothing to the client yet.
inline transport::net::awaitable<core::result<upstream_stream>>
open_stream(const core::envelope& env, const upstream& up, std::vector<core::event>& first,
            std::string_view request_id = {}) {
    auto decoder = up.provider->make_stream_decoder(env);
    if (!decoder) co_return std::move(decoder).error();
    auto resp = co_await detail::send(env, up, request_id);
    if (!resp) co_return std::move(resp).error();
    upstream_stream stream(std::move(resp).value(), std::move(decoder).value(), up.name);
    co_await stream.next(first);
    // An upstream that fails before its first event may still be failed over.
    if (first.size() == 1) {
        if (const auto* e = std::get_if<core::error>(&first.front())) co_return *e;
    }
    co_return std::move(stream);
}

} // namespace sluice::exec

#endif
