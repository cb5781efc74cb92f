#ifndef SLUICE_JOBS_STORE_HPP
#define SLUICE_JOBS_STORE_HPP

// Where jobs are kept. Three stores satisfy one concept:
//
//   memory_store  this process only; gone at a restart
//   file_store    memory, plus an fsync'd append-only log it reloads after a restart
//   redis_store   (redis_store.hpp) shared by replicas: one submits, any polls and reads
//
// update() is a compare-and-set on the status: of two replicas that both saw an upstream job
// finish, one records it (and meters it) and the other learns that it lost.
//
// A store forgets a finished job at its purge time (expiry plus one more ttl, a tombstone).

#include <sluice/core/error.hpp>
#include <sluice/core/log.hpp>
#include <sluice/core/result.hpp>
#include <sluice/jobs/job.hpp>

#include <boost/asio/awaitable.hpp>

#include <cerrno>
#include <concepts>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unistd.h>
#include <utility>

namespace sluice::jobs {

template <class T>
using awaitable = boost::asio::awaitable<T>;

/// \concept job_store
///   co_await s.create(job)                -> core::result<void>
///   co_await s.find(id)                   -> core::result<std::optional<job>>   nullopt: unknown or purged
///   co_await s.update(job, expected)      -> core::result<bool>   false: the stored status was not `expected`
template <class S>
concept job_store = requires(S& s, const job& j, std::string id, status expected) {
    { s.create(j) } -> std::same_as<awaitable<core::result<void>>>;
    { s.find(id) } -> std::same_as<awaitable<core::result<std::optional<job>>>>;
    { s.update(j, expected) } -> std::same_as<awaitable<core::result<bool>>>;
};

/// A store chosen at run time (the config names it).
class any_store {
public:
    virtual ~any_store() = default;
    virtual awaitable<core::result<void>> create(const job& j) = 0;
    virtual awaitable<core::result<std::optional<job>>> find(std::string id) = 0;
    virtual awaitable<core::result<bool>> update(const job& j, status expected) = 0;
};

template <job_store S>
class erased_store final : public any_store {
public:
    template <class... Args>
    explicit erased_store(Args&&... args) : impl_(std::forward<Args>(args)...) {}
    awaitable<core::result<void>> create(const job& j) override { return impl_.create(j); }
    awaitable<core::result<std::optional<job>>> find(std::string id) override { return impl_.find(std::move(id)); }
    awaitable<core::result<bool>> update(const job& j, status expected) override { return impl_.update(j, expected); }
    S& impl() noexcept { return impl_; }

private:
    S impl_;
};

/// Jobs in this process's memory; safe from any thread.
class memory_store {
public:
    /// ttl: how long a finished job's result is kept (its tombstone stays as long again).
    explicit memory_store(std::chrono::milliseconds ttl, clock_fn clock = [] { return std::chrono::system_clock::now(); })
        : ttl_(ttl.count()), clock_(std::move(clock)) {}

    awaitable<core::result<void>> create(const job& j) {
        std::lock_guard lock(mu_);
        put(j);
        co_return core::result<void>();
    }

    awaitable<core::result<std::optional<job>>> find(std::string id) {
        std::lock_guard lock(mu_);
        co_return core::result<std::optional<job>>(get(id));
    }

    awaitable<core::result<bool>> update(const job& j, status expected) {
        std::lock_guard lock(mu_);
        co_return core::result<bool>(swap(j, expected));
    }

    /// The jobs held now, purged ones dropped (the file store writes these when it compacts).
    std::vector<job> snapshot() {
        std::lock_guard lock(mu_);
        sweep();
        std::vector<job> out;
        out.reserve(jobs_.size());
        for (const auto& [id, j] : jobs_) out.push_back(j);
        return out;
    }

protected:
    // The unlocked operations, for the file store that holds mu_ around its log write too.
    void put(const job& j) {
        if (++writes_ % 256 == 0) sweep();
        jobs_.insert_or_assign(j.id, j);
    }

    std::optional<job> get(const std::string& id) {
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return std::nullopt;
        if (gone(it->second)) {
            jobs_.erase(it);
            return std::nullopt;
        }
        return it->second;
    }

    bool swap(const job& j, status expected) {
        auto it = jobs_.find(j.id);
        if (it == jobs_.end() || gone(it->second) || it->second.status != expected) return false;
        it->second = j;
        return true;
    }

    bool gone(const job& j) const {
        auto at = j.purge_at(ttl_);
        return at != 0 && to_millis(clock_()) >= at;
    }

    void sweep() {
        for (auto it = jobs_.begin(); it != jobs_.end();)
            it = gone(it->second) ? jobs_.erase(it) : std::next(it);
    }

    std::mutex mu_;
    millis ttl_;
    clock_fn clock_;
    std::map<std::string, job, std::less<>> jobs_;
    std::uint64_t writes_ = 0;
};

/// memory_store plus an append-only log of JSON lines, one per write, fsync'd before the write
/// returns. Opening replays the log (the last line per job wins; a torn last line of a crash is
/// skipped) and rewrites it compacted: a temp file, fsync'd, renamed over the log.
class file_store : public memory_store {
public:
    /// Throws std::runtime_error naming the file when it cannot be read or written.
    file_store(std::filesystem::path path, std::chrono::milliseconds ttl,
               clock_fn clock = [] { return std::chrono::system_clock::now(); })
        : memory_store(ttl, std::move(clock)), path_(std::move(path)) {
        std::error_code ec;
        if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), ec);
        if (ec) throw std::runtime_error("cannot create " + path_.parent_path().string() + ": " + ec.message());
        load();
        compact();
    }

    ~file_store() {
        if (fd_ >= 0) ::close(fd_);
    }

    file_store(const file_store&) = delete;
    file_store& operator=(const file_store&) = delete;

    awaitable<core::result<void>> create(const job& j) {
        std::lock_guard lock(mu_);
        if (auto e = append(j)) co_return *e;
        put(j);
        co_return core::result<void>();
    }

    awaitable<core::result<std::optional<job>>> find(std::string id) {
        std::lock_guard lock(mu_);
        co_return core::result<std::optional<job>>(get(id));
    }

    awaitable<core::result<bool>> update(const job& j, status expected) {
        std::lock_guard lock(mu_);
        auto it = jobs_.find(j.id);
        if (it == jobs_.end() || gone(it->second) || it->second.status != expected) co_return core::result<bool>(false);
        if (auto e = append(j)) co_return *e;
        it->second = j;
        if (lines_ > 2 * jobs_.size() + 1024) {
            // Compaction is an optimisation: the log already holds this write.
            try {
                sweep();
                rewrite();
            } catch (const std::exception& e) {
                log::warn("job_store_compaction_failed", {{"file", path_.string()}, {"error", e.what()}});
            }
        }
        co_return core::result<bool>(true);
    }

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    void load() {
        std::ifstream in(path_, std::ios::binary);
        if (!in) return; // no log yet
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            if (auto j = parse_job(line)) jobs_.insert_or_assign(j->id, std::move(*j));
        }
        sweep();
    }

    void compact() {
        std::lock_guard lock(mu_);
        rewrite();
    }

    /// The live jobs to a temp file, fsync'd, renamed over the log; the log reopened for appends.
    void rewrite() {
        auto tmp = path_;
        tmp += ".tmp";
        {
            int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
            std::string text;
            for (const auto& [id, j] : jobs_) text += serialize(j) + "\n";
            bool ok = write_all(fd, text) && ::fsync(fd) == 0;
            int err = errno;
            ::close(fd);
            if (!ok) throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(err));
        }
        if (::rename(tmp.c_str(), path_.c_str()) != 0)
            throw std::runtime_error("cannot replace " + path_.string() + ": " + std::strerror(errno));
        sync_dir();
        if (fd_ >= 0) ::close(fd_);
        fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd_ < 0) throw std::runtime_error("cannot open " + path_.string() + ": " + std::strerror(errno));
        lines_ = jobs_.size();
    }

    std::optional<core::error> append(const job& j) {
        std::string line = serialize(j) + "\n";
        if (!write_all(fd_, line) || ::fdatasync(fd_) != 0)
            return core::error{core::error_kind::internal,
                               "the job store " + path_.string() + " cannot be written: " + std::strerror(errno), {},
                               "job_store_unavailable"};
        ++lines_;
        return std::nullopt;
    }

    static bool write_all(int fd, std::string_view text) {
        while (!text.empty()) {
            auto n = ::write(fd, text.data(), text.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            text.remove_prefix(std::size_t(n));
        }
        return true;
    }

    void sync_dir() {
        auto dir = path_.has_parent_path() ? path_.parent_path() : std::filesystem::path(".");
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
    }

    std::filesystem::path path_;
    int fd_ = -1;
    std::size_t lines_ = 0;
};

static_assert(job_store<memory_store>);
static_assert(job_store<file_store>);

} // namespace sluice::jobs

#endif
