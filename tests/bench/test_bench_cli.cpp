// `parlab bench` as a user runs it, on the smallest sizes (--tiny): bench.json follows its
// schema (docs/performance.md), every measured row was checked against serial C++ (the
// ProcessPool rows included, and the MpiPool rows when MPI is built: mpirun -np 2 and -np 3 child
// jobs), the backends that are not built say so without a number, the
// round-trip latency rows are there, and bad input is refused.
#include "support/cli.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using parlab::test::one_line;
using parlab::test::read_file;
using parlab::test::Run;
using parlab::test::TempDir;

/// Runs `parlab` with `args` (and extra environment variables), capturing stdout and stderr.
Run parlab(const std::vector<std::string>& args, const fs::path& dir,
           const std::vector<std::pair<std::string, std::string>>& env = {}) {
  return parlab::test::run_program(PARLAB_CLI, args, dir, env);
}

bool is_png(const fs::path& path) {
  const auto data = read_file(path);
  return data.size() > 8 && data.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
}

const json* find_row(const json& results, const std::string& workload, const std::string& contender) {
  for (const auto& r : results)
    if (r["workload"] == workload && r["contender"] == contender && r["main"] == true) return &r;
  return nullptr;
}

void expect_schema(const json& j, int repeat) {
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["schema"], "parlab-bench/1");
  for (const char* key : {"started", "elapsed_s", "settings", "machine", "workloads", "contenders", "results",
                          "latency", "targets", "notes"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_TRUE(j["started"].is_string());
  EXPECT_TRUE(j["elapsed_s"].is_number());
  EXPECT_EQ(j["settings"]["repeat"], repeat);
  EXPECT_GE(j["settings"]["warmup"].get<int>(), 1);
  EXPECT_GE(j["settings"]["warmup_max"].get<int>(), j["settings"]["warmup"].get<int>());
  for (const char* key :
       {"cpu_model", "cores", "logical_cpus", "cpu_count", "compiler", "cxx_flags", "build_type"})
    EXPECT_TRUE(j["machine"].contains(key)) << key;
  EXPECT_GE(j["machine"]["cpu_count"].get<int>(), 1);
  EXPECT_EQ(j["settings"]["main_workers"], j["machine"]["cpu_count"]);

  const std::set<std::string> statuses{"ok", "wrong", "failed", "skipped", "not built"};
  std::set<std::string> contenders;
  for (const auto& c : j["contenders"]) {
    for (const char* key : {"key", "title", "description", "parallel", "into", "status", "reason"})
      EXPECT_TRUE(c.contains(key)) << key;
    EXPECT_TRUE(statuses.count(c["status"].get<std::string>())) << c;
    contenders.insert(c["key"].get<std::string>());
  }
  for (const char* key : {"serial", "parlab", "openmp", "tbb", "std_par", "python_serial", "python_pool",
                          "process_pool", "mpi_pool_np2", "mpi_pool_np3", "parlab_map_into"})
    EXPECT_TRUE(contenders.count(key)) << key;

  std::set<std::string> workloads;
  for (const auto& w : j["workloads"]) {
    for (const char* key : {"key", "title", "size", "description", "items", "status", "reason"})
      EXPECT_TRUE(w.contains(key)) << key;
    workloads.insert(w["key"].get<std::string>());
  }
  EXPECT_EQ(workloads,
            (std::set<std::string>{"example", "prob3_xxl", "busy_spin", "busy_sleep", "trivial", "brewery"}));

  ASSERT_TRUE(j["results"].is_array());
  ASSERT_FALSE(j["results"].empty());
  for (const auto& r : j["results"]) {
    for (const char* key : {"workload", "contender", "workers", "chunksize", "chunksize_auto", "main",
                            "status", "verified", "note", "warmup_s", "samples_s", "median_s", "min_s",
                            "max_s", "vs_serial", "vs_python", "vs_python_serial", "vs_parlab"})
      ASSERT_TRUE(r.contains(key)) << key << " in " << r;
    const auto status = r["status"].get<std::string>();
    ASSERT_TRUE(statuses.count(status)) << r;
    EXPECT_TRUE(contenders.count(r["contender"].get<std::string>())) << r;
    EXPECT_TRUE(workloads.count(r["workload"].get<std::string>())) << r;
    if (status == "ok") {
      EXPECT_TRUE(r["verified"].get<bool>()) << "a measured row that was not checked: " << r;
      const bool python = r["contender"].get<std::string>().rfind("python", 0) == 0;
      EXPECT_EQ(r["samples_s"].size(), python ? 1U : static_cast<std::size_t>(repeat)) << r;
      if (!python) {
        EXPECT_GE(r["warmup_s"].size(), j["settings"]["warmup"].get<std::size_t>()) << r;
      }
      for (const auto& s : r["samples_s"])
        EXPECT_GE(s.get<double>(), 0.0);
      EXPECT_LE(r["min_s"].get<double>(), r["median_s"].get<double>());
      EXPECT_LE(r["median_s"].get<double>(), r["max_s"].get<double>());
    } else {
      EXPECT_FALSE(r["verified"].get<bool>()) << r;
      EXPECT_TRUE(r["median_s"].is_null()) << "a row that was not measured shows no number: " << r;
      EXPECT_TRUE(r["vs_serial"].is_null()) << r;
      EXPECT_FALSE(r["note"].get<std::string>().empty()) << "says why: " << r;
    }
    EXPECT_NE(status, "wrong") << r;
    EXPECT_NE(status, "failed") << r;
  }
  ASSERT_TRUE(j["latency"].is_array());
  for (const auto& l : j["latency"]) {
    for (const char* key :
         {"contender", "call", "workers", "warmup_calls", "calls", "status", "verified", "note", "median_us",
          "p10_us", "p90_us", "min_us", "max_us", "mean_us", "vs_python"})
      ASSERT_TRUE(l.contains(key)) << key << " in " << l;
    const auto status = l["status"].get<std::string>();
    EXPECT_TRUE(status == "ok" || status == "skipped") << l;
    if (status == "ok") {
      EXPECT_TRUE(l["verified"].get<bool>()) << l;
      EXPECT_GT(l["calls"].get<int>(), 0) << l;
      EXPECT_LE(l["min_us"].get<double>(), l["median_us"].get<double>()) << l;
      EXPECT_LE(l["p10_us"].get<double>(), l["median_us"].get<double>()) << l;
      EXPECT_LE(l["median_us"].get<double>(), l["p90_us"].get<double>()) << l;
      EXPECT_LE(l["p90_us"].get<double>(), l["max_us"].get<double>()) << l;
    } else {
      EXPECT_TRUE(l["median_us"].is_null()) << l;
      EXPECT_FALSE(l["note"].get<std::string>().empty()) << l;
    }
  }
  for (const auto& t : j["targets"]) {
    const auto status = t["status"].get<std::string>();
    EXPECT_TRUE(status == "met" || status == "MISSED" || status == "not measured") << t;
    EXPECT_EQ(t["measured"].is_null(), status == "not measured") << t;
  }
}

const json* find_target(const json& j, const std::string& key) {
  for (const auto& t : j["targets"])
    if (t["key"] == key) return &t;
  return nullptr;
}

const json* find_latency(const json& j, const std::string& contender) {
  for (const auto& l : j["latency"])
    if (l["contender"] == contender) return &l;
  return nullptr;
}

TEST(BenchCli, TinyRunWritesCheckedResultsInTheDocumentedSchema) {
  TempDir dir;
  const auto out = dir.path() / "out";
  auto run = parlab({"bench", "--tiny", "--repeat", "2", "--out", out.string()}, dir.path());
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  const auto j = json::parse(read_file(out / "bench.json"));
  expect_schema(j, 2);

  // Every C++ workload has a serial reference and a parlab row, both measured and checked.
  for (const char* wl : {"example", "prob3_xxl", "busy_spin", "busy_sleep", "trivial"}) {
    for (const char* c : {"serial", "parlab"}) {
      const auto* r = find_row(j["results"], wl, c);
      ASSERT_NE(r, nullptr) << wl << " " << c;
      EXPECT_EQ((*r)["status"], "ok") << *r;
    }
    // ProcessPool runs every workload in worker processes, checked like every row.
    const auto* proc = find_row(j["results"], wl, "process_pool");
    ASSERT_NE(proc, nullptr) << wl;
    EXPECT_EQ((*proc)["status"], "ok") << *proc;
    EXPECT_TRUE((*proc)["vs_parlab"].is_number()) << *proc;
    // MpiPool at mpirun -np 2 and -np 3 (1 and 2 worker ranks), in a child job: measured and
    // checked when MPI is built; otherwise a row that says so, never a number.
    for (const auto& [c, workers] : {std::pair{"mpi_pool_np2", 1}, std::pair{"mpi_pool_np3", 2}}) {
      const auto* mpi = find_row(j["results"], wl, c);
      ASSERT_NE(mpi, nullptr) << wl << " " << c;
      EXPECT_EQ((*mpi)["workers"], workers) << *mpi;
#if defined(PARLAB_BENCH_TEST_MPI)
      EXPECT_EQ((*mpi)["status"], "ok") << *mpi;
      EXPECT_TRUE((*mpi)["verified"].get<bool>()) << *mpi;
      EXPECT_TRUE((*mpi)["median_s"].is_number()) << *mpi;
      EXPECT_TRUE((*mpi)["vs_parlab"].is_number()) << *mpi;
      EXPECT_TRUE((*mpi)["vs_serial"].is_number()) << *mpi;
#else
      EXPECT_EQ((*mpi)["status"], "not built") << *mpi;
      EXPECT_TRUE((*mpi)["samples_s"].empty()) << *mpi;
#endif
    }
  }
  // ProcessPool against Python's Pool: a target per workload, judged only when Python ran.
  const auto* py = find_row(j["results"], "example", "python_pool");
  ASSERT_NE(py, nullptr);
  for (const char* key : {"example_process_pool_vs_python", "prob3_xxl_process_pool_vs_python"}) {
    const auto* t = find_target(j, key);
    ASSERT_NE(t, nullptr) << key;
    EXPECT_EQ((*t)["goal"], ">= 10×");
    if ((*py)["status"] == "ok") {
      EXPECT_NE((*t)["status"], "not measured") << *t;
    }
  }
  // The round-trip latency rows: threads, processes, and Python's Pool (or why not).
  for (const char* c : {"parlab", "process_pool"}) {
    const auto* l = find_latency(j, c);
    ASSERT_NE(l, nullptr) << c;
    EXPECT_EQ((*l)["status"], "ok") << *l;
    EXPECT_EQ((*l)["calls"], j["settings"]["latency_calls"]) << *l;
  }
  const auto* py_latency = find_latency(j, "python_pool");
  ASSERT_NE(py_latency, nullptr);
  EXPECT_EQ((*py_latency)["status"], (*py)["status"]) << *py_latency;
  if ((*py_latency)["status"] == "ok") {
    EXPECT_TRUE(find_latency(j, "process_pool")->at("vs_python").is_number());
  }
  // The sweeps: parlab and ProcessPool at 1 .. 2 x cpu_count() workers, and chunksizes from 1.
  const int cpus = j["machine"]["cpu_count"].get<int>();
  std::set<int> workers, process_workers;
  bool chunk_one = false;
  for (const auto& r : j["results"]) {
    if (r["workload"] == "example" && r["contender"] == "parlab") {
      if (r["chunksize_auto"] == true) workers.insert(r["workers"].get<int>());
      if (r["chunksize"] == 1) chunk_one = true;
    }
    if (r["workload"] == "example" && r["contender"] == "process_pool" && r["status"] == "ok")
      process_workers.insert(r["workers"].get<int>());
  }
  for (int w = 1; w <= 2 * cpus; ++w) {
    EXPECT_TRUE(workers.count(w)) << w;
    EXPECT_TRUE(process_workers.count(w)) << w;
  }
  EXPECT_TRUE(chunk_one);

  const auto report = read_file(out / "report.md");
  EXPECT_NE(report.find("## Main table"), std::string::npos);
  EXPECT_NE(report.find("## Targets"), std::string::npos);
  EXPECT_NE(report.find("## Worker processes: parlab ProcessPool vs Python's Pool"), std::string::npos);
  EXPECT_NE(report.find("## Round-trip latency"), std::string::npos);
#if defined(PARLAB_BENCH_TEST_MPI)
  EXPECT_NE(report.find("## MPI ranks: parlab MpiPool vs ProcessPool and Pool"), std::string::npos);
  EXPECT_NE(run.out.find("MpiPool (mpirun -np 2 / -np 3"), std::string::npos);
#else
  EXPECT_NE(report.find("not built"), std::string::npos);  // MpiPool's rows
#endif
  if (j["notes"].dump().find("gnuplot not found") == std::string::npos) {
    EXPECT_TRUE(is_png(out / "speedup.png"));
    EXPECT_TRUE(is_png(out / "python-vs-cpp.png"));
  }
  // No temporary files left behind.
  for (const auto& entry : fs::directory_iterator(out))
    EXPECT_NE(entry.path().filename().string().front(), '.') << entry.path();
  // Progress without a terminal: plain lines.
  EXPECT_EQ(run.out.find('\r'), std::string::npos);
  EXPECT_EQ(run.out.find('\033'), std::string::npos);
  EXPECT_NE(run.out.find("Main table"), std::string::npos);
  EXPECT_NE(run.out.find("Targets"), std::string::npos);
  EXPECT_NE(run.out.find("ProcessPool (worker processes) vs Python's Pool.map"), std::string::npos);
  EXPECT_NE(run.out.find("Round trip apply_async(f, x).get(), median:"), std::string::npos);
}

TEST(BenchCli, LatencyAloneRunsNoWorkload) {
  TempDir dir;
  const auto out = dir.path() / "out";
  auto run = parlab({"bench", "--tiny", "--workload", "latency", "--out", out.string()}, dir.path(),
                    {{"PARLAB_BENCH_PYTHON", "/nonexistent/python3"}});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  const auto j = json::parse(read_file(out / "bench.json"));
  EXPECT_TRUE(j["results"].empty()) << j["results"];
  ASSERT_EQ(j["latency"].size(), 3U) << j["latency"];
  for (const char* c : {"parlab", "process_pool"}) {
    const auto* l = find_latency(j, c);
    ASSERT_NE(l, nullptr) << c;
    EXPECT_EQ((*l)["status"], "ok") << *l;
  }
  const auto* py = find_latency(j, "python_pool");
  ASSERT_NE(py, nullptr);
  EXPECT_EQ((*py)["status"], "skipped");
  EXPECT_NE((*py)["note"].get<std::string>().find("/nonexistent/python3"), std::string::npos) << *py;
  EXPECT_TRUE((*py)["median_us"].is_null());
}

TEST(BenchCli, MissingPythonSkipsItsRowsWithAReason) {
  TempDir dir;
  const auto out = dir.path() / "out";
  auto run = parlab({"bench", "--tiny", "--repeat", "1", "--workload", "example", "--out", out.string()},
                    dir.path(), {{"PARLAB_BENCH_PYTHON", "/nonexistent/python3"}});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("python: skipped - PARLAB_BENCH_PYTHON=/nonexistent/python3"), std::string::npos)
      << run.out;
  const auto j = json::parse(read_file(out / "bench.json"));
  for (const char* c : {"python_serial", "python_pool"}) {
    const auto* r = find_row(j["results"], "example", c);
    ASSERT_NE(r, nullptr) << c;
    EXPECT_EQ((*r)["status"], "skipped");
    EXPECT_TRUE((*r)["median_s"].is_null());
    EXPECT_NE((*r)["note"].get<std::string>().find("/nonexistent/python3"), std::string::npos);
  }
  const auto* serial = find_row(j["results"], "example", "serial");
  ASSERT_NE(serial, nullptr);
  EXPECT_EQ((*serial)["status"], "ok");
  for (const auto& t : j["targets"]) {
    if (t["key"] == "example_vs_python" || t["key"] == "example_process_pool_vs_python") {
      EXPECT_EQ(t["status"], "not measured") << t;
    }
  }
  // --workload without "latency": no latency rows.
  EXPECT_TRUE(j["latency"].empty()) << j["latency"];
}

struct BadInput {
  std::vector<std::string> args;
  std::string message;
};

void PrintTo(const BadInput& input, std::ostream* os) {
  for (const auto& a : input.args)
    *os << a << ' ';
}

/// "repeat_0", "workers_1_x", ...: the arguments, as a test name.
std::string case_name(const ::testing::TestParamInfo<BadInput>& info) {
  std::string name;
  for (const auto& a : info.param.args)
    for (const char c : a) {
      if (std::isalnum(static_cast<unsigned char>(c)))
        name += c;
      else if (!name.empty() && name.back() != '_')
        name += '_';
    }
  while (!name.empty() && name.back() == '_')
    name.pop_back();
  return name + "_" + std::to_string(info.index);
}

class BenchCliBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(BenchCliBadInput, OneLineOnStderrExitTwoNothingWritten) {
  TempDir dir;
  const auto out = dir.path() / "out";
  auto args = GetParam().args;
  args.insert(args.begin(), "bench");
  if (std::find(args.begin(), args.end(), "--out") == args.end()) {
    args.push_back("--out");
    args.push_back(out.string());
  }
  auto run = parlab(args, dir.path());
  EXPECT_EQ(run.status, 2);
  EXPECT_TRUE(one_line(run.err)) << run.err;
  EXPECT_NE(run.err.find(GetParam().message), std::string::npos) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
  EXPECT_FALSE(fs::exists(out / "bench.json"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BenchCliBadInput,
    ::testing::Values(BadInput{{"--repeat", "0"}, "--repeat must be between 1 and"},
                      BadInput{{"--repeat", "many"}, "--repeat"},
                      BadInput{{"--workers", "0"}, "--workers: each count must be between 1 and"},
                      BadInput{{"--workers", "1,x"}, "--workers wants whole numbers"},
                      BadInput{{"--workers", "5000"}, "--workers: each count must be between 1 and"},
                      BadInput{{"--workload", "prob9"}, "unknown workload 'prob9'"},
                      BadInput{{"--python", "/nonexistent/python3"}, "--python /nonexistent/python3"},
                      BadInput{{"--out", "/proc/version/sub"}, "--out /proc/version/sub"},
                      BadInput{{"--bogus"}, "--bogus"}),
    case_name);

TEST(BenchCli, HelpListsTheOptions) {
  TempDir dir;
  auto run = parlab({"bench", "--help"}, dir.path());
  EXPECT_EQ(run.status, 0);
  for (const char* option : {"--quick", "--repeat", "--workers", "--out"})
    EXPECT_NE(run.out.find(option), std::string::npos) << option;
}

}  // namespace
