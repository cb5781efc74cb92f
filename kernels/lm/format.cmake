# The lm kernel's file formats: GGUF loader, tokenizers, chat templates. Plain C++ without Thrust,
# so one static library serves both the CPU and the CUDA builds.
#   sluice::lm_format   (PIC: a plugin links it)
add_library(sluice_lm_format STATIC
  ${CMAKE_CURRENT_LIST_DIR}/gguf.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tokenizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chat_template.cpp)
add_library(sluice::lm_format ALIAS sluice_lm_format)
target_compile_features(sluice_lm_format PUBLIC cxx_std_20)
set_target_properties(sluice_lm_format PROPERTIES POSITION_INDEPENDENT_CODE ON CXX_EXTENSIONS OFF)
target_include_directories(sluice_lm_format PUBLIC ${CMAKE_CURRENT_LIST_DIR})
