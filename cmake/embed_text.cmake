# cmake -DINPUT=<file> -DOUTPUT=<header> -DNAME=<identifier> -P embed_text.cmake
# Writes a header holding the file's text as `inline constexpr std::string_view NAME`.
file(READ ${INPUT} text)
set(delim "sluice_embedded")
string(FIND "${text}" ")${delim}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter")
endif()
file(WRITE ${OUTPUT}.tmp "// Generated from ${INPUT} at build time; edit that file instead.\n#pragma once\n#include <string_view>\ninline constexpr std::string_view ${NAME} = R\"${delim}(${text})${delim}\";\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
