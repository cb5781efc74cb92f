#ifndef SLUICE_AUTH_ADMIN_HPP
#define SLUICE_AUTH_ADMIN_HPP

// The admin API for keys and accounts, free of any transport: the server hands it a method,
// target, Authorization header and body, and writes back the status and JSON it answers.
//
//   POST   /admin/v1/keys                {account, name?, models?, cidrs?, expires?}  201 + "secret"
//   GET    /admin/v1/keys[?account=ID]   {"object":"list","data":[...]}
//   GET    /admin/v1/keys/{id}
//   POST   /admin/v1/keys/{id}/revoke    the revoked key (DELETE /admin/v1/keys/{id} alike)
//   POST   /admin/v1/accounts            {id, tier, limits, spend_cap_usd}             201 (409 if taken)
//   GET    /admin/v1/accounts
//   GET    /admin/v1/accounts/{id}
//
// The secret of a new key is in the 201 answer and nowhere else, ever: the store keeps its hash.

#include <sluice/auth/access_keys.hpp>
#include <sluice/auth/account.hpp>
#include <sluice/auth/cidr.hpp>
#include <sluice/auth/key.hpp>
#include <sluice/auth/key_store.hpp>
#include <sluice/auth/rfc3339.hpp>
#include <sluice/core/error.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/result.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::auth {

struct admin_reply {
    unsigned status = 200;
    std::string body; // JSON
};

template <key_store Store>
class admin_api {
public:
    /// `admin_token_sha256`: sha256_hex of the admin token; empty turns the admin API off (every call 401).
    admin_api(Store& store, std::string admin_token_sha256)
        : store_(store), token_sha256_(std::move(admin_token_sha256)) {}

    admin_reply handle(std::string_view method, std::string_view target, std::string_view authorization,
                       std::string_view body, std::int64_t now_unix) {
        if (!authorized(authorization))
            return fail({core::error_kind::authentication,
                         "The admin API needs 'Authorization: Bearer <admin token>'.", {}, "invalid_admin_token"});
        auto url = boost::urls::parse_origin_form(target);
        if (!url) return fail({core::error_kind::invalid_request, "The request target is not a path.", {}, {}});
        std::vector<std::string> seg;
        for (auto s : url->segments()) seg.emplace_back(s);
        if (!seg.empty() && seg.back().empty()) seg.pop_back(); // "/admin/v1/keys/" is "/admin/v1/keys"
        if (seg.size() < 3 || seg[0] != "admin" || seg[1] != "v1") return not_found(target);

        const auto n = seg.size();
        if (seg[2] == "keys") {
            if (n == 3) {
                if (method == "GET") {
                    std::string account_id;
                    if (auto it = url->params().find("account"); it != url->params().end())
                        account_id = std::string((*it).value);
                    return list(store_.list_keys(account_id));
                }
                if (method == "POST") return create_key(body, now_unix);
                return wrong_method(method, target);
            }
            if (n == 4) {
                if (method == "GET") return show(store_.find_key_by_id(seg[3]), "key", seg[3]);
                if (method == "DELETE") return revoke(seg[3], now_unix);
                return wrong_method(method, target);
            }
            if (n == 5 && seg[4] == "revoke") {
                if (method == "POST") return revoke(seg[3], now_unix);
                return wrong_method(method, target);
            }
        } else if (seg[2] == "accounts") {
            if (n == 3) {
                if (method == "GET") return list(store_.list_accounts());
                if (method == "POST") return create_account(body);
                return wrong_method(method, target);
            }
            if (n == 4) {
                if (method == "GET") return show(store_.find_account(seg[3]), "account", seg[3]);
                return wrong_method(method, target);
            }
        }
        return not_found(target);
    }

private:
    bool authorized(std::string_view authorization) const {
        auto token = detail::bearer_token(authorization);
        if (token.empty() || token_sha256_.empty()) return false;
        return equal_constant_time(sha256_hex(token), token_sha256_);
    }

    static admin_reply reply(unsigned status, const boost::json::value& v) { return {status, boost::json::serialize(v)}; }

    /// The OpenAI error shape; "already_exists" is the one case with its own status, 409.
    static admin_reply fail(const core::error& e) {
        return reply(e.code == "already_exists" ? 409u : core::http_status(e.kind), core::openai_error_json(e));
    }
    static admin_reply not_found(std::string_view target) {
        return fail({core::error_kind::not_found, "No admin route " + std::string(target) + ".", {}, {}});
    }
    static admin_reply wrong_method(std::string_view method, std::string_view target) {
        return fail({core::error_kind::method_not_allowed,
                     std::string(method) + " is not allowed on " + std::string(target) + ".", {}, {}});
    }
    static core::error bad(std::string param, std::string message) {
        return {core::error_kind::invalid_request, std::move(message), std::move(param), {}};
    }

    template <class Ptr>
    static admin_reply list(const std::vector<Ptr>& items) {
        boost::json::array data;
        for (const auto& p : items) data.emplace_back(to_json(*p));
        return reply(200, boost::json::object{{"object", "list"}, {"data", std::move(data)}});
    }
    template <class Ptr>
    static admin_reply show(const Ptr& p, std::string_view what, std::string_view id) {
        if (!p)
            return fail({core::error_kind::not_found, "No " + std::string(what) + " '" + std::string(id) + "'.", "id",
                         std::string(what) + "_not_found"});
        return reply(200, to_json(*p));
    }

    static core::result<boost::json::object> parse_object(std::string_view body) {
        boost::system::error_code ec;
        auto v = boost::json::parse(body, ec);
        if (ec) return bad({}, "The body is not valid JSON: " + ec.message() + ".");
        if (!v.is_object()) return bad({}, "The body must be a JSON object.");
        return std::move(v.get_object());
    }

    static core::result<std::vector<std::string>> strings(const boost::json::object& o, std::string_view key) {
        std::vector<std::string> out;
        const auto* v = o.if_contains(key);
        if (!v || v->is_null()) return out;
        const std::string p(key);
        if (!v->is_array()) return bad(p, "'" + p + "' must be an array of strings.");
        for (const auto& e : v->get_array()) {
            if (!e.is_string() || e.get_string().empty() || e.get_string().size() > max_name_length)
                return bad(p, "'" + p + "' must hold non-empty strings of at most 256 characters.");
            out.emplace_back(e.get_string());
        }
        return out;
    }

    /// Reads the fields of a new key; the id, hash and times are ours to set, not the caller's.
    core::result<key_record> key_request(std::string_view body, std::int64_t now_unix) const {
        auto parsed = parse_object(body);
        if (!parsed) return std::move(parsed).error();
        const auto& o = *parsed;
        if (auto e = detail::only_fields(o, {"account", "name", "models", "cidrs", "expires"}, "")) return *e;
        key_record k;
        const auto* acct = o.if_contains("account");
        if (!acct || !acct->is_string() || acct->get_string().empty())
            return bad("account", "'account' must name an account.");
        k.account = std::string(acct->get_string());
        if (!store_.find_account(k.account))
            return core::error{core::error_kind::invalid_request, "No account '" + k.account + "'.", "account",
                               "unknown_account"};
        if (const auto* name = o.if_contains("name"); name && !name->is_null()) {
            if (!name->is_string() || name->get_string().size() > max_name_length)
                return bad("name", "'name' must be a string of at most 256 characters.");
            k.name = std::string(name->get_string());
        }
        auto models = strings(o, "models");
        if (!models) return std::move(models).error();
        k.models = std::move(*models);
        auto cidrs = strings(o, "cidrs");
        if (!cidrs) return std::move(cidrs).error();
        for (const auto& text : *cidrs) {
            auto block = cidr::parse(text);
            if (!block) return std::move(block).error();
            k.cidrs.push_back(*block);
        }
        if (const auto* exp = o.if_contains("expires"); exp && !exp->is_null()) {
            std::optional<std::int64_t> t;
            if (exp->is_string()) t = parse_rfc3339(exp->get_string());
            else if (exp->is_int64()) t = exp->get_int64();
            else if (exp->is_uint64() && exp->get_uint64() <= std::uint64_t(INT64_MAX)) t = std::int64_t(exp->get_uint64());
            if (!t) return bad("expires", "'expires' must be an RFC 3339 time or unix seconds.");
            if (*t <= now_unix) return bad("expires", "'expires' is in the past.");
            k.expires = *t;
        }
        k.created = now_unix;
        return k;
    }

    admin_reply create_key(std::string_view body, std::int64_t now_unix) {
        auto req = key_request(body, now_unix);
        if (!req) return fail(req.error());
        auto secret = generate_secret();
        req->id = new_key_id();
        req->secret_sha256 = sha256_hex(secret);
        auto added = store_.add_key(std::move(*req));
        if (!added) return fail(added.error());
        log::info("admin_key_created", {{"key_id", (*added)->id}, {"account", (*added)->account}});
        auto json = to_json(**added);
        json["secret"] = secret; // this answer is the only place the secret is ever shown
        return reply(201, json);
    }

    admin_reply revoke(const std::string& id, std::int64_t now_unix) {
        auto r = store_.revoke_key(id, now_unix);
        if (!r) return fail(r.error());
        log::info("admin_key_revoked", {{"key_id", id}, {"account", (*r)->account}});
        return reply(200, to_json(**r));
    }

    admin_reply create_account(std::string_view body) {
        auto parsed = parse_object(body);
        if (!parsed) return fail(parsed.error());
        auto a = account_from_json(*parsed);
        if (!a) return fail(a.error());
        auto added = store_.add_account(std::move(*a));
        if (!added) return fail(added.error());
        log::info("admin_account_created", {{"account", (*added)->id}, {"tier", (*added)->tier}});
        return reply(201, to_json(**added));
    }

    Store& store_;
    std::string token_sha256_;
};

} // namespace sluice::auth

#endif
