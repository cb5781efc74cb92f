#include <sluice/config/units.hpp>

#include <catch2/catch.hpp>

using namespace sluice::config;
using namespace std::chrono_literals;

TEST_CASE("parse_duration reads ms, s, m, h and bare seconds", "[config]") {
    CHECK(parse_duration("500ms") == 500ms);
    CHECK(parse_duration("10s") == 10s);
    CHECK(parse_duration("2m") == 2min);
    CHECK(parse_duration("1h") == 1h);
    CHECK(parse_duration("30") == 30s);
    CHECK(parse_duration("0") == 0ms);
}

TEST_CASE("parse_duration refuses what it would have to guess at", "[config]") {
    auto bad = GENERATE(as<std::string>{}, "", "s", "1.5s", "10 s", " 10s", "-1s", "+1s", "10sec", "10S",
                        "1m30s", "10d", "99999999999999999999", "9999999999999999h");
    INFO(bad);
    CHECK_FALSE(parse_duration(bad).has_value());
}

TEST_CASE("parse_size reads decimal and binary units and bare bytes", "[config]") {
    CHECK(parse_size("65536") == 65536u);
    CHECK(parse_size("512B") == 512u);
    CHECK(parse_size("100KB") == 100'000u);
    CHECK(parse_size("1MB") == 1'000'000u);
    CHECK(parse_size("2GB") == 2'000'000'000u);
    CHECK(parse_size("512KiB") == 512u * 1024);
    CHECK(parse_size("16MiB") == 16u << 20);
    CHECK(parse_size("1GiB") == 1ull << 30);
}

TEST_CASE("parse_size refuses unknown units, fractions and overflow", "[config]") {
    auto bad = GENERATE(as<std::string>{}, "", "MiB", "16M", "16mib", "16 MiB", "1.5MiB", "-1", "1TB",
                        "20000000000GiB", "99999999999999999999");
    INFO(bad);
    CHECK_FALSE(parse_size(bad).has_value());
}

TEST_CASE("format_duration and format_size give the shortest exact spelling", "[config]") {
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(2min) == "2m");
    CHECK(format_duration(1h) == "1h");
    CHECK(format_duration(1500ms) == "1500ms");
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_size(16u << 20) == "16MiB");
    CHECK(format_size(1000) == "1000B");
    CHECK(format_size(1ull << 30) == "1GiB");
    CHECK(format_size(3 * 1024) == "3KiB");
    SECTION("what they write parses back to the same value") {
        CHECK(parse_duration(format_duration(1500ms)) == 1500ms);
        CHECK(parse_size(format_size(3 * 1024)) == 3u * 1024);
    }
}
