#include "recordings/archive_file.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace dvd::recordings {
namespace {

using dvd::test::TempDir;

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(RelativePath, CallIdsCannotLeaveTheDirectory) {
    EXPECT_EQ(relative_path("v3:abc-DEF_1.2", 7, AudioFormat::Wav), "v3_abc-DEF_1.2/7.wav");
    EXPECT_EQ(relative_path("../../etc", 1, AudioFormat::Mp3), ".._.._etc/1.mp3");
    EXPECT_EQ(relative_path("..", 2, AudioFormat::Wav), "call/2.wav");
    EXPECT_EQ(relative_path(".", 3, AudioFormat::Wav), "call/3.wav");
    EXPECT_EQ(relative_path("", 4, AudioFormat::Wav), "call/4.wav");
    EXPECT_EQ(relative_path("a/b\\c\nd", 5, AudioFormat::Wav), "a_b_c_d/5.wav");
}

TEST(LooksLike, WavNeedsRiffAndWave) {
    EXPECT_TRUE(looks_like(AudioFormat::Wav, std::string("RIFF\x24\0\0\0WAVEfmt ", 16)));
    EXPECT_TRUE(looks_like(AudioFormat::Wav, std::string("RF64\xff\xff\xff\xffWAVE", 12)));
    EXPECT_FALSE(looks_like(AudioFormat::Wav, "RIFF\x24\0\0\0AVI "));
    EXPECT_FALSE(looks_like(AudioFormat::Wav, "<?xml version="));
    EXPECT_FALSE(looks_like(AudioFormat::Wav, "RIFF"));
    EXPECT_FALSE(looks_like(AudioFormat::Wav, ""));
}

TEST(LooksLike, Mp3NeedsId3OrAFrameSync) {
    EXPECT_TRUE(looks_like(AudioFormat::Mp3, "ID3\x04"));
    EXPECT_TRUE(looks_like(AudioFormat::Mp3, "\xff\xfb\x90\x64"));
    EXPECT_FALSE(looks_like(AudioFormat::Mp3, "\xff\x0b"));
    EXPECT_FALSE(looks_like(AudioFormat::Mp3, "<html>"));
    EXPECT_FALSE(looks_like(AudioFormat::Mp3, ""));
}

TEST(ArchiveFile, CommitPublishesTheWholeFileWithItsSha256) {
    TempDir dir;
    const auto final_path = std::filesystem::path(dir.file("call/1.wav"));
    auto file = ArchiveFile::create(final_path, 1024);
    ASSERT_TRUE(file) << file.error().message;
    EXPECT_TRUE(std::filesystem::exists(final_path.string() + ".part"));
    EXPECT_FALSE(std::filesystem::exists(final_path));
    ASSERT_TRUE(file->write("ab"));
    ASSERT_TRUE(file->write("c"));
    EXPECT_EQ(file->bytes(), 3);
    EXPECT_EQ(file->head(), "abc");
    const auto sha = file->commit();
    ASSERT_TRUE(sha) << sha.error().message;
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    EXPECT_EQ(*sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(read_file(final_path), "abc");
    EXPECT_FALSE(std::filesystem::exists(final_path.string() + ".part"));
}

TEST(ArchiveFile, TooLargeIsRefusedAndAnUncommittedFileLeavesNothing) {
    TempDir dir;
    const auto final_path = std::filesystem::path(dir.file("c/2.wav"));
    {
        auto file = ArchiveFile::create(final_path, 4);
        ASSERT_TRUE(file);
        EXPECT_TRUE(file->write("abcd"));
        EXPECT_FALSE(file->write("e"));
        EXPECT_TRUE(file->too_large());
        EXPECT_NE(file->error().find("larger than 4 bytes"), std::string::npos);
        EXPECT_FALSE(file->write(""));  // refused for good
    }
    EXPECT_FALSE(std::filesystem::exists(final_path));
    EXPECT_FALSE(std::filesystem::exists(final_path.string() + ".part"));
}

TEST(ArchiveFile, UnwritableDirectoryIsAnIoError) {
    TempDir dir;
    {
        std::ofstream blocker(dir.file("blocker"));
        blocker << "a file where a directory should be";
    }
    const auto made = ArchiveFile::create(std::filesystem::path(dir.file("blocker/c/1.wav")), 10);
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code, base::make_error_code(base::Errc::Io));
}

}  // namespace
}  // namespace dvd::recordings
