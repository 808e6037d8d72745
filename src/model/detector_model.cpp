#include "model/detector_model.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>
#include <onnxruntime_cxx_api.h>

namespace dvd::model {
namespace {

using base::Errc;

/// Bytes of /proc/self/cmdline (0 when it cannot be read).
std::size_t command_line_bytes() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::size_t total = 0;
    std::array<char, 4096> buffer{};
    while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
        total += static_cast<std::size_t>(in.gcount());
    }
    return total;
}

/// Runs `fn` to completion on a new thread with a stack of `stack_bytes`; false when no such
/// thread could be started (then `fn` did not run).
template <class Fn>
bool run_with_stack(std::size_t stack_bytes, Fn& fn) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        return false;
    }
    pthread_t thread{};
    const bool started =
            pthread_attr_setstacksize(&attr, stack_bytes) == 0
            && pthread_create(
                       &thread, &attr,
                       [](void* context) -> void* {
                           (*static_cast<Fn*>(context))();
                           return nullptr;
                       },
                       &fn) == 0;
    pthread_attr_destroy(&attr);
    if (started) {
        pthread_join(thread, nullptr);
    }
    return started;
}

// ONNX Runtime wants exactly one environment per process; it is created on first use and lives
// until exit (destroying it while sessions exist is undefined).
//
// Creating it scans the process's command line (/proc/self/cmdline) with a recursive matcher
// that takes about 200 bytes of stack per byte of command line: `analyze` with 500 corpus paths
// (45 kB) overflowed the 8 MB main thread stack. So it is created on a helper thread whose stack
// is sized from the command line, with a wide margin.
Ort::Env& ort_env() {
    static Ort::Env* const env = [] {
        Ort::Env* created = nullptr;
        std::exception_ptr error;
        auto create = [&] {
            try {
                created = new Ort::Env(ORT_LOGGING_LEVEL_WARNING, "dvd");
            } catch (...) {
                error = std::current_exception();
            }
        };
        constexpr std::size_t kBaseStack = std::size_t{16} << 20U;
        constexpr std::size_t kMaxStack = std::size_t{2} << 30U;
        const std::size_t stack = std::min(kMaxStack, kBaseStack + 1024 * command_line_bytes());
        if (!run_with_stack(stack, create)) {
            create();  // no thread could be made: the calling thread's stack will have to do
        }
        if (error) {
            std::rethrow_exception(error);
        }
        return created;
    }();
    return *env;
}

}  // namespace

struct DetectorModel::Impl {
    Ort::Session session{nullptr};
    Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    std::array<const char*, 1> input_names{};
    std::array<const char*, 1> output_names{};
};

DetectorModel::DetectorModel(ModelMetadata metadata, std::unique_ptr<Impl> impl)
    : metadata_(std::move(metadata)), impl_(std::move(impl)) {
    impl_->input_names[0] = metadata_.input_name.c_str();
    impl_->output_names[0] = metadata_.output_name.c_str();
}

DetectorModel::~DetectorModel() = default;

base::Result<std::shared_ptr<const DetectorModel>> DetectorModel::load(
        const std::string& metadata_path) {
    auto metadata = load_metadata(metadata_path);
    if (!metadata) {
        return metadata.error();
    }
    return create(std::move(*metadata));
}

base::Result<std::shared_ptr<const DetectorModel>> DetectorModel::create(ModelMetadata metadata) {
    if (!std::filesystem::exists(metadata.onnx_path)) {
        return base::fail(Errc::NotFound, fmt::format("model file not found: {}", metadata.onnx_path));
    }
    auto impl = std::make_unique<Impl>();
    try {
        Ort::SessionOptions options;
        options.SetIntraOpNumThreads(1);
        options.SetInterOpNumThreads(1);
        options.SetExecutionMode(ORT_SEQUENTIAL);
        options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
        // Each Run is one small window on the caller's thread: no spinning thread pool.
        options.AddConfigEntry("session.intra_op.allow_spinning", "0");
        impl->session = Ort::Session(ort_env(), metadata.onnx_path.c_str(), options);

        const auto name_at = [](std::size_t count, auto&& get) {
            std::vector<std::string> names;
            for (std::size_t i = 0; i < count; ++i) {
                names.emplace_back(get(i).get());
            }
            return names;
        };
        Ort::AllocatorWithDefaultOptions allocator;
        const auto inputs = name_at(impl->session.GetInputCount(), [&](std::size_t i) {
            return impl->session.GetInputNameAllocated(i, allocator);
        });
        const auto outputs = name_at(impl->session.GetOutputCount(), [&](std::size_t i) {
            return impl->session.GetOutputNameAllocated(i, allocator);
        });
        if (inputs.size() != 1 || inputs[0] != metadata.input_name || outputs.size() != 1 ||
            outputs[0] != metadata.output_name) {
            return base::fail(Errc::Corrupt,
                              fmt::format("{}: expected one input '{}' and one output '{}'",
                                          metadata.onnx_path, metadata.input_name,
                                          metadata.output_name));
        }
        const auto shape =
                impl->session.GetInputTypeInfo(0).GetTensorTypeAndShapeInfo().GetShape();
        const int width = dsp::feature_width(metadata.feature);
        if (shape.size() != 3 || (shape[2] > 0 && shape[2] != width)) {
            return base::fail(Errc::Corrupt, fmt::format("{}: input must be [batch, frames, {}]",
                                                         metadata.onnx_path, width));
        }
    } catch (const Ort::Exception& e) {
        return base::fail(Errc::Runtime,
                          fmt::format("cannot load model {}: {}", metadata.onnx_path, e.what()));
    }
    return std::shared_ptr<const DetectorModel>(
            new DetectorModel(std::move(metadata), std::move(impl)));
}

base::Result<float> DetectorModel::logit(std::span<const float> features, int num_frames) const {
    float result = 0.0f;
    if (auto ok = logits(features, 1, num_frames, std::span<float>(&result, 1)); !ok) {
        return ok.error();
    }
    return result;
}

base::Result<void> DetectorModel::logits(std::span<const float> features, int batch, int num_frames,
                                         std::span<float> logits) const {
    const auto width = static_cast<std::size_t>(dsp::feature_width(metadata_.feature));
    if (num_frames < 1 || batch < 1 || logits.size() != static_cast<std::size_t>(batch)
        || features.size()
                   != static_cast<std::size_t>(batch) * static_cast<std::size_t>(num_frames)
                              * width) {
        return base::fail(Errc::InvalidArgument,
                          "logit: features size != batch * num_frames * feature width");
    }
    const std::array<int64_t, 3> shape{batch, num_frames, static_cast<int64_t>(width)};
    try {
        // ONNX Runtime takes a non-const pointer but does not write to input tensors.
        Ort::Value input = Ort::Value::CreateTensor<float>(
                impl_->memory, const_cast<float*>(features.data()), features.size(), shape.data(),
                shape.size());
        const std::array<int64_t, 1> out_shape{batch};
        Ort::Value output = Ort::Value::CreateTensor<float>(
                impl_->memory, logits.data(), logits.size(), out_shape.data(), out_shape.size());
        impl_->session.Run(Ort::RunOptions{nullptr}, impl_->input_names.data(), &input, 1,
                           impl_->output_names.data(), &output, 1);
        return {};
    } catch (const Ort::Exception& e) {
        return base::fail(Errc::Runtime, fmt::format("model inference failed: {}", e.what()));
    }
}

std::string default_model_path() {
    if (const char* env = std::getenv("DVD_MODEL"); env != nullptr && *env != '\0') {
        return env;
    }
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        // build/bin/deepfake-voice-detector -> <repo>/models/detector.json
        const auto candidate = exe.parent_path().parent_path().parent_path() / "models" / "detector.json";
        if (std::filesystem::exists(candidate)) {
            return candidate.string();
        }
        const auto installed = exe.parent_path().parent_path() / "share" / "deepfake-voice-detector" /
                               "detector.json";
        if (std::filesystem::exists(installed)) {
            return installed.string();
        }
    }
    return "models/detector.json";
}

}  // namespace dvd::model
