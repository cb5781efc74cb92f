#ifndef SLUICE_REFERENCE_POLICIES_HPP
#define SLUICE_REFERENCE_POLICIES_HPP

// The policies the reference gateway picks from its config at start-up. A custom gateway names
// its own types instead (basic_gateway<my_auth, my_limits>); these two exist because one binary
// must serve `auth: {mode: none}` and `mode: keys`, `limits: {store: local}` and a Redis store.
//
// A policy the gateway builds itself is constructed from (const config::gateway_config&,
// any_io_executor) when it has such a constructor, or default-constructed (auth::none,
// limits::unlimited).

#include <sluice/auth/access_keys.hpp>
#include <sluice/auth/admin.hpp>
#include <sluice/auth/concepts.hpp>
#include <sluice/auth/sqlite_key_store.hpp>
#include <sluice/config/config.hpp>
#include <sluice/limits/gcra.hpp>
#include <sluice/limits/local_store.hpp>
#include <sluice/limits/policy.hpp>
#include <sluice/limits/redis_store.hpp>
#include <sluice/redis/url.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace sluice {

/// Keys declared in the config and kept in the SQLite store, or no auth at all.
class configured_auth {
public:
    using keys_policy = auth::access_keys<auth::sqlite_key_store>;

    configured_auth(const config::gateway_config& cfg, const boost::asio::any_io_executor&) {
        if (cfg.auth.mode == config::auth_settings::mode_kind::none) {
            none_.emplace();
            return;
        }
        auto declared = std::make_shared<auth::memory_key_store>();
        for (const auto& a : cfg.accounts) check(declared->add_account(auth::account{a.id, a.tier, a.quota}), a.id);
        for (const auto& k : cfg.auth.keys) {
            auth::key_record r;
            r.id = k.id;
            r.name = k.name;
            r.secret_sha256 = k.secret_sha256;
            r.account = k.account;
            r.models = k.models;
            for (const auto& c : k.cidrs) r.cidrs.push_back(unwrap(auth::cidr::parse(c), k.id));
            r.expires = k.expires;
            check(declared->add_key(std::move(r)), k.id);
        }
        if (cfg.auth.store) {
            store_ = std::make_shared<auth::sqlite_key_store>(*cfg.auth.store);
            // The admin API makes keys for the config's accounts too; the config's record of an
            // account (its tier, its limits) is the one that counts, as declared ones are read first.
            for (const auto& a : cfg.accounts)
                if (!store_->find_account(a.id)) check(store_->add_account(auth::account{a.id, a.tier, a.quota}), a.id);
            std::string token = cfg.auth.admin_token_sha256;
            if (token.starts_with("plain:")) token = auth::sha256_hex(token.substr(6));
            if (!token.empty()) admin_.emplace(*store_, token);
        }
        keys_policy::options opts;
        for (const auto& p : cfg.auth.trusted_proxies) opts.trusted_proxies.push_back(unwrap(auth::cidr::parse(p), p));
        keys_.emplace(store_, std::move(declared), std::move(opts));
    }

    core::result<auth::principal> authenticate(const auth::credentials& c, std::int64_t now) const {
        return none_ ? none_->authenticate(c, now) : keys_->authenticate(c, now);
    }
    std::optional<core::error> authorize(const auth::principal& who, const core::model_entry& m) const {
        return none_ ? none_->authorize(who, m) : keys_->authorize(who, m);
    }

    /// The admin API, when the config gives an admin token and a key store.
    auth::admin_api<auth::sqlite_key_store>* admin() noexcept { return admin_ ? &*admin_ : nullptr; }

private:

    template <class T>
    static T unwrap(core::result<T> r, std::string_view what) {
        if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
        return std::move(r).value();
    }
    template <class T>
    static void check(const core::result<T>& r, std::string_view what) {
        if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
    }

    std::optional<auth::none> none_;
    std::shared_ptr<auth::sqlite_key_store> store_;
    std::optional<keys_policy> keys_;
    std::optional<auth::admin_api<auth::sqlite_key_store>> admin_;
};

/// GCRA limits with this process's counters, or with Redis shared by every replica.
class configured_limits {
public:
    configured_limits(const config::gateway_config& cfg, const boost::asio::any_io_executor& ex) {
        limits::gcra_options opts;
        opts.store_down = cfg.limits.on_store_down == config::limits_settings::down_kind::local
                              ? limits::on_store_down::local
                              : limits::on_store_down::closed;
        if (!cfg.limits.redis()) {
            local_ = std::make_unique<limits::gcra<limits::local_store>>(limits::local_store(), opts);
            return;
        }
        auto url = redis::parse_url(cfg.limits.store);
        if (!url) throw std::runtime_error("limits.store: " + url.error().message);
        auto co = redis::client_options::from(url.value());
        co.connect_timeout = cfg.limits.timeout;
        co.command_timeout = cfg.limits.timeout;
        auto client = std::make_shared<redis::client>(ex, co);
        redis_ = std::make_unique<limits::gcra<limits::redis_store>>(limits::redis_store(std::move(client)), opts);
    }

    boost::asio::awaitable<limits::decision> admit(const limits::admission& a) {
        if (redis_) co_return co_await redis_->admit(a);
        co_return co_await local_->admit(a);
    }
    boost::asio::awaitable<void> settle(const limits::reservation& r, std::uint64_t tokens, double usd) {
        if (redis_)
            co_await redis_->settle(r, tokens, usd);
        else
            co_await local_->settle(r, tokens, usd);
    }
    std::uint64_t store_errors() const noexcept { return redis_ ? redis_->store_errors() : local_->store_errors(); }

private:
    std::unique_ptr<limits::gcra<limits::local_store>> local_;
    std::unique_ptr<limits::gcra<limits::redis_store>> redis_;
};

static_assert(auth::auth_policy<configured_auth>);
static_assert(limits::limits_policy<configured_limits>);

} // namespace sluice

#endif
