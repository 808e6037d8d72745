#include "unit/net/http_test_client.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dvd::net::test {
namespace {

using Clock = std::chrono::steady_clock;

[[nodiscard]] std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

[[nodiscard]] std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace

std::optional<std::string> HttpReply::header(std::string_view name) const {
    const std::string wanted = lower(name);
    for (const auto& [key, value] : headers) {
        if (key == wanted) {
            return value;
        }
    }
    return std::nullopt;
}

std::optional<RawConnection> RawConnection::open(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return std::nullopt;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the BSD socket API
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        ::close(fd);
        return std::nullopt;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return RawConnection(fd);
}

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), received_(std::move(other.received_)) {}

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        received_ = std::move(other.received_);
    }
    return *this;
}

RawConnection::~RawConnection() {
    close();
}

void RawConnection::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

bool RawConnection::write(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

long RawConnection::read_some(Clock::time_point deadline) {
    for (;;) {
        const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            return -2;
        }
        pollfd poll_fd{fd_, POLLIN, 0};
        const int ready = ::poll(&poll_fd, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready == 0) {
            return -2;
        }
        char buffer[4096];
        const ssize_t got = ::recv(fd_, buffer, sizeof(buffer), 0);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return -1;
        }
        received_.append(buffer, static_cast<std::size_t>(got));
        return static_cast<long>(got);
    }
}

bool RawConnection::read_until(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (received_.find(needle) == std::string::npos) {
        if (read_some(deadline) <= 0) {
            return false;
        }
    }
    return true;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const long got = read_some(deadline);
        if (got == 0 || got == -1) {
            return true;
        }
        if (got == -2) {
            return false;
        }
    }
}

std::optional<HttpReply> RawConnection::read_reply(bool head, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::size_t head_end = std::string::npos;
    while ((head_end = received_.find("\r\n\r\n")) == std::string::npos) {
        if (read_some(deadline) <= 0) {
            return std::nullopt;
        }
    }
    HttpReply reply;
    const std::string_view head_text(received_.data(), head_end);
    std::size_t line_end = head_text.find("\r\n");
    const std::string_view status_line = head_text.substr(0, line_end);
    // "HTTP/1.1 200 OK"
    if (status_line.size() < 12) {
        return std::nullopt;
    }
    std::from_chars(status_line.data() + 9, status_line.data() + 12, reply.status);
    std::optional<std::size_t> content_length;
    bool chunked = false;
    while (line_end != std::string_view::npos) {
        const std::size_t start = line_end + 2;
        line_end = head_text.find("\r\n", start);
        const std::string_view line = head_text.substr(start, line_end - start);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        std::string name = lower(trim(line.substr(0, colon)));
        std::string value(trim(line.substr(colon + 1)));
        if (name == "content-length") {
            std::size_t length = 0;
            std::from_chars(value.data(), value.data() + value.size(), length);
            content_length = length;
        } else if (name == "transfer-encoding"
                   && lower(value).find("chunked") != std::string::npos) {
            chunked = true;
        }
        reply.headers.emplace_back(std::move(name), std::move(value));
    }
    const std::size_t body_start = head_end + 4;
    const bool bodyless = head || reply.status < 200 || reply.status == 204 || reply.status == 304;
    if (bodyless) {
        received_.erase(0, body_start);
        return reply;
    }
    if (chunked) {
        return std::nullopt;  // the server never chunks; treat as a failure
    }
    if (content_length) {
        while (received_.size() < body_start + *content_length) {
            if (read_some(deadline) <= 0) {
                return std::nullopt;
            }
        }
        reply.body = received_.substr(body_start, *content_length);
        received_.erase(0, body_start + *content_length);
        return reply;
    }
    // Delimited by the end of the connection.
    for (;;) {
        const long got = read_some(deadline);
        if (got == 0 || got == -1) {
            break;
        }
        if (got == -2) {
            return std::nullopt;
        }
    }
    reply.body = received_.substr(body_start);
    received_.clear();
    return reply;
}

std::string make_request(std::string_view method, std::string_view target, std::string_view body,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string request;
    request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    request.append("Host: 127.0.0.1\r\n");
    for (const auto& [name, value] : headers) {
        request.append(name).append(": ").append(value).append("\r\n");
    }
    if (!body.empty() || method == "POST" || method == "PUT") {
        request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    request.append("\r\n").append(body);
    return request;
}

std::optional<HttpReply> send_request(
        std::uint16_t port, std::string_view method, std::string_view target, std::string_view body,
        const std::vector<std::pair<std::string, std::string>>& headers) {
    auto connection = RawConnection::open(port);
    if (!connection) {
        return std::nullopt;
    }
    if (!connection->write(make_request(method, target, body, headers))) {
        return std::nullopt;
    }
    return connection->read_reply(method == "HEAD");
}

}  // namespace dvd::net::test
