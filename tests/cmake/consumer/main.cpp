// A program outside the sluice tree that uses the framework: loads a config, builds a catalog
// entry, renders an error in both API shapes, and looks for a plugin.
#include <sluice/config/load.hpp>
#include <sluice/core/catalog.hpp>
#include <sluice/core/error.hpp>
#include <sluice/plugin/host.hpp>
#include <sluice/version.hpp>

#include <cstdio>

int main() {
    auto cfg = sluice::config::load_string(R"(
providers:
  - name: up
    plugin: openai
    base_url: http://127.0.0.1:8000/v1
models:
  - id: m
    provider: up
)", "consumer.yaml");
    sluice::core::catalog cat;
    cat.add({.id = cfg.models.at(0).id, .provider = cfg.models.at(0).provider});
    sluice::core::error e{sluice::core::error_kind::not_found, "no such model", "model", ""};
    sluice::plugin::host host;
    bool ok = cat.find("m") && sluice::core::openai_error_body(e).find("not_found") != std::string::npos &&
              sluice::core::anthropic_error_body(e).find("not_found_error") != std::string::npos &&
              !host.locate("surely_absent_plugin");
    std::printf("sluice %s consumer: %s\n", SLUICE_VERSION_STRING, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
