#ifndef SLUICE_AUTH_KEY_HPP
#define SLUICE_AUTH_KEY_HPP

// Access key secrets: how they are made, hashed and compared. Only the SHA-256 of a secret is
// ever stored; the secret itself is shown to its owner once, when the key is created.

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::auth {

/// Random bytes drawn for one secret: 256 bits, beyond any guessing.
inline constexpr std::size_t secret_entropy_bytes = 32;

/// Fills `out` from OpenSSL's CSPRNG; a generator that cannot seed itself must stop key creation.
inline void random_bytes(unsigned char* out, std::size_t n) {
    if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed: no secure randomness");
}

/// RFC 4648 base64url without padding: safe in headers, URLs and shells as it is.
inline std::string base64url(const unsigned char* p, std::size_t n) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((n * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned(p[i]) << 16) | (unsigned(p[i + 1]) << 8) | unsigned(p[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = unsigned(p[i]) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned(p[i]) << 16) | (unsigned(p[i + 1]) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

/// A new secret: `prefix` then 43 base64url characters of fresh randomness. The prefix lets
/// secret scanners (GitHub, gitleaks) recognise a leaked key.
inline std::string generate_secret(std::string_view prefix = "sk-sluice-") {
    std::array<unsigned char, secret_entropy_bytes> raw{};
    random_bytes(raw.data(), raw.size());
    std::string s(prefix);
    s += base64url(raw.data(), raw.size());
    OPENSSL_cleanse(raw.data(), raw.size());
    return s;
}

inline std::string to_hex(const unsigned char* p, std::size_t n) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out += hex[p[i] >> 4];
        out += hex[p[i] & 15];
    }
    return out;
}

/// Lower-case hex SHA-256. A plain hash suffices: secrets carry 256 random bits, so there is
/// nothing for a slow password hash to protect, and lookups stay cheap on every request.
inline std::string sha256_hex(std::string_view data) {
    // Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up on every digest, which
    // cost more than hashing a key.
    static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, sha256 ? sha256 : EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("EVP_Digest(sha256) failed");
    return to_hex(md.data(), len);
}

/// Equal contents, compared in time that depends only on the lengths, never on where they differ.
inline bool equal_constant_time(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        // Still walk the bytes so a length guess costs the same as a content guess.
        (void)CRYPTO_memcmp(a.data(), a.data(), a.size());
        return false;
    }
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/// "key_" and 16 hex digits: a public handle for a key, safe to log and to show in lists.
inline std::string new_key_id() {
    std::array<unsigned char, 8> raw{};
    random_bytes(raw.data(), raw.size());
    return "key_" + to_hex(raw.data(), raw.size());
}

/// A hint that lets a person recognise their key in an error without the error leaking it:
/// "sk-slu...abcd"; short strings are not worth a hint and read "***".
inline std::string mask_secret(std::string_view secret) {
    constexpr std::size_t head = 6, tail = 4, shortest = 16;
    if (secret.size() < shortest) return "***";
    // Only printable ASCII is echoed, so the hint can never break the JSON or the log line.
    auto printable = [](char c) { return (c >= 0x21 && c <= 0x7e) ? c : '?'; };
    std::string out;
    for (char c : secret.substr(0, head)) out += printable(c);
    out += "...";
    for (char c : secret.substr(secret.size() - tail)) out += printable(c);
    return out;
}

} // namespace sluice::auth

#endif
