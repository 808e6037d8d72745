#pragma once

// Internal to the net layer (included only by its .cpp files): the per-worker state shared by
// the listener, HTTP connections and WebSocket sessions. Asio types are fine here; no header
// that other layers include pulls this in.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "net/server.hpp"

namespace dvd::net::detail {

namespace asio = boost::asio;

/// The only way other threads reach a worker: posts a function onto the worker's io_context
/// while it exists. `close()` (by Server::stop, after the worker thread is joined and before
/// the io_context is destroyed) turns every later post into a no-op, so a Responder or WsHandle
/// that outlives the server never touches a destroyed io_context. Thread-safe.
class WorkerGate {
public:
    explicit WorkerGate(asio::io_context& context) : context_(&context) {}

    /// Queues `task` on the worker; false (task dropped) once closed.
    template <class Task>
    bool post(Task&& task) {
        std::lock_guard lock(mutex_);
        if (context_ == nullptr) {
            return false;
        }
        asio::post(*context_, std::forward<Task>(task));
        return true;
    }

    /// Runs `task` at once when the caller already is the worker's thread (inside its run()),
    /// otherwise like post().
    template <class Task>
    bool dispatch(Task&& task) {
        asio::io_context* context = nullptr;
        {
            std::lock_guard lock(mutex_);
            context = context_;
        }
        // Running inside context->run() means it cannot be destroyed under us.
        if (context != nullptr && context->get_executor().running_in_this_thread()) {
            std::forward<Task>(task)();
            return true;
        }
        return post(std::forward<Task>(task));
    }

    void close() {
        std::lock_guard lock(mutex_);
        context_ = nullptr;
    }

private:
    std::mutex mutex_;
    asio::io_context* context_;  ///< guarded by mutex_; null once closed
};

/// A connection or session registered on its worker so that Server::stop can reach it. Both
/// calls happen on the worker thread.
class LiveConnection {
public:
    /// Graceful: idle keep-alive connections close, in-flight requests finish without
    /// keep-alive, event streams end, WebSocket sessions close with 1001.
    virtual void on_server_stop() = 0;
    /// After the grace period: close the socket so that every pending operation ends.
    virtual void force_close() = 0;

protected:
    LiveConnection() = default;
    ~LiveConnection() = default;
    LiveConnection(const LiveConnection&) = default;
    LiveConnection& operator=(const LiveConnection&) = default;
};

/// Relaxed atomic counters behind ServerStats.
struct Counters {
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> responses_4xx{0};
    std::atomic<std::uint64_t> responses_5xx{0};
    std::atomic<std::uint64_t> ws_sessions_opened{0};
    std::atomic<std::uint64_t> ws_sessions_refused{0};
    std::atomic<std::uint64_t> ws_messages_received{0};
    std::atomic<std::uint64_t> ws_messages_too_big{0};
    std::atomic<std::uint64_t> ws_sessions_active{0};
    std::atomic<std::uint64_t> ws_send_queue_overflows{0};
    std::atomic<std::uint64_t> handler_exceptions{0};
    std::atomic<std::uint64_t> event_streams_active{0};

    static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
        counter.fetch_add(n, std::memory_order_relaxed);
    }

    static void sub(std::atomic<std::uint64_t>& counter) noexcept {
        counter.fetch_sub(1, std::memory_order_relaxed);
    }

    [[nodiscard]] ServerStats snapshot() const noexcept;
};

/// Everything the sessions share: immutable options and router, counters, and the count of
/// live connections that Server::stop waits on. Outlives every worker's io_context.
class ServerState {
public:
    ServerState(ServerOptions server_options, Router server_router)
        : options(std::move(server_options)), router(std::move(server_router)) {}

    const ServerOptions options;
    const Router router;
    Counters counters;

    void connection_opened();
    void connection_closed();
    /// Waits until no connection is live or `deadline` passed; true when none is live.
    bool wait_idle(std::chrono::steady_clock::time_point deadline);

private:
    std::mutex mutex_;
    std::condition_variable idle_;
    std::size_t live_ = 0;  ///< guarded by mutex_
};

/// One worker: its io_context (concurrency hint 1), its thread `worker-<index>`, and the state
/// that only that thread touches (marked below).
struct Worker {
    explicit Worker(int worker_index)
        : index(worker_index),
          context(std::make_unique<asio::io_context>(1)),
          gate(std::make_shared<WorkerGate>(*context)),
          guard(std::in_place, context->get_executor()) {}

    const int index;
    std::unique_ptr<asio::io_context> context;
    std::shared_ptr<WorkerGate> gate;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::thread thread;

    // ---- worker thread only ----
    bool stopping = false;
    std::unordered_set<LiveConnection*> connections;
    std::size_t ws_sessions = 0;
};

}  // namespace dvd::net::detail
