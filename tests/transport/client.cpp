#include <sluice/transport/client.hpp>

#include "upstream_double.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_future.hpp>

#include <catch2/catch.hpp>

#include <future>
#include <variant>

namespace {

using namespace sluice::transport;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
using sluice::test::eventually;
using sluice::test::full_backlog_listener;
using sluice::test::upstream_double;

using clock_type = std::chrono::steady_clock;

// Runs one coroutine to its end on `io` with `threads` threads, and returns its result.
template <class F>
auto run(net::io_context& io, F&& make, int threads = 1) {
    auto result = net::co_spawn(io, make(), net::use_future);
    io.restart();
    std::vector<std::thread> extra;
    for (int i = 1; i < threads; ++i) extra.emplace_back([&] { io.run(); });
    io.run();
    for (auto& t : extra) t.join();
    return result.get();
}

upstream_request get(std::string url) { return {http::verb::get, std::move(url), {}, {}}; }

net::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    net::steady_timer timer(co_await net::this_coro::executor, d);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

// Sends and reads the whole body: "<status> <body>" or the error message.
net::awaitable<std::string> fetch(http_client& client, upstream_request req, request_timeouts t = {}) {
    auto [ec, resp] = co_await client.send(std::move(req), t);
    if (ec) co_return "error: " + ec.message();
    auto [bec, body] = co_await resp.read_all(1 << 20);
    if (bec) co_return "body error: " + bec.message();
    co_return std::to_string(resp.status()) + " " + body;
}

// The error of a send, or of reading its body to the end.
net::awaitable<boost::system::error_code> exchange_error(http_client& client, upstream_request req,
                                                         request_timeouts t = {}) {
    auto [ec, resp] = co_await client.send(std::move(req), t);
    if (ec) co_return ec;
    auto [bec, body] = co_await resp.read_all(1 << 20);
    co_return bec;
}

} // namespace

TEST_CASE("a request reaches the upstream and its response comes back whole", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    auto out = run(io, [&]() -> net::awaitable<std::string> {
        upstream_request req{http::verb::post, server.url("/echo?q=1"), {{"x-test", "value"}}, "payload"};
        auto [ec, resp] = co_await client.send(std::move(req));
        if (ec) co_return ec.message();
        CHECK(resp.status() == 200);
        CHECK(resp.reason() == "OK");
        CHECK(resp.header("content-type") == "text/plain");
        CHECK(resp.header("Content-Type") == "text/plain");
        CHECK(resp.header("x-absent").empty());
        auto [bec, body] = co_await resp.read_all(1024);
        CHECK(!bec);
        CHECK(resp.done());
        co_return body;
    });
    CHECK(out == "POST /echo?q=1\n127.0.0.1:" + std::to_string(server.port()) + "\nvalue\npayload");
}

TEST_CASE("sequential requests to one origin reuse one keep-alive connection", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    auto out = run(io, [&]() -> net::awaitable<std::string> {
        std::string all;
        for (int i = 0; i < 5; ++i) all += co_await fetch(client, get(server.url("/ok"))) + ";";
        co_return all;
    });
    CHECK(out == "200 hello;200 hello;200 hello;200 hello;200 hello;");
    CHECK(server.accepted == 1);
    CHECK(client.stats().open == 1);
    CHECK(client.stats().idle == 1);
}

TEST_CASE("a response not read to its end does not go back to the pool", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    auto out = run(io, [&]() -> net::awaitable<std::string> {
        {
            auto [ec, resp] = co_await client.send(get(server.url("/big?n=200000")));
            REQUIRE(!ec);
            auto [rec, bytes] = co_await resp.read_some();
            CHECK(!rec);
            CHECK(!bytes.empty());
            CHECK(client.stats().idle == 0);
        } // dropped half-read
        CHECK(client.stats().open == 0);
        co_return co_await fetch(client, get(server.url("/ok")));
    });
    CHECK(out == "200 hello");
    CHECK(server.accepted == 2);
}

TEST_CASE("concurrent requests beyond the per-origin limit wait for a connection", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    client_options options;
    options.max_connections_per_origin = 2;
    http_client client(options);

    auto out = run(
        io,
        [&]() -> net::awaitable<std::string> {
            auto a = fetch(client, get(server.url("/slow")));
            auto b = fetch(client, get(server.url("/slow")));
            auto c = fetch(client, get(server.url("/slow")));
            auto d = fetch(client, get(server.url("/slow")));
            auto e = fetch(client, get(server.url("/slow")));
            auto [ra, rb, rc, rd, re] = co_await (std::move(a) && std::move(b) && std::move(c) && std::move(d) &&
                                                  std::move(e));
            co_return ra + ";" + rb + ";" + rc + ";" + rd + ";" + re;
        },
        2);
    CHECK(out == "200 hello;200 hello;200 hello;200 hello;200 hello");
    CHECK(server.max_open <= 2);
    CHECK(server.accepted <= 2);
    CHECK(client.stats().open <= 2);
    CHECK(client.stats().waiting == 0);
}

TEST_CASE("a call waits for a free connection no longer than the connect timeout", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    client_options options;
    options.max_connections_per_origin = 1;
    http_client client(options);

    auto out = run(io, [&]() -> net::awaitable<std::string> {
        auto [ec, held] = co_await client.send(get(server.url("/stream-hang")));
        REQUIRE(!ec);
        auto waited = co_await exchange_error(client, get(server.url("/ok")), {.connect = 200ms});
        CHECK(waited == client_errc::pool_timeout);
        CHECK(is_timeout(waited));
        CHECK(client.stats().waiting == 0);
        held.close(); // frees the slot
        co_return co_await fetch(client, get(server.url("/ok")));
    });
    CHECK(out == "200 hello");
}

TEST_CASE("a waiting call gets the connection another call gives back", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    client_options options;
    options.max_connections_per_origin = 1;
    http_client client(options);

    auto out = run(io, [&]() -> net::awaitable<std::string> {
        auto [ec, first] = co_await client.send(get(server.url("/ok")));
        REQUIRE(!ec);
        auto release_later = [&]() -> net::awaitable<std::string> {
            co_await sleep_for(50ms);
            auto [bec, body] = co_await first.read_all(100);
            co_return body;
        };
        auto [body, second] = co_await (release_later() && fetch(client, get(server.url("/ok"))));
        co_return body + ";" + second;
    });
    CHECK(out == "hello;200 hello");
    CHECK(server.accepted == 1);
}

TEST_CASE("pooled connections idle past their expiry are closed, not reused", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    client_options options;
    options.idle_expiry = 50ms;
    http_client client(options);

    SECTION("lazily, on the next request") {
        auto out = run(io, [&]() -> net::awaitable<std::string> {
            auto first = co_await fetch(client, get(server.url("/ok")));
            co_await sleep_for(200ms);
            co_return first + ";" + co_await fetch(client, get(server.url("/ok")));
        });
        CHECK(out == "200 hello;200 hello");
        CHECK(server.accepted == 2);
    }
    SECTION("by close_expired") {
        auto out = run(io, [&]() -> net::awaitable<std::string> { co_return co_await fetch(client, get(server.url("/ok"))); });
        CHECK(out == "200 hello");
        CHECK(client.stats().idle == 1);
        std::this_thread::sleep_for(200ms);
        CHECK(client.close_expired() == 1);
        CHECK(client.stats().open == 0);
    }
}

TEST_CASE("a pooled connection the server closed is replaced without an error", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    auto out = run(io, [&]() -> net::awaitable<std::string> {
        auto first = co_await fetch(client, get(server.url("/ok-then-close")));
        co_return first + ";" + co_await fetch(client, get(server.url("/ok")));
    });
    CHECK(out == "200 hello;200 hello");
    CHECK(server.accepted == 2);
}

TEST_CASE("a reused connection that fails before any response byte is retried once", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    SECTION("the retry on a fresh connection succeeds") {
        auto out = run(io, [&]() -> net::awaitable<std::string> {
            auto first = co_await fetch(client, get(server.url("/drop-reused")));
            co_return first + ";" + co_await fetch(client, get(server.url("/drop-reused")));
        });
        CHECK(out == "200 hello;200 hello");
        CHECK(server.accepted == 2);
        CHECK(server.requests == 3);
    }
    SECTION("only once") {
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            auto first = co_await fetch(client, get(server.url("/ok"))); // no co_await inside CHECK
            CHECK(first == "200 hello");
            co_return co_await exchange_error(client, get(server.url("/drop")));
        });
        CHECK(ec);
        CHECK(server.accepted == 2);
        CHECK(server.requests == 3);
    }
    SECTION("never on a fresh connection") {
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            co_return co_await exchange_error(client, get(server.url("/drop")));
        });
        CHECK(ec);
        CHECK(server.accepted == 1);
        CHECK(server.requests == 1);
    }
    CHECK(client.stats().open <= 1);
}

TEST_CASE("chunked body pieces reach the caller before the body ends", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    auto out = run(io, [&]() -> net::awaitable<std::string> {
        auto [ec, resp] = co_await client.send(get(server.url("/chunked")));
        REQUIRE(!ec);
        CHECK(resp.header("content-type") == "text/event-stream");
        std::string seen;
        // The server sends a piece only after this loop has counted the one before it.
        for (std::string_view expected : {"one", "onetwo", "onetwothree"}) {
            while (seen.size() < expected.size()) {
                auto [rec, bytes] = co_await resp.read_some();
                if (rec || bytes.empty()) co_return seen + " stopped: " + rec.message();
                seen.append(bytes);
            }
            CHECK(seen == expected);
            ++server.client_progress;
        }
        auto [rec, end] = co_await resp.read_some();
        CHECK(!rec);
        CHECK(end.empty());
        CHECK(resp.done());
        CHECK(client.stats().idle == 1); // read to its end: pooled
        co_return seen;
    });
    CHECK(out == "onetwothree");
    CHECK(server.gate_timeouts == 0);
}

TEST_CASE("a body that ends with the connection is read whole and not pooled", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    auto out = run(io, [&]() -> net::awaitable<std::string> { co_return co_await fetch(client, get(server.url("/until-close"))); });
    CHECK(out == "200 all of it");
    CHECK(client.stats().open == 0);
}

TEST_CASE("each time limit gives its own error", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    SECTION("first byte") {
        auto started = clock_type::now();
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            co_return co_await exchange_error(client, get(server.url("/hang")), {.first_byte = 200ms});
        });
        CHECK(ec == client_errc::first_byte_timeout);
        CHECK(is_timeout(ec));
        CHECK(clock_type::now() - started < 10s);
        CHECK(eventually([&] { return server.closed_by_client == 1; }));
    }
    SECTION("total, before the header") {
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            co_return co_await exchange_error(client, get(server.url("/hang")), {.total = 200ms});
        });
        CHECK(ec == client_errc::total_timeout);
    }
    SECTION("total, while the body streams") {
        auto out = run(io, [&]() -> net::awaitable<std::string> {
            auto [ec, resp] = co_await client.send(get(server.url("/stream-hang")), {.total = 300ms});
            REQUIRE(!ec);
            auto [first_ec, first] = co_await resp.read_some();
            CHECK(!first_ec);
            std::string seen(first);
            auto [rec, more] = co_await resp.read_some();
            CHECK(rec == client_errc::total_timeout);
            CHECK(more.empty());
            co_return seen;
        });
        CHECK(out == "first");
        CHECK(eventually([&] { return server.closed_by_client == 1; }));
    }
    SECTION("connect") {
        full_backlog_listener silent;
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            co_return co_await exchange_error(client, get("http://127.0.0.1:" + std::to_string(silent.port()) + "/"),
                                              {.connect = 200ms});
        });
        CHECK(ec == client_errc::connect_timeout);
    }
    CHECK(client.stats().open == 0);
}

TEST_CASE("a broken or oversized response gives a clear error", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    SECTION("the connection ends before the body") {
        auto out = run(io, [&]() -> net::awaitable<std::string> {
            auto [ec, resp] = co_await client.send(get(server.url("/truncate")));
            REQUIRE(!ec);
            auto [bec, body] = co_await resp.read_all(1000);
            CHECK(bec == client_errc::truncated_body);
            co_return body;
        });
        CHECK(out == "0123456789");
    }
    SECTION("the body is beyond the caller's limit") {
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            auto [ec, resp] = co_await client.send(get(server.url("/big?n=5000")));
            REQUIRE(!ec);
            auto [bec, body] = co_await resp.read_all(100);
            co_return bec;
        });
        CHECK(ec == client_errc::body_too_large);
    }
    SECTION("the header is beyond max_header_bytes") {
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            co_return co_await exchange_error(client, get(server.url("/big-header")));
        });
        CHECK(ec == client_errc::header_too_large);
    }
    SECTION("the URL is not an absolute http(s) URL") {
        auto errors = run(io, [&]() -> net::awaitable<std::vector<boost::system::error_code>> {
            std::vector<boost::system::error_code> out;
            for (auto url : {"ftp://example.com/", "not a url", "http://", "/v1/chat/completions"})
                out.push_back((co_await client.send(get(url))).ec);
            co_return out;
        });
        for (auto& ec : errors) CHECK(ec == client_errc::bad_url);
    }
    CHECK(client.stats().open == 0);
}

TEST_CASE("TLS: the server certificate is verified unless the caller opts out", "[transport][client][tls]") {
    upstream_double server(true);
    net::io_context io;
    const std::string ca = SLUICE_TEST_DATA_DIR "/tls/localhost.crt";

    SECTION("rejected against the system store") {
        http_client client;
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            co_return co_await exchange_error(client, get(server.url("/ok", "localhost")));
        });
        CHECK(ec == client_errc::certificate_rejected);
        CHECK(client.stats().open == 0);
    }
    SECTION("rejected when the host name is not the certificate's, even with the CA file") {
        upstream_double elsewhere(true, "127.0.0.2"); // the certificate names localhost and 127.0.0.1
        client_options options;
        options.ca_file = ca;
        http_client client(options);
        auto ec = run(io, [&]() -> net::awaitable<boost::system::error_code> {
            co_return co_await exchange_error(client, get(elsewhere.url("/ok")));
        });
        CHECK(ec == client_errc::certificate_rejected);
    }
    SECTION("accepted with the CA file, by host name and by IP, over one kept-alive connection each") {
        client_options options;
        options.ca_file = ca;
        http_client client(options);
        auto out = run(io, [&]() -> net::awaitable<std::string> {
            std::string all;
            for (int i = 0; i < 3; ++i) all += co_await fetch(client, get(server.url("/ok", "localhost"))) + ";";
            all += co_await fetch(client, get(server.url("/ok", "127.0.0.1")));
            co_return all;
        });
        CHECK(out == "200 hello;200 hello;200 hello;200 hello");
        CHECK(server.accepted == 2);
    }
    SECTION("accepted without verification") {
        client_options options;
        options.verify_peer = false;
        http_client client(options);
        auto out = run(io, [&]() -> net::awaitable<std::string> { co_return co_await fetch(client, get(server.url("/ok"))); });
        CHECK(out == "200 hello");
    }
    SECTION("a chunked stream over TLS") {
        client_options options;
        options.ca_file = ca;
        http_client client(options);
        server.client_progress = 2; // no gate here
        auto out = run(io, [&]() -> net::awaitable<std::string> { co_return co_await fetch(client, get(server.url("/chunked", "localhost"))); });
        CHECK(out == "200 onetwothree");
    }
}

TEST_CASE("a cancelled call stops at once and closes its connection", "[transport][client]") {
    upstream_double server;
    net::io_context io;
    http_client client;

    SECTION("cancelled by a timer through ||, waiting for the header") {
        auto started = clock_type::now();
        auto winner = run(io, [&]() -> net::awaitable<std::size_t> {
            net::steady_timer timer(co_await net::this_coro::executor, 200ms);
            auto result = co_await (client.send(get(server.url("/hang"))) ||
                                    timer.async_wait(net::as_tuple(net::use_awaitable)));
            co_return result.index();
        });
        CHECK(winner == 1);
        CHECK(clock_type::now() - started < upstream_double::hang_limit / 3);
        CHECK(eventually([&] { return server.closed_by_client == 1; }));
        CHECK(client.stats().open == 0);
    }
    SECTION("cancelled through a bound slot: the call returns operation_aborted") {
        net::cancellation_signal cancel;
        std::optional<boost::system::error_code> got;
        net::co_spawn(io, client.send(get(server.url("/hang"))),
                      net::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, send_result r) { got = r.ec; }));
        net::steady_timer timer(io, 200ms);
        timer.async_wait([&](boost::system::error_code) { cancel.emit(net::cancellation_type::terminal); });
        io.run();
        REQUIRE(got);
        CHECK(*got == net::error::operation_aborted);
        CHECK(eventually([&] { return server.closed_by_client == 1; }));
        CHECK(client.stats().open == 0);
    }
    SECTION("cancelled while the body streams") {
        auto winner = run(io, [&]() -> net::awaitable<std::size_t> {
            auto [ec, resp] = co_await client.send(get(server.url("/stream-hang")));
            REQUIRE(!ec);
            auto [first_ec, first] = co_await resp.read_some();
            CHECK(first == "first");
            net::steady_timer timer(co_await net::this_coro::executor, 200ms);
            auto result = co_await (resp.read_some() || timer.async_wait(net::as_tuple(net::use_awaitable)));
            CHECK(client.stats().open == 0); // closed at once, not when resp goes
            co_return result.index();
        });
        CHECK(winner == 1);
        CHECK(eventually([&] { return server.closed_by_client == 1; }));
    }
    SECTION("cancelled while waiting for a free connection") {
        client_options options;
        options.max_connections_per_origin = 1;
        http_client small(options);
        auto winner = run(io, [&]() -> net::awaitable<std::size_t> {
            auto [ec, held] = co_await small.send(get(server.url("/stream-hang")));
            REQUIRE(!ec);
            net::steady_timer timer(co_await net::this_coro::executor, 100ms);
            auto result = co_await (small.send(get(server.url("/ok"))) ||
                                    timer.async_wait(net::as_tuple(net::use_awaitable)));
            CHECK(small.stats().waiting == 0);
            CHECK(small.stats().open == 1);
            co_return result.index();
        });
        CHECK(winner == 1);
        CHECK(small.stats().open == 0);
    }
}

TEST_CASE("one client serves many io threads at once", "[transport][client]") {
    upstream_double a;
    upstream_double b;
    net::io_context io;
    client_options options;
    options.max_connections_per_origin = 3;
    http_client client(options);

    auto out = run(
        io,
        [&]() -> net::awaitable<int> {
            auto batch = [&](upstream_double& s) -> net::awaitable<int> {
                int ok = 0;
                for (int i = 0; i < 10; ++i) ok += co_await fetch(client, get(s.url("/ok"))) == "200 hello";
                co_return ok;
            };
            auto [x, y, z, w] = co_await (batch(a) && batch(b) && batch(a) && batch(b));
            auto [p, q, r, s] = co_await (batch(a) && batch(a) && batch(a) && batch(a));
            co_return x + y + z + w + p + q + r + s;
        },
        2);
    CHECK(out == 80);
    CHECK(a.max_open <= 3);
    CHECK(b.max_open <= 3);
    CHECK(client.stats().waiting == 0);
}
