// lab_prob2: Problem 2, scaled down a hundredfold. do_busy_work over [1, 2, 4, 6] seconds
// becomes busy_work over [0.01, 0.02, 0.04, 0.06] seconds, run three ways: the serial builtin
// map (Part A), Pool(cpu_count()).map (Part B) and Pool(len(work)).map (Part C). The times
// depend on the machine, so this program prints only what does not: each call reports at least
// the time it was asked for, and the results come back in input order. `parlab lab` runs the
// full-size version and prints the times.

#include "check.hpp"
#include "lab/workloads.hpp"

#include <parlab/pool.hpp>

#include <cstddef>
#include <cstdlib>
#include <iostream>
#include <vector>

namespace {

using parlab::lab::BusyMode;

// Every result is at least its requested time (busy_work never returns early) and in input order.
bool each_at_least(const std::vector<double>& elapsed, const std::vector<double>& work) {
  if (elapsed.size() != work.size()) return false;
  for (std::size_t i = 0; i < work.size(); ++i)
    if (elapsed[i] < work[i]) return false;
  return true;
}

}  // namespace

int main() {
  std::cout << std::boolalpha;
  // Python: work = [1, 2, 4, 6]   (here in hundredths of those seconds)
  const std::vector<double> work{0.01, 0.02, 0.04, 0.06};

  // do_busy_work prints its process id on entry and its elapsed time on exit; the log stream is
  // busy_work's third argument (nullptr: quiet). BusyMode::spin burns CPU instead of sleeping.
  auto do_busy_work = [](double seconds) { return parlab::lab::busy_work(seconds, BusyMode::sleep, nullptr); };

  // Part A. Python: part_a = list(map(do_busy_work, work))
  std::vector<double> part_a;
  for (double seconds : work) part_a.push_back(do_busy_work(seconds));

  // Part B. Python: with mp.Pool(mp.cpu_count()) as pool:
  //                     part_b = pool.map(do_busy_work, work)
  std::vector<double> part_b;
  {
    parlab::Pool pool{parlab::cpu_count()};
    part_b = pool.map(do_busy_work, work);
  }

  // Part C. Python: with mp.Pool(len(work)) as pool:
  //                     part_c = pool.map(do_busy_work, work)
  std::vector<double> part_c;
  {
    parlab::Pool pool{work.size()};
    part_c = pool.map(do_busy_work, work);
  }

  std::cout << "Part A (serial map): each call took at least its time: " << each_at_least(part_a, work) << '\n';
  std::cout << "Part B (Pool(cpu_count()).map): each call took at least its time: " << each_at_least(part_b, work)
            << '\n';
  std::cout << "Part C (Pool(4).map): each call took at least its time: " << each_at_least(part_c, work) << '\n';
  check(each_at_least(part_a, work) && each_at_least(part_b, work) && each_at_least(part_c, work),
        "busy_work reports at least the requested time, in input order");
}
