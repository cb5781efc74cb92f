#ifndef SLUICE_CONFIG_ACCESS_HPP
#define SLUICE_CONFIG_ACCESS_HPP

// The sections that make a gateway safe to share: auth (keys), accounts (tiers, limits, spend
// caps), limits (where the counters live), metering (where usage events go) and metrics.
// load.hpp calls these readers; docs/config.md and docs/access.md describe every key.

#include <sluice/auth/cidr.hpp>
#include <sluice/config/listen.hpp>
#include <sluice/config/node.hpp>
#include <sluice/limits/quota.hpp>


#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sluice::config {

/// A key declared in the config by the SHA-256 of its secret; the secret itself never is.
struct declared_key {
    std::string id;
    std::string name;
    std::string secret_sha256; // 64 lowercase hex digits
    std::string account;
    std::vector<std::string> models{"*"}; // scopes: model ids and globs
    std::vector<std::string> cidrs;       // empty: any address
    std::optional<std::int64_t> expires;  // unix seconds
    int line = 0;
};

struct auth_settings {
    enum class mode_kind { keys, none };
    mode_kind mode = mode_kind::keys;
    // The SQLite key store the admin API writes to; absent: declared keys only.
    std::optional<std::filesystem::path> store;
    std::string admin_token_sha256;           // empty: no admin API
    std::vector<std::string> trusted_proxies; // CIDRs whose X-Forwarded-For is believed
    std::vector<declared_key> keys;
};

struct account_config {
    std::string id;
    int tier = 1; // 1-2: open-weight models only; 3 and up: commercial models too
    limits::quota quota;
    int line = 0;
};

struct limits_settings {
    enum class down_kind { closed, local };
    std::string store = "local"; // or redis://host:port[/db]
    down_kind on_store_down = down_kind::local;
    std::chrono::milliseconds timeout = std::chrono::milliseconds(250);

    bool redis() const { return store != "local"; }
};

struct metering_settings {
    std::filesystem::path spool;
    std::vector<std::string> sinks; // file://PATH, redis://HOST:PORT/STREAM
    std::chrono::milliseconds fsync_interval = std::chrono::milliseconds(20);
    std::size_t queue = 65536;
};

struct metrics_settings {
    bool enabled = true;
    std::string path = "/metrics";
};

namespace access_detail {

inline bool is_sha256_hex(std::string_view s) {
    return s.size() == 64 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

inline std::string read_sha256(const node& n) {
    auto s = n.as_nonempty_string();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (!is_sha256_hex(s)) n.fail("expected a SHA-256 digest: 64 hex digits (sha256sum of the secret)");
    return s;
}

/// "10.0.0.0/8", "2001:db8::/32" or a bare address; checked here so --check finds a typo.
inline std::string read_cidr(const node& n) {
    auto s = n.as_nonempty_string();
    if (!auth::cidr::parse(s))
        n.fail("expected an address or CIDR like 10.0.0.0/8 or 2001:db8::/32, got '" + s + "'");
    return s;
}

/// "2027-01-01", "2027-01-01T12:00:00Z" or unix seconds.
inline std::int64_t read_time(const node& n) {
    auto s = n.as_nonempty_string();
    if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return n.as_integer(0);
    std::tm tm{};
    const char* end = strptime(s.c_str(), "%Y-%m-%d", &tm);
    if (end && *end == 'T') end = strptime(end + 1, "%H:%M:%S", &tm);
    if (end && *end == 'Z') ++end;
    if (!end || *end) n.fail("expected a date like 2027-01-01, a UTC time like 2027-01-01T00:00:00Z, or unix seconds");
    return std::int64_t(timegm(&tm));
}

inline limits::rate read_rate(const node& n, std::initializer_list<std::string_view> known) {
    auto m = n.as_mapping(known);
    limits::rate r;
    if (auto v = m.find("rpm")) r.rpm = std::uint64_t(v->as_integer(1));
    if (auto v = m.find("tpm")) r.tpm = std::uint64_t(v->as_integer(1));
    return r;
}

} // namespace access_detail

/// accounts: a list of {id, tier, limits: {rpm, tpm, models: {MODEL: {rpm, tpm}}}, spend_cap_usd: {daily, monthly}}.
/// model_known says whether a model id in limits.models is in the catalog.
template <class ModelKnown>
std::vector<account_config> read_accounts(const node& n, ModelKnown model_known) {
    std::vector<account_config> out;
    for (const auto& item : n.items()) {
        auto m = item.as_mapping({"id", "tier", "limits", "spend_cap_usd"});
        account_config a;
        auto id = m.required("id");
        a.id = id.as_nonempty_string();
        a.line = id.line();
        for (const auto& e : out)
            if (e.id == a.id) id.fail("duplicate account id '" + a.id + "' (first at line " + std::to_string(e.line) + ")");
        if (auto v = m.find("tier")) a.tier = int(v->as_integer(1, 9));
        if (auto v = m.find("limits")) {
            auto lm = v->as_mapping({"rpm", "tpm", "models"});
            a.quota.account = access_detail::read_rate(*v, {"rpm", "tpm", "models"});
            if (auto models = lm.find("models"))
                for (auto& [model, rate] : models->as_free_mapping()) {
                    if (!model_known(model)) rate.fail("unknown model '" + model + "' (not in models:)");
                    a.quota.models.emplace(model, access_detail::read_rate(rate, {"rpm", "tpm"}));
                }
        }
        if (auto v = m.find("spend_cap_usd")) {
            auto sm = v->as_mapping({"daily", "monthly"});
            if (auto d = sm.find("daily")) a.quota.spend.daily_usd = d->as_number(0);
            if (auto d = sm.find("monthly")) a.quota.spend.monthly_usd = d->as_number(0);
        }
        out.push_back(std::move(a));
    }
    return out;
}

/// auth: {mode, store, admin_token | admin_token_sha256, trusted_proxies, keys}.
/// base_dir: the config file's folder, where the default key store goes.
inline auth_settings read_auth(const node* n, const listen_address& listen, const std::vector<account_config>& accounts,
                               bool accounts_declared, const std::filesystem::path& base_dir) {
    auth_settings a;
    const auto default_store = (base_dir / "var/keys.db").lexically_normal();
    if (!n || n->is_null()) {
        a.store = default_store;
        return a;
    }
    auto m = n->as_mapping({"mode", "store", "admin_token", "admin_token_sha256", "trusted_proxies", "keys"});
    if (auto v = m.find("mode")) {
        auto mode = v->as_nonempty_string();
        if (mode == "none") {
            a.mode = auth_settings::mode_kind::none;
            if (!listen.is_loopback())
                v->fail("auth mode 'none' lets anyone who reaches " + listen.to_string() +
                        " use every model: it is allowed only on a loopback listen address (127.0.0.1, ::1)");
        } else if (mode != "keys") {
            v->fail("expected keys or none, got '" + mode + "'");
        }
    }
    if (auto v = m.find("store")) {
        if (!v->is_null() && v->as_string() != "none") a.store = v->as_path();
    } else {
        a.store = default_store;
    }
    auto token = m.find("admin_token");
    auto token_sha = m.find("admin_token_sha256");
    if (token && token_sha) token_sha->fail("give admin_token or admin_token_sha256, not both");
    if (token) {
        auto t = token->as_string();
        if (!t.empty() && t.size() < 16) token->fail("an admin token must be at least 16 characters");
        if (!t.empty()) a.admin_token_sha256 = "plain:" + t; // hashed by the gateway (config/ has no crypto)
    }
    if (token_sha) a.admin_token_sha256 = access_detail::read_sha256(*token_sha);
    if (auto v = m.find("trusted_proxies"))
        for (const auto& item : v->items()) a.trusted_proxies.push_back(access_detail::read_cidr(item));
    if (auto v = m.find("keys"))
        for (const auto& item : v->items()) {
            auto km = item.as_mapping({"id", "name", "secret_sha256", "account", "models", "cidrs", "expires"});
            declared_key k;
            auto id = km.required("id");
            k.id = id.as_nonempty_string();
            k.line = id.line();
            for (const auto& e : a.keys)
                if (e.id == k.id) id.fail("duplicate key id '" + k.id + "' (first at line " + std::to_string(e.line) + ")");
            if (auto x = km.find("name")) k.name = x->as_string();
            k.secret_sha256 = access_detail::read_sha256(km.required("secret_sha256"));
            auto account = km.required("account");
            k.account = account.as_nonempty_string();
            if (std::none_of(accounts.begin(), accounts.end(), [&](const auto& acc) { return acc.id == k.account; }))
                account.fail("unknown account '" + k.account + "'" +
                             (accounts_declared ? std::string(" (not in accounts:)") : std::string(" (no accounts: are declared)")));
            if (auto x = km.find("models")) {
                k.models.clear();
                for (const auto& s : x->items()) k.models.push_back(s.as_nonempty_string());
            }
            if (auto x = km.find("cidrs"))
                for (const auto& s : x->items()) k.cidrs.push_back(access_detail::read_cidr(s));
            if (auto x = km.find("expires")) k.expires = access_detail::read_time(*x);
            a.keys.push_back(std::move(k));
        }
    return a;
}

/// limits: {store: local | redis://HOST:PORT[/DB], on_store_down: local | closed, timeout}.
inline limits_settings read_limits(const node& n) {
    limits_settings l;
    if (n.is_null()) return l;
    auto m = n.as_mapping({"store", "on_store_down", "timeout"});
    if (auto v = m.find("store")) {
        l.store = v->as_nonempty_string();
        if (l.store != "local" && !l.store.starts_with("redis://"))
            v->fail("expected local or a redis://HOST:PORT URL, got '" + l.store + "'");
    }
    if (auto v = m.find("on_store_down")) {
        auto s = v->as_nonempty_string();
        if (s == "closed")
            l.on_store_down = limits_settings::down_kind::closed;
        else if (s != "local")
            v->fail("expected local (fall back to this replica's own counters) or closed (refuse with 503), got '" + s + "'");
    }
    if (auto v = m.find("timeout")) l.timeout = v->as_duration();
    return l;
}

/// metering: {spool, sinks, fsync_interval, queue}; absent: usage goes to the log line only.
inline std::optional<metering_settings> read_metering(const node& n) {
    if (n.is_null()) return std::nullopt;
    auto m = n.as_mapping({"spool", "sinks", "fsync_interval", "queue"});
    metering_settings s;
    s.spool = m.required("spool").as_path();
    for (const auto& item : m.required("sinks").items()) {
        auto url = item.as_nonempty_string();
        if (!url.starts_with("file://") && !url.starts_with("redis://"))
            item.fail("expected file://PATH or redis://HOST:PORT/STREAM, got '" + url + "'");
        if (url.starts_with("file://")) {
            // Relative file sinks are taken from the config's folder, like every other path.
            std::filesystem::path p(url.substr(7));
            if (p.empty()) item.fail("a file sink needs a path: file://./var/usage.jsonl");
            if (p.is_relative() && !item.doc().base_dir.empty()) url = "file://" + (item.doc().base_dir / p).lexically_normal().string();
        }
        s.sinks.push_back(std::move(url));
    }
    if (s.sinks.empty()) m.required("sinks").fail("name at least one sink: file://PATH or redis://HOST:PORT/STREAM");
    if (auto v = m.find("fsync_interval")) s.fsync_interval = v->as_duration();
    if (auto v = m.find("queue")) s.queue = std::size_t(v->as_integer(16, 1 << 24));
    return s;
}

/// metrics: {enabled, path}.
inline metrics_settings read_metrics(const node& n) {
    metrics_settings s;
    if (n.is_null()) return s;
    auto m = n.as_mapping({"enabled", "path"});
    if (auto v = m.find("enabled")) s.enabled = v->as_bool();
    if (auto v = m.find("path")) {
        s.path = v->as_nonempty_string();
        if (!s.path.starts_with("/")) v->fail("a path starts with '/'");
    }
    return s;
}

} // namespace sluice::config

#endif
