# Warning set shared by every target (house style 3.11). -Wnull-dereference is left out: at -O2
# GCC 12 reports false positives through boost::system::result::operator-> (it returns nullptr
# when empty), even after the caller checked has_value().
add_library(dvd_warnings INTERFACE)
target_compile_options(dvd_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wdouble-promotion
    -Wimplicit-fallthrough -Wcast-qual -Wformat=2
    $<$<BOOL:${DVD_WERROR}>:-Werror>)
