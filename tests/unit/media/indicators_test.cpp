// Acoustic indicators in the media stream (issue 4): the same decoded samples feed an
// IndicatorTracker; every score point carries the window's key figures, every CallScoreUpdate the
// call-level figures with the stream's codec and packet counts.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dsp/g711.hpp"
#include "indicators/indicator_tracker.hpp"
#include "media/indicator_json.hpp"
#include "media_test_support.hpp"
#include "protocol/base64.hpp"

namespace dvd::media {
namespace {

using nlohmann::json;
using test::FakeConnection;
using test::Harness;

constexpr const char* kCcid = "v3:call-ind";
constexpr const char* kStream = "stream-ind";

std::vector<std::string> call_frames(const std::vector<std::vector<std::uint8_t>>& payloads,
                                     std::size_t drop_index = static_cast<std::size_t>(-1)) {
    std::vector<std::string> frames{test::start_frame(kCcid, kStream)};
    std::uint64_t seq = 2;
    for (std::size_t i = 0; i < payloads.size(); ++i, ++seq) {
        if (i != drop_index) {
            frames.push_back(test::media_frame(kStream, seq, payloads[i]));
        }
    }
    frames.push_back(test::stop_frame(kCcid, kStream, seq));
    return frames;
}

std::unique_ptr<MediaSession> run(Harness& h, FakeConnection& connection,
                                  const std::vector<std::string>& frames) {
    auto session = std::make_unique<MediaSession>(h.deps, "", "127.0.0.1");
    session->on_open(connection);
    for (const auto& frame : frames) {
        if (connection.close_calls > 0) {
            break;
        }
        session->on_text(connection, frame);
    }
    return session;
}

TEST(IndicatorJson, RoundsToFourSignificantDigitsAndKeepsNulls) {
    EXPECT_EQ(round_significant(151.2345), 151.2);
    EXPECT_EQ(round_significant(0.0123456), 0.01235);
    EXPECT_EQ(round_significant(12345.0), 12350.0);
    EXPECT_EQ(round_significant(-7.45678), -7.457);
    EXPECT_EQ(round_significant(0.0), 0.0);
    indicators::Indicators empty;
    const json all = json::parse(indicators_json(empty));
    EXPECT_TRUE(all.contains("pitch_mean_hz"));
    EXPECT_TRUE(all["pitch_mean_hz"].is_null()) << "no voiced frame: no pitch";
    EXPECT_EQ(all["periods"], 0);
    EXPECT_FALSE(all.contains("codec")) << "stream rows only with stream data";
    empty.stream.codec = "PCMA";
    EXPECT_EQ(json::parse(indicators_json(empty))["codec"], "PCMA");
    const json window = json::parse(window_indicators_json(empty));
    EXPECT_EQ(window.size(), kWindowIndicatorNames.size());
    for (const auto name : kWindowIndicatorNames) {
        EXPECT_TRUE(window.contains(std::string(name))) << name;
    }
}

TEST(MediaIndicators, EveryWindowAndTheCallCarryIndicatorsEqualToBatchAnalysis) {
    Harness h;
    h.add_call("call-ind", kCcid, "");
    const auto payloads = test::pcmu_frames(test::sample_speech());
    FakeConnection connection;
    auto session = run(h, connection, call_frames(payloads));
    ASSERT_EQ(*connection.close_code, net::CloseCode::Normal);
    h.sync();

    auto timeline = h.store().list_timeline("call-ind", -1, 1000);
    ASSERT_TRUE(timeline);
    ASSERT_GE(timeline->size(), 3u);
    double voiced_s = 0.0;
    for (const auto& point : *timeline) {
        const json window = json::parse(point.indicators_json);
        ASSERT_EQ(window.size(), kWindowIndicatorNames.size()) << point.indicators_json;
        voiced_s += window["voiced_s"].get<double>();
    }
    EXPECT_GT(voiced_s, 0.5) << "the sample speech is voiced";

    auto call = h.store().get_call("call-ind");
    ASSERT_TRUE(call && *call);
    const json stored = json::parse((*call)->indicators_json);
    EXPECT_EQ(stored["codec"], "PCMU");
    EXPECT_EQ(stored["codec_sample_rate_hz"], 8000);
    EXPECT_GT(stored["frames_received"].get<double>(), 0.0);
    EXPECT_EQ(stored["frames_lost"], 0);
    EXPECT_EQ(stored["packet_loss_percent"], 0);
    ASSERT_TRUE(stored["pitch_mean_hz"].is_number());

    // At the end: exactly what a tracker gives on the decoded audio in one go.
    std::vector<float> decoded;
    for (const auto& frame : payloads) {
        for (const auto code : frame) {
            decoded.push_back(static_cast<float>(dsp::mulaw_to_linear(code)) / 32768.0f);
        }
    }
    indicators::IndicatorTracker batch;
    batch.accept(decoded);
    indicators::Indicators expected = batch.snapshot();
    const indicators::Indicators streamed = session->stream().call_indicators();
    expected.stream = streamed.stream;
    EXPECT_EQ(indicators_json(streamed), indicators_json(expected));
    EXPECT_EQ(streamed.stream.frames_received, static_cast<long long>(payloads.size()));
}

// The call sums reach the store with the first window; a service restarted from that store
// (a new harness: new directory, new store writer) goes on adding to them.
TEST(MediaIndicators, AfterARestartTheCallIndicatorsGoOnFromTheSavedSums) {
    const auto payloads = test::pcmu_frames(test::sample_speech());
    std::string stored_state;
    long long first_stream_frames = 0;
    {
        Harness before;
        before.add_call("call-ind", kCcid, "");
        FakeConnection connection;
        auto session = run(before, connection, call_frames(payloads));
        ASSERT_EQ(*connection.close_code, net::CloseCode::Normal);
        before.sync();
        first_stream_frames = session->stream().call_indicators().frames;
        auto state = before.store().get_indicator_state("call-ind");
        ASSERT_TRUE(state);
        stored_state = *state;
        // In the process, the directory keeps the sums of the whole stream, for a stream that
        // reconnects.
        const auto grant = before.directory.find(kCcid);
        ASSERT_TRUE(grant);
        indicators::IndicatorTracker in_memory;
        auto bytes = protocol::decode_base64(grant->indicator_state);
        ASSERT_TRUE(bytes);
        ASSERT_TRUE(in_memory.restore_call_state(
                std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size())));
        EXPECT_EQ(in_memory.snapshot().frames, first_stream_frames);
    }
    ASSERT_FALSE(stored_state.empty()) << "the first window stores the call sums";
    indicators::IndicatorTracker saved;
    auto bytes = protocol::decode_base64(stored_state);
    ASSERT_TRUE(bytes);
    ASSERT_TRUE(saved.restore_call_state(
            std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size())));
    const long long saved_frames = saved.snapshot().frames;
    EXPECT_GT(saved_frames, 100) << "at least the first window's second of speech";
    EXPECT_LE(saved_frames, first_stream_frames);

    Harness after;
    after.add_call("call-ind", kCcid, "");
    auto grant = after.directory.find(kCcid);
    ASSERT_TRUE(grant);
    grant->indicator_state = stored_state;  // as the calls thread restores it from the store
    after.directory.grant(*grant);
    FakeConnection connection;
    auto session = run(after, connection, call_frames(payloads));
    ASSERT_EQ(*connection.close_code, net::CloseCode::Normal);
    const auto figures = session->stream().call_indicators();
    EXPECT_EQ(figures.frames, saved_frames + first_stream_frames);
    EXPECT_EQ(figures.stream.frames_received, static_cast<long long>(payloads.size()))
            << "the stream figures are this stream's own";

    // A state this build cannot read is skipped: the indicators start with the stream.
    Harness damaged;
    damaged.add_call("call-ind", kCcid, "");
    grant = damaged.directory.find(kCcid);
    grant->indicator_state = "bm90IGEgc3RhdGU=";
    damaged.directory.grant(*grant);
    FakeConnection again;
    session = run(damaged, again, call_frames(payloads));
    ASSERT_EQ(*again.close_code, net::CloseCode::Normal);
    EXPECT_EQ(session->stream().call_indicators().frames, first_stream_frames);
}

TEST(MediaIndicators, LostFramesShowAsPacketLoss) {
    Harness h;
    h.add_call("call-ind", kCcid, "");
    const auto payloads = test::pcmu_frames(test::sample_speech());
    FakeConnection connection;
    auto session = run(h, connection, call_frames(payloads, 10));
    const auto figures = session->stream().call_indicators();
    EXPECT_EQ(figures.stream.frames_lost, 1);
    ASSERT_TRUE(figures.stream.loss_percent());
    EXPECT_NEAR(*figures.stream.loss_percent(), 100.0 / static_cast<double>(payloads.size()),
                1e-9);
}

}  // namespace
}  // namespace dvd::media
