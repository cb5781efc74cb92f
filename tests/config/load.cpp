#include <sluice/config/load.hpp>

#include <catch2/catch.hpp>

#include <map>

using namespace sluice::config;
using namespace std::chrono_literals;

namespace {

const std::string data_dir = SLUICE_TEST_DATA_DIR "/config";

env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

gateway_config load(std::string_view yaml, std::map<std::string, std::string> vars = {}) {
    return load_string(yaml, "gw.yaml", env_of(std::move(vars)));
}

/// The config_error that loading yaml throws; fails the test when it loads.
config_error error_of(std::string_view yaml, std::map<std::string, std::string> vars = {}) {
    try {
        load(yaml, std::move(vars));
    } catch (const config_error& e) { return e; }
    FAIL("the config loaded without an error");
    throw std::logic_error("unreachable");
}

constexpr std::string_view two_providers = R"(providers:
  - name: openai
    plugin: openai
    base_url: https://api.openai.com/v1
  - name: anthropic
    plugin: anthropic
    base_url: https://api.anthropic.com
)";

} // namespace

TEST_CASE("a full config loads every key to its value", "[config]") {
    auto cfg = load_file(data_dir + "/full.yaml", env_of({{"OPENAI_API_KEY", "sk-test"}}));
    CHECK(cfg.source == data_dir + "/full.yaml");
    CHECK(cfg.listen.host == "::1");
    CHECK(cfg.listen.port == 9090);
    CHECK(cfg.threads == 3);

    SECTION("server") {
        const auto& s = cfg.server;
        CHECK(s.header_timeout == 5s);
        CHECK(s.body_timeout == 2min);
        CHECK(s.idle_timeout == 1h);
        CHECK(s.write_timeout == 1500ms);
        CHECK(s.drain_timeout == 0ms);
        CHECK(s.body_limit == 1ull << 30);
        CHECK(s.header_limit == 64u << 10);
        REQUIRE(s.tls);
        CHECK(s.tls->cert_file ==
              std::filesystem::path(SLUICE_TEST_DATA_DIR "/tls/localhost.crt").lexically_normal());
        CHECK(s.tls->key_file ==
              std::filesystem::path(SLUICE_TEST_DATA_DIR "/tls/localhost.key").lexically_normal());
    }
    SECTION("plugin_path, relative to the file") {
        REQUIRE(cfg.plugin_path.size() == 2);
        CHECK(cfg.plugin_path[0] == std::filesystem::path(data_dir + "/plugins").lexically_normal());
        CHECK(cfg.plugin_path[1] == "/opt/sluice/plugins");
    }
    SECTION("providers") {
        REQUIRE(cfg.providers.size() == 2);
        const auto& p = cfg.providers[0];
        CHECK(p.name == "openai");
        CHECK(p.plugin == "openai");
        CHECK_FALSE(p.plugin_is_path());
        CHECK(p.base_url == "https://api.openai.com/v1"); // trailing '/' dropped
        CHECK(p.api_key == "sk-test");
        REQUIRE(p.headers.size() == 2);
        CHECK(p.headers[0] == std::pair<std::string, std::string>{"OpenAI-Organization", "org-123"});
        CHECK(p.headers[1] == std::pair<std::string, std::string>{"X-Trace", "${not-a-var}"});
        CHECK(p.timeouts.connect == 3s);
        CHECK(p.timeouts.first_byte == 30s);
        CHECK(p.timeouts.total == 5min);
        CHECK(p.max_connections == 16);
        CHECK_FALSE(p.tls.verify);
        REQUIRE(p.tls.ca_file);
        CHECK(p.line == 17);
        const auto& local = cfg.providers[1];
        CHECK(local.plugin_is_path());
        CHECK(local.plugin ==
              std::filesystem::path(data_dir + "/plugins/libsluice_custom.so").lexically_normal());
        CHECK(local.api_key.empty());
        CHECK(local.base_url == "http://127.0.0.1:8000/v1");
        CHECK(local.timeouts.total == 600s);
        CHECK(local.max_connections == 64);
    }
    SECTION("models") {
        REQUIRE(cfg.models.size() == 2);
        const auto& m = cfg.models[0];
        CHECK(m.id == "gpt-4o-mini");
        CHECK(m.provider == "openai");
        CHECK(m.upstream_model == "gpt-4o-mini-2024-07-18");
        REQUIRE(m.endpoints);
        CHECK(*m.endpoints ==
              sluice::core::endpoint_set{sluice::core::endpoint::chat, sluice::core::endpoint::embeddings});
        CHECK(m.context_window == 128000u);
        CHECK(m.max_output_tokens == 16384u);
        CHECK_FALSE(m.open_weight);
        CHECK(m.owned_by == "system");
        CHECK(m.created == 1721172741);
        REQUIRE(m.price);
        CHECK(m.price->input == 0.15);
        CHECK(m.price->output == 0.60);
        CHECK(m.price->cached_input == 0.075);
        CHECK(m.price->cache_write == 0.2);
        const auto& llama = cfg.models[1];
        CHECK(llama.id == "meta-llama/Llama-3.1-8B-Instruct");
        CHECK_FALSE(llama.endpoints.has_value()); // [] means what the provider serves
        CHECK(llama.open_weight);
        CHECK(llama.owned_by == "local-vllm");
        CHECK(llama.upstream_model == llama.id);
        REQUIRE(llama.price);
        CHECK(llama.price->cached_input == 0);
        CHECK(llama.price->cache_write == 0);
        CHECK(cfg.find_model("meta-llama/Llama-3.1-8B-Instruct") == &llama);
    }
    SECTION("auth, accounts, limits and metering") {
        CHECK(cfg.auth.mode == auth_settings::mode_kind::keys);
        REQUIRE(cfg.auth.store);
        CHECK(*cfg.auth.store == "/var/lib/sluice/keys.db");
        CHECK(cfg.auth.admin_token_sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        CHECK(cfg.auth.trusted_proxies == std::vector<std::string>{"10.0.0.1", "fd00::/8"});
        REQUIRE(cfg.auth.keys.size() == 1);
        const auto& k = cfg.auth.keys[0];
        CHECK(k.id == "k-a");
        CHECK(k.account == "team-a");
        CHECK(k.models == std::vector<std::string>{"gpt-4o*"});
        CHECK(k.cidrs == std::vector<std::string>{"10.0.0.0/8"});
        CHECK(k.expires == 1798761600); // 2027-01-01T00:00:00Z
        REQUIRE(cfg.accounts.size() == 2);
        const auto& a = cfg.accounts[0];
        CHECK(a.tier == 3);
        CHECK(a.quota.account.rpm == 600u);
        CHECK(a.quota.account.tpm == 200000u);
        REQUIRE(a.quota.model_rate("gpt-4o-mini"));
        CHECK(a.quota.model_rate("gpt-4o-mini")->rpm == 60u);
        CHECK_FALSE(a.quota.model_rate("gpt-4o-mini")->tpm);
        CHECK(a.quota.spend.monthly_usd == 500.0);
        CHECK_FALSE(a.quota.spend.daily_usd);
        CHECK(cfg.accounts[1].tier == 1);
        CHECK(cfg.accounts[1].quota.account.unlimited());
        CHECK(cfg.limits.store == "redis://127.0.0.1:6379");
        CHECK(cfg.limits.on_store_down == limits_settings::down_kind::closed);
        CHECK_FALSE(cfg.metering.has_value()); // `metering:` with nothing under it
        CHECK(cfg.metrics.enabled);
        CHECK(cfg.metrics.path == "/metrics");
    }
    SECTION("reserved sections are kept as written for their owners") {
        REQUIRE(cfg.routers);
        auto err = [&] {
            try {
                cfg.routers->as_mapping({"cheap"}).required("cheap").as_mapping({"policy"});
            } catch (const config_error& e) { return e; }
            throw std::logic_error("no error");
        }();
        CHECK(err.file() == data_dir + "/full.yaml");
        CHECK(err.key() == "routers.cheap.models");
        CHECK(err.line() == 58);
    }
}

TEST_CASE("a minimal config gets every default", "[config]") {
    auto cfg = load_file(data_dir + "/minimal.yaml", env_of({}));
    CHECK(cfg.listen == listen_address{"127.0.0.1", 8080});
    CHECK(cfg.threads >= 1);
    CHECK(cfg.threads == std::clamp(std::thread::hardware_concurrency(), 1u, max_threads));
    CHECK(cfg.server.header_timeout == 10s);
    CHECK(cfg.server.body_limit == 16u << 20);
    CHECK_FALSE(cfg.server.tls);
    CHECK(cfg.plugin_path.empty());
    REQUIRE(cfg.providers.size() == 1);
    CHECK(cfg.providers[0].api_key.empty());
    CHECK(cfg.providers[0].headers.empty());
    CHECK(cfg.providers[0].timeouts.first_byte == 60s);
    CHECK(cfg.providers[0].tls.verify);
    REQUIRE(cfg.models.size() == 1);
    const auto& m = cfg.models[0];
    CHECK(m.upstream_model == "gpt-4o-mini");
    CHECK(m.owned_by == "openai");
    CHECK_FALSE(m.endpoints);
    CHECK_FALSE(m.context_window);
    CHECK_FALSE(m.max_output_tokens);
    CHECK_FALSE(m.open_weight);
    CHECK(m.created == 0);
    CHECK_FALSE(m.price);
    CHECK(cfg.auth.mode == auth_settings::mode_kind::keys);
    CHECK(cfg.accounts.empty());
    CHECK_FALSE(cfg.routers);
    SECTION("an empty file is a config with nothing in it") {
        auto empty = load("");
        CHECK(empty.providers.empty());
        CHECK(empty.models.empty());
        CHECK(empty.listen.port == 8080);
    }
    SECTION("a price without cached_input charges cache reads and writes as input") {
        auto priced = load(std::string(two_providers) +
                           "models:\n  - {id: m, provider: openai, price: {input: 2, output: 8}}\n");
        CHECK(priced.models[0].price->cached_input == 2);
        CHECK(priced.models[0].price->cache_write == 2);
    }
}

TEST_CASE("an unknown key is refused with the nearest valid name", "[config]") {
    SECTION("at the top level") {
        auto e = error_of("listen: 127.0.0.1:8080\nmodles: []\n");
        CHECK(e.file() == "gw.yaml");
        CHECK(e.line() == 2);
        CHECK(e.column() == 1);
        CHECK(e.key() == "modles");
        CHECK(e.message() == "unknown key 'modles', did you mean 'models'?");
        CHECK(std::string(e.what()) == "gw.yaml:2:1: modles: unknown key 'modles', did you mean 'models'?");
    }
    SECTION("nested in a list item, from a file") {
        try {
            load_file(data_dir + "/unknown_key.yaml", env_of({}));
            FAIL("loaded");
        } catch (const config_error& e) {
            CHECK(e.file() == data_dir + "/unknown_key.yaml");
            CHECK(e.line() == 5);
            CHECK(e.column() == 5);
            CHECK(e.key() == "providers[0].base_ur");
            CHECK(e.message() == "unknown key 'base_ur', did you mean 'base_url'?");
        }
    }
    SECTION("deeper still") {
        auto e = error_of(std::string(two_providers) +
                          "models:\n  - id: m\n    provider: openai\n    price: {input: 1, outptu: 2}\n");
        CHECK(e.key() == "models[0].price.outptu");
        CHECK(e.line() == 11);
        CHECK(e.message() == "unknown key 'outptu', did you mean 'output'?");
    }
}

TEST_CASE("a value of the wrong type names what was expected", "[config]") {
    SECTION("threads out of range") {
        auto e = error_of("threads: 0\n");
        CHECK(e.key() == "threads");
        CHECK(e.line() == 1);
        CHECK(e.column() == 10);
        CHECK(e.message() == "expected an integer from 1 to 1024, got '0'");
        CHECK(error_of("threads: 1025\n").message() == "expected an integer from 1 to 1024, got '1025'");
        CHECK(error_of("threads: two\n").message() == "expected an integer from 1 to 1024, got 'two'");
    }
    SECTION("a bad duration") {
        auto e = error_of("server:\n  idle_timeout: 10 minutes\n");
        CHECK(e.key() == "server.idle_timeout");
        CHECK(e.line() == 2);
        CHECK(e.message() == "expected a duration like 10s or 500ms (units: ms, s, m, h), got '10 minutes'");
    }
    SECTION("a bad size") {
        auto e = error_of("server:\n  body_limit: 16M\n");
        CHECK(e.key() == "server.body_limit");
        CHECK(e.message() ==
              "expected a size like 16MiB or 512KiB (units: B, KB, MB, GB, KiB, MiB, GiB), got '16M'");
    }
    SECTION("a boolean that is not true or false") {
        auto e = error_of(std::string(two_providers) +
                          "models:\n  - {id: m, provider: openai, open_weight: yes}\n");
        CHECK(e.key() == "models[0].open_weight");
        CHECK(e.message() == "expected true or false, got 'yes'");
    }
    SECTION("a list where a mapping belongs") {
        auto e = error_of("server: [1, 2]\n");
        CHECK(e.key() == "server");
        CHECK(e.message() == "expected a mapping, got a list");
    }
    SECTION("a mapping where the list of providers belongs") {
        CHECK(error_of("providers: {name: openai}\n").message() == "expected a list, got a mapping");
    }
    SECTION("a negative price") {
        auto e = error_of(std::string(two_providers) +
                          "models:\n  - {id: m, provider: openai, price: {input: -1, output: 1}}\n");
        CHECK(e.key() == "models[0].price.input");
        CHECK(e.message() == "expected a non-negative number, got '-1'");
    }
    SECTION("the top level is not a mapping") {
        auto e = error_of("- a\n- b\n");
        CHECK(e.key().empty());
        CHECK(e.message() == "expected a mapping of settings at the top level");
    }
}

TEST_CASE("a bad listen address says why", "[config]") {
    auto e = error_of("listen: 127.0.0.1:70000\n");
    CHECK(e.key() == "listen");
    CHECK(e.line() == 1);
    CHECK(e.message() == "the port must be a number from 0 to 65535, got '127.0.0.1:70000'");
    CHECK(error_of("listen: ::1:8080\n").message() ==
          "write an IPv6 address in brackets, like [::1]:8080, got '::1:8080'");
    CHECK(load("listen: 0.0.0.0:0\n").listen.port == 0);
}

TEST_CASE("a missing or empty required value is named", "[config]") {
    SECTION("a missing key, at its item") {
        auto e = error_of("providers:\n  - name: openai\n    plugin: openai\n");
        CHECK(e.key() == "providers[0].base_url");
        CHECK(e.line() == 2);
        CHECK(e.message() == "required key is missing");
    }
    SECTION("a key with no value") {
        auto e = error_of("providers:\n  - name: openai\n    plugin:\n    base_url: https://x\n");
        CHECK(e.key() == "providers[0].plugin");
        CHECK(e.line() == 3);
        CHECK(e.message() == "a value is required");
    }
    SECTION("an empty string") {
        auto e = error_of("providers:\n  - name: ''\n    plugin: openai\n    base_url: https://x\n");
        CHECK(e.key() == "providers[0].name");
        CHECK(e.message() == "must not be empty");
    }
    SECTION("an empty string from an unset variable's default") {
        auto e = error_of("providers:\n  - name: openai\n    plugin: openai\n    base_url: ${URL:-}\n");
        CHECK(e.key() == "providers[0].base_url");
        CHECK(e.message() == "must not be empty");
    }
    SECTION("an empty list item") {
        auto e = error_of("providers:\n  -\n");
        CHECK(e.key() == "providers[0]");
        CHECK(e.message() == "the list item is empty");
    }
    SECTION("both halves of server tls") {
        auto e = error_of("server:\n  tls: {cert_file: " SLUICE_TEST_DATA_DIR "/tls/localhost.crt}\n");
        CHECK(e.key() == "server.tls.key_file");
        CHECK(e.message() == "required key is missing");
    }
}

TEST_CASE("provider values are checked", "[config]") {
    auto provider = [](std::string extra) { return "providers:\n  - name: p\n    plugin: openai\n" + extra; };
    CHECK(error_of(provider("    base_url: ftp://x\n")).message() == "the scheme must be http or https");
    CHECK(error_of(provider("    base_url: api.openai.com\n")).message() ==
          "expected an http or https URL like https://api.openai.com/v1");
    CHECK(error_of(provider("    base_url: https://user:pw@x/v1\n")).message() ==
          "put credentials in api_key or headers, not in the URL");
    CHECK(error_of(provider("    base_url: https://x/v1?a=b\n")).message() ==
          "a base URL has no query or fragment");
    CHECK(error_of(provider("    base_url: http://x:99999/v1\n")).message() ==
          "the port must be a number from 1 to 65535");
    CHECK(error_of(provider("    base_url: https://\n")).message() == "the URL has no host");
    CHECK(error_of("providers:\n  - {name: Open AI, plugin: openai, base_url: https://x}\n").message() ==
          "a provider name uses only a-z, 0-9, '_' and '-'");
    CHECK(error_of("providers:\n  - {name: p, plugin: Open AI, base_url: https://x}\n").message() ==
          "expected a plugin name (a-z, 0-9, '_', '-') or a path to a .so file");
    SECTION("headers") {
        auto e = error_of(provider("    base_url: https://x\n    headers: {\"Bad Name\": v}\n"));
        CHECK(e.key() == "providers[0].headers.Bad Name");
        CHECK(e.message() == "not a valid HTTP header name");
        auto injected = error_of(provider("    base_url: https://x\n    headers: {X-A: \"${V}\"}\n"),
                                 {{"V", "a\r\nX-Evil: 1"}});
        CHECK(injected.message() == "a header value must not contain line breaks");
        CHECK(std::string(injected.what()).find("Evil") == std::string::npos);
    }
    SECTION("timeouts must fit inside total") {
        auto e = error_of(provider("    base_url: https://x\n    timeouts: {first_byte: 11m}\n"));
        CHECK(e.key() == "providers[0].timeouts.first_byte");
        CHECK(e.message() == "first_byte (11m) must not exceed total (10m)");
        CHECK(error_of(provider("    base_url: https://x\n    timeouts: {connect: 5s, total: 4s}\n"))
                  .message() == "connect (5s) must not exceed total (4s)");
    }
    SECTION("max_connections") {
        CHECK(error_of(provider("    base_url: https://x\n    max_connections: 0\n")).message() ==
              "expected an integer from 1 to 65536, got '0'");
    }
    SECTION("a CA file that does not exist") {
        auto e = error_of(provider("    base_url: https://x\n    tls: {ca_file: /nonexistent/ca.pem}\n"));
        CHECK(e.key() == "providers[0].tls.ca_file");
        CHECK(e.message() == "no such file: /nonexistent/ca.pem");
    }
}

TEST_CASE("a duplicate provider name or model id names the first one's line", "[config]") {
    SECTION("providers") {
        auto e = error_of(std::string(two_providers) +
                          "  - name: openai\n    plugin: openai\n    base_url: https://x\n");
        CHECK(e.key() == "providers[2].name");
        CHECK(e.line() == 8);
        CHECK(e.column() == 11);
        CHECK(e.message() == "duplicate provider name 'openai' (first at line 2)");
    }
    SECTION("models") {
        auto e = error_of(
            std::string(two_providers) +
            "models:\n  - id: gpt-4o\n    provider: openai\n  - id: gpt-4o\n    provider: anthropic\n");
        CHECK(e.key() == "models[1].id");
        CHECK(e.line() == 11);
        CHECK(e.message() == "duplicate model id 'gpt-4o' (first at line 9)");
    }
}

TEST_CASE("a model must name a declared provider and known endpoints", "[config]") {
    SECTION("a misspelt provider gets the nearest declared one") {
        auto e = error_of(std::string(two_providers) + "models:\n  - id: m\n    provider: opnai\n");
        CHECK(e.key() == "models[0].provider");
        CHECK(e.line() == 10);
        CHECK(e.column() == 15);
        CHECK(e.message() == "unknown provider 'opnai', did you mean 'openai'?");
    }
    SECTION("a provider near none lists the declared ones") {
        CHECK(error_of(std::string(two_providers) + "models:\n  - {id: m, provider: azure}\n").message() ==
              "unknown provider 'azure' (declared: openai, anthropic)");
        CHECK(error_of("models:\n  - {id: m, provider: azure}\n").message() ==
              "unknown provider 'azure' (no providers are declared)");
    }
    SECTION("an unknown endpoint") {
        auto e = error_of(std::string(two_providers) +
                          "models:\n  - {id: m, provider: openai, endpoints: [chat, embedings]}\n");
        CHECK(e.key() == "models[0].endpoints[1]");
        CHECK(e.message() == "unknown endpoint 'embedings', did you mean 'embeddings'?");
        CHECK(error_of(std::string(two_providers) +
                       "models:\n  - {id: m, provider: openai, endpoints: [rerank]}\n")
                  .message() ==
              "unknown endpoint 'rerank' (known: chat, embeddings, images, speech, transcription, video)");
    }
    SECTION("max_output_tokens within context_window") {
        auto e = error_of(
            std::string(two_providers) +
            "models:\n  - {id: m, provider: openai, context_window: 1000, max_output_tokens: 1001}\n");
        CHECK(e.key() == "models[0].max_output_tokens");
        CHECK(e.message() == "must not exceed context_window (1000)");
    }
    SECTION("model ids") {
        CHECK(error_of(std::string(two_providers) + "models:\n  - {id: 'router:cheap', provider: openai}\n")
                  .message() == "'router:' begins router names, not model ids");
        CHECK(error_of(std::string(two_providers) + "models:\n  - {id: 'gpt 4', provider: openai}\n")
                  .message() == "a model id must not contain spaces or control characters");
    }
}

TEST_CASE("${VAR} is substituted before values are converted", "[config]") {
    SECTION("a number from the environment") {
        CHECK(load("threads: ${THREADS}\n", {{"THREADS", "4"}}).threads == 4);
    }
    SECTION("a default when the variable is unset") {
        CHECK(load("threads: ${THREADS:-2}\n").threads == 2);
        CHECK(load("server:\n  body_limit: ${LIMIT:-1MiB}\n").server.body_limit == 1u << 20);
    }
    SECTION("$${ is a literal ${") {
        auto cfg =
            load("providers:\n  - {name: p, plugin: openai, base_url: 'https://x', api_key: 'a$${B}'}\n");
        CHECK(cfg.providers[0].api_key == "a${B}");
    }
    SECTION("an unset variable without a default names the variable and the key") {
        auto e = error_of("providers:\n  - name: openai\n    plugin: openai\n    base_url: https://x\n"
                          "    api_key: ${OPENAI_API_KEY}\n");
        CHECK(e.key() == "providers[0].api_key");
        CHECK(e.line() == 5);
        CHECK(e.column() == 14);
        CHECK(e.message() ==
              "environment variable OPENAI_API_KEY is not set (write ${OPENAI_API_KEY:-} to allow it "
              "to be empty)");
    }
    SECTION("a bad value from the environment is not echoed") {
        auto e = error_of("threads: ${THREADS}\n", {{"THREADS", "sk-live-123"}});
        CHECK(e.message() == "expected an integer from 1 to 1024, got '${THREADS}'");
        CHECK(std::string(e.what()).find("sk-live") == std::string::npos);
    }
}

TEST_CASE("a YAML syntax error becomes a config_error at its line", "[config]") {
    SECTION("from a file") {
        try {
            load_file(data_dir + "/syntax_error.yaml", env_of({}));
            FAIL("loaded");
        } catch (const config_error& e) {
            CHECK(e.file() == data_dir + "/syntax_error.yaml");
            CHECK(e.line() == 5);
            CHECK(e.key().empty());
            CHECK_THAT(e.message(), Catch::StartsWith("invalid YAML: "));
        }
    }
    SECTION("bad indentation") {
        auto e = error_of("listen: 127.0.0.1:8080\n  threads: 2\n");
        CHECK(e.line() == 2);
        CHECK_THAT(e.message(), Catch::StartsWith("invalid YAML: "));
    }
    SECTION("a second document") {
        auto e = error_of("threads: 1\n---\nthreads: 2\n");
        CHECK(e.line() == 3);
        CHECK(e.message() == "expected one YAML document, found a second");
    }
}

TEST_CASE("load_file names a file it cannot read", "[config]") {
    SECTION("missing") {
        try {
            load_file(data_dir + "/no-such-file.yaml");
            FAIL("loaded");
        } catch (const config_error& e) {
            CHECK(e.file() == data_dir + "/no-such-file.yaml");
            CHECK(e.line() == 0);
            CHECK(e.message() == "no such file");
            CHECK(std::string(e.what()) == data_dir + "/no-such-file.yaml: no such file");
        }
    }
    SECTION("a folder") {
        try {
            load_file(data_dir);
            FAIL("loaded");
        } catch (const config_error& e) { CHECK(e.message() == "not a regular file"); }
    }
}

TEST_CASE("provider options reach the plugin as typed JSON", "[config]") {
    auto cfg = load(R"(providers:
  - name: vllm
    plugin: openai
    base_url: http://127.0.0.1:8000/v1
    options:
      dialect: vllm
      top_k: true
      default_max_tokens: 1024
      temperature_scale: 0.5
      quoted: "42"
      stops: [a, b]
      secret: ${TOKEN}
)", {{"TOKEN", "t0k"}});
    const auto& o = cfg.providers.at(0).options;
    CHECK(o.at("dialect") == "vllm");
    CHECK(o.at("top_k") == true);
    CHECK(o.at("default_max_tokens").as_int64() == 1024);
    CHECK(o.at("temperature_scale").as_double() == 0.5);
    CHECK(o.at("quoted") == "42");
    CHECK(o.at("stops").as_array().size() == 2);
    CHECK(o.at("secret") == "t0k");
    CHECK(error_of("providers:\n  - {name: p, plugin: openai, base_url: https://x, options: [1]}\n").message() ==
          "expected a mapping of plugin options, got a list");
}

TEST_CASE("a model's supported features default to all and can be turned off", "[config]") {
    auto cfg = load(std::string(two_providers) + R"(models:
  - id: a
    provider: openai
  - id: b
    provider: openai
    supports: { tools: false, vision: false }
)");
    CHECK(cfg.models.at(0).supports == sluice::core::model_features{});
    CHECK_FALSE(cfg.models.at(1).supports.tools);
    CHECK_FALSE(cfg.models.at(1).supports.vision);
    CHECK(cfg.models.at(1).supports.reasoning);
    CHECK(error_of(std::string(two_providers) + "models:\n  - {id: c, provider: openai, supports: {tool: false}}\n")
              .message()
              .find("did you mean 'tools'") != std::string::npos);
}

TEST_CASE("the access sections are checked where they are written", "[config][access]") {
    const std::string sha(64, 'a');
    SECTION("no auth section means keys, with the SQLite store beside the config") {
        auto cfg = load("listen: 0.0.0.0:8080\n");
        CHECK(cfg.auth.mode == auth_settings::mode_kind::keys);
        REQUIRE(cfg.auth.store);
        CHECK(*cfg.auth.store == "var/keys.db");
        CHECK(cfg.auth.admin_token_sha256.empty());
        CHECK(cfg.limits.store == "local");
        CHECK(cfg.limits.on_store_down == limits_settings::down_kind::local);
        CHECK_FALSE(cfg.metering);
    }
    SECTION("auth none only on loopback") {
        CHECK(load("auth: {mode: none}\n").auth.mode == auth_settings::mode_kind::none);
        CHECK(load("listen: '[::1]:80'\nauth: {mode: none}\n").auth.mode == auth_settings::mode_kind::none);
        auto e = error_of("listen: 0.0.0.0:8080\nauth: {mode: none}\n");
        CHECK(e.key() == "auth.mode");
        CHECK(e.line() == 2);
        CHECK_THAT(e.message(), Catch::Contains("only on a loopback listen address"));
        CHECK(error_of("auth: {mode: open}\n").message() == "expected keys or none, got 'open'");
    }
    SECTION("a declared key names a declared account, a digest and valid CIDRs") {
        auto e = error_of("auth:\n  keys:\n    - {id: k1, secret_sha256: " + sha + ", account: acme}\n");
        CHECK(e.key() == "auth.keys[0].account");
        CHECK(e.message() == "unknown account 'acme' (no accounts: are declared)");
        e = error_of("accounts: [{id: acme}]\nauth:\n  keys:\n    - {id: k1, secret_sha256: abc, account: acme}\n");
        CHECK(e.key() == "auth.keys[0].secret_sha256");
        CHECK_THAT(e.message(), Catch::Contains("64 hex digits"));
        e = error_of("accounts: [{id: acme}]\nauth:\n  keys:\n    - {id: k1, secret_sha256: " + sha +
                     ", account: acme, cidrs: [10.0.0.0/33]}\n");
        CHECK(e.key() == "auth.keys[0].cidrs[0]");
        e = error_of("accounts: [{id: acme}]\nauth:\n  keys:\n    - {id: k1, secret_sha256: " + sha +
                     ", account: acme, expires: next-year}\n");
        CHECK(e.key() == "auth.keys[0].expires");
        auto cfg = load("accounts: [{id: acme}]\nauth:\n  admin_token: ${T}\n  keys:\n    - {id: k1, secret_sha256: " +
                            sha + ", account: acme, cidrs: ['::1', 192.168.0.0/16], expires: 2030-06-01T12:00:00Z}\n",
                        {{"T", "0123456789abcdef-admin"}});
        REQUIRE(cfg.auth.keys.size() == 1);
        CHECK(cfg.auth.keys[0].models == std::vector<std::string>{"*"});
        CHECK(cfg.auth.keys[0].expires == 1906545600);
        CHECK(cfg.auth.admin_token_sha256 == "plain:0123456789abcdef-admin");
        CHECK(error_of("auth: {admin_token: short}\n").message() == "an admin token must be at least 16 characters");
    }
    SECTION("account limits name catalog models") {
        auto e = error_of(std::string(two_providers) +
                          "models: [{id: m1, provider: openai}]\naccounts:\n  - {id: a, limits: {models: {m2: {rpm: 1}}}}\n");
        CHECK(e.key() == "accounts[0].limits.models.m2");
        CHECK(e.message() == "unknown model 'm2' (not in models:)");
        e = error_of("accounts:\n  - {id: a}\n  - {id: a}\n");
        CHECK(e.message() == "duplicate account id 'a' (first at line 2)");
        e = error_of("accounts:\n  - {id: a, limits: {rpm: 0}}\n");
        CHECK(e.key() == "accounts[0].limits.rpm");
    }
    SECTION("limits and metering") {
        CHECK(error_of("limits: {store: memcached://x}\n").message() ==
              "expected local or a redis://HOST:PORT URL, got 'memcached://x'");
        CHECK(error_of("limits: {on_store_down: open}\n").key() == "limits.on_store_down");
        auto cfg = load("metering: {spool: /tmp/s, sinks: ['file:///tmp/u.jsonl', 'redis://127.0.0.1:6379/usage']}\n");
        REQUIRE(cfg.metering);
        CHECK(cfg.metering->spool == "/tmp/s");
        CHECK(cfg.metering->sinks.size() == 2);
        CHECK(error_of("metering: {spool: /tmp/s, sinks: ['kafka://x']}\n").key() == "metering.sinks[0]");
        CHECK(error_of("metering: {sinks: ['file:///x']}\n").key() == "metering.spool");
        CHECK(error_of("metrics: {path: metrics}\n").message() == "a path starts with '/'");
    }
}
