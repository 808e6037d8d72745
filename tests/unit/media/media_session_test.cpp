#include "media/media_session.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "media_test_support.hpp"
#include "protocol/base64.hpp"

namespace dvd::media {
namespace {

using test::connected_frame;
using test::FakeConnection;
using test::Harness;
using test::media_frame;
using test::start_frame;
using test::stop_frame;

constexpr const char* kCcid = "v3:call-control-1";
constexpr const char* kStream = "stream-1";
constexpr const char* kToken = "per-call-secret";

std::unique_ptr<MediaSession> open_session(Harness& h, FakeConnection& connection,
                                           std::string upgrade_token = {}) {
    auto session = std::make_unique<MediaSession>(h.deps, std::move(upgrade_token), "127.0.0.1");
    session->on_open(connection);
    return session;
}

/// Sends the frames until the session asks to close; then delivers on_close like net does.
void send_all(MediaSession& session, FakeConnection& connection,
              const std::vector<std::string>& frames) {
    for (const auto& frame : frames) {
        if (connection.close_calls > 0) {
            break;
        }
        session.on_text(connection, frame);
    }
    if (connection.close_calls > 0) {
        session.on_close(net::WsCloseInfo{static_cast<std::uint16_t>(*connection.close_code),
                                          connection.close_reason, false});
    }
}

std::vector<std::string> pcmu_call(const std::vector<float>& speech, std::uint64_t first_seq = 2) {
    std::vector<std::string> frames;
    std::uint64_t seq = first_seq;
    for (auto& payload : test::pcmu_frames(speech)) {
        frames.push_back(media_frame(kStream, seq++, std::move(payload)));
    }
    return frames;
}

/// Scores decoded audio with a fresh scorer: what the stream must have reported.
std::vector<pipeline::CallScore> reference_scores(const std::vector<float>& decoded,
                                                  pipeline::ScorerOptions options = {}) {
    pipeline::StreamingScorer scorer(test::test_model().model, test::test_model().tables, options);
    std::vector<pipeline::CallScore> scores;
    EXPECT_TRUE(scorer.accept(decoded, [&](const pipeline::WindowScore&,
                                           const pipeline::CallScore& c) { scores.push_back(c); }));
    return scores;
}

/// What the PCMU frames decode to (mu-law round trip of the speech).
std::vector<float> pcmu_decoded(const std::vector<float>& speech) {
    std::vector<float> out;
    for (const auto& frame : test::pcmu_frames(speech)) {
        for (const auto code : frame) {
            out.push_back(static_cast<float>(dsp::mulaw_to_linear(code)) / 32768.0f);
        }
    }
    return out;
}

/// `connected`, `start`, the media frames and `stop` of one stream.
std::vector<std::string> whole_stream(const std::vector<std::string>& media) {
    std::vector<std::string> frames{connected_frame(kToken), start_frame(kCcid, kStream)};
    frames.insert(frames.end(), media.begin(), media.end());
    frames.push_back(stop_frame(kCcid, kStream, media.size() + 2));
    return frames;
}

TEST(MediaSession, PcmuCallIsScoredStoredArchivedAndReported) {
    Harness h;
    h.add_call("call-1", kCcid, kToken);
    const auto speech = test::sample_speech();
    const auto media = pcmu_call(speech);
    FakeConnection connection;
    auto session = open_session(h, connection);
    send_all(*session, connection, whole_stream(media));

    ASSERT_EQ(connection.close_calls, 1);
    EXPECT_EQ(*connection.close_code, net::CloseCode::Normal);
    EXPECT_EQ(connection.close_reason, "stop");
    ASSERT_EQ(h.sink.started.size(), 1u);
    EXPECT_EQ(h.sink.started[0].call_id, "call-1");
    EXPECT_EQ(h.sink.started[0].stream_id, kStream);
    EXPECT_EQ(h.sink.started[0].encoding, "PCMU");
    ASSERT_EQ(h.sink.ended.size(), 1u);
    EXPECT_EQ(h.sink.ended[0].reason, "stop");
    EXPECT_FALSE(h.sink.ended[0].error);
    EXPECT_FALSE(h.sink.ended[0].lost);

    // Streaming through the socket gives the scores of the decoded audio scored in one go.
    const auto decoded = pcmu_decoded(speech);
    const auto expected = reference_scores(decoded);
    ASSERT_GE(expected.size(), 3u);
    ASSERT_EQ(h.sink.scores.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_DOUBLE_EQ(h.sink.scores[i].score.llr, expected[i].llr) << "window " << i;
        EXPECT_EQ(h.sink.scores[i].call_id, "call-1");
    }
    EXPECT_EQ(h.sink.ended[0].score.windows, static_cast<int>(expected.size()));

    h.sync();
    auto timeline = h.store().list_timeline("call-1", -1, 1000);
    ASSERT_TRUE(timeline);
    ASSERT_EQ(timeline->size(), expected.size());
    for (std::size_t i = 0; i < timeline->size(); ++i) {
        EXPECT_EQ((*timeline)[i].seq, static_cast<std::int64_t>(i));
        EXPECT_DOUBLE_EQ((*timeline)[i].call_llr, expected[i].llr);
        EXPECT_GT((*timeline)[i].at_ms, 0);
        EXPECT_LE((*timeline)[i].at_ms, static_cast<std::int64_t>(decoded.size() / 8));
        if (i > 0) {
            EXPECT_GE((*timeline)[i].at_ms, (*timeline)[i - 1].at_ms);
        }
    }
    auto call = h.store().get_call("call-1");
    ASSERT_TRUE(call && *call);
    ASSERT_TRUE((*call)->final_score.has_value());
    EXPECT_DOUBLE_EQ(*(*call)->final_llr, expected.back().llr);
    EXPECT_EQ((*call)->verdict, pipeline::to_string(expected.back().verdict));

    auto archived = h.archive.read("call-1");
    ASSERT_TRUE(archived) << archived.error().message;
    ASSERT_EQ(archived->size(), decoded.size());
    for (std::size_t i = 0; i < decoded.size(); i += 97) {
        EXPECT_EQ((*archived)[i], decoded[i]) << i;  // mu-law values sit on the int16 grid
    }

    // The directory remembers where the call stands (a later stream resumes from it).
    auto grant = h.directory.find(kCcid);
    ASSERT_TRUE(grant);
    EXPECT_EQ(grant->next_seq, static_cast<std::int64_t>(expected.size()));
    EXPECT_EQ(grant->checkpoint.windows, static_cast<int>(expected.size()));
    EXPECT_EQ(grant->audio_offset_ms, static_cast<std::int64_t>(decoded.size() / 8));

    EXPECT_EQ(h.metrics.media_streams_opened.value(), 1u);
    EXPECT_EQ(h.metrics.media_streams_active.value(), 0);
    EXPECT_EQ(h.metrics.media_frames.value(), media.size());
    EXPECT_EQ(h.metrics.media_bytes.value(), media.size() * 160);
    EXPECT_EQ(h.metrics.windows_scored.value(), expected.size());
    EXPECT_EQ(h.metrics.window_seconds.total(), expected.size());
    EXPECT_EQ(h.metrics.media_frames_lost.value(), 0u);
    EXPECT_EQ(h.metrics.media_streams_errored.value(), 0u);
    EXPECT_EQ(h.metrics.audio_seconds_micro.value(), decoded.size() * 125);
}

TEST(MediaSession, WithAScoringPoolEveryWindowReachesTheTimelineAndTheFinalScore) {
    // The service runs windows on a ScoringPool: a window is reported with a later frame, and
    // the one still in flight at `stop` must be drained into the final score.
    Harness h;
    // However slow the machine, the pool waits for every window here (none is dropped as stale).
    pipeline::ScoringPool pool(
            test::test_model().model,
            pipeline::ScoringPoolOptions{.threads = 1, .max_queue_wait = std::chrono::hours(1)});
    h.deps.scoring = &pool;
    h.add_call("call-1", kCcid, kToken);
    const auto speech = test::sample_speech();
    const auto media = pcmu_call(speech);
    FakeConnection connection;
    auto session = open_session(h, connection);
    send_all(*session, connection, whole_stream(media));

    ASSERT_EQ(connection.close_calls, 1);
    EXPECT_EQ(connection.close_reason, "stop");
    const auto expected = reference_scores(pcmu_decoded(speech));
    ASSERT_GE(expected.size(), 3u);
    ASSERT_EQ(h.sink.scores.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        // One stream has one window in flight at a time: batches of one, the inline numbers.
        EXPECT_DOUBLE_EQ(h.sink.scores[i].score.llr, expected[i].llr) << "window " << i;
    }
    ASSERT_EQ(h.sink.ended.size(), 1u);
    EXPECT_EQ(h.sink.ended[0].score.windows, static_cast<int>(expected.size()));
    EXPECT_DOUBLE_EQ(h.sink.ended[0].score.llr, expected.back().llr);
    h.sync();
    auto call = h.store().get_call("call-1");
    ASSERT_TRUE(call && *call);
    EXPECT_DOUBLE_EQ(*(*call)->final_llr, expected.back().llr);
    auto grant = h.directory.find(kCcid);
    ASSERT_TRUE(grant);
    EXPECT_EQ(grant->checkpoint.windows, static_cast<int>(expected.size()));
    EXPECT_EQ(pool.stats().windows, expected.size());

    // The timeline places each window where it ends in the audio, as the inline scorer does,
    // not where the pool's result was reported.
    Harness inline_run;
    inline_run.add_call("call-1", kCcid, kToken);
    FakeConnection inline_connection;
    auto inline_session = open_session(inline_run, inline_connection);
    send_all(*inline_session, inline_connection, whole_stream(media));
    inline_run.sync();
    auto pooled_timeline = h.store().list_timeline("call-1", -1, 1000);
    auto inline_timeline = inline_run.store().list_timeline("call-1", -1, 1000);
    ASSERT_TRUE(pooled_timeline && inline_timeline);
    ASSERT_EQ(pooled_timeline->size(), inline_timeline->size());
    for (std::size_t i = 0; i < pooled_timeline->size(); ++i) {
        EXPECT_EQ((*pooled_timeline)[i].at_ms, (*inline_timeline)[i].at_ms) << "point " << i;
    }
    EXPECT_EQ(h.metrics.window_seconds.total(), expected.size());
}

TEST(MediaSession, L16BigEndian16kHzIsDecodedToEightKilohertz) {
    Harness h;
    h.add_call("call-l16", kCcid, "");
    // 16 kHz speech-like audio: every 8 kHz sample twice (a crude but loud upsampling).
    const auto speech = dvd::test::speech_like_signal(5.0, 3);
    std::vector<std::string> frames{start_frame(kCcid, kStream, "L16", 16000)};
    std::uint64_t seq = 2;
    for (std::size_t pos = 0; pos + 160 <= speech.size(); pos += 160) {
        std::vector<std::uint8_t> payload;
        for (std::size_t i = 0; i < 160; ++i) {
            const auto v = static_cast<std::uint16_t>(test::to_pcm16(speech[pos + i]));
            for (int twice = 0; twice < 2; ++twice) {
                payload.push_back(static_cast<std::uint8_t>(v >> 8U));
                payload.push_back(static_cast<std::uint8_t>(v & 0xFFU));
            }
        }
        frames.push_back(media_frame(kStream, seq++, std::move(payload)));
    }
    frames.push_back(stop_frame(kCcid, kStream, seq));
    FakeConnection connection;
    auto session = open_session(h, connection);
    send_all(*session, connection, frames);
    EXPECT_EQ(*connection.close_code, net::CloseCode::Normal);
    EXPECT_EQ(h.sink.started.at(0).encoding, "L16");
    EXPECT_GE(h.sink.scores.size(), 2u);
    // 5 s at 16 kHz in, about 5 s at 8 kHz out (the resampler's tail is flushed at stop).
    const auto decoded = session->stream().samples_decoded();
    EXPECT_NEAR(static_cast<double>(decoded), 40'000.0, 200.0);
    h.sync();
    auto archived = h.archive.read("call-l16");
    ASSERT_TRUE(archived);
    EXPECT_EQ(static_cast<std::int64_t>(archived->size()), decoded);
}

TEST(MediaSession, ReorderingWithinTheJitterWindowChangesNothing) {
    const auto speech = test::sample_speech();
    auto in_order = pcmu_call(speech);
    auto shuffled = in_order;
    for (std::size_t i = 0; i + 3 < shuffled.size(); i += 4) {
        std::swap(shuffled[i], shuffled[i + 2]);  // 2 ahead: within the 5-frame window
        std::swap(shuffled[i + 1], shuffled[i + 3]);
    }
    std::vector<double> llrs[2];
    int run = 0;
    for (const auto* media : {&in_order, &shuffled}) {
        Harness h;
        h.add_call("call-r", kCcid, "");
        std::vector<std::string> frames{start_frame(kCcid, kStream)};
        frames.insert(frames.end(), media->begin(), media->end());
        frames.push_back(stop_frame(kCcid, kStream, media->size() + 2));
        FakeConnection connection;
        auto session = open_session(h, connection);
        send_all(*session, connection, frames);
        for (const auto& s : h.sink.scores) {
            llrs[run].push_back(s.score.llr);
        }
        EXPECT_EQ(h.metrics.media_frames_lost.value(), 0u);
        EXPECT_EQ(h.metrics.media_frames_late.value(), 0u);
        ++run;
    }
    ASSERT_FALSE(llrs[0].empty());
    EXPECT_EQ(llrs[0], llrs[1]);
}

TEST(MediaSession, LostAndLateFramesAreCountedAndConcealed) {
    Harness h;
    h.add_call("call-loss", kCcid, "");
    const auto speech = test::sample_speech();
    auto media = pcmu_call(speech);
    // Drop frame 10, and deliver frame 20 ten frames late (after its slot was given up).
    const std::string late = media[20];
    media.erase(media.begin() + 20);
    media.erase(media.begin() + 10);
    media.insert(media.begin() + 30, late);
    std::vector<std::string> frames{start_frame(kCcid, kStream)};
    frames.insert(frames.end(), media.begin(), media.end());
    frames.push_back(stop_frame(kCcid, kStream, 10'000));
    FakeConnection connection;
    auto session = open_session(h, connection);
    send_all(*session, connection, frames);
    EXPECT_EQ(*connection.close_code, net::CloseCode::Normal);
    EXPECT_EQ(h.metrics.media_frames_lost.value(), 2u);
    EXPECT_EQ(h.metrics.media_frames_late.value(), 1u);
    // Concealment keeps the timeline length: every frame slot gives 160 samples.
    EXPECT_EQ(session->stream().samples_decoded(),
              static_cast<std::int64_t>(test::pcmu_frames(speech).size() * 160));
}

TEST(MediaSession, OutboundTrackIsCountedAndIgnored) {
    const auto speech = test::sample_speech();
    const auto payloads = test::pcmu_frames(speech);
    std::vector<double> llrs[2];
    for (int with_outbound = 0; with_outbound < 2; ++with_outbound) {
        Harness h;
        h.add_call("call-o", kCcid, "");
        std::vector<std::string> frames{start_frame(kCcid, kStream)};
        std::uint64_t seq = 2;
        for (const auto& p : payloads) {
            frames.push_back(media_frame(kStream, seq++, p));
            if (with_outbound == 1) {
                std::vector<std::uint8_t> noise(160, 0x15);
                frames.push_back(
                        media_frame(kStream, seq++, noise, protocol::MediaTrack::Outbound));
            }
        }
        frames.push_back(stop_frame(kCcid, kStream, seq));
        FakeConnection connection;
        auto session = open_session(h, connection);
        send_all(*session, connection, frames);
        EXPECT_EQ(h.metrics.media_frames_outbound.value(),
                  with_outbound == 1 ? payloads.size() : 0u);
        EXPECT_EQ(h.metrics.media_frames_lost.value(), 0u);
        for (const auto& s : h.sink.scores) {
            llrs[with_outbound].push_back(s.score.llr);
        }
    }
    ASSERT_FALSE(llrs[0].empty());
    EXPECT_EQ(llrs[0], llrs[1]);
}

TEST(MediaSession, UnknownCallIsRefusedWith1008) {
    Harness h;
    FakeConnection connection;
    auto session = open_session(h, connection);
    send_all(*session, connection, {connected_frame(), start_frame("v3:nobody", kStream)});
    EXPECT_EQ(*connection.close_code, net::CloseCode::PolicyViolation);
    EXPECT_EQ(connection.close_reason, "unknown call");
    EXPECT_EQ(h.metrics.media_streams_rejected.value(), 1u);
    EXPECT_TRUE(h.sink.started.empty());
    EXPECT_TRUE(h.sink.ended.empty());
}

TEST(MediaSession, WrongOrMissingTokenIsRefusedWith1008) {
    for (const std::optional<std::string>& token :
         {std::optional<std::string>("not-the-secret"), std::optional<std::string>()}) {
        Harness h;
        h.add_call("call-t", kCcid, kToken);
        FakeConnection connection;
        auto session = open_session(h, connection);
        send_all(*session, connection, {connected_frame(token), start_frame(kCcid, kStream)});
        EXPECT_EQ(*connection.close_code, net::CloseCode::PolicyViolation);
        EXPECT_EQ(connection.close_reason, "bad stream token");
        EXPECT_EQ(h.metrics.media_streams_rejected.value(), 1u);
        EXPECT_TRUE(h.sink.started.empty());
    }
}

TEST(MediaSession, TokenFromTheUpgradeHeaderIsAccepted) {
    Harness h;
    h.add_call("call-h", kCcid, kToken);
    FakeConnection connection;
    auto session = open_session(h, connection, kToken);
    send_all(*session, connection, {connected_frame(), start_frame(kCcid, kStream)});
    EXPECT_EQ(connection.close_calls, 0);
    EXPECT_EQ(h.sink.started.size(), 1u);
    EXPECT_TRUE(session->stream().started());
}

TEST(MediaSession, AcceptorReadsTheTokenHeader) {
    Harness h;
    h.add_call("call-a", kCcid, kToken);
    net::Request upgrade;
    upgrade.path = "/media";
    upgrade.headers = {{"x-telnyx-streaming-auth-token", kToken}};
    auto accepted = accept_media_session(h.deps, upgrade);
    auto* handler = std::get_if<std::unique_ptr<net::WsHandler>>(&accepted);
    ASSERT_NE(handler, nullptr);
    FakeConnection connection;
    (*handler)->on_text(connection, start_frame(kCcid, kStream));
    EXPECT_EQ(connection.close_calls, 0);
    EXPECT_EQ(h.sink.started.size(), 1u);
}

struct BadInput {
    const char* name;
    std::string frame;
    net::CloseCode code;
    const char* reason_prefix;
    bool after_start;
};

TEST(MediaSession, BadInputClosesOnlyThatStreamWithAReason) {
    const std::string bad_base64 =
            R"({"event":"media","sequence_number":"2","stream_id":"stream-1",)"
            R"("media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"@@@="}})";
    const std::vector<BadInput> cases{
            {"garbage json", "{not json", net::CloseCode::InvalidPayload, "malformed frame", true},
            {"missing field", R"({"event":"media","stream_id":"s"})",
             net::CloseCode::InvalidPayload, "malformed frame", true},
            {"bad base64", bad_base64, net::CloseCode::InvalidPayload, "bad base64", true},
            {"media before start", media_frame(kStream, 2, std::vector<std::uint8_t>(160, 0xFF)),
             net::CloseCode::PolicyViolation, "media frame before start", false},
            {"odd L16 payload", "", net::CloseCode::InvalidPayload, "undecodable payload", true},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Harness h;
        h.add_call("call-bad", kCcid, "");
        h.add_call("call-good", "v3:good", "");
        FakeConnection bad_connection;
        FakeConnection good_connection;
        auto bad = open_session(h, bad_connection);
        auto good = open_session(h, good_connection);
        const bool l16 = std::string(c.name) == "odd L16 payload";
        good->on_text(good_connection, start_frame("v3:good", "stream-good"));
        if (c.after_start) {
            bad->on_text(bad_connection, l16 ? start_frame(kCcid, kStream, "L16", 16000)
                                             : start_frame(kCcid, kStream));
        }
        const std::string frame =
                l16 ? media_frame(kStream, 2, std::vector<std::uint8_t>(161, 0)) : c.frame;
        send_all(*bad, bad_connection, {frame});
        ASSERT_EQ(bad_connection.close_calls, 1);
        EXPECT_EQ(*bad_connection.close_code, c.code);
        EXPECT_EQ(bad_connection.close_reason.rfind(c.reason_prefix, 0), 0u)
                << bad_connection.close_reason;
        EXPECT_EQ(h.metrics.media_streams_errored.value(), 1u);
        if (c.after_start) {
            ASSERT_EQ(h.sink.ended.size(), 1u);
            EXPECT_TRUE(h.sink.ended[0].error);
            EXPECT_FALSE(h.sink.ended[0].lost) << "refused by us: not started again";
            EXPECT_EQ(h.sink.ended[0].call_id, "call-bad");
        }
        // The other stream goes on and ends normally.
        std::uint64_t seq = 2;
        for (auto& p : test::pcmu_frames(test::sample_speech())) {
            good->on_text(good_connection, media_frame("stream-good", seq++, std::move(p)));
        }
        good->on_text(good_connection, stop_frame("v3:good", "stream-good", seq));
        EXPECT_EQ(*good_connection.close_code, net::CloseCode::Normal);
        EXPECT_GE(h.sink.scores.size(), 3u);
        EXPECT_EQ(h.sink.scores.back().call_id, "call-good");
    }
}

TEST(MediaSession, OversizedFrameClosesWith1009) {
    Harness h;
    h.deps.limits.max_message_bytes = 1024;
    h.add_call("call-big", kCcid, "");
    FakeConnection connection;
    auto session = open_session(h, connection);
    send_all(*session, connection,
             {start_frame(kCcid, kStream),
              media_frame(kStream, 2, std::vector<std::uint8_t>(2000, 1))});
    EXPECT_EQ(*connection.close_code, net::CloseCode::MessageTooBig);
    EXPECT_EQ(h.sink.ended.size(), 1u);
}

TEST(MediaSession, BinaryFrameClosesWith1003) {
    Harness h;
    FakeConnection connection;
    auto session = open_session(h, connection);
    const std::byte bytes[3]{};
    session->on_binary(connection, bytes);
    EXPECT_EQ(*connection.close_code, net::CloseCode::UnsupportedData);
}

TEST(MediaSession, UnsupportedEncodingClosesWith1003) {
    Harness h;
    h.add_call("call-amr", kCcid, "");
    FakeConnection connection;
    auto session = open_session(h, connection);
    send_all(*session, connection, {start_frame(kCcid, kStream, "AMR-WB", 16000)});
    EXPECT_EQ(*connection.close_code, net::CloseCode::UnsupportedData);
    EXPECT_TRUE(h.sink.started.empty());
}

TEST(MediaSession, UnknownEventsDtmfMarkAndErrorFramesDoNotCloseTheStream) {
    Harness h;
    h.add_call("call-e", kCcid, "");
    FakeConnection connection;
    auto session = open_session(h, connection);
    send_all(
            *session, connection,
            {start_frame(kCcid, kStream), R"({"event":"something_new","stream_id":"stream-1"})",
             R"({"event":"dtmf","stream_id":"stream-1","sequence_number":"2","occurred_at":"2026-01-01T00:00:00Z","dtmf":{"digit":"5"}})",
             R"({"event":"mark","stream_id":"stream-1","sequence_number":"3","mark":{"name":"m"}})",
             R"({"event":"error","stream_id":"stream-1","payload":{"code":100003,"title":"malformed_frame","detail":"x"}})",
             media_frame(kStream, 4, std::vector<std::uint8_t>(160, 0xFF))});
    EXPECT_EQ(connection.close_calls, 0);
    EXPECT_EQ(h.metrics.media_frames_lost.value(), 0u);  // dtmf/mark numbers are not gaps
}

TEST(MediaSession, PeerLeavingWithoutStopEndsTheStreamAsAnError) {
    Harness h;
    h.add_call("call-p", kCcid, "");
    FakeConnection connection;
    auto session = open_session(h, connection);
    session->on_text(connection, start_frame(kCcid, kStream));
    session->on_close(net::WsCloseInfo{1006, "", true});
    ASSERT_EQ(h.sink.ended.size(), 1u);
    EXPECT_TRUE(h.sink.ended[0].error);
    EXPECT_TRUE(h.sink.ended[0].lost);
    EXPECT_EQ(h.sink.ended[0].reason, "peer closed (1006)");
    EXPECT_EQ(h.metrics.media_streams_active.value(), 0);
}

// Which ends without a `stop` count as lost (the call logic then starts a new stream): the peer
// closing or vanishing, and our idle timeout; not our shutdown or our refusal of bad frames.
TEST(MediaSession, AStreamIsLostOnlyWhenTheConnectionWentAwayWithoutUs) {
    struct Case {
        net::WsCloseInfo close;
        bool lost;
    };

    const std::vector<Case> cases{
            {{1006, "", true}, true},                        // the connection vanished
            {{1000, "bye", true}, true},                     // closed without a stop frame
            {{1006, "idle timeout", false, true}, true},     // nothing heard: our idle timeout
            {{1001, "server shutting down", false}, false},  // our shutdown
            {{1009, "message too big", false}, false},       // our refusal
            {{1006, "write failed", false, false}, false},   // our own failure, not a timeout
    };
    for (const Case& c : cases) {
        Harness h;
        h.add_call("call-l", kCcid, "");
        FakeConnection connection;
        auto session = open_session(h, connection);
        session->on_text(connection, start_frame(kCcid, kStream));
        session->on_close(c.close);
        ASSERT_EQ(h.sink.ended.size(), 1u);
        EXPECT_EQ(h.sink.ended[0].lost, c.lost) << c.close.code << " " << c.close.reason;
    }
}

TEST(MediaSession, ResumeContinuesTheTimelineAndTheEvidence) {
    Harness h;
    h.add_call("call-resume", kCcid, "");
    const auto speech = test::sample_speech();
    const auto media = pcmu_call(speech);
    const std::size_t half = media.size() / 2;
    {
        FakeConnection connection;
        auto session = open_session(h, connection);
        std::vector<std::string> frames{start_frame(kCcid, kStream)};
        frames.insert(frames.end(), media.begin(),
                      media.begin() + static_cast<std::ptrdiff_t>(half));
        send_all(*session, connection, frames);
        session->on_close(net::WsCloseInfo{1006, "", true});  // the stream dropped
    }
    const std::size_t first_windows = h.sink.scores.size();
    ASSERT_GE(first_windows, 1u);
    const auto grant = h.directory.find(kCcid);
    ASSERT_TRUE(grant);
    EXPECT_EQ(grant->next_seq, static_cast<std::int64_t>(first_windows));
    {
        FakeConnection connection;
        auto session = open_session(h, connection);
        std::vector<std::string> frames{start_frame(kCcid, "stream-2")};
        const auto payloads = test::pcmu_frames(speech);
        for (std::size_t i = half; i < media.size(); ++i) {
            frames.push_back(media_frame("stream-2", i - half + 2, payloads[i]));
        }
        frames.push_back(stop_frame(kCcid, "stream-2", 100'000));
        send_all(*session, connection, frames);
        EXPECT_EQ(*connection.close_code, net::CloseCode::Normal);
    }
    ASSERT_GT(h.sink.scores.size(), first_windows);
    // Windows go on counting from the checkpoint, positions from the audio offset.
    EXPECT_EQ(h.sink.scores[first_windows].score.windows, static_cast<int>(first_windows) + 1);
    EXPECT_GT(h.sink.scores[first_windows].at_ms, h.sink.scores[first_windows - 1].at_ms);
    h.sync();
    auto timeline = h.store().list_timeline("call-resume", -1, 1000);
    ASSERT_TRUE(timeline);
    ASSERT_EQ(timeline->size(), h.sink.scores.size());
    for (std::size_t i = 0; i < timeline->size(); ++i) {
        EXPECT_EQ((*timeline)[i].seq, static_cast<std::int64_t>(i));
    }
    // The archive holds both streams' audio, one after the other.
    auto archived = h.archive.read("call-resume");
    ASSERT_TRUE(archived);
    EXPECT_EQ(archived->size(), test::pcmu_frames(speech).size() * 160);
}

TEST(MediaSession, CrossingTheThresholdIsReportedOnce) {
    pipeline::ScorerOptions options;
    options.threshold = 1e-9;  // every window is "synthetic" at this threshold
    Harness h(options);
    h.add_call("call-x", kCcid, "");
    FakeConnection connection;
    auto session = open_session(h, connection);
    std::vector<std::string> frames{start_frame(kCcid, kStream)};
    const auto media = pcmu_call(test::sample_speech());
    frames.insert(frames.end(), media.begin(), media.end());
    frames.push_back(stop_frame(kCcid, kStream, media.size() + 2));
    send_all(*session, connection, frames);
    ASSERT_GE(h.sink.scores.size(), 2u);
    EXPECT_TRUE(h.sink.scores[0].crossed_threshold);
    for (std::size_t i = 1; i < h.sink.scores.size(); ++i) {
        EXPECT_FALSE(h.sink.scores[i].crossed_threshold);
    }
    h.sync();
    auto call = h.store().get_call("call-x");
    ASSERT_TRUE(call && *call);
    EXPECT_TRUE((*call)->flagged);
}

}  // namespace
}  // namespace dvd::media
