#ifndef SLUICE_TRANSPORT_ROUTE_TABLE_HPP
#define SLUICE_TRANSPORT_ROUTE_TABLE_HPP

// Path and method to handler. An unknown path is a 404 and a known path with another method a 405
// with an Allow header, both in the caller's API error shape.

#include <sluice/transport/exchange.hpp>

#include <string>
#include <vector>

namespace sluice::transport {

class route_table {
public:
    /// An exact path, e.g. "/v1/models".
    route_table& add(http::verb method, std::string path, request_handler handler) {
        routes_.push_back({method, std::move(path), false, std::move(handler)});
        return *this;
    }

    /// Every path under a prefix, e.g. "/v1/models/" for "/v1/models/{id}".
    route_table& add_prefix(http::verb method, std::string prefix, request_handler handler) {
        routes_.push_back({method, std::move(prefix), true, std::move(handler)});
        return *this;
    }

    /// Runs the first route whose path and method match.
    net::awaitable<void> operator()(exchange& ex) const {
        auto path = ex.path();
        auto method = ex.request().method();
        std::string allow;
        for (const auto& r : routes_) {
            if (!r.matches(path)) continue;
            if (r.method == method) {
                co_await r.handler(ex);
                co_return;
            }
            if (!allow.empty()) allow += ", ";
            allow += http::to_string(r.method);
        }
        if (!allow.empty()) {
            auto res = error_response({core::error_kind::method_not_allowed,
                                       "method " + std::string(ex.request().method_string()) + " is not allowed on " +
                                           std::string(path) + "; allowed: " + allow,
                                       {}, {}},
                                      ex.request().target(), &ex.request());
            res.set(http::field::allow, allow);
            co_await ex.respond(std::move(res));
            co_return;
        }
        core::error e{core::error_kind::not_found,
                      "unknown request URL: " + std::string(ex.request().method_string()) + " " + std::string(path),
                      {}, "unknown_url"};
        co_await ex.respond_error(e);
    }

private:
    struct route {
        http::verb method;
        std::string path;
        bool prefix;
        request_handler handler;

        bool matches(std::string_view p) const noexcept {
            return prefix ? p.size() > path.size() && p.starts_with(path) : p == path;
        }
    };
    std::vector<route> routes_;
};

} // namespace sluice::transport

#endif
