#include "recordings/archiver.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>

#include "http/errc.hpp"
#include "store/open_store.hpp"
#include "support/eventually.hpp"
#include "support/loopback_server.hpp"
#include "support/temp_dir.hpp"

namespace dvd::recordings {
namespace {

using namespace std::chrono_literals;
using dvd::test::TempDir;
using std::chrono::milliseconds;
using std::chrono::system_clock;
using store::ArchiveStatus;
using test::LoopbackServer;
using test::ScriptedResponse;

// 2026-01-01T00:00:00Z: the fake clock's start.
constexpr std::int64_t kStartMs = 1'767'225'600'000;

// A minimal but well-formed 8 kHz mono 16-bit WAV with `samples` samples.
std::string wav_bytes(std::uint32_t samples) {
    auto le32 = [](std::uint32_t v) {
        return std::string{static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF),
                           static_cast<char>((v >> 16) & 0xFF), static_cast<char>(v >> 24)};
    };
    auto le16 = [](std::uint16_t v) {
        return std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)};
    };
    const std::uint32_t data = samples * 2;
    std::string out = "RIFF" + le32(36 + data) + "WAVE" + "fmt " + le32(16) + le16(1) + le16(1)
                      + le32(8000) + le32(16000) + le16(2) + le16(16) + "data" + le32(data);
    for (std::uint32_t i = 0; i < samples; ++i) {
        out += le16(static_cast<std::uint16_t>(i * 37));
    }
    return out;
}

std::string sha256_hex(const std::string& bytes) {
    EXPECT_GE(sodium_init(), 0);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return hex;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using dvd::test::eventually;

class ArchiverTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = store::open_store(db_path_);
        ASSERT_TRUE(opened) << opened.error().message;
        db_ = std::move(*opened);
        store::Call call;
        call.id = "v3:call-1";
        call.call_control_id = "v3:call-1";
        call.started_at_ms = kStartMs;
        call.created_at_ms = kStartMs;
        call.updated_at_ms = kStartMs;
        ASSERT_TRUE(db_->upsert_call(call));
    }

    ArchiverOptions options() const {
        ArchiverOptions o;
        o.directory = dir_.file("recordings");
        o.request_timeout = 2s;
        return o;
    }

    std::unique_ptr<RecordingArchiver> make_archiver(const ArchiverOptions& o,
                                                     bool real_clock = false) {
        auto opened = store::open_store(db_path_);
        EXPECT_TRUE(opened);
        ArchiverDeps deps;
        deps.store = std::move(*opened);
        deps.make_sender = [] {
            http::HttpClientOptions http_options;
            http_options.proxy = "";
            return std::make_unique<http::HttpClient>(http_options);
        };
        if (!real_clock) {
            deps.clock = [this] {
                return system_clock::time_point{milliseconds{now_ms_.load()}};
            };
        }
        deps.seed = 3;
        return std::make_unique<RecordingArchiver>(o, std::move(deps));
    }

    // A call.recording.saved row with the given URLs, saved `age` before the fake now.
    std::int64_t add_recording(const std::string& recording_id, std::string wav_url,
                               std::string mp3_url = {}, milliseconds age = 0ms) {
        store::Recording r;
        r.call_id = "v3:call-1";
        r.recording_id = recording_id;
        r.wav_url = std::move(wav_url);
        r.mp3_url = std::move(mp3_url);
        r.format = "wav";
        r.saved_at_ms = now_ms_.load() - age.count();
        auto id = db_->add_recording(r);
        EXPECT_TRUE(id) << id.error().message;
        return id ? *id : 0;
    }

    store::Recording row(std::int64_t id) {
        auto listed = db_->list_recordings("v3:call-1");
        EXPECT_TRUE(listed);
        for (const auto& r : *listed) {
            if (r.id == id) {
                return r;
            }
        }
        ADD_FAILURE() << "no recording " << id;
        return {};
    }

    void advance(milliseconds delta) { now_ms_ += delta.count(); }

    TempDir dir_;
    std::string db_path_ = dir_.file("dvd.db");
    LoopbackServer server_;
    std::unique_ptr<store::Store> db_;
    std::atomic<std::int64_t> now_ms_{kStartMs};
};

TEST_F(ArchiverTest, WavIsStoredWithSizeAndSha256WithoutCredentials) {
    const std::string wav = wav_bytes(4000);
    server_.push({.status = 200, .headers = {{"Content-Type", "audio/wav"}}, .body = wav});
    const auto id = add_recording("rec-1", server_.url("/recordings/rec-1.wav?X-Amz-Signature=s"));
    auto archiver = make_archiver(options());
    const ArchivePassReport report = archiver->run_pass();

    ASSERT_EQ(report.downloads.size(), 1u);
    EXPECT_EQ(report.downloads[0].http_status, 200);
    const store::Recording r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Stored);
    EXPECT_EQ(r.archive.attempts, 1);
    EXPECT_EQ(r.archive.file, "v3_call-1/" + std::to_string(id) + ".wav");
    EXPECT_EQ(r.archive.bytes, static_cast<std::int64_t>(wav.size()));
    EXPECT_EQ(r.archive.sha256, sha256_hex(wav));
    EXPECT_EQ(r.archive.stored_at_ms, kStartMs);
    EXPECT_TRUE(r.archive.last_error.empty());
    const auto path = options().directory / r.archive.file;
    EXPECT_EQ(read_file(path), wav);
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".part"));

    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "GET");
    EXPECT_EQ(requests[0].target, "/recordings/rec-1.wav?X-Amz-Signature=s");
    EXPECT_FALSE(requests[0].header("Authorization"));  // pre-signed: no second credential
    EXPECT_EQ(archiver->stats().stored, 1u);
    EXPECT_EQ(archiver->stats().bytes, wav.size());
    EXPECT_TRUE(archiver->run_pass().downloads.empty());  // done: not fetched again
}

TEST_F(ArchiverTest, ServerErrorIsRetriedWithBackoffThenStored) {
    server_.push({.status = 503, .body = "<Error><Code>SlowDown</Code></Error>"});
    server_.push({.status = 200, .body = wav_bytes(100)});
    const auto id = add_recording("rec-1", server_.url("/r.wav"));
    auto archiver = make_archiver(options());

    const auto first = archiver->run_pass();
    ASSERT_EQ(first.downloads.size(), 1u);
    store::Recording r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Pending);
    EXPECT_EQ(r.archive.attempts, 1);
    EXPECT_EQ(r.archive.last_error, "HTTP 503 <Error><Code>SlowDown</Code></Error>");
    // Equal jitter over the first step: [base/2, base].
    EXPECT_GE(r.archive.next_attempt_at_ms, kStartMs + 500);
    EXPECT_LE(r.archive.next_attempt_at_ms, kStartMs + 1000);
    ASSERT_TRUE(first.next_due_ms);
    EXPECT_EQ(*first.next_due_ms, r.archive.next_attempt_at_ms);

    EXPECT_TRUE(archiver->run_pass().downloads.empty());  // not due yet
    advance(1s);
    EXPECT_EQ(archiver->run_pass().downloads.size(), 1u);
    r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Stored);
    EXPECT_EQ(r.archive.attempts, 2);
    EXPECT_TRUE(r.archive.last_error.empty());
    EXPECT_EQ(archiver->stats().retried, 1u);
}

TEST_F(ArchiverTest, ExpiredUrlsFailWithoutARequestUnlessAPublicUrlIsLeft) {
    const auto expired = add_recording("old", server_.url("/old.wav"), {}, 11min);
    auto archiver = make_archiver(options());
    archiver->run_pass();
    const store::Recording r = row(expired);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Failed);
    EXPECT_EQ(r.archive.attempts, 0);
    EXPECT_NE(r.archive.last_error.find("expired"), std::string::npos) << r.archive.last_error;
    EXPECT_TRUE(server_.requests().empty());

    // A public link (account opt-in) is still tried after the private ones expired.
    store::Recording with_public;
    with_public.call_id = "v3:call-1";
    with_public.recording_id = "pub";
    with_public.wav_url = server_.url("/private.wav");
    with_public.public_wav_url = server_.url("/public.wav");
    with_public.saved_at_ms = now_ms_.load() - 11 * 60'000;
    const auto pub = *db_->add_recording(with_public);
    server_.push({.status = 200, .body = wav_bytes(10)});
    archiver->run_pass();
    EXPECT_EQ(row(pub).archive.status, ArchiveStatus::Stored);
    ASSERT_EQ(server_.requests().size(), 1u);
    EXPECT_EQ(server_.requests()[0].target, "/public.wav");
}

TEST_F(ArchiverTest, ClientErrorFailsForGood) {
    server_.push({.status = 400, .body = "bad request"});
    const auto id = add_recording("rec-1", server_.url("/r.wav"));
    auto archiver = make_archiver(options());
    archiver->run_pass();
    const store::Recording r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Failed);
    EXPECT_EQ(r.archive.last_error, "HTTP 400 bad request");
    EXPECT_EQ(archiver->stats().failed, 1u);
    EXPECT_TRUE(std::filesystem::is_empty(options().directory / "v3_call-1"));
}

TEST_F(ArchiverTest, ABodyThatIsNotAudioIsNotStored) {
    server_.push({.status = 200, .body = "<html>captive portal</html>"});
    const auto id = add_recording("rec-1", server_.url("/r.wav"));
    auto archiver = make_archiver(options());
    archiver->run_pass();
    const store::Recording r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Pending);
    EXPECT_EQ(r.archive.last_error, "the body (27 bytes) is not a WAV file");
    EXPECT_TRUE(std::filesystem::is_empty(options().directory / "v3_call-1"));
}

TEST_F(ArchiverTest, ABodyOverTheLimitFailsAndLeavesNoFile) {
    server_.push({.status = 200, .body = wav_bytes(1000)});
    const auto id = add_recording("rec-1", server_.url("/r.wav"));
    auto o = options();
    o.max_bytes = 1000;
    auto archiver = make_archiver(o);
    archiver->run_pass();
    const store::Recording r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Failed);
    EXPECT_EQ(r.archive.last_error, "the recording is larger than 1000 bytes");
    EXPECT_TRUE(std::filesystem::is_empty(o.directory / "v3_call-1"));
}

TEST_F(ArchiverTest, RetriesEndAfterMaxAttempts) {
    for (int i = 0; i < 3; ++i) {
        server_.push({.status = 500});
    }
    const auto id = add_recording("rec-1", server_.url("/r.wav"));
    auto o = options();
    o.max_attempts = 3;
    auto archiver = make_archiver(o);
    for (int i = 0; i < 3; ++i) {
        archiver->run_pass();
        advance(60s);
    }
    const store::Recording r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Failed);
    EXPECT_EQ(r.archive.attempts, 3);
    EXPECT_EQ(r.archive.last_error, "HTTP 500 (gave up after 3 attempts)");
}

TEST_F(ArchiverTest, AUrlRefusedForGoodHandsOverToTheNextOne) {
    server_.push({.status = 400, .body = "bad request"});
    server_.push({.status = 200, .body = std::string("ID3\x04\0\0\0\0\0\0", 10) + "frames"});
    const auto id = add_recording("rec-1", server_.url("/r.wav"), server_.url("/r.mp3"));
    auto archiver = make_archiver(options());
    archiver->run_pass();
    const store::Recording r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Stored);
    EXPECT_EQ(r.archive.attempts, 1);
    EXPECT_EQ(r.archive.file, "v3_call-1/" + std::to_string(id) + ".mp3");
    const auto requests = server_.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].target, "/r.wav");
    EXPECT_EQ(requests[1].target, "/r.mp3");

    // When every URL is refused, the row says why for each.
    server_.push({.status = 410, .body = "gone"});
    server_.push({.status = 400, .body = "bad"});
    const auto both = add_recording("rec-2", server_.url("/2.wav"), server_.url("/2.mp3"));
    archiver->run_pass();
    EXPECT_EQ(row(both).archive.status, ArchiveStatus::Failed);
    EXPECT_EQ(row(both).archive.last_error, "HTTP 410 gone; then HTTP 400 bad");
}

TEST_F(ArchiverTest, PartialDownloadsOfAnEarlierRunAreRemovedAtTheFirstPass) {
    const auto directory = options().directory;
    std::filesystem::create_directories(directory / "v3_call-1");
    { std::ofstream(directory / "v3_call-1" / "7.wav.part") << "half a file"; }
    { std::ofstream(directory / "v3_call-1" / "6.wav") << "a stored copy"; }
    auto archiver = make_archiver(options());
    EXPECT_EQ(archiver->run_pass().stale_parts_removed, 1);
    EXPECT_FALSE(std::filesystem::exists(directory / "v3_call-1" / "7.wav.part"));
    EXPECT_TRUE(std::filesystem::exists(directory / "v3_call-1" / "6.wav"));
    EXPECT_EQ(archiver->run_pass().stale_parts_removed, 0);  // once per start
}

TEST_F(ArchiverTest, ConnectionRefusedIsRetried) {
    const auto id = add_recording(
            "rec-1",
            "http://127.0.0.1:" + std::to_string(LoopbackServer::closed_port()) + "/r.wav");
    auto archiver = make_archiver(options());
    archiver->run_pass();
    const store::Recording r = row(id);
    EXPECT_EQ(r.archive.status, ArchiveStatus::Pending);
    EXPECT_TRUE(r.archive.last_error.starts_with("transport: ")) << r.archive.last_error;
}

TEST_F(ArchiverTest, Mp3RecordingIsFetchedAsMp3) {
    store::Recording r;
    r.call_id = "v3:call-1";
    r.recording_id = "m";
    r.format = "mp3";
    r.wav_url = server_.url("/m.wav");
    r.mp3_url = server_.url("/m.mp3");
    r.saved_at_ms = now_ms_.load();
    const auto id = *db_->add_recording(r);
    server_.push({.status = 200, .body = std::string("ID3\x04\0\0\0\0\0\0", 10) + "frames"});
    auto archiver = make_archiver(options());
    archiver->run_pass();
    EXPECT_EQ(row(id).archive.file, "v3_call-1/" + std::to_string(id) + ".mp3");
    EXPECT_EQ(server_.requests().at(0).target, "/m.mp3");
}

TEST_F(ArchiverTest, TheWorkerThreadDownloadsWhenNotified) {
    auto archiver = make_archiver(options(), /*real_clock=*/true);
    archiver->start();
    now_ms_ = std::chrono::duration_cast<milliseconds>(system_clock::now().time_since_epoch())
                      .count();
    server_.push({.status = 200, .body = wav_bytes(50)});
    const auto id = add_recording("rec-1", server_.url("/r.wav"));
    archiver->notify();
    EXPECT_TRUE(eventually([&] { return row(id).archive.status == ArchiveStatus::Stored; }));
    archiver->stop();
    archiver->stop();  // idempotent
}

// Streams a WAV forever, one chunk per millisecond, until the sink refuses; says when it began.
class TricklingSender final : public http::HttpSender {
public:
    explicit TricklingSender(std::promise<void>& started) : started_(started) {}

    base::Result<http::HttpResponse> send(const http::HttpRequest& request) override {
        const std::string head = wav_bytes(0);
        if (!request.body_sink(head)) {
            return http::fail(http::Errc::SinkFailed, "refused");
        }
        started_.set_value();
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (!request.body_sink(std::string(160, '\0'))) {
                return http::fail(http::Errc::SinkFailed, "refused");
            }
            std::this_thread::sleep_for(1ms);
        }
        return http::HttpResponse{.status = 200};
    }

private:
    std::promise<void>& started_;
};

TEST_F(ArchiverTest, StopAbortsTheDownloadInFlightAndLeavesItsRowUntouched) {
    std::promise<void> started;
    auto opened = store::open_store(db_path_);
    ASSERT_TRUE(opened);
    ArchiverDeps deps;
    deps.store = std::move(*opened);
    deps.make_sender = [&started] {
        return std::make_unique<TricklingSender>(started);
    };
    RecordingArchiver archiver(options(), std::move(deps));
    now_ms_ = std::chrono::duration_cast<milliseconds>(system_clock::now().time_since_epoch())
                      .count();
    const auto id = add_recording("rec-1", "http://127.0.0.1:1/r.wav");
    archiver.start();
    ASSERT_EQ(started.get_future().wait_for(5s), std::future_status::ready);
    const auto before = std::chrono::steady_clock::now();
    archiver.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - before, 5s);  // not the trickle's 10 s
    const store::Recording r = row(id);
    EXPECT_EQ(r.archive, store::RecordingArchive{});  // still pending, no attempt counted
    EXPECT_TRUE(std::filesystem::is_empty(options().directory / "v3_call-1"));
}

// Holds every request until `target` are in flight at once (or 10 s pass), then answers each
// with a WAV; counts the most seen in flight together.
class GatheringSender final : public http::HttpSender {
public:
    struct Gate {
        std::mutex mutex;
        std::condition_variable changed;
        int target = 0;
        int in_flight = 0;
        int most_in_flight = 0;
        int senders = 0;
        bool opened = false;
    };

    explicit GatheringSender(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}

    base::Result<http::HttpResponse> send(const http::HttpRequest& request) override {
        {
            std::unique_lock lock(gate_->mutex);
            ++gate_->in_flight;
            gate_->most_in_flight = std::max(gate_->most_in_flight, gate_->in_flight);
            if (gate_->in_flight >= gate_->target) {
                gate_->opened = true;
                gate_->changed.notify_all();
            }
            gate_->changed.wait_for(lock, 10s, [&] { return gate_->opened; });
            --gate_->in_flight;
        }
        if (!request.body_sink(wav_bytes(40))) {
            return http::fail(http::Errc::SinkFailed, "refused");
        }
        return http::HttpResponse{.status = 200};
    }

private:
    std::shared_ptr<Gate> gate_;
};

// Archivers on the real clock whose download lanes each get a GatheringSender on one gate.
class ParallelArchiverTest : public ArchiverTest {
protected:
    std::unique_ptr<RecordingArchiver> make(int lanes, int gather) {
        gate_->target = gather;
        auto opened = store::open_store(db_path_);
        EXPECT_TRUE(opened);
        ArchiverDeps deps;
        deps.store = std::move(*opened);
        deps.make_sender = [gate = gate_] {
            {
                const std::lock_guard lock(gate->mutex);
                ++gate->senders;
            }
            return std::make_unique<GatheringSender>(gate);
        };
        auto o = options();
        o.max_concurrent_downloads = lanes;
        now_ms_ = std::chrono::duration_cast<milliseconds>(system_clock::now().time_since_epoch())
                          .count();
        return std::make_unique<RecordingArchiver>(o, std::move(deps));
    }

    std::shared_ptr<GatheringSender::Gate> gate_ = std::make_shared<GatheringSender::Gate>();
};

// A burst of recordings (calls that ended together) is fetched on parallel lanes, each with its
// own sender; every outcome is stored and the report keeps the store's order.
TEST_F(ParallelArchiverTest, DueRecordingsAreDownloadedOnParallelLanes) {
    ASSERT_EQ(ArchiverOptions{}.max_concurrent_downloads, 4);  // the default
    auto archiver = make(4, 4);
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 6; ++i) {
        ids.push_back(add_recording("rec-" + std::to_string(i),
                                    "http://127.0.0.1:1/" + std::to_string(i) + ".wav"));
    }
    const ArchivePassReport report = archiver->run_pass();
    ASSERT_EQ(report.downloads.size(), 6u);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(report.downloads[i].recording_row_id, ids[i]);
        EXPECT_EQ(row(ids[i]).archive.status, ArchiveStatus::Stored) << i;
    }
    const std::lock_guard lock(gate_->mutex);
    EXPECT_TRUE(gate_->opened) << "never 4 downloads in flight at once";
    EXPECT_EQ(gate_->most_in_flight, 4);
    EXPECT_EQ(gate_->senders, 4);
    EXPECT_EQ(archiver->stats().stored, 6u);
}

TEST_F(ParallelArchiverTest, OneLaneDownloadsOneAtATime) {
    auto archiver = make(1, 1);
    for (int i = 0; i < 3; ++i) {
        add_recording("rec-" + std::to_string(i), "http://127.0.0.1:1/r.wav");
    }
    EXPECT_EQ(archiver->run_pass().downloads.size(), 3u);
    const std::lock_guard lock(gate_->mutex);
    EXPECT_EQ(gate_->most_in_flight, 1);
    EXPECT_EQ(gate_->senders, 1);
}

TEST_F(ArchiverTest, RetentionDeletesOldCopiesOfCallsNotFlaggedOnly) {
    // Two calls: one flagged (its recording kept as evidence), one not.
    store::Call flagged_call;
    flagged_call.id = "v3:call-2";
    flagged_call.started_at_ms = kStartMs;
    flagged_call.created_at_ms = kStartMs;
    flagged_call.updated_at_ms = kStartMs;
    ASSERT_TRUE(db_->upsert_call(flagged_call));
    server_.push({.status = 200, .body = wav_bytes(10)});
    server_.push({.status = 200, .body = wav_bytes(20)});
    const auto plain = add_recording("rec-1", server_.url("/1.wav"));
    store::Recording evidence;
    evidence.call_id = "v3:call-2";
    evidence.recording_id = "rec-2";
    evidence.wav_url = server_.url("/2.wav");
    evidence.saved_at_ms = now_ms_.load();
    evidence.kept = true;
    const auto kept = *db_->add_recording(evidence);

    auto o = options();
    o.retention = std::chrono::hours{24};
    o.retention_interval = 1h;
    auto archiver = make_archiver(o);
    EXPECT_EQ(archiver->run_pass().downloads.size(), 2u);
    const auto plain_file = o.directory / row(plain).archive.file;
    ASSERT_TRUE(std::filesystem::exists(plain_file));

    advance(23h);  // not old enough
    EXPECT_EQ(archiver->run_pass().deleted, 0);
    advance(2h);  // 25 h after the download
    const ArchivePassReport report = archiver->run_pass();
    EXPECT_EQ(report.deleted, 1);
    EXPECT_FALSE(std::filesystem::exists(plain_file));
    const store::Recording gone = row(plain);
    EXPECT_EQ(gone.archive.status, ArchiveStatus::Deleted);
    EXPECT_TRUE(gone.archive.file.empty());
    EXPECT_FALSE(gone.archive.sha256.empty());  // the record of what was there stays

    auto listed = db_->list_recordings("v3:call-2");
    ASSERT_TRUE(listed && listed->size() == 1);
    EXPECT_EQ((*listed)[0].id, kept);
    EXPECT_EQ((*listed)[0].archive.status, ArchiveStatus::Stored);
    EXPECT_TRUE(std::filesystem::exists(o.directory / (*listed)[0].archive.file));
    EXPECT_EQ(archiver->stats().deleted, 1u);
}

TEST_F(ArchiverTest, RetentionZeroKeepsEverything) {
    server_.push({.status = 200, .body = wav_bytes(10)});
    const auto id = add_recording("rec-1", server_.url("/1.wav"));
    auto o = options();
    o.retention = std::chrono::hours{0};
    auto archiver = make_archiver(o);
    archiver->run_pass();
    advance(24h * 3650);
    EXPECT_EQ(archiver->run_pass().deleted, 0);
    EXPECT_EQ(row(id).archive.status, ArchiveStatus::Stored);
}

TEST(ArchiverOptions, FromTheConfigurationAndTheResolvedDirectory) {
    config::Config config;
    config.recording_retention_days = 7;
    const ArchiverOptions o = archiver_options(config, "/srv/dvd/recordings");
    EXPECT_EQ(o.directory, "/srv/dvd/recordings");
    EXPECT_EQ(o.retention, std::chrono::hours{7 * 24});
    EXPECT_TRUE(validate(o));
    config.recording_retention_days = 0;
    EXPECT_EQ(archiver_options(config, "/x").retention.count(), 0);
}

TEST(ArchiverOptions, ValidationNamesTheField) {
    ArchiverOptions o;
    EXPECT_FALSE(validate(o));  // no directory
    o.directory = "/tmp/x";
    EXPECT_TRUE(validate(o));
    o.max_backoff = 1ms;
    EXPECT_FALSE(validate(o));
    o = ArchiverOptions{.directory = "/tmp/x", .max_attempts = 0};
    EXPECT_FALSE(validate(o));
    o = ArchiverOptions{.directory = "/tmp/x", .max_concurrent_downloads = 0};
    EXPECT_FALSE(validate(o));
    o.max_concurrent_downloads = 17;
    const auto too_many = validate(o);
    ASSERT_FALSE(too_many);
    EXPECT_NE(too_many.error().message.find("max_concurrent_downloads"), std::string::npos);
    o.max_concurrent_downloads = 16;
    EXPECT_TRUE(validate(o));
}

}  // namespace
}  // namespace dvd::recordings
