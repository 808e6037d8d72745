#pragma once

// Counts heap allocations made through operator new, to check "allocation-free after
// construction" contracts. Include this header in exactly ONE source file of a test binary: it
// replaces the global operator new/delete for that whole binary (malloc/free underneath, so
// sanitizers stay consistent). Test-only code.

#include <atomic>
#include <cstdlib>
#include <new>

namespace dvd::test {

/// operator new calls so far in this process.
inline std::atomic<long> g_allocations{0};

}  // namespace dvd::test

// GCC 12 at -O2 inlines these replacements into callers and then reports malloc/free as a
// mismatch with new/delete: a false positive for a replaced global operator new.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t size) {
    dvd::test::g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}

void operator delete(void* p) noexcept { std::free(p); }

void operator delete(void* p, std::size_t) noexcept { std::free(p); }
