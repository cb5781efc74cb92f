#include <sluice/plugin/abi.hpp>

#include <catch2/catch.hpp>

#include <tuple>

using sluice::plugin::abi_compatible;
using sluice::plugin::abi_version;

TEST_CASE("a host accepts its own major with a minor no newer than its own", "[plugin][abi]") {
    auto [host_major, host_minor, plugin_major, plugin_minor, accepted] =
        GENERATE(table<unsigned, unsigned, unsigned, unsigned, bool>({
            {1, 0, 1, 0, true},  // the same
            {1, 3, 1, 0, true},  // an older minor: the host ignores what the plugin lacks
            {1, 3, 1, 3, true},
            {1, 3, 1, 4, false}, // a newer minor: the plugin may rely on what the host lacks
            {1, 0, 2, 0, false}, // another major: vtables differ
            {2, 0, 1, 0, false},
            {2, 5, 1, 9, false},
        }));
    CAPTURE(host_major, host_minor, plugin_major, plugin_minor);
    CHECK(abi_compatible(abi_version{host_major, host_minor}, abi_version{plugin_major, plugin_minor}) == accepted);
}

TEST_CASE("the host ABI is the one the header macros state", "[plugin][abi]") {
    STATIC_REQUIRE(sluice::plugin::host_abi.major == SLUICE_PLUGIN_ABI_MAJOR);
    STATIC_REQUIRE(sluice::plugin::host_abi.minor == SLUICE_PLUGIN_ABI_MINOR);
    CHECK(sluice::plugin::to_string(abi_version{1, 12}) == "1.12");
}
