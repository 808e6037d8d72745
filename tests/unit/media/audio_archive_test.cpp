#include "media/audio_archive.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "media_test_support.hpp"

namespace dvd::media {
namespace {

std::chrono::steady_clock::time_point soon() {
    return std::chrono::steady_clock::now() + std::chrono::seconds(10);
}

TEST(AudioArchive, AppendThenReadRoundTripsAcrossChunksAndCalls) {
    test::TempDir dir;
    AudioArchive archive(dir.path() / "audio");
    ASSERT_TRUE(archive.start());
    const std::vector<std::int16_t> a{0, 1, -1, 32767, -32768, 1234};
    const std::vector<std::int16_t> b{-5, 6};
    EXPECT_TRUE(archive.append("v3:call/one", a));
    EXPECT_TRUE(archive.append("call-two", b));
    EXPECT_TRUE(archive.append("v3:call/one", b));
    ASSERT_TRUE(archive.flush(soon()));
    auto one = archive.read("v3:call/one");
    ASSERT_TRUE(one) << one.error().message;
    ASSERT_EQ(one->size(), a.size() + b.size());
    EXPECT_FLOAT_EQ((*one)[3], 32767.0f / 32768.0f);
    EXPECT_FLOAT_EQ((*one)[4], -1.0f);
    EXPECT_FLOAT_EQ((*one)[7], 6.0f / 32768.0f);
    auto two = archive.read("call-two");
    ASSERT_TRUE(two);
    EXPECT_EQ(two->size(), 2u);
    // Little-endian int16 on disk, 2 bytes per sample.
    EXPECT_EQ(std::filesystem::file_size(archive.path_for("v3:call/one")), 16u);
    std::ifstream raw(archive.path_for("call-two"), std::ios::binary);
    char bytes[2]{};
    raw.read(bytes, 2);
    EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0xFBu);  // -5 = 0xFFFB
    EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 0xFFu);
    const auto stats = archive.stats();
    EXPECT_EQ(stats.appended_samples, 10u);
    EXPECT_EQ(stats.written_samples, 10u);
    EXPECT_EQ(stats.dropped_samples, 0u);
    archive.stop();
    // Reading needs no writer thread.
    EXPECT_TRUE(archive.read("call-two"));
}

TEST(AudioArchive, UnknownCallIsNotFound) {
    test::TempDir dir;
    AudioArchive archive(dir.path());
    ASSERT_TRUE(archive.start());
    auto missing = archive.read("nobody");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, base::make_error_code(base::Errc::NotFound));
}

TEST(AudioArchive, DropsAndCountsWhenTheQueueIsFull) {
    test::TempDir dir;
    AudioArchive archive(dir.path(), AudioArchiveOptions{.queue_capacity_samples = 100});
    // Not started: nothing drains, so the queue fills.
    const std::vector<std::int16_t> chunk(40, 7);
    EXPECT_TRUE(archive.append("c", chunk));
    EXPECT_TRUE(archive.append("c", chunk));
    EXPECT_FALSE(archive.append("c", chunk));
    EXPECT_FALSE(archive.append("", chunk));  // no call id
    auto stats = archive.stats();
    EXPECT_EQ(stats.appended_samples, 80u);
    EXPECT_EQ(stats.dropped_samples, 80u);
    EXPECT_EQ(stats.dropped_chunks, 2u);
    EXPECT_EQ(stats.queued_samples, 80u);
    // Once started, what was queued is written; then there is room again.
    ASSERT_TRUE(archive.start());
    ASSERT_TRUE(archive.flush(soon()));
    EXPECT_TRUE(archive.append("c", chunk));
    ASSERT_TRUE(archive.flush(soon()));
    auto samples = archive.read("c");
    ASSERT_TRUE(samples);
    EXPECT_EQ(samples->size(), 120u);
    archive.stop();
    EXPECT_FALSE(archive.append("c", chunk));  // stopped
}

TEST(AudioArchive, ReadIgnoresATornTrailingByte) {
    test::TempDir dir;
    AudioArchive archive(dir.path());
    {
        std::ofstream out(archive.path_for("torn"), std::ios::binary);
        const char bytes[3]{0x01, 0x00, 0x7F};
        out.write(bytes, 3);
    }
    auto samples = archive.read("torn");
    ASSERT_TRUE(samples);
    ASSERT_EQ(samples->size(), 1u);
    EXPECT_FLOAT_EQ((*samples)[0], 1.0f / 32768.0f);
}

TEST(AudioArchive, SanitisedNamesAreSafeAndDistinct) {
    const std::vector<std::string> ids{
            "v3:abc", "v3.3aabc", "../../etc/passwd",    "a/b",
            "a.2fb",  "",         std::string(500, 'x'), std::string(500, 'x') + "y"};
    std::set<std::string> names;
    for (const auto& id : ids) {
        const auto name = AudioArchive::sanitize_call_id(id);
        EXPECT_LE(name.size(), 200u) << id;
        EXPECT_EQ(name.find('/'), std::string::npos) << id;
        EXPECT_NE(name, "..");
        names.insert(name);
    }
    EXPECT_EQ(names.size(), ids.size());
    EXPECT_EQ(AudioArchive::sanitize_call_id("call-123_ok"), "call-123_ok");
}

TEST(AudioArchive, ToInt16RoundsAndClips) {
    std::vector<std::int16_t> out;
    to_int16(std::vector<float>{0.0f, 1.0f, -1.0f, 2.0f, 0.5f, -0.25f}, out);
    EXPECT_EQ(out, (std::vector<std::int16_t>{0, 32767, -32768, 32767, 16384, -8192}));
}

}  // namespace
}  // namespace dvd::media
