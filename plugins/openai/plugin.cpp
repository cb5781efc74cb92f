// sluice_openai.so: exports openai_provider; the translation lives in the headers beside this.

#include "provider.hpp"

SLUICE_PROVIDER_PLUGIN(sluice::providers::openai::openai_provider, sluice::providers::openai::plugin_name,
                       sluice::providers::openai::plugin_version)
