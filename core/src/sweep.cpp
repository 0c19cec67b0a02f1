#include <latflow/error.h>
#include <latflow/experiment.h>
#include <latflow/io.h>
#include <latflow/json.h>
#include <latflow/log.h>
#include <latflow/sweep.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <toml++/toml.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace latflow {

namespace fs = std::filesystem;

namespace {

std::string value_text(const toml::node& node) {
  if (node.is_string()) return to_toml(*node.value<std::string>());
  if (node.is_integer()) return to_toml(*node.value<int64_t>());
  if (node.is_floating_point()) return to_toml(*node.value<double>());
  if (node.is_boolean()) return to_toml(*node.value<bool>());
  std::ostringstream out;
  node.visit([&out](const auto& value) { out << toml::toml_formatter(value); });
  return out.str();
}

/// A short, file-safe name part for one swept value.
std::string label_part(const std::string& key, const toml::node& node) {
  std::string text;
  if (node.is_string()) {
    text = *node.value<std::string>();
  } else {
    const auto dot = key.rfind('.');
    text = key.substr(dot == std::string::npos ? 0 : dot + 1) +
           value_text(node);
  }
  for (char& c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '-' && c != '_') {
      c = '_';
    }
  }
  return text;
}

struct Group {
  std::vector<std::string> keys;
  std::vector<const toml::array*> lists;
  size_t size = 0;
};

}  // namespace

std::vector<SweepPoint> expand_sweep(const std::string& text,
                                     const fs::path& file) {
  const std::string name = file.string();
  // The same message as Experiment::parse gives, whichever reads first.
  if (text.find('\0') != std::string::npos) {
    throw InputError(fmt::format(
        "{}: not a TOML text file (it contains NUL bytes)", name));
  }
  toml::table document;
  try {
    document = toml::parse(std::string_view(text), std::string_view(name));
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: TOML syntax error: {}", name,
                                 e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  const toml::table* sweep = document["sweep"].as_table();
  if (sweep == nullptr) return {};
  auto where = [&](const toml::source_region& r) {
    return fmt::format("{}:{}:{}", name, r.begin.line, r.begin.column);
  };

  std::map<std::string, const toml::array*> lists;
  std::vector<std::string> order;
  for (const auto& [key_node, node] : *sweep) {
    const std::string key(key_node.str());
    if (key == "zip") continue;
    const auto* list = node.as_array();
    if (list == nullptr || list->empty()) {
      throw InputError(fmt::format(
          "{}: [sweep] {}: expected a non-empty array of values",
          where(node.source()), key));
    }
    if (key.find('.') == std::string::npos) {
      throw InputError(fmt::format(
          "{}: [sweep] {}: expected a dotted key SECTION.KEY, as "
          "\"estimator.type\"",
          where(key_node.source()), key));
    }
    lists[key] = list;
    order.push_back(key);
  }

  std::vector<Group> groups;
  std::set<std::string> zipped;
  if (const toml::node* zip = sweep->get("zip")) {
    const auto* outer = zip->as_array();
    if (outer == nullptr) {
      throw InputError(fmt::format(
          "{}: [sweep] zip: expected an array of arrays of swept keys",
          where(zip->source())));
    }
    for (const auto& item : *outer) {
      const auto* keys = item.as_array();
      if (keys == nullptr || keys->size() < 2) {
        throw InputError(fmt::format(
            "{}: [sweep] zip: each group is an array of two or more swept "
            "keys",
            where(item.source())));
      }
      Group group;
      for (const auto& k : *keys) {
        const auto key = k.value<std::string>();
        if (!key || lists.count(*key) == 0 || zipped.count(*key) > 0) {
          throw InputError(fmt::format(
              "{}: [sweep] zip: expected keys swept in this table, each in "
              "one group",
              where(k.source())));
        }
        zipped.insert(*key);
        group.keys.push_back(*key);
        group.lists.push_back(lists[*key]);
      }
      group.size = group.lists.front()->size();
      for (const auto* list : group.lists) {
        if (list->size() != group.size) {
          throw InputError(fmt::format(
              "{}: [sweep] zip: the lists of {} must have one length",
              where(item.source()), fmt::join(group.keys, ", ")));
        }
      }
      groups.push_back(group);
    }
  }
  for (const auto& key : order) {
    if (zipped.count(key) > 0) continue;
    groups.push_back(Group{{key}, {lists[key]}, lists[key]->size()});
  }
  // Groups in the order of their first key in the table.
  auto first = [&](const Group& g) {
    return std::find(order.begin(), order.end(), g.keys.front()) -
           order.begin();
  };
  std::sort(groups.begin(), groups.end(),
            [&](const Group& a, const Group& b) {
              return first(a) < first(b);
            });

  std::vector<SweepPoint> points;
  std::vector<size_t> index(groups.size(), 0);
  std::set<std::string> labels;
  while (true) {
    SweepPoint point;
    std::vector<std::string> parts;
    for (size_t g = 0; g < groups.size(); ++g) {
      for (size_t k = 0; k < groups[g].keys.size(); ++k) {
        const auto& key = groups[g].keys[k];
        const toml::node& node = *groups[g].lists[k]->get(index[g]);
        const std::string text = value_text(node);
        point.values.emplace_back(
            key, node.is_string() ? *node.value<std::string>() : text);
        point.overrides.push_back(key + "=" + text);
        parts.push_back(label_part(key, node));
      }
    }
    point.label = fmt::format("{}", fmt::join(parts, "-"));
    if (labels.count(point.label) > 0) {
      point.label += fmt::format("-{}", points.size());
    }
    labels.insert(point.label);
    points.push_back(point);

    size_t g = groups.size();
    while (g > 0) {
      --g;
      if (++index[g] < groups[g].size) break;
      index[g] = 0;
      if (g == 0) return points;
    }
    if (groups.empty()) return points;
  }
}

namespace {

bool finished(const fs::path& run) {
  std::error_code error;
  if (!fs::is_regular_file(run / "summary.json", error)) return false;
  try {
    const auto summary = Json::parse(read_file(run / "summary.json"));
    const Json* status = summary.find("status");
    return status != nullptr && status->string() == "finished";
  } catch (const InputError&) {
    return false;
  }
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& output) {
  std::vector<std::string> text = args;
  std::vector<char*> argv;
  for (auto& a : text) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(),
                             environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw RunError(fmt::format("cannot start {}: {}", args[0],
                               std::strerror(rc)));
  }
  return pid;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void write_sweep_summary(const fs::path& dir,
                         const std::vector<SweepPoint>& points) {
  std::vector<std::string> columns{"run"};
  for (const auto& [key, value] : points.front().values) {
    columns.push_back(key);
  }
  std::vector<std::map<std::string, std::string>> rows;
  for (const auto& point : points) {
    std::map<std::string, std::string> row;
    row["run"] = point.label;
    for (const auto& [key, value] : point.values) row[key] = value;
    const fs::path file = dir / point.label / "summary.json";
    std::error_code error;
    if (fs::is_regular_file(file, error)) {
      try {
        for (const auto& [key, value] :
             Json::parse(read_file(file), file.string()).flatten()) {
          if (std::find(columns.begin(), columns.end(), key) ==
              columns.end()) {
            columns.push_back(key);
          }
          row[key] = value;
        }
      } catch (const InputError&) {
        row["status"] = "unreadable";
      }
    } else {
      row["status"] = "missing";
    }
    if (std::find(columns.begin(), columns.end(), "status") ==
        columns.end()) {
      columns.push_back("status");
    }
    rows.push_back(row);
  }
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) {
    out += (i ? "," : "") + csv_field(columns[i]);
  }
  out += "\n";
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      const auto it = row.find(columns[i]);
      out += (i ? "," : "") +
             csv_field(it == row.end() ? std::string() : it->second);
    }
    out += "\n";
  }
  write_file_atomic(dir / "summary.csv", out);
}

std::vector<SweepPoint> select_sweep_points(
    std::vector<SweepPoint> points, const std::vector<std::string>& overrides,
    const fs::path& file) {
  for (const auto& item : overrides) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = item.substr(0, eq);
    std::string value = item.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    std::vector<std::string> swept_values;
    for (const auto& point : points) {
      for (const auto& [swept, text] : point.values) {
        if (swept == key &&
            std::find(swept_values.begin(), swept_values.end(), text) ==
                swept_values.end()) {
          swept_values.push_back(text);
        }
      }
    }
    if (swept_values.empty()) continue;
    if (std::find(swept_values.begin(), swept_values.end(), value) ==
        swept_values.end()) {
      throw InputError(fmt::format(
          "{}: {} is swept over {} in {}; expected one of those values, "
          "or --no-sweep to run the experiment alone",
          item, key, fmt::join(swept_values, ", "), file.string()));
    }
    points.erase(std::remove_if(points.begin(), points.end(),
                                [&](const SweepPoint& point) {
                                  for (const auto& [swept, text] :
                                       point.values) {
                                    if (swept == key) return text != value;
                                  }
                                  return false;
                                }),
                 points.end());
  }
  return points;
}

int run_sweep(const RunOptions& options, const std::vector<SweepPoint>& points,
              int jobs, Registry& registry) {
  const std::string text = read_file(options.file);
  // Every combination is validated before anything runs.
  std::string name;
  for (const auto& point : points) {
    std::vector<std::string> overrides = options.overrides;
    overrides.insert(overrides.end(), point.overrides.begin(),
                     point.overrides.end());
    const auto exp =
        Experiment::parse(text, options.file, overrides, registry);
    build_components(exp, registry);
    name = exp.experiment.get_string("name");
  }

  const std::string marker = fmt::format(
      "# latflow sweep: {} with {}\n{}", options.file.string(),
      fmt::join(options.overrides, " "), text);
  const fs::path dir =
      options.out.empty() ? default_run_dir(name) : options.out;
  std::error_code error;
  if (fs::exists(dir / "sweep.toml", error)) {
    if (read_file(dir / "sweep.toml") != marker) {
      throw InputError(fmt::format(
          "--out {}: holds another sweep (its sweep.toml differs); choose "
          "another folder",
          dir.string()));
    }
  } else {
    create_run_dir(dir);
    write_file_atomic(dir / "sweep.toml", marker);
  }
  fs::create_directories(dir / "logs");

  const int cores =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t threads =
      options.threads > 0 ? options.threads
                          : std::max(1, cores / std::max(1, jobs));
  const std::string program = boost::dll::program_location().string();
  log::info("sweep", "{} runs into {}, {} at a time", points.size(),
            dir.string(), jobs);

  std::map<pid_t, size_t> running;
  std::vector<std::chrono::steady_clock::time_point> started(points.size());
  int failed = 0;
  size_t next = 0;
  auto report = [&](size_t i, const std::string& what) {
    log::info("sweep", "[{}/{}] {}: {}", i + 1, points.size(),
              points[i].label, what);
  };
  while (next < points.size() || !running.empty()) {
    while (next < points.size() &&
           static_cast<int>(running.size()) < jobs && !stop_requested()) {
      const size_t i = next++;
      const fs::path run = dir / points[i].label;
      if (finished(run)) {
        report(i, "finished before, skipped");
        continue;
      }
      std::vector<std::string> args{program, "run"};
      if (fs::is_regular_file(run / "checkpoint.pt", error) &&
          fs::is_regular_file(run / "config.toml", error)) {
        args.insert(args.end(), {"--resume", run.string()});
        report(i, "resuming");
      } else {
        fs::remove_all(run, error);
        // --no-sweep: the child runs this one point, not the sweep again.
        args.insert(args.end(), {options.file.string(), "--no-sweep",
                                 "--out", run.string()});
        args.insert(args.end(), options.overrides.begin(),
                    options.overrides.end());
        args.insert(args.end(), points[i].overrides.begin(),
                    points[i].overrides.end());
        report(i, "started");
      }
      args.insert(args.end(), {"--threads", std::to_string(threads)});
      started[i] = std::chrono::steady_clock::now();
      running[spawn(args, dir / "logs" / (points[i].label + ".txt"))] = i;
    }
    if (running.empty()) break;

    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      if (const int signal = stop_requested()) {
        for (const auto& [child, i] : running) kill(child, signal);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t i = it->second;
    running.erase(it);
    const double seconds = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - started[i])
                               .count();
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0) {
      report(i, fmt::format("finished in {:.0f} s", seconds));
    } else {
      ++failed;
      report(i, fmt::format("exit status {} after {:.0f} s; see logs/{}.txt",
                            code, seconds, points[i].label));
    }
  }
  write_sweep_summary(dir, points);
  log::info("sweep", "summary {}", (dir / "summary.csv").string());
  if (const int signal = stop_requested()) return 128 + signal;
  return failed > 0 ? 1 : 0;
}

}  // namespace latflow
