#include "sim/media_streamer.hpp"

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "protocol/media_message.hpp"
#include "sim/ws_stream_transport.hpp"

namespace dvd::sim {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Records what is sent and the deadlines asked for, never sleeps. Scripted: after `stop_after`
/// waits `raise` is signalled, after `close_after` waits the peer closes, and `inject` maps a
/// wait index to messages the service "sent" during that wait.
class FakeTransport final : public StreamTransport {
public:
    base::Result<void> send_text(std::string_view message) override {
        sent.emplace_back(message);
        return {};
    }

    WaitOutcome wait_until(Clock::time_point deadline, const std::atomic<StreamSignal>& signal,
                           std::vector<std::string>& received) override {
        const std::size_t index = deadlines.size();
        deadlines.push_back(deadline - t0);
        if (const auto it = inject.find(index); it != inject.end()) {
            received.insert(received.end(), it->second.begin(), it->second.end());
        }
        if (close_after && index >= *close_after) {
            return WaitOutcome::PeerClosed;
        }
        if (stop_after && index >= *stop_after) {
            signal_flag->store(raise);
        }
        return signal.load() != StreamSignal::Run ? WaitOutcome::Stopped : WaitOutcome::Deadline;
    }

    void close(std::uint16_t code, std::string_view reason) override {
        closed_with = code;
        static_cast<void>(reason);
    }

    void drop() override { dropped = true; }

    std::optional<PeerClose> peer_close() const override {
        return close_after ? std::optional<PeerClose>(PeerClose{1008, "bad stream token"})
                           : std::nullopt;
    }

    Clock::time_point now() const override { return t0; }

    std::vector<std::string> events() const {
        std::vector<std::string> out;
        for (const std::string& text : sent) {
            const auto parsed = protocol::parse_inbound_message(text);
            EXPECT_TRUE(parsed.has_value()) << text;
            out.push_back(std::visit(
                    [](const auto& m) -> std::string {
                        using T = std::decay_t<decltype(m)>;
                        if constexpr (std::is_same_v<T, protocol::ConnectedMessage>) {
                            return "connected";
                        } else if constexpr (std::is_same_v<T, protocol::StartMessage>) {
                            return "start";
                        } else if constexpr (std::is_same_v<T, protocol::MediaMessage>) {
                            return m.track == protocol::MediaTrack::Inbound ? "in" : "out";
                        } else if constexpr (std::is_same_v<T, protocol::StopMessage>) {
                            return "stop";
                        } else if constexpr (std::is_same_v<T, protocol::MarkMessage>) {
                            return "mark:" + m.name;
                        } else {
                            return "other";
                        }
                    },
                    *parsed));
        }
        return out;
    }

    Clock::time_point t0 = Clock::time_point{} + 1000h;
    std::vector<std::string> sent;
    std::vector<Clock::duration> deadlines;
    std::optional<std::size_t> stop_after;
    std::optional<std::size_t> close_after;
    std::map<std::size_t, std::vector<std::string>> inject;
    StreamSignal raise = StreamSignal::Stop;
    std::atomic<StreamSignal>* signal_flag = nullptr;
    std::optional<std::uint16_t> closed_with;
    bool dropped = false;
};

class MediaStreamerTest : public ::testing::Test {
protected:
    MediaStreamerTest() : writer_(identity()) { transport_.signal_flag = &stop_; }

    static StreamIdentity identity() {
        StreamIdentity id;
        id.stream_id = "stream-1";
        id.call_control_id = "v3:abc";
        id.encoding = choose_encoding("PCMU");
        return id;
    }

    static std::vector<std::vector<std::uint8_t>> payloads(std::size_t n) {
        std::vector<std::vector<std::uint8_t>> out;
        for (std::size_t i = 0; i < n; ++i) {
            out.emplace_back(160, static_cast<std::uint8_t>(i));
        }
        return out;
    }

    FakeTransport transport_;
    FrameWriter writer_;
    std::atomic<StreamSignal> stop_{StreamSignal::Run};
};

TEST_F(MediaStreamerTest, PacesFramesAtTwentyMillisecondsDividedBySpeed) {
    for (const double speed : {1.0, 4.0, 0.5}) {
        FakeTransport transport;
        FrameWriter writer(identity());
        const auto report = run_media_stream(transport, writer, payloads(10), {}, speed, stop_);
        EXPECT_EQ(report.end, StreamEnd::AudioDone);
        EXPECT_EQ(report.inbound_frames_sent, 10U);
        // One deadline per frame plus the end of the last frame, each index x 20 ms / speed.
        ASSERT_EQ(transport.deadlines.size(), 11U);
        for (std::size_t i = 0; i < transport.deadlines.size(); ++i) {
            EXPECT_EQ(transport.deadlines[i],
                      std::chrono::duration_cast<Clock::duration>(frame_offset(i, speed)))
                    << "frame " << i << " speed " << speed;
        }
        EXPECT_EQ(transport.deadlines[10],
                  std::chrono::duration_cast<Clock::duration>(200ms / speed));
        EXPECT_EQ(transport.closed_with, 1000);
    }
}

TEST_F(MediaStreamerTest, SendsConnectedStartMediaStopInOrder) {
    const auto report = run_media_stream(transport_, writer_, payloads(3), {}, 1.0, stop_);
    EXPECT_EQ(report.end, StreamEnd::AudioDone);
    EXPECT_EQ(transport_.events(),
              (std::vector<std::string>{"connected", "start", "in", "in", "in", "stop"}));
    // The payloads go out in order.
    for (std::uint8_t i = 0; i < 3; ++i) {
        const auto media = std::get<protocol::MediaMessage>(
                protocol::parse_inbound_message(transport_.sent[2 + i]).value());
        EXPECT_EQ(media.payload[0], i);
    }
}

TEST_F(MediaStreamerTest, BothTracksInterleaveSilenceOnTheOutboundTrack) {
    const auto report = run_media_stream(transport_, writer_, payloads(2),
                                         TrackSelection{true, true}, 1.0, stop_);
    EXPECT_EQ(report.inbound_frames_sent, 2U);
    EXPECT_EQ(report.outbound_frames_sent, 2U);
    EXPECT_EQ(transport_.events(),
              (std::vector<std::string>{"connected", "start", "in", "out", "in", "out", "stop"}));
}

TEST_F(MediaStreamerTest, StopFlagEndsWithStopFrameAndNormalClose) {
    transport_.stop_after = 3;
    const auto report = run_media_stream(transport_, writer_, payloads(10), {}, 1.0, stop_);
    EXPECT_EQ(report.end, StreamEnd::Stopped);
    EXPECT_EQ(report.inbound_frames_sent, 3U);
    EXPECT_EQ(transport_.events().back(), "stop");
    EXPECT_EQ(transport_.closed_with, 1000);
}

TEST_F(MediaStreamerTest, DropCutsTheConnectionWithNeitherStopNorClose) {
    transport_.stop_after = 3;
    transport_.raise = StreamSignal::Drop;
    const auto report = run_media_stream(transport_, writer_, payloads(10), {}, 1.0, stop_);
    EXPECT_EQ(report.end, StreamEnd::Dropped);
    EXPECT_EQ(to_string(report.end), "dropped");
    EXPECT_EQ(report.inbound_frames_sent, 3U);
    EXPECT_TRUE(transport_.dropped);
    EXPECT_EQ(transport_.events().back(), "in");
    EXPECT_FALSE(transport_.closed_with.has_value());
}

TEST_F(MediaStreamerTest, ServiceCloseEndsTheStreamWithoutStop) {
    transport_.close_after = 2;
    const auto report = run_media_stream(transport_, writer_, payloads(10), {}, 1.0, stop_);
    EXPECT_EQ(report.end, StreamEnd::ClosedByPeer);
    EXPECT_EQ(report.inbound_frames_sent, 2U);
    ASSERT_TRUE(report.peer_close.has_value());
    EXPECT_EQ(report.peer_close->code, 1008);
    EXPECT_EQ(report.peer_close->reason, "bad stream token");
    EXPECT_EQ(transport_.events().back(), "in");
    EXPECT_FALSE(transport_.closed_with.has_value());
}

TEST_F(MediaStreamerTest, EchoesMarksAndCountsServiceFrames) {
    transport_.inject[1] = {protocol::serialize_mark("m1"), protocol::serialize_clear(), "garbage"};
    const auto report = run_media_stream(transport_, writer_, payloads(3), {}, 1.0, stop_);
    EXPECT_EQ(report.marks_echoed, 1U);
    EXPECT_EQ(report.messages_received, 2U);
    EXPECT_EQ(report.bad_messages, 1U);
    EXPECT_EQ(transport_.events(), (std::vector<std::string>{"connected", "start", "in", "mark:m1",
                                                             "in", "in", "stop"}));
}

TEST_F(MediaStreamerTest, EmptyAudioStillStartsAndStops) {
    const auto report = run_media_stream(transport_, writer_, {}, {}, 1.0, stop_);
    EXPECT_EQ(report.end, StreamEnd::AudioDone);
    EXPECT_EQ(transport_.events(), (std::vector<std::string>{"connected", "start", "stop"}));
}

// The real transport polls its socket in these slices. A wait with under a millisecond left
// must still block (a 0 ms poll returns at once): rounded down, the last millisecond before
// every frame was a busy loop, and 100 streams of it took more than a core.
TEST(PollSlice, RoundsUpToWholeMillisecondsAndNeverExceedsTenMilliseconds) {
    EXPECT_EQ(poll_slice(1us), 1ms);
    EXPECT_EQ(poll_slice(400us), 1ms);
    EXPECT_EQ(poll_slice(999us), 1ms);
    EXPECT_EQ(poll_slice(1ms), 1ms);
    EXPECT_EQ(poll_slice(2300us), 3ms);
    EXPECT_EQ(poll_slice(10ms), 10ms);
    EXPECT_EQ(poll_slice(25ms), 10ms);
    EXPECT_EQ(poll_slice(0us), 0ms);
    EXPECT_EQ(poll_slice(-5ms), 0ms);
}

}  // namespace
}  // namespace dvd::sim
