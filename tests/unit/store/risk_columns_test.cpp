// Schema version 3 (issue 4): acoustic indicators on calls and score points, the escalation of a
// flagged call, kept recordings and the `analyses` table, through the Store interface.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store_backends.hpp"
#include "store_test_support.hpp"

namespace dvd::store {
namespace {

using test::ok;

class RiskColumnsTest : public test::StoreContractBase {
protected:
    void SetUp() override {
        StoreContractBase::SetUp();
        ASSERT_TRUE(store_->upsert_call(test::make_call("c1", 1000)));
    }

    Call call() { return ok(store_->get_call("c1")).value_or(Call{}); }
};

TEST_P(RiskColumnsTest, CallIndicatorsAreWrittenByScoreUpdatesOnlyAndKeptByUpserts) {
    EXPECT_EQ(call().indicators_json, "");
    CallScoreUpdate update{.call_id = "c1",
                           .final_score = 0.8,
                           .final_llr = 1.4,
                           .verdict = "synthetic",
                           .speech_seconds = 4.0,
                           .flagged = true,
                           .updated_at_ms = 2000,
                           .indicators_json = R"({"pitch_mean_hz":151.2})"};
    ASSERT_TRUE(store_->update_call_score(update));
    EXPECT_EQ(call().indicators_json, R"({"pitch_mean_hz":151.2})");

    // An update without indicators keeps them.
    update.indicators_json.clear();
    update.final_score = 0.85;
    ASSERT_TRUE(store_->update_call_score(update));
    EXPECT_EQ(call().indicators_json, R"({"pitch_mean_hz":151.2})");

    // The calls thread's upsert never touches them, even with a value in its struct.
    Call row = call();
    row.indicators_json = "{}";
    row.state = CallState::Answered;
    ASSERT_TRUE(store_->upsert_call(row));
    EXPECT_EQ(call().indicators_json, R"({"pitch_mean_hz":151.2})");
    EXPECT_EQ(call().state, CallState::Answered);
}

TEST_P(RiskColumnsTest, EscalationIsStickyOnceSet) {
    Call row = call();
    row.escalation = "warn";
    row.escalated_at_ms = 5000;
    ASSERT_TRUE(store_->upsert_call(row));
    EXPECT_EQ(call().escalation, "warn");
    EXPECT_EQ(call().escalated_at_ms, 5000);

    // A stale copy without the escalation, or with another one, does not undo it.
    Call stale = test::make_call("c1", 1000);
    ASSERT_TRUE(store_->upsert_call(stale));
    EXPECT_EQ(call().escalation, "warn");
    stale.escalation = "hangup";
    stale.escalated_at_ms = 9000;
    ASSERT_TRUE(store_->upsert_call(stale));
    EXPECT_EQ(call().escalation, "warn");
    EXPECT_EQ(call().escalated_at_ms, 5000);

    Call bad = call();
    bad.id = "c2";
    bad.call_control_id = "v3:c2";
    bad.escalation = "shout";
    EXPECT_FALSE(store_->upsert_call(bad)) << "the CHECK constraint names the allowed actions";
}

TEST_P(RiskColumnsTest, ScorePointsCarryWindowIndicators) {
    ScorePoint a = test::make_point("c1", 0);
    a.indicators_json = R"({"hnr_db":12.5})";
    const ScorePoint b = test::make_point("c1", 1);
    ASSERT_TRUE(store_->append_score_points(std::vector<ScorePoint>{a, b}));
    const auto points = ok(store_->list_timeline("c1", -1, 10));
    ASSERT_EQ(points.size(), 2U);
    EXPECT_EQ(points[0], a);
    EXPECT_EQ(points[1].indicators_json, "");
}

TEST_P(RiskColumnsTest, RecordingsOfAFlaggedCallAreKept) {
    Recording first{.call_id = "c1", .recording_id = "r1", .wav_url = "https://x/r1.wav"};
    ASSERT_TRUE(store_->add_recording(first));
    EXPECT_EQ(ok(store_->keep_recordings("c1")), 1);
    EXPECT_EQ(ok(store_->keep_recordings("c1")), 0) << "already kept";
    // A later update of the same recording (kept = false in the struct) cannot un-keep it.
    first.mp3_url = "https://x/r1.mp3";
    ASSERT_TRUE(store_->add_recording(first));
    Recording second{.call_id = "c1", .recording_id = "r2", .kept = true};
    ASSERT_TRUE(store_->add_recording(second));
    const auto list = ok(store_->list_recordings("c1"));
    ASSERT_EQ(list.size(), 2U);
    EXPECT_TRUE(list[0].kept);
    EXPECT_EQ(list[0].mp3_url, "https://x/r1.mp3");
    EXPECT_TRUE(list[1].kept);
}

TEST_P(RiskColumnsTest, AnalysesRoundTripInOrder) {
    AnalysisRecord fallback{.call_id = "c1",
                            .trigger = AnalysisTrigger::Threshold,
                            .source = "detector_only",
                            .risk_level = "high",
                            .flagged = true,
                            .escalate = true,
                            .recommended_action = "verify_identity",
                            .reason = "analysis unavailable: timed out",
                            .reasoning = "The detector scored 0.91.",
                            .detector_risk_level = "high",
                            .detector_probability = 0.91,
                            .detector_llr = 2.3,
                            .detector_verdict = "synthetic",
                            .speech_seconds = 12.5,
                            .error_code = "timeout",
                            .error = "timed out",
                            .model = "m",
                            .prompt_version = "risk-v1",
                            .attempts = 3,
                            .elapsed_ms = 24000,
                            .created_at_ms = 7000};
    AnalysisRecord fused{.call_id = "c1",
                         .trigger = AnalysisTrigger::Hangup,
                         .source = "detector+analysis",
                         .risk_level = "critical",
                         .flagged = true,
                         .escalate = true,
                         .recommended_action = "warn",
                         .reason = "analysis raised high to critical",
                         .reasoning = "Unattested caller id.",
                         .indicators_json = R"(["attestation C"])",
                         .detector_risk_level = "high",
                         .analysis_risk_level = "critical",
                         .raised_by_analysis = true,
                         .attempts = 1,
                         .http_status = 200,
                         .elapsed_ms = 800,
                         .created_at_ms = 9000};
    fallback.id = ok(store_->add_analysis(fallback));
    fused.id = ok(store_->add_analysis(fused));
    EXPECT_LT(fallback.id, fused.id);
    fallback.indicators_json = "[]";  // an empty list is stored as []
    const auto list = ok(store_->list_analyses("c1"));
    ASSERT_EQ(list.size(), 2U);
    EXPECT_EQ(list[0], fallback);
    EXPECT_EQ(list[1], fused);
    EXPECT_TRUE(ok(store_->list_analyses("nobody")).empty());

    AnalysisRecord orphan = fused;
    orphan.call_id = "no-such-call";
    const auto refused = store_->add_analysis(orphan);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, base::make_error_code(base::Errc::InvalidArgument));
}

INSTANTIATE_TEST_SUITE_P(Backends, RiskColumnsTest,
                         ::testing::ValuesIn(test::backends_under_test()), test::backend_name);

}  // namespace
}  // namespace dvd::store
