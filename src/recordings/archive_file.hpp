#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace dvd::recordings {

/// Audio container of a downloaded recording (Telnyx offers WAV and MP3).
enum class AudioFormat { Wav, Mp3 };

[[nodiscard]] std::string_view extension(AudioFormat format) noexcept;

/// Where recording `recording_row_id` of `call_id` lives, relative to RECORDINGS_DIR:
/// "<call directory>/<row id>.<wav|mp3>". The call directory is the call id with every byte
/// outside [A-Za-z0-9._-] replaced by '_' (never "." or ".."; "call" when empty), so that no id
/// can leave the directory; the row id alone keeps names unique.
[[nodiscard]] std::filesystem::path relative_path(std::string_view call_id,
                                                  std::int64_t recording_row_id,
                                                  AudioFormat format);

/// Whether `head` (the first bytes of a body) starts like a file of `format`: WAV "RIFF....WAVE"
/// (RIFF or RF64), MP3 an ID3v2 tag or an MPEG audio frame sync. Guards against storing an
/// error page or a truncated body as evidence. Needs 12 bytes for WAV, 3 for MP3.
[[nodiscard]] bool looks_like(AudioFormat format, std::string_view head) noexcept;

/// Writes one download to "<final>.part", hashing it on the way (SHA-256, libsodium), and
/// publishes it with `commit`: fsync, rename to the final name, fsync of the directory, so that a
/// stored row never points at a partial file, even across a power cut. A sink that is not
/// committed removes its part file. Not thread-safe (one download, one thread).
class ArchiveFile {
public:
    /// Creates the parent directories and opens "<final_path>.part" (truncated).
    [[nodiscard]] static base::Result<ArchiveFile> create(std::filesystem::path final_path,
                                                          std::size_t max_bytes);

    ArchiveFile(ArchiveFile&& other) noexcept;
    ArchiveFile& operator=(ArchiveFile&&) = delete;
    ArchiveFile(const ArchiveFile&) = delete;
    ArchiveFile& operator=(const ArchiveFile&) = delete;
    ~ArchiveFile();

    /// Appends a chunk; false (and `error()` says why) when the body would pass max_bytes or the
    /// write failed. An HttpRequest::body_sink.
    bool write(std::string_view chunk);

    /// The first bytes written (up to 16), for `looks_like`.
    [[nodiscard]] std::string_view head() const noexcept { return head_; }

    [[nodiscard]] std::int64_t bytes() const noexcept { return bytes_; }

    /// Whether a write was refused because the body would pass max_bytes.
    [[nodiscard]] bool too_large() const noexcept { return too_large_; }

    /// Why the last write failed; empty while none has.
    [[nodiscard]] const std::string& error() const noexcept { return error_; }

    /// Flushes, renames into place and returns the lowercase hex SHA-256 of the content.
    [[nodiscard]] base::Result<std::string> commit();

private:
    ArchiveFile(std::filesystem::path final_path, int fd, std::size_t max_bytes);
    void discard() noexcept;

    std::filesystem::path final_path_;
    std::filesystem::path part_path_;
    int fd_ = -1;
    std::size_t max_bytes_ = 0;
    std::int64_t bytes_ = 0;
    std::string head_;
    std::string error_;
    bool too_large_ = false;
    struct Hash;  // libsodium's SHA-256 state, kept out of this header
    std::unique_ptr<Hash> hash_;
};

}  // namespace dvd::recordings
