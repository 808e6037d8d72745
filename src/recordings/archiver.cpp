#include "recordings/archiver.hpp"

#include <algorithm>
#include <deque>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <pthread.h>

#include "base/check.hpp"
#include "base/log.hpp"
#include "http/errc.hpp"
#include "http/retry.hpp"
#include "recordings/archive_file.hpp"

namespace dvd::recordings {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

// After a failed store call the worker waits at least this long (no hot loop on a broken disk).
constexpr milliseconds kStoreErrorPause{1'000};
constexpr int kMaxConcurrentDownloads = 16;
constexpr std::size_t kExcerptBytes = 200;

base::Result<void> invalid(std::string_view what) {
    return base::fail(base::Errc::InvalidArgument, fmt::format("recording archiver: {}", what));
}

// The first printable bytes of a reply body, for the row's error (S3 says why in XML).
std::string excerpt(std::string_view body) {
    std::string out;
    for (const char c : body.substr(0, kExcerptBytes)) {
        out.push_back(c >= 0x20 && c < 0x7F ? c : ' ');
    }
    return out;
}

struct Candidate {
    std::string_view url;
    AudioFormat format = AudioFormat::Wav;
};

// The URLs to try, best first: the private links while they are valid (Telnyx's own format of
// the recording first), then the public ones (an account opt-in; their lifetime is not stated).
std::vector<Candidate> candidates(const store::Recording& r, bool private_valid) {
    const bool mp3_first = r.format == "mp3";
    std::vector<Candidate> out;
    auto add_pair = [&](std::string_view wav, std::string_view mp3) {
        const Candidate w{wav, AudioFormat::Wav};
        const Candidate m{mp3, AudioFormat::Mp3};
        for (const Candidate& c : mp3_first ? std::array{m, w} : std::array{w, m}) {
            if (!c.url.empty()) {
                out.push_back(c);
            }
        }
    };
    if (private_valid) {
        add_pair(r.wav_url, r.mp3_url);
    }
    add_pair(r.public_wav_url, r.public_mp3_url);
    return out;
}

bool retryable_status(int status) {
    // 403/404: a pre-signed object that is not visible yet (or a clock skew) is retried while
    // the URL is valid; the expiry check ends it.
    return status == 403 || status == 404 || status == 408 || status == 429 || status >= 500;
}

}  // namespace

base::Result<void> validate(const ArchiverOptions& o) {
    if (o.directory.empty()) {
        return invalid("directory must be set");
    }
    if (o.request_timeout.count() <= 0 || o.url_lifetime.count() <= 0 || o.idle_poll.count() <= 0) {
        return invalid("request_timeout, url_lifetime and idle_poll must be positive");
    }
    if (o.base_backoff.count() <= 0 || o.max_backoff < o.base_backoff) {
        return invalid("base_backoff must be positive and <= max_backoff");
    }
    if (o.max_bytes < 1 || o.max_attempts < 1) {
        return invalid("max_bytes and max_attempts must be >= 1");
    }
    if (o.batch_limit < 1 || o.batch_limit > store::kMaxPageSize) {
        return invalid("batch_limit must be in 1..1000");
    }
    if (o.max_concurrent_downloads < 1 || o.max_concurrent_downloads > kMaxConcurrentDownloads) {
        return invalid("max_concurrent_downloads must be in 1..16");
    }
    if (o.retention.count() < 0 || o.retention_interval.count() <= 0) {
        return invalid("retention must be >= 0 and retention_interval positive");
    }
    return {};
}

ArchiverOptions archiver_options(const config::Config& config, std::filesystem::path directory) {
    ArchiverOptions options;
    options.directory = std::move(directory);
    options.retention = std::chrono::hours{24 * config.recording_retention_days};
    return options;
}

RecordingArchiver::RecordingArchiver(ArchiverOptions options, ArchiverDeps deps)
    : options_(std::move(options)),
      store_(std::move(deps.store)),
      make_sender_(std::move(deps.make_sender)),
      clock_(deps.clock ? std::move(deps.clock) : Clock([] { return system_clock::now(); })),
      rng_(deps.seed) {
    DVD_CHECK(validate(options_).has_value(), "invalid ArchiverOptions");
    DVD_CHECK(store_ != nullptr, "RecordingArchiver needs a store");
}

RecordingArchiver::~RecordingArchiver() {
    stop();
}

void RecordingArchiver::start() {
    const std::lock_guard lock(mutex_);
    DVD_CHECK(!started_, "RecordingArchiver::start called twice");
    started_ = true;
    thread_ = std::thread([this] { run(); });
}

void RecordingArchiver::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    abort_.store(true);
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void RecordingArchiver::notify() {
    {
        const std::lock_guard lock(mutex_);
        notified_ = true;
    }
    wake_.notify_all();
}

ArchivePassReport RecordingArchiver::run_pass() {
    {
        const std::lock_guard lock(mutex_);
        DVD_CHECK(!started_, "run_pass is for use before start");
    }
    return pass();
}

ArchiverStats RecordingArchiver::stats() const {
    return {.stored = stored_.load(),
            .retried = retried_.load(),
            .failed = failed_.load(),
            .bytes = bytes_.load(),
            .deleted = deleted_.load()};
}

void RecordingArchiver::run() {
    pthread_setname_np(pthread_self(), "recordings");
    DVD_LOG(Calls, Info, "recording downloads started dir={}", options_.directory.string());
    for (;;) {
        {
            const std::lock_guard lock(mutex_);
            notified_ = false;  // this pass sees every row stored before now
        }
        const ArchivePassReport report = pass();
        milliseconds wait = options_.idle_poll;
        if (report.next_due_ms) {
            wait = std::min(wait, milliseconds{std::max<store::UnixMs>(
                                          0, *report.next_due_ms - store::to_unix_ms(clock_()))});
        }
        if (report.store_error) {
            wait = std::max(wait, kStoreErrorPause);
        }
        std::unique_lock lock(mutex_);
        if (!stopping_ && !notified_ && wait.count() > 0) {
            wake_.wait_for(lock, wait, [this] { return stopping_ || notified_; });
        }
        if (stopping_) {
            break;
        }
    }
    DVD_LOG(Calls, Info, "recording downloads stopped");
}

ArchivePassReport RecordingArchiver::pass() {
    ArchivePassReport report;
    if (!parts_swept_) {
        parts_swept_ = true;
        report.stale_parts_removed = remove_stale_parts();
    }
    auto due =
            store_->list_due_recording_archives(store::to_unix_ms(clock_()), options_.batch_limit);
    if (!due) {
        report.store_error = true;
        DVD_LOG_RATE_LIMITED(Calls, Error, "recording downloads cannot read the store: {}",
                             due.error().message);
        return report;
    }
    download_all(*due, report);
    const store::UnixMs now_ms = store::to_unix_ms(clock_());
    if (options_.retention.count() > 0 && now_ms >= next_sweep_ms_) {
        next_sweep_ms_ = now_ms + options_.retention_interval.count();
        sweep(report, now_ms);
    }
    auto next = store_->list_due_recording_archives(store::kEndOfTime, 1);
    if (!next) {
        report.store_error = true;
    } else if (!next->empty()) {
        report.next_due_ms = next->front().archive.next_attempt_at_ms;
    }
    return report;
}

void RecordingArchiver::download_all(const std::vector<store::Recording>& due,
                                     ArchivePassReport& report) {
    if (due.empty()) {
        return;
    }
    const std::size_t lanes =
            std::min(due.size(), static_cast<std::size_t>(options_.max_concurrent_downloads));
    // Lanes take the next recording in the store's order and hand each outcome back here.
    std::mutex mutex;
    std::condition_variable arrived;
    std::deque<std::pair<std::size_t, DownloadRecord>> outcomes;  // guarded by mutex
    std::size_t lanes_done = 0;                                      // guarded by mutex
    std::atomic<std::size_t> next{0};
    auto lane_body = [&]() {
        pthread_setname_np(pthread_self(), "recordings-dl");
        // An HttpClient belongs to the thread that first sends with it: one per lane and pass.
        std::unique_ptr<http::HttpSender> sender;
        for (;;) {
            const std::size_t i = next.fetch_add(1);
            if (i >= due.size() || stopping()) {
                break;
            }
            if (!sender) {
                sender = make_sender_ ? make_sender_() : std::make_unique<http::HttpClient>();
            }
            std::optional<DownloadRecord> attempt =
                    download(due[i], store::to_unix_ms(clock_()), *sender);
            if (!attempt) {
                break;  // stopping: the row stays as it was and is fetched at the next start
            }
            const std::lock_guard lock(mutex);
            outcomes.emplace_back(i, std::move(*attempt));
            arrived.notify_one();
        }
        const std::lock_guard lock(mutex);
        ++lanes_done;
        arrived.notify_one();
    };
    std::vector<std::thread> threads;
    threads.reserve(lanes);
    for (std::size_t lane = 0; lane < lanes; ++lane) {
        threads.emplace_back(lane_body);
    }
    std::vector<std::optional<DownloadRecord>> records(due.size());
    for (;;) {
        std::unique_lock lock(mutex);
        arrived.wait(lock, [&] { return !outcomes.empty() || lanes_done == lanes; });
        if (outcomes.empty()) {
            break;
        }
        auto [index, record] = std::move(outcomes.front());
        outcomes.pop_front();
        lock.unlock();
        if (auto updated =
                    store_->update_recording_archive(record.recording_row_id, record.archive);
            !updated) {
            // The file (if any) stays; the row stays pending and is fetched again.
            report.store_error = true;
            DVD_LOG(Calls, Error, "recording download not recorded call_id={} recording={}: {}",
                    record.call_id, record.recording_row_id, updated.error().message);
        }
        records[index] = std::move(record);
    }
    for (auto& thread : threads) {
        thread.join();
    }
    for (auto& record : records) {
        if (record) {
            report.downloads.push_back(std::move(*record));
        }
    }
}

bool RecordingArchiver::stopping() const {
    const std::lock_guard lock(mutex_);
    return stopping_;
}

RecordingArchiver::Fetch RecordingArchiver::fetch(const store::Recording& r, std::string_view url,
                                                  AudioFormat format, http::HttpSender& sender) {
    const std::filesystem::path relative = relative_path(r.call_id, r.id, format);
    auto file = ArchiveFile::create(options_.directory / relative, options_.max_bytes);
    if (!file) {
        return {.outcome = Fetch::Retry, .why = file.error().message};
    }
    http::HttpRequest request;
    request.method = "GET";
    request.url = std::string(url);
    request.timeout = options_.request_timeout;
    request.body_sink = [this, &file](std::string_view chunk) {
        return !abort_.load(std::memory_order_relaxed) && file->write(chunk);
    };
    const auto response = sender.send(request);
    if (abort_.load()) {
        return {.outcome = Fetch::Aborted};  // the part file goes with `file`
    }
    if (!response) {
        const auto& error = response.error();
        if (error.code == http::make_error_code(http::Errc::SinkFailed)) {
            return {.outcome = file->too_large() ? Fetch::Fail : Fetch::Retry,
                    .why = file->error()};
        }
        const bool transient = error.code.category() == http::error_category()
                               && http::is_transient(static_cast<http::Errc>(error.code.value()));
        return {.outcome = transient ? Fetch::Retry : Fetch::Fail,
                .why = "transport: " + error.message};
    }
    if (response->status < 200 || response->status >= 300) {
        std::string why = fmt::format("HTTP {}", response->status);
        if (!response->body.empty()) {
            why += " " + excerpt(response->body);
        }
        return {.outcome = retryable_status(response->status) ? Fetch::Retry : Fetch::Fail,
                .why = std::move(why),
                .http_status = response->status};
    }
    if (!looks_like(format, file->head())) {
        return {.outcome = Fetch::Retry,
                .why = fmt::format("the body ({} bytes) is not a {} file", file->bytes(),
                                   format == AudioFormat::Wav ? "WAV" : "MP3"),
                .http_status = response->status};
    }
    const std::int64_t bytes = file->bytes();
    auto sha256 = file->commit();
    if (!sha256) {
        return {.outcome = Fetch::Retry, .why = sha256.error().message};
    }
    return {.outcome = Fetch::Stored,
            .http_status = response->status,
            .file = relative.generic_string(),
            .bytes = bytes,
            .sha256 = std::move(*sha256)};
}

std::optional<DownloadRecord> RecordingArchiver::download(const store::Recording& r,
                                                          store::UnixMs now_ms,
                                                          http::HttpSender& sender) {
    DownloadRecord record{.recording_row_id = r.id, .call_id = r.call_id, .archive = r.archive};
    store::RecordingArchive& a = record.archive;
    const bool private_valid = now_ms < r.saved_at_ms + options_.url_lifetime.count();
    const auto urls = candidates(r, private_valid);
    auto fail_for_good = [&](std::string why) {
        a.status = store::ArchiveStatus::Failed;
        a.last_error = std::move(why);
        failed_.fetch_add(1);
        DVD_LOG(Calls, Error, "recording not downloaded call_id={} recording={}: {}", r.call_id,
                r.id, a.last_error);
    };
    if (urls.empty()) {
        const bool had_urls = !r.wav_url.empty() || !r.mp3_url.empty();
        fail_for_good(had_urls ? fmt::format("the recording URLs expired ({} s after "
                                             "call.recording.saved) before a download succeeded",
                                             options_.url_lifetime.count() / 1000)
                               : std::string("call.recording.saved carried no recording URL"));
        return record;
    }
    a.attempts += 1;
    // The best URL first; one that fails for good (a 4xx, an oversized body) hands over to the
    // next (the other format, the public link); a transient failure retries them all later.
    std::vector<std::string> refused;
    for (const Candidate& url : urls) {
        Fetch fetched = fetch(r, url.url, url.format, sender);
        record.http_status = fetched.http_status;
        switch (fetched.outcome) {
            case Fetch::Aborted:
                return std::nullopt;
            case Fetch::Stored:
                a.status = store::ArchiveStatus::Stored;
                a.last_error.clear();
                a.file = std::move(fetched.file);
                a.bytes = fetched.bytes;
                a.sha256 = std::move(fetched.sha256);
                a.stored_at_ms = now_ms;
                stored_.fetch_add(1);
                bytes_.fetch_add(static_cast<std::uint64_t>(fetched.bytes));
                DVD_LOG(Calls, Info,
                        "recording stored call_id={} recording={} file={} bytes={} sha256={}",
                        r.call_id, r.id, a.file, fetched.bytes, a.sha256);
                return record;
            case Fetch::Retry: {
                if (a.attempts >= options_.max_attempts) {
                    fail_for_good(
                            fmt::format("{} (gave up after {} attempts)", fetched.why, a.attempts));
                    return record;
                }
                const milliseconds wait = backoff(a.attempts);
                a.last_error = std::move(fetched.why);
                a.next_attempt_at_ms = now_ms + wait.count();
                retried_.fetch_add(1);
                DVD_LOG(Calls, Warn,
                        "recording download retry call_id={} recording={} in_ms={}: {}", r.call_id,
                        r.id, wait.count(), a.last_error);
                return record;
            }
            case Fetch::Fail:
                refused.push_back(std::move(fetched.why));
                break;
        }
    }
    std::string why = refused.front();
    for (std::size_t i = 1; i < refused.size(); ++i) {
        why += "; then " + refused[i];
    }
    fail_for_good(std::move(why));
    return record;
}

int RecordingArchiver::remove_stale_parts() {
    // Only this worker writes under the directory, and nothing is in flight yet: every part file
    // is a download a crash (or a kill) cut short; its row is still pending and fetched again.
    std::error_code ec;
    if (!std::filesystem::is_directory(options_.directory, ec)) {
        return 0;
    }
    std::vector<std::filesystem::path> parts;
    for (auto it = std::filesystem::recursive_directory_iterator(options_.directory, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".part") {
            parts.push_back(it->path());
        }
    }
    int removed = 0;
    for (const auto& part : parts) {
        if (std::filesystem::remove(part, ec)) {
            ++removed;
        }
    }
    if (removed > 0) {
        DVD_LOG(Calls, Info, "recordings: removed {} partial download(s) left by an earlier run",
                removed);
    }
    return removed;
}

void RecordingArchiver::sweep(ArchivePassReport& report, store::UnixMs now_ms) {
    const store::UnixMs cutoff =
            now_ms - std::chrono::duration_cast<milliseconds>(options_.retention).count();
    // Batches until none is left; a failure ends the sweep (the next one comes in an hour).
    for (;;) {
        auto expired = store_->list_expired_recording_archives(cutoff, options_.batch_limit);
        if (!expired) {
            report.store_error = true;
            DVD_LOG(Calls, Error, "recording retention cannot read the store: {}",
                    expired.error().message);
            return;
        }
        if (expired->empty()) {
            return;
        }
        for (const auto& r : *expired) {
            // The row first: a call flagged meanwhile (kept) keeps its file.
            auto marked = store_->mark_recording_archive_deleted(r.id);
            if (!marked) {
                report.store_error = true;
                DVD_LOG(Calls, Error, "recording retention call_id={} recording={}: {}", r.call_id,
                        r.id, marked.error().message);
                return;
            }
            if (!*marked) {
                continue;
            }
            std::error_code ec;
            std::filesystem::remove(options_.directory / r.archive.file, ec);
            if (ec) {
                DVD_LOG(Calls, Warn, "recording retention could not remove {}: {}", r.archive.file,
                        ec.message());
            }
            ++report.deleted;
            deleted_.fetch_add(1);
            DVD_LOG(Calls, Info,
                    "recording copy deleted by retention call_id={} recording={} file={} "
                    "stored_at_ms={}",
                    r.call_id, r.id, r.archive.file, r.archive.stored_at_ms.value_or(0));
        }
    }
}

milliseconds RecordingArchiver::backoff(int retry) {
    const std::lock_guard lock(rng_mutex_);
    return http::equal_jitter_backoff(retry, options_.base_backoff, options_.max_backoff, rng_);
}


}  // namespace dvd::recordings
