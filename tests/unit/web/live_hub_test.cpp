#include "web/live_hub.hpp"

#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "unit/web/web_test_support.hpp"

namespace dvd::web::test {
namespace {

LiveHubOptions options_at(std::int64_t now_ms) {
    LiveHubOptions options;
    options.detection_threshold = 0.8;
    options.now_ms = [now_ms] {
        return now_ms;
    };
    return options;
}

TEST(LiveHub, ForwardsEveryEventToTheNextSinkUnchanged) {
    RecordingSink next;
    LiveHub hub(next, options_at(1000));
    hub.on_stream_started(started_event("c1", "s1"));
    hub.on_score_changed(score_event("c1", 2000, 0.91, true));
    hub.on_stream_ended(ended_event("c1", "s1"));

    ASSERT_EQ(next.started.size(), 1U);
    EXPECT_EQ(next.started[0].call_id, "c1");
    EXPECT_EQ(next.started[0].stream_id, "s1");
    EXPECT_EQ(next.started[0].encoding, "PCMU");
    ASSERT_EQ(next.scores.size(), 1U);
    EXPECT_EQ(next.scores[0].at_ms, 2000);
    EXPECT_DOUBLE_EQ(next.scores[0].score.probability, 0.91);
    EXPECT_TRUE(next.scores[0].crossed_threshold);
    ASSERT_EQ(next.ended.size(), 1U);
    EXPECT_EQ(next.ended[0].reason, "stop");
}

TEST(LiveHub, ForwardsWithoutSubscribersAndAfterCloseAll) {
    RecordingSink next;
    LiveHub hub(next, options_at(1000));
    hub.close_all();
    hub.on_score_changed(score_event("c1", 2000, 0.5));
    EXPECT_EQ(next.scores.size(), 1U);
    auto stream = std::make_shared<FakeEventStream>();
    EXPECT_FALSE(hub.subscribe(stream));
    EXPECT_FALSE(stream->is_open());
}

TEST(LiveHub, NewSubscriberGetsTheSnapshotFirstThenEveryEvent) {
    RecordingSink next;
    LiveHub hub(next, options_at(1234));
    auto stream = std::make_shared<FakeEventStream>();
    ASSERT_TRUE(hub.subscribe(stream));
    hub.on_stream_started(started_event("c1", "s1"));
    hub.on_score_changed(score_event("c1", 1500, 0.6));
    hub.on_score_changed(score_event("c1", 2000, 0.85, true));
    hub.on_stream_ended(ended_event("c1", "s1"));

    const auto events = stream->events();
    ASSERT_EQ(events.size(), 5U);
    EXPECT_EQ(events[0].event, "snapshot");
    const auto snapshot = events[0].json();
    EXPECT_DOUBLE_EQ(snapshot["threshold"].get<double>(), 0.8);
    EXPECT_EQ(snapshot["server_time_ms"], 1234);
    EXPECT_TRUE(snapshot["calls"].empty());

    EXPECT_EQ(events[1].event, "stream_started");
    const auto started = events[1].json();
    EXPECT_EQ(started["call_id"], "c1");
    EXPECT_EQ(started["call_control_id"], "v3:c1");
    EXPECT_EQ(started["stream_id"], "s1");
    EXPECT_EQ(started["encoding"], "PCMU");
    EXPECT_EQ(started["sample_rate_hz"], 8000);
    EXPECT_EQ(started["started_at_ms"], 1234);

    EXPECT_EQ(events[2].event, "score");
    const auto first = events[2].json();
    EXPECT_EQ(first["at_ms"], 1500);
    EXPECT_DOUBLE_EQ(first["call_score"].get<double>(), 0.6);
    EXPECT_DOUBLE_EQ(first["window_score"].get<double>(), 0.6);
    EXPECT_DOUBLE_EQ(first["speech_seconds"].get<double>(), 1.5);
    EXPECT_EQ(first["verdict"], "uncertain");
    EXPECT_EQ(first["windows"], 3);
    EXPECT_EQ(first["flagged"], false);
    EXPECT_EQ(first["crossed_threshold"], false);

    const auto second = events[3].json();
    EXPECT_EQ(second["verdict"], "synthetic");
    EXPECT_EQ(second["flagged"], true);
    EXPECT_EQ(second["crossed_threshold"], true);

    EXPECT_EQ(events[4].event, "stream_ended");
    const auto ended = events[4].json();
    EXPECT_EQ(ended["call_id"], "c1");
    EXPECT_EQ(ended["reason"], "stop");
    EXPECT_EQ(ended["error"], false);
    EXPECT_EQ(ended["flagged"], true);  // remembered from the crossing
    EXPECT_EQ(ended["ended_at_ms"], 1234);
    for (const auto& event : events) {
        EXPECT_EQ(event.data.find('\n'), std::string::npos) << "one data line per event";
    }
}

TEST(LiveHub, FlagStaysOnAfterTheCrossing) {
    RecordingSink next;
    LiveHub hub(next, options_at(0));
    auto stream = std::make_shared<FakeEventStream>();
    hub.on_stream_started(started_event("c1", "s1"));
    hub.on_score_changed(score_event("c1", 1000, 0.9, true));
    ASSERT_TRUE(hub.subscribe(stream));
    hub.on_score_changed(score_event("c1", 1500, 0.7));  // dips below: still flagged
    const auto events = stream->events();
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[1].json()["flagged"], true);
    EXPECT_EQ(events[1].json()["crossed_threshold"], false);
}

TEST(LiveHub, SnapshotHoldsLiveCallsWithTheirRecentPoints) {
    RecordingSink next;
    LiveHubOptions options = options_at(5000);
    options.max_points_per_call = 3;
    LiveHub hub(next, options);
    hub.on_stream_started(started_event("c1", "s1"));
    for (int i = 1; i <= 5; ++i) {
        hub.on_score_changed(score_event("c1", i * 500, 0.1 * i, i == 5));
    }
    hub.on_stream_started(started_event("c2", "s2"));
    hub.on_stream_started(started_event("c3", "s3"));
    hub.on_stream_ended(ended_event("c3", "s3"));

    const auto snapshot = nlohmann::json::parse(hub.snapshot_json());
    ASSERT_EQ(snapshot["calls"].size(), 2U);
    const auto& c1 = snapshot["calls"][0];
    EXPECT_EQ(c1["call_id"], "c1");
    EXPECT_EQ(c1["stream_id"], "s1");
    EXPECT_EQ(c1["flagged"], true);
    ASSERT_EQ(c1["points"].size(), 3U) << "bounded to max_points_per_call, oldest dropped";
    EXPECT_EQ(c1["points"][0]["at_ms"], 1500);
    EXPECT_EQ(c1["points"][1]["at_ms"], 2000);
    EXPECT_EQ(c1["points"][2]["at_ms"], 2500);
    EXPECT_DOUBLE_EQ(c1["points"][2]["call_score"].get<double>(), 0.5);
    EXPECT_EQ(c1["latest"]["at_ms"], 2500);
    const auto& c2 = snapshot["calls"][1];
    EXPECT_EQ(c2["call_id"], "c2");
    EXPECT_TRUE(c2["latest"].is_null());
    EXPECT_TRUE(c2["points"].empty());
    EXPECT_EQ(hub.stats().live_calls, 2U);
}

TEST(LiveHub, LateEndOfAnEarlierStreamKeepsTheNewerOne) {
    RecordingSink next;
    LiveHub hub(next, options_at(0));
    hub.on_stream_started(started_event("c1", "old"));
    hub.on_score_changed(score_event("c1", 1000, 0.9, true));
    hub.on_stream_started(started_event("c1", "new"));  // reconnect: points and flag kept
    hub.on_stream_ended(ended_event("c1", "old"));
    auto snapshot = nlohmann::json::parse(hub.snapshot_json());
    ASSERT_EQ(snapshot["calls"].size(), 1U);
    EXPECT_EQ(snapshot["calls"][0]["stream_id"], "new");
    EXPECT_EQ(snapshot["calls"][0]["flagged"], true);
    EXPECT_EQ(snapshot["calls"][0]["points"].size(), 1U);
    hub.on_stream_ended(ended_event("c1", "new"));
    snapshot = nlohmann::json::parse(hub.snapshot_json());
    EXPECT_TRUE(snapshot["calls"].empty());
}

TEST(LiveHub, LiveCallTableIsBounded) {
    RecordingSink next;
    LiveHubOptions options = options_at(0);
    options.max_live_calls = 2;
    LiveHub hub(next, options);
    auto stream = std::make_shared<FakeEventStream>();
    ASSERT_TRUE(hub.subscribe(stream));
    hub.on_stream_started(started_event("c1", "s1"));
    hub.on_stream_started(started_event("c2", "s2"));
    hub.on_stream_started(started_event("c3", "s3"));
    hub.on_score_changed(score_event("c3", 1000, 0.2));
    EXPECT_EQ(hub.stats().live_calls, 2U);
    EXPECT_EQ(next.started.size(), 3U) << "still forwarded";
    EXPECT_EQ(stream->events().size(), 5U) << "still published";
}

TEST(LiveHub, SlowSubscriberIsClosedAndDroppedOthersGoOn) {
    RecordingSink next;
    LiveHub hub(next, options_at(0));
    auto slow = std::make_shared<FakeEventStream>(3);  // snapshot + 2 events, then full
    auto fast = std::make_shared<FakeEventStream>();
    ASSERT_TRUE(hub.subscribe(slow));
    ASSERT_TRUE(hub.subscribe(fast));
    for (int i = 0; i < 5; ++i) {
        hub.on_score_changed(score_event("c1", 500 * i, 0.5));
    }
    EXPECT_FALSE(slow->is_open());
    EXPECT_EQ(slow->events().size(), 3U);
    EXPECT_EQ(fast->events().size(), 6U);
    const LiveHubStats stats = hub.stats();
    EXPECT_EQ(stats.subscribers, 1U);
    EXPECT_EQ(stats.subscribers_dropped, 1U);
    EXPECT_EQ(stats.subscribed_total, 2U);
    EXPECT_EQ(stats.events_published, 5U);
}

TEST(LiveHub, SubscriberThatLeftIsRemovedWithoutCountingAsDropped) {
    RecordingSink next;
    LiveHub hub(next, options_at(0));
    auto stream = std::make_shared<FakeEventStream>();
    ASSERT_TRUE(hub.subscribe(stream));
    stream->disconnect();
    hub.on_score_changed(score_event("c1", 500, 0.5));
    const LiveHubStats stats = hub.stats();
    EXPECT_EQ(stats.subscribers, 0U);
    EXPECT_EQ(stats.subscribers_dropped, 0U);
}

TEST(LiveHub, RefusesSubscribersBeyondTheLimitUntilOneLeaves) {
    RecordingSink next;
    LiveHubOptions options = options_at(0);
    options.max_subscribers = 2;
    LiveHub hub(next, options);
    auto a = std::make_shared<FakeEventStream>();
    auto b = std::make_shared<FakeEventStream>();
    auto c = std::make_shared<FakeEventStream>();
    ASSERT_TRUE(hub.subscribe(a));
    ASSERT_TRUE(hub.subscribe(b));
    EXPECT_FALSE(hub.has_room());
    EXPECT_FALSE(hub.subscribe(c));
    EXPECT_FALSE(c->is_open());
    a->disconnect();
    auto d = std::make_shared<FakeEventStream>();
    EXPECT_TRUE(hub.subscribe(d)) << "a closed stream frees its place";
    EXPECT_FALSE(hub.subscribe(nullptr));
}

TEST(LiveHub, CloseAllClosesEveryStream) {
    RecordingSink next;
    LiveHub hub(next, options_at(0));
    auto a = std::make_shared<FakeEventStream>();
    ASSERT_TRUE(hub.subscribe(a));
    hub.close_all();
    EXPECT_FALSE(a->is_open());
    EXPECT_FALSE(hub.has_room());
}

TEST(LiveHub, ConcurrentPublishersAndSubscribersLoseNothing) {
    RecordingSink next;
    LiveHub hub(next, options_at(0));
    auto early = std::make_shared<FakeEventStream>(100'000);
    ASSERT_TRUE(hub.subscribe(early));
    constexpr int kThreads = 4;
    constexpr int kEventsPerThread = 500;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&hub, t] {
            const std::string call = "c" + std::to_string(t);
            hub.on_stream_started(started_event(call, "s"));
            for (int i = 0; i < kEventsPerThread; ++i) {
                hub.on_score_changed(score_event(call, i, 0.5));
            }
            hub.on_stream_ended(ended_event(call, "s"));
        });
    }
    std::vector<std::shared_ptr<FakeEventStream>> late;
    for (int i = 0; i < 8; ++i) {
        late.push_back(std::make_shared<FakeEventStream>(100'000));
        hub.subscribe(late.back());
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(next.scores.size(), static_cast<std::size_t>(kThreads * kEventsPerThread));
    EXPECT_EQ(early->events().size(),
              static_cast<std::size_t>(1 + kThreads * (kEventsPerThread + 2)));
    for (const auto& stream : late) {
        const auto events = stream->events();
        ASSERT_FALSE(events.empty());
        EXPECT_EQ(events.front().event, "snapshot");
    }
    EXPECT_EQ(hub.stats().live_calls, 0U);
}

}  // namespace
}  // namespace dvd::web::test
