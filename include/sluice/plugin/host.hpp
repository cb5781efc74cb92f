#ifndef SLUICE_PLUGIN_HOST_HPP
#define SLUICE_PLUGIN_HOST_HPP

// Finds plugins by name and opens them. A plugin named `openai` is the file sluice_openai.so,
// looked for in this order (the first hit wins):
//   1. each folder of $SLUICE_PLUGIN_PATH (colon-separated), read when the host is built
//   2. the extra folders the app config names
//   3. beside the running binary: its folder, plugins/, ../plugins, ../lib/sluice/plugins
//   4. the build tree's plugin folder (the app passes SLUICE_BUILD_PLUGIN_DIR)
// A name that contains '/' or ends in ".so" is a path and is used as it is.
//
// Failures come back as plugin_error values; whether a plugin the config names is fatal is the
// caller's choice. Opened libraries are shared while something uses them, never pinned.

#include <sluice/plugin/library.hpp>

#include <boost/dll/runtime_symbol_info.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sluice::plugin {

class host {
public:
    explicit host(std::vector<std::filesystem::path> extra_dirs = {},
                  std::optional<std::filesystem::path> build_dir = std::nullopt) {
        if (const char* env = std::getenv("SLUICE_PLUGIN_PATH")) {
            std::string_view rest(env);
            while (!rest.empty()) {
                auto colon = rest.find(':');
                add_dir(std::filesystem::path(std::string(rest.substr(0, colon))));
                rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
            }
        }
        for (auto& d : extra_dirs) add_dir(std::move(d));
        boost::dll::fs::error_code ec;
        auto program = boost::dll::program_location(ec);
        if (!ec) {
            std::filesystem::path bin = std::filesystem::path(program.string()).parent_path();
            add_dir(bin);
            add_dir(bin / "plugins");
            add_dir(bin / ".." / "plugins");
            add_dir(bin / ".." / "lib" / "sluice" / "plugins");
        }
        if (build_dir) add_dir(std::move(*build_dir));
    }

    /// The folders searched for a plugin name, in order.
    const std::vector<std::filesystem::path>& search_path() const noexcept { return dirs_; }

    /// The file a plugin name stands for: "openai" -> "sluice_openai.so".
    static std::string file_name(std::string_view plugin) { return "sluice_" + std::string(plugin) + ".so"; }

    static bool is_path(std::string_view plugin) noexcept {
        return plugin.find('/') != std::string_view::npos ||
               (plugin.size() >= 3 && plugin.substr(plugin.size() - 3) == ".so");
    }

    /// Where `plugin` lives, or not_found naming every path tried.
    result<std::filesystem::path, plugin_error> locate(std::string_view plugin) const {
        std::error_code ec;
        if (is_path(plugin)) {
            std::filesystem::path p{std::string(plugin)};
            if (std::filesystem::is_regular_file(p, ec)) return std::filesystem::absolute(p, ec);
            return plugin_error{plugin_error_kind::not_found, std::string(plugin),
                                "plugin " + std::string(plugin) + " not found: no file " + p.string()};
        }
        const std::string file = file_name(plugin);
        std::string tried;
        for (const auto& dir : dirs_) {
            auto candidate = dir / file;
            if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
            tried += tried.empty() ? "" : ", ";
            tried += candidate.string();
        }
        return plugin_error{plugin_error_kind::not_found, std::string(plugin),
                            "plugin " + std::string(plugin) + " not found; searched: " +
                                (tried.empty() ? std::string("(no folders)") : tried)};
    }

    /// The opened, checked library for `plugin`; shared with earlier callers while they hold it.
    result<std::shared_ptr<const plugin_library>, plugin_error> open(std::string_view plugin) {
        auto file = locate(plugin);
        if (!file) return std::move(file).error();
        std::error_code ec;
        auto key = std::filesystem::weakly_canonical(*file, ec);
        if (ec) key = *file;

        std::lock_guard lock(mutex_);
        if (auto it = opened_.find(key); it != opened_.end())
            if (auto lib = it->second.lock()) return lib;
        auto lib = plugin_library::open(key);
        if (lib) opened_[key] = *lib;
        return lib;
    }

    /// A provider from plugin `plugin`, configured by `config`.
    result<std::shared_ptr<provider>, plugin_error> create_provider(std::string_view plugin,
                                                                   const provider_config& config) {
        auto lib = open(plugin);
        if (!lib) return std::move(lib).error();
        return (*lib)->create_provider(config);
    }

    /// An empty kernel from plugin `plugin`; load() it next.
    result<std::shared_ptr<kernel>, plugin_error> create_kernel(std::string_view plugin) {
        auto lib = open(plugin);
        if (!lib) return std::move(lib).error();
        return (*lib)->create_kernel();
    }

private:
    void add_dir(std::filesystem::path dir) {
        if (dir.empty()) return;
        dir = dir.lexically_normal();
        if (!dir.has_filename() && dir.has_parent_path()) dir = dir.parent_path(); // drop a trailing slash
        for (const auto& d : dirs_)
            if (d == dir) return;
        dirs_.push_back(std::move(dir));
    }

    std::vector<std::filesystem::path> dirs_;
    std::mutex mutex_;
    // Weak: a library unloads once nothing made from it is alive, host or no host.
    std::map<std::filesystem::path, std::weak_ptr<const plugin_library>> opened_;
};

} // namespace sluice::plugin

#endif
