#include <sluice/plugin/host.hpp>

#include "test_plugins.hpp"

#include <catch2/catch.hpp>

#include <dlfcn.h>

using namespace sluice;
using sluice_test::plugin_file;

namespace {

plugin::provider_config config_named(std::string name) { return {std::move(name), "https://x.test", "k", {}, {}}; }

core::envelope hello() {
    core::envelope e;
    e.model = "m";
    e.messages.push_back(core::message::user("hi"));
    return e;
}

/// Whether the dynamic loader still has `file` mapped, without loading it.
bool is_mapped(const std::filesystem::path& file) {
    void* h = ::dlopen(file.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (h) ::dlclose(h);
    return h != nullptr;
}

} // namespace

TEST_CASE("the host finds a plugin by name and creates a working provider", "[plugin][host]") {
    plugin::host host({sluice_test::plugin_dir()});
    auto file = host.locate("test_echo");
    REQUIRE(file);
    CHECK(*file == plugin_file("test_echo"));

    auto lib = host.open("test_echo");
    REQUIRE(lib);
    CHECK((*lib)->info().kind == "provider");
    CHECK((*lib)->info().name == "echo");
    CHECK((*lib)->info().version == "1.2.3");
    CHECK((*lib)->info().abi.major == SLUICE_PLUGIN_ABI_MAJOR);

    auto p = host.create_provider("test_echo", config_named("e"));
    REQUIRE(p);
    CHECK((*p)->build_request(hello()));
}

TEST_CASE("a plugin built for another major ABI is refused with one log line", "[plugin][host]") {
    const auto file = plugin_file("test_newer_major").string();
    sluice_test::stderr_capture log;
    auto lib = plugin::plugin_library::open(file);
    REQUIRE_FALSE(lib);
    CHECK(lib.error().kind == plugin::plugin_error_kind::abi_mismatch);
    const auto theirs = plugin::to_string({SLUICE_PLUGIN_ABI_MAJOR + 1, SLUICE_PLUGIN_ABI_MINOR});
    const auto ours = plugin::to_string(plugin::host_abi);
    CHECK_THAT(lib.error().message, Catch::Contains(file) && Catch::Contains("ABI " + theirs) && Catch::Contains(ours));

    const auto text = log.text();
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK_THAT(text, Catch::Contains(R"("level":"warn")") && Catch::Contains(R"("event":"plugin_refused")") &&
                         Catch::Contains(file) && Catch::Contains(R"("plugin_abi":")" + theirs + '"') &&
                         Catch::Contains(R"("host_abi":")" + ours + '"'));
}

TEST_CASE("a plugin built for a newer minor ABI is refused, an older minor accepted", "[plugin][host]") {
    const auto file = plugin_file("test_newer_minor").string();
    const plugin::abi_version theirs{SLUICE_PLUGIN_ABI_MAJOR, SLUICE_PLUGIN_ABI_MINOR + 1};

    SECTION("newer than this host: refused") {
        sluice_test::stderr_capture log;
        auto lib = plugin::plugin_library::open(file);
        REQUIRE_FALSE(lib);
        CHECK(lib.error().kind == plugin::plugin_error_kind::abi_mismatch);
        CHECK_THAT(log.text(), Catch::Contains("plugin_refused") && Catch::Contains(plugin::to_string(theirs)));
    }
    SECTION("older than a host one minor ahead of it: accepted and working") {
        const plugin::abi_version newer_host{theirs.major, theirs.minor + 1};
        auto lib = plugin::plugin_library::open(file, newer_host);
        REQUIRE(lib);
        CHECK((*lib)->info().abi.minor == theirs.minor);
        auto p = (*lib)->create_provider(config_named("v"));
        REQUIRE(p);
        CHECK((*p)->build_request(hello())->path == "/v");
    }
}

TEST_CASE("a plugin without its factory is refused as missing a symbol", "[plugin][host]") {
    sluice_test::stderr_capture log;
    auto lib = plugin::plugin_library::open(plugin_file("test_no_factory"));
    REQUIRE_FALSE(lib);
    CHECK(lib.error().kind == plugin::plugin_error_kind::missing_symbol);
    CHECK_THAT(lib.error().message, Catch::Contains("sluice_create_provider"));
    CHECK_THAT(log.text(), Catch::Contains("plugin_refused"));
}

TEST_CASE("a library that is no sluice plugin is refused before anything is imported", "[plugin][host]") {
    sluice_test::stderr_capture log;
    auto lib = plugin::plugin_library::open(plugin_file("test_not_a_plugin"));
    REQUIRE_FALSE(lib);
    CHECK(lib.error().kind == plugin::plugin_error_kind::missing_symbol);
    CHECK_THAT(lib.error().message, Catch::Contains("sluice_plugin_abi"));
}

TEST_CASE("a plugin of the wrong kind is refused", "[plugin][host]") {
    plugin::host host({sluice_test::plugin_dir()});

    SECTION("a kernel asked for as a provider") {
        auto p = host.create_provider("test_counter", config_named("c"));
        REQUIRE_FALSE(p);
        CHECK(p.error().kind == plugin::plugin_error_kind::wrong_kind);
        CHECK_THAT(p.error().message, Catch::Contains("is a kernel plugin, not a provider"));
    }
    SECTION("a provider asked for as a kernel") {
        auto k = host.create_kernel("test_echo");
        REQUIRE_FALSE(k);
        CHECK(k.error().kind == plugin::plugin_error_kind::wrong_kind);
    }
    SECTION("a kind this host does not know") {
        sluice_test::stderr_capture log;
        auto lib = host.open("test_odd_kind");
        REQUIRE_FALSE(lib);
        CHECK(lib.error().kind == plugin::plugin_error_kind::wrong_kind);
        CHECK_THAT(lib.error().message, Catch::Contains("tokenizer"));
    }
}

TEST_CASE("a factory that throws gives a clean error with the exception's message", "[plugin][host]") {
    plugin::host host({sluice_test::plugin_dir()});
    auto p = host.create_provider("test_throwing", config_named("bedrock"));
    REQUIRE_FALSE(p);
    CHECK(p.error().kind == plugin::plugin_error_kind::factory_failed);
    CHECK_THAT(p.error().message, Catch::Contains("provider bedrock: options.region is required"));
}

TEST_CASE("a plugin not found names every path searched", "[plugin][host]") {
    sluice_test::scratch_dir a, b;
    plugin::host host({a.path(), b.path()});
    auto p = host.create_provider("nowhere", config_named("n"));
    REQUIRE_FALSE(p);
    CHECK(p.error().kind == plugin::plugin_error_kind::not_found);
    CHECK(p.error().plugin == "nowhere");
    for (const auto& dir : host.search_path())
        CHECK_THAT(p.error().message, Catch::Contains((dir / "sluice_nowhere.so").string()));

    SECTION("a path is taken as it is") {
        auto q = host.locate((a.path() / "sluice_gone.so").string());
        REQUIRE_FALSE(q);
        CHECK_THAT(q.error().message, Catch::Contains((a.path() / "sluice_gone.so").string()));
    }
}

TEST_CASE("the search path puts SLUICE_PLUGIN_PATH first, then config, binary, build tree", "[plugin][host]") {
    sluice_test::scratch_dir env1, env2, config, build;
    sluice_test::scoped_env env("SLUICE_PLUGIN_PATH", env1.path().string() + ":" + env2.path().string() + ":");
    plugin::host host({config.path()}, build.path());

    const auto& dirs = host.search_path();
    REQUIRE(dirs.size() >= 5);
    CHECK(dirs[0] == env1.path());
    CHECK(dirs[1] == env2.path());
    CHECK(dirs[2] == config.path());
    CHECK(dirs.back() == build.path());
    const auto bin = std::filesystem::path(boost::dll::program_location().string()).parent_path();
    CHECK(std::find(dirs.begin(), dirs.end(), bin) != dirs.end());
    CHECK(std::find(dirs.begin(), dirs.end(), (bin / ".." / "lib" / "sluice" / "plugins").lexically_normal()) !=
          dirs.end());

    SECTION("the first folder that has the file wins") {
        build.add("test_echo", "sluice_dup.so");
        config.add("test_echo", "sluice_dup.so");
        CHECK(*host.locate("dup") == config.path() / "sluice_dup.so");
        env2.add("test_echo", "sluice_dup.so");
        CHECK(*host.locate("dup") == env2.path() / "sluice_dup.so");
    }
    SECTION("the build tree is the last resort") {
        build.add("test_echo", "sluice_late.so");
        CHECK(*host.locate("late") == build.path() / "sluice_late.so");
    }
}

TEST_CASE("a plugin stays loaded while anything it made lives, and unloads after", "[plugin][host]") {
    sluice_test::scratch_dir dir;
    const auto file = dir.add("test_echo", "sluice_lifetime.so");
    REQUIRE_FALSE(is_mapped(file));

    std::shared_ptr<plugin::provider> p;
    {
        plugin::host host({dir.path()});
        auto made = host.create_provider("lifetime", config_named("l"));
        REQUIRE(made);
        p = std::move(made).value();
        CHECK(is_mapped(file));
    } // the host is gone

    CHECK(is_mapped(file));
    REQUIRE(p->build_request(hello()));
    auto decoder = p->make_stream_decoder(hello());
    REQUIRE(decoder);

    p.reset(); // the decoder alone still holds the library
    CHECK(is_mapped(file));
    std::vector<core::event> out;
    (*decoder)->feed("still here\n[DONE]\n", out);
    CHECK(core::find_error(out) == nullptr);

    decoder = core::error{};
    CHECK_FALSE(is_mapped(file));
}

TEST_CASE("the host shares one opened library between callers", "[plugin][host]") {
    plugin::host host({sluice_test::plugin_dir()});
    auto a = host.open("test_echo");
    auto b = host.open(plugin_file("test_echo").string());
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->get() == b->get());
}

TEST_CASE("plugin names are files, and names with a slash or .so are paths", "[plugin][host]") {
    CHECK(plugin::host::file_name("openai") == "sluice_openai.so");
    CHECK(plugin::host::is_path("./sluice_x.so"));
    CHECK(plugin::host::is_path("sluice_x.so"));
    CHECK(plugin::host::is_path("/opt/p/x"));
    CHECK_FALSE(plugin::host::is_path("openai"));
}

TEST_CASE("a plugin error reads as an internal error for a client", "[plugin][host]") {
    plugin::plugin_error e{plugin::plugin_error_kind::abi_mismatch, "openai", "refused"};
    auto c = plugin::to_core_error(e);
    CHECK(c.kind == core::error_kind::internal);
    CHECK(c.code == "plugin_abi_mismatch");
}
