// Replies of AI Inference (an OpenAI-compatible chat completion) and the assistant's text in
// them: a model may answer anything. Both parsers return a value or an error, and an accepted
// analysis is within the schema.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "inference/risk_prompt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dvd::inference;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (const auto content = extract_message_content(text)) {
        DVD_FUZZ_CHECK(!content->empty());
        static_cast<void>(parse_risk_analysis(*content));
    }
    if (const auto analysis = parse_risk_analysis(text)) {
        DVD_FUZZ_CHECK(!analysis->reasoning.empty());
    }
    return 0;
}
