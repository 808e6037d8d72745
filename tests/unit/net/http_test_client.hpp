#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// A raw HTTP/1.1 client for the net tests: POSIX sockets with poll() deadlines, so a test never
// hangs on a misbehaving server, and bytes on the wire fully under the test's control (malformed
// requests, pipelining, half-sent bodies). Test-only: one thread per connection.
namespace dvd::net::test {

using namespace std::chrono_literals;

/// A parsed HTTP response. Header names are lowercased.
struct HttpReply {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers{};
    std::string body{};

    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

class RawConnection {
public:
    /// Connects to 127.0.0.1:`port`; nullopt when the connection fails.
    [[nodiscard]] static std::optional<RawConnection> open(std::uint16_t port);

    RawConnection(RawConnection&& other) noexcept;
    RawConnection& operator=(RawConnection&& other) noexcept;
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    ~RawConnection();

    /// Writes all of `bytes`; false when the peer closed or reset.
    bool write(std::string_view bytes);

    /// Reads one response. `head`: the request was HEAD (no body follows the headers).
    /// nullopt when the connection closed first or `timeout` passed.
    [[nodiscard]] std::optional<HttpReply> read_reply(bool head = false,
                                                      std::chrono::milliseconds timeout = 5s);

    /// Reads until the bytes received (and not yet consumed) contain `needle`; false on timeout
    /// or end of stream. `received()` then holds everything read so far.
    bool read_until(std::string_view needle, std::chrono::milliseconds timeout = 5s);

    /// True when the server closes the connection (EOF or reset) within `timeout`; received
    /// bytes are kept in `received()`.
    bool wait_closed(std::chrono::milliseconds timeout = 5s);

    [[nodiscard]] const std::string& received() const { return received_; }

    void clear_received() { received_.clear(); }

    /// Drops the received bytes up to and including the first `needle` (all when absent).
    void consume_through(std::string_view needle) {
        const std::size_t at = received_.find(needle);
        received_.erase(0, at == std::string::npos ? received_.size() : at + needle.size());
    }

    void close();

private:
    explicit RawConnection(int fd) : fd_(fd) {}

    /// One recv with a deadline: >0 bytes, 0 end of stream, -1 error, -2 timeout.
    long read_some(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::string received_;
};

/// "METHOD target HTTP/1.1" + Host + the headers + Content-Length (when a body is given or the
/// method is POST/PUT) + body.
[[nodiscard]] std::string make_request(
        std::string_view method, std::string_view target, std::string_view body = {},
        const std::vector<std::pair<std::string, std::string>>& headers = {});

/// Opens a connection, sends one request, reads the reply; nullopt on any failure.
[[nodiscard]] std::optional<HttpReply> send_request(
        std::uint16_t port, std::string_view method, std::string_view target,
        std::string_view body = {},
        const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace dvd::net::test
