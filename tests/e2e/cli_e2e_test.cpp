// Runs the built deepfake-voice-detector binary as a user would and checks its output.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/audio_file.hpp"
#include "support/test_paths.hpp"

namespace dvd {
namespace {

struct Output {
    int exit_code = -1;
    std::string out;
};

Output run(const std::string& args) {
    const std::string command = std::string(DVD_EXECUTABLE) + " " + args + " 2>/dev/null";
    Output result;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return result;
    }
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
        result.out.append(buffer, n);
    }
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
    std::vector<nlohmann::json> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
}

class CliE2e : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("dvd_e2e_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        model_ = " --model " + test::test_model_path() + " ";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string wav(const std::string& name, double seconds, unsigned seed, int rate = 8000) {
        const auto path = (dir_ / name).string();
        auto signal = test::speech_like_signal(seconds, seed);
        if (rate != 8000) {
            // Repeat samples to make a 16 kHz file with the same 0-4 kHz content (plus images).
            std::vector<float> up;
            for (const float s : signal) {
                up.push_back(s);
                up.push_back(s);
            }
            signal = up;
        }
        EXPECT_TRUE(audio::write_wav_pcm16(path, signal, rate));
        return path;
    }

    std::filesystem::path dir_;
    std::string model_;
};

TEST_F(CliE2e, AnalyzeScoresAFileCutShortAndWarnsAboutIt) {
    const auto whole = wav("whole.wav", 5.0, 3);
    const auto cut = (dir_ / "cut.wav").string();
    std::filesystem::copy_file(whole, cut);
    std::filesystem::resize_file(cut, 44 + 2 * 8000 * 3);  // 3 s of the 5 s the header declares
    const auto r = run("analyze --jsonl" + model_ + whole + " " + cut);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    const auto lines = json_lines(r.out);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_FALSE(lines[0].contains("warning")) << lines[0].dump();
    ASSERT_TRUE(lines[1]["warning"].is_string()) << lines[1].dump();
    EXPECT_NE(lines[1]["warning"].get<std::string>().find("declares 80000 bytes"),
              std::string::npos);
    EXPECT_NEAR(lines[1]["duration_seconds"].get<double>(), 3.0, 0.01);
    EXPECT_TRUE(lines[1]["score"].is_number()) << lines[1].dump();
    const auto table = run("analyze" + model_ + cut);
    EXPECT_EQ(table.exit_code, 0);
    EXPECT_NE(table.out.find("\twarning: the header declares 80000 bytes"), std::string::npos)
            << table.out;
}

TEST_F(CliE2e, AnalyzeScoresGoodFilesAndReportsBadOnes) {
    const auto good1 = wav("good1.wav", 5.0, 1);
    const auto good2 = wav("good2.wav", 4.0, 2, 16000);
    const auto bad = (dir_ / "bad.wav").string();
    std::ofstream(bad) << "definitely not audio";
    const auto r = run("analyze --jsonl" + model_ + good1 + " " + bad + " " + good2);
    EXPECT_EQ(r.exit_code, 1);
    const auto lines = json_lines(r.out);
    ASSERT_EQ(lines.size(), 3u);
    for (const auto index : {0, 2}) {
        const auto& j = lines[static_cast<std::size_t>(index)];
        EXPECT_FALSE(j.contains("error")) << j.dump();
        ASSERT_TRUE(j["score"].is_number()) << j.dump();
        EXPECT_GE(j["score"].get<double>(), 0.0);
        EXPECT_LE(j["score"].get<double>(), 1.0);
        EXPECT_TRUE(j["llr"].is_number());
        EXPECT_GT(j["speech_seconds"].get<double>(), 2.0);
        const auto verdict = j["verdict"].get<std::string>();
        EXPECT_TRUE(verdict == "human" || verdict == "uncertain" || verdict == "synthetic");
    }
    EXPECT_EQ(lines[0]["file"], good1);
    EXPECT_EQ(lines[1]["file"], bad);
    EXPECT_TRUE(lines[1]["error"].is_string());
    EXPECT_NEAR(lines[2]["duration_seconds"].get<double>(), 4.0, 0.01);
}

TEST_F(CliE2e, AnalyzeTimelineAndEarlyVerdict) {
    const auto file = wav("clip.wav", 8.0, 3);
    const auto full = json_lines(run("analyze --jsonl --timeline" + model_ + file).out);
    ASSERT_EQ(full.size(), 1u);
    const auto& timeline = full[0]["timeline"];
    ASSERT_GE(timeline.size(), 5u);
    EXPECT_EQ(timeline[0]["speech_seconds"].get<double>(), 1.0);
    EXPECT_EQ(timeline.back()["score"], full[0]["score"]);

    const auto early = run("analyze --jsonl --max-speech-seconds 1.5" + model_ + file);
    EXPECT_EQ(early.exit_code, 0);
    const auto j = json_lines(early.out).at(0);
    EXPECT_EQ(j["windows"].get<int>(), 2);
    EXPECT_EQ(j["speech_seconds"].get<double>(), 1.5);
    EXPECT_EQ(j["score"], timeline[1]["score"]) << "an early verdict equals the timeline at 1.5 s";
}

// --indicators adds the service's acoustic indicators of the whole file (docs/indicators.md) and
// changes nothing else.
TEST_F(CliE2e, AnalyzeIndicatorsOfARealVoice) {
    const std::string file = std::string(DVD_SOURCE_DIR) + "/samples/genuine-festvox-ru.wav";
    const auto plain = json_lines(run("analyze --jsonl" + model_ + file).out).at(0);
    const auto r = run("analyze --jsonl --indicators" + model_ + file);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const auto j = json_lines(r.out).at(0);
    EXPECT_FALSE(plain.contains("indicators"));
    EXPECT_EQ(j["score"], plain["score"]);
    const auto& in = j["indicators"];
    ASSERT_TRUE(in.is_object()) << j.dump();
    // One adult male speaker reading: a low pitch, a few % of jitter, a clearly harmonic voice.
    EXPECT_GT(in["pitch_median_hz"].get<double>(), 70.0) << in.dump();
    EXPECT_LT(in["pitch_median_hz"].get<double>(), 180.0) << in.dump();
    EXPECT_GT(in["jitter_local_percent"].get<double>(), 0.1);
    EXPECT_LT(in["jitter_local_percent"].get<double>(), 5.0);
    EXPECT_GT(in["hnr_db"].get<double>(), 3.0);
    EXPECT_NEAR(in["analysed_s"].get<double>(), j["duration_seconds"].get<double>(), 0.1);
}

// The 1,000 files in one run, with paths as long as the corpus's: a command line of
// 120 kB. (ONNX Runtime scans the command line recursively when its environment is created; on
// the main thread's 8 MB stack that crashed above about 40 kB.) Missing files get error lines.
TEST_F(CliE2e, AThousandFilesOnOneCommandLine) {
    std::string args = "analyze --jsonl" + model_ + wav("real.wav", 3.0, 5);
    for (int i = 0; i < 1000; ++i) {
        args += " " + (dir_ / ("missing-clip-with-a-name-as-long-as-the-corpus-paths-"
                               + std::string(40, 'x') + "-" + std::to_string(i) + ".wav"))
                              .string();
    }
    ASSERT_GT(args.size(), 100'000U);
    const auto r = run(args);
    EXPECT_EQ(r.exit_code, 1) << "one error line per missing file, not a crash";
    const auto lines = json_lines(r.out);
    ASSERT_EQ(lines.size(), 1001U);
    EXPECT_FALSE(lines[0].contains("error")) << lines[0].dump();
    EXPECT_TRUE(lines[1000]["error"].is_string());
}

// --files-from adds the paths of a list file (or standard input) after those on the command line.
TEST_F(CliE2e, AnalyzeReadsAFileList) {
    const auto a = wav("a.wav", 3.0, 6);
    const auto b = wav("b.wav", 3.0, 7);
    const auto list = (dir_ / "list.txt").string();
    {
        std::ofstream out(list);
        out << b << "\r\n\n" << (dir_ / "missing.wav").string() << "\n";
    }
    const auto r = run("analyze --jsonl" + model_ + a + " --files-from " + list);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    const auto lines = json_lines(r.out);
    ASSERT_EQ(lines.size(), 3U);
    EXPECT_EQ(lines[0]["file"], a);
    EXPECT_EQ(lines[1]["file"], b);
    EXPECT_FALSE(lines[1].contains("error"));
    EXPECT_TRUE(lines[2]["error"].is_string());

    const auto piped = run("analyze --jsonl" + model_ + "--files-from - < " + list);
    EXPECT_EQ(json_lines(piped.out).size(), 2U);
    EXPECT_EQ(run("analyze --jsonl" + model_ + "--files-from " + list + ".nope").exit_code, 2);
}

TEST_F(CliE2e, TooLittleSpeechIsInsufficient) {
    const auto file = wav("short.wav", 0.6, 4);
    const auto j = json_lines(run("analyze --jsonl" + model_ + file).out).at(0);
    EXPECT_EQ(j["verdict"], "insufficient_speech");
    EXPECT_TRUE(j["score"].is_null());
}

TEST_F(CliE2e, UsageErrorsExitWithTwo) {
    EXPECT_EQ(run("").exit_code, 2);
    EXPECT_EQ(run("no-such-command").exit_code, 2);
    EXPECT_EQ(run("analyze").exit_code, 2);
    EXPECT_EQ(run("analyze --bogus x.wav").exit_code, 2);
    EXPECT_EQ(run("analyze --max-speech-seconds abc x.wav").exit_code, 2);
    EXPECT_EQ(run("analyze --model /nonexistent/detector.json x.wav").exit_code, 2);
    EXPECT_EQ(run("analyze --help").exit_code, 0);
    // serve refuses a bad option before it opens anything.
    for (const char* bad : {"--scoring-threads -2", "--scoring-threads 1.5", "--scoring-threads x",
                            "--scoring-threads 257", "--scoring-spares -1", "--scoring-spares 2.5",
                            "--scoring-spares 4097"}) {
        EXPECT_EQ(run(std::string("serve --port 0 ") + bad).exit_code, 2) << bad;
    }
}

TEST_F(CliE2e, EvalWritesReportAndDetCurve) {
    std::ofstream manifest(dir_ / "manifest.csv");
    manifest << "path,label,split,source,speaker,attack,codec,licence,duration_s\n";
    for (unsigned i = 0; i < 6; ++i) {
        const auto name = "clip" + std::to_string(i) + ".wav";
        wav(name, 4.5 + 0.5 * i, 10 + i);
        manifest << name << ","
                 << (i % 2 == 0 ? "genuine,test,a,s,bonafide"
                     : i < 5    ? "synthetic,test,b,t,tts"
                                : "synthetic,test,c,u,other-tts")
                 << "," << (i < 3 ? "mulaw" : "gsm") << ",GPL,4\n";
    }
    wav("other.wav", 5.0, 30);
    manifest << "other.wav,genuine,train,a,s,bonafide,mulaw,GPL,5\n";
    manifest.close();
    const auto out = dir_ / "eval";
    const auto r = run("eval " + (dir_ / "manifest.csv").string() + " --split test --out " +
                       out.string() + model_);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("EER%"), std::string::npos);
    std::ifstream in(out / "report.json");
    const auto report = nlohmann::json::parse(in);
    EXPECT_EQ(report["clips"].get<int>(), 6);
    const auto& full = report["conditions"]["full"];
    EXPECT_EQ(full["genuine"].get<int>(), 3);
    EXPECT_EQ(full["synthetic"].get<int>(), 3);
    EXPECT_TRUE(full["eer"].is_number());
    EXPECT_TRUE(full["cllr"].is_number());
    ASSERT_TRUE(full["per_attack"].contains("tts"));
    ASSERT_TRUE(full["per_attack"].contains("other-tts"));
    // With two attacks, the pooled EER without one is the other's EER against the genuine clips.
    const auto& tts = full["per_attack"]["tts"];
    const auto& other = full["per_attack"]["other-tts"];
    EXPECT_EQ(tts["synthetic"].get<int>(), 2);
    ASSERT_TRUE(tts["pooled_eer_without"].is_number());
    EXPECT_EQ(tts["pooled_eer_without"], other["eer"]);
    EXPECT_EQ(other["pooled_eer_without"], tts["eer"]);
    EXPECT_NE(r.out.find("other-tts"), std::string::npos) << r.out;
    EXPECT_TRUE(full["per_codec"].contains("gsm"));
    // per source package: "a" holds the three genuine clips, "b" and "c" the synthetic ones
    ASSERT_TRUE(full["per_source"].contains("a"));
    EXPECT_EQ(full["per_source"]["a"]["genuine"].get<int>(), 3);
    EXPECT_EQ(full["per_source"]["a"]["synthetic"].get<int>(), 0);
    EXPECT_EQ(full["per_source"]["a"]["fa_rate"], full["fa_rate"]);
    EXPECT_EQ(full["per_source"]["b"]["synthetic"].get<int>(), 2);
    EXPECT_EQ(full["per_source"]["c"]["synthetic"].get<int>(), 1);
    for (const char* c : {"1s", "2s", "4s"}) {
        EXPECT_TRUE(report["conditions"].contains(c)) << c;
    }
    EXPECT_GT(std::filesystem::file_size(out / "det.png"), 1000u);
}

TEST_F(CliE2e, FeaturesDumpsSpeechFramesWithIndex) {
    wav("a.wav", 3.0, 40);
    wav("b.wav", 2.0, 41);
    std::ofstream(dir_ / "m.csv") << "path,label,split,source,speaker,attack,codec\n"
                                  << "a.wav,genuine,train,s1,p1,bonafide,mulaw\n"
                                  << "b.wav,synthetic,dev,s2,p2,espeak-ng,gsm\n";
    const auto out = dir_ / "feat";
    EXPECT_EQ(run("features " + (dir_ / "m.csv").string() + " --out " + out.string()).exit_code, 0);
    std::ifstream index(out / "index.csv");
    std::string header;
    std::string a;
    std::string b;
    std::getline(index, header);
    std::getline(index, a);
    std::getline(index, b);
    EXPECT_EQ(header, "clip,offset_frames,num_frames,label,split,source,speaker,attack,codec");
    EXPECT_NE(b.find(",synthetic,dev,s2,p2,espeak-ng,gsm"), std::string::npos) << b;
    const auto num_frames = [](const std::string& row) {  // third column
        std::istringstream fields(row);
        std::string field;
        for (int i = 0; i < 3; ++i) {
            std::getline(fields, field, ',');
        }
        return std::stoll(field);
    };
    const auto frames_a = num_frames(a);
    const auto frames_b = num_frames(b);
    EXPECT_GT(frames_a, 150);
    EXPECT_GT(frames_b, 100);
    EXPECT_EQ(std::filesystem::file_size(out / "features.f32"),
              static_cast<std::uintmax_t>((frames_a + frames_b) * 60 * 4));

    // --fine-bands 6: the same speech frames, 30 fine values more per row, described in
    // front_end.json for the trainer.
    const auto fine = dir_ / "fine";
    EXPECT_EQ(run("features " + (dir_ / "m.csv").string() + " --fine-bands 6 --out "
                  + fine.string())
                      .exit_code,
              0);
    EXPECT_EQ(std::filesystem::file_size(fine / "features.f32"),
              static_cast<std::uintmax_t>((frames_a + frames_b) * 90 * 4));
    std::ifstream front_end_in(fine / "front_end.json");
    const auto front_end = nlohmann::json::parse(front_end_in);
    EXPECT_EQ(front_end.at("fine_bands"), 6);
    EXPECT_EQ(front_end.at("width"), 90);
    EXPECT_EQ(run("features " + (dir_ / "m.csv").string() + " --fine-bands 99 --out "
                  + (dir_ / "bad").string())
                      .exit_code,
              2);
}

}  // namespace
}  // namespace dvd

namespace dvd {
namespace {

// The shipped model on the bundled sample calls (samples/LICENCES.md): the three synthetic voices
// `make run` plays (espeak-ng, HiFi-GAN, festival HTS, an attack family training never saw) are
// flagged and the genuine festvox-ru reader is called human. The genuine codec2-examples
// recording (a codec test file, the genuine test domain the detector trusts least) is flagged
// too: P 0.91 against the threshold 0.796 of the pair shipped in the twenty-second session, one of
// the five genuine test clips (0.9 %) it flags; the pair before left it 0.006 under its
// threshold. Both genuine samples still score below every synthetic one. A retrained model that
// changes any of this needs a look.
TEST(ShippedModelE2e, FlagsTheSyntheticSamplesAndRanksTheGenuineOnesBelowThem) {
    const std::string samples = std::string(DVD_SOURCE_DIR) + "/samples/";
    const auto r = run("analyze --jsonl --model " + std::string(DVD_SOURCE_DIR) +
                       "/models/detector.json " + samples + "genuine-festvox-ru.wav " + samples +
                       "synthetic-espeak-ng.wav " + samples + "synthetic-festival-hts.wav " +
                       samples + "synthetic-hifigan.wav " + samples + "genuine-codec2-examples.wav");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    const auto lines = json_lines(r.out);
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[0]["verdict"], "human") << lines[0].dump();
    EXPECT_LT(lines[0]["score"].get<double>(), lines[0]["threshold"].get<double>());
    for (const std::size_t i : {1u, 2u, 3u}) {
        EXPECT_EQ(lines[i]["verdict"], "synthetic") << lines[i].dump();
        EXPECT_GE(lines[i]["score"].get<double>(), lines[i]["threshold"].get<double>());
        for (const std::size_t genuine : {0u, 4u}) {
            EXPECT_LT(lines[genuine]["llr"].get<double>(), lines[i]["llr"].get<double>())
                    << lines[genuine].dump() << " " << lines[i].dump();
        }
    }
    EXPECT_EQ(lines[4]["verdict"], "synthetic") << lines[4].dump();
    EXPECT_GT(lines[4]["llr"].get<double>(), lines[0]["llr"].get<double>() + 3.0)
            << lines[4].dump();
}

}  // namespace
}  // namespace dvd
