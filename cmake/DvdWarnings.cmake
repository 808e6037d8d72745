add_library(dvd_warnings INTERFACE)
target_compile_options(dvd_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wnull-dereference -Wdouble-promotion
    -Wimplicit-fallthrough -Wcast-qual -Wformat=2
    $<$<BOOL:${DVD_WERROR}>:-Werror>)
