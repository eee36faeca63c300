#include "shared_tier/shared_tier.hpp"

#include <algorithm>

#include "codec.hpp"
#include "render.hpp"
#include "shared_tier/log.hpp"
#include "shared_tier/schema.hpp"

namespace metafs::shared_tier {
namespace {

// Columns written per row, in the order of kInsertColumns.
constexpr std::size_t kColumns = 18;
constexpr const char* kInsertColumns =
    "INSERT INTO metafs.files (root, path, ino, size, mtime_ns, ctime_ns, schema_version, "
    "codec_version, format, error, tree, fields, path_perms, uid, gid, mode, writer, "
    "public_read) VALUES ";
constexpr const char* kLookup =
    "SELECT tree FROM metafs.files WHERE root = $1 AND path = $2 AND ino = $3::bigint AND "
    "size = $4::bigint AND mtime_ns = $5::bigint AND ctime_ns = $6::bigint AND "
    "schema_version = $7::bigint AND codec_version = $8::smallint";
// Lookups timing out this many times in a row: the server counts as down (slow is down).
constexpr unsigned kTimeoutsDown = 3;
// An encoded tree beyond this is kept locally only (a row past PostgreSQL's comfortable size).
constexpr std::size_t kMaxTreeBytes = 64u << 20;
constexpr auto kMaxBackoff = std::chrono::seconds(30);
// How long an exit waits for queued rows to be written (a unit's stop should stay quick).
constexpr auto kExitFlush = std::chrono::seconds(5);

// The key's numbers as the table holds them: bigint is signed, so the bits are kept.
std::string signed_text(std::uint64_t value) {
  return std::to_string(static_cast<std::int64_t>(value));
}

// The text columns of a key; nullopt for a path PostgreSQL's text cannot hold exactly.
struct KeyTexts {
  std::string ino, size, mtime, ctime, schema, codec;
};

KeyTexts key_texts(const cache::CacheKey& key) {
  const cache::SourceSignature& s = key.signature;
  return {signed_text(s.ino),
          signed_text(s.size),
          std::to_string(s.mtime_ns),
          std::to_string(s.ctime_ns),
          std::to_string(key.schema_version),
          std::to_string(extract::kCodecVersion)};
}

bool shareable_path(const std::string& path) {
  bool valid = false;
  valid_utf8(path, &valid);
  return valid;
}

// One row's text and binary parameters, owned (libpq reads them when the batch is sent).
struct EncodedRow {
  std::string root, path, ino, size, mtime, ctime, schema, codec, format, error, tree, fields,
      perms, uid, gid, mode, public_read;
};

std::optional<EncodedRow> encode_row(const SharedRow& row, const std::string& root) {
  EncodedRow out;
  try {
    out.tree = extract::encode_extraction(*row.extraction);
  } catch (const std::exception&) {
    return std::nullopt;  // too large for the codec: the local cache did not keep it either
  }
  if (out.tree.size() > kMaxTreeBytes) return std::nullopt;
  KeyTexts k = key_texts(row.key);
  out.root = root;
  out.path = row.key.source_path;
  out.ino = std::move(k.ino);
  out.size = std::move(k.size);
  out.mtime = std::move(k.mtime);
  out.ctime = std::move(k.ctime);
  out.schema = std::move(k.schema);
  out.codec = std::move(k.codec);
  out.format = std::string(extract::format_name(row.extraction->format));
  out.error = valid_utf8(row.extraction->error);
  out.fields = jsonb_text(extract::render_json(row.extraction->tree));
  out.perms = permissions_json(row.permissions);
  out.public_read = public_read(row.permissions) ? "true" : "false";
  const PathElement file = row.permissions.empty() ? PathElement{} : row.permissions.back();
  out.uid = std::to_string(file.uid);
  out.gid = std::to_string(file.gid);
  out.mode = std::to_string(file.mode);
  return out;
}

void append_params(std::vector<PgParam>& params, const EncodedRow& r, const std::string& writer) {
  for (const std::string* text : {&r.root, &r.path, &r.ino, &r.size, &r.mtime, &r.ctime, &r.schema,
                                  &r.codec, &r.format, &r.error}) {
    params.push_back(PgParam::text(*text));
  }
  params.push_back(PgParam::bytes(r.tree));
  for (const std::string* text :
       {&r.fields, &r.perms, &r.uid, &r.gid, &r.mode, &writer, &r.public_read}) {
    params.push_back(PgParam::text(*text));
  }
}

std::string insert_sql(std::size_t rows) {
  std::string sql = kInsertColumns;
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t p = r * kColumns;
    auto at = [&](std::size_t column) {
      std::string param = "$";  // appended: "$" + to_string warns at -O3 (GCC 12 -Wrestrict)
      return param.append(std::to_string(p + column));
    };
    if (r > 0) sql += ',';
    sql += '(' + at(1) + ',' + at(2) + ',' + at(3) + "::bigint," + at(4) + "::bigint," + at(5) +
           "::bigint," + at(6) + "::bigint," + at(7) + "::bigint," + at(8) + "::smallint," + at(9) +
           ',' + at(10) + ',' + at(11) + "::bytea," + at(12) + "::jsonb," + at(13) + "::jsonb," +
           at(14) + "::bigint," + at(15) + "::bigint," + at(16) + "::integer," + at(17) + ',' +
           at(18) + "::boolean)";
  }
  return sql + " ON CONFLICT DO NOTHING";
}

}  // namespace

SharedTier::SharedTier(SharedTierOptions options) : options_(std::move(options)) {
  options_.lookup_connections = std::max(1u, options_.lookup_connections);
  options_.batch_rows = std::clamp<std::size_t>(options_.batch_rows, 1, 65535 / kColumns);
  if (connect_writer()) {
    fill_lookup_pool();
  } else {
    log()->warn(
        "shared cache: PostgreSQL unavailable at start ({}): serving from the local cache, "
        "writes queued",
        last_error_);
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

SharedTier::~SharedTier() {
  if (up_) flush(kExitFlush);
  thread_.request_stop();
  queue_changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(queue_mutex_);
  if (!queue_.empty()) {
    log()->warn("shared cache: {} rows not written at exit (the local cache keeps them)",
                queue_.size());
    dropped_ += queue_.size();
  }
}

void SharedTier::set_down(const std::string& why) {
  {
    // Idle lookup connections went down with the server: new ones come when it is back.
    std::lock_guard lock(pool_mutex_);
    lookup_open_ -= static_cast<unsigned>(idle_.size());
    idle_.clear();
  }
  if (up_.exchange(false)) {
    ++state_changes_;
    log()->warn(
        "shared cache: PostgreSQL unavailable ({}): serving from the local cache, writes queued",
        why);
  }
  pool_changed_.notify_all();
}

void SharedTier::set_up() {
  consecutive_timeouts_ = 0;
  if (!up_.exchange(true)) {
    ++state_changes_;
    std::size_t queued;
    {
      std::lock_guard lock(queue_mutex_);
      queued = queue_.size();
    }
    log()->info("shared cache: PostgreSQL available (root '{}'), {} queued rows to write",
                options_.root, queued);
  }
}

bool SharedTier::connect_writer() {
  auto deadline = Clock::now() + options_.connect_timeout;
  try {
    writer_ = PgConnection::open(options_.uri, deadline);
    // Schema work may wait on another writer's migration lock: the write deadline.
    auto schema_deadline = Clock::now() + options_.write_timeout;
    int before = migrate(writer_, schema_deadline);
    if (before < kSchemaVersion) {
      log()->info("shared cache: schema {} created (was {})", kSchemaVersion, before);
    }
    ensure_root(writer_, options_.root, schema_deadline);
  } catch (const PgError& e) {
    writer_ = PgConnection();
    last_error_ = e.what();
    set_down(e.what());
    return false;
  }
  set_up();
  return true;
}

void SharedTier::fill_lookup_pool() {
  while (true) {
    {
      std::lock_guard lock(pool_mutex_);
      if (lookup_open_ >= options_.lookup_connections) return;
    }
    PgConnection connection;
    try {
      connection = PgConnection::open(options_.uri, Clock::now() + options_.connect_timeout);
    } catch (const PgError& e) {
      set_down(e.what());
      return;
    }
    {
      std::lock_guard lock(pool_mutex_);
      ++lookup_open_;
      idle_.push_back(std::move(connection));
    }
    pool_changed_.notify_one();
  }
}

PgConnection SharedTier::take_lookup_connection(Clock::time_point deadline) {
  std::unique_lock lock(pool_mutex_);
  pool_changed_.wait_until(lock, deadline, [&] { return !idle_.empty() || !up_; });
  if (idle_.empty() || !up_) return {};
  PgConnection connection = std::move(idle_.back());
  idle_.pop_back();
  return connection;
}

void SharedTier::return_lookup_connection(PgConnection connection) {
  {
    std::lock_guard lock(pool_mutex_);
    if (connection.valid()) {
      idle_.push_back(std::move(connection));
    } else {
      --lookup_open_;
    }
  }
  pool_changed_.notify_one();
}

std::optional<std::string> SharedTier::get(const cache::CacheKey& key) {
  if (!up_ || !shareable_path(key.source_path)) {
    ++skipped_;
    return std::nullopt;
  }
  auto deadline = Clock::now() + options_.lookup_timeout;
  PgConnection connection = take_lookup_connection(deadline);
  if (!connection.valid()) {
    ++skipped_;
    return std::nullopt;
  }
  KeyTexts k = key_texts(key);
  std::vector<PgParam> params = {PgParam::text(options_.root), PgParam::text(key.source_path),
                                 PgParam::text(k.ino),         PgParam::text(k.size),
                                 PgParam::text(k.mtime),       PgParam::text(k.ctime),
                                 PgParam::text(k.schema),      PgParam::text(k.codec)};
  std::optional<std::string> found;
  try {
    PgResult result = connection.exec(kLookup, params, deadline, true);
    consecutive_timeouts_ = 0;
    if (result.rows() > 0) {
      found = std::string(result.value(0, 0));
      ++hits_;
    } else {
      ++misses_;
    }
  } catch (const PgError& e) {
    if (e.timed_out()) {
      ++timeouts_;
      if (++consecutive_timeouts_ >= kTimeoutsDown)
        set_down("lookups take longer than the deadline");
    } else if (e.connection_lost()) {
      // This connection may only have been idle too long: the writer's probe decides whether
      // the server is down.
      probe_requested_ = true;
      queue_changed_.notify_all();
    } else {
      ++errors_;
      log()->debug("shared cache: lookup of {}: {}", key.source_path, e.what());
    }
  }
  return_lookup_connection(std::move(connection));
  return found;
}

void SharedTier::put(SharedRow row) {
  if (!shareable_path(row.key.source_path)) {
    ++dropped_;
    return;
  }
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.size() >= options_.max_queued_rows) {
      ++dropped_;
      return;
    }
    queue_.push_back(std::move(row));
  }
  queue_changed_.notify_one();
}

bool SharedTier::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(queue_mutex_);
  queue_changed_.notify_all();
  return queue_drained_.wait_for(lock, timeout, [&] { return queue_.empty() && writing_ == 0; });
}

std::vector<SharedRow> SharedTier::take_batch(std::stop_token stop) {
  std::unique_lock lock(queue_mutex_);
  // Wakes at least every second to keep the lookup pool full.
  queue_changed_.wait_for(lock, stop, std::chrono::seconds(1),
                          [&] { return !queue_.empty() || probe_requested_; });
  if (!queue_.empty() && queue_.size() < options_.batch_rows && !stop.stop_requested()) {
    queue_changed_.wait_for(lock, stop, options_.batch_delay,
                            [&] { return queue_.size() >= options_.batch_rows; });
  }
  std::vector<SharedRow> batch;
  std::size_t count = std::min(queue_.size(), options_.batch_rows);
  batch.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  writing_ += batch.size();
  return batch;
}

bool SharedTier::write_batch(std::vector<SharedRow>& rows) {
  std::vector<EncodedRow> encoded;
  encoded.reserve(rows.size());
  std::size_t unencodable = 0;
  for (const SharedRow& row : rows) {
    if (auto e = encode_row(row, options_.root)) {
      encoded.push_back(std::move(*e));
    } else {
      ++unencodable;
    }
  }
  dropped_ += unencodable;
  auto write = [&](std::size_t from, std::size_t count) {
    std::vector<PgParam> params;
    params.reserve(count * kColumns);
    for (std::size_t i = from; i < from + count; ++i) {
      append_params(params, encoded[i], options_.writer_name);
    }
    writer_.exec(insert_sql(count), params, Clock::now() + options_.write_timeout);
  };
  std::size_t refused = 0;
  try {
    if (!encoded.empty()) {
      try {
        write(0, encoded.size());
      } catch (const PgError& e) {
        if (e.connection_lost()) throw;
        // One row the server refuses must not cost the others: each alone.
        for (std::size_t i = 0; i < encoded.size(); ++i) {
          try {
            write(i, 1);
          } catch (const PgError& one) {
            if (one.connection_lost()) throw;
            ++refused;
            log()->warn("shared cache: {} not shared: {}", encoded[i].path, one.what());
          }
        }
      }
    }
  } catch (const PgError& e) {
    writer_ = PgConnection();
    set_down(e.what());
    std::lock_guard lock(queue_mutex_);
    // Back in front, in order; past the bound the newest go (the local cache has them).
    for (auto it = rows.rbegin(); it != rows.rend(); ++it) queue_.push_front(std::move(*it));
    while (queue_.size() > options_.max_queued_rows) {
      queue_.pop_back();
      ++dropped_;
    }
    writing_ -= rows.size();
    return false;
  }
  errors_ += refused;
  dropped_ += refused;
  written_ += encoded.size() - refused;
  {
    std::lock_guard lock(queue_mutex_);
    writing_ -= rows.size();
  }
  queue_drained_.notify_all();
  return true;
}

void SharedTier::run(std::stop_token stop) {
  auto backoff = std::chrono::milliseconds(250);
  while (!stop.stop_requested()) {
    if (!writer_.valid()) {
      if (!connect_writer()) {
        std::mutex sleep_mutex;
        std::unique_lock lock(sleep_mutex);
        std::condition_variable_any().wait_for(lock, stop, backoff, [] { return false; });
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
        continue;
      }
      backoff = std::chrono::milliseconds(250);
    }
    if (!up_ || probe_requested_.exchange(false)) {
      // Lookups found the server gone or slow: see whether it answers (again).
      try {
        writer_.exec("SELECT 1", Clock::now() + options_.connect_timeout);
        set_up();
      } catch (const PgError&) {
        writer_ = PgConnection();
        continue;
      }
    }
    fill_lookup_pool();
    std::vector<SharedRow> batch = take_batch(stop);
    if (!batch.empty()) write_batch(batch);
  }
}

SharedTierStats SharedTier::stats() const {
  SharedTierStats s;
  s.up = up_;
  s.hits = hits_;
  s.misses = misses_;
  s.timeouts = timeouts_;
  s.skipped = skipped_;
  s.errors = errors_;
  s.written = written_;
  s.dropped = dropped_;
  s.state_changes = state_changes_;
  std::lock_guard lock(queue_mutex_);
  s.queued = queue_.size() + writing_;
  return s;
}

}  // namespace metafs::shared_tier
