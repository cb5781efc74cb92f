#include <sluice/metering/sinks.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

using namespace sluice::metering;
using namespace metering_test;

namespace {

std::vector<std::string> event_payloads(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back(to_json(make_event("req-" + std::to_string(i), std::uint64_t(i))));
    return out;
}

// A usage_sink that is not a sink: what a team writes for its own billing system.
struct counting_sink {
    std::vector<std::string>* seen;
    std::string name() const { return "counting"; }
    bool deliver(std::span<const std::string> payloads) {
        seen->insert(seen->end(), payloads.begin(), payloads.end());
        return true;
    }
};
static_assert(usage_sink<counting_sink>);
static_assert(usage_sink<jsonl_file_sink>);
static_assert(usage_sink<redis_stream_sink>);

} // namespace

TEST_CASE("sink URLs name a file or a redis stream, and other schemes are refused", "[metering][sinks]") {
    SECTION("file URLs") {
        auto rel = parse_file_url("file://./var/usage.jsonl");
        REQUIRE(rel);
        CHECK(*rel == fs::path("var/usage.jsonl"));
        auto abs = parse_file_url("file:///var/lib/sluice/usage.jsonl");
        REQUIRE(abs);
        CHECK(*abs == fs::path("/var/lib/sluice/usage.jsonl"));
        auto spaced = parse_file_url("file:///tmp/my%20usage.jsonl");
        REQUIRE(spaced);
        CHECK(*spaced == fs::path("/tmp/my usage.jsonl"));
        CHECK_FALSE(parse_file_url("file://"));
        CHECK_FALSE(parse_file_url("file:///var/lib/"));
    }
    SECTION("redis URLs") {
        auto r = parse_redis_url("redis://127.0.0.1:6379/usage");
        REQUIRE(r);
        CHECK(r->host == "127.0.0.1");
        CHECK(r->port == 6379);
        CHECK(r->stream == "usage");
        CHECK(r->password.empty());

        auto auth = parse_redis_url("redis://:s%40cret@cache.internal/billing:events");
        REQUIRE(auth);
        CHECK(auth->host == "cache.internal");
        CHECK(auth->port == 6379);
        CHECK(auth->password == "s@cret");
        CHECK(auth->username.empty());
        CHECK(auth->stream == "billing:events");

        auto v6 = parse_redis_url("redis://[::1]:7000/s");
        REQUIRE(v6);
        CHECK(v6->host == "::1");
        CHECK(v6->port == 7000);

        CHECK_FALSE(parse_redis_url("redis://h:0/s"));
        CHECK_FALSE(parse_redis_url("redis://h:99999/s"));
        CHECK_FALSE(parse_redis_url("redis://h:63x/s"));
        CHECK_FALSE(parse_redis_url("redis:///s"));
        auto no_stream = parse_redis_url("redis://h:6379");
        REQUIRE_FALSE(no_stream);
        CHECK(no_stream.error().message.find("stream") != std::string::npos);
    }
    SECTION("make_sink") {
        auto f = make_sink("file:///tmp/x/usage.jsonl");
        REQUIRE(f);
        CHECK((*f)->name() == "file:/tmp/x/usage.jsonl");
        auto r = make_sink("redis://127.0.0.1:6390/usage");
        REQUIRE(r);
        CHECK((*r)->name() == "redis://127.0.0.1:6390/usage");

        auto kafka = make_sink("kafka://broker:9092/usage");
        REQUIRE_FALSE(kafka);
        CHECK(kafka.error().kind == sluice::core::error_kind::invalid_request);
        CHECK(kafka.error().message.find("unknown scheme 'kafka'") != std::string::npos);
        auto bare = make_sink("usage.jsonl");
        REQUIRE_FALSE(bare);
        CHECK(bare.error().message.find("no scheme") != std::string::npos);
        auto tls = make_sink("rediss://cache:6380/usage");
        REQUIRE_FALSE(tls);
        CHECK(tls.error().message.find("TLS") != std::string::npos);
    }
}

TEST_CASE("jsonl file sink appends one line per event, creating parent directories", "[metering][sinks]") {
    scratch_dir dir;
    const auto file = dir / "a/b/c/usage.jsonl";
    jsonl_file_sink s(file);
    const auto events = event_payloads(0, 5);
    CHECK(s.deliver(std::span(events).subspan(0, 3)));
    CHECK(s.deliver(std::span(events).subspan(3)));
    CHECK(read_lines(file) == events);
    CHECK(read_file(file).back() == '\n');

    SECTION("a line cut short by a crash is removed before the next append") {
        jsonl_file_sink fresh(file); // as after a restart
        {
            std::ofstream out(file, std::ios::app | std::ios::binary);
            out << R"({"request_id":"req-torn","acc)";
        }
        const auto more = event_payloads(5, 7);
        CHECK(fresh.deliver(more));
        auto want = events;
        want.insert(want.end(), more.begin(), more.end());
        CHECK(read_lines(file) == want);
    }
    SECTION("a rotated file is followed by a new one at the same path") {
        fs::rename(file, dir / "rotated.jsonl");
        const auto more = event_payloads(5, 6);
        CHECK(s.deliver(more));
        CHECK(read_lines(file) == more);
        CHECK(read_lines(dir / "rotated.jsonl") == events);
    }
}

TEST_CASE("jsonl file sink answers false while it cannot write, and recovers", "[metering][sinks]") {
    scratch_dir dir;
    std::ofstream(dir / "blocker") << "a file where a directory should be";
    jsonl_file_sink s(dir / "blocker/usage.jsonl");
    const auto events = event_payloads(0, 2);
    CHECK_FALSE(s.deliver(events));
    CHECK_FALSE(s.last_error().empty());
    fs::remove(dir / "blocker");
    CHECK(s.deliver(events));
    CHECK(read_lines(dir / "blocker/usage.jsonl") == events);
}

TEST_CASE("any usage_sink becomes a sink", "[metering][sinks]") {
    std::vector<std::string> seen;
    auto s = wrap_sink(counting_sink{&seen});
    const auto events = event_payloads(0, 3);
    CHECK(s->name() == "counting");
    CHECK(s->deliver(events));
    CHECK(seen == events);
}

#ifdef SLUICE_REDIS_SERVER

TEST_CASE("redis stream sink adds each event once, even when batches are replayed", "[metering][sinks][redis]") {
    scratch_dir dir;
    redis_server server(dir.path());
    redis_stream_sink s(redis_endpoint{"127.0.0.1", server.port(), "usage", {}, {}});
    const auto events = event_payloads(0, 100);
    for (std::size_t at = 0; at < events.size(); at += 30)
        REQUIRE(s.deliver(std::span(events).subspan(at, std::min<std::size_t>(30, events.size() - at))));

    redis_client c(server.port());
    CHECK(c.integer({"XLEN", "usage"}) == 100);
    REQUIRE(s.deliver(events)); // a replay after a crash
    REQUIRE(s.deliver(std::span(events).subspan(10, 5)));
    CHECK(c.integer({"XLEN", "usage"}) == 100);

    auto range = c.command({"XRANGE", "usage", "-", "+"});
    REQUIRE(range->type == REDIS_REPLY_ARRAY);
    REQUIRE(range->elements == 100);
    for (std::size_t i = 0; i < range->elements; ++i) {
        const redisReply* fields = range->element[i]->element[1];
        REQUIRE(fields->elements == 4);
        CHECK(std::string(fields->element[0]->str) == "request_id");
        CHECK(std::string(fields->element[1]->str) == "req-" + std::to_string(i));
        CHECK(std::string(fields->element[2]->str) == "event");
        CHECK(std::string(fields->element[3]->str, fields->element[3]->len) == events[i]);
    }
    const auto ttl = c.integer({"TTL", "usage:seen:req-0"});
    CHECK(ttl > 0);
    CHECK(ttl <= 7 * 24 * 3600);
}

TEST_CASE("redis stream sink is down while no server listens and reconnects when one does",
          "[metering][sinks][redis]") {
    scratch_dir dir;
    const unsigned port = free_port();
    redis_sink_options opt;
    opt.connect_timeout = std::chrono::milliseconds(1000);
    redis_stream_sink s(redis_endpoint{"127.0.0.1", port, "usage", {}, {}}, opt);
    const auto events = event_payloads(0, 3);
    CHECK_FALSE(s.deliver(events));
    CHECK_FALSE(s.last_error().empty());

    redis_server server(dir.path(), port);
    REQUIRE(s.deliver(std::span(events).subspan(0, 1)));
    server.kill(SIGKILL);
    CHECK_FALSE(s.deliver(std::span(events).subspan(1, 1)));
    server.start();
    REQUIRE(s.deliver(std::span(events).subspan(1)));
    redis_client c(server.port());
    CHECK(c.integer({"XLEN", "usage"}) == 2); // the first went down with the unsaved server
}

#endif
