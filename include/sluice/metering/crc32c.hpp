#ifndef SLUICE_METERING_CRC32C_HPP
#define SLUICE_METERING_CRC32C_HPP

// CRC-32C (Castagnoli), the checksum of each spool record. Written here because zlib is not
// linked; CRC-32C rather than zlib's CRC-32 because it catches more errors in short records
// and is what LevelDB, RocksDB and ext4 use for the same job.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::metering {

namespace detail {

inline constexpr std::array<std::uint32_t, 256> crc32c_table = [] {
    constexpr std::uint32_t poly = 0x82F63B78u; // Castagnoli, reflected
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ poly : c >> 1;
        t[i] = c;
    }
    return t;
}();

} // namespace detail

/// Continues a CRC-32C over more bytes: crc32c(b, crc32c(a)) == crc32c(a + b).
constexpr std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0) noexcept {
    crc = ~crc;
    for (char ch : bytes) crc = detail::crc32c_table[(crc ^ static_cast<unsigned char>(ch)) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

static_assert(crc32c("123456789") == 0xE3069283u, "CRC-32C check value");

} // namespace sluice::metering

#endif
