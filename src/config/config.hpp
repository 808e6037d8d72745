#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace dvd::config {

/// Telnyx's v2 API (telnyx-protocol.md section 2.1).
inline constexpr std::string_view kDefaultTelnyxApiBase = "https://api.telnyx.com/v2";
/// Appended to TELNYX_API_BASE for the default AI_INFERENCE_URL: the current OpenAI-compatible
/// endpoint (section 6.1; `/ai/chat/completions` is deprecated).
inline constexpr std::string_view kInferencePath = "/ai/openai/chat/completions";
inline constexpr std::string_view kDefaultAiModel = "moonshotai/Kimi-K2.6";
inline constexpr std::string_view kDefaultDatabaseUrl = "sqlite://./var/dvd.db";
inline constexpr double kDefaultDetectionThreshold = 0.75;
inline constexpr std::uint16_t kDefaultPort = 5000;
inline constexpr int kDefaultRecordingRetentionDays = 30;
/// API_TOKEN is a bearer secret for our JSON API: at least this many characters.
inline constexpr std::size_t kMinApiTokenChars = 16;

/// What to do when a call is flagged (issue "Risk analysis ...", section Escalation).
enum class EscalationPolicy {
    None,      ///< alert only
    Warn,      ///< speak a notice to the caller
    Transfer,  ///< transfer the call to SECURITY_NUMBER
    Hangup,    ///< end the call
};

enum class LogLevel { Trace, Debug, Info, Warn, Error, Critical, Off };

/// The service configuration, one field per environment variable (see `.env.example`). Filled by
/// `load_config`, which has validated every field; the other layers receive it (or the part they
/// need) as `const Config&`. Secrets: telnyx_api_key, api_token, and the paths/queries of
/// alert_webhook and alert_webhook_json; print only `redacted(config)`.
struct Config {
    // Telnyx
    std::string
            telnyx_api_key{};  ///< TELNYX_API_KEY; empty: demo mode (the simulator plays Telnyx)
    std::string telnyx_public_key{};  ///< TELNYX_PUBLIC_KEY: base64 of the 32-byte Ed25519 key
    std::string telnyx_api_base{kDefaultTelnyxApiBase};  ///< TELNYX_API_BASE, no trailing '/'
    std::string main_number{};       ///< MAIN_NUMBER: +E.164, our number (caller id of dials)
    std::string connection_id{};     ///< CONNECTION_ID: the Call Control application id
    std::string media_stream_url{};  ///< MEDIA_STREAM_URL: ws(s)://; empty: derived by the server
    bool telnyx_deepfake_detection = false;  ///< TELNYX_DEEPFAKE_DETECTION: Telnyx's own detector
    // Detection
    double detection_threshold = kDefaultDetectionThreshold;  ///< DETECTION_THRESHOLD in (0, 1)
    // AI Inference
    std::string ai_model{kDefaultAiModel};  ///< AI_MODEL
    std::string ai_inference_url{};  ///< AI_INFERENCE_URL; default telnyx_api_base + kInferencePath
    // Alerts and escalation
    std::string alert_webhook{};       ///< ALERT_WEBHOOK: Slack incoming webhook; empty: no Slack
    std::string alert_webhook_json{};  ///< ALERT_WEBHOOK_JSON: generic JSON webhook; empty: none
    EscalationPolicy escalation_policy = EscalationPolicy::None;  ///< ESCALATION_POLICY
    std::string security_number{};  ///< SECURITY_NUMBER: +E.164; required by Transfer
    // Service
    std::uint16_t port = kDefaultPort;              ///< PORT
    std::string database_url{kDefaultDatabaseUrl};  ///< DATABASE_URL
    std::string api_token{};                        ///< API_TOKEN; empty: the JSON API is open
    /// RECORDING_DOWNLOAD: keep our own copy of each recording (Telnyx's links expire in 10 min).
    bool recording_download = true;
    /// RECORDINGS_DIR: where the copies go; empty: a `recordings` folder beside the SQLite
    /// database, or ./var/recordings when the database is PostgreSQL.
    std::string recordings_dir{};
    /// RECORDING_RETENTION_DAYS: copies of calls that were not flagged are deleted this many days
    /// after download; 0 keeps them forever. Flagged calls' copies are never deleted.
    int recording_retention_days = kDefaultRecordingRetentionDays;
    LogLevel log_level = LogLevel::Info;  ///< LOG_LEVEL
    /// Non-fatal remarks for the start-up log (unknown .env keys, clear-text URLs, ...).
    std::vector<std::string> warnings{};

    /// No TELNYX_API_KEY: run against the built-in simulator.
    [[nodiscard]] bool is_demo_mode() const noexcept { return telnyx_api_key.empty(); }

    /// Outbound verification calls need both our number and the application id.
    [[nodiscard]] bool can_dial() const noexcept {
        return !main_number.empty() && !connection_id.empty();
    }
};

/// Looks up one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment (std::getenv). Read it at start-up, before threads call setenv.
[[nodiscard]] EnvLookup process_environment();

/// The variables `load_config` reads, in `.env.example` order.
[[nodiscard]] const std::vector<std::string_view>& variable_names();

/// Builds the configuration from `env` and, when given, the `.env` file at `env_file`:
///   * a variable set (non-empty) in `env` wins over the file; an empty value counts as unset,
///     so the file's value or the default applies; surrounding blanks are trimmed;
///   * every value is validated, and the first problem stops loading with a message that starts
///     with the variable's name (never its value when it is a secret), e.g.
///     "PORT: '70000' is not a TCP port (1..65535)";
///   * cross-field rules: ESCALATION_POLICY=transfer needs SECURITY_NUMBER, which must differ
///     from MAIN_NUMBER; AI_INFERENCE_URL defaults to TELNYX_API_BASE + kInferencePath.
/// Errors: Errc::InvalidArgument for a bad value; the errors of `read_env_file` for the file
/// (a given path that does not exist is Errc::NotFound: pass a path only when the file exists).
[[nodiscard]] base::Result<Config> load_config(
        const EnvLookup& env, const std::optional<std::filesystem::path>& env_file = std::nullopt);

/// One line for the start-up log: every variable as NAME=value, with secrets replaced by
/// "<set>"/"<unset>" and URLs reduced to scheme://host[:port]/path (no user info, and for the
/// alert webhooks no path or query either).
[[nodiscard]] std::string redacted(const Config& config);

[[nodiscard]] std::string_view to_string(EscalationPolicy policy) noexcept;
[[nodiscard]] std::string_view to_string(LogLevel level) noexcept;

}  // namespace dvd::config
