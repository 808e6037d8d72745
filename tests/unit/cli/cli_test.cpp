#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "audio/audio_file.hpp"
#include "cli/args.hpp"
#include "cli/clip_scoring.hpp"
#include "cli/commands.hpp"
#include "cli/manifest.hpp"
#include "support/test_paths.hpp"
#include "support/temp_dir.hpp"

namespace dvd::cli {
namespace {

using dvd::test::TempDir;

TEST(Args, ParsesFlagsOptionsAndPositionals) {
    auto args = Args::parse({"a.wav", "--jsonl", "--jobs", "3", "--max-speech-seconds=2.5", "b.wav"},
                            {"jsonl"}, {"jobs", "max-speech-seconds"});
    ASSERT_TRUE(args);
    EXPECT_TRUE(args->has("jsonl"));
    EXPECT_EQ(args->positional(), (std::vector<std::string>{"a.wav", "b.wav"}));
    EXPECT_EQ(*args->number("jobs", 1), 3.0);
    EXPECT_EQ(*args->number("max-speech-seconds", 0), 2.5);
    EXPECT_EQ(*args->number("absent", 7), 7.0);
}

TEST(Args, TakeRepeatedRemovesEveryOccurrenceInOrder) {
    std::vector<std::string> args{"--wav", "a.wav", "--speed", "2", "--wav=b.wav", "x", "--wav"};
    EXPECT_EQ(Args::take_repeated(args, "--wav"), (std::vector<std::string>{"a.wav", "b.wav"}));
    // A trailing `--wav` without a value stays, so the parser reports it.
    EXPECT_EQ(args, (std::vector<std::string>{"--speed", "2", "x", "--wav"}));
}

TEST(Args, RejectsUnknownOptionsMissingValuesAndNonNumbers) {
    EXPECT_FALSE(Args::parse({"--bogus"}, {"jsonl"}, {}));
    EXPECT_FALSE(Args::parse({"--jobs"}, {}, {"jobs"}));
    auto args = Args::parse({"--jobs", "many"}, {}, {"jobs"});
    ASSERT_TRUE(args);
    EXPECT_FALSE(args->number("jobs", 1));
}

TEST(Manifest, SplitsQuotedCsvFields) {
    EXPECT_EQ(split_csv_line(R"(a,"b,c","d ""e""",)"),
              (std::vector<std::string>{"a", "b,c", "d \"e\"", ""}));
    EXPECT_EQ(csv_field("plain"), "plain");
    EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
    EXPECT_EQ(split_csv_line(csv_field("x \"y\", z"))[0], "x \"y\", z");
}

TEST(Manifest, ReadsColumnsAndResolvesPaths) {
    TempDir dir;
    std::ofstream(dir.path() / "m.csv") << "path,label,split,attack,codec\n"
                                        << "clips/a.wav,genuine,train,bonafide,mulaw\n"
                                        << "/abs/b.wav,synthetic,test,espeak-ng,gsm\n";
    auto m = read_manifest((dir.path() / "m.csv").string());
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->size(), 2u);
    EXPECT_EQ((*m)[0].path, (dir.path() / "clips/a.wav").string());
    EXPECT_FALSE((*m)[0].is_synthetic());
    EXPECT_EQ((*m)[1].path, "/abs/b.wav");
    EXPECT_EQ((*m)[1].attack, "espeak-ng");
    EXPECT_EQ((*m)[1].codec, "gsm");
}

TEST(Manifest, RejectsBadLabelsAndHeaders) {
    TempDir dir;
    std::ofstream(dir.path() / "bad_label.csv") << "path,label\nx.wav,fake\n";
    auto m = read_manifest((dir.path() / "bad_label.csv").string());
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message.find(":2:"), std::string::npos) << m.error().message;
    std::ofstream(dir.path() / "no_label.csv") << "path,split\nx.wav,train\n";
    EXPECT_FALSE(read_manifest((dir.path() / "no_label.csv").string()));
    EXPECT_FALSE(read_manifest((dir.path() / "absent.csv").string()));
}

// The trainer learns from what `features` dumps; the service scores what StreamingScorer feeds
// the model. Both must be the same numbers for the same audio, for the fixture model and for the
// shipped one (whose front end adds fine values and band harmonicity, which holds a stream's
// last frame back until `finish`).
class FeaturesCommand : public ::testing::TestWithParam<std::string> {};

TEST_P(FeaturesCommand, DumpEqualsWhatTheServingScorerFeedsTheModel) {
    const std::string model_path = GetParam();
    TempDir dir;
    const auto wav = dir.path() / "clip.wav";
    ASSERT_TRUE(audio::write_wav_pcm16(wav.string(), test::speech_like_signal(6.0, 21), 8000));
    std::ofstream(dir.path() / "m.csv") << "path,label,split\nclip.wav,genuine,train\n";
    const auto out = dir.path() / "features";
    ASSERT_EQ(run_features({(dir.path() / "m.csv").string(), "--out", out.string(), "--model",
                            model_path, "--jobs", "1"}),
              0);
    const auto dumped = test::read_f32((out / "features.f32").string());
    std::ifstream index(out / "index.csv");
    std::string header;
    std::string row;
    std::getline(index, header);
    std::getline(index, row);
    const auto fields = split_csv_line(row);
    ASSERT_EQ(fields.size(), 9u);
    const auto num_frames = std::stoll(fields[2]);

    auto detector = load_detector(model_path);
    ASSERT_TRUE(detector);
    const auto width = static_cast<std::size_t>(detector->tables->num_features());
    ASSERT_EQ(dumped.size(), static_cast<std::size_t>(num_frames) * width);
    auto samples = audio::read_audio_file(wav.string());
    ASSERT_TRUE(samples);
    pipeline::ScorerOptions options;
    options.hop_frames = 7;  // a window ends near the stream's end, on a frame `finish` emits
    pipeline::StreamingScorer scorer(detector->model, detector->tables, options);
    int windows = 0;
    long long last_end = 0;
    const auto check = [&](const pipeline::WindowScore& w, const pipeline::CallScore&) {
        // Every window the model sees is exactly the dumped rows ending at that speech frame.
        const auto window = scorer.last_window();
        ASSERT_EQ(window.size(), static_cast<std::size_t>(w.num_frames) * width);
        const std::size_t begin_value =
                static_cast<std::size_t>(w.end_speech_frame - w.num_frames) * width;
        ASSERT_LE(begin_value + window.size(), dumped.size());
        for (std::size_t i = 0; i < window.size(); ++i) {
            ASSERT_EQ(window[i], dumped[begin_value + i]) << "window " << windows << " value " << i;
        }
        last_end = w.end_speech_frame;
        ++windows;
    };
    ASSERT_TRUE(scorer.accept(*samples, check));
    ASSERT_TRUE(scorer.finish(check));
    EXPECT_GE(windows, 5);
    EXPECT_GT(last_end, num_frames - 7);
    EXPECT_EQ(static_cast<long long>(scorer.call().speech_seconds * 100.0 + 0.5), num_frames);
}

INSTANTIATE_TEST_SUITE_P(Models, FeaturesCommand,
                         ::testing::Values(test::test_model_path(),
                                           std::string(DVD_SOURCE_DIR) + "/models/detector.json"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                             return std::string(param.index == 0 ? "Fixture" : "Shipped");
                         });

TEST(ClipScorer, ReportsUnreadableFilesAsErrors) {
    auto detector = load_detector(test::test_model_path());
    ASSERT_TRUE(detector);
    ClipScorer scorer(detector->model, detector->tables, {});
    TempDir dir;
    std::ofstream(dir.path() / "garbage.wav") << "RIFF....WAVEfmt garbage";
    const auto bad = scorer.score_file((dir.path() / "garbage.wav").string());
    EXPECT_FALSE(bad.ok());
    EXPECT_FALSE(bad.error.empty());
    const auto missing = scorer.score_file((dir.path() / "missing.wav").string());
    EXPECT_FALSE(missing.ok());
}

TEST(ClipScorer, CallAtSpeechFramesUsesOnlyEarlierWindows) {
    auto detector = load_detector(test::test_model_path());
    ASSERT_TRUE(detector);
    ClipScorer scorer(detector->model, detector->tables, {});
    const auto r = scorer.score_samples("x", test::speech_like_signal(8.0, 22));
    ASSERT_TRUE(r.ok());
    ASSERT_GE(r.windows.size(), 4u);
    EXPECT_EQ(r.call_at_speech_frames(99), nullptr);
    ASSERT_NE(r.call_at_speech_frames(100), nullptr);
    EXPECT_EQ(r.call_at_speech_frames(100)->windows, 1);
    EXPECT_EQ(r.call_at_speech_frames(199)->windows, 2);
    const auto speech_frames = std::llround(r.call.speech_seconds * 100.0);
    EXPECT_EQ(r.call_at_speech_frames(speech_frames)->llr, r.call.llr);
    EXPECT_EQ(r.call_at_speech_frames(speech_frames + 1), nullptr) << "clip has less speech";
}

}  // namespace
}  // namespace dvd::cli
