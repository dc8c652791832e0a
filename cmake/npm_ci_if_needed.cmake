# Runs `npm ci` in PACKAGE_DIR unless node_modules is already newer than the lock
# file (so rebuilds work offline and two build trees do not reinstall).
# Usage: cmake -DPACKAGE_DIR=<dir> -DNPM=<npm> -DSTAMP=<file> -P npm_ci_if_needed.cmake
set(installed "${PACKAGE_DIR}/node_modules/.package-lock.json")
if(NOT EXISTS "${installed}" OR "${PACKAGE_DIR}/package-lock.json" IS_NEWER_THAN "${installed}")
  execute_process(COMMAND "${NPM}" ci --no-audit --no-fund --loglevel=error
                  WORKING_DIRECTORY "${PACKAGE_DIR}" RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "npm ci in ${PACKAGE_DIR} failed (${result}); its packages are needed")
  endif()
endif()
file(TOUCH "${STAMP}")
