#include "net/server.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <pthread.h>

#include "base/check.hpp"
#include "base/cpu_budget.hpp"
#include "base/log.hpp"
#include "net/http_connection.hpp"
#include "net/worker.hpp"

namespace dvd::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

/// After the grace period, sockets are closed and the sessions get this long to unwind
/// (on_close callbacks) before the workers stop regardless.
constexpr auto kForceCloseWait = 1s;

[[nodiscard]] int resolve_worker_count(int requested) {
    if (requested > 0) {
        return requested;
    }
    return base::usable_cores();
}

/// Last-resort catch of a connection coroutine (house style 3.6): log, count, go on.
struct CoroutineEnded {
    detail::ServerState* state;
    const char* what;

    void operator()(const std::exception_ptr& error) const {
        if (!error) {
            return;
        }
        detail::Counters::add(state->counters.handler_exceptions);
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            DVD_LOG_RATE_LIMITED(Net, Error, "{} ended with an exception: {}", what, e.what());
        } catch (...) {
            DVD_LOG_RATE_LIMITED(Net, Error, "{} ended with a non-standard exception", what);
        }
    }
};

}  // namespace

base::Result<void> validate(const ServerOptions& options) {
    using base::Errc;
    if (options.bind_address.empty()) {
        return base::fail(Errc::InvalidArgument, "bind_address must not be empty");
    }
    if (options.workers < 0 || options.workers > 256) {
        return base::fail(Errc::InvalidArgument, "workers must be 0 (one per core) .. 256");
    }
    if (options.max_body_bytes == 0 || options.max_ws_message_bytes == 0) {
        return base::fail(Errc::InvalidArgument,
                          "max_body_bytes and max_ws_message_bytes must be > 0");
    }
    if (options.max_header_bytes < 1024 || options.max_header_bytes > (1U << 30)) {
        return base::fail(Errc::InvalidArgument, "max_header_bytes must be 1 KiB .. 1 GiB");
    }
    if (options.http_idle_timeout.count() <= 0 || options.ws_idle_timeout.count() <= 0) {
        return base::fail(Errc::InvalidArgument, "idle timeouts must be > 0 ms");
    }
    if (options.max_ws_sessions_per_worker == 0 || options.max_ws_send_queue == 0) {
        return base::fail(Errc::InvalidArgument,
                          "max_ws_sessions_per_worker and max_ws_send_queue must be > 0");
    }
    if (options.server_name.find_first_of("\r\n") != std::string::npos) {
        return base::fail(Errc::InvalidArgument, "server_name must not contain CR or LF");
    }
    return {};
}

namespace detail {

ServerStats Counters::snapshot() const noexcept {
    const auto load = [](const std::atomic<std::uint64_t>& counter) {
        return counter.load(std::memory_order_relaxed);
    };
    ServerStats stats;
    stats.connections_accepted = load(connections_accepted);
    stats.requests = load(requests);
    stats.responses_4xx = load(responses_4xx);
    stats.responses_5xx = load(responses_5xx);
    stats.ws_sessions_opened = load(ws_sessions_opened);
    stats.ws_sessions_refused = load(ws_sessions_refused);
    stats.ws_messages_received = load(ws_messages_received);
    stats.ws_messages_too_big = load(ws_messages_too_big);
    stats.ws_sessions_active = load(ws_sessions_active);
    stats.ws_send_queue_overflows = load(ws_send_queue_overflows);
    stats.handler_exceptions = load(handler_exceptions);
    stats.event_streams_active = load(event_streams_active);
    return stats;
}

void ServerState::connection_opened() {
    std::lock_guard lock(mutex_);
    ++live_;
}

void ServerState::connection_closed() {
    std::lock_guard lock(mutex_);
    --live_;
    if (live_ == 0) {
        idle_.notify_all();
    }
}

bool ServerState::wait_idle(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    return idle_.wait_until(lock, deadline, [this] { return live_ == 0; });
}

}  // namespace detail

class Server::Impl {
public:
    Impl(ServerOptions options, Router router)
        : state(std::move(options), std::move(router)),
          worker_count(resolve_worker_count(state.options.workers)) {}

    static asio::awaitable<void> accept_loop(Impl* self);
    static void run_worker(Impl* self, detail::Worker* worker);
    /// Runs `action` on every live connection of every worker (on the workers).
    template <class Action>
    void for_each_connection(Action action);
    void release_workers();

    detail::ServerState state;
    const int worker_count;
    std::vector<std::unique_ptr<detail::Worker>> workers;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::uint16_t port = 0;
    std::size_t next_worker = 0;  ///< accept loop only

    std::mutex lifecycle;  ///< start/stop
    bool started = false;
    bool stopped = false;
};

asio::awaitable<void> Server::Impl::accept_loop(Impl* self) {
    tcp::acceptor& acceptor = *self->acceptor;
    asio::steady_timer backoff(acceptor.get_executor());
    for (;;) {
        detail::Worker& target = *self->workers[self->next_worker];
        self->next_worker = (self->next_worker + 1) % self->workers.size();
        auto [ec, accepted] = co_await acceptor.async_accept(*target.context,
                                                             asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
                co_return;
            }
            DVD_LOG_RATE_LIMITED(Net, Warn, "accept failed: {}", ec.message());
            // Out of descriptors and the like: do not spin while the condition lasts.
            backoff.expires_after(50ms);
            auto [wait_ec] = co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
            static_cast<void>(wait_ec);
            continue;
        }
        detail::Counters::add(self->state.counters.connections_accepted);
        tcp::socket socket(std::move(accepted));
        asio::co_spawn(*target.context,
                       detail::run_http_connection(self->state, target, std::move(socket)),
                       CoroutineEnded{&self->state, "HTTP connection"});
    }
}

void Server::Impl::run_worker(Impl* self, detail::Worker* worker) {
    const std::string name = fmt::format("worker-{}", worker->index);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    for (;;) {
        try {
            worker->context->run();
            return;
        } catch (const std::exception& e) {
            detail::Counters::add(self->state.counters.handler_exceptions);
            DVD_LOG(Net, Error, "worker={} handler threw out of the event loop: {}", worker->index,
                    e.what());
        } catch (...) {
            detail::Counters::add(self->state.counters.handler_exceptions);
            DVD_LOG(Net, Error, "worker={} non-standard exception out of the event loop",
                    worker->index);
        }
    }
}

template <class Action>
void Server::Impl::for_each_connection(Action action) {
    for (auto& worker : workers) {
        worker->gate->post([w = worker.get(), action] {
            const std::vector<detail::LiveConnection*> snapshot(w->connections.begin(),
                                                                w->connections.end());
            for (detail::LiveConnection* connection : snapshot) {
                if (w->connections.contains(connection)) {
                    action(*w, *connection);
                }
            }
        });
    }
}

void Server::Impl::release_workers() {
    for (auto& worker : workers) {
        worker->guard.reset();
        worker->context->stop();
    }
    for (auto& worker : workers) {
        if (worker->thread.joinable()) {
            worker->thread.join();
        }
    }
    for (auto& worker : workers) {
        worker->gate->close();
    }
    acceptor.reset();
    // Destroying each io_context destroys the coroutine frames still suspended in it.
    for (auto& worker : workers) {
        worker->context.reset();
    }
}

Server::Server(ServerOptions options, Router router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}

Server::~Server() {
    stop(1s);
}

base::Result<void> Server::start() {
    using base::Errc;
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->started) {
        return base::fail(Errc::InvalidArgument, "the server was already started");
    }
    const ServerOptions& options = impl_->state.options;
    if (auto valid = validate(options); !valid) {
        return valid;
    }
    boost::system::error_code ec;
    const asio::ip::address address = asio::ip::make_address(options.bind_address, ec);
    if (ec) {
        return base::fail(Errc::InvalidArgument,
                          fmt::format("bind address '{}': {}", options.bind_address, ec.message()));
    }
    for (int i = 0; i < impl_->worker_count; ++i) {
        impl_->workers.push_back(std::make_unique<detail::Worker>(i));
    }
    impl_->acceptor = std::make_unique<tcp::acceptor>(*impl_->workers.front()->context);
    tcp::acceptor& acceptor = *impl_->acceptor;
    const tcp::endpoint endpoint(address, options.port);
    const auto failed = [&](std::string_view step) {
        std::string message = fmt::format("cannot {} {}:{}: {}", step, options.bind_address,
                                          options.port, ec.message());
        impl_->acceptor.reset();
        impl_->workers.clear();
        return base::fail(Errc::Io, std::move(message));
    };
    if (acceptor.open(endpoint.protocol(), ec); ec) {
        return failed("open a socket for");
    }
    if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) {
        return failed("set SO_REUSEADDR for");
    }
    if (acceptor.bind(endpoint, ec); ec) {
        return failed("bind");
    }
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
        return failed("listen on");
    }
    impl_->port = acceptor.local_endpoint(ec).port();
    asio::co_spawn(*impl_->workers.front()->context, Impl::accept_loop(impl_.get()),
                   CoroutineEnded{&impl_->state, "accept loop"});
    for (auto& worker : impl_->workers) {
        worker->thread = std::thread(&Impl::run_worker, impl_.get(), worker.get());
    }
    impl_->started = true;
    DVD_LOG(Net, Info, "listening on {}:{} workers={}", options.bind_address, impl_->port,
            impl_->worker_count);
    return {};
}

std::uint16_t Server::port() const {
    return impl_->port;
}

void Server::stop(std::chrono::milliseconds grace) {
    std::lock_guard lock(impl_->lifecycle);
    if (!impl_->started || impl_->stopped) {
        return;
    }
    impl_->stopped = true;
    for (const auto& worker : impl_->workers) {
        DVD_CHECK(!worker->context->get_executor().running_in_this_thread(),
                  "Server::stop joins the workers, so it must not run on one");
    }
    const auto deadline = std::chrono::steady_clock::now() + grace;
    DVD_LOG(Net, Info, "stopping port={} grace_ms={}", impl_->port, grace.count());

    impl_->workers.front()->gate->post([impl = impl_.get()] {
        boost::system::error_code ec;
        impl->acceptor->close(ec);
    });
    for (auto& worker : impl_->workers) {
        worker->gate->post([w = worker.get()] { w->stopping = true; });
    }
    impl_->for_each_connection([](detail::Worker&, detail::LiveConnection& connection) {
        connection.on_server_stop();
    });
    if (!impl_->state.wait_idle(deadline)) {
        DVD_LOG(Net, Warn, "grace period over; closing the remaining connections");
        impl_->for_each_connection([](detail::Worker&, detail::LiveConnection& connection) {
            connection.force_close();
        });
        static_cast<void>(
                impl_->state.wait_idle(std::chrono::steady_clock::now() + kForceCloseWait));
    }
    impl_->release_workers();
    DVD_LOG(Net, Info, "stopped port={}", impl_->port);
}

ServerStats Server::stats() const {
    return impl_->state.counters.snapshot();
}

int Server::worker_count() const {
    return impl_->worker_count;
}

void Server::post(int worker, std::function<void()> task) {
    DVD_CHECK(worker >= 0 && static_cast<std::size_t>(worker) < impl_->workers.size(),
              "Server::post needs a started server and 0 <= worker < worker_count()");
    impl_->workers[static_cast<std::size_t>(worker)]->gate->post(std::move(task));
}

}  // namespace dvd::net
