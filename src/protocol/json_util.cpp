#include "protocol/json_util.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "protocol/errc.hpp"

namespace dvd::protocol::detail {
namespace {

base::Error missing(std::string_view path) {
    return fail(Errc::MissingField, fmt::format("missing field '{}'", path));
}

base::Error wrong_type(std::string_view path, std::string_view expected, const Json& value) {
    return fail(Errc::WrongType,
                fmt::format("field '{}' must be {}, got {}", path, expected, value.type_name()));
}

// Integral value of a JSON number, if it has one that fits int64_t.
std::optional<int64_t> integral(const Json& value) noexcept {
    if (value.is_number_integer()) {
        return value.get<int64_t>();
    }
    if (value.is_number_unsigned()) {
        const auto u = value.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
            return std::nullopt;
        }
        return static_cast<int64_t>(u);
    }
    if (value.is_number_float()) {
        const auto d = value.get<double>();
        // 2^63 is exactly representable; anything at or above it does not fit.
        if (std::isfinite(d) && std::floor(d) == d && d >= -9.2233720368547758e18
            && d < 9.2233720368547758e18) {
            return static_cast<int64_t>(d);
        }
    }
    return std::nullopt;
}

}  // namespace

base::Result<Json> parse_object(std::string_view text, std::string_view what) {
    Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return fail(Errc::MalformedJson, fmt::format("{} is not valid JSON", what));
    }
    if (!value.is_object()) {
        return fail(Errc::MalformedJson,
                    fmt::format("{} must be a JSON object, got {}", what, value.type_name()));
    }
    return value;
}

const Json* member(const Json& object, std::string_view key) noexcept {
    if (!object.is_object()) {
        return nullptr;
    }
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return nullptr;
    }
    return &*it;
}

base::Result<const Json*> required_object(const Json& object, std::string_view key,
                                          std::string_view path) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return missing(path);
    }
    if (!value->is_object()) {
        return wrong_type(path, "an object", *value);
    }
    return value;
}

base::Result<std::string_view> required_string(const Json& object, std::string_view key,
                                               std::string_view path) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return missing(path);
    }
    if (!value->is_string()) {
        return wrong_type(path, "a string", *value);
    }
    return std::string_view(value->get_ref<const std::string&>());
}

base::Result<std::optional<std::string_view>> optional_string(const Json& object,
                                                              std::string_view key,
                                                              std::string_view path) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return std::optional<std::string_view>{};
    }
    if (!value->is_string()) {
        return wrong_type(path, "a string", *value);
    }
    return std::optional<std::string_view>(value->get_ref<const std::string&>());
}

std::optional<uint64_t> parse_decimal(std::string_view text) noexcept {
    if (text.empty() || text.size() > 20) {
        return std::nullopt;
    }
    uint64_t result = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        const auto digit = static_cast<uint64_t>(c - '0');
        if (result > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
            return std::nullopt;
        }
        result = result * 10 + digit;
    }
    return result;
}

base::Result<uint64_t> required_decimal_string(const Json& object, std::string_view key,
                                               std::string_view path) {
    auto text = required_string(object, key, path);
    if (!text) {
        return text.error();
    }
    const auto value = parse_decimal(*text);
    if (!value) {
        return fail(Errc::BadValue,
                    fmt::format("field '{}' must be a decimal integer string, got \"{}\"", path,
                                text->substr(0, 32)));
    }
    return *value;
}

base::Result<std::optional<uint64_t>> optional_decimal_string(const Json& object,
                                                              std::string_view key,
                                                              std::string_view path) {
    if (member(object, key) == nullptr) {
        return std::optional<uint64_t>{};
    }
    auto value = required_decimal_string(object, key, path);
    if (!value) {
        return value.error();
    }
    return std::optional<uint64_t>(*value);
}

base::Result<int64_t> required_integer(const Json& object, std::string_view key,
                                       std::string_view path, int64_t min, int64_t max) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return missing(path);
    }
    if (!value->is_number()) {
        return wrong_type(path, "a number", *value);
    }
    const auto v = integral(*value);
    if (!v || *v < min || *v > max) {
        return fail(Errc::BadValue, fmt::format("field '{}' must be an integer in [{}, {}], got {}",
                                                path, min, max, dump(*value)));
    }
    return *v;
}

base::Result<std::optional<int64_t>> optional_integer(const Json& object, std::string_view key,
                                                      std::string_view path, int64_t min,
                                                      int64_t max) {
    if (member(object, key) == nullptr) {
        return std::optional<int64_t>{};
    }
    auto value = required_integer(object, key, path, min, max);
    if (!value) {
        return value.error();
    }
    return std::optional<int64_t>(*value);
}

void FieldReader::set_error(base::Error error) {
    if (!error_) {
        error_ = std::move(error);
    }
}

template <class T>
T FieldReader::take(base::Result<T> result, T fallback) {
    if (!result) {
        set_error(result.error());
        return fallback;
    }
    return std::move(*result);
}

const Json& FieldReader::object(const Json& parent, std::string_view key, std::string_view path) {
    static const Json kEmpty = Json::object();
    return *take(required_object(parent, key, path), &kEmpty);
}

const Json* FieldReader::optional_object(const Json& parent, std::string_view key,
                                         std::string_view path) {
    if (member(parent, key) == nullptr) {
        return nullptr;
    }
    return take<const Json*>(required_object(parent, key, path), nullptr);
}

std::string FieldReader::string(const Json& parent, std::string_view key, std::string_view path) {
    return std::string(take(required_string(parent, key, path), std::string_view()));
}

std::optional<std::string> FieldReader::optional_string(const Json& parent, std::string_view key,
                                                        std::string_view path) {
    const auto text =
            take(detail::optional_string(parent, key, path), std::optional<std::string_view>());
    return text ? std::optional<std::string>(*text) : std::nullopt;
}

uint64_t FieldReader::decimal_string(const Json& parent, std::string_view key,
                                     std::string_view path) {
    return take(required_decimal_string(parent, key, path), uint64_t{0});
}

std::optional<uint64_t> FieldReader::optional_decimal_string(const Json& parent,
                                                             std::string_view key,
                                                             std::string_view path) {
    return take(detail::optional_decimal_string(parent, key, path), std::optional<uint64_t>());
}

int64_t FieldReader::integer(const Json& parent, std::string_view key, std::string_view path,
                             int64_t min, int64_t max) {
    return take(required_integer(parent, key, path, min, max), int64_t{0});
}

std::optional<int64_t> FieldReader::optional_integer(const Json& parent, std::string_view key,
                                                     std::string_view path, int64_t min,
                                                     int64_t max) {
    return take(detail::optional_integer(parent, key, path, min, max), std::optional<int64_t>());
}

std::string dump(const Json& value) {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string dump(const OrderedJson& value) {
    return value.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

namespace {

// Reads object[key] into `out` when it holds a `Value` (checked by `is_type`); a member of another
// JSON type is skipped with a warning naming `path` and what was expected.
template <class Value, class Out, class IsType>
void read_typed(const Json& object, std::string_view key, std::string_view path, Out& out,
                std::vector<std::string>& warnings, IsType is_type, std::string_view expected) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return;
    }
    if (!is_type(*value)) {
        warnings.push_back(
                fmt::format("{}: expected {}, got {}", path, expected, value->type_name()));
        return;
    }
    out = value->get<Value>();
}

bool is_string(const Json& v) {
    return v.is_string();
}

}  // namespace

void read_string(const Json& object, std::string_view key, std::string_view path, std::string& out,
                 std::vector<std::string>& warnings) {
    read_typed<std::string>(object, key, path, out, warnings, is_string, "a string");
}

void read_string(const Json& object, std::string_view key, std::string_view path,
                 std::optional<std::string>& out, std::vector<std::string>& warnings) {
    read_typed<std::string>(object, key, path, out, warnings, is_string, "a string");
}

void read_bool(const Json& object, std::string_view key, std::string_view path,
               std::optional<bool>& out, std::vector<std::string>& warnings) {
    read_typed<bool>(
            object, key, path, out, warnings, [](const Json& v) { return v.is_boolean(); },
            "a boolean");
}

void read_number(const Json& object, std::string_view key, std::string_view path,
                 std::optional<double>& out, std::vector<std::string>& warnings) {
    read_typed<double>(
            object, key, path, out, warnings, [](const Json& v) { return v.is_number(); },
            "a number");
}

void read_integer(const Json& object, std::string_view key, std::string_view path,
                  std::optional<int64_t>& out, std::vector<std::string>& warnings) {
    const Json* value = member(object, key);
    if (value == nullptr) {
        return;
    }
    const auto v = value->is_number() ? integral(*value) : std::nullopt;
    if (!v) {
        warnings.push_back(fmt::format("{}: expected an integer, got {}", path, dump(*value)));
        return;
    }
    out = *v;
}

}  // namespace dvd::protocol::detail
