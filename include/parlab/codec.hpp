#pragma once
/// \file
/// parlab::codec — how task arguments and results cross a process boundary (ProcessPool,
/// MpiPool): cereal binary archives. Standard types (numbers, strings, vectors, maps, sets,
/// tuples, pairs, optionals, variants, arrays) work as they are; a user type works once it has a
/// cereal `serialize(Archive&)` member or free function.

#include <cereal/archives/binary.hpp>
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
#include <istream>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace parlab::codec {

/// Types that can be sent to another process: cereal can save and load them in binary form,
/// and they can be default-constructed to load into.
template <class T>
concept Serializable = std::is_default_constructible_v<T> &&
                       cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
                       cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

namespace detail {

/// An output stream buffer that appends to a std::string (no copies through a stringstream).
class StringWriteBuf final : public std::streambuf {
 public:
  explicit StringWriteBuf(std::string& out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out_.push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }

 private:
  std::string& out_;
};

/// An input stream buffer over bytes the caller keeps alive.
class MemoryReadBuf final : public std::streambuf {
 public:
  explicit MemoryReadBuf(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());  // read only: the get area is never written
    setg(p, p, p + bytes.size());
  }
  /// Bytes not read yet.
  [[nodiscard]] std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

}  // namespace detail

/// Appends values to a byte string in cereal's binary format.
class Writer {
 public:
  explicit Writer(std::string& out) : buf_(out), stream_(&buf_), archive_(stream_) {}
  template <class... T>
  void operator()(const T&... values) {
    archive_(values...);
  }

 private:
  detail::StringWriteBuf buf_;
  std::ostream stream_;
  cereal::BinaryOutputArchive archive_;
};

/// Reads values written by Writer; throws cereal::Exception on truncated or malformed input.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : buf_(bytes), stream_(&buf_), archive_(stream_) {}
  template <class... T>
  void operator()(T&... values) {
    archive_(values...);
  }
  /// Bytes not read yet.
  [[nodiscard]] std::size_t remaining() const { return buf_.remaining(); }

 private:
  detail::MemoryReadBuf buf_;
  std::istream stream_;
  cereal::BinaryInputArchive archive_;
};

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
