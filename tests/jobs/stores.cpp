#include <sluice/core/clock.hpp>
#include <sluice/jobs/redis_store.hpp>
#include <sluice/jobs/store.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace sluice;
using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = core::manual_clock_of<std::chrono::system_clock>;

// Runs one awaitable to completion on a private io_context.
template <class T>
T run(net::awaitable<T> a) {
    net::io_context io;
    std::optional<T> out;
    net::co_spawn(io, [&]() -> net::awaitable<void> { out.emplace(co_await std::move(a)); }, [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    io.run();
    return std::move(*out);
}

jobs::job sample(std::string id, jobs::millis created) {
    jobs::job j;
    j.id = std::move(id);
    j.kind = "video";
    j.account = "acme";
    j.key_id = "key_1";
    j.model = "sora-mock";
    j.provider = "oai";
    j.upstream_id = "video_up_1";
    j.seconds = "4";
    j.size = "1280x720";
    j.created_at = created;
    j.polled_at = created;
    return j;
}

void complete(jobs::job& j, jobs::millis at, std::chrono::milliseconds ttl) {
    j.status = jobs::status::completed;
    j.progress = 100;
    j.completed_at = at;
    j.expires_at = at + ttl.count();
    j.metered = true;
}

std::filesystem::path temp_dir() {
    char pattern[] = "/tmp/sluice-jobs-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    return pattern;
}

} // namespace

TEST_CASE("job: the record survives its JSON and a torn line is refused") {
    auto j = sample(jobs::new_job_id(), 1'700'000'000'000);
    j.progress = 40;
    j.error_code = "x";
    j.error_message = "why \"quoted\"";
    auto text = jobs::serialize(j);
    auto back = jobs::parse_job(text);
    REQUIRE(back);
    CHECK(*back == j);
    CHECK_FALSE(jobs::parse_job(text.substr(0, text.size() / 2)));
    CHECK_FALSE(jobs::parse_job("{}"));
    auto a = jobs::new_job_id();
    CHECK(a.starts_with("video_"));
    CHECK(a.size() == 6 + 32);
    CHECK(a != jobs::new_job_id());
}

TEST_CASE("memory store: create find and compare-and-set on the status") {
    clock_type clock(std::chrono::system_clock::time_point(1'700'000'000'000ms));
    jobs::memory_store store(2h, [clock] { return clock.now(); });
    auto j = sample("video_a", jobs::to_millis(clock.now()));
    REQUIRE(run(store.create(j)));
    auto found = run(store.find("video_a"));
    REQUIRE(found);
    REQUIRE(found.value());
    CHECK(*found.value() == j);
    auto none = run(store.find("video_b"));
    REQUIRE(none);
    CHECK_FALSE(none.value());

    auto done = j;
    complete(done, jobs::to_millis(clock.now()), 2h);
    auto won = run(store.update(done, jobs::status::processing));
    REQUIRE(won);
    CHECK(won.value());
    // A second replica that saw the same upstream job finish loses: it records nothing.
    auto lost = run(store.update(done, jobs::status::processing));
    REQUIRE(lost);
    CHECK_FALSE(lost.value());
    CHECK(run(store.find("video_a")).value()->status == jobs::status::completed);
}

TEST_CASE("memory store: a finished job expires after the ttl and is forgotten a ttl later") {
    clock_type clock(std::chrono::system_clock::time_point(1'700'000'000'000ms));
    jobs::memory_store store(2h, [clock] { return clock.now(); });
    auto j = sample("video_e", jobs::to_millis(clock.now()));
    REQUIRE(run(store.create(j)));
    clock.advance(10min);
    complete(j, jobs::to_millis(clock.now()), 2h);
    REQUIRE(run(store.update(j, jobs::status::processing)).value());

    clock.advance(2h - 1s);
    auto live = run(store.find("video_e")).value();
    REQUIRE(live);
    CHECK_FALSE(live->expired(jobs::to_millis(clock.now())));
    clock.advance(2s);
    // Expired: still held, so a reader hears when it expired rather than "no job".
    auto tomb = run(store.find("video_e")).value();
    REQUIRE(tomb);
    CHECK(tomb->expired(jobs::to_millis(clock.now())));
    clock.advance(2h);
    CHECK_FALSE(run(store.find("video_e")).value());
    // A job still processing never expires.
    auto p = sample("video_p", jobs::to_millis(clock.now()));
    REQUIRE(run(store.create(p)));
    clock.advance(100h);
    auto still = run(store.find("video_p")).value();
    REQUIRE(still);
    CHECK_FALSE(still->expired(jobs::to_millis(clock.now())));
}

TEST_CASE("file store: a restart reloads every job and skips a torn last line") {
    auto dir = temp_dir();
    auto path = dir / "var" / "jobs.jsonl";
    clock_type clock(std::chrono::system_clock::time_point(1'700'000'000'000ms));
    auto now = [clock] { return clock.now(); };
    auto a = sample("video_1", jobs::to_millis(clock.now()));
    auto b = sample("video_2", jobs::to_millis(clock.now()));
    {
        jobs::file_store store(path, 2h, now);
        REQUIRE(run(store.create(a)));
        REQUIRE(run(store.create(b)));
        complete(b, jobs::to_millis(clock.now()), 2h);
        REQUIRE(run(store.update(b, jobs::status::processing)).value());
        a.progress = 50;
        a.polled_at += 2000;
        REQUIRE(run(store.update(a, jobs::status::processing)).value());
    }
    // A crash in the middle of an append leaves half a line.
    {
        std::ofstream out(path, std::ios::app | std::ios::binary);
        out << R"({"id":"video_3","status":"proc)";
    }
    jobs::file_store again(path, 2h, now);
    auto ra = run(again.find("video_1")).value();
    auto rb = run(again.find("video_2")).value();
    REQUIRE(ra);
    REQUIRE(rb);
    CHECK(*ra == a);
    CHECK(*rb == b);
    CHECK_FALSE(run(again.find("video_3")).value());
    // Reopening compacted the log: one line per job, no temp file left behind.
    std::ifstream in(path);
    int lines = 0;
    for (std::string line; std::getline(in, line);) lines += !line.empty();
    CHECK(lines == 2);
    CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("file store: purged jobs are not reloaded") {
    auto dir = temp_dir();
    auto path = dir / "jobs.jsonl";
    clock_type clock(std::chrono::system_clock::time_point(1'700'000'000'000ms));
    auto now = [clock] { return clock.now(); };
    {
        jobs::file_store store(path, 1h, now);
        auto j = sample("video_old", jobs::to_millis(clock.now()));
        REQUIRE(run(store.create(j)));
        complete(j, jobs::to_millis(clock.now()), 1h);
        REQUIRE(run(store.update(j, jobs::status::processing)).value());
    }
    clock.advance(1h + 1s);
    {
        jobs::file_store store(path, 1h, now);
        auto j = run(store.find("video_old")).value();
        REQUIRE(j);
        CHECK(j->expired(jobs::to_millis(clock.now())));
    }
    clock.advance(1h);
    jobs::file_store store(path, 1h, now);
    CHECK_FALSE(run(store.find("video_old")).value());
    std::filesystem::remove_all(dir);
}

TEST_CASE("file store: an unwritable folder is a clear error") {
    CHECK_THROWS_WITH(jobs::file_store("/proc/sluice-no/jobs.jsonl", 1h), Catch::Contains("/proc/sluice-no"));
}

#ifdef SLUICE_REDIS_SERVER

namespace {

std::uint16_t free_port() {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

// A real redis-server of our own on a loopback port, killed when the test ends.
class redis_server {
public:
    redis_server() : port_(free_port()) {
        std::string port = std::to_string(port_);
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            execl(SLUICE_REDIS_SERVER, "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--loglevel", "warning", (char*)nullptr);
            _exit(127);
        }
        auto deadline = std::chrono::steady_clock::now() + 30s;
        while (!answers_ping()) {
            int status = 0;
            REQUIRE(waitpid(pid_, &status, WNOHANG) == 0);
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(20ms);
        }
    }
    ~redis_server() {
        kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
    }
    std::uint16_t port() const { return port_; }

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

// One replica: its own io_context, thread and client, the shared Redis.
struct replica {
    explicit replica(std::uint16_t port) : guard(net::make_work_guard(io)), thread([this] { io.run(); }) {
        redis::client_options o;
        o.port = port;
        o.command_timeout = 5s;
        o.connect_timeout = 5s;
        client = std::make_shared<redis::client>(io.get_executor(), o);
        store.emplace(client, 2h, "test:job:");
    }
    ~replica() {
        store.reset();
        client.reset();
        guard.reset();
        io.stop();
        thread.join();
    }
    template <class T>
    T wait(net::awaitable<T> a) {
        std::promise<T> promise;
        auto future = promise.get_future();
        net::co_spawn(io, deliver(std::move(a), promise), net::detached);
        return future.get();
    }
    template <class T>
    static net::awaitable<void> deliver(net::awaitable<T> a, std::promise<T>& promise) {
        try {
            auto v = co_await std::move(a);
            promise.set_value(std::move(v));
        } catch (...) {
            promise.set_exception(std::current_exception());
        }
    }

    net::io_context io;
    net::executor_work_guard<net::io_context::executor_type> guard;
    std::thread thread;
    std::shared_ptr<redis::client> client;
    std::optional<jobs::redis_store> store;
};

net::awaitable<core::result<redis::reply>> command(redis::client& c, std::vector<std::string> args) {
    auto r = co_await c.command(std::move(args));
    co_return r;
}

} // namespace

TEST_CASE("redis store: a job made on one replica is read and finished on another") {
    redis_server server;
    replica a(server.port()), b(server.port());
    const auto now = jobs::to_millis(std::chrono::system_clock::now());
    auto j = sample("video_r1", now);
    REQUIRE(a.wait(a.store->create(j)));
    auto seen = b.wait(b.store->find("video_r1"));
    REQUIRE(seen);
    REQUIRE(seen.value());
    CHECK(*seen.value() == j);
    CHECK_FALSE(b.wait(b.store->find("video_none")).value());

    auto done = j;
    complete(done, now, 2h);
    auto won = b.wait(b.store->update(done, jobs::status::processing));
    REQUIRE(won);
    CHECK(won.value());
    auto lost = a.wait(a.store->update(done, jobs::status::processing));
    REQUIRE(lost);
    CHECK_FALSE(lost.value());
    CHECK(a.wait(a.store->find("video_r1")).value()->status == jobs::status::completed);

    // The key lives until the tombstone may go: expiry plus one more ttl.
    auto ttl = a.wait(command(*a.client, {"PTTL", "test:job:video_r1"}));
    REQUIRE(ttl);
    auto ms = ttl.value().as_integer().value_or(-1);
    CHECK(ms > std::chrono::duration_cast<std::chrono::milliseconds>(4h - 1min).count());
    CHECK(ms <= std::chrono::duration_cast<std::chrono::milliseconds>(4h).count());
}

TEST_CASE("redis store: a finished job past its purge time is gone") {
    redis_server server;
    replica a(server.port());
    const auto now = jobs::to_millis(std::chrono::system_clock::now());
    auto j = sample("video_r2", now - 10 * 3600 * 1000);
    REQUIRE(a.wait(a.store->create(j)));
    complete(j, now - 5 * 3600 * 1000, 2h); // expired 3h ago, purged 1h ago
    REQUIRE(a.wait(a.store->update(j, jobs::status::processing)).value());
    CHECK_FALSE(a.wait(a.store->find("video_r2")).value());
}

TEST_CASE("redis store: a store that cannot be reached is an error not a missing job") {
    auto port = free_port();
    replica a(port);
    auto r = a.wait(a.store->find("video_x"));
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == core::error_kind::overloaded);
}

#endif
