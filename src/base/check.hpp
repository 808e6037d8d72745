#pragma once

#include <cstdio>
#include <cstdlib>

/// DVD_CHECK(cond, "why"): always on. For invariants whose breach would corrupt data; never for
/// input validation (that returns a base::Result).
#define DVD_CHECK(cond, why)                                                                  \
    do {                                                                                      \
        if (!(cond)) [[unlikely]] {                                                           \
            std::fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                         why);                                                                \
            std::abort();                                                                     \
        }                                                                                     \
    } while (false)

/// DVD_ASSERT(cond, "why"): like DVD_CHECK, compiled out in NDEBUG builds.
#ifdef NDEBUG
#define DVD_ASSERT(cond, why) ((void)0)
#else
#define DVD_ASSERT(cond, why) DVD_CHECK(cond, why)
#endif
