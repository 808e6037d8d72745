#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "inference/risk_types.hpp"

namespace dvd::inference {

/// Version of the prompt + schema pair below; recorded with every analysis so that a change of
/// wording can be told apart in the data. docs/risk-analysis.md shows the full text.
inline constexpr std::string_view kPromptVersion = "risk-v1";

/// Local limits on the model's answer (checked by `parse_risk_analysis`; not put in the schema,
/// because strict json_schema modes of some servers refuse maxLength/maxItems).
inline constexpr std::size_t kMaxReasoningChars = 2000;
inline constexpr std::size_t kMaxAnalysisIndicators = 10;
inline constexpr std::size_t kMaxIndicatorChars = 200;

/// How the request asks for structured output (telnyx-protocol.md section 6.2).
enum class StructuredOutput {
    GuidedJson,  ///< `guided_json: <schema>` (Telnyx's documented field; vLLM-style servers)
    JsonSchema,  ///< `response_format: {"type":"json_schema","json_schema":{...,"strict":true}}`
                 ///< (OpenAI's form; other OpenAI-compatible servers)
    Both,        ///< both fields, the same schema
};

[[nodiscard]] std::string_view to_string(StructuredOutput mode) noexcept;

/// What goes into the chat-completions request besides the evidence.
struct PromptOptions {
    std::string model{};       ///< AI_MODEL
    double temperature = 0.1;  ///< low: the same evidence should give the same answer
    int max_tokens = 600;
    bool enable_thinking = false;  ///< Telnyx: false skips reasoning (lower latency)
    StructuredOutput structured_output = StructuredOutput::GuidedJson;
    /// Send from/to to the model. false: they are replaced by "redacted" (the country code is
    /// kept), for deployments that must not share phone numbers with the inference provider.
    bool share_phone_numbers = true;
    /// Window probabilities sent (evenly spaced over the call, the last one always included).
    std::size_t max_timeline_points = 24;
};

/// The timeline, summarised for the prompt.
struct TimelineSummary {
    std::size_t windows = 0;
    double min = 0.0;
    double max = 0.0;
    double mean = 0.0;
    double last = 0.0;
    double fraction_above_threshold = 0.0;
    std::vector<double> points{};  ///< at most max_points, evenly spaced, last included
};

/// Summary of `window_probabilities` (non-finite values are skipped).
[[nodiscard]] TimelineSummary summarize_timeline(const std::vector<double>& window_probabilities,
                                                 double threshold, std::size_t max_points);

/// The JSON Schema of the answer (compact JSON): an object with exactly risk_level (enum),
/// escalate (boolean), indicators (array of strings), reasoning (string) and recommended_action
/// (enum), all required, additionalProperties false.
[[nodiscard]] const std::string& risk_analysis_schema_json();

/// The system message: the analyst's role, the fusion rules it must respect and the output
/// contract.
[[nodiscard]] const std::string& system_prompt();

/// The user message: "Evidence (JSON): {...}" with the detector's numbers, the timeline summary,
/// the indicators and the call metadata. InvalidInput when probability/threshold/llr are not
/// finite or out of range.
[[nodiscard]] base::Result<std::string> build_user_prompt(const RiskInput& input,
                                                          const PromptOptions& options);

/// The whole chat-completions request body (compact JSON): model, messages (system + user),
/// temperature, max_tokens, enable_thinking, stream false, and the schema per
/// `structured_output`.
[[nodiscard]] base::Result<std::string> build_request_body(const RiskInput& input,
                                                           const PromptOptions& options);

/// The assistant's text from an OpenAI-style chat completion body: choices[0].message.content (a
/// string, or an array of {type:"text", text} parts joined). BadResponse when the body is not
/// such an object or the content is empty/null; MalformedOutput when finish_reason is "length"
/// (the answer was cut off).
[[nodiscard]] base::Result<std::string> extract_message_content(std::string_view response_body);

/// Parses and validates the assistant's text as a RiskAnalysis. Accepts one JSON object,
/// optionally inside a Markdown code fence (```json ... ``` or ``` ... ```), with blanks around;
/// nothing else. MalformedOutput when it is not one JSON object; SchemaViolation for a missing
/// or extra field, a wrong type, an unknown enum value, an empty reasoning, or a limit above
/// exceeded. Error messages quote at most 80 bytes of the output.
[[nodiscard]] base::Result<RiskAnalysis> parse_risk_analysis(std::string_view content);

}  // namespace dvd::inference
