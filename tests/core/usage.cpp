#include <sluice/core/usage.hpp>

#include <catch2/catch.hpp>

using namespace sluice::core;

TEST_CASE("usage adds up by class and counts prompt tokens across cache classes", "[core][usage]") {
    usage a{100, 20, 300, 40, 5};
    usage b{1, 2, 3, 4, 1};
    usage sum = a + b;
    CHECK(sum == usage{101, 22, 303, 44, 6});
    CHECK(sum.prompt() == 101 + 303 + 44);
    CHECK(sum.total() == 101 + 303 + 44 + 22);
    a += b;
    CHECK(a == sum);
    CHECK(usage{}.empty());
    CHECK_FALSE(b.empty());
}

TEST_CASE("cost prices each token class at its own rate per million", "[core][usage]") {
    const price p{3.0, 15.0, 0.30, {}};

    SECTION("plain input and output") {
        auto c = cost_of(usage{1'000'000, 2'000'000, 0, 0, 0}, p);
        CHECK(c.input == Approx(3.0));
        CHECK(c.output == Approx(30.0));
        CHECK(c.total() == Approx(33.0));
    }
    SECTION("cache reads are priced at cached_input") {
        auto c = cost_of(usage{0, 0, 500'000, 0, 0}, p);
        CHECK(c.cache_read == Approx(0.15));
        CHECK(c.input == 0.0);
        CHECK(c.total() == Approx(0.15));
    }
    SECTION("cache writes are priced at input when the catalog gives no write price") {
        auto c = cost_of(usage{0, 0, 0, 1'000'000, 0}, p);
        CHECK(c.cache_write == Approx(3.0));
    }
    SECTION("cache writes are priced at cache_write when the catalog gives one") {
        price anthropic = p;
        anthropic.cache_write = 3.75;
        auto c = cost_of(usage{0, 0, 0, 1'000'000, 0}, anthropic);
        CHECK(c.cache_write == Approx(3.75));
    }
    SECTION("reasoning tokens are part of output, never billed twice") {
        auto with = cost_of(usage{0, 1000, 0, 0, 800}, p);
        auto without = cost_of(usage{0, 1000, 0, 0, 0}, p);
        CHECK(with.total() == Approx(without.total()));
        CHECK(with.output == Approx(0.015));
    }
    SECTION("a request mixing every class") {
        price q{2.0, 8.0, 0.5, 2.5};
        auto c = cost_of(usage{1000, 500, 4000, 2000, 100}, q);
        CHECK(c.total() == Approx((1000 * 2.0 + 500 * 8.0 + 4000 * 0.5 + 2000 * 2.5) / 1e6));
    }
}

TEST_CASE("cost is computable at compile time and sums", "[core][usage]") {
    constexpr auto c = cost_of(usage{1'000'000, 0, 0, 0, 0}, price{1.0, 0, 0, {}});
    static_assert(c.input == 1.0);
    cost total;
    total += c;
    total += c;
    CHECK(total.total() == Approx(2.0));
}
