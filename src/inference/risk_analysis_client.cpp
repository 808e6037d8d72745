#include "inference/risk_analysis_client.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "base/check.hpp"
#include "base/log.hpp"
#include "http/errc.hpp"
#include "inference/errc.hpp"

namespace dvd::inference {
namespace {

constexpr std::size_t kMaxBodyExcerptBytes = 120;

bool is_http_url(std::string_view url) {
    const bool scheme = url.starts_with("https://") || url.starts_with("http://");
    const bool blank = url.find_first_of(" \t\r\n") != std::string_view::npos;
    return scheme && !blank && url.size() > url.find("://") + 3;
}

bool is_printable_token(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20U && u < 0x7FU;
    });
}

std::string excerpt(std::string_view body) {
    std::string out;
    for (const char c : body.substr(0, kMaxBodyExcerptBytes)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20U || u == 0x7FU) ? ' ' : c;
    }
    return out;
}

base::Error transport_error(const base::Error& error, int attempts) {
    const bool timeout = error.code == http::make_error_code(http::Errc::Timeout);
    return fail(timeout ? Errc::Timeout : Errc::Transport,
                fmt::format("inference request failed after {} attempt{}: {}", attempts,
                            attempts == 1 ? "" : "s", error.message));
}

}  // namespace

base::Result<void> validate(const RiskAnalysisOptions& o) {
    const auto invalid = [](std::string_view what) {
        return base::fail(base::Errc::InvalidArgument, fmt::format("risk analysis: {}", what));
    };
    if (!is_http_url(o.url)) {
        return invalid("url must be an http(s) URL");
    }
    if (!is_printable_token(o.api_key)) {
        return invalid("api_key must be printable ASCII without spaces");
    }
    if (o.prompt.model.empty()) {
        return invalid("model must not be empty");
    }
    if (!(o.prompt.temperature >= 0.0 && o.prompt.temperature <= 2.0)) {
        return invalid("temperature must be in [0, 2]");
    }
    if (o.prompt.max_tokens < 1) {
        return invalid("max_tokens must be >= 1");
    }
    if (o.request_timeout.count() <= 0) {
        return invalid("request_timeout must be positive");
    }
    return http::validate(o.retry);
}

RiskAnalysisOptions risk_analysis_options(const config::Config& config) {
    RiskAnalysisOptions options;
    options.url = config.ai_inference_url.empty()
                          ? config.telnyx_api_base + std::string(config::kInferencePath)
                          : config.ai_inference_url;
    options.api_key = config.telnyx_api_key;
    options.prompt.model = config.ai_model;
    return options;
}

RiskAnalysisClient::RiskAnalysisClient(RiskAnalysisOptions options, http::HttpSender& sender,
                                       http::Sleeper& sleeper, std::uint64_t seed)
    : options_(std::move(options)),
      sender_(sender),
      sleeper_(sleeper),
      retry_(options_.retry, seed) {
    DVD_CHECK(validate(options_).has_value(), "RiskAnalysisOptions must be validated first");
}

AnalysisOutcome RiskAnalysisClient::analyze(const RiskInput& input) {
    const auto started = std::chrono::steady_clock::now();
    AnalysisOutcome outcome;
    outcome.model = options_.prompt.model;
    outcome.prompt_version = std::string(kPromptVersion);
    const auto finish = [&](base::Result<RiskAnalysis> analysis) {
        outcome.analysis = std::move(analysis);
        outcome.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started);
        if (outcome.analysis) {
            DVD_LOG(Telnyx, Info,
                    "risk analysis call_id={} risk_level={} escalate={} attempts={} "
                    "elapsed_ms={}",
                    input.call_id, to_string(outcome.analysis->risk_level),
                    outcome.analysis->escalate, outcome.attempts, outcome.elapsed.count());
        } else {
            DVD_LOG(Telnyx, Warn, "risk analysis failed call_id={} attempts={} elapsed_ms={}: {}",
                    input.call_id, outcome.attempts, outcome.elapsed.count(),
                    outcome.analysis.error().message);
        }
        return outcome;
    };

    auto body = build_request_body(input, options_.prompt);
    if (!body) {
        return finish(body.error());
    }
    http::HttpRequest request{
            .method = "POST",
            .url = options_.url,
            .headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}},
            .body = std::move(*body),
            .timeout = options_.request_timeout};
    if (!options_.api_key.empty()) {
        request.headers.add("Authorization", "Bearer " + options_.api_key);
    }
    const auto sent =
            http::send_with_retries(sender_, request, retry_, http::retry_on_429_and_5xx, sleeper_);
    outcome.attempts = sent.attempts;
    if (sent.stop_reason == http::StopReason::Cancelled) {
        return finish(fail(Errc::Cancelled, "inference request cancelled while waiting to retry"));
    }
    if (!sent.response) {
        return finish(transport_error(sent.response.error(), sent.attempts));
    }
    const http::HttpResponse& response = *sent.response;
    outcome.http_status = response.status;
    if (response.status < 200 || response.status > 299) {
        return finish(
                fail(Errc::HttpStatus,
                     fmt::format("inference reply HTTP {} after {} attempt{} ({}): {}",
                                 response.status, sent.attempts, sent.attempts == 1 ? "" : "s",
                                 http::to_string(sent.stop_reason), excerpt(response.body))));
    }
    auto content = extract_message_content(response.body);
    if (!content) {
        return finish(content.error());
    }
    return finish(parse_risk_analysis(*content));
}

}  // namespace dvd::inference
