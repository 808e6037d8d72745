#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

// A tiny scripted HTTP/1.1 server on 127.0.0.1:<ephemeral port> for client tests: one std::thread
// running a poll() loop over POSIX sockets. Each complete request is recorded and answered with
// the next scripted response (500 "unscripted" when the script is empty). Keep-alive connections
// are supported, so a client may reuse its connection. Test-only code: failures of the socket API
// abort the test binary.
namespace dvd::test {

inline bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x))
                      == std::tolower(static_cast<unsigned char>(y));
           });
}

struct ScriptedResponse {
    enum class Action {
        Reply,  ///< send status + headers + body (or `raw`)
        Hang,   ///< read the request, never answer (the client's timeout fires)
        Close,  ///< close the connection without answering
    };

    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers{};
    std::string body{};
    Action action = Action::Reply;
    std::string raw{};  ///< when not empty, sent verbatim instead of status/headers/body
};

struct ReceivedRequest {
    std::string method;
    std::string target;  ///< request-target as sent, e.g. "/v2/calls/v3:abc/actions/answer"
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /// The first header named `name` (any case).
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const {
        for (const auto& [key, value] : headers) {
            if (iequal(key, name)) {
                return value;
            }
        }
        return std::nullopt;
    }
};

class LoopbackServer {
public:
    LoopbackServer() {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        require(listen_fd_ >= 0, "socket");
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        require(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
        require(::listen(listen_fd_, 16) == 0, "listen");
        socklen_t len = sizeof addr;
        require(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0,
                "getsockname");
        port_ = ntohs(addr.sin_port);
        require(::pipe2(wake_, O_CLOEXEC) == 0, "pipe2");
        thread_ = std::thread([this] { run(); });
    }

    ~LoopbackServer() {
        const char stop = 'x';
        (void)!::write(wake_[1], &stop, 1);
        thread_.join();
        for (const auto& [fd, buffer] : connections_) {
            ::close(fd);
        }
        ::close(listen_fd_);
        ::close(wake_[0]);
        ::close(wake_[1]);
    }

    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }

    /// "http://127.0.0.1:<port>" + path.
    [[nodiscard]] std::string url(std::string_view path = "") const {
        return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }

    void push(ScriptedResponse response) {
        const std::lock_guard lock(mutex_);
        script_.push_back(std::move(response));
    }

    [[nodiscard]] std::vector<ReceivedRequest> requests() const {
        const std::lock_guard lock(mutex_);
        return requests_;
    }

    [[nodiscard]] int connections_accepted() const {
        const std::lock_guard lock(mutex_);
        return accepted_;
    }

    /// A port on 127.0.0.1 with nothing listening (bound, then closed).
    static std::uint16_t closed_port() {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        ::close(fd);
        return ntohs(addr.sin_port);
    }

private:
    static void require(bool ok, const char* what) {
        if (!ok) {
            std::perror(what);
            std::abort();
        }
    }

    static std::string reason(int status) {
        switch (status) {
            case 200:
                return "OK";
            case 400:
                return "Bad Request";
            case 401:
                return "Unauthorized";
            case 404:
                return "Not Found";
            case 422:
                return "Unprocessable Entity";
            case 429:
                return "Too Many Requests";
            case 500:
                return "Internal Server Error";
            case 503:
                return "Service Unavailable";
            default:
                return "Status";
        }
    }

    static void send_all(int fd, std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return;  // the client went away; nothing to do
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // Parses one complete request from the front of `buffer`; false while incomplete.
    static bool take_request(std::string& buffer, ReceivedRequest& out) {
        const auto head_end = buffer.find("\r\n\r\n");
        if (head_end == std::string::npos) {
            return false;
        }
        const std::string_view head(buffer.data(), head_end);
        const auto line_end = head.find("\r\n");
        const std::string_view request_line = head.substr(0, line_end);
        const auto sp1 = request_line.find(' ');
        const auto sp2 = request_line.rfind(' ');
        ReceivedRequest request;
        request.method = std::string(request_line.substr(0, sp1));
        request.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
        std::size_t content_length = 0;
        std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
            auto next = head.find("\r\n", pos);
            if (next == std::string_view::npos) {
                next = head.size();
            }
            const std::string_view line = head.substr(pos, next - pos);
            const auto colon = line.find(':');
            std::string name(line.substr(0, colon));
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') {
                value.remove_prefix(1);
            }
            if (iequal(name, "Content-Length")) {
                content_length = std::stoul(std::string(value));
            }
            request.headers.emplace_back(std::move(name), std::string(value));
            pos = next + 2;
        }
        const std::size_t total = head_end + 4 + content_length;
        if (buffer.size() < total) {
            return false;
        }
        request.body = buffer.substr(head_end + 4, content_length);
        buffer.erase(0, total);
        out = std::move(request);
        return true;
    }

    static std::string render(const ScriptedResponse& r) {
        if (!r.raw.empty()) {
            return r.raw;
        }
        std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
        for (const auto& [name, value] : r.headers) {
            out += name + ": " + value + "\r\n";
        }
        out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
        return out;
    }

    // Returns false when the connection must be closed.
    bool serve(int fd, std::string& buffer) {
        ReceivedRequest request;
        while (take_request(buffer, request)) {
            ScriptedResponse response;
            {
                const std::lock_guard lock(mutex_);
                requests_.push_back(request);
                if (script_.empty()) {
                    response.status = 500;
                    response.body = "unscripted request";
                } else {
                    response = std::move(script_.front());
                    script_.pop_front();
                }
            }
            switch (response.action) {
                case ScriptedResponse::Action::Close:
                    return false;
                case ScriptedResponse::Action::Hang:
                    hung_.push_back(fd);
                    return true;
                case ScriptedResponse::Action::Reply:
                    send_all(fd, render(response));
                    if (!response.raw.empty()) {
                        return false;  // a raw reply may lack framing: end it by closing
                    }
                    break;
            }
        }
        return true;
    }

    void run() {
        for (;;) {
            std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
            for (const auto& [fd, buffer] : connections_) {
                if (std::find(hung_.begin(), hung_.end(), fd) == hung_.end()) {
                    fds.push_back({fd, POLLIN, 0});
                }
            }
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                continue;  // EINTR
            }
            if ((fds[0].revents & POLLIN) != 0) {
                return;
            }
            if ((fds[1].revents & POLLIN) != 0) {
                const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd >= 0) {
                    connections_[fd] = {};
                    const std::lock_guard lock(mutex_);
                    ++accepted_;
                }
            }
            for (std::size_t i = 2; i < fds.size(); ++i) {
                if (fds[i].revents == 0) {
                    continue;
                }
                const int fd = fds[i].fd;
                char chunk[4096];
                const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
                bool keep = n > 0;
                if (keep) {
                    auto& buffer = connections_[fd];
                    buffer.append(chunk, static_cast<std::size_t>(n));
                    keep = serve(fd, buffer);
                }
                if (!keep) {
                    ::close(fd);
                    connections_.erase(fd);
                    std::erase(hung_, fd);
                }
            }
        }
    }

    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    std::thread thread_;
    // Owned by the server thread (and the destructor after the join).
    std::map<int, std::string> connections_;
    std::vector<int> hung_;
    // Shared with the test thread.
    mutable std::mutex mutex_;
    std::deque<ScriptedResponse> script_;
    std::vector<ReceivedRequest> requests_;
    int accepted_ = 0;
};

}  // namespace dvd::test
