#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alert_outbox.hpp"
#include "base/result.hpp"
#include "config/config.hpp"
#include "http/http_client.hpp"
#include "http/retry.hpp"
#include "inference/fusion.hpp"
#include "inference/rate_limiter.hpp"
#include "inference/risk_analysis_client.hpp"
#include "pipeline/streaming_scorer.hpp"
#include "risk/risk_content.hpp"
#include "service/task_thread.hpp"
#include "store/store.hpp"

namespace dvd::risk {

/// How flagged calls are handled (docs/risk-analysis.md, "In the service").
struct RiskOptions {
    double detection_threshold = config::kDefaultDetectionThreshold;  ///< DETECTION_THRESHOLD
    config::EscalationPolicy escalation_policy = config::EscalationPolicy::None;
    /// For dashboard links when the call's own public base URL is not known (e.g. derived from
    /// MEDIA_STREAM_URL); may be empty.
    std::string public_base_url{};
    inference::FusionPolicy fusion{};
    /// Per-call rate limit of AI analyses (all triggers together).
    std::chrono::milliseconds min_analysis_interval{10'000};
    int max_analyses_per_call = 4;
    /// Analyse at hang-up the calls that are flagged or scored at least
    /// fusion.medium_probability (below that, the analysis cannot change the decision: it may
    /// raise a level by at most one, from low to medium).
    bool analyze_at_hangup = true;
    /// A call's rate-limit entry is dropped this long after its hang-up.
    std::chrono::milliseconds forget_after{10 * 60'000};
    /// At start, flagged calls started this recently are checked for a missing level-1 alert,
    /// escalation or analysis (a crash between the flag and the risk thread's work).
    std::chrono::milliseconds recovery_window{60 * 60'000};
    std::size_t queue_capacity = 1024;          ///< tasks waiting on the `risk` thread
    std::size_t analysis_queue_capacity = 64;   ///< analyses waiting on the `risk-ai` thread
    std::int64_t max_timeline_points = 10'000;  ///< window probabilities read per analysis
};

/// InvalidArgument naming the field.
[[nodiscard]] base::Result<void> validate(const RiskOptions& options);

/// The options `config` implies (threshold, policy, a public base URL from MEDIA_STREAM_URL).
[[nodiscard]] RiskOptions risk_options(const config::Config& config);

/// Applies ESCALATION_POLICY to a call (the server wires it to CallController::escalate, which
/// does it at most once per call). Called on the `risk` thread; must not block.
using EscalateFn = std::function<void(std::string call_id, config::EscalationPolicy policy,
                                      std::string reason)>;

/// A call crossed the detection threshold (from the calls thread's on_flagged hook).
struct FlaggedEvent {
    std::string call_id{};
    std::string call_control_id{};
    pipeline::CallScore score{};
    std::int64_t at_ms = 0;  ///< audio position of the crossing
    std::string public_base_url{};
};

/// A call ended (from the calls thread's on_call_ended hook).
struct EndedEvent {
    std::string call_id{};
    bool flagged = false;
    std::optional<double> final_score{};
    std::optional<double> final_llr{};
    std::string verdict{};
    double speech_seconds = 0.0;
    std::string public_base_url{};
};

/// `POST /calls/{id}/analyze`: the fresh re-score of the archived audio.
struct AnalysisRequest {
    std::string call_id{};
    double probability = 0.0;
    double llr = 0.0;
    std::string verdict{};
    double speech_seconds = 0.0;
    std::vector<double> window_probabilities{};
    std::string public_base_url{};
};

/// The answer to an AnalysisRequest.
struct AnalysisResult {
    /// "done" (record is the new decision), "rate_limited" (record is the latest stored one, if
    /// any), "not_found" (no such call), "unavailable" (stopped or saturated).
    std::string status{};
    std::optional<store::AnalysisRecord> record{};
    std::string message{};
};

/// Counters for /metrics; any thread.
struct RiskStats {
    std::uint64_t alerts_enqueued = 0;  ///< level 1 and 2 together, per call and level
    std::uint64_t level2_alerts = 0;
    std::uint64_t analyses = 0;          ///< decisions stored
    std::uint64_t analyses_fallback = 0; ///< ... of them detector-only (the analysis failed)
    std::uint64_t rate_limited = 0;
    std::uint64_t escalations = 0;  ///< escalation requests (the controller de-duplicates)
};

/// What the coordinator owns or borrows.
struct RiskDeps {
    /// Its own connection; used only on the `risk` thread.
    std::unique_ptr<store::Store> store{};
    /// Alert delivery (started and stopped by the coordinator); nullptr: no alert channel.
    std::unique_ptr<alerts::AlertOutbox> outbox{};
    /// The AI analysis; nullopt: decisions are detector-only ("analysis disabled").
    std::optional<inference::RiskAnalysisOptions> analysis{};
    /// The analysis thread's HTTP sender, made on that thread; empty: http::HttpClient.
    std::function<std::unique_ptr<http::HttpSender>()> make_sender{};
    /// Waits between analysis retries (shared; thread-safe). nullptr: http::SystemSleeper.
    http::Sleeper* sleeper = nullptr;
    EscalateFn escalate{};
    /// Wall clock, ms since the Unix epoch; empty: the system clock.
    std::function<std::int64_t()> now_ms{};
    std::uint64_t seed = 0;  ///< analysis retry jitter; 0: random
};

/// The risk side of a flagged call (issue 4), off every network worker:
///   * on the threshold crossing (`on_flagged`): the level-1 alert at once with the detector-only
///     decision (content from the call row, its latest indicators, recording and dashboard
///     links), the flagged call's recordings marked kept, the escalation per ESCALATION_POLICY,
///     then the AI analysis;
///   * at hang-up (`on_call_ended`, flagged calls or score >= medium) and on `analyze` (the
///     API): the AI analysis of the whole call;
///   * every analysis is fused with the detector (inference::fuse, detector primary), stored
///     (`analyses`), and when the fused decision goes beyond the detector's (escalation_level 2)
///     a level-2 alert goes out and, for a call still in progress, the escalation is requested;
///     a failed analysis (timeout, garbage, schema violation, HTTP error) gives the
///     detector-only decision, and the record says why.
/// Alerts are once per call and level (AlertOutbox, store-unique); the escalation once per call
/// (the controller). Analyses are rate-limited per call (inference::AnalysisRateLimiter).
///
/// Threads: `risk` (a service::TaskThread: the store connection, the limiter, decisions) and
/// `risk-ai` (the blocking chat-completions requests); the outbox's `alerts` thread. Public
/// methods are thread-safe and never block (they post); start/stop from the owner.
class RiskCoordinator {
public:
    RiskCoordinator(RiskOptions options, RiskDeps deps);
    ~RiskCoordinator();  ///< stop()
    RiskCoordinator(const RiskCoordinator&) = delete;
    RiskCoordinator& operator=(const RiskCoordinator&) = delete;

    /// Starts the threads and the outbox (pending alerts of earlier runs go out). Events are
    /// accepted from here on. Errors: invalid options.
    [[nodiscard]] base::Result<void> start();

    /// Once, after `start` and after whatever `escalate` reaches is running (the calls
    /// controller): on the `risk` thread, recently flagged calls (recovery_window) are checked
    /// for what a crash may have cut short: a missing level-1 alert is queued, an active call
    /// not escalated yet is escalated, an active call never analysed is analysed. Blocks until
    /// done. Errors: a store failure.
    [[nodiscard]] base::Result<void> recover();

    /// Lets the analysis in flight finish (at most one request timeout; retry waits are cut),
    /// answers queued API requests "unavailable", drains the `risk` thread, stops the outbox
    /// (queued alerts are stored and sent after the restart). Idempotent.
    void stop();

    void on_flagged(FlaggedEvent event);
    void on_call_ended(EndedEvent event);

    /// Runs the analysis for an API request; `done` is called exactly once, from the `risk`
    /// thread (or at once when refused).
    void analyze(AnalysisRequest request, std::function<void(AnalysisResult)> done);

    [[nodiscard]] RiskStats stats() const;

    /// The outbox (nullptr without channels), for its counters.
    [[nodiscard]] const alerts::AlertOutbox* outbox() const { return deps_.outbox.get(); }

    /// Blocks until every task queued so far ran (tests). False on timeout.
    bool wait_idle(std::chrono::milliseconds timeout);

private:
    struct Pending;

    bool post(std::function<void()> task);
    bool post_ai(std::function<void()> task);
    base::Result<void> recover_on_thread();
    void handle_flagged(const FlaggedEvent& event);
    void handle_ended(const EndedEvent& event);
    void handle_request(const AnalysisRequest& request,
                        const std::function<void(AnalysisResult)>& done);
    void start_analysis(std::shared_ptr<Pending> pending);
    void finish_analysis(const std::shared_ptr<Pending>& pending,
                         inference::AnalysisOutcome outcome);
    void enqueue_alert(const store::Call& call, int level,
                       const inference::DetectorDecision& detector,
                       const inference::FusedDecision& decision, std::int64_t at_ms,
                       const std::string& public_base_url);
    void request_escalation(const store::Call& call, std::string reason);
    std::vector<double> window_probabilities(const std::string& call_id);
    std::vector<IndicatorRow> ranked_indicators(const store::Call& call);
    base::Result<std::optional<store::Call>> load_call(const std::string& call_id);
    void forget_old_calls();
    std::int64_t now_ms() const { return deps_.now_ms(); }

    class StopAwareSleeper final : public http::Sleeper {
    public:
        StopAwareSleeper(http::Sleeper& inner, const std::atomic<bool>& stopping)
            : inner_(inner), stopping_(stopping) {}
        bool sleep_for(std::chrono::milliseconds duration) override;
        [[nodiscard]] std::chrono::system_clock::time_point now() const override;

    private:
        http::Sleeper& inner_;
        const std::atomic<bool>& stopping_;
    };

    const RiskOptions options_;
    RiskDeps deps_;
    std::atomic<bool> started_{false};
    std::atomic<bool> stopping_{false};
    bool stopped_ = false;
    service::InflightTasks inflight_;
    http::SystemSleeper system_sleeper_;
    StopAwareSleeper sleeper_;
    std::optional<std::string> analysis_disabled_;  ///< why; set in start()

    // ---- risk thread only ----
    inference::AnalysisRateLimiter limiter_;
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> ended_;
    // ---- risk-ai thread only ----
    std::unique_ptr<http::HttpSender> sender_;
    std::unique_ptr<inference::RiskAnalysisClient> client_;

    std::atomic<std::uint64_t> alerts_enqueued_{0};
    std::atomic<std::uint64_t> level2_alerts_{0};
    std::atomic<std::uint64_t> analyses_{0};
    std::atomic<std::uint64_t> analyses_fallback_{0};
    std::atomic<std::uint64_t> rate_limited_{0};
    std::atomic<std::uint64_t> escalations_{0};

    // Last: stopped first when destroyed.
    std::unique_ptr<service::TaskThread> ai_thread_;
    std::unique_ptr<service::TaskThread> thread_;
};

}  // namespace dvd::risk
