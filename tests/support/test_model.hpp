#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "dsp/feature_extractor.hpp"
#include "model/detector_model.hpp"
#include "support/test_paths.hpp"

namespace dvd::test {

/// A detector model with the feature tables its front end needs.
struct LoadedModel {
    std::shared_ptr<const model::DetectorModel> model;
    std::shared_ptr<const dsp::FeatureTables> tables;
};

/// Loads `path` (default: the random-weight fixture model); a failure fails the test.
inline LoadedModel load_model(const std::string& path = test_model_path()) {
    auto model = model::DetectorModel::load(path);
    EXPECT_TRUE(model) << model.error().message;
    auto tables = dsp::FeatureTables::create((*model)->metadata().feature);
    EXPECT_TRUE(tables);
    return {*model, *tables};
}

}  // namespace dvd::test
