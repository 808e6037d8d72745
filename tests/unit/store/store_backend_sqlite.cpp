// dvd_store_tests runs the store contract on SQLite.
#include "store_backends.hpp"

namespace dvd::store::test {

std::vector<Backend> backends_under_test() {
    return {Backend::Sqlite};
}

}  // namespace dvd::store::test
