// The exported entry points of sluice_anthropic.so; the translation lives beside it.

#include "provider.hpp"

// Names and version come from native.hpp: string_views over literals, so .data() ends in '\0'.
SLUICE_PROVIDER_PLUGIN(sluice::anthropic::anthropic_provider, sluice::anthropic::plugin_name.data(),
                       sluice::anthropic::plugin_version.data())
