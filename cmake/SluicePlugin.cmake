# sluice_add_plugin(<name> SOURCES <files...> [OUTPUT_DIR <dir>] [LIBRARIES <libs...>])
#
# Builds a Boost.DLL plugin module named sluice_<name>.so, the file the plugin host looks for
# when a config says `plugin: <name>`. By default it lands in the build tree's plugins/ folder.
function(sluice_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${SLUICE_PLUGIN_OUTPUT_DIR})
  endif()
  set(target sluice_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE sluice::sluice ${ARG_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME sluice_${name}
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(SLUICE_INSTALL AND NOT ARG_OUTPUT_DIR STREQUAL SLUICE_PLUGIN_OUTPUT_DIR)
    # Test plugins stay in the build tree.
  elseif(SLUICE_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/sluice/plugins)
  endif()
endfunction()
