# The lm kernel's format part (kernels/lm/format.cmake): GGUF loader, tokenizers, chat templates.
# Included from tests/kernels/CMakeLists.txt.
if(TARGET sluice::lm_format)
  sluice_add_test(test_lm_format lm_format.cpp)
  target_link_libraries(test_lm_format PRIVATE sluice::lm_format)
  # The tiny model's golden file is read from the source tree (models/, tools/train_tiny_llama.py).
  target_compile_definitions(test_lm_format PRIVATE SLUICE_MODELS_DIR="${PROJECT_SOURCE_DIR}/models")
endif()
