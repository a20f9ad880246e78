// codec.hpp: what crosses a process boundary, and malformed bytes never crash or over-allocate.
#include "parlab/codec.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

namespace {

using parlab::codec::decode;
using parlab::codec::encode;

struct Reading {
  std::string sensor;
  std::vector<double> values;
  std::optional<int> flag;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(sensor, values, flag);
  }
  bool operator==(const Reading&) const = default;
};

template <class T>
void round_trips(const T& value) {
  EXPECT_EQ(decode<T>(encode(value)), value);
}

TEST(Codec, StandardTypesRoundTrip) {
  round_trips(42);
  round_trips(-1.5e300);
  round_trips(std::string{"h\0llo", 5});
  round_trips(std::vector<long>{1, -2, 3});
  round_trips(std::vector<std::vector<int>>{{}, {1}, {2, 3}});
  round_trips(std::map<std::string, int>{{"a", 1}, {"b", 2}});
  round_trips(std::unordered_map<int, std::string>{{1, "x"}});
  round_trips(std::set<char>{'q', 'z'});
  round_trips(std::tuple<int, std::string, double>{7, "seven", 7.5});
  round_trips(std::pair<bool, float>{true, 0.25F});
  round_trips(std::optional<std::string>{});
  round_trips(std::variant<int, std::string>{std::string{"v"}});
  round_trips(std::vector<bool>{true, false, true});
}

TEST(Codec, UserTypesWithSerializeRoundTrip) {
  round_trips(Reading{"t1", {0.5, 1.5}, 3});
  round_trips(std::vector<Reading>{{"a", {}, std::nullopt}, {"b", {2}, 0}});
  static_assert(parlab::codec::Serializable<Reading>);
  struct Opaque {
    int x;
  };
  static_assert(!parlab::codec::Serializable<Opaque>);
}

TEST(Codec, TruncatedInputThrowsInsteadOfReadingPastTheEnd) {
  const std::string bytes = encode(std::vector<int>{1, 2, 3, 4});
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    EXPECT_THROW((void)decode<std::vector<int>>(bytes.substr(0, cut)), cereal::Exception) << cut;
}

TEST(Codec, AHugeContainerSizeIsRejectedBeforeAllocating) {
  std::string bytes = encode(std::uint64_t{1} << 60);  // a size tag promising 2^60 elements
  bytes += "abc";
  EXPECT_THROW((void)decode<std::vector<char>>(bytes), cereal::Exception);
  EXPECT_THROW((void)decode<std::string>(bytes), cereal::Exception);
  using IntMap = std::map<int, int>;
  EXPECT_THROW((void)decode<IntMap>(bytes), cereal::Exception);
}

TEST(Codec, RandomBytesNeverCrashTheDecoder) {
  std::uint64_t state = 88172645463325252ULL;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(static_cast<std::size_t>(round % 64), '\0');
    for (auto& b : bytes) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      b = static_cast<char>(state);
    }
    try {
      (void)decode<std::vector<Reading>>(bytes);
    } catch (const cereal::Exception&) {
    }
  }
  SUCCEED();
}

}  // namespace
