// Expected values recorded from numpy 1.24.2 (/usr/bin/python3, Debian 12), e.g.
//   np.random.RandomState(100).randint(0, 10, size=[1000000, 5])
#include "lab/numpy_random.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

namespace {

using parlab::lab::RandomState;
using Ints = std::vector<int64_t>;

TEST(NumpyRandom, RawOutputsMatchReferenceMt19937) {
  // init_genrand + MT19937 are the reference generator, which std::mt19937 also is.
  RandomState rs(5489);
  std::mt19937 reference(5489);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_EQ(rs.next_uint32(), reference()) << "draw " << i;
  }
  // RandomState(5489).randint(0, 2**32, size=10000)[-1]
  RandomState again(5489);
  uint32_t last = 0;
  for (int i = 0; i < 10000; ++i) {
    last = again.next_uint32();
  }
  EXPECT_EQ(last, 4123659995U);
}

TEST(NumpyRandom, Seed100SmallRangeFirstValues) {
  RandomState rs(100);
  EXPECT_EQ(rs.randint(0, 10, 20), (Ints{8, 8, 3, 7, 7, 0, 4, 2, 5, 2, 2, 2, 1, 0, 8, 4, 0, 9, 6, 2}));
}

TEST(NumpyRandom, Seed100MillionRowsMatchNumpy) {
  RandomState rs(100);
  const auto rows = rs.randint_rows(0, 10, 1000000, 5);
  ASSERT_EQ(rows.size(), 1000000U);
  EXPECT_EQ(rows[0], (Ints{8, 8, 3, 7, 7}));
  EXPECT_EQ(rows[3], (Ints{4, 0, 9, 6, 2}));  // flattened values 15..19
  EXPECT_EQ(rows[500000], (Ints{6, 5, 1, 0, 6}));
  EXPECT_EQ(rows[999999], (Ints{2, 3, 2, 2, 8}));  // the 1,000,000th row
  // The stream continues where numpy's does.
  EXPECT_EQ(rs.randint(0, 10, 5), (Ints{6, 1, 1, 3, 1}));
}

TEST(NumpyRandom, Seed42LabSmallSize) {
  RandomState rs(42);
  const auto rows = rs.randint_rows(0, 1000, 100, 50);
  ASSERT_EQ(rows.size(), 100U);
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 50U);
  }
  EXPECT_EQ(rows[0],
            (Ints{102, 435, 860, 270, 106, 71,  700, 20,  614, 121, 466, 214, 330, 458, 87,  372, 99,
                  871, 663, 130, 661, 308, 769, 343, 491, 413, 805, 385, 191, 955, 276, 160, 459, 313,
                  21,  252, 747, 856, 560, 474, 58,  510, 681, 475, 699, 975, 782, 189, 957, 686}));
  EXPECT_EQ(rows[1],
            (Ints{957, 562, 875, 566, 243, 831, 504, 130, 484, 818, 646, 20,  840, 166, 273, 387, 600,
                  315, 13,  241, 776, 345, 564, 897, 339, 91,  366, 955, 454, 427, 508, 775, 942, 34,
                  205, 80,  931, 561, 871, 387, 1,   389, 565, 105, 771, 821, 476, 702, 401, 729}));
  EXPECT_EQ(rows[99],
            (Ints{103, 534, 264, 801, 941, 973, 383, 259, 413, 990, 357, 74,  354, 583, 770, 909, 187,
                  972, 684, 991, 289, 44,  572, 82,  122, 357, 527, 65,  935, 656, 374, 161, 745, 379,
                  655, 357, 187, 321, 449, 473, 12,  183, 110, 926, 507, 289, 294, 450, 903, 214}));
}

TEST(NumpyRandom, SuccessiveDrawsAreOneStream) {
  // np.random.seed(42); randint(0, 1000, (100, 50)); randint(0, 1000, (1000, 50))[0][:10]
  RandomState rs(42);
  static_cast<void>(rs.randint_rows(0, 1000, 100, 50));
  const auto medium = rs.randint_rows(0, 1000, 1000, 50);
  EXPECT_EQ(Ints(medium[0].begin(), medium[0].begin() + 10),
            (Ints{973, 631, 893, 566, 26, 629, 732, 230, 564, 806}));
}

TEST(NumpyRandom, SeveralSeeds) {
  EXPECT_EQ(RandomState(0).randint(0, 100, 10), (Ints{44, 47, 64, 67, 67, 9, 83, 21, 36, 87}));
  EXPECT_EQ(RandomState(1).randint(0, 100, 10), (Ints{37, 12, 72, 9, 75, 5, 79, 64, 16, 1}));
  EXPECT_EQ(RandomState(4294967295U).randint(0, 100, 10), (Ints{35, 34, 12, 71, 52, 64, 86, 89, 32, 11}));
  EXPECT_EQ(RandomState(123456789).randint(0, 100, 10), (Ints{56, 28, 50, 89, 90, 29, 7, 79, 83, 60}));
  EXPECT_EQ(RandomState(0).randint(0, 10, 5), (Ints{5, 0, 3, 3, 7}));
}

TEST(NumpyRandom, ReseedRestartsTheStream) {
  RandomState rs(7);
  static_cast<void>(rs.randint(0, 1000, 1234));
  rs.seed(0);
  EXPECT_EQ(rs.randint(0, 100, 10), (Ints{44, 47, 64, 67, 67, 9, 83, 21, 36, 87}));
}

TEST(NumpyRandom, NegativeLow) {
  EXPECT_EQ(RandomState(11).randint(-50, 50, 10), (Ints{-25, 13, 30, 41, 31, 5, -37, 26, -17, 21}));
}

TEST(NumpyRandom, MaskBoundaries) {
  // rng = 1024 needs mask 2047 (rejections); rng = 1023 is a full mask (no rejections).
  EXPECT_EQ(RandomState(14).randint(0, 1025, 10), (Ints{619, 406, 327, 746, 668, 573, 471, 1014, 491, 544}));
  EXPECT_EQ(RandomState(14).randint(0, 1024, 10), (Ints{619, 344, 268, 406, 327, 761, 358, 746, 668, 650}));
}

TEST(NumpyRandom, FullThirtyTwoBitRange) {
  // rng == 0xFFFFFFFF: raw 32-bit outputs.
  EXPECT_EQ(RandomState(12).randint(0, int64_t{1} << 32, 6),
            (Ints{662124363, 1916507803, 3178489222, 3751169277, 1130929393, 371232386}));
}

TEST(NumpyRandom, SixtyFourBitPath) {
  // rng = 2**40 - 1: masked 64-bit draws, two MT outputs each, the first is the high word.
  EXPECT_EQ(RandomState(7).randint(0, int64_t{1} << 40, 10),
            (Ints{752595690692, 108744157686, 291964244179, 650496783975, 396459895993, 611018672663,
                  309610205529, 474247592490, 936371205000, 719526270950}));
  // rng = 2**32: the smallest range that leaves the 32-bit path.
  EXPECT_EQ(RandomState(15).randint(-7, (int64_t{1} << 32) - 6, 6),
            (Ints{3494301422, 2539850366, 3515910804, 3747055927, 139567240, 2156147554}));
  EXPECT_EQ(RandomState(16).randint(-(int64_t{1} << 62), int64_t{1} << 62, 6),
            (Ints{-492692632177230610, -4184397687757372859, -3676409261505543557, -3770478516418494083,
                  2042586526589108996, -496568961162914336}));
  // randint(-2**63, 2**63 - 1): rng = 2**64 - 2, values wrap around through the offset.
  EXPECT_EQ(
      RandomState(13).randint(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 5),
      (Ints{5122705292953041072, -4841510015392817648, 5981883007476859746, 8591556320880820377,
            8717951747692335034}));
}

TEST(NumpyRandom, SingleValueRangeConsumesNoDraws) {
  RandomState rs(3);
  EXPECT_EQ(rs.randint(5, 6, 5), (Ints{5, 5, 5, 5, 5}));
  EXPECT_EQ(rs.randint(0, 100, 5), (Ints{24, 3, 56, 72, 0}));
  EXPECT_EQ(RandomState(3).randint(0, 100, 5), (Ints{24, 3, 56, 72, 0}));
}

TEST(NumpyRandom, BadBoundsThrowUnlessEmpty) {
  RandomState rs(0);
  EXPECT_THROW(rs.randint(5, 5, 3), std::invalid_argument);
  EXPECT_THROW(rs.randint(6, 5, 1), std::invalid_argument);
  EXPECT_THROW(rs.randint_rows(5, 5, 2, 2), std::invalid_argument);
  // numpy returns an empty array for an empty shape before it checks the bounds.
  EXPECT_TRUE(rs.randint(5, 5, 0).empty());
  EXPECT_EQ(rs.randint_rows(5, 5, 3, 0), (std::vector<Ints>{{}, {}, {}}));
  EXPECT_TRUE(rs.randint_rows(0, 10, 0, 3).empty());
  // Nothing above consumed a draw.
  EXPECT_EQ(rs.randint(0, 10, 5), (Ints{5, 0, 3, 3, 7}));
}

TEST(NumpyRandom, RandintFillMatchesRandint) {
  RandomState a(2024);
  RandomState b(2024);
  std::vector<int64_t> buffer(777);
  a.randint_fill(-3, 1000, buffer);
  EXPECT_EQ(buffer, b.randint(-3, 1000, 777));
}

}  // namespace
