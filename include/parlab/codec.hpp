#pragma once
/// \file
/// parlab::codec — how task arguments and results cross a process boundary (ProcessPool,
/// MpiPool): cereal binary archives. Standard types (numbers, strings, vectors, maps, sets,
/// tuples, pairs, optionals, variants, arrays) work as they are; a user type works once it has a
/// cereal `serialize(Archive&)` member or free function.

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace parlab::codec {

/// Appends values to a byte string in a cereal binary archive (the format of
/// cereal::BinaryOutputArchive, written straight into the string without an ostream).
class Writer : public cereal::OutputArchive<Writer, cereal::AllowEmptyClassElision> {
 public:
  explicit Writer(std::string& out) : cereal::OutputArchive<Writer, cereal::AllowEmptyClassElision>(this), out_(out) {}
  /// Raw bytes (cereal's archive interface).
  void saveBinary(const void* data, std::size_t size) {
    if (size != 0) out_.append(static_cast<const char*>(data), size);  // an empty vector's data() may be null
  }

 private:
  std::string& out_;
};

/// Reads values written by Writer. Throws cereal::Exception on truncated or malformed input; a
/// container size larger than the bytes left is malformed (so bad input cannot ask for a huge
/// allocation).
class Reader : public cereal::InputArchive<Reader, cereal::AllowEmptyClassElision> {
 public:
  explicit Reader(std::string_view bytes)
      : cereal::InputArchive<Reader, cereal::AllowEmptyClassElision>(this),
        next_(bytes.data()),
        end_(bytes.data() + bytes.size()) {}
  /// Raw bytes (cereal's archive interface).
  void loadBinary(void* data, std::size_t size) {
    if (size > remaining())
      throw cereal::Exception("parlab: codec: input ends " + std::to_string(size - remaining()) +
                              " bytes too early");
    if (size == 0) return;  // an empty vector's data() may be null
    std::memcpy(data, next_, size);
    next_ += size;
  }
  /// Bytes not read yet.
  [[nodiscard]] std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - next_); }

 private:
  const char* next_;
  const char* end_;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(Writer& ar, const T& value) {
  ar.saveBinary(std::addressof(value), sizeof value);
}
template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(Reader& ar, T& value) {
  ar.loadBinary(std::addressof(value), sizeof value);
}
template <class Archive, class T>
CEREAL_ARCHIVE_RESTRICT(Reader, Writer)
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& pair) {
  ar(pair.value);
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(Writer& ar, const cereal::SizeTag<T>& tag) {
  ar(tag.size);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(Reader& ar, cereal::SizeTag<T>& tag) {
  ar(tag.size);
  if (static_cast<std::uint64_t>(tag.size) > ar.remaining())
    throw cereal::Exception("parlab: codec: a container of " + std::to_string(tag.size) +
                            " elements in " + std::to_string(ar.remaining()) + " bytes");
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(Writer& ar, const cereal::BinaryData<T>& data) {
  ar.saveBinary(data.data, static_cast<std::size_t>(data.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(Reader& ar, cereal::BinaryData<T>& data) {
  ar.loadBinary(data.data, static_cast<std::size_t>(data.size));
}

}  // namespace parlab::codec

CEREAL_REGISTER_ARCHIVE(parlab::codec::Writer)
CEREAL_REGISTER_ARCHIVE(parlab::codec::Reader)
CEREAL_SETUP_ARCHIVE_TRAITS(parlab::codec::Reader, parlab::codec::Writer)

namespace parlab::codec {

/// Types that can be sent to another process: cereal can save and load them, and they can be
/// default-constructed to load into.
template <class T>
concept Serializable = std::is_default_constructible_v<T> && cereal::traits::is_output_serializable<T, Writer>::value &&
                       cereal::traits::is_input_serializable<T, Reader>::value;

/// The bytes of `value`.
template <Serializable T>
std::string encode(const T& value) {
  std::string out;
  Writer{out}(value);
  return out;
}

/// The value encoded in `bytes`; throws cereal::Exception when they are truncated or malformed.
template <Serializable T>
T decode(std::string_view bytes) {
  T value{};
  Reader{bytes}(value);
  return value;
}

/// The type an argument travels as: references and cv dropped, also inside tuples and pairs
/// (starmap's argument tuples, apply's argument pack).
template <class T>
struct wire {
  using type = std::remove_cvref_t<T>;
};
template <class... T>
struct wire<std::tuple<T...>> {
  using type = std::tuple<std::remove_cvref_t<T>...>;
};
template <class A, class B>
struct wire<std::pair<A, B>> {
  using type = std::pair<std::remove_cvref_t<A>, std::remove_cvref_t<B>>;
};
template <class T>
using wire_t = typename wire<std::remove_cvref_t<T>>::type;

/// Saves a tuple whose elements may be references, element by element (cereal's tuple support
/// needs the value types).
template <class T>
void save_as_wire(Writer& out, const T& value) {
  if constexpr (std::is_same_v<std::remove_cvref_t<T>, wire_t<T>>) {
    out(value);
  } else {
    std::apply([&](const auto&... parts) { out(parts...); }, value);
  }
}

}  // namespace parlab::codec
