#include "config/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "config/env_file.hpp"

namespace dvd::config {
namespace {

constexpr std::size_t kMaxE164Digits = 15;  // ITU-T E.164 section 6.1
constexpr std::size_t kEd25519PublicKeyBytes = 32;
constexpr std::size_t kMaxIdentifierChars = 256;
constexpr std::uint16_t kMaxTcpPort = 65535;
constexpr std::string_view kRedacted = "<redacted>";

std::string_view trim(std::string_view s) noexcept {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

bool all_digits(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

// Printable ASCII, no spaces: API keys, tokens, ids.
bool is_printable_word(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7F;
    });
}

bool has_space_or_control(std::string_view s) noexcept {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7F;
    });
}

bool has_control(std::string_view s) noexcept {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7F;
    });
}

base::Error bad(std::string_view variable, std::string_view why) {
    return base::fail(base::Errc::InvalidArgument, fmt::format("{}: {}", variable, why));
}

// ---- values -------------------------------------------------------------------------------

// "+" then 2..15 digits, the first not 0 (E.164: country code + national number).
bool is_e164(std::string_view s) noexcept {
    return s.size() >= 3 && s.size() <= kMaxE164Digits + 1 && s.front() == '+'
           && all_digits(s.substr(1)) && s[1] != '0';
}

std::optional<std::uint16_t> parse_port(std::string_view s) noexcept {
    if (!all_digits(s) || s.size() > 5) {
        return std::nullopt;
    }
    unsigned value = 0;
    std::from_chars(s.data(), s.data() + s.size(), value);
    if (value < 1 || value > kMaxTcpPort) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

std::optional<double> parse_number(std::string_view s) noexcept {
    double value = 0.0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

std::optional<bool> parse_bool(std::string_view s) {
    const std::string v = lower(s);
    if (v == "true" || v == "1" || v == "yes" || v == "on") {
        return true;
    }
    if (v == "false" || v == "0" || v == "no" || v == "off") {
        return false;
    }
    return std::nullopt;
}

// Standard base64 (RFC 4648 section 4), padding optional; the decoded size, or nullopt.
std::optional<std::size_t> base64_decoded_size(std::string_view s) noexcept {
    const auto sextet = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') {
            return c - 'A';
        }
        if (c >= 'a' && c <= 'z') {
            return c - 'a' + 26;
        }
        if (is_digit(c)) {
            return c - '0' + 52;
        }
        return c == '+' ? 62 : (c == '/' ? 63 : -1);
    };
    const std::size_t padded = s.size();
    std::size_t padding = 0;
    while (!s.empty() && s.back() == '=' && padding < 2) {
        s.remove_suffix(1);
        ++padding;
    }
    if (s.empty() || (padding > 0 && padded % 4 != 0) || s.size() % 4 == 1) {
        return std::nullopt;
    }
    int last = 0;
    for (const char c : s) {
        last = sextet(c);
        if (last < 0) {
            return std::nullopt;
        }
    }
    // The unused low bits of the last character must be zero (canonical encoding).
    const std::size_t tail = s.size() % 4;
    const unsigned bits = tail == 2 ? 4U : (tail == 3 ? 2U : 0U);
    if ((static_cast<unsigned>(last) & ((1U << bits) - 1U)) != 0U) {
        return std::nullopt;
    }
    return s.size() * 6 / 8;
}

// ---- URLs ---------------------------------------------------------------------------------

struct Url {
    std::string scheme;         // lower case
    std::string_view userinfo;  // before '@', may be empty
    std::string_view host;      // a name, an IPv4 address or a bracketed IPv6 literal
    std::string_view port;      // digits, may be empty
    std::string_view path;      // from the first '/' up to '?' or '#'
    std::string_view query;     // from '?' or '#' to the end
};

bool is_host_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '.'
           || c == '_';
}

// A deliberately small absolute-URL reader (RFC 3986 section 3): enough to reject typos and to
// redact, not a general parser.
std::optional<Url> parse_url(std::string_view text, std::string& why) {
    if (has_space_or_control(text)) {
        why = "contains spaces or control characters";
        return std::nullopt;
    }
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) {
        why = "is not an absolute URL (scheme://host/...)";
        return std::nullopt;
    }
    Url url;
    url.scheme = lower(text.substr(0, scheme_end));
    std::string_view rest = text.substr(scheme_end + 3);
    const auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
    std::string_view authority = rest.substr(0, authority_end);
    rest = rest.substr(authority_end);
    const auto query_start = std::min(rest.find_first_of("?#"), rest.size());
    url.path = rest.substr(0, query_start);
    url.query = rest.substr(query_start);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        url.userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
    }
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos || close == 1) {
            why = "has a malformed IPv6 host";
            return std::nullopt;
        }
        url.host = authority.substr(0, close + 1);
        authority = authority.substr(close + 1);
    } else {
        const auto colon = std::min(authority.find(':'), authority.size());
        url.host = authority.substr(0, colon);
        authority = authority.substr(colon);
        if (url.host.empty() || !std::all_of(url.host.begin(), url.host.end(), is_host_char)
            || url.host.find("..") != std::string_view::npos || url.host.front() == '.') {
            why = "has no valid host name";
            return std::nullopt;
        }
    }
    if (!authority.empty()) {
        if (authority.front() != ':' || !parse_port(authority.substr(1))) {
            why = "has an invalid port";
            return std::nullopt;
        }
        url.port = authority.substr(1);
    }
    return url;
}

bool is_loopback(std::string_view host) {
    const std::string h = lower(host);
    return h == "localhost" || h.starts_with("127.") || h == "[::1]";
}

std::string origin(const Url& url) {
    std::string out = fmt::format("{}://{}", url.scheme, url.host);
    if (!url.port.empty()) {
        out += fmt::format(":{}", url.port);
    }
    return out;
}

// scheme://host[:port] plus the path (keep_path) or "/<redacted>" when there was more.
std::string redact_url(std::string_view text, bool keep_path) {
    if (text.empty()) {
        return "<unset>";
    }
    std::string why;
    const auto url = parse_url(text, why);
    if (!url) {
        return std::string(kRedacted);
    }
    std::string out = origin(*url);
    if (keep_path) {
        out += url->path;
    } else if (!url->path.empty() || !url->query.empty()) {
        out += fmt::format("/{}", kRedacted);
    }
    return out;
}

// ---- loading ------------------------------------------------------------------------------

// Real environment first, then the .env file; empty values count as unset.
class Source {
public:
    Source(const EnvLookup& env, std::map<std::string, std::string, std::less<>> file)
        : env_(env), file_(std::move(file)) {}

    [[nodiscard]] std::optional<std::string> get(std::string_view name) const {
        if (auto value = env_(name)) {
            if (const auto t = trim(*value); !t.empty()) {
                return std::string(t);
            }
        }
        if (const auto it = file_.find(name); it != file_.end()) {
            if (const auto t = trim(it->second); !t.empty()) {
                return std::string(t);
            }
        }
        return std::nullopt;
    }

private:
    const EnvLookup& env_;
    std::map<std::string, std::string, std::less<>> file_;
};

// Reads and validates variables into a Config. The first error sticks; after it every read
// returns nothing, so the message names the first bad variable in `variable_names()` order.
class Loader {
public:
    Loader(const Source& source, Config& config) : source_(source), config_(config) {}

    [[nodiscard]] const std::optional<base::Error>& error() const { return error_; }

    void fail(std::string_view variable, std::string_view why) {
        if (!error_) {
            error_ = bad(variable, why);
        }
    }

    std::optional<std::string> get(std::string_view variable) const {
        return error_ ? std::nullopt : source_.get(variable);
    }

    // A URL with one of `schemes`. Secret URLs, and any with user info, are never echoed.
    void url(std::string_view variable, std::string& field,
             std::initializer_list<std::string_view> schemes, bool secret) {
        const auto value = get(variable);
        if (!value) {
            return;
        }
        std::string why;
        const auto parsed = parse_url(*value, why);
        const bool hide = secret || value->find('@') != std::string::npos;
        const auto shown = hide ? std::string("the value") : fmt::format("'{}'", *value);
        if (!parsed) {
            fail(variable, fmt::format("{} {}", shown, why));
            return;
        }
        if (std::find(schemes.begin(), schemes.end(), parsed->scheme) == schemes.end()) {
            std::string list;
            for (const auto s : schemes) {
                list += fmt::format("{}{}://", list.empty() ? "" : " or ", s);
            }
            fail(variable, fmt::format("{} must start with {}", shown, list));
            return;
        }
        const bool clear_text = parsed->scheme == "http" || parsed->scheme == "ws";
        if (clear_text && !is_loopback(parsed->host)) {
            config_.warnings.push_back(
                    fmt::format("{} uses {}:// to a non-loopback host: traffic is not encrypted",
                                variable, parsed->scheme));
        }
        field = *value;
    }

    void e164(std::string_view variable, std::string& field) {
        if (const auto value = get(variable)) {
            if (!is_e164(*value)) {
                fail(variable, fmt::format("'{}' is not an E.164 number (+ then 2 to 15 digits, "
                                           "e.g. +13125550100)",
                                           *value));
                return;
            }
            field = *value;
        }
    }

    void word(std::string_view variable, std::string& field, bool secret) {
        if (const auto value = get(variable)) {
            if (!is_printable_word(*value) || value->size() > kMaxIdentifierChars) {
                fail(variable,
                     fmt::format("{} must be printable ASCII without spaces, at most "
                                 "{} characters",
                                 secret ? std::string("the value") : fmt::format("'{}'", *value),
                                 kMaxIdentifierChars));
                return;
            }
            field = *value;
        }
    }

    template <class Enum, std::size_t N>
    void choice(std::string_view variable, Enum& field,
                const std::array<std::pair<std::string_view, Enum>, N>& names) {
        if (const auto value = get(variable)) {
            const std::string v = lower(*value);
            for (const auto& [name, e] : names) {
                if (v == name) {
                    field = e;
                    return;
                }
            }
            std::string list;
            for (const auto& [name, e] : names) {
                list += fmt::format("{}{}", list.empty() ? "" : "|", name);
            }
            fail(variable, fmt::format("'{}' is not one of {}", *value, list));
        }
    }

private:
    const Source& source_;
    Config& config_;
    std::optional<base::Error> error_;
};

constexpr std::array<std::pair<std::string_view, EscalationPolicy>, 4> kPolicies = {{
        {"none", EscalationPolicy::None},
        {"warn", EscalationPolicy::Warn},
        {"transfer", EscalationPolicy::Transfer},
        {"hangup", EscalationPolicy::Hangup},
}};

constexpr std::array<std::pair<std::string_view, LogLevel>, 8> kLogLevels = {{
        {"trace", LogLevel::Trace},
        {"debug", LogLevel::Debug},
        {"info", LogLevel::Info},
        {"warn", LogLevel::Warn},
        {"warning", LogLevel::Warn},
        {"error", LogLevel::Error},
        {"critical", LogLevel::Critical},
        {"off", LogLevel::Off},
}};

void load_telnyx(Loader& in, Config& c) {
    if (const auto key = in.get("TELNYX_API_KEY")) {
        if (!is_printable_word(*key) || key->size() > kMaxIdentifierChars) {
            in.fail("TELNYX_API_KEY",
                    fmt::format("must be printable ASCII without spaces, at most {} characters "
                                "(the value is not shown)",
                                kMaxIdentifierChars));
        } else {
            c.telnyx_api_key = *key;
            if (!key->starts_with("KEY")) {
                c.warnings.emplace_back(
                        "TELNYX_API_KEY does not start with 'KEY' as Telnyx API v2 keys do");
            }
        }
    }
    if (const auto key = in.get("TELNYX_PUBLIC_KEY")) {
        if (base64_decoded_size(*key) != kEd25519PublicKeyBytes) {
            in.fail("TELNYX_PUBLIC_KEY",
                    "must be the base64 of a 32-byte Ed25519 public key (Mission Control Portal "
                    "> Keys & Credentials > Public Key)");
        } else {
            c.telnyx_public_key = *key;
        }
    }
    in.url("TELNYX_API_BASE", c.telnyx_api_base, {"https", "http"}, false);
    while (c.telnyx_api_base.ends_with('/')) {
        c.telnyx_api_base.pop_back();
    }
    in.e164("MAIN_NUMBER", c.main_number);
    in.word("CONNECTION_ID", c.connection_id, false);
    in.url("MEDIA_STREAM_URL", c.media_stream_url, {"wss", "ws"}, false);
    if (const auto value = in.get("TELNYX_DEEPFAKE_DETECTION")) {
        if (const auto flag = parse_bool(*value)) {
            c.telnyx_deepfake_detection = *flag;
        } else {
            in.fail("TELNYX_DEEPFAKE_DETECTION",
                    fmt::format("'{}' is not a boolean (true/false, 1/0, yes/no, on/off)", *value));
        }
    }
}

void load_detection_and_ai(Loader& in, Config& c) {
    if (const auto value = in.get("DETECTION_THRESHOLD")) {
        const auto threshold = parse_number(*value);
        if (!threshold || *threshold <= 0.0 || *threshold >= 1.0) {
            in.fail("DETECTION_THRESHOLD",
                    fmt::format("'{}' must be a number strictly between 0 and 1", *value));
        } else {
            c.detection_threshold = *threshold;
        }
    }
    in.word("AI_MODEL", c.ai_model, false);
    in.url("AI_INFERENCE_URL", c.ai_inference_url, {"https", "http"}, false);
}

void load_alerts(Loader& in, Config& c) {
    in.url("ALERT_WEBHOOK", c.alert_webhook, {"https", "http"}, true);
    in.url("ALERT_WEBHOOK_JSON", c.alert_webhook_json, {"https", "http"}, true);
    in.choice("ESCALATION_POLICY", c.escalation_policy, kPolicies);
    in.e164("SECURITY_NUMBER", c.security_number);
}

void load_service(Loader& in, Config& c) {
    if (const auto value = in.get("PORT")) {
        if (const auto port = parse_port(*value)) {
            c.port = *port;
        } else {
            in.fail("PORT", fmt::format("'{}' is not a TCP port (1..65535)", *value));
        }
    }
    if (const auto value = in.get("DATABASE_URL")) {
        // A PostgreSQL URL (libpq checks the rest when the service connects) or one of the forms
        // store::sqlite_path_from_url accepts (its scheme match is case-sensitive).
        const auto scheme_end = value->find("://");
        const std::string_view scheme =
                std::string_view(*value).substr(0, std::min(scheme_end, value->size()));
        const std::string_view path = scheme_end == std::string::npos
                                              ? std::string_view(*value)
                                              : std::string_view(*value).substr(scheme_end + 3);
        const bool postgres =
                scheme_end != std::string::npos && (scheme == "postgres" || scheme == "postgresql");
        if (has_control(*value)) {
            in.fail("DATABASE_URL", "contains control characters");
        } else if (scheme_end != std::string::npos && !postgres && scheme != "sqlite") {
            in.fail("DATABASE_URL", fmt::format("unsupported scheme '{}://' (use sqlite://PATH or "
                                                "postgresql://...)",
                                                scheme));
        } else if (!postgres && (path.empty() || path == "/")) {
            in.fail("DATABASE_URL", "sqlite:// needs a file path, e.g. sqlite://./var/dvd.db");
        } else {
            c.database_url = *value;
        }
    }
    if (const auto token = in.get("API_TOKEN")) {
        if (!is_printable_word(*token) || token->size() < kMinApiTokenChars) {
            in.fail("API_TOKEN",
                    fmt::format("must be at least {} printable characters without spaces (e.g. "
                                "the output of `openssl rand -hex 32`); the value is not shown",
                                kMinApiTokenChars));
        } else {
            c.api_token = *token;
        }
    }
    if (const auto value = in.get("RECORDING_DOWNLOAD")) {
        if (const auto flag = parse_bool(*value)) {
            c.recording_download = *flag;
        } else {
            in.fail("RECORDING_DOWNLOAD",
                    fmt::format("'{}' is not a boolean (true/false, 1/0, yes/no, on/off)", *value));
        }
    }
    if (const auto value = in.get("RECORDINGS_DIR")) {
        if (has_control(*value)) {
            in.fail("RECORDINGS_DIR", "contains control characters");
        } else {
            c.recordings_dir = *value;
        }
    }
    if (const auto value = in.get("RECORDING_RETENTION_DAYS")) {
        // Up to about 100 years; digits only.
        if (!all_digits(*value) || value->size() > 5) {
            in.fail("RECORDING_RETENTION_DAYS",
                    fmt::format("'{}' must be a whole number of days (0 keeps recordings "
                                "forever)",
                                *value));
        } else {
            int days = 0;
            std::from_chars(value->data(), value->data() + value->size(), days);
            c.recording_retention_days = days;
        }
    }
    in.choice("LOG_LEVEL", c.log_level, kLogLevels);
}

base::Result<void> check_cross_rules(Config& c) {
    if (c.escalation_policy == EscalationPolicy::Transfer) {
        if (c.security_number.empty()) {
            return bad("SECURITY_NUMBER",
                       "is required when ESCALATION_POLICY=transfer (the number that receives "
                       "flagged calls)");
        }
        if (c.security_number == c.main_number) {
            return bad("SECURITY_NUMBER",
                       "must differ from MAIN_NUMBER (a transfer would call the service itself)");
        }
    }
    if (c.ai_inference_url.empty()) {
        c.ai_inference_url = c.telnyx_api_base + std::string(kInferencePath);
    }
    if (!c.is_demo_mode()) {
        if (c.telnyx_public_key.empty()) {
            c.warnings.emplace_back(
                    "TELNYX_PUBLIC_KEY is unset: webhook signatures cannot be verified");
        }
        if (!c.can_dial()) {
            c.warnings.emplace_back(
                    "MAIN_NUMBER or CONNECTION_ID is unset: outbound verification calls are off");
        }
    }
    return {};
}

}  // namespace

EnvLookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const std::string key(name);
        // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at start-up, before threads start.
        if (const char* value = std::getenv(key.c_str())) {
            return std::string(value);
        }
        return std::nullopt;
    };
}

const std::vector<std::string_view>& variable_names() {
    static const std::vector<std::string_view> names = {"TELNYX_API_KEY",
                                                        "TELNYX_PUBLIC_KEY",
                                                        "TELNYX_API_BASE",
                                                        "MAIN_NUMBER",
                                                        "CONNECTION_ID",
                                                        "MEDIA_STREAM_URL",
                                                        "TELNYX_DEEPFAKE_DETECTION",
                                                        "DETECTION_THRESHOLD",
                                                        "AI_MODEL",
                                                        "AI_INFERENCE_URL",
                                                        "ALERT_WEBHOOK",
                                                        "ALERT_WEBHOOK_JSON",
                                                        "ESCALATION_POLICY",
                                                        "SECURITY_NUMBER",
                                                        "PORT",
                                                        "DATABASE_URL",
                                                        "API_TOKEN",
                                                        "RECORDING_DOWNLOAD",
                                                        "RECORDINGS_DIR",
                                                        "RECORDING_RETENTION_DAYS",
                                                        "LOG_LEVEL"};
    return names;
}

base::Result<Config> load_config(const EnvLookup& env,
                                 const std::optional<std::filesystem::path>& env_file) {
    Config config;
    std::map<std::string, std::string, std::less<>> file_values;
    if (env_file) {
        auto entries = read_env_file(*env_file);
        if (!entries) {
            return entries.error();
        }
        const auto& known = variable_names();
        for (auto& entry : *entries) {
            if (std::find(known.begin(), known.end(), entry.key) == known.end()) {
                config.warnings.push_back(fmt::format("{} line {}: unknown variable {} (ignored)",
                                                      env_file->string(), entry.line, entry.key));
                continue;
            }
            file_values[entry.key] = std::move(entry.value);
        }
    }
    const Source source(env, std::move(file_values));
    Loader loader(source, config);
    load_telnyx(loader, config);
    load_detection_and_ai(loader, config);
    load_alerts(loader, config);
    load_service(loader, config);
    if (loader.error()) {
        return *loader.error();
    }
    if (auto cross = check_cross_rules(config); !cross) {
        return cross.error();
    }
    return config;
}

std::string redacted(const Config& c) {
    const auto secret = [](const std::string& v) {
        return v.empty() ? "<unset>" : "<set>";
    };
    const auto plain = [](const std::string& v) {
        return v.empty() ? std::string("<unset>") : v;
    };
    return fmt::format(
            "TELNYX_API_KEY={} TELNYX_PUBLIC_KEY={} TELNYX_API_BASE={} MAIN_NUMBER={} "
            "CONNECTION_ID={} MEDIA_STREAM_URL={} TELNYX_DEEPFAKE_DETECTION={} "
            "DETECTION_THRESHOLD={} AI_MODEL={} AI_INFERENCE_URL={} ALERT_WEBHOOK={} "
            "ALERT_WEBHOOK_JSON={} ESCALATION_POLICY={} SECURITY_NUMBER={} PORT={} "
            "DATABASE_URL={} API_TOKEN={} RECORDING_DOWNLOAD={} RECORDINGS_DIR={} "
            "RECORDING_RETENTION_DAYS={} LOG_LEVEL={}",
            secret(c.telnyx_api_key), plain(c.telnyx_public_key),
            redact_url(c.telnyx_api_base, true), plain(c.main_number), plain(c.connection_id),
            redact_url(c.media_stream_url, true), c.telnyx_deepfake_detection,
            c.detection_threshold, c.ai_model, redact_url(c.ai_inference_url, true),
            redact_url(c.alert_webhook, false), redact_url(c.alert_webhook_json, false),
            to_string(c.escalation_policy), plain(c.security_number), c.port,
            c.database_url.find('@') == std::string::npos
                            && c.database_url.find("password") == std::string::npos
                    ? c.database_url
                    : std::string(kRedacted),
            secret(c.api_token), c.recording_download, plain(c.recordings_dir),
            c.recording_retention_days, to_string(c.log_level));
}

std::string_view to_string(EscalationPolicy policy) noexcept {
    switch (policy) {
        case EscalationPolicy::None:
            return "none";
        case EscalationPolicy::Warn:
            return "warn";
        case EscalationPolicy::Transfer:
            return "transfer";
        case EscalationPolicy::Hangup:
            return "hangup";
    }
    return "unknown";
}

std::string_view to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::Trace:
            return "trace";
        case LogLevel::Debug:
            return "debug";
        case LogLevel::Info:
            return "info";
        case LogLevel::Warn:
            return "warn";
        case LogLevel::Error:
            return "error";
        case LogLevel::Critical:
            return "critical";
        case LogLevel::Off:
            return "off";
    }
    return "unknown";
}

}  // namespace dvd::config
