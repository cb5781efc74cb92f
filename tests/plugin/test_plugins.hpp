#ifndef SLUICE_TESTS_PLUGIN_TEST_PLUGINS_HPP
#define SLUICE_TESTS_PLUGIN_TEST_PLUGINS_HPP

// Where the test plugins are, and a way to read what the host logs.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <unistd.h>

namespace sluice_test {

inline std::filesystem::path plugin_dir() { return SLUICE_TEST_PLUGIN_DIR; }

/// The built test plugin `name` ("test_echo" -> .../plugins/sluice_test_echo.so).
inline std::filesystem::path plugin_file(std::string_view name) {
    return plugin_dir() / ("sluice_" + std::string(name) + ".so");
}

/// Sends file descriptor 2 to a temporary file while it lives; the log writes there.
class stderr_capture {
public:
    stderr_capture() {
        std::fflush(stderr);
        char name[] = "/tmp/sluice-stderr-XXXXXX";
        int fd = ::mkstemp(name);
        file_ = name;
        saved_ = ::dup(2);
        ::dup2(fd, 2);
        ::close(fd);
    }
    ~stderr_capture() {
        std::fflush(stderr);
        ::dup2(saved_, 2);
        ::close(saved_);
        std::filesystem::remove(file_);
    }
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;

    std::string text() const {
        std::fflush(stderr);
        std::ifstream in(file_);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

private:
    std::filesystem::path file_;
    int saved_ = -1;
};

/// A fresh empty folder under the system temp folder, removed with its content when it dies.
class scratch_dir {
public:
    scratch_dir() {
        char name[] = "/tmp/sluice-plugins-XXXXXX";
        path_ = ::mkdtemp(name);
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    /// Copies a built plugin in under `as` (a file name).
    std::filesystem::path add(std::string_view plugin, std::string_view as) const {
        auto to = path_ / std::string(as);
        std::filesystem::copy_file(plugin_file(plugin), to, std::filesystem::copy_options::overwrite_existing);
        return to;
    }

private:
    std::filesystem::path path_;
};

/// Sets an environment variable while it lives.
class scoped_env {
public:
    scoped_env(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old, had_ = true;
        ::setenv(name, value.c_str(), 1);
    }
    ~scoped_env() {
        if (had_) ::setenv(name_, old_.c_str(), 1);
        else ::unsetenv(name_);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* name_;
    std::string old_;
    bool had_ = false;
};

} // namespace sluice_test

#endif
