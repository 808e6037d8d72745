#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"

namespace dvd::media {

struct AudioArchiveOptions {
    /// Samples that may wait for the disk, all calls together (8 MiB of int16 by default: about
    /// 8 minutes of 8 kHz audio); `append` drops and counts beyond this.
    std::size_t queue_capacity_samples = std::size_t{1} << 22;
    /// Open files kept by the writer; the least recently written is closed beyond this.
    std::size_t max_open_files = 256;
    /// A call's file is closed after this long without audio.
    std::chrono::milliseconds idle_close{10'000};
};

/// Counters since construction.
struct AudioArchiveStats {
    std::uint64_t appended_samples = 0;  ///< accepted by append
    std::uint64_t dropped_samples = 0;   ///< refused by append: queue full or stopped
    std::uint64_t dropped_chunks = 0;    ///< append calls refused
    std::uint64_t written_samples = 0;   ///< written to disk
    std::uint64_t write_errors = 0;      ///< chunks lost to a failed open/write
    std::size_t queued_samples = 0;      ///< waiting now
};

/// The inbound audio of every call, kept for re-scoring (`POST /calls/{id}/analyze`): one file
/// per call, `<dir>/<sanitised call id>.s16`, 8 kHz mono signed 16-bit little-endian, appended
/// as the stream goes (a resumed call goes on appending to the same file).
///
/// Threads: `append`, `stats`, `flush` and `read` may be called from any thread; `append` never
/// touches the disk (it copies the samples into a bounded queue: drop + count when full), so
/// workers may call it. The `audio-writer` thread, started by `start`, drains the queue and
/// writes. `flush` waits and `read` reads the file (blocking): any thread but a network worker
/// (the `analysis` thread does both). `start`, `stop` and the destructor belong to the owner.
class AudioArchive {
public:
    explicit AudioArchive(std::filesystem::path dir, AudioArchiveOptions options = {});
    ~AudioArchive();  ///< stop()
    AudioArchive(const AudioArchive&) = delete;
    AudioArchive& operator=(const AudioArchive&) = delete;

    /// Creates the folder (Errc::Io when it cannot) and starts the `audio-writer` thread. Samples
    /// appended before are kept and written first. Once only.
    [[nodiscard]] base::Result<void> start();

    /// Refuses new samples, writes what is queued, closes the files, joins. Idempotent.
    void stop();

    /// Queues `samples` (8 kHz) for the end of `call_id`'s file. False when they were dropped
    /// (queue full, stopped, or an empty call id). Never blocks on the disk.
    bool append(std::string_view call_id, std::span<const std::int16_t> samples);

    /// Waits until everything appended before this call has been written (or failed). False when
    /// the deadline passed first or the writer is not running.
    bool flush(std::chrono::steady_clock::time_point deadline);

    /// The call's audio as floats (sample / 32768). Errc::NotFound when nothing was archived for
    /// it, Errc::Io when the file cannot be read. An odd trailing byte (a sample torn by a
    /// concurrent write) is ignored. Samples still queued are not included: `flush` first.
    [[nodiscard]] base::Result<std::vector<float>> read(std::string_view call_id) const;

    /// `<dir>/<sanitised call id>.s16`.
    [[nodiscard]] std::filesystem::path path_for(std::string_view call_id) const;

    /// A file-name-safe form of a call id: [A-Za-z0-9_-] kept, every other byte as `.xx` (hex),
    /// so distinct ids never share a file; at most 200 characters (longer ids end in a hash).
    [[nodiscard]] static std::string sanitize_call_id(std::string_view call_id);

    [[nodiscard]] AudioArchiveStats stats() const;

    const std::filesystem::path& dir() const { return dir_; }

private:
    struct Chunk {
        std::string call_id;
        std::vector<std::int16_t> samples;
    };

    struct OpenFile {
        std::FILE* file = nullptr;
        std::chrono::steady_clock::time_point last_write{};
    };

    void run();
    void write_chunk(const Chunk& chunk);
    void close_idle(std::chrono::steady_clock::time_point now, bool all);

    const std::filesystem::path dir_;
    const AudioArchiveOptions options_;

    mutable std::mutex mutex_;
    std::condition_variable work_cv_;
    std::condition_variable done_cv_;
    // ---- guarded by mutex_ ----
    std::deque<Chunk> queue_;
    std::size_t queued_samples_ = 0;
    std::uint64_t enqueued_chunks_ = 0;
    std::uint64_t completed_chunks_ = 0;
    AudioArchiveStats stats_{};
    bool started_ = false;
    bool stopping_ = false;
    bool writer_exited_ = false;
    // ---- end guarded ----

    std::unordered_map<std::string, OpenFile> files_;  ///< audio-writer thread only
    std::thread thread_;
};

/// Converts float samples (full scale +-1.0) to int16 with clipping and rounding.
void to_int16(std::span<const float> samples, std::vector<std::int16_t>& out_append);

}  // namespace dvd::media
