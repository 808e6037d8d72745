// The Store contract: every backend behaves alike (run on SQLite and PostgreSQL, see
// store_backends.hpp).
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/store.hpp"
#include "store_backends.hpp"
#include "store_test_support.hpp"

namespace dvd::store {
namespace {

using test::make_call;
using test::make_event;
using test::make_point;

using test::has_code;

/// Case-insensitive search: SQLite says "UNIQUE constraint failed", PostgreSQL "violates unique
/// constraint".
bool mentions(std::string text, std::string_view word) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text.find(word) != std::string::npos;
}

class StoreContractTest : public test::StoreContractBase {
protected:
    void add_call(const Call& call) {
        auto r = store_->upsert_call(call);
        ASSERT_TRUE(r) << r.error().message;
    }

    std::vector<std::string> ids(const CallQuery& query) {
        auto calls = store_->list_calls(query);
        EXPECT_TRUE(calls) << calls.error().message;
        std::vector<std::string> out;
        if (calls) {
            for (const auto& call : *calls) {
                out.push_back(call.id);
            }
        }
        return out;
    }
};

// ---- calls ----

TEST_P(StoreContractTest, CallRoundTripsEveryField) {
    Call call = make_call("c1", 1'700'000'000'000);
    call.direction = CallDirection::Outbound;
    call.state = CallState::Ended;
    call.answered_at_ms = 1'700'000'001'000;
    call.ended_at_ms = 1'700'000'061'000;
    call.duration_seconds = 60.5;
    call.hangup_cause = "normal_clearing";
    call.final_score = 0.93;
    call.final_llr = 2.6;
    call.verdict = "synthetic";
    call.speech_seconds = 41.25;
    call.flagged = true;
    call.stream_id = "stream-1";
    call.stream_auth_token = "tok\"en'; DROP TABLE calls; --";
    call.telnyx_deepfake_result = "fake";
    call.telnyx_deepfake_score = 0.88;
    call.telnyx_deepfake_consistency_pct = 97.0;
    call.telnyx_deepfake_error = "rtp_timeout";
    call.stir_shaken_attestation = "A";
    call.stir_shaken_verified = true;
    call.last_error = "speak: 422 90018";
    call.updated_at_ms = 1'700'000'062'000;
    add_call(call);

    auto by_id = store_->get_call("c1");
    ASSERT_TRUE(by_id) << by_id.error().message;
    ASSERT_TRUE(by_id->has_value());
    EXPECT_EQ(**by_id, call);

    auto by_control = store_->get_call_by_control_id("v3:ctl-c1");
    ASSERT_TRUE(by_control);
    ASSERT_TRUE(by_control->has_value());
    EXPECT_EQ(**by_control, call);

    EXPECT_FALSE(test::ok(store_->get_call("nope")).has_value());
    EXPECT_FALSE(test::ok(store_->get_call_by_control_id("nope")).has_value());
}

TEST_P(StoreContractTest, UnknownOptionalFieldsStayUnknown) {
    Call call;
    call.id = "bare";
    call.started_at_ms = 5;
    add_call(call);
    auto stored = test::ok(store_->get_call("bare"));
    ASSERT_TRUE(stored);
    EXPECT_EQ(*stored, call);
    EXPECT_FALSE(stored->stir_shaken_verified.has_value());
    EXPECT_FALSE(stored->final_score.has_value());
}

TEST_P(StoreContractTest, UpsertUpdatesButKeepsCreationTime) {
    Call call = make_call("c1", 1000);
    add_call(call);
    call.state = CallState::Answered;
    call.answered_at_ms = 2000;
    call.created_at_ms = 9999;  // ignored on update
    call.updated_at_ms = 2000;
    add_call(call);
    auto stored = test::ok(store_->get_call("c1"));
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->state, CallState::Answered);
    EXPECT_EQ(stored->answered_at_ms, 2000);
    EXPECT_EQ(stored->created_at_ms, 1000);
    EXPECT_EQ(stored->updated_at_ms, 2000);
    EXPECT_EQ(*store_->count_calls({}), 1);
}

TEST_P(StoreContractTest, CallControlIdBelongsToOneCall) {
    add_call(make_call("c1", 1));
    Call other = make_call("c2", 2);
    other.call_control_id = "v3:ctl-c1";
    auto r = store_->upsert_call(other);
    ASSERT_FALSE(r);
    EXPECT_TRUE(has_code(r.error(), base::Errc::InvalidArgument)) << r.error().message;
    EXPECT_NE(r.error().message.find("upsert_call"), std::string::npos);
    EXPECT_TRUE(mentions(r.error().message, "unique")) << r.error().message;

    // Calls without a control id yet (outbound, before dial answers) do not collide.
    Call a = make_call("a", 3);
    Call b = make_call("b", 4);
    a.call_control_id.clear();
    b.call_control_id.clear();
    add_call(a);
    add_call(b);
}

TEST_P(StoreContractTest, PingAnswersOnAFreshStore) {
    const auto pinged = store_->ping();
    EXPECT_TRUE(pinged) << pinged.error().message;
}

TEST_P(StoreContractTest, EmptyCallIdIsInvalid) {
    Call call = make_call("", 1);
    auto r = store_->upsert_call(call);
    ASSERT_FALSE(r);
    EXPECT_TRUE(has_code(r.error(), base::Errc::InvalidArgument));
}

TEST_P(StoreContractTest, ScoreUpdateTouchesOnlyScoreFieldsAndFlagIsSticky) {
    Call call = make_call("c1", 1);
    call.state = CallState::Streaming;
    call.hangup_cause = "";
    add_call(call);

    CallScoreUpdate update{.call_id = "c1",
                           .final_score = 0.95,
                           .final_llr = 3.0,
                           .verdict = "synthetic",
                           .speech_seconds = 12.0,
                           .flagged = true,
                           .updated_at_ms = 50};
    ASSERT_TRUE(store_->update_call_score(update));
    update.final_score = 0.5;
    update.verdict = "uncertain";
    update.flagged = false;
    update.speech_seconds = 20.0;
    ASSERT_TRUE(store_->update_call_score(update));

    auto stored = test::ok(store_->get_call("c1"));
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->final_score, 0.5);
    EXPECT_EQ(stored->verdict, "uncertain");
    EXPECT_EQ(stored->speech_seconds, 20.0);
    EXPECT_TRUE(stored->flagged);
    EXPECT_EQ(stored->state, CallState::Streaming);
    EXPECT_EQ(stored->call_control_id, "v3:ctl-c1");

    update.call_id = "missing";
    auto missing = store_->update_call_score(update);
    ASSERT_FALSE(missing);
    EXPECT_TRUE(has_code(missing.error(), base::Errc::NotFound));
}

TEST_P(StoreContractTest, IndicatorStateLastsWhileTheCallDoes) {
    Call call = make_call("c1", 1);
    call.state = CallState::Streaming;
    call.hangup_cause = "";
    add_call(call);
    EXPECT_EQ(test::ok(store_->get_indicator_state("c1")), "");
    EXPECT_EQ(test::ok(store_->get_indicator_state("missing")), "");

    CallScoreUpdate update{.call_id = "c1", .final_score = 0.5, .indicator_state = "AAEC"};
    ASSERT_TRUE(store_->update_call_score(update));
    EXPECT_EQ(test::ok(store_->get_indicator_state("c1")), "AAEC");
    update.indicator_state.clear();  // an update without one keeps the stored state
    ASSERT_TRUE(store_->update_call_score(update));
    EXPECT_EQ(test::ok(store_->get_indicator_state("c1")), "AAEC");
    call.speech_seconds = 3.0;  // the calls thread's own updates keep it too
    add_call(call);
    EXPECT_EQ(test::ok(store_->get_indicator_state("c1")), "AAEC");

    call.state = CallState::Ended;  // the end clears it ...
    add_call(call);
    EXPECT_EQ(test::ok(store_->get_indicator_state("c1")), "");
    update.indicator_state = "BBBB";  // ... and a window reported after the end stores none
    ASSERT_TRUE(store_->update_call_score(update));
    EXPECT_EQ(test::ok(store_->get_indicator_state("c1")), "");
    EXPECT_EQ(test::ok(store_->get_call("c1"))->final_score, 0.5);
}

TEST_P(StoreContractTest, ListCallsFiltersSortsAndPages) {
    // c0..c9 started at 100, 200, ... ; even ones flagged; scores 0.0, 0.1, ... except c3 unscored.
    for (int i = 0; i < 10; ++i) {
        Call call = make_call("c" + std::to_string(i), 100 * (i + 1));
        call.flagged = i % 2 == 0;
        call.state = i < 4 ? CallState::Ended : CallState::Streaming;
        if (i != 3) {
            call.final_score = 0.1 * (9 - i);  // c0 highest
        }
        add_call(call);
    }

    CallQuery query;  // newest first by default
    EXPECT_EQ(ids(query), (std::vector<std::string>{"c9", "c8", "c7", "c6", "c5", "c4", "c3", "c2",
                                                    "c1", "c0"}));
    query.order = SortOrder::Ascending;
    query.limit = 3;
    EXPECT_EQ(ids(query), (std::vector<std::string>{"c0", "c1", "c2"}));

    // Pages do not overlap and cover everything.
    std::vector<std::string> all;
    for (query.offset = 0; query.offset < 12; query.offset += 3) {
        auto page = ids(query);
        all.insert(all.end(), page.begin(), page.end());
    }
    EXPECT_EQ(all.size(), 10U);
    EXPECT_EQ(ids(CallQuery{.limit = 5, .offset = 10}), std::vector<std::string>{});

    // Score: highest first; the unscored call last in both orders.
    EXPECT_EQ(
            ids(CallQuery{.sort = CallSortKey::Score, .limit = 10}),
            (std::vector<std::string>{"c0", "c1", "c2", "c4", "c5", "c6", "c7", "c8", "c9", "c3"}));
    EXPECT_EQ(
            ids(CallQuery{.sort = CallSortKey::Score, .order = SortOrder::Ascending}),
            (std::vector<std::string>{"c9", "c8", "c7", "c6", "c5", "c4", "c2", "c1", "c0", "c3"}));

    // Filters, alone and together, and count agrees.
    const CallFilter flagged{.flagged = true};
    EXPECT_EQ(ids(CallQuery{.filter = flagged, .order = SortOrder::Ascending}),
              (std::vector<std::string>{"c0", "c2", "c4", "c6", "c8"}));
    EXPECT_EQ(*store_->count_calls(flagged), 5);
    const CallFilter ended{.state = CallState::Ended};
    EXPECT_EQ(*store_->count_calls(ended), 4);
    const CallFilter since{.since_ms = 700};
    EXPECT_EQ(ids(CallQuery{.filter = since, .order = SortOrder::Ascending}),
              (std::vector<std::string>{"c6", "c7", "c8", "c9"}));
    const CallFilter all_three{.state = CallState::Streaming, .flagged = false, .since_ms = 500};
    EXPECT_EQ(ids(CallQuery{.filter = all_three, .order = SortOrder::Ascending}),
              (std::vector<std::string>{"c5", "c7", "c9"}));
    EXPECT_EQ(*store_->count_calls(all_three), 3);
    EXPECT_EQ(*store_->count_calls({}), 10);
}

TEST_P(StoreContractTest, ListCallsRejectsBadPages) {
    for (std::int64_t limit : {std::int64_t{0}, std::int64_t{-1}, kMaxPageSize + 1}) {
        auto r = store_->list_calls(CallQuery{.limit = limit});
        ASSERT_FALSE(r) << limit;
        EXPECT_TRUE(has_code(r.error(), base::Errc::InvalidArgument));
    }
    auto r = store_->list_calls(CallQuery{.offset = -1});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("list_calls"), std::string::npos);
}

TEST_P(StoreContractTest, ActiveCallsAreTheNonTerminalOnes) {
    const CallState states[] = {CallState::Initiated, CallState::Answered, CallState::Streaming,
                                CallState::Ended, CallState::Failed};
    int n = 0;
    for (auto state : states) {
        Call call = make_call(std::string(to_string(state)), 1000 - 10 * n++);
        call.state = state;
        add_call(call);
    }
    auto active = store_->list_active_calls();
    ASSERT_TRUE(active) << active.error().message;
    std::vector<std::string> got;
    for (const auto& call : *active) {
        got.push_back(call.id);
    }
    // Oldest first.
    EXPECT_EQ(got, (std::vector<std::string>{"streaming", "answered", "initiated"}));
}

// ---- webhook events ----

TEST_P(StoreContractTest, WebhookEventsAreDeduplicatedById) {
    const WebhookEvent event = make_event("evt-1", 10);
    auto first = store_->record_webhook_event(event);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_TRUE(*first);

    WebhookEvent again = event;
    again.received_at_ms = 20;
    again.body_json = "{\"redelivered\":true}";
    auto second = store_->record_webhook_event(again);
    ASSERT_TRUE(second);
    EXPECT_FALSE(*second);

    auto stored = test::ok(store_->get_webhook_event("evt-1"));
    ASSERT_TRUE(stored);
    EXPECT_EQ(*stored, event);  // the first delivery is kept
    EXPECT_TRUE(test::ok(store_->record_webhook_event(make_event("evt-2", 30))));
    EXPECT_FALSE(test::ok(store_->get_webhook_event("evt-3")).has_value());
}

TEST_P(StoreContractTest, ProcessedEventsLeaveTheUnprocessedList) {
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(store_->record_webhook_event(make_event("evt-" + std::to_string(i), 40 - i)));
    }
    ASSERT_TRUE(store_->mark_event_processed("evt-1", 100));
    ASSERT_TRUE(store_->mark_event_processed("evt-1", 200));  // idempotent, keeps first time
    auto event = test::ok(store_->get_webhook_event("evt-1"));
    ASSERT_TRUE(event);
    EXPECT_TRUE(event->processed);
    EXPECT_EQ(event->processed_at_ms, 100);

    auto pending = store_->list_unprocessed_events(10);
    ASSERT_TRUE(pending);
    std::vector<std::string> got;
    for (const auto& e : *pending) {
        got.push_back(e.event_id);
    }
    EXPECT_EQ(got, (std::vector<std::string>{"evt-3", "evt-2", "evt-0"}));  // oldest first
    EXPECT_EQ(store_->list_unprocessed_events(1)->size(), 1U);

    auto missing = store_->mark_event_processed("nope", 1);
    ASSERT_FALSE(missing);
    EXPECT_TRUE(has_code(missing.error(), base::Errc::NotFound));
}

TEST_P(StoreContractTest, EmptyEventIdIsInvalid) {
    auto r = store_->record_webhook_event(make_event("", 1));
    ASSERT_FALSE(r);
    EXPECT_TRUE(has_code(r.error(), base::Errc::InvalidArgument));
}

// ---- score timeline ----

TEST_P(StoreContractTest, TimelineAppendsInOrderAndIgnoresReplays) {
    add_call(make_call("c1", 1));
    std::vector<ScorePoint> points;
    for (int seq = 0; seq < 5; ++seq) {
        points.push_back(make_point("c1", seq));
    }
    ASSERT_TRUE(store_->append_score_points(points));
    // A replay after a restart: same seqs, different values -> ignored; new seq appended.
    std::vector<ScorePoint> replay{make_point("c1", 3), make_point("c1", 4), make_point("c1", 5)};
    replay[0].call_score = 0.99;
    ASSERT_TRUE(store_->append_score_points(replay));

    auto timeline = store_->list_timeline("c1", -1, 100);
    ASSERT_TRUE(timeline) << timeline.error().message;
    ASSERT_EQ(timeline->size(), 6U);
    for (std::size_t i = 0; i < timeline->size(); ++i) {
        EXPECT_EQ((*timeline)[i], make_point("c1", static_cast<std::int64_t>(i)));
    }
    auto tail = store_->list_timeline("c1", 3, 1);
    ASSERT_TRUE(tail);
    ASSERT_EQ(tail->size(), 1U);
    EXPECT_EQ((*tail)[0].seq, 4);
    EXPECT_TRUE(store_->list_timeline("other", -1, 10)->empty());
    EXPECT_FALSE(store_->list_timeline("c1", -1, 0));
}

TEST_P(StoreContractTest, TimelineBatchIsAllOrNothing) {
    add_call(make_call("c1", 1));
    std::vector<ScorePoint> points{make_point("c1", 0), make_point("ghost", 0)};
    auto r = store_->append_score_points(points);
    ASSERT_FALSE(r);
    EXPECT_TRUE(has_code(r.error(), base::Errc::InvalidArgument)) << r.error().message;
    EXPECT_TRUE(store_->list_timeline("c1", -1, 10)->empty());

    std::vector<ScorePoint> nan{make_point("c1", 0)};
    nan[0].window_llr = std::numeric_limits<double>::quiet_NaN();
    auto n = store_->append_score_points(nan);
    ASSERT_FALSE(n);
    EXPECT_NE(n.error().message.find("NaN"), std::string::npos);
}

// ---- recordings ----

TEST_P(StoreContractTest, RecordingsAreAddedAndUpdatedById) {
    add_call(make_call("c1", 1));
    Recording recording{.call_id = "c1",
                        .recording_id = "rec-1",
                        .wav_url = "https://example.invalid/rec-1.wav",
                        .mp3_url = "https://example.invalid/rec-1.mp3",
                        .format = "wav",
                        .channels = "single",
                        .duration_seconds = 61.0,
                        .saved_at_ms = 100};
    auto id = store_->add_recording(recording);
    ASSERT_TRUE(id) << id.error().message;

    // Same recording_id again (fresh URLs after 10 minutes): updated in place.
    Recording fresh = recording;
    fresh.wav_url = "https://example.invalid/rec-1-new.wav";
    fresh.mp3_url.clear();  // not sent this time: keep the old one
    fresh.saved_at_ms = 200;
    auto same = store_->add_recording(fresh);
    ASSERT_TRUE(same) << same.error().message;
    EXPECT_EQ(*same, *id);

    // Without a recording_id each delivery is its own row.
    Recording anonymous{.call_id = "c1", .wav_url = "https://example.invalid/x.wav"};
    auto other = store_->add_recording(anonymous);
    ASSERT_TRUE(other);
    EXPECT_NE(*other, *id);

    auto list = store_->list_recordings("c1");
    ASSERT_TRUE(list) << list.error().message;
    ASSERT_EQ(list->size(), 2U);
    EXPECT_EQ((*list)[0].id, *id);
    EXPECT_EQ((*list)[0].wav_url, "https://example.invalid/rec-1-new.wav");
    EXPECT_EQ((*list)[0].mp3_url, "https://example.invalid/rec-1.mp3");
    EXPECT_EQ((*list)[0].saved_at_ms, 200);
    EXPECT_EQ((*list)[0].duration_seconds, 61.0);
    EXPECT_EQ((*list)[1].recording_id, "");

    auto orphan = store_->add_recording(Recording{.call_id = "ghost"});
    ASSERT_FALSE(orphan);
    EXPECT_TRUE(has_code(orphan.error(), base::Errc::InvalidArgument));
}

// ---- alerts ----

Alert make_alert(const std::string& call_id, int level, AlertChannel channel, UnixMs due_ms) {
    Alert alert;
    alert.call_id = call_id;
    alert.level = level;
    alert.channel = channel;
    alert.next_attempt_at_ms = due_ms;
    alert.payload_json = R"({"text":"Deepfake alert"})";
    alert.created_at_ms = due_ms;
    return alert;
}

TEST_P(StoreContractTest, OneAlertPerCallLevelAndChannel) {
    add_call(make_call("c1", 1));
    auto first = store_->create_alert_if_absent(make_alert("c1", 1, AlertChannel::Slack, 10));
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_TRUE(first->created);
    EXPECT_GT(first->alert.id, 0);

    Alert duplicate = make_alert("c1", 1, AlertChannel::Slack, 99);
    duplicate.payload_json = "{\"other\":1}";
    auto second = store_->create_alert_if_absent(duplicate);
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->created);
    EXPECT_EQ(second->alert, first->alert);  // the existing one, unchanged

    // Another channel or another level is another alert.
    EXPECT_TRUE(
            store_->create_alert_if_absent(make_alert("c1", 1, AlertChannel::Json, 10))->created);
    EXPECT_TRUE(
            store_->create_alert_if_absent(make_alert("c1", 2, AlertChannel::Slack, 10))->created);
    EXPECT_EQ(store_->list_alerts("c1")->size(), 3U);

    auto orphan = store_->create_alert_if_absent(make_alert("ghost", 1, AlertChannel::Slack, 1));
    ASSERT_FALSE(orphan);
    EXPECT_TRUE(has_code(orphan.error(), base::Errc::InvalidArgument));
}

TEST_P(StoreContractTest, DueAlertsFollowNextAttemptTime) {
    add_call(make_call("c1", 1));
    add_call(make_call("c2", 2));
    const auto a =
            store_->create_alert_if_absent(make_alert("c1", 1, AlertChannel::Slack, 300))->alert;
    const auto b =
            store_->create_alert_if_absent(make_alert("c2", 1, AlertChannel::Slack, 100))->alert;
    const auto c =
            store_->create_alert_if_absent(make_alert("c1", 2, AlertChannel::Json, 200))->alert;

    const auto due_ids = [this](UnixMs now_ms, std::int64_t limit) {
        std::vector<std::int64_t> out;
        for (const auto& alert : test::ok(store_->list_due_alerts(now_ms, limit))) {
            out.push_back(alert.id);
        }
        return out;
    };
    EXPECT_EQ(due_ids(50, 10), std::vector<std::int64_t>{});
    EXPECT_EQ(due_ids(200, 10), (std::vector<std::int64_t>{b.id, c.id}));
    EXPECT_EQ(due_ids(1000, 10), (std::vector<std::int64_t>{b.id, c.id, a.id}));
    EXPECT_EQ(due_ids(1000, 1), (std::vector<std::int64_t>{b.id}));

    // b: sent. c: retry later. a: failed for good.
    ASSERT_TRUE(store_->mark_alert_sent(b.id, 1001));
    ASSERT_TRUE(store_->mark_alert_retry(c.id, "HTTP 503", 5000));
    ASSERT_TRUE(store_->mark_alert_failed(a.id, "HTTP 404 no_service"));
    EXPECT_EQ(due_ids(1000, 10), std::vector<std::int64_t>{});
    EXPECT_EQ(due_ids(5000, 10), std::vector<std::int64_t>{c.id});

    auto alerts = test::ok(store_->list_alerts("c1"));
    ASSERT_EQ(alerts.size(), 2U);
    EXPECT_EQ(alerts[0].id, a.id);
    EXPECT_EQ(alerts[0].status, AlertStatus::Failed);
    EXPECT_EQ(alerts[0].attempts, 1);
    EXPECT_EQ(alerts[0].last_error, "HTTP 404 no_service");
    EXPECT_EQ(alerts[1].status, AlertStatus::Pending);
    EXPECT_EQ(alerts[1].attempts, 1);
    EXPECT_EQ(alerts[1].next_attempt_at_ms, 5000);
    auto sent = test::ok(store_->list_alerts("c2"));
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(sent[0].status, AlertStatus::Sent);
    EXPECT_EQ(sent[0].sent_at_ms, 1001);

    // Terminal alerts do not move again; unknown ids are NotFound.
    auto again = store_->mark_alert_sent(a.id, 2000);
    ASSERT_FALSE(again);
    EXPECT_TRUE(has_code(again.error(), base::Errc::InvalidArgument));
    EXPECT_NE(again.error().message.find("not pending"), std::string::npos);
    auto missing = store_->mark_alert_retry(12345, "x", 1);
    ASSERT_FALSE(missing);
    EXPECT_TRUE(has_code(missing.error(), base::Errc::NotFound));
}

// ---- command log ----

TEST_P(StoreContractTest, CommandLogKeepsOrder) {
    CommandLog answer{.call_id = "c1",
                      .command = "answer",
                      .command_id = "cmd-1",
                      .request_body_json = R"({"command_id":"cmd-1"})",
                      .http_status = 200,
                      .at_ms = 10};
    CommandLog speak{.call_id = "c1",
                     .command = "speak",
                     .command_id = "cmd-2",
                     .error = "timeout",
                     .at_ms = 20};
    auto first = store_->append_command_log(answer);
    auto second = store_->append_command_log(speak);
    ASSERT_TRUE(first && second);
    answer.id = *first;
    speak.id = *second;
    auto log = store_->list_command_log("c1");
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_EQ(*log, (std::vector<CommandLog>{answer, speak}));
    EXPECT_FALSE(store_->append_command_log(CommandLog{.call_id = "c1"}));
}

// ---- batches ----

TEST_P(StoreContractTest, WriteBatchSkipsBadOpsAndCommitsTheRest) {
    std::vector<WriteOp> ops;
    ops.emplace_back(make_call("c1", 1));
    ops.emplace_back(make_point("c1", 0));
    ops.emplace_back(make_point("ghost", 0));  // no such call
    ops.emplace_back(CallScoreUpdate{.call_id = "c1", .final_score = 0.7, .verdict = "human"});
    ops.emplace_back(EventProcessed{.event_id = "evt-unknown", .processed_at_ms = 5});
    ops.emplace_back(CommandLog{.call_id = "c1", .command = "answer", .at_ms = 3});
    ops.emplace_back(Recording{.call_id = "c1", .recording_id = "r"});
    auto outcome = store_->write_batch(ops);
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(outcome->applied, 5U);
    EXPECT_EQ(outcome->failed, 2U);
    EXPECT_TRUE(mentions(outcome->first_error, "foreign key")) << outcome->first_error;

    EXPECT_EQ(test::ok(store_->get_call("c1")).value().final_score, 0.7);
    EXPECT_EQ(store_->list_timeline("c1", -1, 10)->size(), 1U);
    EXPECT_EQ(store_->list_command_log("c1")->size(), 1U);
    EXPECT_EQ(store_->list_recordings("c1")->size(), 1U);
    EXPECT_TRUE(store_->write_batch({})->applied == 0);
}

// Two connections (two threads, or two processes) insert the same events at once: each id is new
// for exactly one of them.
TEST_P(StoreContractTest, SameEventFromTwoConnectionsIsNewExactlyOnce) {
    auto a = db_.open();
    auto b = db_.open();
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);

    constexpr int kEvents = 300;
    std::atomic<int> ready{0};
    std::vector<int> new_a(kEvents, 0);
    std::vector<int> new_b(kEvents, 0);
    std::atomic<int> errors{0};
    const auto run = [&](Store& store, std::vector<int>& is_new) {
        ready.fetch_add(1);
        while (ready.load() < 2) {
            std::this_thread::yield();  // start together so that the inserts really race
        }
        for (int i = 0; i < kEvents; ++i) {
            auto r = store.record_webhook_event(make_event("evt-" + std::to_string(i), i));
            if (!r) {
                errors.fetch_add(1);
                continue;
            }
            is_new[static_cast<std::size_t>(i)] = *r ? 1 : 0;
        }
    };
    std::thread ta([&] { run(*a, new_a); });
    std::thread tb([&] { run(*b, new_b); });
    ta.join();
    tb.join();

    EXPECT_EQ(errors.load(), 0);
    for (std::size_t i = 0; i < kEvents; ++i) {
        EXPECT_EQ(new_a[i] + new_b[i], 1) << "event " << i;
    }
    EXPECT_EQ(store_->list_unprocessed_events(1000)->size(), static_cast<std::size_t>(kEvents));
}

TEST_P(StoreContractTest, StatementsAreReusedAcrossManyCalls) {
    // Exercises the prepared-statement cache (reset + clear bindings between uses).
    add_call(make_call("c1", 1));
    for (int i = 0; i < 500; ++i) {
        ScorePoint point = make_point("c1", i);
        ASSERT_TRUE(store_->append_score_points({&point, 1}));
        ASSERT_TRUE(test::ok(store_->get_call("c1")).has_value());
    }
    EXPECT_EQ(store_->list_timeline("c1", -1, 1000)->size(), 500U);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest,
                         ::testing::ValuesIn(test::backends_under_test()), test::backend_name);

}  // namespace
}  // namespace dvd::store
