#include "sim/media_streamer.hpp"

#include <variant>

#include <fmt/format.h>

#include "protocol/media_message.hpp"

namespace dvd::sim {

std::string_view to_string(StreamEnd end) noexcept {
    switch (end) {
        case StreamEnd::AudioDone:
            return "audio_done";
        case StreamEnd::Stopped:
            return "stopped";
        case StreamEnd::Dropped:
            return "dropped";
        case StreamEnd::ClosedByPeer:
            return "closed_by_service";
        case StreamEnd::Failed:
            return "failed";
    }
    return "";
}

StreamReport run_media_stream(StreamTransport& transport, FrameWriter& writer,
                              const std::vector<std::vector<std::uint8_t>>& payloads,
                              TrackSelection tracks, double speed,
                              const std::atomic<StreamSignal>& signal) {
    StreamReport report;
    // A failed send ends the stream: closed by the service when it sent a close, else failed.
    const auto send = [&](const std::string& frame, std::string_view what) {
        auto sent = transport.send_text(frame);
        if (sent) {
            return true;
        }
        if (auto closed = transport.peer_close()) {
            report.end = StreamEnd::ClosedByPeer;
            report.peer_close = std::move(closed);
        } else {
            report.end = StreamEnd::Failed;
            report.error = fmt::format("send {}: {}", what, sent.error().message);
        }
        return false;
    };
    if (!send(writer.connected(), "connected") || !send(writer.start(), "start")) {
        return report;
    }
    const std::vector<std::uint8_t> silence = silence_payload(writer.identity().encoding.encoding);
    std::vector<std::string> received;
    const auto t0 = transport.now();
    // One extra wait after the last frame: the stream ends when its last 20 ms have played.
    for (std::size_t i = 0; i <= payloads.size(); ++i) {
        const WaitOutcome waited = transport.wait_until(
                t0
                        + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                frame_offset(i, speed)),
                signal, received);
        for (const std::string& text : received) {
            auto message = protocol::parse_outbound_message(text);
            if (!message) {
                ++report.bad_messages;
                continue;
            }
            ++report.messages_received;
            if (const auto* mark = std::get_if<protocol::OutboundMark>(&*message)) {
                if (!send(writer.mark(mark->name), "mark")) {
                    return report;
                }
                ++report.marks_echoed;
            }
        }
        received.clear();
        if (waited == WaitOutcome::PeerClosed) {
            report.end = StreamEnd::ClosedByPeer;
            report.peer_close = transport.peer_close();
            return report;
        }
        if (waited == WaitOutcome::Failed) {
            report.end = StreamEnd::Failed;
            report.error = "connection failed";
            return report;
        }
        if (waited == WaitOutcome::Stopped) {
            if (signal.load() == StreamSignal::Drop) {
                transport.drop();
                report.end = StreamEnd::Dropped;
                return report;
            }
            report.end = StreamEnd::Stopped;
            break;
        }
        if (i == payloads.size()) {
            break;
        }
        if (tracks.inbound) {
            if (!send(writer.media(protocol::MediaTrack::Inbound, payloads[i]), "media")) {
                return report;
            }
            ++report.inbound_frames_sent;
        }
        if (tracks.outbound) {
            if (!send(writer.media(protocol::MediaTrack::Outbound, silence), "media")) {
                return report;
            }
            ++report.outbound_frames_sent;
        }
    }
    if (!send(writer.stop(), "stop")) {
        return report;
    }
    transport.close(1000, "stream ended");
    return report;
}

}  // namespace dvd::sim
