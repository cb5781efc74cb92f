// Tests the building blocks of auth/: key.hpp, cidr.hpp, glob.hpp, rfc3339.hpp, account.hpp.
#include <sluice/auth/key.hpp>
#include <sluice/auth/cidr.hpp>
#include <sluice/auth/glob.hpp>
#include <sluice/auth/rfc3339.hpp>
#include <sluice/auth/account.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <catch2/catch.hpp>

#include <cctype>
#include <set>
#include <string>
#include <tuple>

namespace auth = sluice::auth;
using boost::asio::ip::make_address;

TEST_CASE("a secret is the prefix and 43 base64url characters of fresh randomness", "[auth][key]") {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto s = auth::generate_secret();
        REQUIRE(s.rfind("sk-sluice-", 0) == 0);
        auto body = s.substr(10);
        CHECK(body.size() == 43); // 32 bytes, no padding
        for (char c : body) CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));
        seen.insert(s);
    }
    CHECK(seen.size() == 200);
    CHECK(auth::generate_secret("sk-test-").rfind("sk-test-", 0) == 0);
    CHECK(auth::generate_secret("").size() == 43);
}

TEST_CASE("base64url follows RFC 4648 without padding", "[auth][key]") {
    auto enc = [](std::string_view s) {
        return auth::base64url(reinterpret_cast<const unsigned char*>(s.data()), s.size());
    };
    CHECK(enc("") == "");
    CHECK(enc("f") == "Zg");
    CHECK(enc("fo") == "Zm8");
    CHECK(enc("foo") == "Zm9v");
    CHECK(enc("foob") == "Zm9vYg");
    CHECK(enc("foobar") == "Zm9vYmFy");
    const unsigned char url_chars[] = {0xfb, 0xff};
    CHECK(auth::base64url(url_chars, 2) == "-_8");
}

TEST_CASE("sha256_hex matches the FIPS 180-2 vectors", "[auth][key]") {
    CHECK(auth::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(auth::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(auth::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("equal_constant_time is plain equality of contents", "[auth][key]") {
    CHECK(auth::equal_constant_time("", ""));
    CHECK(auth::equal_constant_time("abcdef", "abcdef"));
    CHECK_FALSE(auth::equal_constant_time("abcdef", "abcdeg"));
    CHECK_FALSE(auth::equal_constant_time("abcdef", "bbcdef"));
    CHECK_FALSE(auth::equal_constant_time("abcdef", "abcde"));
    CHECK_FALSE(auth::equal_constant_time("abc", "abcdef"));
    CHECK_FALSE(auth::equal_constant_time("", "a"));
    const char with_nul[] = {'a', '\0', 'b'};
    CHECK_FALSE(auth::equal_constant_time(std::string_view(with_nul, 3), std::string_view("a\0c", 3)));
}

TEST_CASE("key ids are key_ and 16 hex digits, and differ", "[auth][key]") {
    auto a = auth::new_key_id(), b = auth::new_key_id();
    REQUIRE(a.size() == 20);
    CHECK(a.rfind("key_", 0) == 0);
    for (char c : a.substr(4)) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
    CHECK(a != b);
}

TEST_CASE("a masked secret keeps a short head and tail only", "[auth][key]") {
    auto s = auth::generate_secret();
    auto m = auth::mask_secret(s);
    CHECK(m == s.substr(0, 6) + "..." + s.substr(s.size() - 4));
    CHECK(m.find(s.substr(6, 20)) == std::string::npos);
    CHECK(auth::mask_secret("short") == "***");
    CHECK(auth::mask_secret("sk-\x01\xff-0123456789abcd") == "sk-?" "?-...abcd");
}

TEST_CASE("an IPv4 CIDR block holds the addresses under its prefix", "[auth][cidr]") {
    auto c = auth::cidr::parse("10.0.0.0/8");
    REQUIRE(c);
    CHECK(c->contains(make_address("10.0.0.0")));
    CHECK(c->contains(make_address("10.255.1.2")));
    CHECK_FALSE(c->contains(make_address("11.0.0.1")));
    CHECK_FALSE(c->contains(make_address("9.255.255.255")));
    CHECK(c->str() == "10.0.0.0/8");

    auto odd = auth::cidr::parse("192.168.1.77/27");
    REQUIRE(odd);
    CHECK(odd->str() == "192.168.1.64/27"); // host bits cleared
    CHECK(odd->contains(make_address("192.168.1.95")));
    CHECK_FALSE(odd->contains(make_address("192.168.1.96")));

    auto one = auth::cidr::parse("203.0.113.9");
    REQUIRE(one);
    CHECK(one->str() == "203.0.113.9/32");
    CHECK(one->contains(make_address("203.0.113.9")));
    CHECK_FALSE(one->contains(make_address("203.0.113.8")));

    auto all = auth::cidr::parse("0.0.0.0/0");
    REQUIRE(all);
    CHECK(all->contains(make_address("8.8.8.8")));
    CHECK_FALSE(all->contains(make_address("2001:db8::1")));
}

TEST_CASE("an IPv6 CIDR block holds the addresses under its prefix", "[auth][cidr]") {
    auto c = auth::cidr::parse("2001:db8::/32");
    REQUIRE(c);
    CHECK(c->contains(make_address("2001:db8::1")));
    CHECK(c->contains(make_address("2001:db8:ffff:1::42")));
    CHECK_FALSE(c->contains(make_address("2001:db9::1")));
    CHECK_FALSE(c->contains(make_address("10.0.0.1")));
    CHECK(c->str() == "2001:db8::/32");

    auto odd = auth::cidr::parse("2001:db8:abcd:12ff::/60");
    REQUIRE(odd);
    CHECK(odd->str() == "2001:db8:abcd:12f0::/60");
    CHECK(odd->contains(make_address("2001:db8:abcd:12f3::1")));
    CHECK_FALSE(odd->contains(make_address("2001:db8:abcd:1300::1")));

    auto one = auth::cidr::parse("::1");
    REQUIRE(one);
    CHECK(one->str() == "::1/128");
    CHECK(one->contains(make_address("::1")));
    CHECK_FALSE(one->contains(make_address("::2")));
}

TEST_CASE("an IPv4-mapped IPv6 client matches IPv4 blocks", "[auth][cidr]") {
    auto v4 = auth::cidr::parse("10.0.0.0/8");
    REQUIRE(v4);
    CHECK(v4->contains(make_address("::ffff:10.1.2.3")));
    CHECK_FALSE(v4->contains(make_address("::ffff:11.1.2.3")));

    auto v6 = auth::cidr::parse("2001:db8::/32");
    REQUIRE(v6);
    CHECK_FALSE(v6->contains(make_address("::ffff:10.1.2.3")));

    auto mapped = auth::cidr::parse("::ffff:10.0.0.0/104");
    REQUIRE(mapped);
    CHECK(mapped->is_v4());
    CHECK(mapped->str() == "10.0.0.0/8");
    CHECK(mapped->contains(make_address("10.9.9.9")));
    CHECK(mapped->contains(make_address("::ffff:10.9.9.9")));
}

TEST_CASE("bad CIDR text is an invalid_request naming it", "[auth][cidr]") {
    for (std::string bad : {"", "10.0.0.0/33", "10.0.0/8", "not-an-address", "2001:db8::/129", "10.0.0.0/",
                            "10.0.0.0/8x", "10.0.0.0/-1", "10.0.0.0/+8", "fe80::1%eth0/64", "10.0.0.0/8/8"}) {
        CAPTURE(bad);
        auto c = auth::cidr::parse(bad);
        REQUIRE_FALSE(c);
        CHECK(c.error().kind == sluice::core::error_kind::invalid_request);
        CHECK(c.error().message.find("'" + bad + "'") != std::string::npos);
    }
}

TEST_CASE("model scopes match with * and ?", "[auth][glob]") {
    using row = std::tuple<std::string, std::string, bool>;
    auto [pattern, text, expected] = GENERATE(table<std::string, std::string, bool>({
        row{"*", "gpt-4o", true},
        row{"*", "", true},
        row{"gpt-4o*", "gpt-4o", true},
        row{"gpt-4o*", "gpt-4o-mini", true},
        row{"gpt-4o*", "gpt-4", false},
        row{"meta-llama/*", "meta-llama/Llama-3.1-8B", true},
        row{"meta-llama/*", "mistralai/Mistral-7B", false},
        row{"meta-llama/*", "meta-llama", false},
        row{"?pt-4o", "gpt-4o", true},
        row{"?pt-4o", "pt-4o", false},
        row{"a*b*c", "aXXbYYc", true},
        row{"a*b*c", "aXXbYY", false},
        row{"*-mini", "gpt-4o-mini", true},
        row{"*-mini", "gpt-4o-mini-2", false},
        row{"exact", "exact", true},
        row{"exact", "exactly", false},
        row{"", "", true},
        row{"", "a", false},
        row{"**", "anything", true},
        row{"a*a*a*a*a*a*b", std::string(200, 'a'), false},
    }));
    CAPTURE(pattern, text);
    CHECK(auth::glob_match(pattern, text) == expected);
}

TEST_CASE("RFC 3339 times format in UTC and parse with any offset", "[auth][time]") {
    CHECK(auth::format_rfc3339(0) == "1970-01-01T00:00:00Z");
    CHECK(auth::format_rfc3339(1700000000) == "2023-11-14T22:13:20Z");
    CHECK(auth::format_rfc3339(951782400) == "2000-02-29T00:00:00Z");
    CHECK(auth::format_rfc3339(-1) == "1969-12-31T23:59:59Z");

    CHECK(auth::parse_rfc3339("2023-11-14T22:13:20Z") == 1700000000);
    CHECK(auth::parse_rfc3339("2023-11-14t22:13:20z") == 1700000000);
    CHECK(auth::parse_rfc3339("2023-11-15T00:13:20+02:00") == 1700000000);
    CHECK(auth::parse_rfc3339("2023-11-14T17:13:20.123456-05:00") == 1700000000);
    CHECK(auth::parse_rfc3339("2024-02-29T00:00:00Z").has_value());
    for (std::int64_t t : {0LL, 1LL, 86399LL, 1700000000LL, 4102444800LL})
        CHECK(auth::parse_rfc3339(auth::format_rfc3339(t)) == t);

    for (const char* bad : {"", "2023-11-14", "2023-11-14T22:13:20", "2023-02-29T00:00:00Z", "2023-13-01T00:00:00Z",
                            "2023-11-14T24:00:00Z", "2023-11-14T22:13:20+0200", "2023-11-14T22:13:20.Z",
                            "2023-11-14T22:13:20Zjunk", "yesterday"}) {
        CAPTURE(bad);
        CHECK_FALSE(auth::parse_rfc3339(bad).has_value());
    }
}

TEST_CASE("an account round-trips through its admin JSON", "[auth][account]") {
    auth::account a;
    a.id = "acme";
    a.tier = 2;
    a.quota.account.rpm = 600;
    a.quota.models["gpt-4o"] = sluice::limits::rate{10, 20000};
    a.quota.spend.daily_usd = 5.5;

    auto json = auth::to_json(a);
    CHECK(json.at("object") == "account");
    CHECK(json.at("limits").at("tpm").is_null());
    CHECK(json.at("limits").at("models").at("gpt-4o").at("rpm") == 10);
    CHECK(json.at("spend_cap_usd").at("monthly").is_null());
    auto back = auth::account_from_json(json);
    REQUIRE(back);
    CHECK(*back == a);
}

TEST_CASE("a bad account is refused naming the field", "[auth][account]") {
    auto parse = [](const char* text) { return auth::account_from_json(boost::json::parse(text)); };
    auto ok = parse(R"({"id":"a"})");
    REQUIRE(ok);
    CHECK(ok->tier == 1);
    CHECK(ok->quota == sluice::limits::quota{});

    struct bad_case {
        const char* json;
        const char* param;
    };
    for (auto [json, param] : {bad_case{R"({"tier":3})", "id"}, bad_case{R"({"id":""})", "id"},
                               bad_case{R"({"id":"a","tier":"3"})", "tier"},
                               bad_case{R"({"id":"a","tier":-1})", "tier"},
                               bad_case{R"({"id":"a","limits":{"rpn":5}})", "limits.rpn"},
                               bad_case{R"({"id":"a","limits":{"rpm":-5}})", "limits.rpm"},
                               bad_case{R"({"id":"a","limits":{"models":{"m":{"tpm":1.5}}}})", "limits.models.m.tpm"},
                               bad_case{R"({"id":"a","spend_cap_usd":{"daily":-1}})", "spend_cap_usd.daily"},
                               bad_case{R"({"id":"a","spend_cap_usd":{"weekly":1}})", "spend_cap_usd.weekly"},
                               bad_case{R"({"id":"a","owner":"x"})", "owner"}}) {
        CAPTURE(json);
        auto r = parse(json);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == sluice::core::error_kind::invalid_request);
        CHECK(r.error().param == param);
    }
}

TEST_CASE("a key's JSON shows its settings and never its secret hash", "[auth][account]") {
    auth::key_record k;
    k.id = "key_0123456789abcdef";
    k.name = "ci";
    k.secret_sha256 = auth::sha256_hex("sk-sluice-secret");
    k.account = "acme";
    k.models = {"gpt-4o*"};
    k.cidrs = {*auth::cidr::parse("10.0.0.0/8")};
    k.expires = 1700000000;
    k.created = 1690000000;

    auto text = boost::json::serialize(auth::to_json(k));
    CHECK(text.find(k.secret_sha256) == std::string::npos);
    CHECK(text.find("sha256") == std::string::npos);
    auto json = auth::to_json(k);
    CHECK(json.at("id").as_string() == k.id);
    CHECK(json.at("object") == "api_key");
    CHECK(json.at("account") == "acme");
    CHECK(json.at("models").at(0) == "gpt-4o*");
    CHECK(json.at("cidrs").at(0) == "10.0.0.0/8");
    CHECK(json.at("expires") == "2023-11-14T22:13:20Z");
    CHECK(json.at("revoked") == false);
    CHECK(json.at("revoked_at").is_null());
    CHECK(json.at("created") == 1690000000);

    k.revoked_at = 1695000000;
    CHECK(auth::to_json(k).at("revoked") == true);
}
