#include "http/http_client.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <fmt/format.h>

#include "base/check.hpp"
#include "http/errc.hpp"

namespace dvd::http {
namespace {

// libcurl's process-wide state: initialised once (a function-local static is thread-safe) and
// never cleaned up, because other clients may still run on other threads at exit.
base::Result<void> global_init() {
    static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        return fail(Errc::Init, fmt::format("curl_global_init: {}", curl_easy_strerror(code)));
    }
    return {};
}

// RFC 9110 section 5.6.2 tchar.
bool is_token_char(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) noexcept {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char);
}

bool has_control_or_space(std::string_view text) noexcept {
    return std::any_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F;
    });
}

bool starts_with_icase(std::string_view text, std::string_view prefix) noexcept {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// "scheme://host[:port]" of a URL, without user info, path or query: error messages may be logged
// and URLs such as Slack's incoming webhooks carry their secret in the path.
std::string origin_of(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return "<bad url>";
    }
    auto authority = url.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        authority = authority.substr(at + 1);
    }
    return fmt::format("{}://{}", url.substr(0, scheme_end), authority);
}

Errc errc_from_curl(CURLcode code) noexcept {
    switch (code) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
        case CURLE_BAD_FUNCTION_ARGUMENT:
            return Errc::InvalidRequest;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return Errc::Resolve;
        case CURLE_COULDNT_CONNECT:
            return Errc::Connect;
        case CURLE_OPERATION_TIMEDOUT:
            return Errc::Timeout;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CLIENTCERT:
            return Errc::Tls;
        case CURLE_FILESIZE_EXCEEDED:
            return Errc::BodyTooLarge;
        case CURLE_FAILED_INIT:
        case CURLE_OUT_OF_MEMORY:
            return Errc::Init;
        default:
            return Errc::Transfer;
    }
}

// What the libcurl callbacks fill in during one `perform`.
struct Transfer {
    std::size_t max_body_bytes = 0;
    HttpResponse response{};
    bool body_too_large = false;
    const std::function<bool(std::string_view)>* sink = nullptr;  // HttpRequest::body_sink
    int status = 0;  // of the response whose headers were read last
    bool sink_failed = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t bytes = size * count;
    if (transfer->sink != nullptr && transfer->status >= 200 && transfer->status < 300) {
        if (!(*transfer->sink)(std::string_view(data, bytes))) {
            transfer->sink_failed = true;
            return 0;
        }
        return bytes;
    }
    if (bytes > transfer->max_body_bytes - transfer->response.body.size()) {
        transfer->body_too_large = true;
        return 0;  // anything but `bytes` makes libcurl abort with CURLE_WRITE_ERROR
    }
    transfer->response.body.append(data, bytes);
    return bytes;
}

std::string_view trim_ows(std::string_view text) noexcept {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

// Called once per header line, status lines included (RFC 9112 section 5).
std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t bytes = size * count;
    std::string_view line(data, bytes);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
        line.remove_suffix(1);
    }
    Headers& headers = transfer->response.headers;
    if (line.starts_with("HTTP/")) {
        headers = Headers{};  // a new response begins (after a 1xx interim response)
        // "HTTP/1.1 200 OK": the three digits after the first space.
        const auto space = line.find(' ');
        int status = 0;
        for (std::size_t i = space + 1; space != std::string_view::npos && i < line.size()
                                        && i < space + 4 && line[i] >= '0' && line[i] <= '9';
             ++i) {
            status = status * 10 + (line[i] - '0');
        }
        transfer->status = status;
    } else if (line.empty()) {
        // end of this response's header block
    } else if ((line.front() == ' ' || line.front() == '\t') && !headers.empty()) {
        // Obsolete line folding (RFC 9112 section 5.2): a continuation of the previous value,
        // joined with one space. Rare, so the list is simply rebuilt.
        std::vector<Header> entries = headers.entries();
        entries.back().value += " " + std::string(trim_ows(line));
        headers = Headers{};
        for (auto& entry : entries) {
            headers.add(std::move(entry.name), std::move(entry.value));
        }
    } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
        headers.add(std::string(trim_ows(line.substr(0, colon))),
                    std::string(trim_ows(line.substr(colon + 1))));
    }
    return bytes;
}

struct SlistDeleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};

using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

bool append(Slist& list, const std::string& line) {
    curl_slist* grown = curl_slist_append(list.get(), line.c_str());
    if (grown == nullptr) {
        return false;
    }
    (void)list.release();
    list.reset(grown);
    return true;
}

}  // namespace

base::Result<void> validate(const HttpRequest& request) {
    if (!is_token(request.method)) {
        return fail(Errc::InvalidRequest, fmt::format("bad HTTP method '{}'", request.method));
    }
    const std::string_view url = request.url;
    const bool http_scheme =
            starts_with_icase(url, "http://") || starts_with_icase(url, "https://");
    if (!http_scheme || has_control_or_space(url)) {
        return fail(Errc::InvalidRequest, "the URL must be http:// or https:// without spaces");
    }
    const auto host_start = url.find("://") + 3;
    if (host_start >= url.size() || url.find_first_of("/?#", host_start) == host_start) {
        return fail(Errc::InvalidRequest, "the URL has no host");
    }
    for (const auto& header : request.headers) {
        if (!is_token(header.name)) {
            return fail(Errc::InvalidRequest, fmt::format("bad header name '{}'", header.name));
        }
        if (header.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            return fail(Errc::InvalidRequest,
                        fmt::format("header '{}' has a CR, LF or NUL in its value", header.name));
        }
    }
    if (request.timeout.count() <= 0) {
        return fail(Errc::InvalidRequest, "the timeout must be positive");
    }
    return {};
}

struct HttpClient::Impl {
    HttpClientOptions options;
    CURL* handle = nullptr;
    base::Result<void> init_status{};
    std::thread::id owner{};
    std::array<char, CURL_ERROR_SIZE> error_buffer{};

    explicit Impl(HttpClientOptions opts) : options(std::move(opts)) {
        init_status = global_init();
        if (init_status) {
            handle = curl_easy_init();
            if (handle == nullptr) {
                init_status = fail(Errc::Init, "curl_easy_init failed");
            }
        }
    }

    ~Impl() {
        if (handle != nullptr) {
            curl_easy_cleanup(handle);
        }
    }

    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // Options that do not depend on the request; reapplied after curl_easy_reset, which clears
    // every option but keeps the connection, TLS-session and DNS caches.
    void set_common_options(Transfer& transfer, std::chrono::milliseconds timeout,
                            bool streamed) {
        error_buffer[0] = '\0';
        curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer.data());
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM: we are multi-threaded
        curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
        const auto connect = std::min(options.connect_timeout, timeout);
        curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count()));
        curl_easy_setopt(handle, CURLOPT_USERAGENT, options.user_agent.c_str());
        if (!options.ca_bundle_path.empty()) {
            curl_easy_setopt(handle, CURLOPT_CAINFO, options.ca_bundle_path.c_str());
        }
        if (options.proxy) {
            curl_easy_setopt(handle, CURLOPT_PROXY, options.proxy->c_str());
        }
        if (options.max_response_body_bytes > 0 && !streamed) {
            // Refuses early when Content-Length is already too large.
            curl_easy_setopt(handle, CURLOPT_MAXFILESIZE_LARGE,
                             static_cast<curl_off_t>(options.max_response_body_bytes));
        }
        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
        curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
    }

    void set_method_and_body(const HttpRequest& request) {
        const std::string& method = request.method;
        if (method == "HEAD") {
            curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
            return;
        }
        if (method == "GET" && request.body.empty()) {
            curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
            return;
        }
        if (method != "POST") {
            curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
        }
        if (method == "POST" || method == "PUT" || method == "PATCH" || !request.body.empty()) {
            // POSTFIELDS does not copy: `request` outlives curl_easy_perform.
            curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body.size()));
            curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
        }
    }

    base::Result<Slist> header_list(const HttpRequest& request) const {
        Slist list;
        bool ok = true;
        for (const auto& header : request.headers) {
            // "Name;" is libcurl's spelling of a header with an empty value.
            ok = ok
                 && append(list, header.value.empty() ? header.name + ";"
                                                      : header.name + ": " + header.value);
        }
        // No "Expect: 100-continue" round trip for larger bodies, and no default
        // form-urlencoded content type for a body whose type the caller did not state.
        if (!request.headers.contains("Expect")) {
            ok = ok && append(list, "Expect:");
        }
        if (!request.body.empty() && !request.headers.contains("Content-Type")) {
            ok = ok && append(list, "Content-Type:");
        }
        if (!ok) {
            return fail(Errc::Init, "curl_slist_append: out of memory");
        }
        return list;
    }
};

HttpClient::HttpClient(HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

const HttpClientOptions& HttpClient::options() const noexcept {
    DVD_ASSERT(impl_ != nullptr, "a moved-from HttpClient has no options");
    return impl_->options;
}

base::Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
    DVD_CHECK(impl_ != nullptr, "send() on a moved-from HttpClient");
    Impl& impl = *impl_;
    if (impl.owner == std::thread::id{}) {
        impl.owner = std::this_thread::get_id();
    }
    DVD_ASSERT(impl.owner == std::this_thread::get_id(),
               "an HttpClient is owned by the first thread that sends with it");
    if (!impl.init_status) {
        return impl.init_status.error();
    }
    if (auto valid = validate(request); !valid) {
        return valid.error();
    }
    auto headers = impl.header_list(request);
    if (!headers) {
        return headers.error();
    }

    Transfer transfer;
    transfer.max_body_bytes = impl.options.max_response_body_bytes > 0
                                      ? impl.options.max_response_body_bytes
                                      : std::numeric_limits<std::size_t>::max();
    if (request.body_sink) {
        transfer.sink = &request.body_sink;
    }
    curl_easy_reset(impl.handle);
    impl.set_common_options(transfer, request.timeout, transfer.sink != nullptr);
    curl_easy_setopt(impl.handle, CURLOPT_URL, request.url.c_str());
    impl.set_method_and_body(request);
    curl_easy_setopt(impl.handle, CURLOPT_HTTPHEADER, headers->get());

    const CURLcode code = curl_easy_perform(impl.handle);
    // The header list and the transfer state must not be reachable after this call.
    curl_easy_setopt(impl.handle, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(impl.handle, CURLOPT_POSTFIELDS, nullptr);
    curl_easy_setopt(impl.handle, CURLOPT_WRITEDATA, nullptr);
    curl_easy_setopt(impl.handle, CURLOPT_HEADERDATA, nullptr);

    const std::string where = fmt::format("{} {}", request.method, origin_of(request.url));
    if (transfer.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
        return fail(Errc::BodyTooLarge, fmt::format("{}: response body exceeds {} bytes", where,
                                                    impl.options.max_response_body_bytes));
    }
    if (transfer.sink_failed) {
        return fail(Errc::SinkFailed, fmt::format("{}: the body sink refused the data", where));
    }
    if (code != CURLE_OK) {
        const std::string_view detail = impl.error_buffer[0] != '\0'
                                                ? std::string_view(impl.error_buffer.data())
                                                : std::string_view(curl_easy_strerror(code));
        return fail(errc_from_curl(code), fmt::format("{}: {}", where, detail));
    }
    long status = 0;
    curl_easy_getinfo(impl.handle, CURLINFO_RESPONSE_CODE, &status);
    transfer.response.status = static_cast<int>(status);
    return std::move(transfer.response);
}

}  // namespace dvd::http
