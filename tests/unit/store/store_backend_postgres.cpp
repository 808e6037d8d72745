// dvd_store_postgres_tests runs the store contract on PostgreSQL.
#include "store_backends.hpp"

namespace dvd::store::test {

std::vector<Backend> backends_under_test() {
    return {Backend::Postgres};
}

}  // namespace dvd::store::test
