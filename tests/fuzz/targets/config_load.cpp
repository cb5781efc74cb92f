// Fuzz target: config::load_string.
//
// Invariants: any text gives a gateway_config or a config_error with a message; no other
// exception escapes and nothing crashes. The environment is a fixed map, so a run depends on
// the input alone.

#include <sluice/config/load.hpp>

#include "check.hpp"

#include <exception>
#include <optional>
#include <string>
#include <typeinfo>

namespace {

std::optional<std::string> fixed_env(std::string_view name) {
    if (name == "OPENAI_API_KEY") return std::string("sk-fuzz");
    if (name == "EMPTY") return std::string();
    return std::nullopt;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sluice;
    try {
        const auto cfg = config::load_string(sluice_fuzz::bytes_of(data, size), "fuzz.yaml", fixed_env);
        FUZZ_CHECK(cfg.source == "fuzz.yaml", "the config names another source: " + cfg.source);
    } catch (const config::config_error& e) {
        FUZZ_CHECK(!e.message().empty(), std::string("a config_error without a message: ") + e.what());
    } catch (const std::exception& e) {
        FUZZ_CHECK(false, std::string("threw ") + typeid(e).name() + ", not config_error: " + e.what());
    } catch (...) {
        FUZZ_CHECK(false, "threw something that is not a std::exception");
    }
    return 0;
}
