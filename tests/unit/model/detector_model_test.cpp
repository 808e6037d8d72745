#include "model/detector_model.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_paths.hpp"

namespace dvd::model {
namespace {

TEST(DetectorModel, MatchesPyTorchReferenceOutputs) {
    auto model = DetectorModel::load(test::test_model_path());
    ASSERT_TRUE(model) << model.error().message;
    std::ifstream in(test::data_path("model/reference.json"));
    const auto reference = nlohmann::json::parse(in);
    ASSERT_GE(reference["cases"].size(), 3u);
    for (const auto& c : reference["cases"]) {
        const int frames = c["frames"].get<int>();
        const auto input = test::read_f32(test::data_path("model/" + c["input"].get<std::string>()));
        ASSERT_EQ(input.size(), static_cast<std::size_t>(frames) * 60u);
        const auto logit = (*model)->logit(input, frames);
        ASSERT_TRUE(logit) << logit.error().message;
        EXPECT_NEAR(*logit, c["logit"].get<double>(), 1e-4) << "frames=" << frames;
    }
}

TEST(DetectorModel, RejectsWrongInputSize) {
    auto model = DetectorModel::load(test::test_model_path());
    ASSERT_TRUE(model);
    std::vector<float> features(100 * 60);
    EXPECT_FALSE((*model)->logit(features, 99));
    EXPECT_FALSE((*model)->logit({}, 0));
}

class MetadataTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("dvd_metadata_test_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        std::filesystem::copy_file(test::data_path("model/test_detector.onnx"),
                                   dir_ / "test_detector.onnx",
                                   std::filesystem::copy_options::overwrite_existing);
        std::ifstream in(test::test_model_path());
        base_ = nlohmann::json::parse(in);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string write(const nlohmann::json& doc) {
        const auto path = dir_ / "detector.json";
        std::ofstream(path) << doc.dump();
        return path.string();
    }

    std::filesystem::path dir_;
    nlohmann::json base_;
};

TEST_F(MetadataTest, LoadsAndResolvesModelPathBesideJson) {
    auto meta = load_metadata(write(base_));
    ASSERT_TRUE(meta) << meta.error().message;
    EXPECT_EQ(meta->onnx_path, (dir_ / "test_detector.onnx").string());
    EXPECT_DOUBLE_EQ(meta->window_calibration.a, 1.5);
    EXPECT_DOUBLE_EQ(meta->call_calibration.b, 0.1);
    EXPECT_EQ(meta->window.hop_frames, 50);
    EXPECT_EQ(meta->feature.num_filters, 60);
}

TEST_F(MetadataTest, RejectsBadFiles) {
    EXPECT_EQ(load_metadata((dir_ / "missing.json").string()).error().code,
              base::make_error_code(base::Errc::NotFound));
    {
        const auto path = dir_ / "garbage.json";
        std::ofstream(path) << "{not json";
        EXPECT_EQ(load_metadata(path.string()).error().code,
                  base::make_error_code(base::Errc::Corrupt));
    }
    auto doc = base_;
    doc["threshold"] = 1.5;
    auto bad = load_metadata(write(doc));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("threshold"), std::string::npos);

    doc = base_;
    doc["calibration"]["window"]["a"] = -1.0;
    EXPECT_FALSE(load_metadata(write(doc)));

    doc = base_;
    doc["window"]["max_frames"] = 50;  // below min_frames
    EXPECT_FALSE(load_metadata(write(doc)));

    doc = base_;
    doc.erase("calibration");
    EXPECT_FALSE(load_metadata(write(doc)));
}

TEST_F(MetadataTest, MissingOnnxFileIsNotFound) {
    auto doc = base_;
    doc["model"] = "nowhere.onnx";
    auto model = DetectorModel::load(write(doc));
    ASSERT_FALSE(model);
    EXPECT_EQ(model.error().code, base::make_error_code(base::Errc::NotFound));
}

TEST_F(MetadataTest, FrontEndWidthMustMatchTheModelInput) {
    // The test model takes 60 values per frame; a detector.json that adds the 3 excitation
    // values describes another front end, and loading must say so instead of scoring garbage.
    auto doc = base_;
    doc["feature"]["excitation"] = true;
    auto meta = load_metadata(write(doc));
    ASSERT_TRUE(meta);
    EXPECT_TRUE(meta->feature.excitation);
    auto model = DetectorModel::load(write(doc));
    ASSERT_FALSE(model);
    EXPECT_EQ(model.error().code, base::make_error_code(base::Errc::Corrupt));
    EXPECT_NE(model.error().message.find("63"), std::string::npos) << model.error().message;
}

TEST_F(MetadataTest, FineBandsAreReadAndWidenTheFrontEnd) {
    // 6 fine bands x 5 sub-frames make 90 values per frame; the 60-wide test model must refuse.
    auto doc = base_;
    doc["feature"]["fine_bands"] = 6;
    auto meta = load_metadata(write(doc));
    ASSERT_TRUE(meta);
    EXPECT_EQ(meta->feature.fine_bands, 6);
    EXPECT_EQ(dsp::feature_width(meta->feature), 90);
    auto model = DetectorModel::load(write(doc));
    ASSERT_FALSE(model);
    EXPECT_NE(model.error().message.find("90"), std::string::npos) << model.error().message;
    doc["feature"]["fine_bands"] = 99;
    EXPECT_FALSE(load_metadata(write(doc)));
}

TEST_F(MetadataTest, GarbageOnnxFileIsAnError) {
    std::ofstream(dir_ / "test_detector.onnx", std::ios::trunc) << "this is not a model";
    auto model = DetectorModel::load(write(base_));
    ASSERT_FALSE(model);
    EXPECT_EQ(model.error().code, base::make_error_code(base::Errc::Runtime));
}

}  // namespace
}  // namespace dvd::model
