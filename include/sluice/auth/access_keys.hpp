#ifndef SLUICE_AUTH_ACCESS_KEYS_HPP
#define SLUICE_AUTH_ACCESS_KEYS_HPP

// Model access keys: the auth policy of a hosted gateway. A request presents a secret; its
// SHA-256 finds the key record, first among the keys the config declares, then in the Store.

#include <sluice/auth/cidr.hpp>
#include <sluice/auth/concepts.hpp>
#include <sluice/auth/glob.hpp>
#include <sluice/auth/key.hpp>
#include <sluice/auth/key_store.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/result.hpp>

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::auth {

struct access_keys_options {
    /// Proxies (load balancers, ingress) whose X-Forwarded-For names the real client.
    std::vector<cidr> trusted_proxies;
    /// Closed-weight models are for accounts of this tier and up; open-weight ones for everyone.
    int closed_weight_min_tier = 3;
};

namespace detail {

inline std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// The token of "Bearer <token>", the scheme in any case (RFC 9110 §11.1); empty when none.
inline std::string_view bearer_token(std::string_view authorization) noexcept {
    auto a = trim(authorization);
    constexpr std::string_view scheme = "bearer";
    if (a.size() <= scheme.size() || (a[scheme.size()] != ' ' && a[scheme.size()] != '\t')) return {};
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if ((a[i] | 0x20) != scheme[i]) return {};
    return trim(a.substr(scheme.size()));
}

/// One X-Forwarded-For entry: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or "[2001:db8::1]:5678".
inline std::optional<boost::asio::ip::address> forwarded_address(std::string_view s) {
    s = trim(s);
    if (!s.empty() && s.front() == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        s = s.substr(1, close - 1);
    } else if (auto colon = s.find(':'); colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos) {
        s = s.substr(0, colon); // IPv4 with a port; a bare IPv6 has more than one colon
    }
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(std::string(s), ec);
    if (ec) return std::nullopt;
    return a;
}

} // namespace detail

template <key_store Store>
class access_keys {
public:
    using options = access_keys_options;

    /// `store` holds the keys the admin API manages; `declared` those written in the config
    /// (may be null). Either may be shared with an admin API that changes it.
    explicit access_keys(std::shared_ptr<Store> store, std::shared_ptr<const memory_key_store> declared = nullptr,
                         options opts = {})
        : store_(std::move(store)), declared_(std::move(declared)), opts_(std::move(opts)) {}

    core::result<principal> authenticate(const credentials& c, std::int64_t now_unix) const {
        using core::error_kind;
        std::string_view secret = detail::bearer_token(c.authorization);
        if (secret.empty()) secret = detail::trim(c.x_api_key);
        if (secret.empty())
            return core::error{error_kind::authentication,
                               "No API key provided. Pass your key as 'Authorization: Bearer YOUR_KEY' or in "
                               "the 'x-api-key' header.",
                               {}, "missing_api_key"};

        const auto hash = sha256_hex(secret);
        key_ptr key = declared_ ? declared_->find_key(hash) : nullptr;
        if (!key && store_) key = store_->find_key(hash);
        // The maps matched on the hash already; the constant-time check keeps that the only path.
        if (!key || !equal_constant_time(key->secret_sha256, hash))
            return core::error{error_kind::authentication,
                               "Incorrect API key provided: " + mask_secret(secret) + ".", {}, "invalid_api_key"};
        if (key->revoked())
            return core::error{error_kind::authentication, "This API key (" + key->id + ") has been revoked.", {},
                               "revoked_api_key"};
        if (key->expired(now_unix))
            return core::error{error_kind::authentication,
                               "This API key (" + key->id + ") expired at " + format_rfc3339(*key->expires) + ".",
                               {}, "expired_api_key"};
        if (!key->cidrs.empty()) {
            auto client = client_address(c);
            bool allowed = false;
            for (const auto& block : key->cidrs) allowed = allowed || (client && block.contains(*client));
            if (!allowed)
                return core::error{error_kind::permission,
                                   "This API key may not be used from the address " +
                                       (client ? client->to_string() : std::string("(unknown)")) + ".",
                                   {}, "address_not_allowed"};
        }
        account_ptr acct = declared_ ? declared_->find_account(key->account) : nullptr;
        if (!acct && store_) acct = store_->find_account(key->account);
        if (!acct)
            return core::error{error_kind::authentication,
                               "The account of this API key (" + key->id + ") does not exist.", {},
                               "account_not_found"};
        return principal{key->id, std::move(acct), key->models};
    }

    std::optional<core::error> authorize(const principal& who, const core::model_entry& model) const {
        using core::error_kind;
        if (!who.models.empty()) {
            bool in_scope = false;
            for (const auto& scope : who.models) in_scope = in_scope || glob_match(scope, model.id);
            if (!in_scope)
                return core::error{error_kind::permission, "This API key may not use the model '" + model.id + "'.",
                                   "model", "model_not_allowed"};
        }
        const int tier = who.acct ? who.acct->tier : 0;
        if (!model.open_weight && tier < opts_.closed_weight_min_tier)
            return core::error{error_kind::permission,
                               "Accounts of tier " + std::to_string(tier) + " may not use the model '" + model.id +
                                   "'; it needs tier " + std::to_string(opts_.closed_weight_min_tier) + " or higher.",
                               "model", "tier_not_allowed"};
        return std::nullopt;
    }

    /// The client's address: the TCP peer, or, when that peer is a trusted proxy, the right-most
    /// X-Forwarded-For entry that is not one (entries further left are the client's to forge).
    /// nullopt when that entry does not parse.
    std::optional<boost::asio::ip::address> client_address(const credentials& c) const {
        if (c.forwarded_for.empty() || !trusted(c.remote)) return c.remote;
        std::string_view rest = c.forwarded_for;
        boost::asio::ip::address last = c.remote;
        while (!rest.empty()) {
            auto comma = rest.rfind(',');
            auto entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
            if (detail::trim(entry).empty()) continue;
            auto a = detail::forwarded_address(entry);
            if (!a) return std::nullopt;
            if (!trusted(*a)) return a;
            last = *a;
        }
        return last; // every hop is a trusted proxy: the left-most one is as far as we can see
    }

    const options& settings() const noexcept { return opts_; }

private:
    bool trusted(const boost::asio::ip::address& a) const noexcept {
        for (const auto& p : opts_.trusted_proxies)
            if (p.contains(a)) return true;
        return false;
    }

    std::shared_ptr<Store> store_;
    std::shared_ptr<const memory_key_store> declared_;
    options opts_;
};

static_assert(auth_policy<access_keys<memory_key_store>>);

} // namespace sluice::auth

#endif
