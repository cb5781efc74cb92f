#ifndef SLUICE_AUTH_SQLITE_KEY_STORE_HPP
#define SLUICE_AUTH_SQLITE_KEY_STORE_HPP

// Keys and accounts in one SQLite file: the embedded default, nothing else to run. The file is
// read once into the in-memory index; every change is written to the file first and then to the
// index, so requests never wait on SQLite. Keys are stored as the SHA-256 of their secret only.
//
// The index does not see writes made by another process; reload() re-reads the file.

#include <sluice/auth/account.hpp>
#include <sluice/auth/key_store.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sluice::auth {

class sqlite_key_store {
public:
    /// Opens (or creates, with its parent folders) the store at `path`; throws
    /// std::runtime_error naming the path when it cannot be opened or read.
    explicit sqlite_key_store(std::filesystem::path path) : path_(std::move(path)) {
        if (auto parent = path_.parent_path(); !parent.empty()) {
            std::error_code ec;
            std::filesystem::create_directories(parent, ec);
            if (ec) fail("cannot create the folder " + parent.string() + ": " + ec.message());
        }
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 nullptr);
        db_.reset(raw); // sqlite hands back a handle even when opening fails; it must still be closed
        if (rc != SQLITE_OK) fail(raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
        sqlite3_extended_result_codes(db_.get(), 1);
        // Another replica on the same host may hold the write lock for a moment.
        sqlite3_busy_timeout(db_.get(), busy_timeout_ms);
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=NORMAL");
        exec("PRAGMA foreign_keys=ON");
        exec(schema);
        insert_account_ = prepare("INSERT INTO accounts(id, tier, quota) VALUES(?1, ?2, ?3)");
        insert_key_ = prepare("INSERT INTO keys(id, name, secret_sha256, account, models, cidrs, expires, revoked_at, "
                              "created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
        revoke_key_ = prepare("UPDATE keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
        load(index_);
        log::info("key_store_open", {{"path", path_.string()},
                                     {"accounts", index_.list_accounts().size()},
                                     {"keys", index_.list_keys({}).size()}});
    }

    sqlite_key_store(const sqlite_key_store&) = delete;
    sqlite_key_store& operator=(const sqlite_key_store&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }

    key_ptr find_key(std::string_view sha256) const { return index_.find_key(sha256); }
    key_ptr find_key_by_id(std::string_view id) const { return index_.find_key_by_id(id); }
    account_ptr find_account(std::string_view id) const { return index_.find_account(id); }
    std::vector<key_ptr> list_keys(std::string_view account_id = {}) const { return index_.list_keys(account_id); }
    std::vector<account_ptr> list_accounts() const { return index_.list_accounts(); }

    core::result<key_ptr> add_key(key_record k) {
        std::lock_guard lock(write_);
        if (auto e = index_.key_conflict(k)) return std::move(*e);
        auto* s = insert_key_.get();
        statement_reset reset{s};
        bind(s, 1, k.id);
        bind(s, 2, k.name);
        bind(s, 3, k.secret_sha256);
        bind(s, 4, k.account);
        boost::json::array models, cidrs;
        for (const auto& m : k.models) models.emplace_back(m);
        for (const auto& c : k.cidrs) cidrs.emplace_back(c.str());
        bind(s, 5, boost::json::serialize(models));
        bind(s, 6, boost::json::serialize(cidrs));
        bind(s, 7, k.expires);
        bind(s, 8, k.revoked_at);
        bind(s, 9, std::optional<std::int64_t>(k.created));
        if (auto e = step(s, "insert key")) return std::move(*e);
        auto p = std::make_shared<const key_record>(std::move(k));
        index_.put_key(p);
        return key_ptr(std::move(p));
    }

    core::result<key_ptr> revoke_key(std::string_view id, std::int64_t now_unix) {
        std::lock_guard lock(write_);
        auto before = index_.find_key_by_id(id);
        auto r = index_.revoked(id, now_unix);
        if (!r || *r == before) return r; // unknown, or revoked before: nothing to write
        auto* s = revoke_key_.get();
        statement_reset reset{s};
        bind(s, 1, id);
        bind(s, 2, std::optional<std::int64_t>(now_unix));
        if (auto e = step(s, "revoke key")) return std::move(*e);
        index_.put_key(*r);
        return r;
    }

    core::result<account_ptr> add_account(account a) {
        std::lock_guard lock(write_);
        if (auto e = index_.account_conflict(a)) return std::move(*e);
        auto* s = insert_account_.get();
        statement_reset reset{s};
        bind(s, 1, a.id);
        bind(s, 2, std::optional<std::int64_t>(a.tier));
        bind(s, 3, boost::json::serialize(quota_to_json(a.quota)));
        if (auto e = step(s, "insert account")) return std::move(*e);
        auto p = std::make_shared<const account>(std::move(a));
        index_.put_account(p);
        return account_ptr(std::move(p));
    }

    /// Re-reads the file (another process may have changed it) and swaps the index in one step.
    core::result<void> reload() {
        std::lock_guard lock(write_);
        key_index fresh;
        try {
            load(fresh);
        } catch (const std::exception& e) {
            return core::error{core::error_kind::internal, e.what(), {}, {}};
        }
        index_.swap(fresh);
        return {};
    }

private:
    static constexpr int busy_timeout_ms = 5000;
    static constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS accounts(
  id    TEXT PRIMARY KEY NOT NULL,
  tier  INTEGER NOT NULL,
  quota TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys(
  id            TEXT PRIMARY KEY NOT NULL,
  name          TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL UNIQUE,
  account       TEXT NOT NULL REFERENCES accounts(id),
  models        TEXT NOT NULL,
  cidrs         TEXT NOT NULL,
  expires       INTEGER,
  revoked_at    INTEGER,
  created       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_by_account ON keys(account);
)sql";

    struct db_close {
        void operator()(sqlite3* d) const noexcept { sqlite3_close_v2(d); }
    };
    struct stmt_finalize {
        void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
    };
    using db_ptr = std::unique_ptr<sqlite3, db_close>;
    using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalize>;

    // A prepared statement is reused: it goes back to its unbound, unstepped state however a write ends.
    struct statement_reset {
        sqlite3_stmt* s;
        ~statement_reset() {
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
        }
    };

    [[noreturn]] void fail(const std::string& why) const {
        throw std::runtime_error("key store " + path_.string() + ": " + why);
    }

    void exec(const char* sql) {
        char* msg = nullptr;
        if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string why = msg ? msg : sqlite3_errmsg(db_.get());
            sqlite3_free(msg);
            fail(why);
        }
    }

    stmt_ptr prepare(std::string_view sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db_.get(), sql.data(), int(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
            SQLITE_OK)
            fail(sqlite3_errmsg(db_.get()));
        return stmt_ptr(s);
    }

    static void bind(sqlite3_stmt* s, int i, std::string_view v) {
        sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    }
    static void bind(sqlite3_stmt* s, int i, const std::optional<std::int64_t>& v) {
        if (v) sqlite3_bind_int64(s, i, *v);
        else sqlite3_bind_null(s, i);
    }

    /// Runs a write; a refused one becomes the error the key_store concept names.
    std::optional<core::error> step(sqlite3_stmt* s, std::string_view what) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) return std::nullopt;
        int ext = sqlite3_extended_errcode(db_.get());
        std::string msg = sqlite3_errmsg(db_.get());
        if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
            return core::error{core::error_kind::invalid_request, "It exists already.", "id", "already_exists"};
        if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
            return core::error{core::error_kind::invalid_request, "No such account.", "account", "unknown_account"};
        log::error("key_store_write_failed", {{"path", path_.string()}, {"op", what}, {"sqlite", msg}});
        return core::error{core::error_kind::internal, "The key store could not be written.", {}, {}};
    }

    static std::string text(sqlite3_stmt* s, int col) {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
        return p ? std::string(p, std::size_t(sqlite3_column_bytes(s, col))) : std::string();
    }
    static std::optional<std::int64_t> integer(sqlite3_stmt* s, int col) {
        if (sqlite3_column_type(s, col) == SQLITE_NULL) return std::nullopt;
        return sqlite3_column_int64(s, col);
    }

    boost::json::array json_array(const std::string& t, std::string_view where) const {
        boost::system::error_code ec;
        auto v = boost::json::parse(t, ec);
        if (ec || !v.is_array()) fail("corrupt " + std::string(where) + ": not a JSON array");
        return std::move(v.get_array());
    }

    /// Reads every row into `into`; a row that does not read back is an error, never skipped.
    void load(key_index& into) {
        auto accounts = prepare("SELECT id, tier, quota FROM accounts");
        while (true) {
            int rc = sqlite3_step(accounts.get());
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) fail(sqlite3_errmsg(db_.get()));
            account a;
            a.id = text(accounts.get(), 0);
            a.tier = int(sqlite3_column_int64(accounts.get(), 1));
            boost::system::error_code ec;
            auto q = boost::json::parse(text(accounts.get(), 2), ec);
            if (ec || !q.is_object()) fail("corrupt quota of account " + a.id);
            auto quota = quota_from_json(q.get_object());
            if (!quota) fail("corrupt quota of account " + a.id + ": " + quota.error().message);
            a.quota = std::move(*quota);
            into.put_account(std::make_shared<const account>(std::move(a)));
        }
        auto keys = prepare("SELECT id, name, secret_sha256, account, models, cidrs, expires, revoked_at, created "
                            "FROM keys");
        while (true) {
            int rc = sqlite3_step(keys.get());
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) fail(sqlite3_errmsg(db_.get()));
            auto* s = keys.get();
            key_record k;
            k.id = text(s, 0);
            k.name = text(s, 1);
            k.secret_sha256 = text(s, 2);
            k.account = text(s, 3);
            for (const auto& m : json_array(text(s, 4), "models of key " + k.id)) {
                if (!m.is_string()) fail("corrupt models of key " + k.id);
                k.models.emplace_back(m.get_string());
            }
            for (const auto& c : json_array(text(s, 5), "cidrs of key " + k.id)) {
                auto block = c.is_string() ? cidr::parse(c.get_string()) : cidr::parse("");
                if (!block) fail("corrupt cidrs of key " + k.id);
                k.cidrs.push_back(*block);
            }
            k.expires = integer(s, 6);
            k.revoked_at = integer(s, 7);
            k.created = integer(s, 8).value_or(0);
            if (!is_sha256_hex(k.secret_sha256)) fail("key " + k.id + " has no SHA-256");
            into.put_key(std::make_shared<const key_record>(std::move(k)));
        }
    }

    std::filesystem::path path_;
    std::mutex write_; // one writer at a time, and the index changes only after the file did
    db_ptr db_;        // declared before the statements, so it is closed after them
    stmt_ptr insert_account_;
    stmt_ptr insert_key_;
    stmt_ptr revoke_key_;
    key_index index_;
};

static_assert(key_store<sqlite_key_store>);

} // namespace sluice::auth

#endif
