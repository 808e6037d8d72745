#pragma once

// Internal to the protocol layer: nlohmann::json access that never throws. Included only by
// protocol .cpp files, so nlohmann stays out of the public headers.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.hpp"

namespace dvd::protocol::detail {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

/// Parses `text` as a JSON object (no exceptions). `what` names the message in errors.
[[nodiscard]] base::Result<Json> parse_object(std::string_view text, std::string_view what);

/// The member `key` of `object`, or nullptr when it is absent or JSON null.
[[nodiscard]] const Json* member(const Json& object, std::string_view key) noexcept;

/// Strict readers (media-stream frames): absent/null -> Errc::MissingField, wrong JSON type ->
/// Errc::WrongType. `path` is the dotted name used in the message, e.g. "media.payload".
[[nodiscard]] base::Result<const Json*> required_object(const Json& object, std::string_view key,
                                                        std::string_view path);
[[nodiscard]] base::Result<std::string_view> required_string(const Json& object,
                                                             std::string_view key,
                                                             std::string_view path);
[[nodiscard]] base::Result<std::optional<std::string_view>> optional_string(const Json& object,
                                                                            std::string_view key,
                                                                            std::string_view path);

/// A JSON string holding a non-negative decimal integer (Telnyx's sequence_number, chunk,
/// timestamp): a JSON number is Errc::WrongType, "", "-1", "1.5", "0x10" or an overflow is
/// Errc::BadValue.
[[nodiscard]] base::Result<uint64_t> required_decimal_string(const Json& object,
                                                             std::string_view key,
                                                             std::string_view path);
[[nodiscard]] base::Result<std::optional<uint64_t>> optional_decimal_string(const Json& object,
                                                                            std::string_view key,
                                                                            std::string_view path);

/// A JSON integer (also a float with an integral value, e.g. 8000.0) within [min, max].
[[nodiscard]] base::Result<int64_t> required_integer(const Json& object, std::string_view key,
                                                     std::string_view path, int64_t min,
                                                     int64_t max);
[[nodiscard]] base::Result<std::optional<int64_t>> optional_integer(const Json& object,
                                                                    std::string_view key,
                                                                    std::string_view path,
                                                                    int64_t min, int64_t max);

/// Parses a non-negative decimal integer without sign, spaces or leading '+'.
[[nodiscard]] std::optional<uint64_t> parse_decimal(std::string_view text) noexcept;

/// Strict field reader over the functions above: each call returns the value or, after the first
/// failure, an empty/default value; the first error is kept. Lets a parser read every field and
/// check once at the end: `if (!reader.ok()) return reader.error();`.
class FieldReader {
public:
    [[nodiscard]] bool ok() const { return !error_; }

    [[nodiscard]] const base::Error& error() const { return *error_; }

    /// Records `error` unless an earlier one is already kept.
    void set_error(base::Error error);

    /// Required object; on failure an empty object, so chained reads stay harmless.
    const Json& object(const Json& parent, std::string_view key, std::string_view path);
    /// Optional object: nullptr when absent or null (an error when present but not an object).
    const Json* optional_object(const Json& parent, std::string_view key, std::string_view path);
    std::string string(const Json& parent, std::string_view key, std::string_view path);
    std::optional<std::string> optional_string(const Json& parent, std::string_view key,
                                               std::string_view path);
    uint64_t decimal_string(const Json& parent, std::string_view key, std::string_view path);
    std::optional<uint64_t> optional_decimal_string(const Json& parent, std::string_view key,
                                                    std::string_view path);
    int64_t integer(const Json& parent, std::string_view key, std::string_view path, int64_t min,
                    int64_t max);
    std::optional<int64_t> optional_integer(const Json& parent, std::string_view key,
                                            std::string_view path, int64_t min, int64_t max);

private:
    template <class T>
    T take(base::Result<T> result, T fallback);

    std::optional<base::Error> error_;
};

/// Serialises without throwing: invalid UTF-8 in strings is replaced by U+FFFD.
[[nodiscard]] std::string dump(const Json& value);
[[nodiscard]] std::string dump(const OrderedJson& value);

/// Lenient readers (webhook payloads): absent/null leaves `out` untouched; a wrong JSON type
/// leaves it untouched and appends "<path>: expected <type>" to `warnings`.
void read_string(const Json& object, std::string_view key, std::string_view path, std::string& out,
                 std::vector<std::string>& warnings);
void read_string(const Json& object, std::string_view key, std::string_view path,
                 std::optional<std::string>& out, std::vector<std::string>& warnings);
void read_bool(const Json& object, std::string_view key, std::string_view path,
               std::optional<bool>& out, std::vector<std::string>& warnings);
void read_number(const Json& object, std::string_view key, std::string_view path,
                 std::optional<double>& out, std::vector<std::string>& warnings);
void read_integer(const Json& object, std::string_view key, std::string_view path,
                  std::optional<int64_t>& out, std::vector<std::string>& warnings);

}  // namespace dvd::protocol::detail
