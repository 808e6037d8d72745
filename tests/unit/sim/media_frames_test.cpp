#include "sim/media_frames.hpp"

#include <cmath>
#include <cstdint>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "codec/media_decoder.hpp"
#include "dsp/g711.hpp"
#include "protocol/media_message.hpp"
#include "support/test_paths.hpp"

namespace dvd::sim {
namespace {

using namespace std::chrono_literals;

StreamIdentity identity(EncodingChoice encoding) {
    StreamIdentity id;
    id.stream_id = "7b6e1c1e-2f5a-4a4b-9d55-0f7b1f1c0d11";
    id.call_control_id = "v3:abc";
    id.call_session_id = "6c5b4a3f-2e1d-4c0b-9a8f-7e6d5c4b3a29";
    id.user_id = "1f0e2d3c-4b5a-4697-8877-665544332211";
    id.from = "+13125550100";
    id.to = "+13125550199";
    id.client_state = "c3RhdGU=";
    id.custom_parameters = {{"call_ref", "abc"}};
    id.auth_token = "secret-token";
    id.encoding = std::move(encoding);
    return id;
}

template <class T>
T parse_as(const std::string& frame) {
    auto parsed = protocol::parse_inbound_message(frame);
    EXPECT_TRUE(parsed.has_value()) << frame;
    const T* value = parsed ? std::get_if<T>(&*parsed) : nullptr;
    EXPECT_NE(value, nullptr) << frame;
    return value ? *value : T{};
}

// Sends every payload through FrameWriter -> JSON -> parse -> MediaDecoder, as the service will.
std::vector<float> round_trip(const std::vector<std::vector<std::uint8_t>>& payloads,
                              const EncodingChoice& encoding) {
    FrameWriter writer(identity(encoding));
    auto decoder = codec::MediaDecoder::create(encoding.name, encoding.sample_rate_hz).value();
    std::vector<float> out;
    for (const auto& payload : payloads) {
        const auto media = parse_as<protocol::MediaMessage>(
                writer.media(protocol::MediaTrack::Inbound, payload));
        EXPECT_TRUE(decoder.decode(media.payload, out).has_value());
    }
    decoder.flush(out);
    return out;
}

TEST(ChooseEncoding, MapsStreamCodecToWhatTheSimulatorSends) {
    EXPECT_EQ(choose_encoding("default").name, "PCMU");
    EXPECT_EQ(choose_encoding("").name, "PCMU");
    EXPECT_EQ(choose_encoding("PCMU").encoding, StreamEncoding::Pcmu);
    EXPECT_EQ(choose_encoding("PCMA").encoding, StreamEncoding::Pcma);
    const auto l16 = choose_encoding("L16");
    EXPECT_EQ(l16.encoding, StreamEncoding::L16);
    EXPECT_EQ(l16.sample_rate_hz, 16000);
    EXPECT_TRUE(l16.note.empty());
    const auto g722 = choose_encoding("G722");
    EXPECT_EQ(g722.encoding, StreamEncoding::Pcmu);  // "transcoding not possible": call codec
    EXPECT_FALSE(g722.note.empty());
}

TEST(EncodePayloads, TwentyMillisecondFramesWithTheLastPadded) {
    const std::vector<float> samples(8000 + 80, 0.25F);  // 1.01 s
    const auto pcmu = encode_payloads(samples, StreamEncoding::Pcmu).value();
    ASSERT_EQ(pcmu.size(), 51U);
    for (const auto& p : pcmu) {
        EXPECT_EQ(p.size(), 160U);
    }
    EXPECT_EQ(pcmu.back()[79], dsp::linear_to_mulaw(8192));
    EXPECT_EQ(pcmu.back()[80], dsp::linear_to_mulaw(0));  // padding is silence
    const auto l16 = encode_payloads(samples, StreamEncoding::L16).value();
    ASSERT_EQ(l16.size(), 51U);
    EXPECT_EQ(l16[0].size(), 640U);
    EXPECT_EQ(frame_bytes(StreamEncoding::L16), 640U);
    EXPECT_EQ(silence_payload(StreamEncoding::Pcma).size(), 160U);
    EXPECT_TRUE(encode_payloads({}, StreamEncoding::Pcmu).value().empty());
}

TEST(EncodePayloads, PcmuRoundTripsWithinG711Error) {
    const auto signal = test::speech_like_signal(2.0, 7);
    const auto decoded = round_trip(encode_payloads(signal, StreamEncoding::Pcmu).value(),
                                    choose_encoding("PCMU"));
    ASSERT_EQ(decoded.size(), signal.size());  // 2 s is exactly 100 frames
    for (std::size_t i = 0; i < signal.size(); ++i) {
        const auto pcm = static_cast<std::int16_t>(std::lround(signal[i] * 32768.0F));
        // Exactly what the reference codec gives ...
        EXPECT_FLOAT_EQ(
                decoded[i],
                static_cast<float>(dsp::mulaw_to_linear(dsp::linear_to_mulaw(pcm))) / 32768.0F);
        // ... which is within mu-law's quantisation error: at most 1/16 of the value + 1 step.
        ASSERT_LE(std::fabs(decoded[i] - signal[i]),
                  std::fabs(signal[i]) / 16.0F + 40.0F / 32768.0F)
                << "sample " << i;
    }
}

TEST(EncodePayloads, PcmaRoundTripsWithinG711Error) {
    const auto signal = test::speech_like_signal(1.0, 8);
    const auto decoded = round_trip(encode_payloads(signal, StreamEncoding::Pcma).value(),
                                    choose_encoding("PCMA"));
    ASSERT_EQ(decoded.size(), signal.size());
    for (std::size_t i = 0; i < signal.size(); ++i) {
        ASSERT_LE(std::fabs(decoded[i] - signal[i]),
                  std::fabs(signal[i]) / 16.0F + 40.0F / 32768.0F)
                << "sample " << i;
    }
}

TEST(EncodePayloads, L16IsBigEndianAt16kHzAndRoundTrips) {
    const std::vector<float> dc(160, 0.5F);
    const auto payload = encode_payloads(dc, StreamEncoding::L16).value();
    ASSERT_EQ(payload.size(), 1U);
    // Mid-frame the 8 -> 16 kHz resampler has settled near the DC value 0.5 = 0x4000, sent
    // big-endian (most significant byte first).
    const int mid = static_cast<std::int16_t>((payload[0][320] << 8U) | payload[0][321]);
    EXPECT_NEAR(mid, 16384, 64);

    const auto signal = test::speech_like_signal(2.0, 9);
    const auto decoded = round_trip(encode_payloads(signal, StreamEncoding::L16).value(),
                                    choose_encoding("L16"));
    ASSERT_GE(decoded.size(), signal.size() - 8);
    double error = 0.0;
    double energy = 0.0;
    for (std::size_t i = 400; i < signal.size() - 400; ++i) {
        error += std::pow(static_cast<double>(decoded[i] - signal[i]), 2.0);
        energy += std::pow(static_cast<double>(signal[i]), 2.0);
    }
    EXPECT_LT(std::sqrt(error / energy), 0.01);  // 8 -> 16 -> 8 kHz of band-limited speech
}

TEST(FrameOffset, IsTwentyMillisecondsPerFrameDividedBySpeed) {
    EXPECT_EQ(frame_offset(0, 1.0), 0ns);
    EXPECT_EQ(frame_offset(1, 1.0), 20ms);
    EXPECT_EQ(frame_offset(50, 1.0), 1s);
    EXPECT_EQ(frame_offset(3, 2.0), 30ms);
    EXPECT_EQ(frame_offset(3, 0.5), 120ms);
    EXPECT_EQ(frame_offset(1, 3.0), std::chrono::nanoseconds(6'666'667));
    // Deadlines come from the index, so rounding never accumulates.
    EXPECT_EQ(frame_offset(3000, 3.0), 20s);
}

TEST(FrameWriter, WritesTelnyxFramesThatParse) {
    FrameWriter writer(identity(choose_encoding("PCMU")));
    const auto connected = parse_as<protocol::ConnectedMessage>(writer.connected());
    EXPECT_EQ(connected.version, "1.0.0");
    EXPECT_EQ(connected.auth_token, "secret-token");

    const auto start = parse_as<protocol::StartMessage>(writer.start());
    EXPECT_EQ(start.sequence_number, 1U);
    EXPECT_EQ(start.stream_id, "7b6e1c1e-2f5a-4a4b-9d55-0f7b1f1c0d11");
    EXPECT_EQ(start.call_control_id, "v3:abc");
    EXPECT_EQ(start.call_session_id, "6c5b4a3f-2e1d-4c0b-9a8f-7e6d5c4b3a29");
    EXPECT_EQ(start.from, "+13125550100");
    EXPECT_EQ(start.to, "+13125550199");
    EXPECT_EQ(start.client_state, "c3RhdGU=");
    ASSERT_EQ(start.custom_parameters.size(), 1U);
    EXPECT_EQ(start.custom_parameters[0].value, "abc");
    EXPECT_EQ(start.media_format.encoding, "PCMU");
    EXPECT_EQ(start.media_format.sample_rate_hz, 8000);
    EXPECT_EQ(start.media_format.channels, 1);

    const std::vector<std::uint8_t> payload(160, 0xFF);
    for (std::uint64_t i = 0; i < 3; ++i) {
        const std::string text = writer.media(protocol::MediaTrack::Inbound, payload);
        // Numbers travel as JSON strings (section 3.2).
        EXPECT_NE(text.find("\"sequence_number\":\"" + std::to_string(i + 2) + "\""),
                  std::string::npos)
                << text;
        const auto media = parse_as<protocol::MediaMessage>(text);
        EXPECT_EQ(media.sequence_number, i + 2);
        EXPECT_EQ(media.chunk, i + 1);
        EXPECT_EQ(media.timestamp, i * 20);
        EXPECT_EQ(media.track, protocol::MediaTrack::Inbound);
        EXPECT_EQ(media.payload, payload);
    }
    // The outbound track counts its own chunks; the sequence number is shared.
    const auto outbound =
            parse_as<protocol::MediaMessage>(writer.media(protocol::MediaTrack::Outbound, payload));
    EXPECT_EQ(outbound.sequence_number, 5U);
    EXPECT_EQ(outbound.chunk, 1U);
    EXPECT_EQ(outbound.track, protocol::MediaTrack::Outbound);

    const auto mark = parse_as<protocol::MarkMessage>(writer.mark("greeting-done"));
    EXPECT_EQ(mark.sequence_number, 6U);
    EXPECT_EQ(mark.name, "greeting-done");
    const auto stop = parse_as<protocol::StopMessage>(writer.stop());
    EXPECT_EQ(stop.sequence_number, 7U);
    EXPECT_EQ(stop.call_control_id, "v3:abc");
}

TEST(FrameWriter, ConnectedHasNoTokenWithoutOne) {
    StreamIdentity id = identity(choose_encoding("L16"));
    id.auth_token.reset();
    FrameWriter writer(id);
    const std::string connected = writer.connected();
    EXPECT_EQ(connected, R"({"event":"connected","version":"1.0.0"})");
    const auto start = parse_as<protocol::StartMessage>(writer.start());
    EXPECT_EQ(start.media_format.encoding, "L16");
    EXPECT_EQ(start.media_format.sample_rate_hz, 16000);
}

}  // namespace
}  // namespace dvd::sim
