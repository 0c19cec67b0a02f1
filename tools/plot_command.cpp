#include "cli.h"

#include <latflow/error.h>
#include <latflow/io.h>
#include <latflow/json.h>

#include <fmt/format.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

extern char** environ;

namespace latflow::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kPlotUsage =
    "usage: latflow plot RUN_OR_SWEEP_DIR\n"
    "  draws figures with gnuplot into DIR/plots/ (PNG and SVG) and prints\n"
    "  their names. A run directory: ESS and free_energy_q against step.\n"
    "  A sweep directory: ESS against wall time per estimator and\n"
    "  precision, seconds per step and peak memory against L.\n"
    "  The gnuplot program is taken from $LATFLOW_GNUPLOT, else from PATH.\n";

/// One run of a sweep (or the run itself) as the figures need it.
struct RunData {
  std::string name;
  std::string estimator;
  std::string precision;  ///< flow dtype
  std::optional<double> L;
  std::optional<double> seconds_per_step;
  std::optional<double> peak_rss_mb;
  /// metrics.csv columns by name.
  std::map<std::string, std::vector<double>> metrics;
};

/// Splits one CSV line, honouring double quotes ("" inside quotes is one
/// quote), as summary.csv quotes fields with commas.
std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

/// A CSV file as rows of column name -> text.
std::vector<std::map<std::string, std::string>> read_csv(const fs::path& file) {
  std::istringstream in(read_file(file));
  std::string line;
  std::vector<std::map<std::string, std::string>> rows;
  if (!std::getline(in, line)) return rows;
  const auto header = split_csv_line(line);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto fields = split_csv_line(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) {
      row[header[i]] = fields[i];
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::optional<double> to_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<double> json_number(const Json& json, const std::string& key) {
  const Json* value = json.find(key);
  if (value == nullptr || !value->is_number()) return std::nullopt;
  return value->number();
}

/// L from a run's config.toml ([action] L = ...), for runs whose lattice
/// size is not a swept column.
std::optional<double> lattice_size(const fs::path& config) {
  std::error_code error;
  if (!fs::is_regular_file(config, error)) return std::nullopt;
  std::istringstream in(read_file(config));
  std::string line;
  bool in_action = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '[') {
      in_action = line.rfind("[action]", 0) == 0;
      continue;
    }
    if (in_action && line.rfind("L = ", 0) == 0)
      return to_number(line.substr(4));
  }
  return std::nullopt;
}

RunData read_run(const fs::path& dir, const std::string& name) {
  RunData run;
  run.name = name;
  for (const auto& row : read_csv(dir / "metrics.csv")) {
    for (const auto& [key, text] : row) {
      const auto value = to_number(text);
      run.metrics[key].push_back(value ? *value : std::nan(""));
    }
  }
  const fs::path summary_file = dir / "summary.json";
  std::error_code error;
  if (fs::is_regular_file(summary_file, error)) {
    const Json summary =
        Json::parse(read_file(summary_file), summary_file.string());
    if (const Json* e = summary.find("estimator")) run.estimator = e->string();
    if (const Json* p = summary.find("precision")) {
      if (const Json* flow = p->find("flow")) run.precision = flow->string();
    }
    run.seconds_per_step = json_number(summary, "seconds_per_step");
    run.peak_rss_mb = json_number(summary, "peak_rss_mb");
  }
  run.L = lattice_size(dir / "config.toml");
  return run;
}

/// gnuplot's own quoting: a double-quoted string with \ and " escaped.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// The gnuplot program: $LATFLOW_GNUPLOT, else `gnuplot` on PATH.
std::string find_gnuplot() {
  if (const char* chosen = std::getenv("LATFLOW_GNUPLOT")) {
    LATFLOW_CHECK_INPUT(access(chosen, X_OK) == 0,
                        "plot: gnuplot not found at {} (LATFLOW_GNUPLOT); "
                        "install gnuplot-nox",
                        chosen);
    return chosen;
  }
  const char* path = std::getenv("PATH");
  std::istringstream folders(path ? path : "");
  std::string folder;
  while (std::getline(folders, folder, ':')) {
    if (folder.empty()) continue;
    const fs::path candidate = fs::path(folder) / "gnuplot";
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  throw InputError(
      "plot: gnuplot not found on PATH; install gnuplot-nox (Debian) or "
      "set LATFLOW_GNUPLOT");
}

/// A folder for the script and data files, removed with the object.
class Scratch {
 public:
  Scratch() {
    // mkdtemp replaces the six trailing X of the pattern.
    std::string pattern =
        (fs::temp_directory_path() / ("latflow-plot-" + std::string(6, 'X')))
            .string();
    LATFLOW_CHECK(mkdtemp(pattern.data()) != nullptr,
                  "plot: cannot create a temporary folder");
    path_ = pattern;
  }
  ~Scratch() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

/// Runs gnuplot on `script` without a shell; its output goes to a log file
/// whose first line is reported on failure.
void run_gnuplot(const std::string& gnuplot, const fs::path& script,
                 const fs::path& log) {
  std::vector<std::string> text{gnuplot, script.string()};
  std::vector<char*> argv;
  for (auto& a : text) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  LATFLOW_CHECK(rc == 0, "plot: cannot start {}: {}", gnuplot,
                std::strerror(rc));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string first;
    std::istringstream in(read_file(log));
    while (first.find_first_not_of(" \t^") == std::string::npos &&
           std::getline(in, first)) {
    }
    throw RunError(
        fmt::format("plot: gnuplot failed (status {}): {}", status, first));
  }
}

/// Script lines that select a PNG terminal (cairo when gnuplot has it) and
/// set its output. Text is plain (noenhanced): run names hold underscores,
/// which enhanced text would set as subscripts.
std::string png_terminal(const fs::path& file, int width, int height) {
  return fmt::format(
      "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {{\n"
      "  set terminal pngcairo size {0},{1} font \"sans,10\" noenhanced\n"
      "}} else {{\n"
      "  set terminal png size {0},{1} noenhanced\n"
      "}}\n"
      "set output {2}\n",
      width, height, quoted(file.string()));
}

std::string svg_terminal(const fs::path& file, int width, int height) {
  return fmt::format(
      "set terminal svg size {},{} font \"sans,10\" noenhanced\n"
      "set output {}\n",
      width, height, quoted(file.string()));
}

/// Emits `body` once for PNG and once for SVG: `stem`.png and `stem`.svg
/// under `plots`, appending their names to `files`.
std::string both_formats(const fs::path& plots, const std::string& stem,
                         int width, int height, const std::string& body,
                         std::vector<fs::path>& files) {
  const fs::path png = plots / (stem + ".png");
  const fs::path svg = plots / (stem + ".svg");
  files.push_back(png);
  files.push_back(svg);
  return png_terminal(png, width, height) + body + "unset multiplot\n" +
         "set output\n" + svg_terminal(svg, width, height) + body +
         "unset multiplot\nset output\n";
}

/// Writes the columns x, y of `run` with both finite to a data file.
bool write_series(const fs::path& file, const std::vector<double>& x,
                  const std::vector<double>& y) {
  std::string text;
  size_t n = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    text += fmt::format("{} {}\n", x[i], y[i]);
    ++n;
  }
  write_file_atomic(file, text);
  return n > 0;
}

const std::vector<double>& column(const RunData& run, const std::string& key) {
  static const std::vector<double> empty;
  const auto it = run.metrics.find(key);
  return it == run.metrics.end() ? empty : it->second;
}

/// Line colour per estimator, dash type per precision, so that curves of
/// one estimator share a colour.
int colour_of(const std::string& estimator) {
  if (estimator == "reinforce") return 1;
  if (estimator == "reparam") return 2;
  if (estimator == "path_gradient") return 3;
  return 4;
}

int dash_of(const std::string& precision) {
  if (precision == "float64") return 1;
  if (precision == "float32") return 2;
  if (precision == "bfloat16") return 3;
  return 4;
}

constexpr const char* kStyle =
    "set linetype 1 lc rgb \"#1b6ca8\" lw 2\n"
    "set linetype 2 lc rgb \"#d1495b\" lw 2\n"
    "set linetype 3 lc rgb \"#2e8b57\" lw 2\n"
    "set linetype 4 lc rgb \"#7d5ba6\" lw 2\n"
    "set grid\n"
    "set key outside right top\n";

std::string single_run_script(const RunData& run, const fs::path& data,
                              const fs::path& plots,
                              std::vector<fs::path>& files) {
  const bool have_ess =
      write_series(data / "ess.dat", column(run, "step"), column(run, "ess"));
  const bool have_f = write_series(data / "f.dat", column(run, "step"),
                                   column(run, "free_energy_q"));
  LATFLOW_CHECK_INPUT(have_ess || have_f,
                      "plot: {}: metrics.csv has no rows with step, ess or "
                      "free_energy_q",
                      run.name);
  std::string body = "set multiplot layout 2,1\nunset key\n";
  body += "set xlabel \"step\"\nset ylabel \"ESS (training batch)\"\n";
  body += "set yrange [0:1]\n";
  body += have_ess ? fmt::format("plot {} using 1:2 with lines lt 1\n",
                                 quoted((data / "ess.dat").string()))
                   : "plot 0 with lines lt 4 title \"no ESS\"\n";
  body += "set autoscale y\nset ylabel \"free energy log q + S\"\n";
  body += have_f ? fmt::format("plot {} using 1:2 with lines lt 2\n",
                               quoted((data / "f.dat").string()))
                 : "plot 0 with lines lt 4 title \"no free energy\"\n";
  return std::string(kStyle) + fmt::format("set title {}\n", quoted(run.name)) +
         both_formats(plots, "training", 800, 700, body, files);
}

std::string label_of(const RunData& run) {
  std::string label = run.estimator.empty() ? run.name : run.estimator;
  if (!run.precision.empty()) label += " " + run.precision;
  return label;
}

/// ESS against wall time, one panel per L, one curve per estimator and
/// precision.
std::string ess_time_body(const std::vector<RunData>& runs,
                          const fs::path& data, size_t& panels) {
  std::map<double, std::vector<size_t>> by_size;
  for (size_t i = 0; i < runs.size(); ++i) {
    by_size[runs[i].L ? *runs[i].L : 0.0].push_back(i);
  }
  panels = by_size.size();
  std::string body =
      fmt::format("set multiplot layout 1,{}\nset yrange [0:1]\n", panels);
  body += "set xlabel \"wall time (s)\"\nset ylabel \"ESS (training batch)\"\n";
  for (const auto& [size, indices] : by_size) {
    body += size > 0 ? fmt::format("set title \"L = {}\"\n", size)
                     : "set title \"\"\n";
    std::vector<std::string> curves;
    for (const size_t i : indices) {
      const auto& run = runs[i];
      const fs::path file = data / fmt::format("ess_{}.dat", i);
      if (!write_series(file, column(run, "seconds"), column(run, "ess"))) {
        continue;
      }
      curves.push_back(
          fmt::format("{} using 1:2 with lines lt {} dt {} title {}",
                      quoted(file.string()), colour_of(run.estimator),
                      dash_of(run.precision), quoted(label_of(run))));
    }
    body += curves.empty()
                ? "plot 0 with lines lt 4 title \"no metrics\"\n"
                : fmt::format("plot {}\n", fmt::join(curves, ", \\\n  "));
  }
  return body;
}

/// A summary figure against L: one line per estimator and precision.
std::string against_size_body(const std::vector<RunData>& runs,
                              const fs::path& data, const std::string& tag,
                              const std::string& ylabel,
                              std::optional<double> RunData::*field) {
  std::map<std::string, std::vector<std::pair<double, double>>> lines;
  std::map<std::string, const RunData*> first;
  for (const auto& run : runs) {
    const auto& value = run.*field;
    if (!run.L || !value) continue;
    lines[label_of(run)].emplace_back(*run.L, *value);
    first.emplace(label_of(run), &run);
  }
  std::string body = "set xlabel \"L\"\n" +
                     fmt::format("set ylabel {}\n", quoted(ylabel)) +
                     "set logscale y\nset xtics 4\n";
  std::vector<std::string> curves;
  size_t index = 0;
  for (auto& [label, points] : lines) {
    std::sort(points.begin(), points.end());
    const fs::path file = data / fmt::format("{}_{}.dat", tag, index++);
    std::vector<double> x, y;
    for (const auto& [a, b] : points) {
      x.push_back(a);
      y.push_back(b);
    }
    write_series(file, x, y);
    const RunData* run = first[label];
    curves.push_back(fmt::format(
        "{} using 1:2 with linespoints lt {} dt {} pt {} title {}",
        quoted(file.string()), colour_of(run->estimator),
        dash_of(run->precision), dash_of(run->precision) + 4, quoted(label)));
  }
  body += curves.empty()
              ? "plot 1 with lines lt 4 title \"no runs with L and this "
                "figure\"\n"
              : fmt::format("plot {}\n", fmt::join(curves, ", \\\n  "));
  return body;
}

/// The run folders of a sweep: summary.csv's `run` column when there is
/// one, else every sub-folder with a metrics.csv.
std::vector<RunData> read_sweep(const fs::path& dir) {
  std::vector<RunData> runs;
  std::error_code error;
  const fs::path table = dir / "summary.csv";
  std::vector<std::map<std::string, std::string>> rows;
  if (fs::is_regular_file(table, error)) rows = read_csv(table);
  std::set<std::string> names;
  for (const auto& row : rows) {
    const auto it = row.find("run");
    if (it == row.end() || it->second.empty()) continue;
    if (!fs::is_regular_file(dir / it->second / "metrics.csv", error)) {
      continue;
    }
    RunData run = read_run(dir / it->second, it->second);
    // The swept columns win over what the run's own files say.
    if (const auto l = row.find("action.L"); l != row.end()) {
      if (const auto value = to_number(l->second)) run.L = value;
    }
    if (const auto s = row.find("seconds_per_step"); s != row.end()) {
      if (const auto value = to_number(s->second)) run.seconds_per_step = value;
    }
    if (const auto m = row.find("peak_rss_mb"); m != row.end()) {
      if (const auto value = to_number(m->second)) run.peak_rss_mb = value;
    }
    names.insert(it->second);
    runs.push_back(std::move(run));
  }
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_directory(error) &&
        !names.count(entry.path().filename().string()) &&
        fs::is_regular_file(entry.path() / "metrics.csv", error)) {
      folders.push_back(entry.path());
    }
  }
  std::sort(folders.begin(), folders.end());
  for (const auto& folder : folders) {
    runs.push_back(read_run(folder, folder.filename().string()));
  }
  return runs;
}

}  // namespace

int command_plot(const std::vector<std::string>& args) {
  Common common;
  auto options = common_options(common);
  std::vector<std::string> positional;
  const auto vm = parse(args, options, positional);
  if (vm.count("help")) {
    std::cout << kPlotUsage;
    return 0;
  }
  apply_common(common);
  LATFLOW_CHECK_INPUT(positional.size() == 1,
                      "plot: expected one RUN_OR_SWEEP_DIR, got {} "
                      "arguments; see latflow plot --help",
                      positional.size());
  const fs::path dir = positional[0];
  std::error_code error;
  LATFLOW_CHECK_INPUT(fs::is_directory(dir, error),
                      "plot: {}: no such directory", dir.string());

  const bool single = fs::is_regular_file(dir / "metrics.csv", error);
  std::vector<RunData> runs;
  if (single) {
    runs.push_back(read_run(dir, dir.filename().string()));
  } else {
    runs = read_sweep(dir);
  }
  LATFLOW_CHECK_INPUT(!runs.empty(),
                      "plot: {}: no runs (no metrics.csv in it or in its "
                      "sub-folders)",
                      dir.string());
  const std::string gnuplot = find_gnuplot();

  const fs::path plots = dir / "plots";
  fs::create_directories(plots, error);
  LATFLOW_CHECK(!error, "plot: cannot create {}: {}", plots.string(),
                error.message());
  Scratch scratch;
  std::vector<fs::path> files;
  std::string script;
  if (single) {
    script = single_run_script(runs.front(), scratch.path(), plots, files);
  } else {
    size_t panels = 1;
    const std::string ess = ess_time_body(runs, scratch.path(), panels);
    const int width = static_cast<int>(std::min<size_t>(panels, 4)) * 450 + 250;
    script = std::string(kStyle) +
             both_formats(plots, "ess_vs_time", width, 500, ess, files);
    const std::string time_body =
        against_size_body(runs, scratch.path(), "time", "seconds per step",
                          &RunData::seconds_per_step);
    script += "reset\n" + std::string(kStyle) +
              "set title \"seconds per training step\"\n" +
              both_formats(plots, "seconds_per_step_vs_L", 800, 550, time_body,
                           files);
    const std::string memory_body =
        against_size_body(runs, scratch.path(), "memory", "peak RSS (MiB)",
                          &RunData::peak_rss_mb);
    script +=
        "reset\n" + std::string(kStyle) +
        "set title \"peak memory of the run\"\n" +
        both_formats(plots, "peak_memory_vs_L", 800, 550, memory_body, files);
  }
  const fs::path script_file = scratch.path() / "figures.gp";
  write_file_atomic(script_file, script);
  run_gnuplot(gnuplot, script_file, scratch.path() / "gnuplot.log");
  for (const auto& file : files) {
    LATFLOW_CHECK(
        fs::is_regular_file(file, error) && fs::file_size(file, error) > 0,
        "plot: gnuplot wrote no {}", file.string());
    std::cout << file.string() << "\n";
  }
  return 0;
}

}  // namespace latflow::cli
