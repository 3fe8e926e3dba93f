# SPDX-License-Identifier: Apache-2.0
# Builds and runs a consumer project.
# cmake -DMODE=find_package|add_subdirectory -DSOURCE_DIR=<pretext> -DBINARY_DIR=<pretext build>
#       -DWORK=<scratch dir> -DCXX=<compiler> -P run.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(_consumer ${SOURCE_DIR}/tests/consumer/${MODE})
set(_args -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "find_package")
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${WORK}/prefix
    RESULT_VARIABLE rc OUTPUT_QUIET)
  if(rc)
    message(FATAL_ERROR "cmake --install failed")
  endif()
  list(APPEND _args -DCMAKE_PREFIX_PATH=${WORK}/prefix)
else()
  list(APPEND _args -DPRETEXT_SOURCE_DIR=${SOURCE_DIR})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${_consumer} -B ${WORK}/build ${_args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "configuring the ${MODE} consumer failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/build
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "building the ${MODE} consumer failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${WORK}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(rc)
  message(FATAL_ERROR "the ${MODE} consumer exited with ${rc}")
endif()
