#include <sluice/observe/metrics.hpp>
#include <sluice/observe/gateway_metrics.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace sluice;
using namespace sluice::observe;

namespace {

bool has_line(std::string_view text, std::string_view line) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        if (text.substr(pos, end - pos) == line) return true;
        pos = end + 1;
    }
    return false;
}

bool has_prefix_line(std::string_view text, std::string_view prefix) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        if (text.substr(pos, end - pos).starts_with(prefix)) return true;
        pos = end + 1;
    }
    return false;
}

std::string number(double v) {
    std::string s;
    detail::append_number(s, v);
    return s;
}

} // namespace

TEST_CASE("a small registry renders the exact text exposition format", "[observe][metrics]") {
    registry reg;
    auto& requests = reg.add_counter("app_requests_total", "Requests served.\nBy method and path, C:\\ too.",
                                     {"method", "path"});
    requests.labels({"POST", "/"}).inc();
    requests.labels({"GET", "C:\\dir\nx"}).inc();
    requests.labels({"GET", "/a\"b"}).inc(3);
    auto& spend = reg.add_counter("app_spend_usd_total", "Money spent.");
    spend.get().add(0.5);
    spend.get().add(0.25);
    reg.add_counter("app_errors_total", "Errors; none yet.");
    reg.add_counter("app_refusals_total", "Labelled, never used.", {"reason"});
    reg.add_gauge("app_temperature_celsius", "Current temperature.").get().set(-3.5);
    auto& latency = reg.add_histogram("app_latency_seconds", "Latency.", {"route"}, {0.125, 0.5, 1});
    auto& x = latency.labels({"/x"});
    for (double v : {0.0625, 0.125, 0.25, 2.0}) x.observe(v);

    const std::string expected =
        "# HELP app_requests_total Requests served.\\nBy method and path, C:\\\\ too.\n"
        "# TYPE app_requests_total counter\n"
        "app_requests_total{method=\"GET\",path=\"/a\\\"b\"} 3\n"
        "app_requests_total{method=\"GET\",path=\"C:\\\\dir\\nx\"} 1\n"
        "app_requests_total{method=\"POST\",path=\"/\"} 1\n"
        "# HELP app_spend_usd_total Money spent.\n"
        "# TYPE app_spend_usd_total counter\n"
        "app_spend_usd_total 0.75\n"
        "# HELP app_errors_total Errors; none yet.\n"
        "# TYPE app_errors_total counter\n"
        "app_errors_total 0\n"
        "# HELP app_refusals_total Labelled, never used.\n"
        "# TYPE app_refusals_total counter\n"
        "# HELP app_temperature_celsius Current temperature.\n"
        "# TYPE app_temperature_celsius gauge\n"
        "app_temperature_celsius -3.5\n"
        "# HELP app_latency_seconds Latency.\n"
        "# TYPE app_latency_seconds histogram\n"
        "app_latency_seconds_bucket{route=\"/x\",le=\"0.125\"} 2\n"
        "app_latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"
        "app_latency_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
        "app_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
        "app_latency_seconds_sum{route=\"/x\"} 2.4375\n"
        "app_latency_seconds_count{route=\"/x\"} 4\n";
    CHECK(reg.scrape() == expected);
    SECTION("a second scrape of the same state is byte-identical") { CHECK(reg.scrape() == expected); }
}

TEST_CASE("sample values use Prometheus's float text", "[observe][metrics]") {
    CHECK(number(0.01) == "0.01");
    CHECK(number(60) == "60");
    CHECK(number(2.5) == "2.5");
    CHECK(number(1e-5) == "1e-05");
    CHECK(number(-0.5) == "-0.5");
    CHECK(number(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(number(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(number(std::numeric_limits<double>::quiet_NaN()) == "NaN");

    registry reg;
    auto& big = reg.add_counter("big_total", "Large whole counts stay exact.").get();
    big.inc(9'007'199'254'740'993ull); // 2^53 + 1: a double would round it
    CHECK(has_line(reg.scrape(), "big_total 9007199254740993"));
}

TEST_CASE("histogram buckets are cumulative, le is inclusive, and NaN is dropped", "[observe][metrics]") {
    registry reg;
    auto& h = reg.add_histogram("h_seconds", "h", {}, {1, 2, 4}).get();
    for (double v : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, 100.0, -1.0}) h.observe(v);
    h.observe(std::numeric_limits<double>::quiet_NaN());

    CHECK(h.bucket_count(0) == 3); // -1, 0.5, 1
    CHECK(h.bucket_count(1) == 2); // 1.5, 2
    CHECK(h.bucket_count(2) == 2); // 3, 4
    CHECK(h.bucket_count(3) == 2); // 4.5, 100
    CHECK(h.count() == 9);
    CHECK(h.sum() == 115.5); // every value is exact in binary

    auto text = reg.scrape();
    CHECK(has_line(text, "h_seconds_bucket{le=\"1\"} 3"));
    CHECK(has_line(text, "h_seconds_bucket{le=\"2\"} 5"));
    CHECK(has_line(text, "h_seconds_bucket{le=\"4\"} 7"));
    CHECK(has_line(text, "h_seconds_bucket{le=\"+Inf\"} 9"));
    CHECK(has_line(text, "h_seconds_sum 115.5"));
    CHECK(has_line(text, "h_seconds_count 9"));
}

TEST_CASE("callback metrics are read at each scrape and render nothing until set", "[observe][metrics]") {
    registry reg;
    std::atomic<double> backlog{0};
    auto& g = reg.add_callback_gauge("spool_backlog", "Backlog.");
    auto& c = reg.add_callback_counter("store_errors_total", "Errors.", [] { return 7.0; });

    auto before = reg.scrape();
    CHECK(has_line(before, "# TYPE spool_backlog gauge"));
    CHECK_FALSE(has_prefix_line(before, "spool_backlog "));
    CHECK(has_line(before, "# TYPE store_errors_total counter"));
    CHECK(has_line(before, "store_errors_total 7"));

    g.set([&] { return backlog.load(); });
    backlog = 12;
    CHECK(has_line(reg.scrape(), "spool_backlog 12"));
    backlog = 3;
    CHECK(has_line(reg.scrape(), "spool_backlog 3"));

    SECTION("a source that throws loses its sample, not the scrape") {
        c.set([]() -> double { throw std::runtime_error("store gone"); });
        auto text = reg.scrape();
        CHECK(has_line(text, "# TYPE store_errors_total counter"));
        CHECK_FALSE(has_prefix_line(text, "store_errors_total "));
        CHECK(has_line(text, "spool_backlog 3"));
    }
    SECTION("an empty source clears the sample") {
        g.set({});
        CHECK_FALSE(has_prefix_line(reg.scrape(), "spool_backlog "));
    }
}

TEST_CASE("increments from four threads sum exactly", "[observe][metrics]") {
    registry reg;
    auto& counters = reg.add_counter("hits_total", "Hits.", {"worker_group"});
    auto& g = reg.add_gauge("busy", "Busy.").get();
    auto& h = reg.add_histogram("work_seconds", "Work.", {}, {0.5}).get();
    auto& money = reg.add_counter("money_total", "Money.").get();

    constexpr int threads = 4;
    constexpr int per_thread = 50'000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            // Every thread looks the same child up itself: concurrent first lookups make one child.
            auto& shared = counters.labels({"all"});
            auto& mine = counters.labels({std::to_string(t)});
            for (int i = 0; i < per_thread; ++i) {
                shared.inc();
                mine.inc(2);
                auto held = in_flight(g);
                h.observe(i % 2 ? 0.25 : 1.0);
                money.add(0.5); // exact in binary, so the sum is exact too
            }
        });
    // Scrapes run alongside the writers and the first lookups, as /metrics does in production.
    std::atomic<bool> done{false};
    std::size_t scrapes = 0;
    std::thread scraper([&] {
        do {
            auto text = reg.scrape();
            scrapes += text.empty() ? 0 : 1;
        } while (!done.load());
    });
    for (auto& th : pool) th.join();
    done = true;
    scraper.join();
    CHECK(scrapes > 0);

    CHECK(counters.size() == threads + 1);
    CHECK(counters.labels({"all"}).value() == double(threads * per_thread));
    for (int t = 0; t < threads; ++t) CHECK(counters.labels({std::to_string(t)}).value() == 2.0 * per_thread);
    CHECK(g.value() == 0.0);
    CHECK(h.count() == std::uint64_t(threads * per_thread));
    CHECK(h.bucket_count(0) == std::uint64_t(threads * per_thread / 2));
    CHECK(h.sum() == (0.25 + 1.0) * threads * per_thread / 2);
    CHECK(money.value() == 0.5 * threads * per_thread);
    CHECK(has_line(reg.scrape(), "hits_total{worker_group=\"all\"} 200000"));
}

TEST_CASE("a child keeps its address however many siblings come after it", "[observe][metrics]") {
    registry reg;
    auto& f = reg.add_counter("series_total", "Series.", {"id"});
    counter* first = &f.labels({"first"});
    for (int i = 0; i < 1000; ++i) f.labels({std::to_string(i)}).inc();
    CHECK(&f.labels({"first"}) == first);
}

TEST_CASE("label sets past the child limit fold into one \"other\" child", "[observe][metrics]") {
    registry reg;
    auto& f = reg.add_counter("by_model_total", "By model.", {"model", "kind"});
    f.set_child_limit(2);
    f.labels({"a", "x"}).inc();
    f.labels({"b", "x"}).inc();
    f.labels({"c", "x"}).inc();
    f.labels({"d", "y"}).inc(2);
    f.labels({"a", "x"}).inc(); // known sets still find their own child

    auto text = reg.scrape();
    CHECK(has_line(text, "by_model_total{model=\"a\",kind=\"x\"} 2"));
    CHECK(has_line(text, "by_model_total{model=\"b\",kind=\"x\"} 1"));
    CHECK(has_line(text, "by_model_total{model=\"other\",kind=\"other\"} 3"));
    CHECK(f.size() == 3);
}

TEST_CASE("mistakes in registration and lookup are refused", "[observe][metrics]") {
    registry reg;
    reg.add_counter("taken_total", "Taken.", {"a"});
    CHECK_THROWS_AS(reg.add_gauge("taken_total", "Again."), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_counter("requests", "No _total."), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_callback_counter("errors", "No _total."), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_gauge("9lives", "Bad name."), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_gauge("has-dash", "Bad name."), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_gauge("g1", "Bad label.", {"__reserved"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_gauge("g2", "Bad label.", {"a:b"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_gauge("g3", "Twice.", {"a", "a"}), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_histogram("h1", "le is taken.", {"le"}, {1}), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_histogram("h2", "Unsorted.", {}, {2, 1}), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_histogram("h3", "Repeated.", {}, {1, 1}), std::invalid_argument);
    CHECK(reg.size() == 1);

    auto& f = reg.add_counter("two_total", "Two labels.", {"a", "b"});
    CHECK_THROWS_AS(f.labels({"only one"}), std::invalid_argument);
    CHECK_THROWS_AS(f.get(), std::invalid_argument);
    CHECK(f.size() == 0);
}

TEST_CASE("an in_flight guard holds one unit until it goes, and moving hands it over", "[observe][metrics]") {
    gauge g;
    {
        in_flight a(g);
        CHECK(g.value() == 1);
        in_flight b = std::move(a);
        CHECK_FALSE(a.held());
        CHECK(b.held());
        CHECK(g.value() == 1);
        in_flight c(g);
        CHECK(g.value() == 2);
        c = std::move(b); // c's own unit goes back, b's comes over
        CHECK(g.value() == 1);
        c.release();
        c.release();
        CHECK(g.value() == 0);
        in_flight d(g);
    }
    CHECK(g.value() == 0);
}

TEST_CASE("status codes map to their class", "[observe][gateway]") {
    CHECK(status_class(200) == "2xx");
    CHECK(status_class(204) == "2xx");
    CHECK(status_class(429) == "4xx");
    CHECK(status_class(404) == "4xx");
    CHECK(status_class(502) == "5xx");
    CHECK(status_class(529) == "5xx");
    CHECK(status_class(0) == "5xx");
    CHECK(status_class(700) == "5xx");
}

TEST_CASE("the gateway set lists every family with HELP and TYPE before any request", "[observe][gateway]") {
    registry reg;
    gateway_metrics m(reg);
    auto text = m.scrape();

    struct family_line {
        std::string_view name, type;
    };
    for (auto [name, type] : {family_line{"sluice_requests_total", "counter"},
                              family_line{"sluice_throttled_total", "counter"},
                              family_line{"gen_ai_server_request_duration_seconds", "histogram"},
                              family_line{"gen_ai_server_time_to_first_token_seconds", "histogram"},
                              family_line{"gen_ai_client_token_usage_total", "counter"},
                              family_line{"sluice_cost_usd_total", "counter"},
                              family_line{"sluice_upstream_errors_total", "counter"},
                              family_line{"sluice_requests_in_flight", "gauge"},
                              family_line{"sluice_open_streams", "gauge"},
                              family_line{"sluice_metering_spool_backlog", "gauge"},
                              family_line{"sluice_limit_store_errors_total", "counter"},
                              family_line{"sluice_auth_failures_total", "counter"}}) {
        INFO(name);
        CHECK(has_prefix_line(text, "# HELP " + std::string(name) + " "));
        CHECK(has_line(text, "# TYPE " + std::string(name) + " " + std::string(type)));
    }
    CHECK(has_line(text, "sluice_throttled_total{reason=\"rate_limit\"} 0"));
    CHECK(has_line(text, "sluice_throttled_total{reason=\"spend_cap\"} 0"));
    CHECK(has_line(text, "sluice_throttled_total{reason=\"store_down\"} 0"));
    CHECK(has_line(text, "sluice_requests_in_flight 0"));
    CHECK(has_line(text, "sluice_open_streams 0"));
    CHECK_FALSE(has_prefix_line(text, "sluice_requests_total{"));
}

TEST_CASE("each gateway event lands in its own series", "[observe][gateway]") {
    registry reg;
    gateway_metrics m(reg);
    using namespace std::chrono_literals;

    {
        auto request = m.track_request();
        auto stream = m.track_stream();
        auto text = m.scrape();
        CHECK(has_line(text, "sluice_requests_in_flight 1"));
        CHECK(has_line(text, "sluice_open_streams 1"));

        m.first_token("llama-3", 40ms);
        m.tokens("llama-3", core::usage{100, 20, 300, 8, 5});
        m.cost("llama-3", core::cost_of(core::usage{1'000'000, 0, 0, 0, 0}, core::price{0.5, 1.5, 0.25, {}}));
        m.request_finished("llama-3", "chat_completions", 200, 1500ms);
    }
    m.request_finished("llama-3", "chat_completions", 429, 2ms);
    m.request_finished("llama-3", "messages", 502, 30s);
    m.throttled(throttle_reason::rate_limit);
    m.throttled(throttle_reason::rate_limit);
    m.throttled(throttle_reason::spend_cap);
    m.upstream_error("anthropic", core::error_kind::overloaded);
    m.upstream_error("openai", "connect");
    m.auth_failure("invalid_api_key");
    m.set_spool_backlog([] { return 42.0; });
    m.set_limit_store_errors([] { return 3.0; });

    auto text = m.scrape();
    CHECK(has_line(text, "sluice_requests_in_flight 0"));
    CHECK(has_line(text, "sluice_open_streams 0"));
    CHECK(has_line(text, "sluice_requests_total{model=\"llama-3\",endpoint=\"chat_completions\",status_class=\"2xx\"} 1"));
    CHECK(has_line(text, "sluice_requests_total{model=\"llama-3\",endpoint=\"chat_completions\",status_class=\"4xx\"} 1"));
    CHECK(has_line(text, "sluice_requests_total{model=\"llama-3\",endpoint=\"messages\",status_class=\"5xx\"} 1"));
    CHECK(has_line(text, "sluice_throttled_total{reason=\"rate_limit\"} 2"));
    CHECK(has_line(text, "sluice_throttled_total{reason=\"spend_cap\"} 1"));
    CHECK(has_line(text, "sluice_throttled_total{reason=\"store_down\"} 0"));

    // 2 ms, 1.5 s on chat_completions; 30 s on messages.
    CHECK(has_line(text, "gen_ai_server_request_duration_seconds_bucket{model=\"llama-3\",endpoint=\"chat_completions\",le=\"0.01\"} 1"));
    CHECK(has_line(text, "gen_ai_server_request_duration_seconds_bucket{model=\"llama-3\",endpoint=\"chat_completions\",le=\"1\"} 1"));
    CHECK(has_line(text, "gen_ai_server_request_duration_seconds_bucket{model=\"llama-3\",endpoint=\"chat_completions\",le=\"2.5\"} 2"));
    CHECK(has_line(text, "gen_ai_server_request_duration_seconds_bucket{model=\"llama-3\",endpoint=\"chat_completions\",le=\"60\"} 2"));
    CHECK(has_line(text, "gen_ai_server_request_duration_seconds_count{model=\"llama-3\",endpoint=\"chat_completions\"} 2"));
    CHECK(has_line(text, "gen_ai_server_request_duration_seconds_bucket{model=\"llama-3\",endpoint=\"messages\",le=\"20\"} 0"));
    CHECK(has_line(text, "gen_ai_server_request_duration_seconds_bucket{model=\"llama-3\",endpoint=\"messages\",le=\"30\"} 1"));
    CHECK(has_line(text, "gen_ai_server_request_duration_seconds_sum{model=\"llama-3\",endpoint=\"messages\"} 30"));

    CHECK(has_line(text, "gen_ai_server_time_to_first_token_seconds_bucket{model=\"llama-3\",le=\"0.025\"} 0"));
    CHECK(has_line(text, "gen_ai_server_time_to_first_token_seconds_bucket{model=\"llama-3\",le=\"0.05\"} 1"));
    CHECK(has_line(text, "gen_ai_server_time_to_first_token_seconds_count{model=\"llama-3\"} 1"));

    // usage{input 100, output 20, cache_read 300, cache_write 8, reasoning 5}
    CHECK(has_line(text, "gen_ai_client_token_usage_total{model=\"llama-3\",type=\"input\"} 108"));
    CHECK(has_line(text, "gen_ai_client_token_usage_total{model=\"llama-3\",type=\"cached\"} 300"));
    CHECK(has_line(text, "gen_ai_client_token_usage_total{model=\"llama-3\",type=\"output\"} 20"));
    CHECK(has_line(text, "gen_ai_client_token_usage_total{model=\"llama-3\",type=\"reasoning\"} 5"));
    CHECK(has_line(text, "sluice_cost_usd_total{model=\"llama-3\"} 0.5"));

    CHECK(has_line(text, "sluice_upstream_errors_total{provider=\"anthropic\",kind=\"overloaded\"} 1"));
    CHECK(has_line(text, "sluice_upstream_errors_total{provider=\"openai\",kind=\"connect\"} 1"));
    CHECK(has_line(text, "sluice_auth_failures_total{code=\"invalid_api_key\"} 1"));
    CHECK(has_line(text, "sluice_metering_spool_backlog 42"));
    CHECK(has_line(text, "sluice_limit_store_errors_total 3"));
}

TEST_CASE("gateway metrics share the registry with other families", "[observe][gateway]") {
    registry reg;
    reg.add_gauge("kernel_queue_depth", "Queued requests in the lm kernel.").get().set(4);
    gateway_metrics m(reg);
    CHECK(&m.registry() == &reg);
    auto text = m.scrape();
    CHECK(text.find("# HELP kernel_queue_depth") < text.find("# HELP sluice_requests_total"));
    CHECK(has_line(text, "kernel_queue_depth 4"));
    CHECK_THROWS_AS(gateway_metrics(reg), std::invalid_argument); // the names are taken
}
