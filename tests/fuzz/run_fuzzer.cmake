# cmake -DFUZZER= -DSEEDS= -DWORK_DIR= [-DDICT=] [-DSECONDS=20] -P run_fuzzer.cmake
# Runs one libFuzzer target for SECONDS on a copy of its seed corpus (the source tree is never
# written) and fails on whatever libFuzzer reports: a crash, a broken invariant, a leak, a
# timeout, too much memory. The crash file's path and how to replay it are in the output.
foreach(var FUZZER SEEDS WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT SECONDS)
  set(SECONDS 20)
endif()
if(NOT EXISTS ${FUZZER})
  message(FATAL_ERROR "no fuzzer at ${FUZZER}: did \"fuzz: build\" pass?")
endif()

# The working corpus keeps what earlier runs found and gets the seeds again each run.
set(corpus ${WORK_DIR}/corpus)
set(artifacts ${WORK_DIR}/artifacts)
file(MAKE_DIRECTORY ${corpus} ${artifacts})
string(TIMESTAMP started "%s") # crash files of earlier runs stay; this run's are the newer ones
file(GLOB seeds ${SEEDS}/*)
file(COPY ${seeds} DESTINATION ${corpus})

set(options -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
    -artifact_prefix=${artifacts}/)
if(DICT AND EXISTS ${DICT})
  list(APPEND options -dict=${DICT})
endif()
execute_process(COMMAND ${FUZZER} ${options} ${corpus} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB saved ${artifacts}/*)
  set(found "")
  foreach(file IN LISTS saved)
    file(TIMESTAMP ${file} written "%s")
    if(written GREATER_EQUAL started)
      string(APPEND found " ${file}")
    endif()
  endforeach()
  string(STRIP "${found}" found)
  if(NOT found)
    message(FATAL_ERROR "libFuzzer failed (${rc}) and saved no input: its output above says why")
  endif()
  message(FATAL_ERROR "libFuzzer failed (${rc}) on the input saved as ${found}\n"
                      "Replay it: ${FUZZER} ${found}\n(docs/fuzzing.md)")
endif()
