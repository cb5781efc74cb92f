#ifndef SLUICE_REDIS_URL_HPP
#define SLUICE_REDIS_URL_HPP

// Where a Redis server is: "redis://[[user]:password@]host[:port][/db | /name]".
// A numeric path selects the database; any other path is handed back as `path` for the caller
// (the metering sink names its stream that way: redis://host:6379/usage).

#include <sluice/core/error.hpp>
#include <sluice/core/result.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::redis {

struct url {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::uint32_t db = 0;
    std::string path; // the part after the first '/', without it; empty when none
    std::string user;
    std::string password; // AUTH is sent on connect when not empty

    friend bool operator==(const url&, const url&) = default;
};

namespace url_detail {

inline core::error bad(std::string_view text, std::string_view why) {
    return core::error{core::error_kind::invalid_request,
                       "invalid redis url '" + std::string(text) + "': " + std::string(why), "", ""};
}

template <class T>
bool parse_number(std::string_view s, T& out) {
    if (s.empty()) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

} // namespace url_detail

inline core::result<url> parse_url(std::string_view text) {
    constexpr std::string_view scheme = "redis://";
    if (text.substr(0, scheme.size()) != scheme) return url_detail::bad(text, "expected redis://host:port");
    std::string_view rest = text.substr(scheme.size());
    url u;

    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        u.path = std::string(rest.substr(slash + 1));
        std::uint32_t db = 0;
        if (url_detail::parse_number(u.path, db)) u.db = db;
    }

    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        auto colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            u.password = std::string(userinfo); // redis://secret@host, as redis-cli reads it
        } else {
            u.user = std::string(userinfo.substr(0, colon));
            u.password = std::string(userinfo.substr(colon + 1));
        }
    }

    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') { // [::1]:6379
        auto close = authority.find(']');
        if (close == std::string_view::npos) return url_detail::bad(text, "unclosed '[' in the host");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return url_detail::bad(text, "expected ':' after ']'");
            port = after.substr(1);
            if (port.empty()) return url_detail::bad(text, "empty port");
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty()) return url_detail::bad(text, "empty port");
    }
    if (host.empty()) return url_detail::bad(text, "no host");
    u.host = std::string(host);
    if (!port.empty()) {
        std::uint32_t p = 0;
        if (!url_detail::parse_number(port, p) || p == 0 || p > 65535)
            return url_detail::bad(text, "the port must be a number from 1 to 65535");
        u.port = std::uint16_t(p);
    }
    return u;
}

} // namespace sluice::redis

#endif
