#include <sluice/config/suggest.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <string_view>
#include <vector>

using namespace sluice::config;

TEST_CASE("edit_distance counts inserts, deletes, substitutions and swaps, ignoring case", "[config]") {
    CHECK(edit_distance("base_url", "base_url") == 0);
    CHECK(edit_distance("base_ur", "base_url") == 1);
    CHECK(edit_distance("basee_url", "base_url") == 1);
    CHECK(edit_distance("base_urk", "base_url") == 1);
    CHECK(edit_distance("modle", "model") == 1); // a swap is one edit
    CHECK(edit_distance("Listen", "listen") == 0);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("nearest_name suggests a close name and nothing for a far one", "[config]") {
    constexpr std::array<std::string_view, 4> keys{"name", "plugin", "base_url", "api_key"};
    SECTION("a typo finds its key") {
        CHECK(nearest_name("base_ur", keys) == "base_url");
        CHECK(nearest_name("plugn", keys) == "plugin");
        CHECK(nearest_name("apikey", keys) == "api_key");
    }
    SECTION("an unrelated word finds nothing") {
        CHECK_FALSE(nearest_name("colour", keys).has_value());
        CHECK_FALSE(nearest_name("x", keys).has_value());
    }
    SECTION("the nearest wins, and a tie goes to the first candidate") {
        std::vector<std::string> names{"openai", "openai2", "opena"};
        CHECK(nearest_name("openai_", names) == "openai");
        std::vector<std::string> tie{"ab1", "ab2"};
        CHECK(nearest_name("ab", tie) == "ab1");
    }
    SECTION("did_you_mean phrases it, or says nothing") {
        CHECK(did_you_mean("base_ur", keys) == ", did you mean 'base_url'?");
        CHECK(did_you_mean("colour", keys).empty());
    }
    SECTION("joined_names lists names for a message") {
        CHECK(joined_names(keys) == "name, plugin, base_url, api_key");
    }
}
