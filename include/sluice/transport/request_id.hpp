#ifndef SLUICE_TRANSPORT_REQUEST_ID_HPP
#define SLUICE_TRANSPORT_REQUEST_ID_HPP

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace sluice::transport {

/// Longest client-supplied request id we echo; longer or odd ones are replaced.
inline constexpr std::size_t max_request_id_length = 128;

/// A client's id is kept when it is short and printable, so its logs and ours join up.
inline bool acceptable_request_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > max_request_id_length) return false;
    for (unsigned char c : id)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

/// "req_" and 24 hex digits from a per-thread generator: unique enough, and no lock.
inline std::string new_request_id() {
    thread_local std::mt19937_64 gen{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "req_";
    std::uint64_t a = gen(), b = gen();
    for (int i = 0; i < 16; ++i, a >>= 4) id += hex[a & 0xf];
    for (int i = 0; i < 8; ++i, b >>= 4) id += hex[b & 0xf];
    return id;
}

} // namespace sluice::transport

#endif
