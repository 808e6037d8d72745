#include "media/audio_archive.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "base/log.hpp"

namespace dvd::media {
namespace {

constexpr std::size_t kMaxFileNameChars = 200;
constexpr auto kWriterWakeInterval = std::chrono::milliseconds(1000);

// FNV-1a, for the tail of over-long file names (not security relevant: ids are ours or Telnyx's).
std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t hash = 1469598103934665603ULL;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ULL;
    }
    return hash;
}

bool is_safe(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
}

}  // namespace

void to_int16(std::span<const float> samples, std::vector<std::int16_t>& out_append) {
    out_append.reserve(out_append.size() + samples.size());
    for (const float s : samples) {
        const float scaled = std::clamp(s * 32768.0f, -32768.0f, 32767.0f);
        out_append.push_back(static_cast<std::int16_t>(std::lrint(scaled)));
    }
}

AudioArchive::AudioArchive(std::filesystem::path dir, AudioArchiveOptions options)
    : dir_(std::move(dir)), options_(options) {}

AudioArchive::~AudioArchive() {
    stop();
}

base::Result<void> AudioArchive::start() {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) {
        return base::fail(base::Errc::Io, fmt::format("audio archive: cannot create {}: {}",
                                                      dir_.string(), ec.message()));
    }
    std::lock_guard lock(mutex_);
    if (started_) {
        return base::fail(base::Errc::InvalidArgument, "audio archive: started twice");
    }
    started_ = true;
    thread_ = std::thread([this] { run(); });
    return {};
}

void AudioArchive::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

bool AudioArchive::append(std::string_view call_id, std::span<const std::int16_t> samples) {
    if (samples.empty()) {
        return true;
    }
    std::unique_lock lock(mutex_);
    if (call_id.empty() || stopping_
        || queued_samples_ + samples.size() > options_.queue_capacity_samples) {
        stats_.dropped_samples += samples.size();
        ++stats_.dropped_chunks;
        return false;
    }
    queue_.push_back(Chunk{std::string(call_id), {samples.begin(), samples.end()}});
    queued_samples_ += samples.size();
    stats_.appended_samples += samples.size();
    ++enqueued_chunks_;
    lock.unlock();
    work_cv_.notify_one();
    return true;
}

bool AudioArchive::flush(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (!started_ || writer_exited_) {
        return queue_.empty();
    }
    const std::uint64_t target = enqueued_chunks_;
    return done_cv_.wait_until(lock, deadline, [&] { return completed_chunks_ >= target; });
}

base::Result<std::vector<float>> AudioArchive::read(std::string_view call_id) const {
    const auto path = path_for(call_id);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        return base::fail(base::Errc::NotFound, "no audio archived for this call");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return base::fail(base::Errc::Io, fmt::format("cannot open {}", path.string()));
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        return base::fail(base::Errc::Io, fmt::format("cannot read {}", path.string()));
    }
    // An odd count is a sample torn by a concurrent append: ignore the last byte.
    const std::size_t count = bytes.size() / 2;
    std::vector<float> samples(count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto lo = static_cast<unsigned char>(bytes[2 * i]);
        const auto hi = static_cast<unsigned char>(bytes[2 * i + 1]);
        const auto value = static_cast<std::int16_t>(static_cast<std::uint16_t>(lo | (hi << 8)));
        samples[i] = static_cast<float>(value) / 32768.0f;
    }
    return samples;
}

std::filesystem::path AudioArchive::path_for(std::string_view call_id) const {
    return dir_ / (sanitize_call_id(call_id) + ".s16");
}

std::string AudioArchive::sanitize_call_id(std::string_view call_id) {
    std::string out;
    out.reserve(call_id.size());
    for (const char c : call_id) {
        if (is_safe(c)) {
            out.push_back(c);
        } else {
            fmt::format_to(std::back_inserter(out), ".{:02x}", static_cast<unsigned char>(c));
        }
    }
    if (out.empty()) {
        out.push_back('_');  // (assigning "_" trips GCC 12's -Wrestrict false positive at -O2)
    }
    if (out.size() > kMaxFileNameChars) {
        out = fmt::format("{}~{:016x}", out.substr(0, kMaxFileNameChars - 17), fnv1a(call_id));
    }
    return out;
}

AudioArchiveStats AudioArchive::stats() const {
    std::lock_guard lock(mutex_);
    AudioArchiveStats stats = stats_;
    stats.queued_samples = queued_samples_;
    return stats;
}

void AudioArchive::run() {
    std::vector<Chunk> batch;
    std::unique_lock lock(mutex_);
    for (;;) {
        work_cv_.wait_for(lock, kWriterWakeInterval, [&] { return stopping_ || !queue_.empty(); });
        const bool stopping = stopping_;
        batch.clear();
        while (!queue_.empty()) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
        }
        lock.unlock();
        std::uint64_t written = 0;
        std::uint64_t errors = 0;
        std::size_t taken = 0;
        for (const Chunk& chunk : batch) {
            taken += chunk.samples.size();
            if (files_.count(chunk.call_id) == 0 && files_.size() >= options_.max_open_files) {
                close_idle(std::chrono::steady_clock::now(), false);
            }
            write_chunk(chunk);
            auto it = files_.find(chunk.call_id);
            if (it != files_.end() && it->second.file != nullptr) {
                written += chunk.samples.size();
            } else {
                ++errors;
            }
        }
        for (auto& [id, file] : files_) {
            static_cast<void>(id);
            if (file.file != nullptr) {
                std::fflush(file.file);
            }
        }
        close_idle(std::chrono::steady_clock::now(), stopping);
        lock.lock();
        queued_samples_ -= taken;
        stats_.written_samples += written;
        stats_.write_errors += errors;
        completed_chunks_ += batch.size();
        done_cv_.notify_all();
        if (stopping && queue_.empty()) {
            writer_exited_ = true;
            done_cv_.notify_all();
            break;
        }
    }
}

void AudioArchive::write_chunk(const Chunk& chunk) {
    auto it = files_.find(chunk.call_id);
    if (it == files_.end()) {
        const auto path = path_for(chunk.call_id);
        std::FILE* file = std::fopen(path.c_str(), "ab");
        if (file == nullptr) {
            DVD_LOG_RATE_LIMITED(Media, Error, "audio archive: cannot open {}: {} call_id={}",
                                 path.string(), std::strerror(errno), chunk.call_id);
            return;
        }
        it = files_.emplace(chunk.call_id, OpenFile{file, {}}).first;
    }
    OpenFile& open = it->second;
    // Little-endian int16 on disk, whatever the host order.
    std::array<unsigned char, 2048> buffer{};
    std::size_t used = 0;
    bool ok = true;
    for (const std::int16_t sample : chunk.samples) {
        const auto bits = static_cast<std::uint16_t>(sample);
        buffer[used++] = static_cast<unsigned char>(bits & 0xFFU);
        buffer[used++] = static_cast<unsigned char>(bits >> 8U);
        if (used == buffer.size()) {
            ok = ok && std::fwrite(buffer.data(), 1, used, open.file) == used;
            used = 0;
        }
    }
    if (used > 0) {
        ok = ok && std::fwrite(buffer.data(), 1, used, open.file) == used;
    }
    open.last_write = std::chrono::steady_clock::now();
    if (!ok) {
        DVD_LOG_RATE_LIMITED(Media, Error, "audio archive: write failed: {} call_id={}",
                             std::strerror(errno), chunk.call_id);
        std::fclose(open.file);
        files_.erase(it);
    }
}

void AudioArchive::close_idle(std::chrono::steady_clock::time_point now, bool all) {
    // Beyond max_open_files, the least recently written goes too.
    std::string oldest;
    std::chrono::steady_clock::time_point oldest_time =
            std::chrono::steady_clock::time_point::max();
    for (auto it = files_.begin(); it != files_.end();) {
        if (all || now - it->second.last_write >= options_.idle_close) {
            std::fclose(it->second.file);
            it = files_.erase(it);
            continue;
        }
        if (it->second.last_write < oldest_time) {
            oldest_time = it->second.last_write;
            oldest = it->first;
        }
        ++it;
    }
    if (files_.size() >= options_.max_open_files && !oldest.empty()) {
        auto it = files_.find(oldest);
        std::fclose(it->second.file);
        files_.erase(it);
    }
}

}  // namespace dvd::media
