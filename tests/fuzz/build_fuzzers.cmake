# cmake -DSOURCE_DIR= -DBINARY_DIR= -DSLUICE_SOURCE_DIR= -DCXX= [-DLAUNCHER=] [-DGENERATOR=] -P build_fuzzers.cmake
# Configures the fuzz targets' own project with clang++ and builds it (the "fuzz: build" test).
foreach(var SOURCE_DIR BINARY_DIR SLUICE_SOURCE_DIR CXX)
  if(NOT ${var})
    message(FATAL_ERROR "build_fuzzers.cmake: ${var} is not set")
  endif()
endforeach()

set(configure ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR}
    -DCMAKE_CXX_COMPILER=${CXX} -DSLUICE_SOURCE_DIR=${SLUICE_SOURCE_DIR})
if(GENERATOR)
  list(APPEND configure -G ${GENERATOR})
endif()
if(LAUNCHER)
  list(APPEND configure -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
execute_process(COMMAND ${configure} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the fuzz targets failed (${rc})")
endif()

# Two jobs: the machines that run `make test` are small and shared.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --parallel 2 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the fuzz targets failed (${rc})")
endif()
