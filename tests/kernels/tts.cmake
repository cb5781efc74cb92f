# The tts kernel plugin (kernels/tts), loaded through the host; its audio is decoded and measured
# with ffmpeg/ffprobe and sox.
if(NOT TARGET sluice_plugin_tts)
  message(STATUS "sluice: the tts plugin is not built; test_tts skipped")
  return()
endif()
find_program(SLUICE_FFMPEG ffmpeg)
find_program(SLUICE_FFPROBE ffprobe)
find_program(SLUICE_SOX sox)
if(NOT SLUICE_FFMPEG OR NOT SLUICE_FFPROBE OR NOT SLUICE_SOX)
  message(STATUS "sluice: ffmpeg, ffprobe or sox not found (Debian: ffmpeg sox); test_tts skipped")
  return()
endif()
sluice_add_test(test_tts tts.cpp)
target_compile_definitions(test_tts PRIVATE
  SLUICE_TTS_PLUGIN="$<TARGET_FILE:sluice_plugin_tts>"
  SLUICE_FFMPEG="${SLUICE_FFMPEG}" SLUICE_FFPROBE="${SLUICE_FFPROBE}" SLUICE_SOX="${SLUICE_SOX}")
target_include_directories(test_tts PRIVATE ${PROJECT_SOURCE_DIR}/kernels/tts) # resample.hpp
add_dependencies(test_tts sluice_plugin_tts)
