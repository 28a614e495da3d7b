#include "catalog/output_dir.hpp"
#include "catalog/report.hpp"

#include <fcntl.h>

#include <fstream>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/sha256.hpp"

namespace mcdnn {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kCheckpointFormat = "mcdnn-checkpoint";

fs::path target_of(const std::string& dir) {
  fs::path t = fs::absolute(dir).lexically_normal();
  if (t.filename().empty() && t.has_parent_path() && t != t.root_path()) t = t.parent_path();
  return t;
}

fs::path partial_of(const fs::path& target) {
  fs::path p = target;
  p += ".partial";
  return p;
}

// The value of `format` in a JSON file, "" when it cannot be read.
// The first 16 KB of a file ("" when unreadable): enough to recognize an mcdnn report.
std::string read_head(const fs::path& file) {
  std::ifstream f(file, std::ios::binary);
  std::string head(16384, '\0');
  f.read(&head[0], static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(f.gcount(), 0)));
  return head;
}

std::string json_format(const fs::path& file, json* out = nullptr) {
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(file, ec))) return "";
  try {
    json j = json::parse(read_file(file, static_cast<int>(ErrorClass::Catalog)));
    if (!j.is_object() || !j.contains("format") || !j["format"].is_string()) return "";
    if (out) *out = j;
    return j["format"].get<std::string>();
  } catch (const std::exception&) {
    return "";
  }
}

enum class Kind { Absent, Empty, Ours, Foreign };
struct Inspection {
  Kind kind = Kind::Absent;
  std::string why;              // Foreign: what makes it so
  std::vector<fs::path> files;  // Ours: every entry, all of them mcdnn's
};

bool tmp_name(const std::string& n) {
  auto p = n.rfind(".tmp-");
  return p != std::string::npos && p + 5 < n.size() && n.find_first_not_of("0123456789", p + 5) == std::string::npos;
}

// What is at `d`. A catalog directory is ours when its catalog.json has mcdnn's format and every
// entry is a regular file that catalog.json lists (or a leftover of a build: checkpoint.json,
// .lock), the report or plots mcdnn wrote there (report.html, catalog.png, catalog.svg, each
// recognized by its content), or a temporary. A build directory (`partial`) is ours when its checkpoint.json has mcdnn's checkpoint
// format and it holds only variant files, catalog.json, checkpoint.json, .lock and temporaries.
Inspection inspect(const fs::path& d, bool partial) {
  Inspection r;
  std::error_code ec;
  auto st = fs::symlink_status(d, ec);
  if (st.type() == fs::file_type::not_found) return r;
  if (st.type() == fs::file_type::symlink) return {Kind::Foreign, "is a symbolic link", {}};
  if (st.type() != fs::file_type::directory) return {Kind::Foreign, "exists and is not a directory", {}};
  std::set<std::string> allowed = {"catalog.json", "checkpoint.json", ".lock"};
  // report.html: written with every catalog; ours only when it is an mcdnn report.
  std::error_code rec;
  if (fs::is_regular_file(fs::symlink_status(d / "report.html", rec)) && is_catalog_report(read_head(d / "report.html")))
    allowed.insert("report.html");
  // catalog.png, catalog.svg: tools/plot_catalog.py's plots, ours only when they carry its mark.
  for (const char* plot : {"catalog.png", "catalog.svg"})
    if (fs::is_regular_file(fs::symlink_status(d / plot, rec)) && is_catalog_plot(plot, read_head(d / plot))) allowed.insert(plot);
  json cat;
  bool marked = false;
  if (partial) {
    // A run killed between taking the lock and writing its first checkpoint leaves only the
    // lock file (and perhaps a temporary): that is ours too.
    marked = json_format(d / "checkpoint.json") == kCheckpointFormat;
    if (!marked) {
      marked = fs::exists(d / ".lock", ec);
      for (const auto& e : fs::directory_iterator(d, ec)) {
        std::string n = e.path().filename().string();
        marked = marked && fs::is_regular_file(e.symlink_status()) && (n == ".lock" || tmp_name(n));
      }
    }
  } else if (json_format(d / "catalog.json", &cat) == "mcdnn-catalog") {
    marked = true;
    for (const char* list : {"variants", "features"})
      if (cat.contains(list) && cat[list].is_array())
        for (const auto& v : cat[list])
          if (v.is_object() && v.contains("file") && v["file"].is_string()) allowed.insert(v["file"].get<std::string>());
  }
  for (const auto& e : fs::directory_iterator(d, ec)) {
    std::string n = e.path().filename().string();
    // Temporaries: a build's, or an interrupted `--specialize`'s in a finished catalog.
    bool ok = fs::is_regular_file(e.symlink_status()) &&
              (allowed.count(n) || tmp_name(n) || (partial && n.size() > 3 && n.compare(n.size() - 3, 3, ".h5") == 0));
    if (!ok || !marked) {
      r.kind = Kind::Foreign;
      r.why = marked ? "holds '" + n + "', which is not part of an mcdnn catalog"
                     : partial ? "was not made by mcdnn (no mcdnn checkpoint.json) and holds '" + n + "'"
                               : "is not an mcdnn catalog and holds '" + n + "'";
      return r;
    }
    r.files.push_back(e.path());
  }
  if (ec) return {Kind::Foreign, "cannot be listed (" + ec.message() + ")", {}};
  r.kind = r.files.empty() ? Kind::Empty : Kind::Ours;
  return r;
}

void remove_files(const std::vector<fs::path>& files) {
  std::error_code ec;
  for (const auto& f : files) fs::remove(f, ec);
}

}  // namespace

void check_output_dir(const std::string& dir) {
  fs::path target = target_of(dir);
  std::error_code ec;
  fs::path canon = fs::weakly_canonical(target, ec);
  if (ec) canon = target;
  fs::path cwd = fs::weakly_canonical(fs::current_path(ec), ec);
  auto inside = [](const fs::path& a, const fs::path& b) {  // a is b or inside b
    auto s = a.string(), t = b.string();
    return s == t || (s.size() > t.size() && s.compare(0, t.size(), t) == 0 && (t.back() == '/' || s[t.size()] == '/'));
  };
  if (canon == canon.root_path())
    fail(ErrorClass::Output, dir + ": is the root directory; give a new or empty directory for the catalog, e.g. -o out/catalog");
  if (!cwd.empty() && inside(cwd, canon))
    fail(ErrorClass::Output, dir + ": is the working directory or one of its parents; mcdnn-compile never replaces it. "
                                   "Give a new or empty directory for the catalog, e.g. -o out/catalog");
  if (const char* home = std::getenv("HOME"); home && *home && fs::weakly_canonical(home, ec) == canon)
    fail(ErrorClass::Output, dir + ": is the home directory; mcdnn-compile never replaces it. Give a new or empty directory, e.g. -o out/catalog");
  Inspection t = inspect(target, false);
  if (t.kind == Kind::Foreign)
    fail(ErrorClass::Output, dir + ": " + t.why + "; mcdnn-compile replaces only an empty directory or a catalog it wrote. "
                                   "Choose a new or empty directory with -o, or move the existing one away yourself");
  fs::path p = target.parent_path();
  while (!p.empty() && !fs::exists(p, ec)) p = p.parent_path();
  if (!fs::is_directory(p, ec))
    fail(ErrorClass::Output, dir + ": cannot create the output directory: " + p.string() + " is not a directory");
  if (::access(p.c_str(), W_OK) != 0)
    fail(ErrorClass::Output, dir + ": cannot create the output directory: " + p.string() + " is not writable");
  Inspection b = inspect(partial_of(target), true);
  if (b.kind == Kind::Foreign)
    fail(ErrorClass::Output, partial_of(target).string() + " (where mcdnn-compile builds " + dir + "): " + b.why +
                                 "; move it away or choose another -o directory");
}

std::string existing_build_key(const std::string& dir) {
  try {
    CatalogIndex c = read_catalog_index(dir);
    for (const auto& r : c.records) verify_checksum(c, r);
    return c.build_key;
  } catch (const std::exception&) {
    return "";
  }
}

BuildDir::BuildDir(const std::string& out_dir, const std::string& build_key, bool restart, std::ostream& log)
    : out_(target_of(out_dir).string()), partial_(partial_of(target_of(out_dir)).string()), key_(build_key) {
  std::error_code ec;
  Inspection b = inspect(partial_, true);
  if (b.kind == Kind::Foreign) fail(ErrorClass::Output, partial_ + ": " + b.why + "; move it away or choose another -o directory");
  fs::create_directories(partial_, ec);
  if (ec) fail(ErrorClass::Output, partial_ + ": cannot create the build directory: " + ec.message());
  lock_fd_ = ::open(file(".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) fail(ErrorClass::Output, partial_ + ": cannot create files there");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    fail(ErrorClass::Output, partial_ + ": another mcdnn-compile is building this catalog now; wait for it or choose another -o directory");

  json ck;
  bool same = !restart && json_format(file("checkpoint.json"), &ck) == kCheckpointFormat && ck.value("build_key", "") == key_;
  if (same) {
    try {
      CatalogIndex idx = read_catalog_index(partial_);
      const json& vars = ck.at("variants");
      for (const auto& r : idx.records) {
        if (!vars.contains(r.id)) continue;
        try {
          verify_checksum(idx, r);
        } catch (const Error& e) {
          log << "  checkpoint: " << e.what() << "; rebuilding it\n";
          continue;
        }
        CheckpointEntry e;
        const json& j = vars.at(r.id);
        e.shared = j.at("shared").get<size_t>();
        for (const auto& [k, v] : j.at("unmasked_zeros").items()) e.unmasked_zeros[k] = v.get<std::vector<int64_t>>();
        resumed_[r.id] = r;
        entries_[r.id] = e;
        order_.push_back(r.id);
      }
    } catch (const std::exception& e) {
      log << "  checkpoint in " << partial_ << " unreadable (" << e.what() << "); starting over\n";
      resumed_.clear(), entries_.clear(), order_.clear();
    }
  }
  if (resumed_.empty()) {
    if (b.kind == Kind::Ours) {
      if (!same) log << "  " << partial_ << ": discarding an unfinished build " << (restart ? "(--restart)" : "of a different schema, data or compiler") << "\n";
      std::vector<fs::path> stale;
      for (const auto& f : b.files)
        if (f.filename() != ".lock") stale.push_back(f);
      remove_files(stale);
    }
    json fresh = {{"format", kCheckpointFormat}, {"format_version", 1}, {"build_key", key_}, {"variants", json::object()}};
    write_file_atomic(file("checkpoint.json"), fresh.dump(1));
  } else {
    log << "  resuming the interrupted build in " << partial_ << ": " << resumed_.size()
        << " model(s) already built (the base model counts as one)\n";
  }
}

BuildDir::~BuildDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string BuildDir::file(const std::string& name) const { return (fs::path(partial_) / name).string(); }

const VariantRecord* BuildDir::done(const std::string& id) const {
  auto it = resumed_.find(id);
  return it == resumed_.end() ? nullptr : &it->second;
}

const CheckpointEntry* BuildDir::entry(const std::string& id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

void BuildDir::commit(VariantRecord& rec, const CheckpointEntry& e, const Schema& schema) {
  if (!done(rec.id)) rec.sha256 = sha256_file(file(rec.file), static_cast<int>(ErrorClass::Output));
  committed_.insert(rec.id);
  records_.push_back(rec);
  entries_[rec.id] = e;
  write_checkpoint(schema);
}

void BuildDir::write_checkpoint(const Schema& schema) const {
  // Committed records in build order, then the resumed ones not yet revisited (in their old
  // order, so every parent still comes first).
  std::vector<VariantRecord> all = records_;
  for (const auto& id : order_)
    if (!committed_.count(id)) all.push_back(resumed_.at(id));
  json vars = json::object();
  for (const auto& r : all) {
    const CheckpointEntry& e = entries_.at(r.id);
    json z = json::object();
    for (const auto& [k, v] : e.unmasked_zeros) z[k] = v;
    vars[r.id] = {{"shared", e.shared}, {"unmasked_zeros", z}};
  }
  // catalog.json first: a variant counts as built only once both files list it.
  write_file_atomic(file("catalog.json"), catalog_json(schema, all, key_));
  json ck = {{"format", kCheckpointFormat}, {"format_version", 1}, {"build_key", key_}, {"variants", vars}};
  write_file_atomic(file("checkpoint.json"), ck.dump(1));
}

void BuildDir::finish(const std::string& catalog_json_text) {
  write_file_atomic(file("catalog.json"), catalog_json_text);
  write_file_atomic(file("report.html"), catalog_report_html(catalog_json_text));
  // Leftovers of killed runs (a half-written variant file, a temporary) do not go into DIR:
  // keep only what the final catalog lists, and the checkpoint files removed after the rename.
  std::set<std::string> keep = {"catalog.json", "report.html", "checkpoint.json", ".lock"};
  const json final_index = json::parse(catalog_json_text);
  for (const auto& v : final_index.at("variants")) keep.insert(v.at("file").get<std::string>());
  for (const auto& v : final_index.at("features")) keep.insert(v.at("file").get<std::string>());
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(partial_, ec))
    if (!keep.count(e.path().filename().string())) stale.push_back(e.path());
  remove_files(stale);
  Inspection t = inspect(out_, false);
  if (t.kind == Kind::Foreign)
    fail(ErrorClass::Output, out_ + ": " + t.why + " (it changed during the build); the finished catalog is in " + partial_ +
                                 "; move it into place yourself");
  fs::path old = out_ + ".old-" + std::to_string(::getpid());
  bool had_old = t.kind != Kind::Absent;
  if (had_old) {
    fs::rename(out_, old, ec);
    if (ec) fail(ErrorClass::Output, out_ + ": cannot move the previous catalog aside: " + ec.message());
  }
  fs::rename(partial_, out_, ec);
  if (ec) {
    std::error_code ec2;
    if (had_old) fs::rename(old, out_, ec2);
    fail(ErrorClass::Output, out_ + ": cannot rename " + partial_ + " into place: " + ec.message());
  }
  fs::remove(fs::path(out_) / "checkpoint.json", ec);
  fs::remove(fs::path(out_) / ".lock", ec);
  if (had_old) {
    std::vector<fs::path> files;
    for (const auto& f : t.files) files.push_back(old / f.filename());
    remove_files(files);
    fs::remove(old, ec);  // only when empty: never recursive
  }
}

}  // namespace mcdnn
