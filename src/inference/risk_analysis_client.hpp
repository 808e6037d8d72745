#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "config/config.hpp"
#include "http/http_client.hpp"
#include "http/retry.hpp"
#include "inference/risk_prompt.hpp"
#include "inference/risk_types.hpp"

namespace dvd::inference {

/// Where and how the risk analysis is requested.
struct RiskAnalysisOptions {
    /// AI_INFERENCE_URL: an OpenAI-compatible chat-completions URL (default TELNYX_API_BASE +
    /// /ai/openai/chat/completions).
    std::string url{};
    /// TELNYX_API_KEY, sent as `Authorization: Bearer <key>`; empty: no Authorization header (a
    /// local OpenAI-compatible server). Never logged or put in messages.
    std::string api_key{};
    PromptOptions prompt{};
    /// Per attempt: DNS + connect + TLS + request + the whole completion.
    std::chrono::milliseconds request_timeout{8'000};
    /// Retries of 408/429/5xx and of transient transport errors (a chat completion has no side
    /// effect, so a retry is safe). Kept short: the analysis is only useful while the call lasts.
    http::RetryOptions retry{.max_attempts = 3,
                             .base_delay = std::chrono::milliseconds{250},
                             .max_delay = std::chrono::milliseconds{2'000},
                             .max_server_delay = std::chrono::milliseconds{5'000},
                             .retry_transport_errors = true};
};

/// InvalidArgument naming the field unless url is an http(s) URL, api_key is empty or printable
/// ASCII without spaces, model is not empty, temperature in [0, 2], max_tokens >= 1,
/// request_timeout > 0 and the retry options are valid.
[[nodiscard]] base::Result<void> validate(const RiskAnalysisOptions& options);

/// From the configuration: url = ai_inference_url (or telnyx_api_base + kInferencePath when
/// empty), api_key = telnyx_api_key, model = ai_model; the rest keep their defaults.
[[nodiscard]] RiskAnalysisOptions risk_analysis_options(const config::Config& config);

/// One analysis request and what came of it.
struct AnalysisOutcome {
    /// The validated analysis, or why there is none (inference::Errc code + message).
    base::Result<RiskAnalysis> analysis{base::fail(base::Errc::Runtime, "not run")};
    int attempts = 0;                      ///< HTTP attempts made (0 when nothing was sent)
    int http_status = 0;                   ///< of the last reply; 0 when there was none
    std::chrono::milliseconds elapsed{0};  ///< wall time of the whole call, waits included
    std::string model{};                   ///< the model asked
    std::string prompt_version{};          ///< kPromptVersion
};

/// Asks an OpenAI-compatible chat-completions endpoint (Telnyx AI Inference, telnyx-protocol.md
/// section 6) for a risk analysis of one call: POST `url` with `Authorization: Bearer`, the body
/// of `build_request_body` (model, enable_thinking false, low temperature, the JSON schema as
/// guided_json and/or response_format), a timeout, and bounded retries through
/// `http::send_with_retries` (408/429/5xx and transient transport errors; Retry-After honoured up
/// to retry.max_server_delay). The reply is validated by `extract_message_content` and
/// `parse_risk_analysis`; garbage is an error, never a guess. Nothing throws.
///
/// Threads: blocking for up to attempts x request_timeout + waits. Owned by one thread, like the
/// `HttpSender` and `Sleeper` it borrows (which must outlive it); never a network worker.
class RiskAnalysisClient {
public:
    /// Precondition: validate(options) succeeded (DVD_CHECK). `seed` drives the backoff jitter.
    RiskAnalysisClient(RiskAnalysisOptions options, http::HttpSender& sender,
                       http::Sleeper& sleeper, std::uint64_t seed);

    [[nodiscard]] AnalysisOutcome analyze(const RiskInput& input);

    [[nodiscard]] const RiskAnalysisOptions& options() const noexcept { return options_; }

private:
    RiskAnalysisOptions options_;
    http::HttpSender& sender_;
    http::Sleeper& sleeper_;
    http::RetryPolicy retry_;
};

}  // namespace dvd::inference
