#ifndef SLUICE_TRANSPORT_CLIENT_OPTIONS_HPP
#define SLUICE_TRANSPORT_CLIENT_OPTIONS_HPP

// Settings and error codes of the upstream HTTP client (transport/client.hpp).
//
// Errors: every I/O call of the client returns a boost::system::error_code and does not throw.
// The failures a caller maps to its own error kinds get a code of `client_errc` (category
// "sluice.client"); anything else passes through unchanged (system, Beast or OpenSSL category).
// `is_timeout(ec)` says whether a code is one of the time limits below.

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>

namespace sluice::transport {

struct client_options {
    /// Connections open (in use, idle or being opened) to one scheme+host+port at most. A call
    /// beyond it waits for one to be given back, bounded by `connect_timeout`.
    std::size_t max_connections_per_origin = 64;
    /// Calls that may wait for a connection of one origin at once; beyond it a call fails at
    /// once with `client_errc::pool_full`.
    std::size_t max_waiting_per_origin = 1024;
    /// A pooled connection idle for longer is closed instead of reused.
    std::chrono::milliseconds idle_expiry{std::chrono::seconds(60)};
    /// Getting a usable connection: waiting for a pool slot, name resolution, TCP connect, TLS handshake.
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
    /// Writing the request, and then again from the request written to the response header received.
    std::chrono::milliseconds first_byte_timeout{std::chrono::seconds(60)};
    /// The whole exchange, from the call to the last byte of the body.
    std::chrono::milliseconds total_timeout{std::chrono::seconds(600)};
    /// Verify the server certificate and its host name. Off only for tests and private networks.
    bool verify_peer = true;
    /// PEM file of trusted CA certificates; when set, it replaces the system store.
    std::string ca_file;
    /// Response status line plus header fields, in bytes.
    std::size_t max_header_bytes = 64 * 1024;
};

/// Per-request overrides of the client's time limits; an empty field keeps the client's value.
struct request_timeouts {
    std::optional<std::chrono::milliseconds> connect{};
    std::optional<std::chrono::milliseconds> first_byte{};
    std::optional<std::chrono::milliseconds> total{};
};

enum class client_errc {
    bad_url = 1,               // not an absolute http:// or https:// URL
    pool_timeout,              // no connection of the origin became free within the connect timeout
    pool_full,                 // too many calls already wait for a connection of the origin
    connect_timeout,           // resolve + connect + TLS handshake did not finish in time
    first_byte_timeout,        // request write or response header did not finish in time
    total_timeout,             // the whole exchange did not finish in time
    certificate_rejected,      // TLS peer verification failed (chain or host name)
    header_too_large,          // response header beyond max_header_bytes
    truncated_body,            // the connection ended before the body did
    body_too_large,            // read_all: the body is beyond the caller's limit
    no_response,               // read on an upstream_response that holds no response
};

} // namespace sluice::transport

template <>
struct boost::system::is_error_code_enum<sluice::transport::client_errc> : std::true_type {};

namespace sluice::transport {

class client_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "sluice.client"; }
    std::string message(int ev) const override {
        switch (static_cast<client_errc>(ev)) {
        case client_errc::bad_url: return "not an absolute http or https URL";
        case client_errc::pool_timeout: return "no upstream connection became free in time";
        case client_errc::pool_full: return "too many requests wait for an upstream connection";
        case client_errc::connect_timeout: return "upstream connect timed out";
        case client_errc::first_byte_timeout: return "upstream response header timed out";
        case client_errc::total_timeout: return "upstream exchange timed out";
        case client_errc::certificate_rejected: return "upstream TLS certificate rejected";
        case client_errc::header_too_large: return "upstream response header too large";
        case client_errc::truncated_body: return "upstream connection ended before the body did";
        case client_errc::body_too_large: return "upstream response body too large";
        case client_errc::no_response: return "no upstream response";
        }
        return "unknown upstream client error";
    }
};

inline const boost::system::error_category& client_category() noexcept {
    static const client_category_impl category;
    return category;
}

inline boost::system::error_code make_error_code(client_errc e) noexcept {
    return {static_cast<int>(e), client_category()};
}

/// True for the client's time limits: pool wait, connect, first byte, total.
inline bool is_timeout(const boost::system::error_code& ec) noexcept {
    return ec == client_errc::pool_timeout || ec == client_errc::connect_timeout ||
           ec == client_errc::first_byte_timeout || ec == client_errc::total_timeout;
}

} // namespace sluice::transport

#endif
