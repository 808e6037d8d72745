#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dvd::net {

enum class Method { Get, Head, Post, Put, Patch, Delete, Options, Other };

[[nodiscard]] std::string_view to_string(Method method) noexcept;

/// A name/value pair: HTTP header (name lowercased by the server), query or path parameter.
using Field = std::pair<std::string, std::string>;

/// One HTTP request as the router hands it to a handler (already complete: the body is read).
/// Plain data, no Beast types, so that layers above `net` never include Beast.
struct Request {
    Method method = Method::Get;
    std::string method_name{};         ///< as sent, e.g. "GET"
    std::string target{};              ///< raw request target, e.g. "/calls?limit=5"
    std::string path{};                ///< percent-decoded path without the query, e.g. "/calls"
    std::vector<Field> query{};        ///< decoded query parameters, in order ("a=1&a=2" gives two)
    std::vector<Field> headers{};      ///< names lowercased, values as sent
    std::vector<Field> path_params{};  ///< from the route pattern: "/calls/{id}" gives {"id", ...}
    std::string body{};                ///< raw bytes, byte-exact (signatures are checked on it)
    std::string remote_address{};      ///< peer IP, e.g. "127.0.0.1"
    int worker = 0;                    ///< the worker thread that owns the connection

    /// Case-insensitive header look-up; nullopt when absent (first one when repeated).
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    /// First query parameter with that name; nullopt when absent.
    [[nodiscard]] std::optional<std::string_view> query_param(std::string_view name) const;
    /// The path parameter of the matched route; "" when the route has none of that name.
    [[nodiscard]] std::string_view path_param(std::string_view name) const;
};

/// One HTTP response. `content_type` and `body` become the Content-Type header and the body;
/// Content-Length, Date, Server and Connection are set by the server.
struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body{};
    std::vector<Field> headers{};  ///< extra headers (Retry-After, Allow, WWW-Authenticate, ...)
    /// When not empty, the body is this file, streamed from disk by the server (`body` is then
    /// ignored): large downloads never sit in memory. A file that cannot be opened when the
    /// response is written turns it into a 404 `not_found` JSON error.
    std::string file_path{};

    /// `{"error": {"code": "<code>", "message": "<message>"}}` with the given status; the
    /// message is JSON-escaped. The form every JSON error of the service takes (docs/api.md).
    [[nodiscard]] static Response json_error(int status, std::string_view code,
                                             std::string_view message);
    [[nodiscard]] static Response json(int status, std::string body);
    [[nodiscard]] static Response text(int status, std::string body,
                                       std::string content_type = "text/plain; charset=utf-8");
    /// 200 with the content of `path` (see file_path).
    [[nodiscard]] static Response file(std::string path, std::string content_type);
};

/// Percent-decodes `text` ('+' as space when `plus_is_space`); nullopt for a bad escape.
[[nodiscard]] std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

/// Splits and decodes "a=1&b=x%20y"; nullopt when an escape is malformed.
[[nodiscard]] std::optional<std::vector<Field>> parse_query(std::string_view query);

}  // namespace dvd::net
