#ifndef SLUICE_EXEC_UPSTREAM_HPP
#define SLUICE_EXEC_UPSTREAM_HPP

// One configured provider as the executor uses it: the plugin that translates, the base URL,
// and the HTTP client (with its own pool, TLS settings and time limits) that does the I/O.

#include <sluice/plugin/provider.hpp>
#include <sluice/transport/client.hpp>

#include <memory>
#include <string>

namespace sluice::exec {

struct upstream {
    std::string name;                                // the provider's name in the config
    std::shared_ptr<plugin::provider> provider;      // pure translation
    std::string base_url;                            // request paths are appended
    std::shared_ptr<transport::http_client> client;  // pooled connections to base_url's origin
};

/// A client error as the canonical error a caller sees: what failed, never how our code is laid out.
inline core::error transport_error(const boost::system::error_code& ec, const std::string& upstream_name) {
    using transport::client_errc;
    core::error e{core::error_kind::upstream, "upstream " + upstream_name + ": " + ec.message(), {}, {}};
    if (ec == client_errc::connect_timeout || ec == client_errc::first_byte_timeout ||
        ec == client_errc::total_timeout || ec == client_errc::pool_timeout) {
        e.kind = core::error_kind::timeout;
        e.code = "upstream_timeout";
    } else if (ec == client_errc::pool_full) {
        e.kind = core::error_kind::overloaded;
        e.code = "upstream_busy";
    } else {
        e.code = "upstream_unreachable";
    }
    return e;
}

} // namespace sluice::exec

#endif
