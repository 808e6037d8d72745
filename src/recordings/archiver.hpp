#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "config/config.hpp"
#include "http/http_client.hpp"
#include "recordings/archive_file.hpp"
#include "store/store.hpp"

namespace dvd::recordings {

/// Where recordings go and how hard the worker tries.
struct ArchiverOptions {
    /// RECORDINGS_DIR; created on first use. Files are "<call>/<recording row id>.<wav|mp3>".
    std::filesystem::path directory{};
    /// One whole download (a 1-hour mono WAV is 58 MB; a 4-hour dual-channel one about 460 MB,
    /// which needs 4 MB/s). `stop` waits for at most this when a transfer has stalled.
    std::chrono::milliseconds request_timeout{120'000};
    /// Longest recording accepted; a larger body fails for good (Telnyx's cap is 4 hours).
    std::size_t max_bytes = std::size_t{1} << 30;
    /// Telnyx's recording_urls are valid this long after call.recording.saved
    /// (telnyx-protocol.md, `call.recording.saved`); later, only public_recording_urls are tried.
    std::chrono::milliseconds url_lifetime{store::kRecordingUrlLifetime};
    /// Attempts per recording, the first included; then it is failed for good.
    int max_attempts = 8;
    /// Backoff before retry n: cap = min(max_backoff, base_backoff * 2^(n-1)), wait drawn from
    /// [cap/2, cap]. With the defaults the eight attempts span about 2 minutes, well inside the
    /// URLs' 10 minutes.
    std::chrono::milliseconds base_backoff{1'000};
    std::chrono::milliseconds max_backoff{30'000};
    /// The worker re-reads the due recordings at least this often, even when not notified.
    std::chrono::milliseconds idle_poll{10'000};
    /// Due recordings read per pass.
    std::int64_t batch_limit = 20;
    /// Downloads in flight at once, each on its own connection (1..16). A burst of calls that
    /// end together must all be fetched inside the URLs' 10 minutes: one at a time, 300 calls of
    /// 2 MB each over a 10 Mbit/s link would take 8 minutes.
    int max_concurrent_downloads = 4;
    /// RECORDING_RETENTION_DAYS: a stored copy of a call that is not kept (not flagged) is
    /// deleted this long after it was stored; 0: never. Kept copies are never deleted here.
    std::chrono::hours retention{30 * 24};
    /// How often the retention sweep runs (the first pass runs it too).
    std::chrono::milliseconds retention_interval{3'600'000};
};

/// InvalidArgument naming the field unless the directory is set, durations are positive
/// (max_backoff >= base_backoff; retention >= 0), max_bytes, max_attempts and batch_limit >= 1,
/// and max_concurrent_downloads is in 1..16.
[[nodiscard]] base::Result<void> validate(const ArchiverOptions& options);

/// RECORDING_RETENTION_DAYS from the configuration and `directory`, RECORDINGS_DIR as the server
/// resolved it (the configuration leaves it empty for "beside the database"); every other
/// option keeps its default.
[[nodiscard]] ArchiverOptions archiver_options(const config::Config& config,
                                               std::filesystem::path directory);

using Clock = std::function<std::chrono::system_clock::time_point()>;
using SenderFactory = std::function<std::unique_ptr<http::HttpSender>()>;

struct ArchiverDeps {
    /// The worker's own connection (open_store(DATABASE_URL)); used only by its thread (or by
    /// `run_pass` before `start`).
    std::unique_ptr<store::Store> store{};
    /// One sender per download lane and pass, made on the lane's first download (lanes may call
    /// it at the same time); empty: http::HttpClient with default options.
    SenderFactory make_sender{};
    Clock clock{};                ///< empty: std::chrono::system_clock::now
    std::uint64_t seed = 0;       ///< backoff jitter
};

/// One download attempt made by a pass.
struct DownloadRecord {
    std::int64_t recording_row_id = 0;
    std::string call_id{};
    store::RecordingArchive archive{};  ///< what the row now holds
    int http_status = 0;                ///< 0: no HTTP exchange (transport error, no URL)
};

struct ArchivePassReport {
    std::vector<DownloadRecord> downloads{};
    int deleted = 0;              ///< copies removed by the retention sweep
    int stale_parts_removed = 0;  ///< first pass: `.part` files a crash left behind
    bool store_error = false;
    std::optional<store::UnixMs> next_due_ms{};  ///< the earliest pending download, if any
};

/// Counters for /metrics; any thread.
struct ArchiverStats {
    std::uint64_t stored = 0;
    std::uint64_t retried = 0;  ///< attempts that scheduled a retry
    std::uint64_t failed = 0;   ///< recordings given up
    std::uint64_t bytes = 0;    ///< bytes stored
    std::uint64_t deleted = 0;  ///< copies removed by the retention policy
};

/// Keeps the service's own copy of every call recording (table `recordings`, RecordingArchive).
///
/// Telnyx's recording URLs expire 10 minutes after `call.recording.saved`; the evidence of a
/// flagged call must outlive them. A new recording row is pending and due at once; `notify()`
/// (called by the calls thread after it stores one) wakes the worker, which downloads it with
/// one GET (no Authorization header: the URLs are pre-signed), streams the body to
/// "<RECORDINGS_DIR>/<call>/<row id>.<ext>.part" while hashing it, checks that it starts like a
/// WAV/MP3, and renames it into place before the row says `stored` (with size and SHA-256).
/// 408, 429, 5xx, 403/404 (an object not yet visible) and transient transport errors are retried
/// with jittered backoff while the URLs are valid; other statuses, a body that is not audio or is
/// over max_bytes, expired URLs and exhausted attempts fail the row for good, with the reason.
/// Pending rows of earlier runs resume at `start`, so a restart loses nothing still fetchable;
/// a download cut short by `stop` (or a crash) leaves its row untouched, and the first pass removes
/// the `.part` files a crash left behind. A URL that fails for good hands over to the recording's
/// next one (the other format, the public link). Hourly, copies older than
/// `retention` whose call is not kept are deleted (row first, `deleted`, then the file).
///
/// A pass downloads its due recordings on up to `max_concurrent_downloads` download lanes at
/// once (threads "recordings-dl" that live for the pass, each with an HTTP sender of its own, made
/// at its first download: libcurl handles belong to one thread); the
/// pass's thread writes each outcome to the store as it arrives, so a fast download is recorded
/// without waiting for a slow one, and `ArchivePassReport::downloads` keeps the store's order.
///
/// Threads: `notify` and `stats` from any thread; `start`, `stop`, `run_pass` and the destructor
/// from the owner. The store connection belongs to the worker thread ("recordings"), or to the
/// caller of `run_pass`. One worker per database.
class RecordingArchiver {
public:
    /// Precondition: validate(options) succeeded and deps.store is set (DVD_CHECK).
    RecordingArchiver(ArchiverOptions options, ArchiverDeps deps);
    ~RecordingArchiver();  ///< stop()

    RecordingArchiver(const RecordingArchiver&) = delete;
    RecordingArchiver& operator=(const RecordingArchiver&) = delete;

    void start();

    /// Aborts the download in flight as soon as its next bytes arrive (its row stays as it was,
    /// pending, and its part file is removed; a stalled transfer holds this up to
    /// request_timeout) and joins. Idempotent.
    void stop();

    /// A recording row was added: look for due downloads now. Non-blocking.
    void notify();

    /// One pass on the calling thread: one attempt for every due recording (at most
    /// batch_limit). For tests and tools; only before `start` (DVD_CHECK).
    ArchivePassReport run_pass();

    [[nodiscard]] ArchiverStats stats() const;

    [[nodiscard]] const ArchiverOptions& options() const noexcept { return options_; }

private:
    void run();
    ArchivePassReport pass();

    /// One GET of one URL into the recording's file.
    struct Fetch {
        enum Outcome { Stored, Retry, Fail, Aborted } outcome = Fail;

        std::string why{};  ///< Retry, Fail: the reason for the row
        int http_status = 0;
        std::string file{};  ///< Stored: relative to the directory
        std::int64_t bytes = 0;
        std::string sha256{};
    };

    /// On a download lane, with that lane's sender.
    Fetch fetch(const store::Recording& recording, std::string_view url, AudioFormat format,
                http::HttpSender& sender);
    /// nullopt: interrupted by `stop` (nothing to record). On a download lane; touches no store.
    std::optional<DownloadRecord> download(const store::Recording& recording, store::UnixMs now_ms,
                                           http::HttpSender& sender);
    /// Downloads `due` on the lanes and records each outcome on the calling thread.
    void download_all(const std::vector<store::Recording>& due, ArchivePassReport& report);
    void sweep(ArchivePassReport& report, store::UnixMs now_ms);
    int remove_stale_parts();
    std::chrono::milliseconds backoff(int retry);  ///< any lane
    bool stopping() const;

    const ArchiverOptions options_;
    std::unique_ptr<store::Store> store_;  // worker thread only
    SenderFactory make_sender_;
    Clock clock_;
    std::mutex rng_mutex_;
    std::mt19937_64 rng_;                       // guarded by rng_mutex_
    store::UnixMs next_sweep_ms_ = 0;           // worker thread only
    bool parts_swept_ = false;                  // worker thread only

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    // ---- guarded by mutex_ ----
    bool notified_ = false;
    bool stopping_ = false;
    bool started_ = false;
    // ---- end guarded ----

    std::atomic<bool> abort_{false};  // set by stop(): the body sink refuses more data
    std::atomic<std::uint64_t> stored_{0};
    std::atomic<std::uint64_t> retried_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<std::uint64_t> deleted_{0};

    std::thread thread_;
};

}  // namespace dvd::recordings
