#include <sluice/config/error.hpp>

#include <catch2/catch.hpp>

using sluice::config::config_error;

TEST_CASE("config_error reads FILE:LINE:COL: KEY: MESSAGE and keeps each part", "[config]") {
    SECTION("every part known") {
        config_error e("gw.yaml", 14, 5, "providers[0].base_ur", "unknown key 'base_ur'");
        CHECK(std::string(e.what()) == "gw.yaml:14:5: providers[0].base_ur: unknown key 'base_ur'");
        CHECK(e.file() == "gw.yaml");
        CHECK(e.line() == 14);
        CHECK(e.column() == 5);
        CHECK(e.key() == "providers[0].base_ur");
        CHECK(e.message() == "unknown key 'base_ur'");
    }
    SECTION("no key") {
        config_error e("gw.yaml", 3, 7, "", "invalid YAML: illegal map value");
        CHECK(std::string(e.what()) == "gw.yaml:3:7: invalid YAML: illegal map value");
    }
    SECTION("no line: the location is the file alone") {
        config_error e("missing.yaml", 0, 0, "", "no such file");
        CHECK(std::string(e.what()) == "missing.yaml: no such file");
    }
    SECTION("a line without a column") {
        config_error e("gw.yaml", 2, 0, "threads", "bad");
        CHECK(std::string(e.what()) == "gw.yaml:2: threads: bad");
    }
    SECTION("it is a std::runtime_error") {
        const std::runtime_error& base = config_error("f", 1, 1, "k", "m");
        CHECK(std::string(base.what()) == "f:1:1: k: m");
    }
}
