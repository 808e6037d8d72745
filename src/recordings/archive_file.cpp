#include "recordings/archive_file.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <unistd.h>

#include "base/check.hpp"

namespace dvd::recordings {
namespace {

constexpr std::size_t kHeadBytes = 16;

base::Error io_error(std::string_view what, const std::filesystem::path& path, int error) {
    return base::fail(base::Errc::Io,
                      fmt::format("{} {}: {}", what, path.string(), std::strerror(error)));
}

bool fsync_directory(const std::filesystem::path& directory) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    return synced;
}

}  // namespace

struct ArchiveFile::Hash {
    crypto_hash_sha256_state state{};
};

std::string_view extension(AudioFormat format) noexcept {
    return format == AudioFormat::Mp3 ? "mp3" : "wav";
}

std::filesystem::path relative_path(std::string_view call_id, std::int64_t recording_row_id,
                                    AudioFormat format) {
    std::string directory;
    directory.reserve(call_id.size());
    for (const char c : call_id) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                           || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        directory.push_back(plain ? c : '_');
    }
    if (directory.empty() || directory == "." || directory == "..") {
        directory = "call";
    }
    return std::filesystem::path(directory)
           / fmt::format("{}.{}", recording_row_id, extension(format));
}

bool looks_like(AudioFormat format, std::string_view head) noexcept {
    if (format == AudioFormat::Wav) {
        return head.size() >= 12 && (head.starts_with("RIFF") || head.starts_with("RF64"))
               && head.substr(8, 4) == "WAVE";
    }
    if (head.starts_with("ID3")) {
        return true;
    }
    return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0xFF
           && (static_cast<unsigned char>(head[1]) & 0xE0) == 0xE0;
}

base::Result<ArchiveFile> ArchiveFile::create(std::filesystem::path final_path,
                                              std::size_t max_bytes) {
    // sodium_init is thread-safe and idempotent; < 0 means the library cannot work at all.
    static const int sodium = sodium_init();
    DVD_CHECK(sodium >= 0, "libsodium failed to initialise");
    std::error_code ec;
    std::filesystem::create_directories(final_path.parent_path(), ec);
    if (ec) {
        return base::fail(
                base::Errc::Io,
                fmt::format("creating {}: {}", final_path.parent_path().string(), ec.message()));
    }
    std::filesystem::path part = final_path;
    part += ".part";
    const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        return io_error("opening", part, errno);
    }
    return ArchiveFile(std::move(final_path), fd, max_bytes);
}

ArchiveFile::ArchiveFile(std::filesystem::path final_path, int fd, std::size_t max_bytes)
    : final_path_(std::move(final_path)),
      fd_(fd),
      max_bytes_(max_bytes),
      hash_(std::make_unique<Hash>()) {
    part_path_ = final_path_;
    part_path_ += ".part";
    crypto_hash_sha256_init(&hash_->state);
}

ArchiveFile::ArchiveFile(ArchiveFile&& other) noexcept
    : final_path_(std::move(other.final_path_)),
      part_path_(std::move(other.part_path_)),
      fd_(std::exchange(other.fd_, -1)),
      max_bytes_(other.max_bytes_),
      bytes_(other.bytes_),
      head_(std::move(other.head_)),
      error_(std::move(other.error_)),
      too_large_(other.too_large_),
      hash_(std::move(other.hash_)) {}

ArchiveFile::~ArchiveFile() {
    discard();
}

void ArchiveFile::discard() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
        std::error_code ignored;
        std::filesystem::remove(part_path_, ignored);
    }
}

bool ArchiveFile::write(std::string_view chunk) {
    if (fd_ < 0 || !error_.empty()) {
        return false;
    }
    if (chunk.size() > max_bytes_ - static_cast<std::size_t>(bytes_)) {
        error_ = fmt::format("the recording is larger than {} bytes", max_bytes_);
        too_large_ = true;
        return false;
    }
    if (head_.size() < kHeadBytes) {
        head_.append(chunk.substr(0, kHeadBytes - head_.size()));
    }
    crypto_hash_sha256_update(&hash_->state, reinterpret_cast<const unsigned char*>(chunk.data()),
                              chunk.size());
    while (!chunk.empty()) {
        const ssize_t n = ::write(fd_, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error_ = io_error("writing", part_path_, n < 0 ? errno : EIO).message;
            return false;
        }
        chunk.remove_prefix(static_cast<std::size_t>(n));
        bytes_ += n;
    }
    return true;
}

base::Result<std::string> ArchiveFile::commit() {
    DVD_CHECK(fd_ >= 0, "commit() on a closed ArchiveFile");
    if (!error_.empty()) {
        discard();
        return base::fail(base::Errc::Io, error_);
    }
    if (::fsync(fd_) != 0) {
        const int error = errno;
        discard();
        return io_error("syncing", part_path_, error);
    }
    ::close(std::exchange(fd_, -1));
    if (::rename(part_path_.c_str(), final_path_.c_str()) != 0) {
        const int error = errno;
        std::error_code ignored;
        std::filesystem::remove(part_path_, ignored);
        return io_error("renaming into place", final_path_, error);
    }
    // Best effort: the rename is durable once the directory entry is.
    static_cast<void>(fsync_directory(final_path_.parent_path()));
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256_final(&hash_->state, digest.data());
    std::string hex(digest.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
    hex.pop_back();
    return hex;
}

}  // namespace dvd::recordings
