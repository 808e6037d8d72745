// dvd_service_postgres_e2e_tests runs the database-backed end-to-end scenarios on PostgreSQL.
#include "e2e/service_fixture.hpp"

namespace dvd::test {

std::vector<Backend> e2e_backends() {
    return {Backend::Postgres};
}

}  // namespace dvd::test
