#include <latflow/error.h>
#include <latflow/evaluate.h>
#include <latflow/io.h>
#include <latflow/json.h>
#include <latflow/log.h>
#include <latflow/optimizer.h>
#include <latflow/runner.h>
#include <latflow/stats.h>
#include <latflow/version.h>

#include <torch/torch.h>

#include <sys/resource.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>

namespace latflow {

namespace fs = std::filesystem;

namespace {

std::atomic<int> stop_signal{0};

void on_stop_signal(int signal) { stop_signal.store(signal); }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start)
      .count();
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

/// A string as a byte tensor, to store text in a torch archive.
torch::Tensor text_tensor(const std::string& text) {
  auto t = torch::empty({static_cast<int64_t>(text.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr(), text.data(), text.size());
  return t;
}

std::string tensor_text(const torch::Tensor& t) {
  const auto bytes = t.contiguous().to(torch::kCPU, torch::kUInt8);
  return std::string(static_cast<const char*>(bytes.data_ptr()),
                     static_cast<size_t>(bytes.numel()));
}

/// What must not change between a checkpoint and the run that loads it:
/// the model, the flow and the precisions.
std::string model_signature(const Experiment& exp) {
  std::string text;
  for (const Params* params : {&exp.action, &exp.flow, &exp.precision}) {
    text += fmt::format("[{}] type = {}\n", params->section(),
                        params->type());
    for (const auto& [key, value] : params->values()) {
      text += fmt::format("{} = {}\n", key, to_toml(value));
    }
  }
  return text;
}

int64_t count_parameters(Flow& flow) {
  int64_t n = 0;
  for (const auto& p : flow.parameters()) n += p.numel();
  return n;
}

bool parameters_finite(Flow& flow) {
  for (const auto& p : flow.parameters()) {
    if (!torch::isfinite(p).all().item<bool>()) return false;
  }
  return true;
}

struct Metrics {
  std::ofstream file;

  void open(const fs::path& path) {
    // The header is in place before the file is: a killed run never leaves
    // a metrics.csv without one.
    std::error_code error;
    if (!fs::exists(path, error) || fs::file_size(path, error) == 0) {
      write_file_atomic(
          path, "step,loss,free_energy_q,ess,grad_norm,seconds,skipped\n");
    }
    file.open(path, std::ios::app);
  }

  void row(int64_t step, double loss, double free_energy_q, double ess,
           double grad_norm, double seconds, int64_t skipped) {
    // One write per row, flushed at once, so that a killed run leaves
    // whole rows.
    file << fmt::format("{},{},{},{},{},{:.3f},{}\n", step, loss,
                        free_energy_q, ess, grad_norm, seconds, skipped);
    file.flush();
  }
};

/// Prepares a run directory to continue at `step`: keeps the metrics rows
/// up to that step (a run killed after a row and before its checkpoint
/// would repeat those steps) and drops a torn last line, then removes the
/// temporary files of writes that a kill interrupted.
void prepare_resume(const fs::path& dir, int64_t step) {
  const fs::path metrics = dir / "metrics.csv";
  std::error_code error;
  if (fs::exists(metrics, error)) {
    const std::string text = read_file(metrics);
    std::string kept;
    // Only whole lines: a torn last line has no newline.
    for (size_t begin = 0, end = 0;
         (end = text.find('\n', begin)) != std::string::npos;
         begin = end + 1) {
      const std::string line = text.substr(begin, end + 1 - begin);
      if (begin == 0) {
        if (line.rfind("step,", 0) != 0) break;
        kept += line;
      } else if (std::isdigit(static_cast<unsigned char>(line[0])) &&
                 std::atoll(line.c_str()) <= step) {
        kept += line;
      }
    }
    if (kept != text) write_file_atomic(metrics, kept);
  }
  std::vector<fs::path> temporaries;
  for (const auto& item : fs::directory_iterator(dir, error)) {
    const std::string name = item.path().filename().string();
    const bool temporary =
        name[0] == '.' && (name.find(".tmp-") != std::string::npos ||
                           (name.size() > 4 &&
                            name.compare(name.size() - 4, 4, ".tmp") == 0));
    if (temporary) temporaries.push_back(item.path());
  }
  for (const auto& path : temporaries) fs::remove(path, error);
}

/// Training state: flow, optimizer, step counters; checkpoints it and
/// continues from a checkpoint.
class Training {
 public:
  Training(const Experiment& exp, Components& c, fs::path dir)
      : exp_(exp),
        c_(c),
        dir_(std::move(dir)),
        optimizer_(c.flow->parameters(), exp.train.get_float("lr")),
        signature_(model_signature(exp)) {}

  /// Saves flow, optimizer, step, counters and generator state, atomically
  /// replacing `name` in the run directory.
  void save(const std::string& name) {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive flow_archive;
    c_.flow->save(flow_archive);
    archive.write("flow", flow_archive);
    optimizer_.save(archive);
    archive.write("step", torch::tensor(step_));
    archive.write("skipped", torch::tensor(skipped_));
    archive.write("seconds", torch::tensor(seconds_, torch::kFloat64));
    archive.write("last_figures",
                  torch::tensor({last_.ess, last_.free_energy_q, last_.loss,
                                 last_.grad_norm},
                                torch::kFloat64));
    archive.write("rng_cpu", torch::globalContext()
                                 .defaultGenerator(torch::kCPU)
                                 .get_state());
    archive.write("signature", text_tensor(signature_));
    const fs::path temporary = dir_ / fmt::format(".{}.tmp", name);
    archive.save_to(temporary.string());
    replace_file_atomic(temporary, dir_ / name);
  }

  /// Continues from the run directory's checkpoint.pt. Reads only, so that
  /// a refused checkpoint leaves the run directory as it was. Returns false
  /// when there is none: the run was stopped before its first checkpoint
  /// and starts again from step 0.
  bool load() {
    const fs::path file = dir_ / "checkpoint.pt";
    std::error_code error;
    if (!fs::exists(file, error)) return false;
    torch::serialize::InputArchive archive;
    torch::Tensor step, skipped, seconds, rng, signature;
    try {
      archive.load_from(file.string());
      archive.read("signature", signature);
      archive.read("step", step);
      archive.read("skipped", skipped);
      archive.read("seconds", seconds);
      archive.read("rng_cpu", rng);
    } catch (const std::exception&) {
      throw InputError(fmt::format(
          "{}: not a readable latflow checkpoint (truncated or of another "
          "program)",
          file.string()));
    }
    if (tensor_text(signature) != signature_) {
      throw InputError(fmt::format(
          "{}: checkpoint of another model; its [action], [flow] and "
          "[precision] differ from the experiment being resumed",
          file.string()));
    }
    try {
      torch::serialize::InputArchive flow_archive;
      archive.read("flow", flow_archive);
      c_.flow->load(flow_archive);
      optimizer_.load(archive);
    } catch (const std::exception&) {
      throw InputError(fmt::format(
          "{}: checkpoint does not fit the flow of the experiment",
          file.string()));
    }
    if (!parameters_finite(*c_.flow) || !optimizer_.finite()) {
      throw InputError(fmt::format(
          "{}: checkpoint holds non-finite weights; resume from a copy of "
          "the run made before they appeared",
          file.string()));
    }
    step_ = step.item<int64_t>();
    skipped_ = skipped.item<int64_t>();
    seconds_ = seconds.item<double>();
    torch::Tensor last;
    if (archive.try_read("last_figures", last) && last.numel() == 4) {
      last = last.to(torch::kFloat64).contiguous();
      const double* v = last.data_ptr<double>();
      last_ = {v[0], v[1], v[2], v[3]};
    }
    // A copy shares the generator implementation; set_state is not const.
    at::Generator generator =
        torch::globalContext().defaultGenerator(torch::kCPU);
    generator.set_state(rng);
    return true;
  }

  int64_t step() const { return step_; }

  /// Trains up to [train] steps; returns false when stopped by a
  /// non-finite step under on_nonfinite = "stop".
  bool run(Json& summary) {
    const auto& train = exp_.train;
    const int64_t steps = train.get_int("steps");
    const int64_t batch = train.get_int("batch");
    const int64_t micro = train.get_int("micro_batches");
    const double clip = train.get_float("grad_clip");
    const int64_t log_every = train.get_int("log_every");
    const int64_t checkpoint_every = train.get_int("checkpoint_every");
    const double time_limit = train.get_float("time_limit");
    const bool stop_on_nonfinite = train.get_string("on_nonfinite") == "stop";
    const bool cosine = train.get_string("lr_schedule") == "cosine";
    const double base_lr = train.get_float("lr");
    const auto action_dtype = exp_.action_dtype();
    const int64_t plain_every = std::max<int64_t>(
        log_every, (steps + 19) / 20 / log_every * log_every);
    const bool terminal = log::is_terminal();

    Flow& flow = *c_.flow;
    flow.train();
    Metrics metrics;
    metrics.open(dir_ / "metrics.csv");
    const auto start = std::chrono::steady_clock::now();
    const double seconds_before = seconds_;
    const int64_t first_step = step_;
    const auto device = flow.parameters().front().device();
    const auto scalar = torch::TensorOptions().dtype(torch::kFloat64);
    // Counted on the device: the host reads it, with the step's figures,
    // only at a metrics row, a checkpoint or the end, so that a GPU is not
    // made to wait for the host every step.
    auto skipped = torch::full({}, skipped_, scalar.dtype(torch::kLong))
                       .to(device);
    int64_t checked_step = step_;
    bool healthy = true;
    while (step_ < steps) {
      if (stop_requested() != 0) break;
      if (time_limit > 0 && seconds_ >= time_limit) {
        log::info("train", "time limit of {} s reached after {} steps",
                  time_limit, step_);
        break;
      }
      if (cosine) {
        const double lr = base_lr * 0.5 *
                          (1 + std::cos(M_PI * static_cast<double>(step_) /
                                        static_cast<double>(steps)));
        optimizer_.set_lr(lr);
      }
      optimizer_.zero_grad();
      std::vector<torch::Tensor> log_q, action;
      auto loss = torch::zeros({}, scalar.device(device));
      for (int64_t m = 0; m < micro; ++m) {
        auto result = c_.estimator->step(flow, *c_.action, action_dtype,
                                         batch / micro, 1.0 / micro, nullptr);
        log_q.push_back(result.log_q);
        action.push_back(result.action);
        loss = loss + result.loss.detach().to(torch::kFloat64) / micro;
      }
      const auto norm = optimizer_.step(loss, clip, skipped);
      ++step_;
      seconds_ = seconds_before + seconds_since(start);

      const bool row = step_ % log_every == 0 || step_ == steps;
      const bool save_now =
          checkpoint_every > 0 && step_ % checkpoint_every == 0;
      if (!row && !save_now) continue;

      // The figures of this step, read on the host.
      const auto lq = torch::cat(log_q);
      const auto s = torch::cat(action);
      last_.ess = effective_sample_size(-s - lq);
      last_.free_energy_q = (lq + s).mean().item<double>();
      last_.loss = loss.item<double>();
      last_.grad_norm = norm.item<double>();
      const int64_t skipped_before = skipped_;
      skipped_ = skipped.item<int64_t>();
      if (skipped_ > skipped_before) {
        const auto where =
            step_ - checked_step == 1
                ? fmt::format("step {}", step_)
                : fmt::format("steps {}-{}", checked_step + 1, step_);
        if (stop_on_nonfinite) {
          save("checkpoint_nonfinite.pt");
          log::write(log::Level::kError, "train",
                     fmt::format("{}: non-finite loss or gradient; "
                                 "stopped, state in checkpoint_nonfinite.pt",
                                 where));
          healthy = false;
          break;
        }
        const int64_t count = skipped_ - skipped_before;
        if (count == 1) {
          log::warn("train", "{}: non-finite loss or gradient, skipped",
                    where);
        } else {
          log::warn("train",
                    "{}: {} steps with a non-finite loss or gradient, "
                    "skipped",
                    where, count);
        }
      }
      checked_step = step_;
      if (row) {
        metrics.row(step_, last_.loss, last_.free_energy_q, last_.ess,
                    last_.grad_norm, seconds_, skipped_);
        const double per_step = seconds_since(start) / (step_ - first_step);
        const std::string status = fmt::format(
            "step {}/{}  F_q {:.4f}  ess {:.3f}  {:.3f} s/step", step_, steps,
            last_.free_energy_q, last_.ess, per_step);
        if (terminal) {
          const int width = 24;
          const int filled = static_cast<int>(width * step_ / steps);
          log::progress(fmt::format(
              "[{}{}] {}  eta {}", std::string(filled, '#'),
              std::string(width - filled, '.'), status,
              duration_text(per_step * (steps - step_))));
        } else if (step_ % plain_every == 0 || step_ == steps) {
          log::info("train", "{}", status);
        }
      }
      if (save_now) save_if_finite();
    }
    // A run that ended between two reads (stop signal, time limit) reads
    // its skipped steps once more.
    skipped_ = skipped.item<int64_t>();
    log::progress_done();
    if (healthy) save_if_finite();

    summary["steps"] = step_;
    summary["train_seconds"] = seconds_;
    summary["seconds_per_step"] = step_ > 0 ? seconds_ / step_ : 0.0;
    summary["skipped_steps"] = skipped_;
    summary["final_train_ess"] = last_.ess;
    summary["final_train_free_energy_q"] = last_.free_energy_q;
    summary["final_loss"] = last_.loss;
    summary["final_grad_norm"] = last_.grad_norm;
    return healthy;
  }

 private:
  /// The last good checkpoint is never replaced by non-finite weights.
  void save_if_finite() {
    if (parameters_finite(*c_.flow)) {
      save("checkpoint.pt");
    } else {
      log::warn("train", "step {}: non-finite parameters; checkpoint.pt "
                "keeps the last good state", step_);
    }
  }

  const Experiment& exp_;
  Components& c_;
  fs::path dir_;
  FlowOptimizer optimizer_;
  std::string signature_;
  int64_t step_ = 0;
  int64_t skipped_ = 0;
  double seconds_ = 0;
  /// The figures of the last step read on the host, kept in the
  /// checkpoint so that a resumed run with no step left reports them.
  struct {
    double ess = 0, free_energy_q = 0, loss = 0, grad_norm = 0;
  } last_;
};

}  // namespace

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

int stop_requested() { return stop_signal.load(); }

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

fs::path default_run_dir(const std::string& name) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  fs::path dir = fs::path("runs") / name / stamp;
  for (int i = 2; fs::exists(dir); ++i) {
    dir = fs::path("runs") / name / fmt::format("{}-{}", stamp, i);
  }
  return dir;
}

void create_run_dir(const fs::path& dir) {
  std::error_code error;
  if (fs::exists(dir, error)) {
    if (!fs::is_directory(dir, error)) {
      throw InputError(fmt::format(
          "--out {}: exists and is not a folder", dir.string()));
    }
    if (!fs::is_empty(dir, error)) {
      throw InputError(fmt::format(
          "--out {}: folder is not empty; a run directory is never "
          "overwritten (choose another folder)",
          dir.string()));
    }
  }
  fs::create_directories(dir, error);
  if (error) {
    throw InputError(fmt::format("--out {}: cannot create: {}", dir.string(),
                                 error.message()));
  }
}

RunResult run_experiment(const RunOptions& options, Registry& registry) {
  const bool resuming = !options.resume.empty();
  const fs::path file =
      resuming ? options.resume / "config.toml" : options.file;
  if (resuming && !fs::is_regular_file(file)) {
    throw InputError(fmt::format(
        "--resume {}: not a run directory (no config.toml)",
        options.resume.string()));
  }
  const Experiment exp = Experiment::load(file, options.overrides, registry);
  const int threads = configure_threads(
      options.threads >= 0 ? options.threads
                           : exp.experiment.get_int("threads"));
  const std::string name = exp.experiment.get_string("name");
  fs::path dir = options.resume;
  if (!resuming) {
    dir = options.out.empty() ? default_run_dir(name) : options.out;
  }

  // Whatever can refuse the input (components, the checkpoint) is checked
  // before the run directory is made or changed: a refused run leaves no
  // trace.
  seed_everything(static_cast<uint64_t>(exp.experiment.get_int("seed")));
  Components c = build_components(exp, registry);
  Training training(exp, c, dir);
  const bool restored = resuming && training.load();
  if (training.step() > exp.train.get_int("steps")) {
    throw InputError(fmt::format(
        "--resume {}: train.steps = {} is below the {} steps already "
        "trained; expected at least {}",
        dir.string(), exp.train.get_int("steps"), training.step(),
        training.step()));
  }
  if (resuming) {
    prepare_resume(dir, training.step());
  } else {
    create_run_dir(dir);
  }

  write_file_atomic(dir / "config.toml", exp.resolved_toml());
  log::open_file(dir / "log.txt");
  log::info("run", "latflow {} (LibTorch {}), {} threads, run directory {}",
            LATFLOW_VERSION, LATFLOW_TORCH_VERSION, threads, dir.string());
  if (restored) {
    log::info("train", "resumed at step {} from {}", training.step(),
              (dir / "checkpoint.pt").string());
  } else if (resuming) {
    log::warn("train", "no checkpoint.pt in {}: the run was stopped before "
              "its first checkpoint; starting again from step 0",
              dir.string());
  }
  for (const auto& plugin : registry.plugins()) {
    log::debug("plugins", "loaded {} {} from {}", plugin.name, plugin.version,
               plugin.file.string());
  }
  log::info("run", "{}", exp.resolved_table());

  Json summary = Json::object();
  summary["experiment"] = name;
  summary["status"] = "running";
  summary["latflow_version"] = LATFLOW_VERSION;
  summary["action"] = exp.action.type();
  summary["flow"] = exp.flow.type();
  summary["estimator"] = exp.estimator.type();
  Json precision = Json::object();
  precision["flow"] = exp.precision.get_string("flow");
  precision["action"] = exp.precision.get_string("action");
  summary["precision"] = precision;
  summary["threads"] = threads;

  RunResult result{dir, "finished", 0};
  const auto finish = [&](const std::string& status) {
    summary["status"] = status;
    summary["peak_rss_mb"] = peak_rss_mb();
    write_file_atomic(dir / "summary.json", summary.dump(2) + "\n");
  };
  try {
    const int64_t parameters = count_parameters(*c.flow);
    summary["parameters"] = parameters;
    log::info("run", "flow {} with {} parameters", exp.flow.type(),
              parameters);

    if (!training.run(summary)) {
      result.status = "failed";
      result.exit_code = 1;
      finish("failed");
      log::close_file();
      return result;
    }
    summary["acceptance"] = Json();
    if (const int signal = stop_requested()) {
      result.status = "interrupted";
      result.exit_code = 128 + signal;
      log::warn("run", "interrupted by signal {}; checkpoint written",
                signal);
      finish("interrupted");
      log::close_file();
      return result;
    }
    const auto evaluation = evaluate_flow(
        *c.flow, *c.action, exp.action_dtype(),
        exp.evaluate.get_int("batch"), exp.evaluate.get_int("chunk"));
    add_to_summary(evaluation, summary);
    log::info("run", "{}", format_evaluation(evaluation));
    finish("finished");
  } catch (const InputError& e) {
    summary["error"] = e.what();
    finish("failed");
    log::close_file();
    throw;
  } catch (const std::exception& e) {
    // One line: LibTorch's errors carry a backtrace after the message.
    const std::string text = e.what();
    const std::string message = text.substr(0, text.find('\n'));
    summary["error"] = message;
    result.status = "failed";
    result.exit_code = 1;
    finish("failed");
    log::write(log::Level::kError, "run", message);
  }
  log::info("run", "run directory {}", dir.string());
  log::close_file();
  return result;
}

}  // namespace latflow
