#include <sluice/transport/server.hpp>
#include <sluice/transport/route_table.hpp>
#include <sluice/transport/sse.hpp>

#include "raw_client.hpp"

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <atomic>
#include <future>
#include <thread>

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace http = boost::beast::http;
using sluice::test::body_of;
using sluice::test::raw_client;
using sluice::transport::exchange;
using sluice::transport::server_options;

namespace {

server_options test_options() {
    server_options o;
    o.port = 0;
    o.threads = 2;
    return o;
}

/// A server on an ephemeral loopback port, run by its own thread for the length of a test.
struct running_server {
    sluice::transport::server srv;
    std::thread thread;

    running_server(server_options o, sluice::transport::request_handler h) : srv(std::move(o), std::move(h)) {
        srv.listen();
        thread = std::thread([this] { srv.run(); });
    }
    ~running_server() {
        srv.stop();
        thread.join();
    }
    std::uint16_t port() const { return srv.port(); }
};

net::awaitable<void> echo(exchange& ex) {
    co_await ex.respond_json(http::status::ok,
                             R"({"method":")" + std::string(ex.request().method_string()) + R"(","body_size":)" +
                                 std::to_string(ex.request().body().size()) + "}");
}

net::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    auto exec = co_await net::this_coro::executor;
    net::steady_timer t(exec, d);
    co_await t.async_wait(net::use_awaitable);
}

boost::json::value json_body(const std::string& response) { return boost::json::parse(body_of(response)); }

} // namespace

TEST_CASE("a request gets the handler's answer with a request id, echoed when the client sent one", "[transport]") {
    running_server s(test_options(), echo);
    raw_client c(s.port());

    SECTION("generated") {
        c.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
        auto r = c.read_response();
        CHECK(r.starts_with("HTTP/1.1 200"));
        CHECK(r.find("x-request-id: req_") != std::string::npos);
        CHECK(json_body(r).at("body_size").as_int64() == 5);
    }
    SECTION("echoed") {
        c.send("GET /x HTTP/1.1\r\nHost: a\r\nX-Request-Id: trace-42\r\n\r\n");
        auto r = c.read_response();
        CHECK(r.find("x-request-id: trace-42\r\n") != std::string::npos);
    }
}

TEST_CASE("keep-alive serves several requests on one connection, pipelined ones too", "[transport]") {
    running_server s(test_options(), echo);
    raw_client c(s.port());
    c.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(c.read_response().starts_with("HTTP/1.1 200"));
    c.send("GET /b HTTP/1.1\r\nHost: a\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(c.read_response().starts_with("HTTP/1.1 200"));
    CHECK(c.read_response().starts_with("HTTP/1.1 200"));
    c.send("GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(c.read_response().starts_with("HTTP/1.1 200"));
    CHECK(c.closed_by_peer());
}

TEST_CASE("a body over the limit is answered 413 in the OpenAI error shape and the connection closes",
          "[transport]") {
    auto o = test_options();
    o.body_limit = 1024;
    running_server s(o, echo);

    SECTION("declared by Content-Length, refused before the body is read") {
        raw_client c(s.port());
        c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n");
        auto r = c.read_response();
        CHECK(r.starts_with("HTTP/1.1 413"));
        auto err = json_body(r).at("error");
        CHECK(err.at("type") == "invalid_request_error");
        CHECK(std::string(err.at("message").as_string()).find("1024") != std::string::npos);
        CHECK(c.closed_by_peer());
    }
    SECTION("sent chunked, refused when it crosses the limit; Anthropic clients get Anthropic's shape") {
        raw_client c(s.port());
        c.send("POST /v1/messages HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
        std::string chunk(600, 'x');
        c.send("258\r\n" + chunk + "\r\n258\r\n" + chunk + "\r\n");
        auto r = c.read_response();
        CHECK(r.starts_with("HTTP/1.1 413"));
        CHECK(json_body(r).at("type") == "error");
        CHECK(json_body(r).at("error").at("type") == "request_too_large");
    }
}

TEST_CASE("chunked request bodies are reassembled", "[transport]") {
    running_server s(test_options(), echo);
    raw_client c(s.port());
    c.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    auto r = c.read_response();
    CHECK(r.starts_with("HTTP/1.1 200"));
    CHECK(json_body(r).at("body_size").as_int64() == 7);
}

TEST_CASE("Expect: 100-continue gets an interim 100 before the body is sent", "[transport]") {
    running_server s(test_options(), echo);
    raw_client c(s.port());
    c.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    CHECK(c.read_response().starts_with("HTTP/1.1 100 Continue"));
    c.send("body");
    auto r = c.read_response();
    CHECK(r.starts_with("HTTP/1.1 200"));
    CHECK(json_body(r).at("body_size").as_int64() == 4);
}

TEST_CASE("malformed requests get 400 with an error body, never a crash", "[transport]") {
    running_server s(test_options(), echo);
    auto bad = GENERATE(as<std::string>{}, "GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                        "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    raw_client c(s.port());
    c.send(bad);
    auto r = c.read_response();
    INFO(bad);
    CHECK(r.starts_with("HTTP/1.1 400"));
    CHECK(json_body(r).at("error").at("message").as_string().starts_with("malformed HTTP request"));
    CHECK(c.closed_by_peer());
}

TEST_CASE("oversized headers get 431", "[transport]") {
    auto o = test_options();
    o.header_limit = 1024;
    running_server s(o, echo);
    raw_client c(s.port());
    c.send("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(4000, 'y') + "\r\n\r\n");
    CHECK(c.read_response().starts_with("HTTP/1.1 431"));
}

TEST_CASE("a slow sender is cut off by the header timeout", "[transport]") {
    auto o = test_options();
    o.header_timeout = 300ms;
    running_server s(o, echo);
    raw_client c(s.port());
    c.send("GET / HTTP/1.1\r\nHo");
    CHECK(c.closed_by_peer(5s));
    CHECK(c.received().empty());
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout", "[transport]") {
    auto o = test_options();
    o.idle_timeout = 200ms;
    running_server s(o, echo);
    raw_client c(s.port());
    c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(c.read_response().starts_with("HTTP/1.1 200"));
    CHECK(c.closed_by_peer(5s));
}

TEST_CASE("the route table answers unknown paths 404 and wrong methods 405 with Allow", "[transport]") {
    sluice::transport::route_table routes;
    routes.add(http::verb::get, "/v1/models", echo);
    routes.add(http::verb::post, "/v1/chat/completions", echo);
    routes.add_prefix(http::verb::get, "/v1/models/", echo);
    running_server s(test_options(), std::ref(routes));
    raw_client c(s.port());

    c.send("GET /v1/nothing HTTP/1.1\r\nHost: a\r\n\r\n");
    auto r = c.read_response();
    CHECK(r.starts_with("HTTP/1.1 404"));
    CHECK(json_body(r).at("error").at("message") == "unknown request URL: GET /v1/nothing");

    c.send("DELETE /v1/models HTTP/1.1\r\nHost: a\r\n\r\n");
    r = c.read_response();
    CHECK(r.starts_with("HTTP/1.1 405"));
    CHECK(r.find("Allow: GET\r\n") != std::string::npos);
    CHECK(json_body(r).at("error").at("type") == "invalid_request_error");

    c.send("GET /v1/models/gpt-4o?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(c.read_response().starts_with("HTTP/1.1 200"));
}

TEST_CASE("a handler that throws or does not answer yields a 500 error body", "[transport]") {
    running_server s(test_options(), [](exchange& ex) -> net::awaitable<void> {
        if (ex.path() == "/throw") throw std::runtime_error("boom");
        co_return;
    });
    raw_client c(s.port());
    c.send("GET /throw HTTP/1.1\r\nHost: a\r\n\r\n");
    auto r = c.read_response();
    CHECK(r.starts_with("HTTP/1.1 500"));
    CHECK(json_body(r).at("error").at("type") == "server_error");
    c.send("GET /silent HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(c.read_response().starts_with("HTTP/1.1 500"));
}

TEST_CASE("SSE events reach the client one at a time, as they are produced", "[transport][sse]") {
    std::promise<void> first_seen;
    auto seen = first_seen.get_future().share();
    running_server s(test_options(), [seen](exchange& ex) -> net::awaitable<void> {
        co_await sluice::transport::serve_sse(ex, [seen](sluice::transport::sse_stream& sse) -> net::awaitable<void> {
            co_await sse.send("message_start", R"({"n":1})");
            // The client must see the first event while the producer is still running.
            while (seen.wait_for(0s) != std::future_status::ready) co_await sleep_for(5ms);
            co_await sse.send_data("line one\nline two");
            co_await sse.send_data("[DONE]");
        });
    });
    raw_client c(s.port());
    c.send("POST /stream HTTP/1.1\r\nHost: a\r\n\r\n");
    auto got = c.read_until("\n\n");
    CHECK(got.find("Content-Type: text/event-stream") != std::string::npos);
    CHECK(got.find("event: message_start\ndata: {\"n\":1}\n\n") != std::string::npos);
    CHECK(got.find("[DONE]") == std::string::npos);
    first_seen.set_value();
    got = c.read_until("\r\n0\r\n\r\n");
    CHECK(got.find("data: line one\ndata: line two\n\n") != std::string::npos);
    CHECK(got.find("data: [DONE]\n\n") != std::string::npos);
    // the connection stays usable
    c.received().clear();
    c.send("GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK(c.read_until("0\r\n\r\n").starts_with("HTTP/1.1 200"));
}

TEST_CASE("SSE sends heartbeat comments while the producer is quiet", "[transport][sse]") {
    auto o = test_options();
    o.heartbeat_interval = 50ms;
    running_server s(o, [](exchange& ex) -> net::awaitable<void> {
        co_await sluice::transport::serve_sse(ex, [](sluice::transport::sse_stream& sse) -> net::awaitable<void> {
            co_await sleep_for(400ms);
            co_await sse.send_data("late");
        });
    });
    raw_client c(s.port());
    c.send("GET /s HTTP/1.1\r\nHost: a\r\n\r\n");
    auto got = c.read_until("data: late");
    auto ping = got.find(": ping\n\n");
    REQUIRE(ping != std::string::npos);
    CHECK(ping < got.find("data: late"));
}

TEST_CASE("a reader that does not read pauses the SSE producer; its hang-up ends the stream", "[transport][sse]") {
    std::atomic<std::size_t> sent{0}, max_queued{0};
    std::atomic<bool> ended{false};
    running_server s(test_options(), [&](exchange& ex) -> net::awaitable<void> {
        co_await sluice::transport::serve_sse(ex, [&](sluice::transport::sse_stream& sse) -> net::awaitable<void> {
            std::string big(64 * 1024, 'z');
            for (int i = 0; i < 100000; ++i) {
                bool ok = co_await sse.send_data(big);
                if (!ok) break;
                ++sent;
                max_queued = std::max<std::size_t>(max_queued, sse.queued());
            }
            ended = true;
        });
    });
    {
        raw_client c(s.port());
        c.send("GET /s HTTP/1.1\r\nHost: a\r\n\r\n");
        std::this_thread::sleep_for(500ms); // let socket buffers fill
        auto stalled = sent.load();
        std::this_thread::sleep_for(300ms);
        CHECK(sent.load() == stalled);     // paused, not growing
        CHECK(stalled < 1000);             // 64 MB would have been produced without backpressure
        CHECK(max_queued.load() <= sluice::transport::sse_stream::queue_limit);
        c.reset();
    }
    for (int i = 0; i < 500 && !ended; ++i) std::this_thread::sleep_for(10ms);
    CHECK(ended.load());
}

TEST_CASE("a client that hangs up cancels its handler, and what the handler awaits", "[transport]") {
    std::promise<std::string> outcome;
    running_server s(test_options(), [&](exchange& ex) -> net::awaitable<void> {
        try {
            co_await sleep_for(30s); // stands for an upstream call
            outcome.set_value("finished");
        } catch (const boost::system::system_error& e) {
            outcome.set_value(e.code() == net::error::operation_aborted ? "cancelled" : e.what());
            throw;
        }
    });
    auto result = outcome.get_future();
    {
        raw_client c(s.port());
        c.send("POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
        std::this_thread::sleep_for(100ms);
    }
    REQUIRE(result.wait_for(10s) == std::future_status::ready);
    CHECK(result.get() == "cancelled");
}

TEST_CASE("drain stops accepting, closes idle connections and lets requests in flight finish", "[transport][drain]") {
    auto o = test_options();
    o.drain_timeout = 10s;
    sluice::transport::server srv(o, [](exchange& ex) -> net::awaitable<void> {
        if (ex.path() == "/slow") co_await sleep_for(300ms);
        co_await echo(ex);
    });
    srv.listen();
    auto port = srv.port();
    auto ran = std::async(std::launch::async, [&] { srv.run(); });

    raw_client idle(port);
    idle.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK(idle.read_response().starts_with("HTTP/1.1 200"));

    raw_client busy(port);
    busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
    std::this_thread::sleep_for(50ms);
    srv.drain();

    CHECK(idle.closed_by_peer());
    auto r = busy.read_response();
    CHECK(r.starts_with("HTTP/1.1 200"));
    CHECK(r.find("Connection: close") != std::string::npos);
    REQUIRE(ran.wait_for(10s) == std::future_status::ready); // run() returns once drained
    CHECK_THROWS(raw_client(port));
}

TEST_CASE("at the drain deadline, requests still running are cancelled", "[transport][drain]") {
    auto o = test_options();
    o.drain_timeout = 200ms;
    std::promise<std::string> outcome;
    sluice::transport::server srv(o, [&](exchange& ex) -> net::awaitable<void> {
        try {
            co_await sleep_for(60s);
            outcome.set_value("finished");
        } catch (const boost::system::system_error&) {
            outcome.set_value("cancelled");
            throw;
        }
        co_await echo(ex);
    });
    srv.listen();
    auto ran = std::async(std::launch::async, [&] { srv.run(); });
    raw_client busy(srv.port());
    busy.send("GET /forever HTTP/1.1\r\nHost: a\r\n\r\n");
    std::this_thread::sleep_for(50ms);
    srv.drain();
    auto result = outcome.get_future();
    REQUIRE(result.wait_for(10s) == std::future_status::ready);
    CHECK(result.get() == "cancelled");
    CHECK(busy.closed_by_peer());
    REQUIRE(ran.wait_for(10s) == std::future_status::ready);
}
