# Every third-party dependency, found in one place. tools/install-deps.sh installs them.
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED)
find_package(fmt 9 CONFIG REQUIRED)
find_package(spdlog 1.10 CONFIG REQUIRED)
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SOXR REQUIRED IMPORTED_TARGET soxr)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)  # dsp::PowerSpectrum
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET cairo)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(OPUS REQUIRED IMPORTED_TARGET opus)
pkg_check_modules(SPANDSP REQUIRED IMPORTED_TARGET spandsp)
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)  # PostgresStore (DATABASE_URL=postgresql://...)
find_package(SQLite3 3.37 REQUIRED)  # SQLite::SQLite3 (STRICT tables need 3.37)
find_package(Threads REQUIRED)
find_package(CURL 7.85 REQUIRED)  # CURL::libcurl (CURLOPT_PROTOCOLS_STR needs 7.85)

# ONNX Runtime 1.29.0, fetched (checksum-verified) by tools/install-deps.sh into .deps/.
set(DVD_ONNXRUNTIME_ROOT "${PROJECT_SOURCE_DIR}/.deps/onnxruntime-1.29.0"
    CACHE PATH "Unpacked ONNX Runtime 1.29.0 (include/ and lib/)")
find_library(DVD_ONNXRUNTIME_LIBRARY NAMES onnxruntime PATHS "${DVD_ONNXRUNTIME_ROOT}/lib" NO_DEFAULT_PATH)
if(NOT DVD_ONNXRUNTIME_LIBRARY OR NOT EXISTS "${DVD_ONNXRUNTIME_ROOT}/include/onnxruntime_cxx_api.h")
    message(FATAL_ERROR "ONNX Runtime not found under ${DVD_ONNXRUNTIME_ROOT}: run tools/install-deps.sh build")
endif()
add_library(onnxruntime::onnxruntime SHARED IMPORTED GLOBAL)
set_target_properties(onnxruntime::onnxruntime PROPERTIES
    IMPORTED_LOCATION "${DVD_ONNXRUNTIME_ROOT}/lib/libonnxruntime.so.1"
    IMPORTED_SONAME "libonnxruntime.so.1"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${DVD_ONNXRUNTIME_ROOT}/include"
    INTERFACE_INCLUDE_DIRECTORIES "${DVD_ONNXRUNTIME_ROOT}/include")

if(PROJECT_IS_TOP_LEVEL)
    find_package(GTest CONFIG REQUIRED)
    find_package(benchmark CONFIG REQUIRED)
    find_package(Python3 REQUIRED COMPONENTS Interpreter)
endif()
