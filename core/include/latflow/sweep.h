#pragma once

#include <latflow/registry.h>
#include <latflow/runner.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace latflow {

/// One combination of a [sweep] table.
struct SweepPoint {
  std::string label;                   ///< run folder name
  std::vector<std::string> overrides;  ///< KEY=VALUE for this combination
  /// Swept keys and their values (strings bare, others as TOML), in table
  /// order.
  std::vector<std::pair<std::string, std::string>> values;
};

/// Expands the [sweep] table of an experiment file: each dotted key holds
/// a list of values and the runs are their Cartesian product, except that
/// the keys of one `zip` group (`zip = [["a.x", "b.y"]]`) vary together.
/// Returns no points when the file has no [sweep] table.
std::vector<SweepPoint> expand_sweep(const std::string& text,
                                     const std::filesystem::path& file);

/// Applies command-line overrides to a sweep: an override of a swept key
/// keeps the points with that value or, for a value not in the list,
/// replaces the swept one everywhere (points that become equal are
/// merged). Other overrides leave the points alone. Returns the points
/// to run; none when `points` is empty (no sweep).
std::vector<SweepPoint> select_sweep_points(
    std::vector<SweepPoint> points, const std::vector<std::string>& overrides,
    const std::filesystem::path& file);

/// Runs every point of a sweep as a child `latflow run` process, `jobs` at
/// a time, one run directory each under the sweep directory. Finished runs
/// are skipped and interrupted ones resumed when the sweep is run again
/// into the same directory. Writes summary.csv with one row per run.
/// Returns the exit status (0, 1 if a run failed, 130/143 if stopped).
int run_sweep(const RunOptions& options, const std::vector<SweepPoint>& points,
              int jobs, Registry& registry);

/// Collects summary.json of every point into `dir`/summary.csv.
void write_sweep_summary(const std::filesystem::path& dir,
                         const std::vector<SweepPoint>& points);

}  // namespace latflow
