# Browser end-to-end tests of the web UI (ctest label "browser"): node's built-in test runner with
# playwright-core (tests/e2e/node_modules, installed by `npm ci --prefix tests/e2e`) driving
# Debian's /usr/bin/chromium. Each tests/e2e/*.test.mjs file is one ctest test; each records its
# own pipeline trace and starts its own `weft serve` on port 0. Screenshots go to
# ${CMAKE_BINARY_DIR}/e2e-artifacts. Skipped (with a message) when node, chromium or
# playwright-core is missing, so configuring never fails on their account. Sanitizer builds skip
# them unless WEFT_E2E_SANITIZED is ON (they test the UI; the server has its own tests).

set(WEFT_CHROMIUM /usr/bin/chromium CACHE FILEPATH "Chromium executable for the browser tests")
find_program(WEFT_NODE node)
set(_weft_e2e ${CMAKE_CURRENT_LIST_DIR})
file(GLOB _weft_e2e_tests RELATIVE ${_weft_e2e} CONFIGURE_DEPENDS ${_weft_e2e}/*.test.mjs)

option(WEFT_E2E_SANITIZED "Run the browser tests in a WEFT_SANITIZE build too" OFF)
# scripts/test sets WEFT_E2E_REQUIRED so a missing browser fails the run instead of skipping.
option(WEFT_E2E_REQUIRED "Fail configuring when the browser tests cannot run" OFF)
set(_weft_e2e_skip message)
if(WEFT_E2E_REQUIRED)
  set(_weft_e2e_skip FATAL_ERROR)
endif()
if(WEFT_SANITIZE AND NOT WEFT_E2E_SANITIZED)
  message(STATUS "browser tests: skipped in a WEFT_SANITIZE build (-DWEFT_E2E_SANITIZED=ON runs them)")
elseif(NOT WEFT_NODE)
  message(${_weft_e2e_skip} "browser tests: skipped, node not found (apt-get install nodejs npm)")
elseif(NOT EXISTS ${WEFT_CHROMIUM})
  message(${_weft_e2e_skip} "browser tests: skipped, no ${WEFT_CHROMIUM} (apt-get install chromium)")
elseif(NOT EXISTS ${_weft_e2e}/node_modules/playwright-core/package.json)
  message(${_weft_e2e_skip} "browser tests: skipped, playwright-core not installed (npm ci --prefix tests/e2e)")
elseif(NOT TARGET weft_cli OR NOT TARGET pipeline OR NOT TARGET worker_pool OR NOT TARGET weft_rttrace
       OR NOT TARGET weft_gentrace)
  message(${_weft_e2e_skip} "browser tests: skipped, a program they run is not built (weft, pipeline, worker_pool, weft_rttrace, weft_gentrace)")
else()
  foreach(_f ${_weft_e2e_tests})
    string(REGEX REPLACE "\\.test\\.mjs$" "" _name ${_f})
    add_test(NAME e2e_${_name} COMMAND ${WEFT_NODE} --test ${_weft_e2e}/${_f} WORKING_DIRECTORY ${_weft_e2e})
    set_tests_properties(e2e_${_name} PROPERTIES LABELS browser TIMEOUT 300 ENVIRONMENT
      "WEFT_BIN=$<TARGET_FILE:weft_cli>;WEFT_PIPELINE=$<TARGET_FILE:pipeline>;WEFT_RTTRACE=$<TARGET_FILE:weft_rttrace>;WEFT_GENTRACE=$<TARGET_FILE:weft_gentrace>;WEFT_WORKER_POOL=$<TARGET_FILE:worker_pool>;WEFT_E2E_ARTIFACTS=${CMAKE_BINARY_DIR}/e2e-artifacts;WEFT_CHROMIUM=${WEFT_CHROMIUM}")
  endforeach()
  list(LENGTH _weft_e2e_tests _n)
  message(STATUS "browser tests: ${_n} files registered (ctest -L browser)")
endif()
