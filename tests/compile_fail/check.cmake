# SPDX-License-Identifier: Apache-2.0
# cmake -DCXX=compiler -DFLAGS=a|b|c -DSOURCE=case.cpp -P check.cmake
string(REPLACE "|" ";" FLAGS "${FLAGS}")
file(STRINGS ${SOURCE} _expect REGEX "^// expect-error: ")
if(NOT _expect)
  message(FATAL_ERROR "${SOURCE}: no '// expect-error: REGEX' line")
endif()
string(REGEX REPLACE "^// expect-error: " "" _regex "${_expect}")

execute_process(COMMAND ${CXX} ${FLAGS} -DPRETEXT_CONTROL ${SOURCE}
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "the control (-DPRETEXT_CONTROL) of ${SOURCE} must compile but failed:\n${_err}")
endif()

execute_process(COMMAND ${CXX} ${FLAGS} ${SOURCE}
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
if(_rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
string(REGEX MATCH "[^\n]*error:[^\n]*" _first "${_err}")
if(NOT _first MATCHES "${_regex}")
  message(FATAL_ERROR "first error of ${SOURCE} does not match '${_regex}':\n${_first}")
endif()
message(STATUS "fails as expected: ${_first}")
