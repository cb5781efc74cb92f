#include <sluice/limits/gcra.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace {

using namespace sluice::limits;
using namespace std::chrono_literals;
using sluice::core::error_kind;

using local_policy = gcra<local_store, manual_clock>;

// The local store never suspends, so a private io_context runs a call to its end at once.
template <class T>
T sync(net::awaitable<T> a) {
    net::io_context io;
    auto f = net::co_spawn(io, std::move(a), net::use_future);
    io.run();
    return f.get();
}

struct account {
    std::string id = "acme";
    rate own;
    rate model;
    spend_cap cap;

    admission ask(std::uint64_t tokens = 0, std::string_view model_id = "gpt-4o", bool with_model = true) const {
        admission a;
        a.account = id;
        a.model = model_id;
        a.account_rate = &own;
        a.model_rate = with_model && !model.unlimited() ? &model : nullptr;
        a.spend = &cap;
        a.tokens = tokens;
        return a;
    }
};

int admitted(local_policy& p, const admission& a, int tries) {
    int n = 0;
    for (int i = 0; i < tries; ++i) {
        auto d = sync(p.admit(a));
        if (d.admitted()) ++n;
    }
    return n;
}

} // namespace

TEST_CASE("a burst of exactly rpm requests passes and the bucket refills at rpm per minute", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.own.rpm = 60;
    auto a = acme.ask();

    CHECK(admitted(p, a, 60) == 60);
    auto refused = sync(p.admit(a));
    REQUIRE(refused.refused);
    CHECK(refused.refused->kind == error_kind::rate_limit);
    CHECK(refused.refused->code == "rate_limit_exceeded");
    CHECK_THAT(refused.refused->message, Catch::Contains("account acme: 60 requests per minute"));
    CHECK(refused.retry_after_seconds == Approx(1.0));
    CHECK_FALSE(refused.held.active());

    SECTION("one more each second") {
        clock.advance(999ms);
        CHECK(admitted(p, a, 1) == 0);
        clock.advance(1ms);
        CHECK(admitted(p, a, 3) == 1);
    }
    SECTION("whole again after a minute") {
        clock.advance(60s);
        CHECK(admitted(p, a, 100) == 60);
    }
    SECTION("steady traffic gets rpm per minute") {
        clock.advance(60s);
        int n = 0;
        for (int i = 0; i < 10 * 600; ++i) { // one try each 100 ms for ten minutes
            n += admitted(p, a, 1);
            clock.advance(100ms);
        }
        CHECK(n >= 60 + 600 - 1);
        CHECK(n <= 60 + 600);
    }
}

TEST_CASE("a limit that does not divide a minute still admits exactly its burst", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    for (std::uint64_t rpm : {1u, 7u, 13u, 997u}) {
        acme.id = "acme" + std::to_string(rpm);
        acme.own.rpm = rpm;
        CHECK(admitted(p, acme.ask(), int(rpm) + 5) == int(rpm));
    }
}

TEST_CASE("a per-model rate is enforced inside the account's", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.own.rpm = 10;
    acme.model.rpm = 3;

    CHECK(admitted(p, acme.ask(0, "gpt-4o"), 3) == 3);
    auto d = sync(p.admit(acme.ask(0, "gpt-4o")));
    REQUIRE(d.refused);
    CHECK_THAT(d.refused->message, Catch::Contains("account acme, model gpt-4o: 3 requests per minute"));
    CHECK(d.retry_after_seconds == Approx(20.0));

    // Refused tries reserved nothing in the account bucket: 7 of its 10 are left.
    CHECK(admitted(p, acme.ask(0, "gpt-4o"), 5) == 0);
    CHECK(admitted(p, acme.ask(0, "other", false), 20) == 7);
    auto last = sync(p.admit(acme.ask(0, "other", false)));
    REQUIRE(last.refused);
    CHECK_THAT(last.refused->message, Catch::Contains("account acme: 10 requests per minute"));
}

TEST_CASE("a refusal by any scope reserves nothing in the others", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.own.rpm = 100;
    acme.own.tpm = 1000;
    acme.model.tpm = 500;

    auto d = sync(p.admit(acme.ask(400)));
    REQUIRE(d.admitted());
    // 400 more would fit the account (800 of 1000) but not the model (800 of 500).
    auto no = sync(p.admit(acme.ask(400)));
    REQUIRE(no.refused);
    CHECK_THAT(no.refused->message, Catch::Contains("account acme, model gpt-4o: 500 tokens per minute"));
    // The account's tokens and requests were left alone: 600 tokens still pass elsewhere.
    auto other = sync(p.admit(acme.ask(600, "other", false)));
    CHECK(other.admitted());
    REQUIRE(other.tokens);
    CHECK(other.tokens->remaining == 0);
    REQUIRE(other.requests);
    CHECK(other.requests->remaining == 98);
}

TEST_CASE("tokens are reserved at the estimate and settled to the real count", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.own.tpm = 1000;

    auto first = sync(p.admit(acme.ask(600)));
    REQUIRE(first.admitted());
    REQUIRE(first.tokens);
    CHECK(first.tokens->remaining == 400);
    CHECK(first.held.tokens == 600);
    CHECK(first.held.account_tpm == 1000u);
    CHECK_FALSE(first.held.model_scope);
    CHECK_FALSE(sync(p.admit(acme.ask(600))).admitted());

    SECTION("settling down refunds the difference") {
        sync(p.settle(first.held, 100, 0.0));
        auto second = sync(p.admit(acme.ask(600)));
        REQUIRE(second.admitted());
        CHECK(second.tokens->remaining == 300);

        SECTION("settling up charges it") {
            sync(p.settle(second.held, 900, 0.0)); // 100 + 900 of 1000 used
            CHECK_FALSE(sync(p.admit(acme.ask(1))).admitted());
            clock.advance(6s); // 100 tokens come back
            CHECK(sync(p.admit(acme.ask(100))).admitted());
            CHECK_FALSE(sync(p.admit(acme.ask(1))).admitted());
        }
    }
    SECTION("settling at the estimate changes nothing") {
        sync(p.settle(first.held, 600, 0.0));
        CHECK(sync(p.admit(acme.ask(400))).admitted());
        CHECK_FALSE(sync(p.admit(acme.ask(1))).admitted());
    }
}

TEST_CASE("a request larger than a whole token limit is refused at once", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.own.tpm = 1000;
    acme.own.rpm = 10;

    auto d = sync(p.admit(acme.ask(1001)));
    REQUIRE(d.refused);
    CHECK(d.refused->kind == error_kind::rate_limit);
    CHECK_THAT(d.refused->message, Catch::Contains("request too large for account acme") &&
                                       Catch::Contains("1001 tokens requested"));
    CHECK(d.retry_after_seconds == 0);
    // Nothing was held: the whole limit is still there.
    CHECK(sync(p.admit(acme.ask(1000))).admitted());
}

TEST_CASE("the headers report the tightest window of each kind", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.own.rpm = 10;
    acme.own.tpm = 1000;
    acme.model.rpm = 5;

    auto d = sync(p.admit(acme.ask(100)));
    REQUIRE(d.admitted());
    REQUIRE(d.requests);
    CHECK(*d.requests == window{5, 4, 12.0}); // the model's: 60 s / 5 per request
    REQUIRE(d.tokens);
    CHECK(*d.tokens == window{1000, 900, 6.0});
    CHECK(d.held.model_scope);

    clock.advance(3s);
    auto next = sync(p.admit(acme.ask(100)));
    REQUIRE(next.requests);
    CHECK(next.requests->remaining == 3);
    CHECK(next.requests->reset_seconds == Approx(21.0));
    CHECK(next.tokens->remaining == 850);
    CHECK(next.tokens->reset_seconds == Approx(9.0));
}

TEST_CASE("a daily spend cap refuses until the next UTC day", "[limits][gcra][spend]") {
    manual_clock clock; // 2030-01-15 12:00 UTC
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.cap.daily_usd = 1.0;

    auto d = sync(p.admit(acme.ask()));
    REQUIRE(d.admitted());
    CHECK(d.held.spend);
    CHECK_FALSE(d.requests);
    sync(p.settle(d.held, 10, 0.6));
    auto e = sync(p.admit(acme.ask()));
    REQUIRE(e.admitted());
    sync(p.settle(e.held, 10, 0.4));

    auto no = sync(p.admit(acme.ask()));
    REQUIRE(no.refused);
    CHECK(no.refused->kind == error_kind::rate_limit);
    CHECK(no.refused->code == "insufficient_quota");
    CHECK_THAT(no.refused->message, Catch::Contains("account acme") && Catch::Contains("daily spend cap of 1.00 USD"));
    CHECK(no.retry_after_seconds == Approx(12 * 3600.0));

    clock.advance(12h - 1s);
    CHECK_FALSE(sync(p.admit(acme.ask())).admitted());
    clock.advance(1s);
    CHECK(sync(p.admit(acme.ask())).admitted());
}

TEST_CASE("a monthly spend cap refuses until the first of the next UTC month", "[limits][gcra][spend]") {
    manual_clock clock; // 2030-01-15 12:00 UTC
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.cap.daily_usd = 10.0;
    acme.cap.monthly_usd = 2.0;

    // 0.9 a day: the day cap never bites, the month's does on the third day.
    int days = 0;
    for (;; ++days) {
        auto d = sync(p.admit(acme.ask()));
        if (!d.admitted()) {
            CHECK(d.refused->code == "insufficient_quota");
            CHECK_THAT(d.refused->message, Catch::Contains("monthly spend cap of 2.00 USD"));
            auto to_feb = std::chrono::sys_days(std::chrono::year(2030) / 2 / 1) - std::chrono::floor<std::chrono::seconds>(clock.now());
            CHECK(d.retry_after_seconds == Approx(double(std::chrono::duration_cast<std::chrono::seconds>(to_feb).count())));
            break;
        }
        sync(p.settle(d.held, 0, 0.9));
        clock.advance(24h);
        REQUIRE(days < 10);
    }
    CHECK(days == 3);
    clock.set(std::chrono::sys_days(std::chrono::year(2030) / 2 / 1));
    CHECK(sync(p.admit(acme.ask())).admitted());
}

TEST_CASE("no limits and unlimited admit everything without headers", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account none;
    auto d = sync(p.admit(none.ask(1'000'000)));
    CHECK(d.admitted());
    CHECK_FALSE(d.requests);
    CHECK_FALSE(d.tokens);
    CHECK_FALSE(d.held.active());
    CHECK(p.store().size() == 0);

    unlimited u;
    auto e = sync(u.admit(none.ask(1'000'000)));
    CHECK(e.admitted());
    CHECK_FALSE(e.requests);
    CHECK(u.store_errors() == 0);
}

TEST_CASE("idle buckets leave no keys behind", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.own.rpm = 60;
    acme.own.tpm = 6000;
    CHECK(admitted(p, acme.ask(600), 5) == 5);
    CHECK(p.store().size() == 2);
    clock.advance(5s); // 5 requests take 5 s to refill, 3000 tokens take 30 s
    p.store().sweep(std::chrono::duration_cast<std::chrono::microseconds>(clock.now().time_since_epoch()).count());
    CHECK(p.store().size() == 1);
    clock.advance(25s);
    p.store().sweep(std::chrono::duration_cast<std::chrono::microseconds>(clock.now().time_since_epoch()).count());
    CHECK(p.store().size() == 0);
}

TEST_CASE("the local store admits exactly the limit from many threads", "[limits][gcra]") {
    manual_clock clock;
    local_policy p(local_store(), {}, clock);
    account acme;
    acme.own.rpm = 50;
    acme.own.tpm = 100'000;
    std::atomic<int> n{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 40; ++i) {
                auto d = sync(p.admit(acme.ask(10)));
                if (d.admitted()) ++n;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(n == 50);
}

TEST_CASE("UTC periods name their keys and roll at midnight and month end", "[limits][gcra]") {
    using namespace std::chrono;
    sys_seconds t = sys_days(year(2030) / 12 / 31) + 23h + 59min + 30s;
    CHECK(period::day_key(t) == "20301231");
    CHECK(period::month_key(t) == "203012");
    CHECK(period::seconds_to_next_day(t) == Approx(30.0));
    CHECK(period::seconds_to_next_month(t) == Approx(30.0));
    sys_seconds feb = sys_days(year(2028) / 2 / 28);
    CHECK(period::seconds_to_next_month(feb) == Approx(2 * 86400.0)); // a leap year
    CHECK(local_policy::account_key("acme", "rpm") == "{acme}:rpm");
    CHECK(local_policy::model_key("acme", "gpt-4o", "tpm") == "{acme}:m:gpt-4o:tpm");
}
