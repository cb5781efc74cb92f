#include <sluice/config/listen.hpp>

#include <catch2/catch.hpp>

using namespace sluice::config;

TEST_CASE("parse_listen_address reads HOST:PORT with IPv6 in brackets", "[config]") {
    SECTION("IPv4") {
        auto a = parse_listen_address("127.0.0.1:8080");
        REQUIRE(a);
        CHECK(a->host == "127.0.0.1");
        CHECK(a->port == 8080);
        CHECK_FALSE(a->is_ipv6());
    }
    SECTION("a host name") { CHECK(parse_listen_address("localhost:80") == listen_address{"localhost", 80}); }
    SECTION("IPv6") {
        auto a = parse_listen_address("[::1]:8080");
        REQUIRE(a);
        CHECK(a->host == "::1");
        CHECK(a->is_ipv6());
        CHECK(a->to_string() == "[::1]:8080");
    }
    SECTION("port 0 and 65535 are the ends of the range") {
        CHECK(parse_listen_address("0.0.0.0:0")->port == 0);
        CHECK(parse_listen_address("0.0.0.0:65535")->port == 65535);
    }
    SECTION("to_string writes what it read") {
        CHECK(parse_listen_address("10.0.0.1:443")->to_string() == "10.0.0.1:443");
    }
}

TEST_CASE("parse_listen_address says what is wrong", "[config]") {
    auto why = [](std::string_view text) {
        std::string error;
        CHECK_FALSE(parse_listen_address(text, &error).has_value());
        return error;
    };
    CHECK(why("127.0.0.1:65536") == "the port must be a number from 0 to 65535");
    CHECK(why("127.0.0.1:-1") == "the port must be a number from 0 to 65535");
    CHECK(why("127.0.0.1:") == "the port must be a number from 0 to 65535");
    CHECK(why("127.0.0.1:http") == "the port must be a number from 0 to 65535");
    CHECK(why("8080") == "expected HOST:PORT, like 127.0.0.1:8080");
    CHECK_THAT(why(":8080"), Catch::StartsWith("the host is missing"));
    CHECK(why("::1:8080") == "write an IPv6 address in brackets, like [::1]:8080");
    CHECK(why("[::1:8080") == "an IPv6 address needs its closing ']'");
    CHECK(why("[::1]8080") == "expected ':PORT' after ']'");
    CHECK(why("[127.0.0.1]:80") == "only IPv6 addresses go in brackets");
    CHECK(why("my host:80") == "the host is not an address or a host name");
}
