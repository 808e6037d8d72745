#pragma once

#include <memory>
#include <span>
#include <utility>

#include "dsp/feature_extractor.hpp"
#include "dsp/vad.hpp"

namespace dvd::pipeline {

/// Samples in, speech feature frames out: the feature extractor followed by the energy VAD.
/// The one front end used everywhere a model sees audio -- the `features` command that feeds the
/// trainer, `analyze`, `eval` and the live service -- so training and serving features are
/// identical by construction (tests/unit/pipeline checks it end to end).
///
/// Thread ownership: one thread at a time. All state is allocated in the constructor.
class SpeechFrontEnd {
public:
    SpeechFrontEnd(std::shared_ptr<const dsp::FeatureTables> tables, const dsp::VadOptions& vad)
        : extractor_(std::move(tables)), vad_(vad), vad_options_(vad) {}

    int num_features() const { return extractor_.num_features(); }

    /// Feeds 8 kHz samples (any count). Calls `on_speech(std::span<const float> features)` for
    /// each frame the VAD marks as speech, in order. Non-speech frames are counted and dropped
    /// before their features are computed (the VAD needs only the frame's energy), so the
    /// silence of a call costs little.
    template <class Sink>
    void accept(std::span<const float> samples, Sink&& on_speech) {
        extractor_.accept_if(samples, vad_gate(), speech_sink(on_speech));
    }

    /// Ends the stream: the frames still waiting for samples past the end (only with
    /// `band_harmonicity`, see FeatureExtractor::finish) go through the VAD like `accept`'s.
    /// Only `reset` may follow (or another `finish`, which emits nothing).
    template <class Sink>
    void finish(Sink&& on_speech) {
        extractor_.finish_if(vad_gate(), speech_sink(on_speech));
    }

    void reset() {
        extractor_.reset();
        vad_ = dsp::EnergyVad(vad_options_);
        frames_ = 0;
        speech_frames_ = 0;
    }

    long long frames() const { return frames_; }
    long long speech_frames() const { return speech_frames_; }
    std::size_t state_bytes() const { return extractor_.state_bytes() + sizeof(*this); }

private:
    // The extractor's `keep`: counts the frame and asks the VAD, which sees only its energy.
    auto vad_gate() {
        return [this](float energy_db) {
            ++frames_;
            const bool speech = vad_.accept(energy_db);
            speech_frames_ += speech ? 1 : 0;
            return speech;
        };
    }

    // The extractor's sink, called for speech frames only.
    template <class Sink>
    static auto speech_sink(Sink& on_speech) {
        return [&on_speech](std::span<const float> features, float /*energy_db*/) {
            on_speech(features);
        };
    }

    dsp::FeatureExtractor extractor_;
    dsp::EnergyVad vad_;
    dsp::VadOptions vad_options_;
    long long frames_ = 0;
    long long speech_frames_ = 0;
};

}  // namespace dvd::pipeline
