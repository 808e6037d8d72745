#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "audio/audio_file.hpp"
#include "dsp/g711.hpp"
#include "media/audio_archive.hpp"
#include "media/media_session.hpp"
#include "media/media_stream.hpp"
#include "protocol/media_message.hpp"
#include "service/call_directory.hpp"
#include "service/call_events.hpp"
#include "service/metrics.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_writer.hpp"
#include "support/test_model.hpp"
#include "support/test_paths.hpp"
#include "support/recording_sink.hpp"
#include "support/temp_dir.hpp"

namespace dvd::media::test {

using dvd::test::TempDir;

using dvd::test::RecordingSink;

/// A WebSocket connection that records what the session does with it.
class FakeConnection final : public net::WsConnection {
public:
    bool send_text(std::string message) override {
        sent.push_back(std::move(message));
        return true;
    }

    void close(net::CloseCode code, std::string reason) override {
        ++close_calls;
        close_code = code;
        close_reason = std::move(reason);
    }

    [[nodiscard]] net::WsHandle handle() const override { return {}; }

    [[nodiscard]] int worker() const override { return 0; }

    [[nodiscard]] std::string_view remote_address() const override { return "127.0.0.1"; }

    std::vector<std::string> sent;
    int close_calls = 0;
    std::optional<net::CloseCode> close_code;
    std::string close_reason;
};

/// The random-weight fixture model, loaded once per test binary.
inline const dvd::test::LoadedModel& test_model() {
    static const dvd::test::LoadedModel loaded = dvd::test::load_model();
    return loaded;
}

/// Everything a media stream talks to, on a temp SQLite file and a temp archive folder.
class Harness {
public:
    explicit Harness(pipeline::ScorerOptions scorer = {})
        : db_path_((dir_.path() / "dvd.db").string()),
          reader_(open_store(db_path_)),
          writer_(open_store(db_path_),
                  store::StoreWriterOptions{.max_batch_delay = std::chrono::milliseconds(1)}),
          archive(dir_.path() / "audio"),
          deps{.model = test_model().model,
               .tables = test_model().tables,
               .scorer = scorer,
               .directory = directory,
               .sink = sink,
               .writer = writer_,
               .archive = archive,
               .metrics = metrics,
               .now_ms = [] {
                   return std::int64_t{1'800'000'000'000};
               }} {
        writer_.start();
        EXPECT_TRUE(archive.start());
    }

    /// A call row plus its stream grant.
    void add_call(const std::string& id, const std::string& call_control_id,
                  const std::string& token) {
        store::Call call;
        call.id = id;
        call.call_control_id = call_control_id;
        call.state = store::CallState::Streaming;
        call.started_at_ms = 1'800'000'000'000;
        call.created_at_ms = call.started_at_ms;
        call.updated_at_ms = call.started_at_ms;
        ASSERT_TRUE(reader_->upsert_call(call));
        directory.grant(service::StreamGrant{
                .call_id = id, .call_control_id = call_control_id, .stream_auth_token = token});
    }

    /// Waits until the writer and the archive have caught up.
    void sync() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        ASSERT_TRUE(writer_.flush(deadline));
        ASSERT_TRUE(archive.flush(deadline));
    }

    store::Store& store() { return *reader_; }

    const std::string& db_path() const { return db_path_; }

    store::StoreWriter& writer() { return writer_; }

private:
    static std::unique_ptr<store::Store> open_store(const std::string& path) {
        auto store = store::SqliteStore::open(path);
        EXPECT_TRUE(store) << store.error().message;
        return std::move(*store);
    }

    TempDir dir_;
    std::string db_path_;
    std::unique_ptr<store::Store> reader_;
    store::StoreWriter writer_;

public:
    service::CallDirectory directory;
    RecordingSink sink;
    service::Metrics metrics;
    AudioArchive archive;
    MediaDeps deps;
};

/// 8 kHz speech from the shipped sample WAV (about 6 s).
inline std::vector<float> sample_speech() {
    auto samples = audio::read_audio_file(
            (std::filesystem::path(DVD_SOURCE_DIR) / "samples" / "genuine-festvox-ru.wav").string(),
            8000);
    EXPECT_TRUE(samples) << samples.error().message;
    return *samples;
}

inline std::int16_t to_pcm16(float sample) {
    const float scaled = std::clamp(sample * 32768.0f, -32768.0f, 32767.0f);
    return static_cast<std::int16_t>(std::lrint(scaled));
}

/// PCMU payloads of 20 ms (160 samples).
inline std::vector<std::vector<std::uint8_t>> pcmu_frames(const std::vector<float>& samples) {
    std::vector<std::vector<std::uint8_t>> frames;
    for (std::size_t pos = 0; pos + 160 <= samples.size(); pos += 160) {
        std::vector<std::uint8_t> frame(160);
        for (std::size_t i = 0; i < 160; ++i) {
            frame[i] = dsp::linear_to_mulaw(to_pcm16(samples[pos + i]));
        }
        frames.push_back(std::move(frame));
    }
    return frames;
}

inline std::string connected_frame(std::optional<std::string> token = std::nullopt) {
    return protocol::serialize_inbound_message(
            protocol::ConnectedMessage{.version = "1.0.0", .auth_token = std::move(token)});
}

inline std::string start_frame(const std::string& call_control_id, const std::string& stream_id,
                               const std::string& encoding = "PCMU", std::int64_t rate_hz = 8000,
                               std::uint64_t sequence_number = 1) {
    protocol::StartMessage start;
    start.sequence_number = sequence_number;
    start.stream_id = stream_id;
    start.call_control_id = call_control_id;
    start.media_format = protocol::MediaFormat{encoding, rate_hz, 1};
    return protocol::serialize_inbound_message(start);
}

inline std::string media_frame(const std::string& stream_id, std::uint64_t sequence_number,
                               std::vector<std::uint8_t> payload,
                               protocol::MediaTrack track = protocol::MediaTrack::Inbound) {
    protocol::MediaMessage media;
    media.sequence_number = sequence_number;
    media.stream_id = stream_id;
    media.track = track;
    media.chunk = sequence_number;
    media.timestamp = sequence_number * 20;
    media.payload = std::move(payload);
    return protocol::serialize_inbound_message(media);
}

inline std::string stop_frame(const std::string& call_control_id, const std::string& stream_id,
                              std::uint64_t sequence_number) {
    protocol::StopMessage stop;
    stop.sequence_number = sequence_number;
    stop.stream_id = stream_id;
    stop.call_control_id = call_control_id;
    return protocol::serialize_inbound_message(stop);
}

}  // namespace dvd::media::test
