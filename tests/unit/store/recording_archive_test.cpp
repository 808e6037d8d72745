// Schema version 4: the service's own copy of each recording (RecordingArchive), through the
// Store interface, and the upgrade of a version-3 database.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store_backends.hpp"
#include "store_test_support.hpp"

namespace dvd::store {
namespace {

using test::ok;

class RecordingArchiveTest : public test::StoreContractBase {
protected:
    void SetUp() override {
        StoreContractBase::SetUp();
        ASSERT_TRUE(store_->upsert_call(test::make_call("c1", 1000)));
    }

    std::int64_t add(std::string recording_id, UnixMs saved_at_ms) {
        Recording r;
        r.call_id = "c1";
        r.recording_id = std::move(recording_id);
        r.wav_url = "http://127.0.0.1:1/recordings/" + r.recording_id + ".wav";
        r.saved_at_ms = saved_at_ms;
        return ok(store_->add_recording(r));
    }

    std::vector<std::int64_t> due_ids(UnixMs now_ms) {
        std::vector<std::int64_t> ids;
        for (const auto& r : ok(store_->list_due_recording_archives(now_ms, 10))) {
            ids.push_back(r.id);
        }
        return ids;
    }
};

TEST_P(RecordingArchiveTest, NewRecordingsArePendingAndDueAtOnce) {
    const auto a = add("r-a", 2000);
    const auto b = add("r-b", 3000);
    const auto listed = ok(store_->list_recordings("c1"));
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].archive, RecordingArchive{});
    EXPECT_EQ(listed[0].archive.status, ArchiveStatus::Pending);
    EXPECT_EQ(due_ids(0), (std::vector<std::int64_t>{a, b}));
}

TEST_P(RecordingArchiveTest, RetryIsDueOnlyAtItsTimeAndStoredLeavesTheQueue) {
    const auto a = add("r-a", 2000);
    const auto b = add("r-b", 3000);
    ASSERT_TRUE(store_->update_recording_archive(
            a, {.attempts = 1, .next_attempt_at_ms = 5000, .last_error = "HTTP 503"}));
    EXPECT_EQ(due_ids(4999), (std::vector<std::int64_t>{b}));
    EXPECT_EQ(due_ids(5000), (std::vector<std::int64_t>{b, a}));

    const RecordingArchive stored{.status = ArchiveStatus::Stored,
                                  .attempts = 2,
                                  .file = "c1/1.wav",
                                  .bytes = 44,
                                  .sha256 = std::string(64, 'f'),
                                  .stored_at_ms = 6000};
    ASSERT_TRUE(store_->update_recording_archive(a, stored));
    ASSERT_TRUE(store_->update_recording_archive(
            b, {.status = ArchiveStatus::Failed, .attempts = 1, .last_error = "expired"}));
    EXPECT_TRUE(due_ids(1'000'000).empty());
    const auto listed = ok(store_->list_recordings("c1"));
    EXPECT_EQ(listed.at(0).archive, stored);
    EXPECT_EQ(listed.at(1).archive.status, ArchiveStatus::Failed);
    EXPECT_EQ(listed.at(1).archive.last_error, "expired");
}

TEST_P(RecordingArchiveTest, ARepeatedSavedEventKeepsTheCopy) {
    const auto a = add("r-a", 2000);
    const RecordingArchive stored{.status = ArchiveStatus::Stored,
                                  .attempts = 1,
                                  .file = "c1/1.wav",
                                  .bytes = 44,
                                  .sha256 = std::string(64, '0'),
                                  .stored_at_ms = 2500};
    ASSERT_TRUE(store_->update_recording_archive(a, stored));
    EXPECT_EQ(add("r-a", 2600), a);  // the webhook delivered again: same row
    EXPECT_EQ(ok(store_->list_recordings("c1")).at(0).archive, stored);
}

TEST_P(RecordingArchiveTest, RetentionSeesOnlyOldStoredCopiesOfCallsNotKept) {
    const auto old_copy = add("old", 1000);
    const auto recent = add("recent", 1000);
    const auto pending = add("pending", 1000);
    auto stored_at = [](UnixMs at) {
        return RecordingArchive{.status = ArchiveStatus::Stored,
                                .attempts = 1,
                                .file = "c1/x.wav",
                                .bytes = 10,
                                .sha256 = std::string(64, 'b'),
                                .stored_at_ms = at};
    };
    ASSERT_TRUE(store_->update_recording_archive(old_copy, stored_at(5000)));
    ASSERT_TRUE(store_->update_recording_archive(recent, stored_at(9000)));
    std::vector<std::int64_t> ids;
    for (const auto& r : ok(store_->list_expired_recording_archives(8000, 10))) {
        ids.push_back(r.id);
    }
    EXPECT_EQ(ids, (std::vector<std::int64_t>{old_copy}));

    // A kept copy (a flagged call's evidence) is never listed nor deleted.
    ASSERT_TRUE(store_->keep_recordings("c1"));
    EXPECT_TRUE(ok(store_->list_expired_recording_archives(8000, 10)).empty());
    EXPECT_FALSE(ok(store_->mark_recording_archive_deleted(old_copy)));

    // Unkept again in a second call: deleted once, keeping size, hash and time.
    ASSERT_TRUE(store_->upsert_call(test::make_call("c2", 1000)));
    Recording other;
    other.call_id = "c2";
    other.recording_id = "r2";
    other.saved_at_ms = 1000;
    const auto id2 = ok(store_->add_recording(other));
    ASSERT_TRUE(store_->update_recording_archive(id2, stored_at(4000)));
    EXPECT_TRUE(ok(store_->mark_recording_archive_deleted(id2)));
    EXPECT_FALSE(ok(store_->mark_recording_archive_deleted(id2)));      // once
    EXPECT_FALSE(ok(store_->mark_recording_archive_deleted(pending)));  // never stored
    const auto row = ok(store_->list_recordings("c2")).at(0).archive;
    EXPECT_EQ(row.status, ArchiveStatus::Deleted);
    EXPECT_TRUE(row.file.empty());
    EXPECT_EQ(row.bytes, 10);
    EXPECT_EQ(row.sha256, std::string(64, 'b'));
    EXPECT_EQ(row.stored_at_ms, 4000);
}

TEST_P(RecordingArchiveTest, UnknownIdAndBadLimitAreErrors) {
    const auto missing = store_->update_recording_archive(404, {});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, base::make_error_code(base::Errc::InvalidArgument));
    EXPECT_FALSE(store_->list_due_recording_archives(0, 0));
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordingArchiveTest,
                         ::testing::ValuesIn(test::backends_under_test()), test::backend_name);

}  // namespace
}  // namespace dvd::store
