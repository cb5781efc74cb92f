#ifndef SLUICE_TESTS_METERING_SUPPORT_HPP
#define SLUICE_TESTS_METERING_SUPPORT_HPP

// What the metering tests share: a scratch directory, bounded waits, events, and a real
// redis-server on a free loopback port.

#include <sluice/metering/event.hpp>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace metering_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// A fresh directory under the temp dir, removed with everything in it.
class scratch_dir {
public:
    scratch_dir() {
        std::string tmpl = (fs::temp_directory_path() / "sluice-metering-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~scratch_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const fs::path& path() const noexcept { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

/// Polls `done` until it holds or `limit` passes (generous: the machine is shared and slow).
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 60s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= end) return done();
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

inline sluice::metering::usage_event make_event(std::string id, std::uint64_t n = 0) {
    sluice::metering::usage_event e;
    e.request_id = std::move(id);
    e.account = "acct-" + std::to_string(n % 7);
    e.key_id = "key-1";
    e.model = "gpt-4o-mini";
    e.provider = "openai";
    e.endpoint = "chat.completions";
    e.input_tokens = 100 + n;
    e.output_tokens = 20 + n % 13;
    e.cost_usd = 0.000125 * double(n + 1);
    e.latency_ms = 12.5;
    e.status = 200;
    e.ts_ms = 1'760'000'000'000 + std::int64_t(n);
    return e;
}

inline std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::vector<std::string> read_lines(const fs::path& p) {
    std::vector<std::string> lines;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

/// Where two lists of lines first differ, -1 when they are equal: a failure prints one number
/// rather than thousands of lines.
inline long first_difference(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i)
        if (a[i] != b[i]) return long(i);
    return a.size() == b.size() ? -1 : long(n);
}

/// A loopback port nobody listens on right now.
inline unsigned free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("no free port");
    ::close(fd);
    return ntohs(a.sin_port);
}

using reply_ptr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

/// A blocking client for the test's own checks.
class redis_client {
public:
    explicit redis_client(unsigned port) {
        ctx_ = redisConnectWithTimeout("127.0.0.1", int(port), timeval{5, 0});
        if (!ctx_ || ctx_->err) throw std::runtime_error("redis connect failed");
        redisSetTimeout(ctx_, timeval{10, 0});
    }
    ~redis_client() { redisFree(ctx_); }
    redis_client(const redis_client&) = delete;
    redis_client& operator=(const redis_client&) = delete;

    reply_ptr command(const std::vector<std::string>& args) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        auto* r = static_cast<redisReply*>(redisCommandArgv(ctx_, int(argv.size()), argv.data(), lens.data()));
        if (!r) throw std::runtime_error("redis command failed");
        return reply_ptr(r, &freeReplyObject);
    }

    long long integer(const std::vector<std::string>& args) {
        auto r = command(args);
        if (r->type != REDIS_REPLY_INTEGER) throw std::runtime_error("not an integer reply");
        return r->integer;
    }

private:
    redisContext* ctx_ = nullptr;
};

#ifdef SLUICE_REDIS_SERVER
/// A real redis-server of our own. `persist`: an append-only file fsync'd on every write, so a
/// SIGKILL and a restart in the same directory keep what it acknowledged.
class redis_server {
public:
    explicit redis_server(fs::path dir, unsigned port = 0, bool persist = false)
        : dir_(std::move(dir)), port_(port ? port : free_port()), persist_(persist) {
        start();
    }
    ~redis_server() { kill(SIGKILL); }
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    unsigned port() const noexcept { return port_; }
    bool running() const noexcept { return pid_ > 0; }

    void start() {
        std::vector<std::string> args{SLUICE_REDIS_SERVER, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                      "--save", "", "--dir", dir_.string(), "--logfile",
                                      (dir_ / "redis.log").string()};
        if (persist_) args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
        else args.insert(args.end(), {"--appendonly", "no"});
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
            throw std::runtime_error("cannot start redis-server");
        const auto end = std::chrono::steady_clock::now() + 30s;
        for (;;) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("redis-server exited at start: " + read_file(dir_ / "redis.log"));
            }
            if (ping()) return;
            if (std::chrono::steady_clock::now() > end) throw std::runtime_error("redis-server did not answer");
            std::this_thread::sleep_for(20ms);
        }
    }

    void kill(int sig) {
        if (pid_ <= 0) return;
        ::kill(pid_, sig);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

private:
    bool ping() const {
        redisContext* c = redisConnectWithTimeout("127.0.0.1", int(port_), timeval{0, 200'000});
        bool ok = false;
        if (c && !c->err) {
            redisSetTimeout(c, timeval{1, 0});
            if (auto* r = static_cast<redisReply*>(redisCommand(c, "PING"))) {
                ok = r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG";
                freeReplyObject(r);
            }
        }
        if (c) redisFree(c);
        return ok;
    }

    fs::path dir_;
    unsigned port_;
    bool persist_;
    pid_t pid_ = -1;
};
#endif

} // namespace metering_test

#endif
