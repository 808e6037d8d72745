include(GoogleTest)
# dvd_add_test(<name> SOURCES ... DEPS ... [LABELS ...] [ONE_TEST [ARGS ...]])
# Each GoogleTest case becomes a ctest test, unless ONE_TEST: then the binary, run with ARGS, is
# one ctest test (for suites that share an expensive fixture, such as a throwaway database
# server).
function(dvd_add_test name)
    cmake_parse_arguments(ARG "ONE_TEST" "" "SOURCES;DEPS;LABELS;ARGS" ${ARGN})
    if(NOT ARG_LABELS)
        set(ARG_LABELS unit)
    endif()
    add_executable(${name} ${ARG_SOURCES})
    target_compile_features(${name} PRIVATE cxx_std_20)
    target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/src" "${PROJECT_SOURCE_DIR}/tests")
    target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main dvd_warnings)
    target_compile_definitions(${name} PRIVATE
        DVD_SOURCE_DIR="${PROJECT_SOURCE_DIR}" DVD_BINARY_DIR="${PROJECT_BINARY_DIR}")
    if(ARG_ONE_TEST)
        add_test(NAME ${name} COMMAND ${name} ${ARG_ARGS})
        set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
    else()
        gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
    endif()
endfunction()
