// sluice_ollama.so: this one line exports the provider (the ABI version, the name, and a factory
// that catches every exception before it can leave the library). The translation is all in
// ollama_provider.hpp, which the tests compile directly, without loading anything.

#include "ollama_provider.hpp"

SLUICE_PROVIDER_PLUGIN(ollama::ollama_provider, ollama::plugin_name, ollama::plugin_version)
