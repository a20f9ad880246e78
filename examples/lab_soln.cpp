// lab_soln: soln.json, written as the notebook writes it with json.dumps(answers, indent=2).
// parlab::lab::soln_json lays out the answers exactly as Python's json module does: two-space
// indent, Python's float repr for the timings, Python's string escapes (ensure_ascii). Here it
// is fed the answers of Problem 1, the handout's sample timings for Problem 2 and a short
// stand-in for Problem 3, so the output is fixed; `parlab lab` feeds it the real ones and
// writes the file atomically with parlab::lab::write_file_atomically.

#include "check.hpp"
#include "lab/py_json.hpp"

#include <cstdlib>
#include <iostream>
#include <string>

int main() {
  // Python: answers = {"prob1": str(prob1),
  //                    "prob2": {"part1": part1, "part2": part2, "part3": part3},
  //                    "prob3": str(prob3), "host": socket.gethostname()}
  //         json.dumps(answers, indent=2)
  parlab::lab::Answers answers;
  answers.prob1 = "[[2, 3], [6], [11, 12], [21]]";
  answers.part1 = 6.012491918998421;  // the handout's sample timings, in seconds
  answers.part2 = 3.060048302002542;
  answers.part3 = 7.091866148999543;
  answers.prob3 = "[[0.0, 0.33, 0.67, 1.0], ...]";
  answers.host = "your-ec2-hostname";  // parlab lab: parlab::lab::host_name()
  const std::string text = parlab::lab::soln_json(answers);
  std::cout << text << '\n';

  // A run of only some steps writes only their keys, and host.
  parlab::lab::Answers only_prob1;
  only_prob1.prob1 = *answers.prob1;
  only_prob1.host = "your-ec2-hostname";
  std::cout << parlab::lab::soln_json(only_prob1) << '\n';

  check(text.find("\"part1\": 6.012491918998421,\n") != std::string::npos, "Python's float repr");
  // Python's json.dumps escapes non-ASCII characters as \uXXXX.
  std::cout << "py_json_string(\"caf\\u00e9\"): " << parlab::lab::py_json_string("caf\u00e9") << '\n';
}
