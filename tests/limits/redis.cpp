#include <sluice/redis/client.hpp>
#include <sluice/limits/redis_store.hpp>
#include <sluice/limits/gcra.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <future>
#include <memory>
#include <optional>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace sluice;
using namespace std::chrono_literals;
using core::error_kind;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::uint16_t free_port() {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

// A real redis-server of our own on a loopback port, killed when the test ends.
class redis_server {
public:
    redis_server() : port_(free_port()) { start(); }
    ~redis_server() { stop(); }

    std::uint16_t port() const { return port_; }

    void start() {
        std::string port = std::to_string(port_);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); // no orphan server if the test dies
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            execl("/usr/bin/redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--loglevel", "warning", (char*)nullptr);
            _exit(127);
        }
        // Ready when it answers PING; generous, the machine may be loaded.
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (!answers_ping()) {
            int status = 0;
            REQUIRE(waitpid(pid_, &status, WNOHANG) == 0); // it did not die on start
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(20ms);
        }
    }

    void stop() {
        if (pid_ <= 0) return;
        kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
    }

private:
    bool answers_ping() const {
        try {
            net::io_context io;
            tcp::socket s(io);
            s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
            net::write(s, net::buffer(std::string("PING\r\n")));
            std::string line;
            net::read_until(s, net::dynamic_buffer(line), "\r\n");
            return line.rfind("+PONG", 0) == 0;
        } catch (const std::exception&) {
            return false;
        }
    }

    std::uint16_t port_;
    pid_t pid_ = -1;
};

// An io_context run by its own threads until the runner goes.
class io_runner {
public:
    explicit io_runner(int threads = 1) : guard_(net::make_work_guard(io)) {
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io.run(); });
    }
    ~io_runner() {
        guard_.reset();
        io.stop();
        for (auto& t : threads_) t.join();
    }

    // Runs `a` on the io threads and blocks until it is done (use_future wants a default-
    // constructible T, which core::result is not).
    template <class T>
    T wait(net::awaitable<T> a) {
        std::promise<T> promise;
        auto future = promise.get_future();
        net::co_spawn(io, deliver(std::move(a), promise), net::detached);
        return future.get();
    }

    net::io_context io;

private:
    template <class T>
    static net::awaitable<void> deliver(net::awaitable<T> a, std::promise<T>& promise) {
        try {
            if constexpr (std::is_void_v<T>) {
                co_await std::move(a);
                promise.set_value();
            } else {
                auto value = co_await std::move(a);
                promise.set_value(std::move(value));
            }
        } catch (...) {
            promise.set_exception(std::current_exception());
        }
    }

    net::executor_work_guard<net::io_context::executor_type> guard_;
    std::vector<std::thread> threads_;
};

redis::client_options local_redis(std::uint16_t port) {
    redis::client_options o;
    o.port = port;
    return o;
}

net::awaitable<core::result<redis::reply>> send(redis::client& c, std::vector<std::string> args) {
    auto r = co_await c.command(std::move(args));
    co_return r;
}

using shared_policy = limits::gcra<limits::redis_store, limits::manual_clock>;

// One gateway replica: its own io_context and threads, its own client, the shared Redis.
struct replica {
    replica(std::uint16_t port, limits::manual_clock clock, limits::on_store_down down = limits::on_store_down::closed)
        : runner(2), client(std::make_shared<redis::client>(runner.io.get_executor(), local_redis(port))),
          policy(limits::redis_store(client), limits::gcra_options{down}, clock) {}

    limits::decision admit(const limits::admission& a) { return runner.wait(policy.admit(a)); }
    void settle(const limits::reservation& r, std::uint64_t tokens, double usd) {
        runner.wait(policy.settle(r, tokens, usd));
    }

    io_runner runner; // first: it outlives the client
    std::shared_ptr<redis::client> client;
    shared_policy policy;
};

limits::admission ask(std::string_view account, const limits::rate& r, std::uint64_t tokens = 0,
                      const limits::spend_cap* cap = nullptr) {
    limits::admission a;
    a.account = account;
    a.model = "gpt-4o";
    a.account_rate = &r;
    a.spend = cap;
    a.tokens = tokens;
    return a;
}

net::awaitable<void> admit_into(shared_policy& p, limits::admission a, std::atomic<int>& admitted,
                                std::atomic<int>& done) {
    auto d = co_await p.admit(a);
    if (d.admitted()) ++admitted;
    ++done;
}

// Both replicas fire `each` admissions at once, on their own threads; returns how many passed.
int race(replica& x, replica& y, const limits::admission& a, int each) {
    std::atomic<int> admitted{0};
    std::atomic<int> done{0};
    for (int i = 0; i < each; ++i) {
        net::co_spawn(x.runner.io, admit_into(x.policy, a, admitted, done), net::detached);
        net::co_spawn(y.runner.io, admit_into(y.policy, a, admitted, done), net::detached);
    }
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (done < 2 * each && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    REQUIRE(done == 2 * each);
    return admitted;
}

template <class F>
bool eventually(F&& f, std::chrono::seconds limit = 30s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (f()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return f();
}

} // namespace

TEST_CASE("replies parse from bytes that arrive in any pieces", "[limits][redis]") {
    const std::string wire = "+OK\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n:1\r\n$1\r\na\r\n-ERR bad thing\r\n$0\r\n\r\n";
    redis::reply_parser parser;
    std::vector<redis::reply> got;
    for (char c : wire) { // one byte at a time: the hardest split
        REQUIRE(parser.feed(std::string_view(&c, 1)));
        while (auto r = parser.next()) {
            REQUIRE(*r);
            got.push_back(**r);
        }
    }
    REQUIRE(got.size() == 7);
    CHECK(got[0] == redis::reply::status("OK"));
    CHECK(got[1] == redis::reply::number(42));
    CHECK(got[2] == redis::reply::string("hello"));
    CHECK(got[3].is_nil());
    CHECK(got[4] == redis::reply::array({redis::reply::number(1), redis::reply::string("a")}));
    CHECK(got[5].is_error());
    CHECK(got[5].text == "ERR bad thing");
    CHECK(got[6] == redis::reply::string(""));

    redis::reply_parser broken;
    REQUIRE(broken.feed("?what\r\n"));
    auto r = broken.next();
    REQUIRE(r);
    CHECK_FALSE(*r);
}

TEST_CASE("reply values convert to numbers only when they hold one", "[limits][redis]") {
    CHECK(redis::reply::number(7).as_integer() == 7);
    CHECK(redis::reply::string("-12").as_integer() == -12);
    CHECK_FALSE(redis::reply::string("12x").as_integer());
    CHECK_FALSE(redis::reply::nil().as_integer());
    CHECK(redis::reply::string("1.5").as_double() == 1.5);
    CHECK_FALSE(redis::reply::string("").as_double());
    CHECK_FALSE(redis::reply::error("ERR 1").as_double());
}

TEST_CASE("commands are framed as RESP arrays of bulk strings", "[limits][redis]") {
    CHECK(redis::format_command({"SET", "k", "v v"}) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv v\r\n");
    std::string binary("a\0b", 3);
    CHECK(redis::format_command({"GET", binary}) == std::string("*2\r\n$3\r\nGET\r\n$3\r\na\0b\r\n", 22));
    CHECK(redis::script("return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST_CASE("redis urls give host, port, database and the path", "[limits][redis]") {
    auto a = redis::parse_url("redis://10.0.0.5:6380/2");
    REQUIRE(a);
    CHECK(a->host == "10.0.0.5");
    CHECK(a->port == 6380);
    CHECK(a->db == 2);
    CHECK(a->path == "2");

    auto b = redis::parse_url("redis://cache:6379/usage");
    REQUIRE(b);
    CHECK(b->host == "cache");
    CHECK(b->db == 0);
    CHECK(b->path == "usage");

    auto c = redis::parse_url("redis://localhost");
    REQUIRE(c);
    CHECK(c->port == 6379);
    CHECK(c->path.empty());

    auto d = redis::parse_url("redis://user:s3cret@[::1]:7000/");
    REQUIRE(d);
    CHECK(d->host == "::1");
    CHECK(d->port == 7000);
    CHECK(d->user == "user");
    CHECK(d->password == "s3cret");
    auto o = redis::client_options::from(*d);
    CHECK(o.password == "s3cret");
    CHECK(o.port == 7000);

    for (auto bad : {"http://host:6379", "redis://", "redis://:6379", "redis://h:0", "redis://h:99999", "redis://h:",
                     "redis://h:12ab", "redis://[::1"}) {
        auto r = redis::parse_url(bad);
        INFO(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == error_kind::invalid_request);
        CHECK_THAT(r.error().message, Catch::Contains(bad));
    }
}

TEST_CASE("the client answers many coroutines on several threads, each with its own reply", "[limits][redis]") {
    redis_server server;
    io_runner runner(2);
    redis::client client(runner.io.get_executor(), local_redis(server.port()));

    constexpr int n = 300;
    std::atomic<int> right{0};
    std::atomic<int> done{0};
    for (int i = 0; i < n; ++i) {
        net::co_spawn(
            runner.io,
            [](redis::client& c, int i, std::atomic<int>& right, std::atomic<int>& done) -> net::awaitable<void> {
                auto key = "k" + std::to_string(i);
                auto value = "v" + std::to_string(i);
                std::vector<std::string> set_cmd{"SET", key, value};
                std::vector<std::string> get_cmd{"GET", key};
                std::vector<std::string> incr_cmd{"INCR", "counter"};
                auto set = co_await c.command(std::move(set_cmd));
                auto get = co_await c.command(std::move(get_cmd));
                auto incr = co_await c.command(std::move(incr_cmd));
                if (set && get && incr && set->text == "OK" && get->text == value &&
                    incr->as_integer())
                    ++right;
                ++done;
            }(client, i, right, done),
            net::detached);
    }
    REQUIRE(eventually([&] { return done == n; }, 60s));
    CHECK(right == n);
    auto total = runner.wait(send(client, {"GET", "counter"}));
    REQUIRE(total);
    CHECK(total->as_integer() == n);

    SECTION("a Redis error is a reply, not a failure") {
        auto set = runner.wait(send(client, {"SET", "text", "abc"}));
        REQUIRE(set);
        auto r = runner.wait(send(client, {"INCR", "text"}));
        REQUIRE(r);
        CHECK(r->is_error());
        CHECK_THAT(r->text, Catch::StartsWith("ERR"));
    }
    SECTION("evalsha loads a script the server has not seen") {
        auto flush = runner.wait(send(client, {"SCRIPT", "FLUSH"}));
        REQUIRE(flush);
        redis::script echo("return ARGV[1] .. KEYS[1]");
        auto r = runner.wait(client.evalsha(echo, {"k"}, {"v"}));
        REQUIRE(r);
        CHECK(r->text == "vk");
        auto exists = runner.wait(send(client, {"SCRIPT", "EXISTS", echo.sha1}));
        REQUIRE(exists);
        REQUIRE(exists->elements.size() == 1);
        CHECK(exists->elements[0].integer == 1);
        auto loaded = runner.wait(client.load(limits::redis_store::reserve_script()));
        CHECK(loaded);
    }
}

TEST_CASE("a client selects the database its url names", "[limits][redis]") {
    redis_server server;
    io_runner runner(1);
    auto url = redis::parse_url("redis://127.0.0.1:" + std::to_string(server.port()) + "/3");
    REQUIRE(url);
    redis::client db3(runner.io.get_executor(), redis::client_options::from(*url));
    redis::client db0(runner.io.get_executor(), local_redis(server.port()));
    auto set = runner.wait(send(db3, {"SET", "where", "three"}));
    REQUIRE(set);
    auto in3 = runner.wait(send(db3, {"GET", "where"}));
    REQUIRE(in3);
    CHECK(in3->text == "three");
    auto in0 = runner.wait(send(db0, {"GET", "where"}));
    REQUIRE(in0);
    CHECK(in0->is_nil());
}

TEST_CASE("a client fails fast while Redis is down and reconnects when it is back", "[limits][redis]") {
    redis_server server;
    io_runner runner(2);
    redis::client client(runner.io.get_executor(), local_redis(server.port()));

    auto up = runner.wait(send(client, {"PING"}));
    REQUIRE(up);
    CHECK(up->text == "PONG");

    server.stop();
    auto started = std::chrono::steady_clock::now();
    auto down = runner.wait(send(client, {"PING"}));
    auto again = runner.wait(send(client, {"PING"}));
    // Not a speed test: the bound is far above the connect and command timeouts, it proves no hang.
    CHECK(std::chrono::steady_clock::now() - started < 10s);
    REQUIRE_FALSE(down);
    CHECK(down.error().kind == error_kind::overloaded);
    CHECK(down.error().code == "limit_store_unavailable");
    CHECK_THAT(down.error().message, Catch::Contains("127.0.0.1:" + std::to_string(server.port())));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == "limit_store_unavailable");

    server.start();
    CHECK(eventually([&] {
        auto r = runner.wait(send(client, {"PING"}));
        return r && r->text == "PONG";
    }));
}

TEST_CASE("a command to a server that never answers times out", "[limits][redis]") {
    // A listener that never accepts: the kernel completes the connect, nobody ever replies.
    net::io_context quiet;
    tcp::acceptor silent(quiet, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    io_runner runner(1);
    auto opts = local_redis(silent.local_endpoint().port());
    redis::client client(runner.io.get_executor(), opts);

    auto r = runner.wait(send(client, {"PING"}));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == error_kind::overloaded);
    CHECK_THAT(r.error().message, Catch::Contains("no reply within 500ms") || Catch::Contains("timed out"));
}

TEST_CASE("two replicas sharing Redis admit exactly the limit between them", "[limits][redis]") {
    redis_server server;
    limits::manual_clock clock; // shared, so the total is exact whatever the machine's speed
    replica x(server.port(), clock);
    replica y(server.port(), clock);

    SECTION("requests per minute") {
        limits::rate r;
        r.rpm = 30;
        auto a = ask("acme", r);
        CHECK(race(x, y, a, 40) == 30);
        clock.advance(10s);
        CHECK(race(x, y, a, 40) == 5);
        clock.advance(60s);
        CHECK(race(x, y, a, 40) == 30);
        auto d = y.admit(a);
        REQUIRE(d.refused);
        CHECK_THAT(d.refused->message, Catch::Contains("account acme: 30 requests per minute"));
        CHECK(d.retry_after_seconds == Approx(2.0));
        REQUIRE(d.requests);
        CHECK(d.requests->remaining == 0);
    }
    SECTION("tokens per minute, settled across replicas") {
        limits::rate r;
        r.tpm = 1000;
        auto a = ask("tokens", r, 100);
        CHECK(race(x, y, a, 15) == 10);

        clock.advance(60s);
        auto big = ask("tokens", r, 600);
        auto first = x.admit(big);
        REQUIRE(first.admitted());
        CHECK(first.tokens->remaining == 400);
        CHECK_FALSE(y.admit(big).admitted());
        x.settle(first.held, 100, 0.0); // the refund is seen by the other replica
        auto second = y.admit(big);
        REQUIRE(second.admitted());
        CHECK(second.tokens->remaining == 300);
    }
    SECTION("a refusal by one scope reserves nothing in the others") {
        limits::rate account;
        account.rpm = 100;
        account.tpm = 1000;
        limits::rate model;
        model.tpm = 500;
        auto a = ask("scopes", account, 400);
        a.model_rate = &model;
        REQUIRE(x.admit(a).admitted());
        auto no = y.admit(a); // fits the account (800 of 1000), not the model (800 of 500)
        REQUIRE(no.refused);
        CHECK_THAT(no.refused->message, Catch::Contains("account scopes, model gpt-4o: 500 tokens per minute"));
        auto other = y.admit(ask("scopes", account, 600));
        REQUIRE(other.admitted());
        CHECK(other.tokens->remaining == 0);
        CHECK(other.requests->remaining == 98);
    }
    SECTION("spend") {
        limits::rate r;
        limits::spend_cap cap;
        cap.daily_usd = 1.0;
        auto a = ask("spender", r, 0, &cap);
        auto d = x.admit(a);
        REQUIRE(d.admitted());
        x.settle(d.held, 0, 1.25);
        auto no = y.admit(a);
        REQUIRE(no.refused);
        CHECK(no.refused->code == "insufficient_quota");
        CHECK(no.retry_after_seconds == Approx(12 * 3600.0));
        auto spent = x.runner.wait(send(*x.client, {"GET", "sluice:limits:{spender}:spend:d:20300115"}));
        REQUIRE(spent);
        CHECK(spent->as_double() == Approx(1.25));
        auto ttl = x.runner.wait(send(*x.client, {"TTL", "sluice:limits:{spender}:spend:m:203001"}));
        REQUIRE(ttl);
        CHECK(ttl->integer > 0);
    }
    SECTION("idle bucket keys expire") {
        limits::rate r;
        r.rpm = 60;
        auto a = ask("idle", r);
        REQUIRE(x.admit(a).admitted());
        auto pttl = x.runner.wait(send(*x.client, {"PTTL", "sluice:limits:{idle}:rpm"}));
        REQUIRE(pttl);
        CHECK(pttl->integer > 0);
        CHECK(pttl->integer <= 2000); // one request of 60 per minute: 1 s, plus a second of slack
    }
    CHECK(x.policy.store_errors() == 0);
    CHECK(y.policy.store_errors() == 0);
}

TEST_CASE("with Redis time, replicas still share one limit", "[limits][redis]") {
    redis_server server;
    io_runner rx(2);
    io_runner ry(2);
    auto cx = std::make_shared<redis::client>(rx.io.get_executor(), local_redis(server.port()));
    auto cy = std::make_shared<redis::client>(ry.io.get_executor(), local_redis(server.port()));
    limits::gcra<limits::redis_store> px{limits::redis_store(cx)};
    limits::gcra<limits::redis_store> py{limits::redis_store(cy)};
    limits::rate r;
    r.rpm = 6; // one back every 10 s, so a slow machine adds few
    auto a = ask("wall", r);

    auto started = std::chrono::steady_clock::now();
    int n = 0;
    for (int i = 0; i < 10; ++i) {
        auto dx = rx.wait(px.admit(a));
        auto dy = ry.wait(py.admit(a));
        n += dx.admitted() + dy.admitted();
    }
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    CHECK(n >= 6);
    CHECK(n <= 6 + int(elapsed / 10.0) + 1);
}

TEST_CASE("when Redis goes down, closed refuses, local falls back, and sharing resumes after", "[limits][redis]") {
    redis_server server;
    limits::manual_clock clock;
    replica closed(server.port(), clock, limits::on_store_down::closed);
    replica local(server.port(), clock, limits::on_store_down::local);
    limits::rate r;
    r.rpm = 5;
    auto a = ask("acme", r);
    REQUIRE(closed.admit(a).admitted());
    REQUIRE(local.admit(a).admitted());

    server.stop();
    auto down = closed.admit(a);
    REQUIRE(down.refused);
    CHECK(down.refused->kind == error_kind::overloaded);
    CHECK(core::http_status(down.refused->kind) == 503);
    CHECK(down.refused->code == "limit_store_unavailable");
    CHECK_FALSE(down.held.active());
    CHECK(closed.policy.store_errors() >= 1);

    int n = 0;
    for (int i = 0; i < 8; ++i) {
        auto d = local.admit(a);
        if (d.admitted()) {
            ++n;
            CHECK(d.held.local);
        }
    }
    CHECK(n == 5); // the local counters start empty and hold the account's own limit
    CHECK(local.policy.store_errors() >= 8);

    server.start(); // a fresh server: no counters survive
    limits::rate loose;
    loose.rpm = 1000;
    CHECK(eventually([&] { return closed.admit(ask("probe", loose)).admitted(); }));
    CHECK(eventually([&] {
        auto d = local.admit(ask("probe", loose));
        return d.admitted() && !d.held.local;
    }));
    const auto errors = local.policy.store_errors();
    auto b = ask("after", r);
    int shared = 0;
    for (int i = 0; i < 4; ++i) {
        shared += closed.admit(b).admitted();
        shared += local.admit(b).admitted();
    }
    CHECK(shared == 5);
    CHECK(local.policy.store_errors() == errors);
}
