#include "risk/risk_coordinator.hpp"

#include <algorithm>
#include <future>
#include <random>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "base/check.hpp"
#include "base/log.hpp"
#include "inference/errc.hpp"

namespace dvd::risk {
namespace {

using namespace std::chrono_literals;

base::Result<void> invalid(std::string_view what) {
    return base::fail(base::Errc::InvalidArgument, fmt::format("risk options: {}", what));
}

std::int64_t system_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
}

/// How long a flagged call's alert may wait for the first indicators to be stored (see
/// handle_flagged): 4 x 50 ms.
constexpr int kIndicatorWaits = 4;
constexpr std::chrono::milliseconds kIndicatorWait{50};

inference::AnalysisOutcome failed_outcome(base::Error error) {
    inference::AnalysisOutcome outcome;
    outcome.analysis = std::move(error);
    return outcome;
}

}  // namespace

/// One analysis on its way: what it was started with, carried to the `risk-ai` thread and back.
struct RiskCoordinator::Pending {
    store::AnalysisTrigger trigger = store::AnalysisTrigger::Threshold;
    store::Call call{};  ///< the row when the analysis started
    inference::DetectorDecision detector{};
    inference::RiskInput input{};
    std::int64_t at_ms = 0;  ///< audio position for alerts (the crossing, or the end)
    std::string public_base_url{};
    std::function<void(AnalysisResult)> done{};  ///< API requests only
};

base::Result<void> validate(const RiskOptions& o) {
    if (!(o.detection_threshold > 0.0 && o.detection_threshold < 1.0)) {
        return invalid("detection_threshold must be in (0, 1)");
    }
    if (auto valid = inference::validate(o.fusion); !valid) {
        return valid;
    }
    if (o.min_analysis_interval.count() < 0 || o.max_analyses_per_call < 1) {
        return invalid("min_analysis_interval must be >= 0 and max_analyses_per_call >= 1");
    }
    if (o.forget_after.count() <= 0 || o.recovery_window.count() < 0) {
        return invalid("forget_after must be positive and recovery_window >= 0");
    }
    if (o.queue_capacity < 1 || o.analysis_queue_capacity < 1) {
        return invalid("queue capacities must be >= 1");
    }
    if (o.max_timeline_points < 1 || o.max_timeline_points > 1'000'000) {
        return invalid("max_timeline_points must be in 1..1000000");
    }
    return {};
}

RiskOptions risk_options(const config::Config& config) {
    RiskOptions options;
    options.detection_threshold = config.detection_threshold;
    options.escalation_policy = config.escalation_policy;
    options.public_base_url = public_base_from_url(config.media_stream_url);
    return options;
}

bool RiskCoordinator::StopAwareSleeper::sleep_for(std::chrono::milliseconds duration) {
    if (stopping_.load()) {
        return false;
    }
    return inner_.sleep_for(duration) && !stopping_.load();
}

std::chrono::system_clock::time_point RiskCoordinator::StopAwareSleeper::now() const {
    return inner_.now();
}

RiskCoordinator::RiskCoordinator(RiskOptions options, RiskDeps deps)
    : options_(std::move(options)),
      deps_(std::move(deps)),
      sleeper_(deps_.sleeper != nullptr ? *deps_.sleeper : system_sleeper_, stopping_),
      limiter_(options_.min_analysis_interval, options_.max_analyses_per_call) {
    DVD_CHECK(deps_.store != nullptr, "the risk coordinator needs its own store connection");
    if (!deps_.now_ms) {
        deps_.now_ms = system_now_ms;
    }
    if (deps_.seed == 0) {
        std::random_device device;
        deps_.seed = (std::uint64_t{device()} << 32U) | device();
    }
}

RiskCoordinator::~RiskCoordinator() {
    stop();
}

base::Result<void> RiskCoordinator::start() {
    if (started_.load()) {
        return base::fail(base::Errc::InvalidArgument, "the risk coordinator is already started");
    }
    if (auto valid = validate(options_); !valid) {
        return valid;
    }
    if (!deps_.analysis) {
        analysis_disabled_ = "no AI inference endpoint configured";
    } else if (auto valid = inference::validate(*deps_.analysis); !valid) {
        analysis_disabled_ = valid.error().message;
        DVD_LOG(Server, Warn, "risk analysis disabled: {}", *analysis_disabled_);
    }
    ai_thread_ = std::make_unique<service::TaskThread>("risk-ai", options_.analysis_queue_capacity);
    thread_ = std::make_unique<service::TaskThread>("risk", options_.queue_capacity);
    if (deps_.outbox) {
        deps_.outbox->start();
    }
    started_.store(true);
    DVD_LOG(Server, Info,
            "risk coordinator started escalation_policy={} analysis={} alerts={}",
            config::to_string(options_.escalation_policy),
            analysis_disabled_ ? "off" : "on",
            deps_.outbox && deps_.outbox->has_channels() ? "on" : "off");
    return {};
}

base::Result<void> RiskCoordinator::recover() {
    if (!started_.load() || stopping_.load()) {
        return base::fail(base::Errc::InvalidArgument, "recover needs a running coordinator");
    }
    std::promise<base::Result<void>> recovered;
    auto future = recovered.get_future();
    if (!post([this, &recovered] { recovered.set_value(recover_on_thread()); })) {
        return base::fail(base::Errc::Unsupported, "the risk thread is saturated");
    }
    return future.get();
}

void RiskCoordinator::stop() {
    if (!started_.load() || stopped_) {
        return;
    }
    stopping_.store(true);
    ai_thread_->stop();  // queued analyses are cancelled; their results still reach `risk`
    thread_->stop();
    if (deps_.outbox) {
        deps_.outbox->stop();
    }
    stopped_ = true;
    DVD_LOG(Server, Info, "risk coordinator stopped");
}

bool RiskCoordinator::post(std::function<void()> task) {
    if (!thread_) {
        return false;
    }
    return inflight_.post(*thread_, std::move(task));
}

bool RiskCoordinator::post_ai(std::function<void()> task) {
    return inflight_.post(*ai_thread_, std::move(task));
}

bool RiskCoordinator::wait_idle(std::chrono::milliseconds timeout) {
    return inflight_.wait_idle(timeout);
}

RiskStats RiskCoordinator::stats() const {
    return RiskStats{.alerts_enqueued = alerts_enqueued_.load(),
                     .level2_alerts = level2_alerts_.load(),
                     .analyses = analyses_.load(),
                     .analyses_fallback = analyses_fallback_.load(),
                     .rate_limited = rate_limited_.load(),
                     .escalations = escalations_.load()};
}

void RiskCoordinator::on_flagged(FlaggedEvent event) {
    if (!started_.load() || !post([this, event = std::move(event)] { handle_flagged(event); })) {
        DVD_LOG(Calls, Error, "risk thread refused a flagged call call_id={} (no alert now)",
                event.call_id);
    }
}

void RiskCoordinator::on_call_ended(EndedEvent event) {
    if (!started_.load() || !post([this, event = std::move(event)] { handle_ended(event); })) {
        DVD_LOG(Calls, Warn, "risk thread refused an ended call call_id={}", event.call_id);
    }
}

void RiskCoordinator::analyze(AnalysisRequest request,
                              std::function<void(AnalysisResult)> done) {
    auto shared = std::make_shared<std::function<void(AnalysisResult)>>(std::move(done));
    if (!started_.load() || stopping_.load()) {
        (*shared)(AnalysisResult{.status = "unavailable", .message = "the service is stopping"});
        return;
    }
    const bool posted = post([this, request = std::move(request), shared] {
        handle_request(request, *shared);
    });
    if (!posted) {
        (*shared)(AnalysisResult{.status = "unavailable",
                                 .message = "the risk queue is full; retry shortly"});
    }
}

base::Result<std::optional<store::Call>> RiskCoordinator::load_call(const std::string& call_id) {
    auto row = deps_.store->get_call(call_id);
    if (!row) {
        DVD_LOG(Calls, Error, "risk: {} call_id={}", row.error().message, call_id);
    }
    return row;
}

std::vector<IndicatorRow> RiskCoordinator::ranked_indicators(const store::Call& call) {
    auto rows = parse_indicators(call.indicators_json);
    if (!rows) {
        DVD_LOG(Calls, Warn, "risk: {} call_id={}", rows.error().message, call.id);
        return {};
    }
    return rank_indicators(std::move(*rows));
}

std::vector<double> RiskCoordinator::window_probabilities(const std::string& call_id) {
    auto points = deps_.store->list_timeline(call_id, -1, options_.max_timeline_points);
    std::vector<double> out;
    if (!points) {
        DVD_LOG(Calls, Warn, "risk: {} call_id={}", points.error().message, call_id);
        return out;
    }
    out.reserve(points->size());
    for (const auto& point : *points) {
        out.push_back(point.window_score);
    }
    return out;
}

void RiskCoordinator::forget_old_calls() {
    const auto now = std::chrono::steady_clock::now();
    while (!ended_.empty() && ended_.front().first <= now) {
        limiter_.forget(ended_.front().second);
        ended_.pop_front();
    }
}

void RiskCoordinator::enqueue_alert(const store::Call& call, int level,
                                    const inference::DetectorDecision& detector,
                                    const inference::FusedDecision& decision, std::int64_t at_ms,
                                    const std::string& public_base_url) {
    if (!deps_.outbox || !deps_.outbox->has_channels()) {
        return;
    }
    AlertLinks links{.public_base_url = public_base_url.empty() ? options_.public_base_url
                                                                : public_base_url};
    if (auto recordings = deps_.store->list_recordings(call.id); recordings) {
        links.recordings = std::move(*recordings);
    }
    auto content = make_alert_content(call, level, detector, decision, at_ms, now_ms(),
                                      ranked_indicators(call), links);
    const auto status = deps_.outbox->enqueue(call.id, level, std::move(content));
    if (status == alerts::EnqueueStatus::Queued) {
        alerts_enqueued_.fetch_add(1);
        if (level >= 2) {
            level2_alerts_.fetch_add(1);
        }
        DVD_LOG(Calls, Info, "alert queued call_id={} level={} risk={} source={}", call.id, level,
                inference::to_string(decision.risk_level), decision.source);
    } else {
        DVD_LOG(Calls, Warn, "alert not queued call_id={} level={}: {}", call.id, level,
                alerts::to_string(status));
    }
}

void RiskCoordinator::request_escalation(const store::Call& call, std::string reason) {
    if (options_.escalation_policy == config::EscalationPolicy::None || !deps_.escalate
        || store::is_terminal(call.state) || !call.escalation.empty()) {
        return;
    }
    escalations_.fetch_add(1);
    deps_.escalate(call.id, options_.escalation_policy, std::move(reason));
}

void RiskCoordinator::handle_flagged(const FlaggedEvent& event) {
    forget_old_calls();
    auto call = load_call(event.call_id);
    // A call can cross at its very first window, before the store writer has committed the
    // indicators of that window (it batches for up to 100 ms): wait for them a little, so that
    // the alert can show them. Bounded (kIndicatorWaits x kIndicatorWait), flagged calls only.
    for (int i = 0; i < kIndicatorWaits && call && *call && (*call)->indicators_json.empty();
         ++i) {
        std::this_thread::sleep_for(kIndicatorWait);
        call = load_call(event.call_id);
    }
    if (!call || !*call) {
        DVD_LOG(Calls, Error, "flagged call not in the store call_id={}: no alert",
                event.call_id);
        return;
    }
    if (auto kept = deps_.store->keep_recordings(event.call_id); !kept) {
        DVD_LOG(Calls, Warn, "risk: {} call_id={}", kept.error().message, event.call_id);
    }
    const inference::DetectorDecision detector{
            .probability = event.score.probability,
            .llr = event.score.llr,
            .verdict = std::string(pipeline::to_string(event.score.verdict)),
            .threshold = options_.detection_threshold,
            .speech_seconds = event.score.speech_seconds};
    const auto decision =
            inference::fuse(detector, std::optional<inference::RiskAnalysis>{}, options_.fusion);
    const std::string& base =
            event.public_base_url.empty() ? options_.public_base_url : event.public_base_url;
    enqueue_alert(**call, 1, detector, decision, event.at_ms, base);
    if (decision.escalate) {
        request_escalation(**call, fmt::format("the detector flagged the call (score {:.2f})",
                                               detector.probability));
    }
    if (!limiter_.admit(event.call_id, std::chrono::steady_clock::now())) {
        rate_limited_.fetch_add(1);
        DVD_LOG(Calls, Info, "risk analysis rate-limited call_id={} trigger=threshold",
                event.call_id);
        return;
    }
    auto pending = std::make_shared<Pending>();
    pending->trigger = store::AnalysisTrigger::Threshold;
    pending->call = **call;
    pending->detector = detector;
    pending->input = make_risk_input(**call, detector, window_probabilities(event.call_id),
                                     ranked_indicators(**call));
    pending->at_ms = event.at_ms;
    pending->public_base_url = base;
    start_analysis(std::move(pending));
}

void RiskCoordinator::handle_ended(const EndedEvent& event) {
    forget_old_calls();
    ended_.emplace_back(std::chrono::steady_clock::now() + options_.forget_after, event.call_id);
    if (!options_.analyze_at_hangup || !event.final_score) {
        return;
    }
    if (!event.flagged && !(*event.final_score >= options_.fusion.medium_probability)) {
        DVD_LOG(Calls, Debug, "no final risk analysis call_id={} score={:.3f} (below medium)",
                event.call_id, *event.final_score);
        return;
    }
    const auto call = load_call(event.call_id);
    if (!call || !*call) {
        return;
    }
    if (!limiter_.admit(event.call_id, std::chrono::steady_clock::now())) {
        rate_limited_.fetch_add(1);
        DVD_LOG(Calls, Info, "risk analysis rate-limited call_id={} trigger=hangup",
                event.call_id);
        return;
    }
    auto points = deps_.store->list_timeline(event.call_id, -1, options_.max_timeline_points);
    std::vector<double> windows;
    std::int64_t end_ms = 0;
    if (points) {
        for (const auto& point : *points) {
            windows.push_back(point.window_score);
            end_ms = point.at_ms;
        }
    }
    auto pending = std::make_shared<Pending>();
    pending->trigger = store::AnalysisTrigger::Hangup;
    pending->call = **call;
    pending->detector = inference::DetectorDecision{.probability = *event.final_score,
                                                    .llr = event.final_llr.value_or(0.0),
                                                    .verdict = event.verdict,
                                                    .threshold = options_.detection_threshold,
                                                    .speech_seconds = event.speech_seconds};
    pending->input = make_risk_input(**call, pending->detector, std::move(windows),
                                     ranked_indicators(**call));
    pending->at_ms = end_ms;
    pending->public_base_url = event.public_base_url;
    start_analysis(std::move(pending));
}

void RiskCoordinator::handle_request(const AnalysisRequest& request,
                                     const std::function<void(AnalysisResult)>& done) {
    forget_old_calls();
    const auto call = load_call(request.call_id);
    if (!call) {
        done(AnalysisResult{.status = "unavailable", .message = "the store cannot be read"});
        return;
    }
    if (!*call) {
        done(AnalysisResult{.status = "not_found",
                            .message = fmt::format("no call '{}'", request.call_id)});
        return;
    }
    if (!limiter_.admit(request.call_id, std::chrono::steady_clock::now())) {
        rate_limited_.fetch_add(1);
        AnalysisResult result{
                .status = "rate_limited",
                .message = fmt::format(
                        "at most {} risk analyses per call, at least {} s apart; the latest "
                        "one is shown",
                        options_.max_analyses_per_call,
                        std::chrono::duration_cast<std::chrono::seconds>(
                                options_.min_analysis_interval)
                                .count())};
        if (auto stored = deps_.store->list_analyses(request.call_id);
            stored && !stored->empty()) {
            result.record = stored->back();
        }
        done(std::move(result));
        return;
    }
    auto pending = std::make_shared<Pending>();
    pending->trigger = store::AnalysisTrigger::Api;
    pending->call = **call;
    pending->detector = inference::DetectorDecision{.probability = request.probability,
                                                    .llr = request.llr,
                                                    .verdict = request.verdict,
                                                    .threshold = options_.detection_threshold,
                                                    .speech_seconds = request.speech_seconds};
    pending->input = make_risk_input(**call, pending->detector, request.window_probabilities,
                                     ranked_indicators(**call));
    pending->public_base_url = request.public_base_url;
    pending->done = done;
    start_analysis(std::move(pending));
}

void RiskCoordinator::start_analysis(std::shared_ptr<Pending> pending) {
    if (analysis_disabled_) {
        finish_analysis(pending, failed_outcome(base::fail(
                                         base::Errc::Unsupported,
                                         "analysis disabled: " + *analysis_disabled_)));
        return;
    }
    const bool posted = post_ai([this, pending] {
        inference::AnalysisOutcome outcome;
        if (stopping_.load()) {
            outcome = failed_outcome(
                    inference::fail(inference::Errc::Cancelled, "the service is stopping"));
        } else {
            if (!client_) {
                sender_ = deps_.make_sender ? deps_.make_sender()
                                            : std::make_unique<http::HttpClient>();
                client_ = std::make_unique<inference::RiskAnalysisClient>(
                        *deps_.analysis, *sender_, sleeper_, deps_.seed);
            }
            outcome = client_->analyze(pending->input);
        }
        const bool back = post([this, pending, outcome = std::move(outcome)]() mutable {
            finish_analysis(pending, std::move(outcome));
        });
        if (!back && pending->done) {
            pending->done(AnalysisResult{.status = "unavailable",
                                         .message = "the service is stopping"});
        }
    });
    if (!posted) {
        finish_analysis(pending, failed_outcome(base::fail(
                                         base::Errc::Runtime, "the analysis queue is full")));
    }
}

void RiskCoordinator::finish_analysis(const std::shared_ptr<Pending>& pending,
                                      inference::AnalysisOutcome outcome) {
    const auto& detector = pending->detector;
    const auto decision = inference::fuse(detector, outcome.analysis, options_.fusion);
    auto record = make_record(pending->call.id, pending->trigger, detector, decision, outcome,
                              now_ms());
    if (auto id = deps_.store->add_analysis(record); id) {
        record.id = *id;
    } else {
        DVD_LOG(Calls, Error, "risk: {} call_id={}", id.error().message, pending->call.id);
    }
    analyses_.fetch_add(1);
    if (!outcome.analysis) {
        analyses_fallback_.fetch_add(1);
    }
    DVD_LOG(Calls, Info,
            "risk decision call_id={} trigger={} source={} risk={} flagged={} escalate={} "
            "attempts={} elapsed_ms={} reason=\"{}\"",
            pending->call.id, store::to_string(pending->trigger), decision.source,
            inference::to_string(decision.risk_level), decision.flagged, decision.escalate,
            outcome.attempts, outcome.elapsed.count(), decision.reason);

    // The row as it is now (state, recordings, indicators have moved on since the start).
    store::Call call = pending->call;
    if (auto fresh = load_call(pending->call.id); fresh && *fresh) {
        call = std::move(**fresh);
    }
    const auto has_alert = [this, &call](int level) {
        auto alerts = deps_.store->list_alerts(call.id);
        return alerts && std::any_of(alerts->begin(), alerts->end(),
                                     [level](const auto& a) { return a.level == level; });
    };
    if (decision.detector_flagged && pending->trigger != store::AnalysisTrigger::Threshold
        && !has_alert(1)) {
        // The first flag seen for this call (re-scored audio, or a crossing that was missed).
        enqueue_alert(call, 1, detector, decision, pending->at_ms, pending->public_base_url);
    }
    if (escalation_level(decision) == 2 && !has_alert(2)) {
        enqueue_alert(call, 2, detector, decision, pending->at_ms, pending->public_base_url);
    }
    const bool already_requested = decision.detector_flagged
                                   && pending->trigger == store::AnalysisTrigger::Threshold;
    if (decision.escalate && !already_requested) {
        request_escalation(call, fmt::format("risk {} ({})",
                                             inference::to_string(decision.risk_level),
                                             decision.source));
    }
    if (pending->done) {
        pending->done(AnalysisResult{.status = "done", .record = std::move(record)});
    }
}

base::Result<void> RiskCoordinator::recover_on_thread() {
    const std::int64_t since = now_ms() - options_.recovery_window.count();
    store::CallQuery query;
    query.filter.flagged = true;
    query.filter.since_ms = since;
    query.order = store::SortOrder::Ascending;
    query.limit = store::kMaxPageSize;
    auto calls = deps_.store->list_calls(query);
    if (!calls) {
        return calls.error();
    }
    std::size_t alerted = 0;
    std::size_t analysed = 0;
    for (const auto& call : *calls) {
        const auto detector = detector_from_call(call, options_.detection_threshold);
        if (!detector) {
            continue;
        }
        const auto decision = inference::fuse(*detector, std::optional<inference::RiskAnalysis>{},
                                              options_.fusion);
        auto alerts = deps_.store->list_alerts(call.id);
        if (!alerts) {
            return alerts.error();
        }
        const bool has_level1 = std::any_of(alerts->begin(), alerts->end(),
                                            [](const auto& a) { return a.level == 1; });
        std::int64_t last_ms = 0;
        if (auto points = deps_.store->list_timeline(call.id, -1, options_.max_timeline_points);
            points && !points->empty()) {
            last_ms = points->back().at_ms;
        }
        if (!has_level1 && decision.flagged) {
            enqueue_alert(call, 1, *detector, decision, last_ms, {});
            ++alerted;
        }
        const bool active = !store::is_terminal(call.state);
        if (active && decision.escalate) {
            request_escalation(call, "flagged before a restart");
        }
        auto analyses = deps_.store->list_analyses(call.id);
        if (!analyses) {
            return analyses.error();
        }
        if (analyses->empty() && active
            && limiter_.admit(call.id, std::chrono::steady_clock::now())) {
            auto pending = std::make_shared<Pending>();
            pending->trigger = store::AnalysisTrigger::Threshold;
            pending->call = call;
            pending->detector = *detector;
            pending->input = make_risk_input(call, *detector, window_probabilities(call.id),
                                             ranked_indicators(call));
            pending->at_ms = last_ms;
            start_analysis(std::move(pending));
            ++analysed;
        }
    }
    if (alerted + analysed > 0) {
        DVD_LOG(Calls, Info, "risk recovery: flagged_calls={} alerts_requeued={} analyses={}",
                calls->size(), alerted, analysed);
    }
    return {};
}

}  // namespace dvd::risk
