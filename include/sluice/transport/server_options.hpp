#ifndef SLUICE_TRANSPORT_SERVER_OPTIONS_HPP
#define SLUICE_TRANSPORT_SERVER_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace sluice::transport {

struct tls_files {
    std::string cert_file; // PEM certificate chain
    std::string key_file;  // PEM private key
};

/// Limits and timeouts of the inbound HTTP/1.1 server. Every phase of a request has its own clock.
struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080; // 0 picks a free port; server::port() tells which
    unsigned threads = 1;

    std::chrono::milliseconds header_timeout{std::chrono::seconds(10)}; // first byte to end of headers
    std::chrono::milliseconds body_timeout{std::chrono::seconds(60)};   // end of headers to end of body
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};   // keep-alive wait for the next request
    std::chrono::milliseconds write_timeout{std::chrono::seconds(60)};  // each write to the client
    std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};  // graceful shutdown deadline
    std::chrono::milliseconds heartbeat_interval{std::chrono::seconds(15)}; // SSE comment when idle

    std::size_t body_limit = 16u << 20;   // larger bodies are answered 413
    std::size_t header_limit = 16u << 10; // larger header blocks are answered 431

    std::optional<tls_files> tls;
};

} // namespace sluice::transport

#endif
