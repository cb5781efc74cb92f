// Tests the stores, the access_keys policy and the admin API: key_store.hpp, sqlite_key_store.hpp,
// access_keys.hpp, concepts.hpp, admin.hpp.
#include <sluice/auth/access_keys.hpp>
#include <sluice/auth/admin.hpp>
#include <sluice/auth/concepts.hpp>
#include <sluice/auth/key_store.hpp>
#include <sluice/auth/sqlite_key_store.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace auth = sluice::auth;
namespace fs = std::filesystem;
using boost::asio::ip::make_address;
using sluice::core::error_kind;

namespace {

constexpr std::int64_t now = 1'800'000'000;

/// A fresh folder under the temp dir, removed with everything in it at the end of the test.
struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("sluice-auth-" + auth::new_key_id());
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

auth::account make_account(std::string id, int tier) {
    auth::account a;
    a.id = std::move(id);
    a.tier = tier;
    return a;
}

/// A key record for `secret`, as the admin API would make it.
auth::key_record make_key(std::string_view secret, std::string account) {
    auth::key_record k;
    k.id = auth::new_key_id();
    k.name = "test";
    k.secret_sha256 = auth::sha256_hex(secret);
    k.account = std::move(account);
    k.created = now - 100;
    return k;
}

sluice::core::model_entry model(std::string id, bool open_weight) {
    sluice::core::model_entry m;
    m.id = std::move(id);
    m.open_weight = open_weight;
    return m;
}

auth::credentials bearer(const std::string& header, const char* remote = "198.51.100.7") {
    return auth::credentials{header, {}, make_address(remote), {}};
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Every value of every column of every row of every table, as text.
std::vector<std::string> all_cells(const fs::path& db_path) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    std::vector<std::string> tables, cells;
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &s, nullptr) ==
            SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
    sqlite3_finalize(s);
    for (const auto& t : tables) {
        REQUIRE(sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\"").c_str(), -1, &s, nullptr) == SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(s); ++c) {
                auto* p = static_cast<const char*>(sqlite3_column_blob(s, c));
                cells.emplace_back(p ? std::string(p, std::size_t(sqlite3_column_bytes(s, c))) : std::string());
            }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return cells;
}

void raw_sql(const fs::path& db_path, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    char* msg = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
    std::string why = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(db);
    INFO(why);
    REQUIRE(rc == SQLITE_OK);
}

/// Builds either store kind in `dir`.
template <class Store>
std::shared_ptr<Store> open_store(const temp_dir& dir) {
    if constexpr (std::is_same_v<Store, auth::sqlite_key_store>)
        return std::make_shared<Store>(dir.path / "state" / "keys.db");
    else
        return std::make_shared<Store>();
}

} // namespace

TEMPLATE_TEST_CASE("a key store finds keys by hash and id, and refuses conflicts", "[auth][store]",
                   auth::memory_key_store, auth::sqlite_key_store) {
    temp_dir dir;
    auto store = open_store<TestType>(dir);

    auto acme = store->add_account(make_account("acme", 3));
    REQUIRE(acme);
    CHECK((*acme)->tier == 3);
    REQUIRE(store->add_account(make_account("beta", 1)));
    auto again = store->add_account(make_account("acme", 1));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == "already_exists");
    CHECK(store->find_account("acme")->tier == 3);

    auto k1 = make_key("sk-one", "acme");
    auto k2 = make_key("sk-two", "beta");
    auto k3 = make_key("sk-three", "acme");
    k3.created = now - 50;
    REQUIRE(store->add_key(k1));
    REQUIRE(store->add_key(k2));
    REQUIRE(store->add_key(k3));

    REQUIRE(store->find_key(auth::sha256_hex("sk-one")));
    CHECK(*store->find_key(auth::sha256_hex("sk-one")) == k1);
    CHECK(store->find_key(auth::sha256_hex("sk-four")) == nullptr);
    CHECK(store->find_key_by_id(k2.id)->account == "beta");
    CHECK(store->find_key_by_id("key_nope") == nullptr);

    auto acme_keys = store->list_keys("acme");
    REQUIRE(acme_keys.size() == 2);
    CHECK(acme_keys[0]->id == k1.id); // oldest first
    CHECK(acme_keys[1]->id == k3.id);
    CHECK(store->list_keys("").size() == 3);
    auto accounts = store->list_accounts();
    REQUIRE(accounts.size() == 2);
    CHECK(accounts[0]->id == "acme");

    SECTION("a key for an unknown account is refused") {
        auto r = store->add_key(make_key("sk-x", "ghost"));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "unknown_account");
        CHECK(r.error().param == "account");
    }
    SECTION("a second key with the same id or secret is refused") {
        auto same_id = make_key("sk-other", "acme");
        same_id.id = k1.id;
        auto r = store->add_key(same_id);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "already_exists");
        auto same_secret = store->add_key(make_key("sk-one", "beta"));
        REQUIRE_FALSE(same_secret);
        CHECK(same_secret.error().code == "already_exists");
    }
    SECTION("a record whose hash is not a SHA-256 (a raw secret) is refused") {
        auto raw = make_key("sk-x", "acme");
        raw.secret_sha256 = "sk-sluice-this-is-a-secret";
        auto r = store->add_key(raw);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == error_kind::invalid_request);
        CHECK(store->list_keys("").size() == 3);
    }
    SECTION("revoking marks the key once and keeps the first time") {
        auto r = store->revoke_key(k1.id, now);
        REQUIRE(r);
        CHECK((*r)->revoked_at == now);
        CHECK(store->find_key(k1.secret_sha256)->revoked());
        auto twice = store->revoke_key(k1.id, now + 10);
        REQUIRE(twice);
        CHECK((*twice)->revoked_at == now);
        auto missing = store->revoke_key("key_nope", now);
        REQUIRE_FALSE(missing);
        CHECK(missing.error().kind == error_kind::not_found);
    }
}

TEST_CASE("the SQLite file holds key hashes and never the secrets", "[auth][sqlite]") {
    temp_dir dir;
    const auto file = dir.path / "keys.db";
    std::vector<std::string> secrets;
    {
        auth::sqlite_key_store store(file);
        REQUIRE(store.add_account(make_account("acme", 3)));
        for (int i = 0; i < 3; ++i) {
            secrets.push_back(auth::generate_secret());
            REQUIRE(store.add_key(make_key(secrets.back(), "acme")));
        }
        // Read while the store is open too: the rows may still sit in the WAL.
        auto cells = all_cells(file);
        for (const auto& s : secrets) {
            bool hash_found = false;
            for (const auto& c : cells) {
                CHECK(c.find(s) == std::string::npos);
                hash_found = hash_found || c == auth::sha256_hex(s);
            }
            CHECK(hash_found);
        }
    }
    auto cells = all_cells(file);
    CHECK(cells.size() > 3);
    for (const auto& s : secrets) {
        bool hash_found = false;
        for (const auto& c : cells) {
            CHECK(c.find(s) == std::string::npos);
            hash_found = hash_found || c == auth::sha256_hex(s);
        }
        CHECK(hash_found);
        // Nor in the raw bytes of the database or its journals.
        for (const auto& entry : fs::directory_iterator(dir.path)) {
            CAPTURE(entry.path());
            CHECK(read_bytes(entry.path()).find(s) == std::string::npos);
        }
    }
}

TEST_CASE("a reopened SQLite store has every account and key as they were", "[auth][sqlite]") {
    temp_dir dir;
    const auto file = dir.path / "nested" / "deeper" / "keys.db";
    auth::account acme = make_account("acme", 2);
    acme.quota.account.rpm = 100;
    acme.quota.models["gpt-4o"] = sluice::limits::rate{5, 1000};
    acme.quota.spend.monthly_usd = 250.0;
    auto k1 = make_key("sk-first", "acme");
    k1.models = {"gpt-4o*", "meta-llama/*"};
    k1.cidrs = {*auth::cidr::parse("10.0.0.0/8"), *auth::cidr::parse("2001:db8::/32")};
    k1.expires = now + 3600;
    auto k2 = make_key("sk-second", "acme");
    {
        auth::sqlite_key_store store(file);
        REQUIRE(store.add_account(acme));
        REQUIRE(store.add_key(k1));
        REQUIRE(store.add_key(k2));
        REQUIRE(store.revoke_key(k2.id, now));
    }
    auth::sqlite_key_store reopened(file);
    REQUIRE(reopened.find_account("acme"));
    CHECK(*reopened.find_account("acme") == acme);
    REQUIRE(reopened.find_key(k1.secret_sha256));
    CHECK(*reopened.find_key(k1.secret_sha256) == k1);
    auto back2 = reopened.find_key_by_id(k2.id);
    REQUIRE(back2);
    CHECK(back2->revoked_at == now);
    CHECK(reopened.list_keys("acme").size() == 2);
}

TEST_CASE("reload picks up what another handle wrote to the same file", "[auth][sqlite]") {
    temp_dir dir;
    const auto file = dir.path / "keys.db";
    auth::sqlite_key_store a(file);
    auth::sqlite_key_store b(file);
    REQUIRE(a.add_account(make_account("acme", 3)));
    REQUIRE(a.add_key(make_key("sk-shared", "acme")));
    CHECK(b.find_key(auth::sha256_hex("sk-shared")) == nullptr);
    REQUIRE(b.reload());
    CHECK(b.find_key(auth::sha256_hex("sk-shared")) != nullptr);
    CHECK(b.find_account("acme") != nullptr);
    // Writes that lose to the other handle are refused by the file, not silently duplicated.
    auto dup = b.add_account(make_account("late", 1));
    REQUIRE(dup);
    auto clash = a.add_account(make_account("late", 1));
    REQUIRE_FALSE(clash);
    CHECK(clash.error().code == "already_exists");
}

TEST_CASE("a SQLite store that cannot be opened says which path", "[auth][sqlite]") {
    temp_dir dir;
    const auto blocker = dir.path / "a-file";
    std::ofstream(blocker) << "not a folder";
    const auto under_file = blocker / "keys.db";
    try {
        auth::sqlite_key_store store(under_file);
        FAIL("opened a store under a regular file");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find(under_file.string()) != std::string::npos);
    }
    try {
        auth::sqlite_key_store store(dir.path); // a folder is not a database
        FAIL("opened a folder as a store");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find(dir.path.string()) != std::string::npos);
    }
}

TEST_CASE("a key is read from Authorization: Bearer or x-api-key", "[auth][access_keys]") {
    auto store = std::make_shared<auth::memory_key_store>();
    REQUIRE(store->add_account(make_account("acme", 3)));
    REQUIRE(store->add_key(make_key("sk-sluice-good-key-000000", "acme")));
    auth::access_keys<auth::memory_key_store> policy(store);

    for (std::string header : {"Bearer sk-sluice-good-key-000000", "bearer sk-sluice-good-key-000000",
                               "BEARER   sk-sluice-good-key-000000  ", " Bearer\tsk-sluice-good-key-000000"}) {
        CAPTURE(header);
        auto p = policy.authenticate(bearer(header), now);
        REQUIRE(p);
        CHECK(p->acct->id == "acme");
    }
    auth::credentials by_header{{}, "sk-sluice-good-key-000000", make_address("198.51.100.7"), {}};
    auto p = policy.authenticate(by_header, now);
    REQUIRE(p);
    CHECK(p->key_id == store->list_keys("acme").at(0)->id);

    SECTION("no key at all is 401 missing_api_key, saying how to pass one") {
        for (std::string header : {"", "Bearer", "Bearer   ", "Basic c2stc2x1aWNlOg==", "Bearerx sk"}) {
            CAPTURE(header);
            auto r = policy.authenticate(bearer(header), now);
            REQUIRE_FALSE(r);
            CHECK(r.error().kind == error_kind::authentication);
            CHECK(r.error().code == "missing_api_key");
            CHECK(r.error().message.find("Authorization: Bearer") != std::string::npos);
            CHECK(r.error().message.find("x-api-key") != std::string::npos);
        }
    }
    SECTION("an unknown key is 401 invalid_api_key and is not echoed") {
        const std::string secret = "sk-sluice-wrong-key-0123456789abcdef";
        auto r = policy.authenticate(bearer("Bearer " + secret), now);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == error_kind::authentication);
        CHECK(sluice::core::http_status(r.error().kind) == 401);
        CHECK(r.error().code == "invalid_api_key");
        CHECK(r.error().message.find(secret) == std::string::npos);
        CHECK(r.error().message.find("wrong-key") == std::string::npos);
        CHECK(r.error().message.find("sk-slu...cdef") != std::string::npos);
    }
}

TEST_CASE("revoked and expired keys are refused with their own codes", "[auth][access_keys]") {
    auto store = std::make_shared<auth::memory_key_store>();
    REQUIRE(store->add_account(make_account("acme", 3)));
    auto expiring = make_key("sk-expiring", "acme");
    expiring.expires = now + 60;
    REQUIRE(store->add_key(expiring));
    auto revoked = make_key("sk-revoked", "acme");
    REQUIRE(store->add_key(revoked));
    auth::access_keys<auth::memory_key_store> policy(store);

    REQUIRE(policy.authenticate(bearer("Bearer sk-revoked"), now));
    REQUIRE(store->revoke_key(revoked.id, now));
    auto r = policy.authenticate(bearer("Bearer sk-revoked"), now);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == error_kind::authentication);
    CHECK(r.error().code == "revoked_api_key");

    CHECK(policy.authenticate(bearer("Bearer sk-expiring"), now + 59));
    for (std::int64_t t : {now + 60, now + 86400}) {
        auto e = policy.authenticate(bearer("Bearer sk-expiring"), t);
        REQUIRE_FALSE(e);
        CHECK(e.error().kind == error_kind::authentication);
        CHECK(e.error().code == "expired_api_key");
    }
}

TEST_CASE("a key with CIDRs is refused from other addresses, X-Forwarded-For only from trusted proxies",
          "[auth][access_keys]") {
    auto store = std::make_shared<auth::memory_key_store>();
    REQUIRE(store->add_account(make_account("acme", 3)));
    auto k = make_key("sk-office", "acme");
    k.cidrs = {*auth::cidr::parse("10.0.0.0/8"), *auth::cidr::parse("2001:db8::/32")};
    REQUIRE(store->add_key(k));
    REQUIRE(store->add_key(make_key("sk-anywhere", "acme")));
    auth::access_keys_options opts;
    opts.trusted_proxies = {*auth::cidr::parse("172.16.0.0/12"), *auth::cidr::parse("fd00::/8")};
    auth::access_keys<auth::memory_key_store> policy(store, nullptr, opts);

    auto from = [&](const char* remote, std::string_view xff = {}, const char* secret = "Bearer sk-office") {
        return policy.authenticate(auth::credentials{secret, {}, make_address(remote), xff}, now);
    };
    auto refused_naming = [](const sluice::core::result<auth::principal>& r, const std::string& address) {
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == error_kind::permission);
        CHECK(sluice::core::http_status(r.error().kind) == 403);
        CHECK(r.error().code == "address_not_allowed");
        CHECK(r.error().message.find(address) != std::string::npos);
    };

    CHECK(from("10.1.2.3"));
    CHECK(from("::ffff:10.1.2.3"));
    CHECK(from("2001:db8::42"));
    refused_naming(from("192.168.1.1"), "192.168.1.1");
    refused_naming(from("2001:db9::1"), "2001:db9::1");
    CHECK(from("192.168.1.1", {}, "Bearer sk-anywhere")); // no CIDRs: any address

    SECTION("X-Forwarded-For from an untrusted peer is ignored") {
        refused_naming(from("192.168.1.1", "10.1.2.3"), "192.168.1.1");
    }
    SECTION("a trusted proxy's X-Forwarded-For names the client") {
        CHECK(from("172.16.0.5", "10.9.9.9"));
        CHECK(from("172.16.0.5", "10.9.9.9:51234"));
        CHECK(from("fd00::5", "[2001:db8::7]:443"));
        CHECK(from("172.16.0.5", "203.0.113.50, 10.9.9.9, 172.16.0.9")); // proxies chain to the right
        refused_naming(from("172.16.0.5", "192.168.7.7"), "192.168.7.7");
    }
    SECTION("entries left of the right-most untrusted one are the client's to forge and are not heeded") {
        refused_naming(from("172.16.0.5", "10.0.0.1, 203.0.113.9"), "203.0.113.9");
        refused_naming(from("172.16.0.5", "10.0.0.1, 203.0.113.9, 172.20.0.1"), "203.0.113.9");
    }
    SECTION("an unreadable forwarded address is not allowed anywhere a key is limited") {
        auto r = from("172.16.0.5", "not-an-ip");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == "address_not_allowed");
        CHECK(from("172.16.0.5", "not-an-ip", "Bearer sk-anywhere"));
    }
    SECTION("a chain of trusted proxies only stops at the left-most") {
        REQUIRE(policy.client_address({{}, {}, make_address("172.16.0.5"), "172.16.0.7, 172.16.0.6"}) ==
                make_address("172.16.0.7"));
        REQUIRE(policy.client_address({{}, {}, make_address("172.16.0.5"), {}}) == make_address("172.16.0.5"));
    }
}

TEST_CASE("declared keys are found first, store keys after, and a key needs its account", "[auth][access_keys]") {
    temp_dir dir;
    const auto file = dir.path / "keys.db";
    auto declared = std::make_shared<auth::memory_key_store>();
    REQUIRE(declared->add_account(make_account("config-team", 5)));
    REQUIRE(declared->add_key(make_key("sk-declared", "config-team")));
    std::string orphan_id;
    {
        auth::sqlite_key_store store(file);
        REQUIRE(store.add_account(make_account("acme", 1)));
        REQUIRE(store.add_account(make_account("gone", 1)));
        REQUIRE(store.add_key(make_key("sk-stored", "acme")));
        auto orphan = make_key("sk-orphan", "gone");
        orphan_id = orphan.id;
        REQUIRE(store.add_key(orphan));
    }
    // An account removed behind the store's back (a hand edit, a partial restore).
    raw_sql(file, "DELETE FROM accounts WHERE id = 'gone'");
    auto store = std::make_shared<auth::sqlite_key_store>(file);
    auth::access_keys<auth::sqlite_key_store> policy(store, declared);

    auto d = policy.authenticate(bearer("Bearer sk-declared"), now);
    REQUIRE(d);
    CHECK(d->acct->id == "config-team");
    CHECK(d->acct->tier == 5);
    auto s = policy.authenticate(bearer("Bearer sk-stored"), now);
    REQUIRE(s);
    CHECK(s->acct->id == "acme");

    auto o = policy.authenticate(bearer("Bearer sk-orphan"), now);
    REQUIRE_FALSE(o);
    CHECK(o.error().kind == error_kind::authentication);
    CHECK(o.error().message.find(orphan_id) != std::string::npos);
}

TEST_CASE("authorize checks the key's model scopes, then the account's tier", "[auth][access_keys]") {
    auto store = std::make_shared<auth::memory_key_store>();
    REQUIRE(store->add_account(make_account("big", 3)));
    REQUIRE(store->add_account(make_account("small", 1)));
    auto scoped = make_key("sk-scoped", "big");
    scoped.models = {"gpt-4o*", "meta-llama/*"};
    REQUIRE(store->add_key(scoped));
    REQUIRE(store->add_key(make_key("sk-small", "small")));
    auth::access_keys<auth::memory_key_store> policy(store);

    auto big = policy.authenticate(bearer("Bearer sk-scoped"), now);
    REQUIRE(big);
    CHECK(big->models == scoped.models);
    CHECK_FALSE(policy.authorize(*big, model("gpt-4o-mini", false)));
    CHECK_FALSE(policy.authorize(*big, model("meta-llama/Llama-3.1-8B", true)));
    auto out_of_scope = policy.authorize(*big, model("claude-sonnet-4", false));
    REQUIRE(out_of_scope);
    CHECK(out_of_scope->kind == error_kind::permission);
    CHECK(out_of_scope->code == "model_not_allowed");
    CHECK(out_of_scope->param == "model");
    CHECK(out_of_scope->message.find("claude-sonnet-4") != std::string::npos);

    auto small = policy.authenticate(bearer("Bearer sk-small"), now);
    REQUIRE(small);
    CHECK(small->models.empty());
    CHECK_FALSE(policy.authorize(*small, model("qwen2.5-7b", true)));
    auto closed = policy.authorize(*small, model("gpt-4o", false));
    REQUIRE(closed);
    CHECK(closed->kind == error_kind::permission);
    CHECK(closed->code == "tier_not_allowed");
    CHECK(closed->message.find("tier 1") != std::string::npos);
    CHECK(closed->message.find("gpt-4o") != std::string::npos);
}

TEST_CASE("auth::none lets everyone in as the local principal", "[auth][none]") {
    auth::none policy;
    auto p = policy.authenticate(auth::credentials{}, now);
    REQUIRE(p);
    CHECK(p->key_id == "none");
    REQUIRE(p->acct);
    CHECK(p->acct->id == "local");
    CHECK(p->acct->tier == 99);
    CHECK(p->acct->quota == sluice::limits::quota{});
    CHECK_FALSE(policy.authorize(*p, model("gpt-4o", false)));
}

namespace {

struct admin_fixture {
    temp_dir dir;
    std::shared_ptr<auth::sqlite_key_store> store = std::make_shared<auth::sqlite_key_store>(dir.path / "keys.db");
    auth::admin_api<auth::sqlite_key_store> admin{*store, auth::sha256_hex("admin-token-123")};

    struct answer {
        unsigned status;
        std::string body;
        boost::json::value json;
    };
    answer call(std::string_view method, std::string_view target, std::string_view body = {},
                std::string_view authorization = "Bearer admin-token-123") {
        auto r = admin.handle(method, target, authorization, body, now);
        boost::system::error_code ec;
        auto json = boost::json::parse(r.body, ec);
        INFO(r.body);
        REQUIRE_FALSE(ec); // every answer, errors included, is JSON
        return {r.status, r.body, json};
    }
};

} // namespace

TEST_CASE("the admin API needs the admin token", "[auth][admin]") {
    admin_fixture f;
    for (std::string header : {"", "Bearer", "Bearer wrong-token", "Basic admin-token-123", "Bearer admin-token-1234"}) {
        CAPTURE(header);
        auto r = f.call("GET", "/admin/v1/keys", {}, header);
        CHECK(r.status == 401);
        CHECK(r.json.at("error").at("type") == "authentication_error");
    }
    CHECK(f.call("GET", "/admin/v1/keys", {}, "bearer admin-token-123").status == 200);
    auth::admin_api<auth::sqlite_key_store> disabled(*f.store, "");
    CHECK(disabled.handle("GET", "/admin/v1/keys", "Bearer ", "", now).status == 401);
}

TEST_CASE("the admin API creates, lists and shows accounts", "[auth][admin]") {
    admin_fixture f;
    auto created = f.call("POST", "/admin/v1/accounts",
                          R"({"id":"acme","tier":3,"limits":{"rpm":60,"tpm":100000,"models":{"gpt-4o":{"rpm":10}}},
                              "spend_cap_usd":{"daily":5,"monthly":100}})");
    REQUIRE(created.status == 201);
    CHECK(created.json.at("id") == "acme");
    CHECK(created.json.at("tier") == 3);
    auto acct = f.store->find_account("acme");
    REQUIRE(acct);
    CHECK(acct->quota.account.rpm == 60u);
    CHECK(acct->quota.model_rate("gpt-4o")->rpm == 10u);
    CHECK(acct->quota.spend.monthly_usd == 100.0);

    CHECK(f.call("POST", "/admin/v1/accounts", R"({"id":"acme","tier":1})").status == 409);
    auto bad_json = f.call("POST", "/admin/v1/accounts", R"({"id":"x",)");
    CHECK(bad_json.status == 400);
    CHECK(bad_json.json.at("error").at("type") == "invalid_request_error");
    auto bad_field = f.call("POST", "/admin/v1/accounts", R"({"id":"x","limits":{"rpm":"lots"}})");
    CHECK(bad_field.status == 400);
    CHECK(bad_field.json.at("error").at("param") == "limits.rpm");
    REQUIRE(f.call("POST", "/admin/v1/accounts", R"({"id":"beta"})").status == 201);

    auto list = f.call("GET", "/admin/v1/accounts");
    CHECK(list.status == 200);
    CHECK(list.json.at("object") == "list");
    REQUIRE(list.json.at("data").as_array().size() == 2);
    CHECK(list.json.at("data").at(1).at("id") == "beta");
    CHECK(list.json.at("data").at(1).at("tier") == 1);
    auto one = f.call("GET", "/admin/v1/accounts/acme");
    CHECK(one.status == 200);
    CHECK(one.json.at("spend_cap_usd").at("daily") == 5.0);
    CHECK(f.call("GET", "/admin/v1/accounts/nobody").status == 404);
    CHECK(f.call("DELETE", "/admin/v1/accounts/acme").status == 405);
}

TEST_CASE("the admin API shows a new key's secret once, and the secret then works", "[auth][admin]") {
    admin_fixture f;
    REQUIRE(f.call("POST", "/admin/v1/accounts", R"({"id":"acme","tier":3})").status == 201);
    REQUIRE(f.call("POST", "/admin/v1/accounts", R"({"id":"beta"})").status == 201);

    auto created = f.call("POST", "/admin/v1/keys",
                          R"({"account":"acme","name":"ci","models":["gpt-4o*"],"cidrs":["10.0.0.0/8"],
                              "expires":"2030-01-01T00:00:00Z"})");
    REQUIRE(created.status == 201);
    const std::string secret(created.json.at("secret").as_string());
    const std::string id(created.json.at("id").as_string());
    CHECK(secret.rfind("sk-sluice-", 0) == 0);
    CHECK(id.rfind("key_", 0) == 0);
    CHECK(created.json.at("name") == "ci");
    CHECK(created.json.at("expires") == "2030-01-01T00:00:00Z");
    CHECK(created.json.at("created") == now);
    CHECK(created.body.find(auth::sha256_hex(secret)) == std::string::npos);

    auto shown = f.call("GET", "/admin/v1/keys/" + id);
    CHECK(shown.status == 200);
    CHECK(shown.json.at("cidrs").at(0) == "10.0.0.0/8");
    CHECK_FALSE(shown.json.as_object().contains("secret"));
    CHECK(shown.body.find(secret) == std::string::npos);
    auto listed = f.call("GET", "/admin/v1/keys");
    CHECK(listed.body.find(secret) == std::string::npos);
    CHECK(listed.body.find(auth::sha256_hex(secret)) == std::string::npos);
    REQUIRE(listed.json.at("data").as_array().size() == 1);

    auth::access_keys<auth::sqlite_key_store> policy(f.store);
    auto p = policy.authenticate(bearer("Bearer " + secret, "10.0.0.9"), now);
    REQUIRE(p);
    CHECK(p->key_id == id);
    CHECK(p->models == std::vector<std::string>{"gpt-4o*"});

    SECTION("keys filter by account") {
        auto other = f.call("POST", "/admin/v1/keys", R"({"account":"beta","expires":1900000000})");
        REQUIRE(other.status == 201);
        CHECK(other.json.at("expires").as_string() == auth::format_rfc3339(1900000000));
        CHECK(f.call("GET", "/admin/v1/keys?account=beta").json.at("data").as_array().size() == 1);
        CHECK(f.call("GET", "/admin/v1/keys?account=acme").json.at("data").at(0).at("id").as_string() == id);
        CHECK(f.call("GET", "/admin/v1/keys").json.at("data").as_array().size() == 2);
        CHECK(f.call("GET", "/admin/v1/keys?account=nobody").json.at("data").as_array().empty());
    }
    SECTION("revoking by POST .../revoke or DELETE stops the key") {
        auto revoked = f.call("POST", "/admin/v1/keys/" + id + "/revoke");
        REQUIRE(revoked.status == 200);
        CHECK(revoked.json.at("revoked") == true);
        CHECK(revoked.json.at("revoked_at").as_string() == auth::format_rfc3339(now));
        auto after = policy.authenticate(bearer("Bearer " + secret, "10.0.0.9"), now);
        REQUIRE_FALSE(after);
        CHECK(after.error().code == "revoked_api_key");

        auto second = f.call("POST", "/admin/v1/keys", R"({"account":"beta"})");
        REQUIRE(second.status == 201);
        auto deleted = f.call("DELETE", "/admin/v1/keys/" + std::string(second.json.at("id").as_string()));
        REQUIRE(deleted.status == 200);
        CHECK(deleted.json.at("revoked") == true);
        CHECK(f.call("DELETE", "/admin/v1/keys/key_0000000000000000").status == 404);
        CHECK(f.call("POST", "/admin/v1/keys/key_0000000000000000/revoke").status == 404);
    }
    SECTION("bad key requests are 400 naming the field") {
        struct bad_case {
            const char* body;
            const char* param;
        };
        for (auto [body, param] :
             {bad_case{R"({"account":"ghost"})", "account"}, bad_case{R"({"name":"x"})", "account"},
              bad_case{R"({"account":"acme","cidrs":["10.0.0.0/33"]})", "cidrs"},
              bad_case{R"({"account":"acme","models":"gpt-4o"})", "models"},
              bad_case{R"({"account":"acme","models":[""]})", "models"},
              bad_case{R"({"account":"acme","expires":"2001-01-01T00:00:00Z"})", "expires"},
              bad_case{R"({"account":"acme","expires":"next week"})", "expires"},
              bad_case{R"({"account":"acme","secret":"sk-mine"})", "secret"}}) {
            CAPTURE(body);
            auto r = f.call("POST", "/admin/v1/keys", body);
            CHECK(r.status == 400);
            CHECK(r.json.at("error").at("param") == param);
        }
        auto cidr = f.call("POST", "/admin/v1/keys", R"({"account":"acme","cidrs":["10.0.0.0/33"]})");
        CHECK(std::string(cidr.json.at("error").at("message").as_string()).find("10.0.0.0/33") != std::string::npos);
        CHECK(f.call("POST", "/admin/v1/keys", "not json").status == 400);
        CHECK(f.call("POST", "/admin/v1/keys", "[1,2]").status == 400);
        CHECK(f.store->list_keys("").size() == 1);
    }
    SECTION("unknown routes are 404 and wrong methods 405") {
        CHECK(f.call("GET", "/admin/v1/nothing").status == 404);
        CHECK(f.call("GET", "/admin/v2/keys").status == 404);
        CHECK(f.call("GET", "/v1/keys").status == 404);
        CHECK(f.call("GET", "/admin/v1/keys/" + id + "/secret").status == 404);
        CHECK(f.call("GET", "/admin/v1/keys/nope").status == 404);
        CHECK(f.call("PUT", "/admin/v1/keys").status == 405);
        CHECK(f.call("GET", "/admin/v1/keys/" + id + "/revoke").status == 405);
        CHECK(f.call("GET", "/admin/v1/keys/").status == 200);
    }
}

TEST_CASE("lookups from several threads see every key while keys are added", "[auth][concurrency]") {
    temp_dir dir;
    auto store = std::make_shared<auth::sqlite_key_store>(dir.path / "keys.db");
    REQUIRE(store->add_account(make_account("acme", 3)));
    std::vector<std::string> early;
    for (int i = 0; i < 16; ++i) {
        early.push_back("sk-early-" + std::to_string(i));
        REQUIRE(store->add_key(make_key(early.back(), "acme")));
    }
    auth::access_keys<auth::sqlite_key_store> policy(store);

    constexpr int readers = 4, added = 100;
    std::atomic<bool> stop{false};
    std::atomic<long> misses{0}, false_hits{0}, lookups{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < readers; ++t)
        threads.emplace_back([&, t] {
            std::size_t i = std::size_t(t);
            while (!stop.load()) {
                auto p = policy.authenticate(bearer("Bearer " + early[i++ % early.size()]), now);
                if (!p || !p->acct) ++misses;
                if (store->find_key(auth::sha256_hex("sk-never-added"))) ++false_hits;
                ++lookups;
            }
        });
    std::vector<std::string> late;
    for (int i = 0; i < added; ++i) {
        late.push_back("sk-late-" + std::to_string(i));
        auto r = store->add_key(make_key(late.back(), "acme"));
        CHECK(r);
    }
    // Let every reader get some lookups in before stopping, however slow the machine.
    while (lookups.load() < readers * 10) std::this_thread::yield();
    stop = true;
    for (auto& th : threads) th.join();

    CHECK(misses.load() == 0);
    CHECK(false_hits.load() == 0);
    for (const auto& s : late) CHECK(policy.authenticate(bearer("Bearer " + s), now));
    CHECK(store->list_keys("acme").size() == early.size() + added);
}
