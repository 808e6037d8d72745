#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/result.hpp"

namespace dvd::store {

struct InstanceLockOptions {
    /// How long `acquire_instance_lock` waits for the holder to go: an instance that is stopping,
    /// or one killed a moment ago whose PostgreSQL session the server has not ended yet.
    std::chrono::milliseconds wait{10'000};
    std::chrono::milliseconds poll{200};  ///< between tries while waiting
};

/// One service instance per database. The service's workers assume they are alone: the alert
/// outbox sends every due alert, the recordings worker fetches every pending copy to its local
/// disk, restart recovery takes over every active call. Two instances on one database would
/// send each Slack alert twice and record copies on the other machine's disk. So `serve` holds
/// this lock for its lifetime, and a second instance refuses to start, naming the holder. A
/// standby on another machine (PostgreSQL) takes over once the first one has gone.
///
/// - SQLite: an exclusive `flock` on "<database file>.lock" (the holder's pid written in it),
///   which the kernel releases when the process ends, however it ends.
/// - PostgreSQL: a session-level advisory lock on a connection of its own, which the server
///   releases when that session ends.
///
/// Threads: one owner.
class InstanceLock {
public:
    virtual ~InstanceLock() = default;  ///< releases the lock

    /// Whether this process still holds the database (SQLite: always). PostgreSQL: asks the
    /// server; a connection that was lost (a server restart, a network cut, which released the
    /// lock) is opened again and the lock taken again. false: another instance took it
    /// meanwhile, and this one must stop. An error when the server cannot be reached: unknown.
    [[nodiscard]] virtual base::Result<bool> check() = 0;

    /// What the lock is, for logs: the lock file, or the advisory lock key.
    [[nodiscard]] virtual std::string describe() const = 0;
};

/// Takes the lock of the database named by `database_url` (a DATABASE_URL, as `open_store`
/// reads it), waiting up to `options.wait` for a holder to go. Errors: Unsupported "another
/// instance holds ..." naming the holder (pid; for PostgreSQL its client address), Io when the
/// lock file or the server cannot be reached, InvalidArgument for an in-memory SQLite database.
[[nodiscard]] base::Result<std::unique_ptr<InstanceLock>> acquire_instance_lock(
        const std::string& database_url, const InstanceLockOptions& options = {});

}  // namespace dvd::store
