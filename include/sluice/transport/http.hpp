#ifndef SLUICE_TRANSPORT_HTTP_HPP
#define SLUICE_TRANSPORT_HTTP_HPP

// The names every transport header shares.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/empty_body.hpp>

namespace sluice::transport {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

/// The path of a request target, without the query.
inline std::string_view target_path(std::string_view target) noexcept {
    auto q = target.find_first_of("?#");
    return q == std::string_view::npos ? target : target.substr(0, q);
}

/// Header names compare without case (RFC 9110); values of tokens such as "100-continue" too.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        unsigned char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return false;
    }
    return true;
}

} // namespace sluice::transport

#endif
