#include <sluice/config/load.hpp>

#include <catch2/catch.hpp>

using namespace sluice;
using namespace std::chrono_literals;

namespace {

config::gateway_config load(std::string_view yaml, std::filesystem::path base = "/etc/sluice") {
    return config::load_string(yaml, "gateway.yaml", [](std::string_view) -> std::optional<std::string> { return std::nullopt; }, std::move(base));
}

} // namespace

TEST_CASE("jobs config: without the section the file store sits beside the config") {
    auto c = load("");
    CHECK(c.jobs.store == config::jobs_settings::store_kind::file);
    CHECK(c.jobs.path == "/etc/sluice/var/jobs.jsonl");
    CHECK(c.jobs.ttl == 2h);
    CHECK(c.jobs.poll_interval == 2s);
    // The embedded default has no folder: the working directory's var/, like the key store.
    CHECK(load("", {}).jobs.path == "var/jobs.jsonl");
}

TEST_CASE("jobs config: every key is read") {
    auto c = load("jobs: { store: redis, redis: \"redis://127.0.0.1:6380/2\", ttl: 30m, poll_interval: 500ms, "
                  "give_up_after: 1m, path: data/j.jsonl }");
    CHECK(c.jobs.store == config::jobs_settings::store_kind::redis);
    CHECK(c.jobs.redis == "redis://127.0.0.1:6380/2");
    CHECK(c.jobs.ttl == 30min);
    CHECK(c.jobs.poll_interval == 500ms);
    CHECK(c.jobs.give_up_after == 1min);
    CHECK(c.jobs.path == "/etc/sluice/data/j.jsonl");
    CHECK(load("jobs: { store: memory }").jobs.store == config::jobs_settings::store_kind::memory);
}

TEST_CASE("jobs config: mistakes name the key") {
    CHECK_THROWS_WITH(load("jobs: { store: disk }"), Catch::Contains("expected memory, file or redis"));
    CHECK_THROWS_WITH(load("jobs: { store: redis }"), Catch::Contains("needs jobs.redis"));
    CHECK_THROWS_WITH(load("jobs: { redis: localhost }"), Catch::Contains("redis://"));
    CHECK_THROWS_WITH(load("jobs: { ttl: 2 hours }"), Catch::Contains("duration"));
    CHECK_THROWS_WITH(load("jobs: { tll: 2h }"), Catch::Contains("ttl"));
}

TEST_CASE("jobs config: price.video_second prices each second of video as an output unit") {
    constexpr std::string_view models = R"(
providers: [{ name: p, plugin: openai, base_url: "http://127.0.0.1:9/v1" }]
models: [{ id: v, provider: p, endpoints: [video], price: { video_second: 0.1 } }]
)";
    auto c = load(models);
    REQUIRE(c.models.at(0).price);
    CHECK(c.models.at(0).price->output == Approx(0.1e6));
    CHECK(c.models.at(0).price->input == 0);
    std::string both(models);
    both.replace(both.find("video_second: 0.1"), 17, "video_second: 0.1, output: 2");
    CHECK_THROWS_WITH(load(both), Catch::Contains("give either video_second or output"));
}
