#include "catalog/build_plan.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <tuple>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/json_obj.hpp"
#include "version.hpp"

namespace mcdnn {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<BuildJob> split_jobs(const std::vector<PlannedVariant>& plan) {
  std::vector<BuildJob> groups;
  std::vector<size_t> group_of(plan.size() + 1, SIZE_MAX);  // position -> group; the base has none
  std::map<std::tuple<size_t, std::string, std::string>, size_t> svd_group;  // (parent, step, layer)
  std::map<std::pair<size_t, std::string>, size_t> step_group;                // (parent, step): its last group
  for (size_t p = 1; p <= plan.size(); ++p) {
    const PlannedVariant& e = plan[p - 1];
    size_t g = SIZE_MAX;
    const auto svd_key = std::make_tuple(e.parent_pos, e.recipe.where, e.recipe.layer);
    if (e.recipe.pass == "svd")
      if (auto it = svd_group.find(svd_key); it != svd_group.end()) g = it->second;
    // A level whose rank comes from the trained weights may turn out to be the same variant as
    // a sibling (two energy levels choosing one rank): it and everything derived from it stay
    // in its parent's job, where the build resolves such aliases.
    if (g == SIZE_MAX && e.parent_pos != 0 && plan[e.parent_pos - 1].rank_from_weights) g = group_of[e.parent_pos];
    if (g == SIZE_MAX && e.skip)
      if (auto it = step_group.find({e.parent_pos, e.recipe.where}); it != step_group.end()) g = it->second;
    if (g == SIZE_MAX) {
      g = groups.size();
      groups.emplace_back();
      if (e.recipe.pass == "svd") svd_group[svd_key] = g;
    }
    step_group[{e.parent_pos, e.recipe.where}] = g;
    groups[g].positions.push_back(p);
    groups[g].ids.push_back(e.id);
    group_of[p] = g;
  }
  // Dependencies and waves, in creation order (a group's parents are in groups made before it).
  for (size_t g = 0; g < groups.size(); ++g) {
    BuildJob& job = groups[g];
    size_t wave = 1;
    for (size_t p : job.positions)
      for (size_t dep : {plan[p - 1].parent_pos, plan[p - 1].step_parent_pos}) {
        if (dep == 0 || group_of[dep] == g) continue;
        job.depends.push_back(group_of[dep]);
        wave = std::max(wave, groups[group_of[dep]].wave + 1);
      }
    job.wave = wave;
  }
  std::vector<size_t> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return groups[a].wave < groups[b].wave; });
  std::vector<size_t> number(groups.size());
  for (size_t i = 0; i < order.size(); ++i) number[order[i]] = i + 1;
  std::vector<BuildJob> jobs;
  for (size_t g : order) {
    BuildJob j = groups[g];
    j.number = number[g];
    for (auto& d : j.depends) d = number[d];
    std::sort(j.depends.begin(), j.depends.end());
    j.depends.erase(std::unique(j.depends.begin(), j.depends.end()), j.depends.end());
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::vector<size_t> parse_job_range(const std::string& text, size_t jobs) {
  auto number = [&](const std::string& s) -> size_t {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return 0;
    return static_cast<size_t>(std::stoul(s));
  };
  const auto dash = text.find('-');
  size_t a = number(text.substr(0, dash)), b = dash == std::string::npos ? a : number(text.substr(dash + 1));
  if (a < 1 || b < a || b > jobs)
    fail(ErrorClass::Usage, "--job " + text + ": expected a job number K or a range A-B within 1-" + std::to_string(jobs) +
                                " (the plan has " + std::to_string(jobs) + " jobs)");
  std::vector<size_t> out;
  for (size_t k = a; k <= b; ++k) out.push_back(k);
  return out;
}

namespace {

json entry_json(const CheckpointEntry& e) {
  json z = json::object();
  for (const auto& [k, v] : e.unmasked_zeros) z[k] = v;
  return {{"shared", e.shared}, {"unmasked_zeros", z}};
}

CheckpointEntry read_entry(const Obj& o) {
  CheckpointEntry e;
  e.shared = static_cast<size_t>(o.i64("shared", 0, 1 << 20));
  Obj z = o.obj("unmasked_zeros");
  for (const auto& [k, v] : z.j.items()) {
    if (!v.is_array()) z.bad(k, "expected a list of indices");
    for (const auto& i : v)
      if (!i.is_number_integer() || i.get<int64_t>() < 0) z.bad(k, "expected a list of indices");
    e.unmasked_zeros[k] = v.get<std::vector<int64_t>>();
  }
  return e;
}

json parse_text(const std::string& text, const std::string& where) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) fail(ErrorClass::Catalog, where + ": expected a JSON object at the top level");
    return j;
  } catch (const json::exception& e) {
    fail(ErrorClass::Catalog, where + ": not valid JSON (" + std::string(e.what()) + "); the file is damaged");
  }
}

std::vector<size_t> sizes(const Obj& o, const char* key) {
  const json& v = o.at(key);
  if (!v.is_array()) o.bad(key, "expected a list of positive integers");
  std::vector<size_t> out;
  for (const auto& e : v) {
    if (!e.is_number_integer() || e.get<int64_t>() < 1) o.bad(key, "expected a list of positive integers");
    out.push_back(e.get<size_t>());
  }
  return out;
}

}  // namespace

std::string plan_json(const PlanFile& p, const Schema& schema) {
  nlohmann::ordered_json j;
  j["format"] = kPlanFormat;
  j["format_version"] = 1;
  j["compiler"] = std::string("mcdnn-compile ") + kVersion;
  j["schema"] = schema.name;
  j["schema_hash"] = schema.source_hash;
  j["build_key"] = p.build_key;
  j["threads"] = p.threads;
  j["device"] = p.device;
  j["variants"] = p.variants;
  j["positions"] = p.positions;
  j["base"] = nlohmann::ordered_json::parse(catalog_json(schema, {p.base}, p.build_key));
  j["base_entry"] = nlohmann::ordered_json::parse(entry_json(p.base_entry).dump());
  auto jobs = nlohmann::ordered_json::array();
  for (const auto& b : p.jobs)
    jobs.push_back({{"job", b.number}, {"wave", b.wave}, {"depends", b.depends}, {"positions", b.positions}, {"variants", b.ids}});
  j["jobs"] = std::move(jobs);
  // Per wave, its range of job numbers: what a scheduler submits as one job array.
  auto waves = nlohmann::ordered_json::array();
  for (const auto& b : p.jobs) {
    if (waves.empty() || waves.back()["wave"].get<size_t>() != b.wave)
      waves.push_back({{"wave", b.wave}, {"first", b.number}, {"last", b.number}});
    else
      waves.back()["last"] = b.number;
  }
  j["waves"] = std::move(waves);
  return j.dump(1);
}

PlanFile read_plan(const std::string& dir) {
  const std::string path = (fs::path(dir) / "plan.json").string();
  json root = parse_text(read_file(path, static_cast<int>(ErrorClass::Catalog)), path);
  Obj r{root, path};
  if (r.str("format") != kPlanFormat) r.bad("format", "expected '" + std::string(kPlanFormat) + "' (not an mcdnn build plan)");
  if (r.i64("format_version") != 1) r.bad("format_version", "this mcdnn reads version 1; make the plan again with --plan");
  PlanFile p;
  p.schema_name = r.str("schema");
  p.schema_hash = r.str("schema_hash");
  p.build_key = r.str("build_key");
  p.compiler = r.str("compiler");
  p.threads = static_cast<int>(r.i64("threads", 1, 4096));
  p.device = r.str("device");
  p.variants = r.i64("variants");
  p.positions = r.i64("positions", 0, 1 << 24);
  CatalogIndex base = parse_catalog_index(r.at("base").dump(), path + ": base");
  if (base.records.size() != 1 || base.records[0].id != "base") r.bad("base", "expected the base model's record alone");
  p.base = base.records[0];
  p.input = base.input;
  p.base_entry = read_entry(r.obj("base_entry"));
  const json& jobs = r.at("jobs");
  if (!jobs.is_array()) r.bad("jobs", "expected a list");
  std::vector<bool> seen(static_cast<size_t>(p.positions) + 1, false);
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!jobs[i].is_object()) r.bad("jobs[" + std::to_string(i) + "]", "expected an object");
    Obj o{jobs[i], path + ": jobs[" + std::to_string(i) + "]"};
    BuildJob b;
    b.number = static_cast<size_t>(o.i64("job", 1));
    if (b.number != i + 1) o.bad("job", "expected " + std::to_string(i + 1) + " (jobs are numbered in order)");
    b.wave = static_cast<size_t>(o.i64("wave", 1));
    if (i > 0 && b.wave < p.jobs.back().wave) o.bad("wave", "waves must not decrease");
    const json& deps = o.at("depends");
    if (!deps.is_array()) o.bad("depends", "expected a list of earlier jobs");
    for (const auto& d : deps) {
      if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<size_t>() > i) o.bad("depends", "expected a list of earlier jobs");
      b.depends.push_back(d.get<size_t>());
    }
    b.positions = sizes(o, "positions");
    b.ids = o.strings("variants");
    if (b.ids.size() != b.positions.size() || b.positions.empty()) o.bad("variants", "expected one id per position");
    for (size_t q : b.positions) {
      if (q > static_cast<size_t>(p.positions) || seen[q]) o.bad("positions", "position " + std::to_string(q) + " out of range or in two jobs");
      seen[q] = true;
    }
    p.jobs.push_back(std::move(b));
  }
  for (size_t q = 1; q < seen.size(); ++q)
    if (!seen[q]) r.bad("jobs", "plan position " + std::to_string(q) + " is in no job");
  return p;
}

std::string job_file_name(size_t job) { return "job-" + std::to_string(job) + ".json"; }

std::string job_json(const JobResult& jr, const Schema& schema) {
  nlohmann::ordered_json j;
  j["format"] = kJobFormat;
  j["format_version"] = 1;
  j["job"] = jr.job;
  j["build_key"] = jr.build_key;
  j["seconds"] = jr.seconds;
  j["positions"] = jr.positions;
  j["planned"] = jr.planned;
  auto entries = nlohmann::ordered_json::array();
  for (const auto& e : jr.entries) entries.push_back(nlohmann::ordered_json::parse(entry_json(e).dump()));
  j["entries"] = std::move(entries);
  j["skipped"] = jr.skipped;
  auto notes = nlohmann::ordered_json::array();
  for (const auto& [pos, text] : jr.notes) notes.push_back({{"position", pos}, {"text", text}});
  j["notes"] = std::move(notes);
  // The records as catalog.json writes them (no records: an empty list).
  auto cat = nlohmann::ordered_json::parse(catalog_json(schema, jr.records, jr.build_key));
  j["records"] = cat["variants"];
  j["catalog"] = std::move(cat);
  j["catalog"]["variants"] = nlohmann::ordered_json::array();
  return j.dump(1);
}

JobResult read_job(const std::string& path) {
  json root = parse_text(read_file(path, static_cast<int>(ErrorClass::Catalog)), path);
  Obj r{root, path};
  if (r.str("format") != kJobFormat) r.bad("format", "expected '" + std::string(kJobFormat) + "' (not an mcdnn build job)");
  if (r.i64("format_version") != 1) r.bad("format_version", "this mcdnn reads version 1; rerun the job");
  JobResult jr;
  jr.job = static_cast<size_t>(r.i64("job", 1));
  jr.build_key = r.str("build_key");
  jr.seconds = r.num("seconds", 0, 1e12);
  jr.positions = sizes(r, "positions");
  jr.planned = r.strings("planned");
  jr.skipped = r.strings("skipped");
  const json& recs = r.at("records");
  if (!recs.is_array()) r.bad("records", "expected a list");
  if (!recs.empty()) {
    json cat = r.at("catalog");
    if (!cat.is_object()) r.bad("catalog", "expected an object");
    cat["variants"] = recs;
    jr.records = parse_catalog_index(cat.dump(), path, /*parents_elsewhere=*/true).records;
  }
  const json& entries = r.at("entries");
  if (!entries.is_array()) r.bad("entries", "expected a list");
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].is_object()) r.bad("entries", "expected a list of objects");
    jr.entries.push_back(read_entry(Obj{entries[i], path + ": entries[" + std::to_string(i) + "]"}));
  }
  if (jr.positions.size() != jr.records.size() || jr.planned.size() != jr.records.size() || jr.entries.size() != jr.records.size())
    r.bad("records", "positions, planned, entries and records differ in length");
  const json& notes = r.at("notes");
  if (!notes.is_array()) r.bad("notes", "expected a list");
  for (size_t i = 0; i < notes.size(); ++i) {
    if (!notes[i].is_object()) r.bad("notes", "expected a list of objects");
    Obj n{notes[i], path + ": notes[" + std::to_string(i) + "]"};
    jr.notes.emplace_back(static_cast<size_t>(n.i64("position", 1)), n.str("text"));
  }
  return jr;
}

namespace {

bool ours_name(const std::string& n) {
  auto ends = [&](const std::string& s) { return n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0; };
  if (n == "plan.json" || n.rfind(".lock", 0) == 0 || ends(".h5")) return true;
  if (n.rfind("job-", 0) == 0 && ends(".json")) return true;
  auto t = n.rfind(".tmp-");
  return t != std::string::npos && t + 5 < n.size() && n.find_first_not_of("0123456789", t + 5) == std::string::npos;
}

}  // namespace

bool prepare_plan_dir(const std::string& dir, const std::string& build_key, bool restart, bool clean) {
  std::error_code ec;
  const fs::path d(dir);
  auto st = fs::symlink_status(d, ec);
  if (st.type() == fs::file_type::not_found) {
    fs::create_directories(d, ec);
    if (ec) fail(ErrorClass::Output, dir + ": cannot create the plan directory: " + ec.message());
    return false;
  }
  if (st.type() == fs::file_type::symlink)
    fail(ErrorClass::Output, dir + ": is a symbolic link; give the plan directory itself (a new or empty directory, or a plan mcdnn wrote)");
  if (st.type() != fs::file_type::directory) fail(ErrorClass::Output, dir + ": exists and is not a directory; choose a new or empty directory");
  std::vector<fs::path> files;
  bool has_plan = false;
  for (const auto& e : fs::directory_iterator(d, ec)) {
    const std::string n = e.path().filename().string();
    if (!fs::is_regular_file(e.symlink_status()) || !ours_name(n))
      fail(ErrorClass::Output, dir + ": holds '" + n + "', which is not part of an mcdnn build plan; mcdnn-compile --plan uses only a new or "
                                     "empty directory or a plan it wrote. Choose another directory or move that one away yourself");
    has_plan = has_plan || n == "plan.json";
    files.push_back(e.path());
  }
  if (ec) fail(ErrorClass::Output, dir + ": cannot be listed (" + ec.message() + ")");
  if (files.empty()) return false;
  std::string key;
  if (has_plan) {
    try {
      json j = json::parse(read_file(d / "plan.json", static_cast<int>(ErrorClass::Output)));
      if (!j.is_object() || j.value("format", "") != kPlanFormat) throw std::runtime_error("not a plan");
      key = j.value("build_key", "");
    } catch (const std::exception&) {
      fail(ErrorClass::Output, (d / "plan.json").string() + ": is not an mcdnn build plan; choose another directory");
    }
  } else {
    // plan.json is written first (a marker while the base model trains): without it there may
    // be only locks and temporaries.
    for (const auto& f : files) {
      const std::string n = f.filename().string();
      if (n.rfind(".lock", 0) != 0 && n.find(".tmp-") == std::string::npos)
        fail(ErrorClass::Output, dir + ": holds '" + n + "' but no plan.json, so it was not made by mcdnn-compile --plan; choose another directory");
    }
  }
  if (has_plan && key == build_key && !restart) return true;
  if (!clean) return false;
  for (const auto& f : files)
    if (f.filename().string().rfind(".lock", 0) != 0) fs::remove(f, ec);
  return false;
}

}  // namespace mcdnn
