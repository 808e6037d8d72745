#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// A throwaway PostgreSQL server for tests: initdb into a private directory under /tmp, a server
// that listens only on a Unix socket in that directory (never TCP), stopped and removed when the
// object goes away. When the test runs as root, the server programs run as the `postgres` system
// user (initdb and postgres refuse to run as root). Test-only code: failures are reported through
// the `error` out-parameters, nothing is thrown.
namespace dvd::test {

namespace postgres_detail {

/// `text` quoted for /bin/sh: single quotes, with each ' written as '\''.
inline std::string shell_quote(std::string_view text) {
    std::string quoted = "'";
    for (const char c : text) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    quoted += '\'';
    return quoted;
}

/// `text` percent-encoded for a URI component (RFC 3986 unreserved characters kept).
inline std::string percent_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string encoded;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            encoded += c;
        } else {
            encoded += '%';
            encoded += hex[byte >> 4U];
            encoded += hex[byte & 0x0FU];
        }
    }
    return encoded;
}

struct CommandResult {
    int exit_code = -1;  ///< The exit status; 128 + signal when killed; -1 when it could not run.
    std::string output;  ///< stdout and stderr together.
};

/// Runs `command` with /bin/sh, stdout and stderr captured together.
inline CommandResult run_command(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen(("{ " + command + "; } 2>&1").c_str(), "r");
    if (pipe == nullptr) {
        result.output = "popen failed for: " + command;
        return result;
    }
    char buffer[4096];
    std::size_t count = 0;
    while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
        result.output.append(buffer, count);
    }
    const int status = ::pclose(pipe);
    if (status == -1) {
        result.exit_code = -1;
    } else if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.exit_code = 128 + WTERMSIG(status);
    }
    return result;
}

/// The last `max_lines` lines of the file at `path` ("" when it cannot be read).
inline std::string file_tail(const std::filesystem::path& path, std::size_t max_lines) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    const std::size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
    std::string tail;
    for (std::size_t i = first; i < lines.size(); ++i) {
        tail += lines[i];
        tail += '\n';
    }
    return tail;
}

/// The numeric components of a version directory name like "15" or "9.6"; empty when the name
/// is not such a number.
inline std::vector<int> version_key(const std::string& name) {
    std::vector<int> key;
    int part = 0;
    bool digits = false;
    for (const char c : name) {
        if (c >= '0' && c <= '9') {
            part = part * 10 + (c - '0');
            digits = true;
        } else if (c == '.' && digits) {
            key.push_back(part);
            part = 0;
            digits = false;
        } else {
            return {};
        }
    }
    if (!digits) {
        return {};
    }
    key.push_back(part);
    return key;
}

/// A program that runs a command as another user (for root): runuser, else setpriv; "" if none.
inline std::string switch_user_prefix(const std::string& user) {
    for (const char* path : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}) {
        if (::access(path, X_OK) == 0) {
            return std::string(path) + " -u " + shell_quote(user) + " -- ";
        }
    }
    for (const char* path : {"/usr/bin/setpriv", "/bin/setpriv"}) {
        if (::access(path, X_OK) == 0) {
            return std::string(path) + " --reuid=" + shell_quote(user)
                   + " --regid=" + shell_quote(user) + " --init-groups -- ";
        }
    }
    return "";
}

}  // namespace postgres_detail

/// Where PostgreSQL's server programs are: $DVD_PG_BINDIR when set, else the highest-numbered
/// /usr/lib/postgresql/<N>/bin that holds initdb, else "" (not installed).
inline std::string postgres_bindir() {
    try {
        if (const char* env = std::getenv("DVD_PG_BINDIR"); env != nullptr && *env != '\0') {
            return env;
        }
        std::error_code ec;
        std::vector<int> best_key;
        std::string best;
        for (std::filesystem::directory_iterator it("/usr/lib/postgresql", ec), end;
             !ec && it != end; it.increment(ec)) {
            const std::vector<int> key =
                    postgres_detail::version_key(it->path().filename().string());
            const std::filesystem::path bin = it->path() / "bin";
            if (key.empty() || ::access((bin / "initdb").c_str(), X_OK) != 0) {
                continue;
            }
            if (best.empty() || key > best_key) {
                best_key = key;
                best = bin.string();
            }
        }
        return best;
    } catch (const std::exception&) {
        return "";
    }
}

/// A throwaway PostgreSQL server for tests: initdb into a private temporary directory (trust
/// authentication, UTF8, locale C, fsync off for speed), listening only on a Unix socket in that
/// directory, started with pg_ctl -w; stopped (pg_ctl stop -m immediate) and the directory removed
/// in the destructor.
class PostgresServer {
public:
    /// Starts a server; nullptr and *error set (saying what failed, with the command's output)
    /// when the programs are missing or a step fails.
    static std::unique_ptr<PostgresServer> start(std::string* error) {
        std::string message;
        try {
            std::unique_ptr<PostgresServer> server(new PostgresServer());
            if (server->setup(&message) && server->start_server(&message)) {
                return server;
            }
        } catch (const std::exception& e) {
            message = std::string("PostgresServer::start: ") + e.what();
        }
        if (error != nullptr) {
            *error = message;
        }
        return nullptr;
    }

    ~PostgresServer() {
        try {
            std::error_code ec;
            if (!data_dir_.empty() && std::filesystem::exists(data_dir_ / "postmaster.pid", ec)) {
                const auto result = pg_command(
                        "pg_ctl", "-D " + quoted(data_dir_) + " -w -t 30 stop -m immediate");
                if (result.exit_code != 0) {
                    kill_postmaster();
                }
            }
            if (!dir_.empty()) {
                std::filesystem::remove_all(dir_, ec);
            }
        } catch (...) {
            // A destructor must not throw; leftovers under /tmp are harmless.
        }
    }

    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    /// A libpq connection URI for `database` as the superuser, e.g.
    /// "postgresql:///dvd_t1?host=%2Ftmp%2Fdvd-pg-XXXX&port=5432&user=postgres" (host
    /// percent-encoded).
    std::string url(const std::string& database) const {
        return "postgresql:///" + postgres_detail::percent_encode(database)
               + "?host=" + postgres_detail::percent_encode(dir_.string())
               + "&port=" + std::to_string(kPort) + "&user=" + kSuperuser;
    }

    /// (Re)creates an empty database `name` (DROP DATABASE IF EXISTS ... WITH (FORCE), then CREATE
    /// DATABASE); false and *error on failure. Uses libpq (<libpq-fe.h>), connecting to "postgres".
    bool create_database(const std::string& name, std::string* error) {
        return guarded("create_database", error,
                       [&](std::string* message) { return create_database_impl(name, message); });
    }

    /// Stops the server (pg_ctl stop -m fast) and starts it again on the same directory and socket,
    /// so that tests can check that clients survive a server restart. false and *error on failure.
    bool restart(std::string* error) { return halt(error) && resume(error); }

    /// Stops the server (pg_ctl stop -m fast): clients then find nothing on the socket until
    /// `resume`. false and *error on failure.
    bool halt(std::string* error) {
        return guarded("halt", error, [&](std::string* message) {
            const auto stopped =
                    pg_command("pg_ctl", "-D " + quoted(data_dir_) + " -w -t 60 stop -m fast");
            if (stopped.exit_code != 0) {
                *message = "pg_ctl stop -m fast failed (exit " + std::to_string(stopped.exit_code)
                           + "):\n" + stopped.output;
            }
            return stopped.exit_code == 0;
        });
    }

    /// Starts a halted server again on the same directory and socket. false and *error on failure.
    bool resume(std::string* error) {
        return guarded("resume", error,
                       [&](std::string* message) { return start_server(message); });
    }

    const std::string& socket_dir() const { return socket_dir_; }

private:
    /// Runs `step(&message)`; an exception becomes "<what>: <reason>". false and *error (when
    /// given) set to the message on failure.
    template <class Step>
    static bool guarded(const char* what, std::string* error, Step step) {
        std::string message;
        bool ok = false;
        try {
            ok = step(&message);
        } catch (const std::exception& e) {
            message = std::string(what) + ": " + e.what();
        }
        if (!ok && error != nullptr) {
            *error = message;
        }
        return ok;
    }

    static constexpr int kPort = 5432;
    static constexpr const char* kSuperuser = "postgres";
    static constexpr const char* kSystemUser = "postgres";

    PostgresServer() = default;

    static std::string quoted(const std::filesystem::path& path) {
        return postgres_detail::shell_quote(path.string());
    }

    /// Finds the programs, makes the private directory (owned by the postgres user when root),
    /// runs initdb and writes the server settings.
    bool setup(std::string* error) {
        bindir_ = postgres_bindir();
        if (bindir_.empty()) {
            *error = "PostgreSQL server programs not found (set DVD_PG_BINDIR or install "
                     "postgresql under /usr/lib/postgresql/<N>/bin)";
            return false;
        }
        for (const char* program : {"initdb", "pg_ctl", "postgres"}) {
            const std::filesystem::path path = std::filesystem::path(bindir_) / program;
            if (::access(path.c_str(), X_OK) != 0) {
                *error = "PostgreSQL program missing or not executable: " + path.string();
                return false;
            }
        }
        if (::geteuid() == 0) {
            const passwd* user = ::getpwnam(kSystemUser);
            if (user == nullptr) {
                *error = std::string("running as root, but there is no '") + kSystemUser
                         + "' system user to run the PostgreSQL server as";
                return false;
            }
            uid_ = user->pw_uid;
            gid_ = user->pw_gid;
            user_prefix_ = postgres_detail::switch_user_prefix(kSystemUser);
            if (user_prefix_.empty()) {
                *error = "running as root, but neither runuser nor setpriv is installed";
                return false;
            }
        }

        std::string pattern = "/tmp/dvd-pg-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            *error = "mkdtemp failed for " + pattern;
            return false;
        }
        dir_ = pattern;
        socket_dir_ = dir_.string();
        data_dir_ = dir_ / "data";
        log_file_ = dir_ / "server.log";
        if (::geteuid() == 0 && ::chown(dir_.c_str(), uid_, gid_) != 0) {
            *error = "chown to the postgres user failed for " + dir_.string();
            return false;
        }

        const auto initdb = pg_command(
                "initdb", "-D " + quoted(data_dir_) + " -U " + kSuperuser
                                  + " --auth=trust --encoding=UTF8 --locale=C --no-sync");
        if (initdb.exit_code != 0) {
            *error = "initdb failed (exit " + std::to_string(initdb.exit_code) + "):\n"
                     + initdb.output;
            return false;
        }

        // Later settings override earlier ones, so appending to postgresql.conf is enough; the
        // file keeps its owner (the postgres user) when appended to by root.
        std::ofstream conf(data_dir_ / "postgresql.conf", std::ios::app);
        conf << "\n# dvd::test::PostgresServer\n"
             << "listen_addresses = ''\n"
             << "unix_socket_directories = '" << socket_dir_ << "'\n"
             << "port = " << kPort << "\n"
             << "fsync = off\n"
             << "synchronous_commit = off\n"
             << "full_page_writes = off\n"
             << "max_connections = 50\n"
             << "shared_buffers = 16MB\n";
        conf.close();
        if (!conf) {
            *error = "could not append to " + (data_dir_ / "postgresql.conf").string();
            return false;
        }
        return true;
    }

    /// pg_ctl start -w; on failure the error holds pg_ctl's output and the server log's tail.
    bool start_server(std::string* error) {
        const auto result = pg_command("pg_ctl", "-D " + quoted(data_dir_) + " -l "
                                                         + quoted(log_file_) + " -w -t 60 start");
        if (result.exit_code == 0) {
            return true;
        }
        *error = "pg_ctl start failed (exit " + std::to_string(result.exit_code) + "):\n"
                 + result.output + "\n--- tail of " + log_file_.string() + " ---\n"
                 + postgres_detail::file_tail(log_file_, 40);
        return false;
    }

    /// Runs bindir/program with `args` (already quoted) from the private directory, as the
    /// postgres user when root.
    postgres_detail::CommandResult pg_command(const std::string& program,
                                              const std::string& args) const {
        const std::string command = "cd " + quoted(dir_) + " && " + user_prefix_
                                    + quoted(std::filesystem::path(bindir_) / program) + " " + args;
        return postgres_detail::run_command(command);
    }

    /// Last resort when pg_ctl stop fails: SIGKILL the postmaster named in postmaster.pid.
    void kill_postmaster() const {
        std::ifstream in(data_dir_ / "postmaster.pid");
        long pid = 0;
        if (in >> pid && pid > 1) {
            ::kill(static_cast<pid_t>(pid), SIGKILL);
        }
    }

    bool create_database_impl(const std::string& name, std::string* error) const {
        std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url("postgres").c_str()),
                                                          &PQfinish);
        if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
            *error = "connecting to " + url("postgres")
                     + " failed: " + (conn ? PQerrorMessage(conn.get()) : "out of memory");
            return false;
        }
        // Silence NOTICEs such as "database ... does not exist, skipping".
        PQsetNoticeProcessor(
                conn.get(), [](void*, const char*) {}, nullptr);

        char* escaped = PQescapeIdentifier(conn.get(), name.c_str(), name.size());
        if (escaped == nullptr) {
            *error = std::string("PQescapeIdentifier failed: ") + PQerrorMessage(conn.get());
            return false;
        }
        const std::string identifier = escaped;
        PQfreemem(escaped);

        for (const std::string& sql : {"DROP DATABASE IF EXISTS " + identifier + " WITH (FORCE)",
                                       "CREATE DATABASE " + identifier}) {
            std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()),
                                                                 &PQclear);
            if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
                *error = sql + " failed: " + PQerrorMessage(conn.get());
                return false;
            }
        }
        return true;
    }

    std::string bindir_;
    std::filesystem::path dir_;
    std::filesystem::path data_dir_;
    std::filesystem::path log_file_;
    std::string socket_dir_;
    std::string user_prefix_;  ///< "runuser -u postgres -- " when root, else "".
    uid_t uid_ = 0;
    gid_t gid_ = 0;
};

}  // namespace dvd::test
