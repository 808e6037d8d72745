#include "store/instance_lock.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <libpq-fe.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include "store/open_store.hpp"
#include "store/postgres_store.hpp"

namespace dvd::store {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kRunOneInstance =
        "run one deepfake-voice-detector instance per database (a second one would send every "
        "alert twice and keep recording copies on the wrong machine)";

// ---- SQLite: flock on "<file>.lock" ----

class FileInstanceLock final : public InstanceLock {
public:
    FileInstanceLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    ~FileInstanceLock() override { ::close(fd_); }  // the kernel drops the flock with the fd
    FileInstanceLock(const FileInstanceLock&) = delete;
    FileInstanceLock& operator=(const FileInstanceLock&) = delete;

    base::Result<bool> check() override { return true; }
    std::string describe() const override { return "lock file " + path_; }

private:
    int fd_;
    std::string path_;
};

/// The pid the holder wrote into the lock file ("unknown" when it wrote none).
std::string read_holder(int fd) {
    char buffer[64] = {};
    const ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
    const std::string_view text(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
    const std::string_view pid = text.substr(0, text.find_first_of("\n "));
    return pid.empty() ? std::string("unknown") : std::string(pid);
}

base::Result<std::unique_ptr<InstanceLock>> acquire_file_lock(const std::string& database_url,
                                                              const InstanceLockOptions& options) {
    auto database = sqlite_path_from_url(database_url);
    if (!database) {
        return database.error();
    }
    if (*database == ":memory:") {
        return base::fail(base::Errc::InvalidArgument,
                          "instance lock: an in-memory database belongs to one process already");
    }
    const std::string path = *database + ".lock";
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::filesystem::create_directories(parent, ec);
    }
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return base::fail(base::Errc::Io,
                          fmt::format("instance lock: cannot open {}: {}", path, std::strerror(errno)));
    }
    const auto deadline = Clock::now() + options.wait;
    for (;;) {
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
            break;
        }
        const int error = errno;
        if (error != EWOULDBLOCK && error != EINTR) {
            ::close(fd);
            return base::fail(base::Errc::Io, fmt::format("instance lock: flock {}: {}", path,
                                                          std::strerror(error)));
        }
        if (Clock::now() >= deadline) {
            std::string holder = read_holder(fd);
            ::close(fd);
            return base::fail(base::Errc::Unsupported,
                              fmt::format("another instance holds this database: {} is locked by "
                                          "process {}; {}",
                                          path, holder, kRunOneInstance));
        }
        std::this_thread::sleep_for(options.poll);
    }
    // Who holds it, for the next one's error message. Best effort: the lock is what counts.
    const std::string pid = fmt::format("{}\n", ::getpid());
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // the lock holds without the note
    }
    return std::unique_ptr<InstanceLock>(new FileInstanceLock(fd, path));
}

// ---- PostgreSQL: a session advisory lock on a connection of its own ----

// "dvd1" and "inst": pg_locks shows them as classid and objid.
constexpr std::uint32_t kKeyHigh = 0x64766431;
constexpr std::uint32_t kKeyLow = 0x696E7374;
constexpr std::int64_t kAdvisoryKey =
        static_cast<std::int64_t>((std::uint64_t{kKeyHigh} << 32U) | kKeyLow);

/// The single value of a one-row query; nullopt when the query failed.
std::optional<std::string> scalar(PGconn* conn, const std::string& sql) {
    PGresult* result = PQexec(conn, sql.c_str());
    std::optional<std::string> value;
    if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) == 1
        && PQnfields(result) >= 1) {
        value = PQgetvalue(result, 0, 0);
    }
    PQclear(result);
    return value;
}

class PostgresInstanceLock final : public InstanceLock {
public:
    explicit PostgresInstanceLock(PGconn* conn) : conn_(conn) {}
    ~PostgresInstanceLock() override { PQfinish(conn_); }  // the session ends, and its lock
    PostgresInstanceLock(const PostgresInstanceLock&) = delete;
    PostgresInstanceLock& operator=(const PostgresInstanceLock&) = delete;

    base::Result<bool> check() override {
        if (PQstatus(conn_) == CONNECTION_OK) {
            const auto held = scalar(
                    conn_, fmt::format("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                       "AND pid = pg_backend_pid() AND classid = {} AND objid = {} "
                                       "AND objsubid = 1 AND granted",
                                       kKeyHigh, kKeyLow));
            if (held) {
                return *held != "0" || try_lock(conn_).value_or(false);
            }
        }
        // The session is gone, and its lock with it: a new session, and the lock again if no
        // other instance took it meanwhile.
        PQreset(conn_);
        if (PQstatus(conn_) != CONNECTION_OK) {
            return base::fail(base::Errc::Io,
                              fmt::format("instance lock: the PostgreSQL connection is lost and "
                                          "cannot be re-established: {}",
                                          postgres_error_message(conn_)));
        }
        const auto taken = try_lock(conn_);
        if (!taken) {
            return base::fail(base::Errc::Io,
                              fmt::format("instance lock: {}", postgres_error_message(conn_)));
        }
        return *taken;
    }

    std::string describe() const override {
        return fmt::format("PostgreSQL advisory lock {} (classid {}, objid {})", kAdvisoryKey,
                           kKeyHigh, kKeyLow);
    }

    static std::optional<bool> try_lock(PGconn* conn) {
        const auto taken = scalar(conn, fmt::format("SELECT pg_try_advisory_lock({})", kAdvisoryKey));
        if (!taken) {
            return std::nullopt;
        }
        return *taken == "t";
    }

    /// "process 123 from 10.0.0.5 (deepfake-voice-detector, connected since ...)", or "unknown".
    static std::string holder(PGconn* conn) {
        PGresult* result = PQexec(
                conn,
                fmt::format("SELECT a.pid, coalesce(host(a.client_addr), 'a local socket'), "
                            "coalesce(a.application_name, ''), "
                            "to_char(a.backend_start AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {} "
                            "AND l.objid = {} AND l.objsubid = 1 AND l.database = "
                            "(SELECT oid FROM pg_database WHERE datname = current_database())",
                            kKeyHigh, kKeyLow)
                        .c_str());
        std::string text = "an unknown session";
        if (PQresultStatus(result) == PGRES_TUPLES_OK && PQntuples(result) >= 1) {
            text = fmt::format("server process {} from {} ({}, connected since {})",
                               PQgetvalue(result, 0, 0), PQgetvalue(result, 0, 1),
                               PQgetvalue(result, 0, 2), PQgetvalue(result, 0, 3));
        }
        PQclear(result);
        return text;
    }

private:
    PGconn* conn_;
};

base::Result<std::unique_ptr<InstanceLock>> acquire_advisory_lock(
        const std::string& database_url, const InstanceLockOptions& options) {
    auto connected = connect_postgres(database_url, "instance lock");
    if (!connected) {
        return connected.error();
    }
    PGconn* conn = *connected;
    const auto deadline = Clock::now() + options.wait;
    for (;;) {
        const auto taken = PostgresInstanceLock::try_lock(conn);
        if (!taken) {
            std::string why = postgres_error_message(conn);
            PQfinish(conn);
            return base::fail(base::Errc::Io, fmt::format("instance lock: {}", why));
        }
        if (*taken) {
            return std::unique_ptr<InstanceLock>(new PostgresInstanceLock(conn));
        }
        if (Clock::now() >= deadline) {
            std::string holder = PostgresInstanceLock::holder(conn);
            PQfinish(conn);
            return base::fail(base::Errc::Unsupported,
                              fmt::format("another instance holds this database: {} holds its "
                                          "advisory lock {}; {}",
                                          holder, kAdvisoryKey, kRunOneInstance));
        }
        std::this_thread::sleep_for(options.poll);
    }
}

}  // namespace

base::Result<std::unique_ptr<InstanceLock>> acquire_instance_lock(
        const std::string& database_url, const InstanceLockOptions& options) {
    return is_postgres_url(database_url) ? acquire_advisory_lock(database_url, options)
                                         : acquire_file_lock(database_url, options);
}

}  // namespace dvd::store
