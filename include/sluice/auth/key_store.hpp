#ifndef SLUICE_AUTH_KEY_STORE_HPP
#define SLUICE_AUTH_KEY_STORE_HPP

// Where keys and accounts live. Every request looks its key up by the secret's SHA-256, from
// several io threads at once, so lookups read an in-memory index under a shared lock and hand
// out immutable records; a change swaps a record in, it never edits one in place.

#include <sluice/auth/account.hpp>
#include <sluice/core/result.hpp>

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::auth {

using key_ptr = std::shared_ptr<const key_record>;
using account_ptr = std::shared_ptr<const account>;

/// \concept key_store
/// A home for access keys and accounts. Lookups are on the request path and called from many
/// threads; they must not block on I/O. A failed change answers a core::error:
///   invalid_request "unknown_account" (param "account"), invalid_request "already_exists",
///   not_found "key_not_found", internal (the medium failed).
///
///   s.find_key(sha256_hex)        -> key_ptr      null when none
///   s.find_key_by_id(id)          -> key_ptr      null when none
///   s.find_account(id)            -> account_ptr  null when none
///   s.list_keys(account_or_empty) -> vector<key_ptr>      oldest first
///   s.list_accounts()             -> vector<account_ptr>  by id
///   s.add_key(key_record)         -> result<key_ptr>
///   s.revoke_key(id, now_unix)    -> result<key_ptr>      the revoked record; idempotent
///   s.add_account(account)        -> result<account_ptr>
template <class S>
concept key_store = requires(S& s, const S& cs, std::string_view text, key_record k, account a, std::int64_t now) {
    { cs.find_key(text) } -> std::same_as<key_ptr>;
    { cs.find_key_by_id(text) } -> std::same_as<key_ptr>;
    { cs.find_account(text) } -> std::same_as<account_ptr>;
    { cs.list_keys(text) } -> std::same_as<std::vector<key_ptr>>;
    { cs.list_accounts() } -> std::same_as<std::vector<account_ptr>>;
    { s.add_key(std::move(k)) } -> std::same_as<core::result<key_ptr>>;
    { s.revoke_key(text, now) } -> std::same_as<core::result<key_ptr>>;
    { s.add_account(std::move(a)) } -> std::same_as<core::result<account_ptr>>;
};

/// A SHA-256 in the one spelling the stores keep: 64 lower-case hex digits. Refusing anything
/// else also stops a caller from storing a secret where its hash belongs.
inline bool is_sha256_hex(std::string_view s) noexcept {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

/// The in-memory index both stores answer lookups from. Writers must be serialised by the
/// caller (check, then write the medium, then put), readers never wait on a writer's I/O.
class key_index {
public:
    key_ptr find_key(std::string_view sha256) const {
        std::shared_lock lock(mutex_);
        auto it = by_hash_.find(sha256);
        return it == by_hash_.end() ? nullptr : it->second;
    }
    key_ptr find_key_by_id(std::string_view id) const {
        std::shared_lock lock(mutex_);
        auto it = by_id_.find(id);
        return it == by_id_.end() ? nullptr : it->second;
    }
    account_ptr find_account(std::string_view id) const {
        std::shared_lock lock(mutex_);
        auto it = accounts_.find(id);
        return it == accounts_.end() ? nullptr : it->second;
    }

    std::vector<key_ptr> list_keys(std::string_view account_id) const {
        std::vector<key_ptr> out;
        {
            std::shared_lock lock(mutex_);
            out.reserve(by_id_.size());
            for (const auto& [id, k] : by_id_)
                if (account_id.empty() || k->account == account_id) out.push_back(k);
        }
        std::sort(out.begin(), out.end(), [](const key_ptr& a, const key_ptr& b) {
            return std::tie(a->created, a->id) < std::tie(b->created, b->id);
        });
        return out;
    }
    std::vector<account_ptr> list_accounts() const {
        std::vector<account_ptr> out;
        {
            std::shared_lock lock(mutex_);
            out.reserve(accounts_.size());
            for (const auto& [id, a] : accounts_) out.push_back(a);
        }
        std::sort(out.begin(), out.end(), [](const account_ptr& a, const account_ptr& b) { return a->id < b->id; });
        return out;
    }

    /// Why `k` may not be added, or nothing.
    std::optional<core::error> key_conflict(const key_record& k) const {
        using core::error_kind;
        if (k.id.empty()) return core::error{error_kind::invalid_request, "A key needs an id.", "id", {}};
        if (!is_sha256_hex(k.secret_sha256))
            return core::error{error_kind::invalid_request, "A key is stored by the SHA-256 hex of its secret.",
                               "secret_sha256", {}};
        std::shared_lock lock(mutex_);
        if (!accounts_.contains(k.account))
            return core::error{error_kind::invalid_request, "No account '" + k.account + "'.", "account",
                               "unknown_account"};
        if (by_id_.contains(k.id))
            return core::error{error_kind::invalid_request, "A key with id '" + k.id + "' exists.", "id",
                               "already_exists"};
        if (by_hash_.contains(k.secret_sha256))
            return core::error{error_kind::invalid_request, "A key with this secret exists.", "secret",
                               "already_exists"};
        return std::nullopt;
    }
    std::optional<core::error> account_conflict(const account& a) const {
        if (a.id.empty())
            return core::error{core::error_kind::invalid_request, "An account needs an id.", "id", {}};
        std::shared_lock lock(mutex_);
        if (accounts_.contains(a.id))
            return core::error{core::error_kind::invalid_request, "The account '" + a.id + "' exists.", "id",
                               "already_exists"};
        return std::nullopt;
    }

    /// The record `id` as revoked at `now`, or the record itself when it already is.
    core::result<key_ptr> revoked(std::string_view id, std::int64_t now) const {
        auto k = find_key_by_id(id);
        if (!k)
            return core::error{core::error_kind::not_found, "No key '" + std::string(id) + "'.", "id", "key_not_found"};
        if (k->revoked()) return k;
        auto copy = std::make_shared<key_record>(*k);
        copy->revoked_at = now;
        return key_ptr(std::move(copy));
    }

    /// Adds `k`, or replaces the record with its id.
    void put_key(key_ptr k) {
        std::unique_lock lock(mutex_);
        if (auto it = by_id_.find(k->id); it != by_id_.end() && it->second->secret_sha256 != k->secret_sha256)
            by_hash_.erase(it->second->secret_sha256);
        by_hash_.insert_or_assign(k->secret_sha256, k);
        by_id_.insert_or_assign(k->id, std::move(k));
    }
    void put_account(account_ptr a) {
        std::unique_lock lock(mutex_);
        accounts_.insert_or_assign(a->id, std::move(a));
    }

    /// Replaces everything at once, so readers see the old index or the new one, never a mix.
    void swap(key_index& other) {
        std::scoped_lock lock(mutex_, other.mutex_);
        by_hash_.swap(other.by_hash_);
        by_id_.swap(other.by_id_);
        accounts_.swap(other.accounts_);
    }

private:
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    template <class V>
    using map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

    mutable std::shared_mutex mutex_;
    map<key_ptr> by_hash_;
    map<key_ptr> by_id_;
    map<account_ptr> accounts_;
};

/// Keys and accounts held in memory only: those the config declares, and tests.
class memory_key_store {
public:
    key_ptr find_key(std::string_view sha256) const { return index_.find_key(sha256); }
    key_ptr find_key_by_id(std::string_view id) const { return index_.find_key_by_id(id); }
    account_ptr find_account(std::string_view id) const { return index_.find_account(id); }
    std::vector<key_ptr> list_keys(std::string_view account_id = {}) const { return index_.list_keys(account_id); }
    std::vector<account_ptr> list_accounts() const { return index_.list_accounts(); }

    core::result<key_ptr> add_key(key_record k) {
        std::lock_guard lock(write_);
        if (auto e = index_.key_conflict(k)) return std::move(*e);
        auto p = std::make_shared<const key_record>(std::move(k));
        index_.put_key(p);
        return key_ptr(std::move(p));
    }

    core::result<key_ptr> revoke_key(std::string_view id, std::int64_t now_unix) {
        std::lock_guard lock(write_);
        auto r = index_.revoked(id, now_unix);
        if (r) index_.put_key(*r);
        return r;
    }

    core::result<account_ptr> add_account(account a) {
        std::lock_guard lock(write_);
        if (auto e = index_.account_conflict(a)) return std::move(*e);
        auto p = std::make_shared<const account>(std::move(a));
        index_.put_account(p);
        return account_ptr(std::move(p));
    }

private:
    std::mutex write_; // one writer at a time: check and put are one step
    key_index index_;
};

static_assert(key_store<memory_key_store>);

} // namespace sluice::auth

#endif
