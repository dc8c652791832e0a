# Runs one libFuzzer target for SECONDS on a fresh scratch copy of its seed
# corpus: cmake -DFUZZER=... -DNAME=... -DSEEDS=dir -DWORK=dir -DSECONDS=n -P run_fuzzer.cmake
# Prints "<name>: N runs in S s" (libFuzzer's "Done" line); fails with the
# fuzzer's report, and keeps the crashing input under WORK/, when it finds a bug.
foreach(var FUZZER NAME SEEDS WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}= is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${SEEDS}/*)
if(NOT seeds)
  message(FATAL_ERROR "${NAME}: no seed files in ${SEEDS}")
endif()
file(COPY ${seeds} DESTINATION ${WORK}/corpus)

set(log ${WORK}/fuzzer.log)
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus
  WORKING_DIRECTORY ${WORK}
  RESULT_VARIABLE result
  OUTPUT_FILE ${log}
  ERROR_FILE ${log})
file(READ ${log} output)

string(REGEX MATCH "Done ([0-9]+) runs in ([0-9]+) second" done "${output}")
if(done)
  message("${NAME}: ${CMAKE_MATCH_1} runs in ${CMAKE_MATCH_2} s")
endif()
string(REGEX MATCH "stat::peak_rss_mb: *[0-9]+" peak "${output}")
string(REGEX MATCH "cov: [0-9]+ ft: [0-9]+ corp: [0-9/]+[a-zA-Z]*" coverage "${output}")
if(coverage OR peak)
  message("${NAME}: ${coverage} ${peak}")
endif()

if(NOT result EQUAL 0 OR NOT done)
  # The report is at the end (the NEW/REDUCE lines before it are just progress).
  string(LENGTH "${output}" length)
  if(length GREATER 20000)
    math(EXPR start "${length} - 20000")
    string(SUBSTRING "${output}" ${start} -1 output)
  endif()
  file(GLOB crashes ${WORK}/artifacts/*)
  message("${output}")
  message(FATAL_ERROR "${NAME}: the fuzzer failed (exit ${result}); crashing inputs: ${crashes}\n"
                      "reproduce: ${FUZZER} <crashing input>")
endif()
