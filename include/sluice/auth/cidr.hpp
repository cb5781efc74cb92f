#ifndef SLUICE_AUTH_CIDR_HPP
#define SLUICE_AUTH_CIDR_HPP

// An address block a key may be used from: "10.0.0.0/8", "2001:db8::/32", or one address.

#include <sluice/core/result.hpp>

#include <boost/asio/ip/address.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::auth {

class cidr {
public:
    /// "A.B.C.D/N", "X:Y::/N" or a bare address (/32 or /128). Host bits below the prefix are
    /// cleared, so "10.1.2.3/8" is the block 10.0.0.0/8.
    static core::result<cidr> parse(std::string_view text) {
        auto fail = [&](std::string_view why) {
            return core::error{core::error_kind::invalid_request,
                               "'" + std::string(text) + "' is not a CIDR block: " + std::string(why), "cidrs", {}};
        };
        auto slash = text.find('/');
        std::string addr_text(text.substr(0, slash));
        boost::system::error_code ec;
        auto addr = boost::asio::ip::make_address(addr_text, ec);
        if (ec || addr_text.find('%') != std::string::npos) return fail("bad address");
        const unsigned max_prefix = addr.is_v4() ? 32 : 128;
        unsigned prefix = max_prefix;
        if (slash != std::string_view::npos) {
            auto digits = text.substr(slash + 1);
            auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
            if (digits.empty() || err != std::errc{} || end != digits.data() + digits.size() || prefix > max_prefix)
                return fail(addr.is_v4() ? "the prefix length must be 0 to 32" : "the prefix length must be 0 to 128");
        }
        cidr c;
        if (addr.is_v6() && addr.to_v6().is_v4_mapped() && prefix >= 96) {
            // ::ffff:10.0.0.0/104 is the IPv4 block 10.0.0.0/8 written the IPv6 way.
            c.v4_ = true;
            prefix -= 96;
        } else {
            c.v4_ = addr.is_v4();
        }
        c.prefix_ = static_cast<std::uint8_t>(prefix);
        c.bytes_ = bytes_of(addr, c.v4_);
        c.mask_host_bits();
        return c;
    }

    /// An IPv4-mapped IPv6 client (::ffff:10.1.2.3, what a dual-stack socket reports) is matched
    /// as the IPv4 address it carries, so a block is written once, in its natural family.
    bool contains(const boost::asio::ip::address& a) const noexcept {
        bool a_v4 = a.is_v4() || a.to_v6().is_v4_mapped();
        if (a_v4 != v4_) return false; // an IPv4 client never matches an IPv6 block, nor the reverse
        auto b = bytes_of(a, v4_);
        const unsigned full = prefix_ / 8, rest = prefix_ % 8;
        for (unsigned i = 0; i < full; ++i)
            if (b[i] != bytes_[i]) return false;
        if (rest == 0) return true;
        const auto m = static_cast<std::uint8_t>(0xff << (8 - rest));
        return (b[full] & m) == bytes_[full];
    }

    std::string str() const {
        std::string s = address().to_string();
        s += '/';
        s += std::to_string(prefix_);
        return s;
    }

    boost::asio::ip::address address() const {
        if (v4_) return boost::asio::ip::address_v4({bytes_[0], bytes_[1], bytes_[2], bytes_[3]});
        return boost::asio::ip::address_v6(bytes_);
    }
    unsigned prefix_length() const noexcept { return prefix_; }
    bool is_v4() const noexcept { return v4_; }

    friend bool operator==(const cidr&, const cidr&) = default;

private:
    using bytes_type = std::array<unsigned char, 16>;

    cidr() = default;

    // IPv4 (and IPv4-mapped IPv6, read as IPv4) fills the first four bytes; IPv6 all sixteen.
    static bytes_type bytes_of(const boost::asio::ip::address& a, bool as_v4) noexcept {
        bytes_type out{};
        if (a.is_v4()) {
            auto b = a.to_v4().to_bytes();
            for (int i = 0; i < 4; ++i) out[i] = b[i];
        } else if (as_v4) {
            auto b = a.to_v6().to_bytes();
            for (int i = 0; i < 4; ++i) out[i] = b[12 + i];
        } else {
            out = a.to_v6().to_bytes();
        }
        return out;
    }

    void mask_host_bits() noexcept {
        for (unsigned i = 0; i < 16; ++i) {
            unsigned bit = i * 8;
            if (bit >= prefix_) bytes_[i] = 0;
            else if (bit + 8 > prefix_) bytes_[i] &= static_cast<unsigned char>(0xff << (8 - (prefix_ - bit)));
        }
    }

    bytes_type bytes_{};
    std::uint8_t prefix_ = 0;
    bool v4_ = true;
};

} // namespace sluice::auth

#endif
