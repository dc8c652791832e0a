# Runs `npm ci` in WEB_DIR unless node_modules is already newer than the lock
# file (so rebuilds work offline and two build trees do not reinstall).
# Usage: cmake -DWEB_DIR=<web/> -DNPM=<npm> -DSTAMP=<file> -P npm_ci_if_needed.cmake
set(installed "${WEB_DIR}/node_modules/.package-lock.json")
if(NOT EXISTS "${installed}" OR "${WEB_DIR}/package-lock.json" IS_NEWER_THAN "${installed}")
  execute_process(COMMAND "${NPM}" ci --no-audit --no-fund --loglevel=error
                  WORKING_DIRECTORY "${WEB_DIR}" RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "npm ci in ${WEB_DIR} failed (${result}); the dashboard assets cannot be built")
  endif()
endif()
file(TOUCH "${STAMP}")
