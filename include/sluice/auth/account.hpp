#ifndef SLUICE_AUTH_ACCOUNT_HPP
#define SLUICE_AUTH_ACCOUNT_HPP

// Accounts and their access keys, and their JSON for the admin API. A key's JSON never carries
// its secret or the secret's hash: the hash is as good as the key for anyone who can replay it
// against a store dump, so it stays inside the store.

#include <sluice/auth/cidr.hpp>
#include <sluice/auth/rfc3339.hpp>
#include <sluice/core/result.hpp>
#include <sluice/limits/quota.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::auth {

struct account {
    std::string id;
    int tier = 1; // closed-weight models need tier 3 and up (see access_keys)
    limits::quota quota;
    friend bool operator==(const account&, const account&) = default;
};

struct key_record {
    std::string id; // public handle: "key_" + 16 hex
    std::string name;
    std::string secret_sha256; // lower-case hex; the secret itself is never kept
    std::string account;
    std::vector<std::string> models; // scopes (globs); empty: every model
    std::vector<cidr> cidrs;         // client address blocks; empty: any address
    std::optional<std::int64_t> expires;    // unix seconds
    std::optional<std::int64_t> revoked_at; // unix seconds
    std::int64_t created = 0;               // unix seconds

    bool revoked() const noexcept { return revoked_at.has_value(); }
    bool expired(std::int64_t now_unix) const noexcept { return expires && now_unix >= *expires; }
    friend bool operator==(const key_record&, const key_record&) = default;
};

/// Longest account id, key name and scope the admin API takes; they end up in logs and headers.
inline constexpr std::size_t max_name_length = 256;

namespace detail {

inline boost::json::value optional_json(const std::optional<std::uint64_t>& v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
}
inline boost::json::value optional_json(const std::optional<double>& v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

inline boost::json::object rate_json(const limits::rate& r) {
    return {{"rpm", optional_json(r.rpm)}, {"tpm", optional_json(r.tpm)}};
}

inline core::error bad_field(std::string param, std::string message) {
    return core::error{core::error_kind::invalid_request, std::move(message), std::move(param), {}};
}

/// Refuses fields it does not know: a misspelt limit must not silently mean "unlimited".
inline std::optional<core::error> only_fields(const boost::json::object& o, std::initializer_list<std::string_view> known,
                                              std::string_view where) {
    for (const auto& kv : o) {
        bool ok = false;
        for (auto k : known) ok = ok || kv.key() == k;
        if (!ok) {
            std::string p = where.empty() ? std::string(kv.key()) : std::string(where) + "." + std::string(kv.key());
            return bad_field(p, "Unknown field '" + p + "'.");
        }
    }
    return std::nullopt;
}

inline core::result<std::optional<std::uint64_t>> count_field(const boost::json::object& o, std::string_view key,
                                                              std::string_view where) {
    auto p = std::string(where) + "." + std::string(key);
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::optional<std::uint64_t>{};
    if (v->is_uint64()) return std::optional<std::uint64_t>{v->get_uint64()};
    if (v->is_int64() && v->get_int64() >= 0) return std::optional<std::uint64_t>{std::uint64_t(v->get_int64())};
    return bad_field(p, "'" + p + "' must be a non-negative integer or null.");
}

inline core::result<limits::rate> rate_from_json(const boost::json::value& v, std::string_view where, bool per_model) {
    if (!v.is_object()) return bad_field(std::string(where), "'" + std::string(where) + "' must be an object.");
    const auto& o = v.get_object();
    auto e = per_model ? only_fields(o, {"rpm", "tpm"}, where) : only_fields(o, {"rpm", "tpm", "models"}, where);
    if (e) return *e;
    limits::rate r;
    auto rpm = count_field(o, "rpm", where);
    if (!rpm) return std::move(rpm).error();
    auto tpm = count_field(o, "tpm", where);
    if (!tpm) return std::move(tpm).error();
    r.rpm = *rpm;
    r.tpm = *tpm;
    return r;
}

inline core::result<std::optional<double>> usd_field(const boost::json::object& o, std::string_view key) {
    auto p = "spend_cap_usd." + std::string(key);
    const auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::optional<double>{};
    if (!v->is_number()) return bad_field(p, "'" + p + "' must be a number or null.");
    double d = v->to_number<double>();
    if (!(d >= 0)) return bad_field(p, "'" + p + "' must not be negative.");
    return std::optional<double>{d};
}

} // namespace detail

/// {"limits":{"rpm","tpm","models":{ID:{"rpm","tpm"}}},"spend_cap_usd":{"daily","monthly"}};
/// null is unlimited.
inline boost::json::object quota_to_json(const limits::quota& q) {
    boost::json::object models;
    for (const auto& [id, r] : q.models) models[id] = detail::rate_json(r);
    auto lim = detail::rate_json(q.account);
    lim["models"] = std::move(models);
    return {{"limits", std::move(lim)},
            {"spend_cap_usd",
             {{"daily", detail::optional_json(q.spend.daily_usd)}, {"monthly", detail::optional_json(q.spend.monthly_usd)}}}};
}

/// Reads the "limits" and "spend_cap_usd" members of `o` (either may be absent); ignores the rest.
inline core::result<limits::quota> quota_from_json(const boost::json::object& o) {
    limits::quota q;
    if (const auto* lim = o.if_contains("limits"); lim && !lim->is_null()) {
        auto r = detail::rate_from_json(*lim, "limits", false);
        if (!r) return std::move(r).error();
        q.account = *r;
        if (const auto* models = lim->get_object().if_contains("models"); models && !models->is_null()) {
            if (!models->is_object()) return detail::bad_field("limits.models", "'limits.models' must be an object.");
            for (const auto& kv : models->get_object()) {
                auto where = "limits.models." + std::string(kv.key());
                auto mr = detail::rate_from_json(kv.value(), where, true);
                if (!mr) return std::move(mr).error();
                if (mr->rpm || mr->tpm) q.models.emplace(std::string(kv.key()), *mr);
            }
        }
    }
    if (const auto* cap = o.if_contains("spend_cap_usd"); cap && !cap->is_null()) {
        if (!cap->is_object()) return detail::bad_field("spend_cap_usd", "'spend_cap_usd' must be an object.");
        if (auto e = detail::only_fields(cap->get_object(), {"daily", "monthly"}, "spend_cap_usd")) return *e;
        auto daily = detail::usd_field(cap->get_object(), "daily");
        if (!daily) return std::move(daily).error();
        auto monthly = detail::usd_field(cap->get_object(), "monthly");
        if (!monthly) return std::move(monthly).error();
        q.spend.daily_usd = *daily;
        q.spend.monthly_usd = *monthly;
    }
    return q;
}

inline boost::json::object to_json(const account& a) {
    boost::json::object o{{"id", a.id}, {"object", "account"}, {"tier", a.tier}};
    for (auto& kv : quota_to_json(a.quota)) o.emplace(kv.key(), std::move(kv.value()));
    return o;
}

/// An admin's account request: {"id", "tier", "limits", "spend_cap_usd"}; "object" is let
/// through so that a GET answer can be posted back as it is.
inline core::result<account> account_from_json(const boost::json::value& v) {
    if (!v.is_object()) return detail::bad_field("", "The account must be a JSON object.");
    const auto& o = v.get_object();
    if (auto e = detail::only_fields(o, {"id", "object", "tier", "limits", "spend_cap_usd"}, "")) return *e;
    account a;
    const auto* id = o.if_contains("id");
    if (!id || !id->is_string() || id->get_string().empty() || id->get_string().size() > max_name_length)
        return detail::bad_field("id", "'id' must be a non-empty string of at most 256 characters.");
    a.id = std::string(id->get_string());
    if (const auto* t = o.if_contains("tier"); t && !t->is_null()) {
        std::int64_t n = -1;
        if (t->is_int64()) n = t->get_int64();
        else if (t->is_uint64() && t->get_uint64() <= 1000) n = std::int64_t(t->get_uint64());
        if (n < 0 || n > 1000) return detail::bad_field("tier", "'tier' must be an integer from 0 to 1000.");
        a.tier = int(n);
    }
    auto q = quota_from_json(o);
    if (!q) return std::move(q).error();
    a.quota = std::move(*q);
    return a;
}

/// What the admin API shows of a key: never the secret nor its hash.
inline boost::json::object to_json(const key_record& k) {
    boost::json::array models, cidrs;
    for (const auto& m : k.models) models.emplace_back(m);
    for (const auto& c : k.cidrs) cidrs.emplace_back(c.str());
    auto time = [](const std::optional<std::int64_t>& t) {
        return t ? boost::json::value(format_rfc3339(*t)) : boost::json::value(nullptr);
    };
    return {{"id", k.id},
            {"object", "api_key"},
            {"name", k.name},
            {"account", k.account},
            {"models", std::move(models)},
            {"cidrs", std::move(cidrs)},
            {"expires", time(k.expires)},
            {"revoked", k.revoked()},
            {"revoked_at", time(k.revoked_at)},
            {"created", k.created}};
}

} // namespace sluice::auth

#endif
