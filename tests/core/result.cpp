#include <sluice/core/result.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using sluice::core::error;
using sluice::core::error_kind;
using sluice::core::result;

namespace {

struct base {
    virtual ~base() = default;
};
struct derived final : base {};

result<int> parse_digit(char c) {
    if (c < '0' || c > '9') return error{error_kind::invalid_request, "not a digit", "c", {}};
    return c - '0';
}

} // namespace

TEST_CASE("a result holds a value or an error", "[plugin][result]") {
    auto ok = parse_digit('7');
    REQUIRE(ok);
    CHECK(*ok == 7);
    CHECK(ok.value_or(0) == 7);

    auto bad = parse_digit('x');
    REQUIRE_FALSE(bad);
    CHECK(bad.error().kind == error_kind::invalid_request);
    CHECK(bad.error().param == "c");
    CHECK(bad.value_or(-1) == -1);
}

TEST_CASE("a result converts a derived pointer to the base it holds", "[plugin][result]") {
    auto make = []() -> result<std::shared_ptr<base>> { return std::make_shared<derived>(); };
    auto r = make();
    REQUIRE(r);
    CHECK(dynamic_cast<derived*>(r->get()) != nullptr);
}

TEST_CASE("a move-only value and the error can be moved out", "[plugin][result]") {
    result<std::unique_ptr<int>> r = std::make_unique<int>(5);
    std::unique_ptr<int> p = std::move(r).value();
    CHECK(*p == 5);

    result<std::unique_ptr<int>> e = error{error_kind::timeout, "late", {}, {}};
    error taken = std::move(e).error();
    CHECK(taken.message == "late");
}

TEST_CASE("result<void> is success or an error", "[plugin][result]") {
    result<void> ok;
    CHECK(ok);
    result<void> bad = error{error_kind::not_found, "no weights", {}, {}};
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "no weights");
}

TEST_CASE("a result may carry an error type of its own", "[plugin][result]") {
    result<int, std::string> r = std::string("why");
    REQUIRE_FALSE(r);
    CHECK(r.error() == "why");
}
