#pragma once

#include <cstdio>
#include <cstdlib>

/// A property every input must keep; a violation aborts, which the fuzzer reports as a crash
/// (and the replay test as a failure), with the condition's text.
#define DVD_FUZZ_CHECK(condition)                                                         \
    do {                                                                                  \
        if (!(condition)) {                                                               \
            std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, \
                         #condition);                                                     \
            std::abort();                                                                 \
        }                                                                                 \
    } while (false)
