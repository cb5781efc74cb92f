#ifndef SLUICE_CONFIG_LISTEN_HPP
#define SLUICE_CONFIG_LISTEN_HPP

// The address the gateway listens on: "host:port", with an IPv6 host in brackets ("[::1]:8080").

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

struct listen_address {
    std::string host = "127.0.0.1"; // an IPv4 address, a host name, or an IPv6 address without brackets
    std::uint16_t port = 8080;      // 0 lets the system pick a free port (tests use it)

    bool is_ipv6() const noexcept { return host.find(':') != std::string::npos; }
    std::string to_string() const {
        return (is_ipv6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
    }
    /// Only this machine can reach it: 127.0.0.0/8, ::1 or localhost.
    bool is_loopback() const noexcept {
        return host == "localhost" || host == "::1" || host.starts_with("127.");
    }
    friend bool operator==(const listen_address&, const listen_address&) = default;
};

/// The parsed address, or nullopt with why in *error (which never repeats the text itself).
inline std::optional<listen_address> parse_listen_address(std::string_view text,
                                                          std::string* error = nullptr) {
    auto fail = [&](const char* why) -> std::optional<listen_address> {
        if (error) *error = why;
        return std::nullopt;
    };
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return fail("an IPv6 address needs its closing ']'");
        host = text.substr(1, close - 1);
        if (text.substr(close + 1, 1) != ":") return fail("expected ':PORT' after ']'");
        port = text.substr(close + 2);
        if (host.find(':') == std::string_view::npos) return fail("only IPv6 addresses go in brackets");
        for (char c : host)
            if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'))
                return fail("not an IPv6 address");
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return fail("expected HOST:PORT, like 127.0.0.1:8080");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return fail("write an IPv6 address in brackets, like [::1]:8080");
        for (char c : host)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
                return fail("the host is not an address or a host name");
    }
    if (host.empty()) return fail("the host is missing (0.0.0.0 listens on every IPv4 interface)");
    unsigned long n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n > 65535)
        return fail("the port must be a number from 0 to 65535");
    return listen_address{std::string(host), std::uint16_t(n)};
}

} // namespace sluice::config

#endif
