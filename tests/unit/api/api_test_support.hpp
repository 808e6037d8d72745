#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "api/api_service.hpp"
#include "api/handlers.hpp"
#include "store/sqlite_store.hpp"
#include "unit/media/media_test_support.hpp"

namespace dvd::api::test {

/// 2027-01-15T08:00:00.000Z: the seeded calls start from here.
inline constexpr std::int64_t kT0 = 1'800'000'000'000;

/// A fixed data set (the one docs/api.md shows): three calls in different states.
///   call-a  inbound,  ended,     score 0.91, flagged; timeline, alert, recording, commands
///   call-b  outbound, streaming, score 0.12
///   call-c  inbound,  initiated, no score yet
inline void seed(store::Store& store) {
    store::Call a;
    a.id = "call-a";
    a.call_control_id = "v3:ctl-a";
    a.call_leg_id = "leg-a";
    a.call_session_id = "session-a";
    a.direction = store::CallDirection::Inbound;
    a.from = "+13125550100";
    a.to = "+13125550199";
    a.state = store::CallState::Ended;
    a.started_at_ms = kT0;
    a.answered_at_ms = kT0 + 1'250;
    a.ended_at_ms = kT0 + 42'500;
    a.duration_seconds = 41.25;
    a.hangup_cause = "normal_clearing";
    a.final_score = 0.91;
    a.final_llr = 2.31;
    a.verdict = "synthetic";
    a.speech_seconds = 18.5;
    a.flagged = true;
    a.stream_id = "stream-a";
    a.stream_auth_token = "never-shown-secret";
    a.stir_shaken_attestation = "A";
    a.stir_shaken_verified = true;
    a.created_at_ms = kT0;
    a.updated_at_ms = kT0 + 43'000;
    a.escalation = "warn";
    a.escalated_at_ms = kT0 + 3'100;
    ASSERT_TRUE(store.upsert_call(a));
    // The media side's last CallScoreUpdate carried the call-level indicators (a subset here).
    ASSERT_TRUE(store.update_call_score(store::CallScoreUpdate{
            .call_id = "call-a",
            .final_score = 0.91,
            .final_llr = 2.31,
            .verdict = "synthetic",
            .speech_seconds = 18.5,
            .flagged = true,
            .updated_at_ms = kT0 + 43'000,
            .indicators_json = R"({"analysed_s":41.2,"pitch_mean_hz":182.4,)"
                               R"("pitch_range_semitones":2.1,"jitter_local_percent":0.12,)"
                               R"("hnr_db":24.6,"breaths":0,"codec":"PCMU",)"
                               R"("packet_loss_percent":0})"}));

    store::Call b;
    b.id = "call-b";
    b.call_control_id = "v3:ctl-b";
    b.direction = store::CallDirection::Outbound;
    b.from = "+13125550199";
    b.to = "+13125550142";
    b.state = store::CallState::Streaming;
    b.started_at_ms = kT0 + 60'000;
    b.answered_at_ms = kT0 + 64'000;
    b.final_score = 0.12;
    b.final_llr = -1.99;
    b.verdict = "human";
    b.speech_seconds = 6.0;
    b.created_at_ms = kT0 + 60'000;
    b.updated_at_ms = kT0 + 70'000;
    ASSERT_TRUE(store.upsert_call(b));

    store::Call c;
    c.id = "call-c";
    c.call_control_id = "v3:ctl-c";
    c.from = "+13125550177";
    c.to = "+13125550199";
    c.state = store::CallState::Initiated;
    c.started_at_ms = kT0 + 120'000;
    c.created_at_ms = kT0 + 120'000;
    c.updated_at_ms = kT0 + 120'000;
    ASSERT_TRUE(store.upsert_call(c));

    const std::vector<store::ScorePoint> points{
            {"call-a", 0, 2'000, 1.0, 0.62, 0.49, 0.62, 0.49, "uncertain"},
            {"call-a", 1, 2'540, 1.5, 0.97, 3.48, 0.87, 1.90, "synthetic"},
            {"call-a", 2, 3'080, 2.0, 0.95, 2.94, 0.91, 2.31, "synthetic",
             R"({"voiced_s":0.41,"pitch_mean_hz":181.9,"jitter_local_percent":0.11,)"
             R"("hnr_db":25.1})"},
    };
    ASSERT_TRUE(store.append_score_points(points));
    ASSERT_TRUE(store.create_alert_if_absent(store::Alert{
            .call_id = "call-a",
            .level = 1,
            .channel = store::AlertChannel::Slack,
            .status = store::AlertStatus::Pending,
            .next_attempt_at_ms = kT0 + 2'600,
            .payload_json = R"({"text":"alert"})",
            .created_at_ms = kT0 + 2'600,
    }));
    auto due = store.list_due_alerts(kT0 + 3'000, 10);
    ASSERT_TRUE(due && due->size() == 1);
    ASSERT_TRUE(store.mark_alert_sent((*due)[0].id, kT0 + 2'900));
    ASSERT_TRUE(store.add_recording(store::Recording{
            .call_id = "call-a",
            .recording_id = "rec-a",
            .wav_url = "https://recordings.example/rec-a.wav",
            .mp3_url = "https://recordings.example/rec-a.mp3",
            .format = "wav",
            .channels = "single",
            .duration_seconds = 41.0,
            .saved_at_ms = kT0 + 45'000,
    }));
    ASSERT_TRUE(store.keep_recordings("call-a"));
    // The recordings worker's copy, fetched a second after call.recording.saved.
    ASSERT_TRUE(store.update_recording_archive(
            1, store::RecordingArchive{
                       .status = store::ArchiveStatus::Stored,
                       .attempts = 1,
                       .file = "call-a/1.wav",
                       .bytes = 656'044,
                       .sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                       .stored_at_ms = kT0 + 46'000}));
    ASSERT_TRUE(store.add_analysis(store::AnalysisRecord{
            .call_id = "call-a",
            .trigger = store::AnalysisTrigger::Threshold,
            .source = "detector+analysis",
            .risk_level = "critical",
            .flagged = true,
            .escalate = true,
            .recommended_action = "warn",
            .reason = "analysis raised the risk from high to critical",
            .reasoning = "The detector is confident and the voice shows almost no pitch "
                         "movement or jitter.",
            .indicators_json = R"(["detector probability 0.91","flat pitch"])",
            .detector_risk_level = "high",
            .analysis_risk_level = "critical",
            .raised_by_analysis = true,
            .detector_probability = 0.91,
            .detector_llr = 2.31,
            .detector_verdict = "synthetic",
            .speech_seconds = 2.0,
            .model = "moonshotai/Kimi-K2.6",
            .prompt_version = "risk-v1",
            .attempts = 1,
            .http_status = 200,
            .elapsed_ms = 1840,
            .created_at_ms = kT0 + 4'700,
    }));
    ASSERT_TRUE(store.append_command_log(store::CommandLog{
            .call_id = "call-a",
            .command = "answer",
            .command_id = "5b0c9a52-6f43-5c1e-9a57-0d3f6b8e2c11",
            .request_body_json = "{}",
            .http_status = 200,
            .at_ms = kT0 + 300,
    }));
    ASSERT_TRUE(store.append_command_log(store::CommandLog{
            .call_id = "call-a",
            .command = "streaming_start",
            .command_id = "a3e1f0c4-2b7d-5e88-8c21-7f4b9d6a0e35",
            .request_body_json = R"({"stream_auth_token":"never-shown-secret"})",
            .http_status = 200,
            .at_ms = kT0 + 1'400,
    }));
}

/// Collects one reply (from any thread) and waits for it.
class ReplyWaiter {
public:
    Reply reply() {
        return [this](net::Response response) {
            std::lock_guard lock(mutex_);
            ++count_;
            response_ = std::move(response);
            cv_.notify_all();
        };
    }

    net::Response wait() {
        std::unique_lock lock(mutex_);
        const bool got = cv_.wait_for(lock, std::chrono::seconds(30), [&] { return count_ > 0; });
        EXPECT_TRUE(got) << "no reply within 30 s";
        return response_.value_or(net::Response{});
    }

    int count() {
        std::lock_guard lock(mutex_);
        return count_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    int count_ = 0;
    std::optional<net::Response> response_;
};

inline net::Request get(std::string path, std::vector<net::Field> query = {}) {
    net::Request request;
    request.method = net::Method::Get;
    request.path = std::move(path);
    request.query = std::move(query);
    return request;
}

}  // namespace dvd::api::test
