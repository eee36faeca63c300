"""metafs-bench shared: the shared tier (PostgreSQL) measured on this machine.

Loaded by tools/metafs-bench; `suite_shared(args, corpus, h)` gets metafs-bench's helpers in h.

  1. A PostgreSQL server of its own (initdb in WORK/shared/pg by an unprivileged account,
     127.0.0.1 at a free port, fsync on as a real server), stopped and removed at the end.
  2. Node A mounts the corpus copied N times (metafs-gen copies) with --shared-cache and reads
     every metadata.json cold (extracting, writing rows behind).
  3. Node B (another local cache) reads them with the page cache dropped: every view from
     PostgreSQL (second-node warm walk); B restarted without --shared-cache reads them from its
     own LMDB (local warm walk).
  4. metafs-index into the shared tier and into a local cache only: files/s of each.
  5. Server-side ingest: --shared-rows rows (default 10^6) synthesised from the real rows
     (documented in docs/SCALING.md: each real row copied with a new path and inode, its
     fields' top-level values kept and Modality/StudyDate drawn at random, tree replaced by a
     16-byte placeholder: queries read fields, never tree), inserted in batches of 10^5 through
     the GIN index and the trigger: rows/s. Then ANALYZE and the query latency over all rows.
"""

import json
import os
import pwd
import shutil
import socket
import subprocess
import time

PG_ACCOUNT = "metafs-bench-pg"


def pg_bin():
    base = "/usr/lib/postgresql"
    versions = sorted((int(v), v) for v in os.listdir(base) if v.isdigit()) if os.path.isdir(base) else []
    if not versions:
        raise RuntimeError("no PostgreSQL server in /usr/lib/postgresql (apt-get install postgresql)")
    return os.path.join(base, versions[-1][1], "bin")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PgServer:
    def __init__(self, work, log):
        self.bin = pg_bin()
        self.dir = os.path.join(work, "pg")
        self.log = log
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(os.path.join(self.dir, "data"))
        os.makedirs(os.path.join(self.dir, "socket"))
        self.as_user = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(PG_ACCOUNT)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                "/usr/sbin/nologin", PG_ACCOUNT], check=True)
            subprocess.run(["chown", "-R", PG_ACCOUNT, self.dir], check=True)
            os.chmod(work, 0o755)
            self.as_user = ["runuser", "-u", PG_ACCOUNT, "--"]
        self.port = free_port()
        data = os.path.join(self.dir, "data")
        subprocess.run(self.as_user + [os.path.join(self.bin, "initdb"), "-D", data, "-U", "postgres",
                                       "-A", "trust", "-E", "UTF8", "--no-locale"],
                       check=True, stdout=subprocess.DEVNULL, cwd="/")
        opts = (f"-p {self.port} -k {self.dir}/socket -c listen_addresses=127.0.0.1 "
                "-c shared_buffers=512MB -c max_wal_size=4GB -c max_connections=200")
        subprocess.run(self.as_user + [os.path.join(self.bin, "pg_ctl"), "-D", data, "-l",
                                       os.path.join(self.dir, "server.log"), "-w", "-t", "60",
                                       "-o", opts, "start"], check=True, stdout=subprocess.DEVNULL,
                       cwd="/")
        self.psql("CREATE DATABASE metafs", db="postgres")

    def uri(self):
        return f"host=127.0.0.1 port={self.port} dbname=metafs user=postgres"

    def psql(self, sql, db="metafs", script=False):
        cmd = [os.path.join(self.bin, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
               f"host=127.0.0.1 port={self.port} dbname={db} user=postgres"]
        if script:
            p = subprocess.run(cmd, input=sql, capture_output=True, text=True)
        else:
            p = subprocess.run(cmd + ["-c", sql], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"psql: {p.stderr.strip()}")
        return p.stdout.strip()

    def stop(self):
        subprocess.run(self.as_user + [os.path.join(self.bin, "pg_ctl"), "-D",
                                       os.path.join(self.dir, "data"), "-w", "-m", "fast", "stop"],
                       check=False, stdout=subprocess.DEVNULL, cwd="/")
        shutil.rmtree(self.dir, ignore_errors=True)


def timed_queries(pg, sql, repeat, setup=""):
    """Runs `sql` `repeat` times in one session with \\timing (after `setup`); latencies in ms."""
    script = setup + "\\timing on\n" + "".join(f"{sql};\n" for _ in range(repeat))
    out = pg.psql(script, script=True)
    times = [float(line.split()[1]) for line in out.splitlines() if line.startswith("Time:")]
    result = [line for line in out.splitlines() if not line.startswith("Time:")][:1]
    times.sort()
    pick = lambda q: round(times[min(len(times) - 1, int(q * len(times)))], 3)
    return {"p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": round(times[-1], 3),
            "runs": len(times), "result": result[0] if result else None}


def walk(h, mount_dir, rels, label):
    paths = [os.path.join(mount_dir, r, "metadata.json") for r in rels]
    lat, secs, extra = h.read_files(paths, label)
    return h.summarize(label, lat, secs, extra)


def wait_queue_empty(m, seconds=300):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s = m.stats()
        if s.get("shared_queued") == 0:
            return s
        time.sleep(0.2)
    return m.stats()


def suite_shared(args, corpus, h):
    work = os.path.join(args.work, "shared")
    os.makedirs(work, exist_ok=True)
    times = args.copies or (50 if args.full else 10)
    source = os.path.join(args.work, "src", f"small-{times}")
    if not os.path.isdir(source):
        h.gen(args, "copies", source, "--times", str(times))
    rels = [r for r in h.walk_files(source) if corpus.family(r)]
    out = {"suite": "shared", "source": source, "data_files": len(rels), "rows": []}
    pg = PgServer(work, h.log)
    try:
        # The documented roles (shared_tier/roles.sql), so readers are measured as they run.
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared_tier",
                               "roles.sql")) as f:
            pg.psql(f.read(), script=True)
        shared = ["--shared-cache", pg.uri(), "--shared-root", "bench"]
        for d in ("cache-a", "cache-b", "cache-shared", "cache-local"):
            shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        h.log(f"shared: node A cold walk over {len(rels)} files, writing rows")
        a = h.Mount(args, source, os.path.join(work, "mnt-a"), os.path.join(work, "cache-a"), shared)
        t0 = time.monotonic()
        out["rows"].append(walk(h, a.mountpoint, rels, "node-a-cold"))
        out["rows"][-1]["extractions"] = a.stats().get("extractions")
        sa = wait_queue_empty(a)
        out["rows"][-1]["rows_written_seconds"] = round(time.monotonic() - t0, 3)
        out["rows"][-1]["shared_written"] = sa.get("shared_written")
        a.stop()

        h.log("shared: node B, fresh local cache, views from PostgreSQL (second-node warm walk)")
        b = h.Mount(args, source, os.path.join(work, "mnt-b"), os.path.join(work, "cache-b"), shared)
        h.drop_caches(args)
        row = walk(h, b.mountpoint, rels, "node-b-from-shared")
        sb = b.stats()
        row.update({k: sb.get(k) for k in ("extractions", "shared_hits", "shared_misses",
                                           "shared_timeouts", "shared_skipped")})
        out["rows"].append(row)
        b.stop()
        h.log("shared: node B restarted without the shared tier (local LMDB warm walk)")
        b = h.Mount(args, source, os.path.join(work, "mnt-b"), os.path.join(work, "cache-b"))
        h.drop_caches(args)
        row = walk(h, b.mountpoint, rels, "node-b-local-lmdb")
        row["extractions"] = b.stats().get("extractions")
        out["rows"].append(row)
        b.stop()

        h.log("shared: metafs-index into the shared tier, and into a local cache only")
        for label, extra in (("index-shared", ["--shared-cache", pg.uri(), "--shared-root", "index"]),
                             ("index-local", [])):
            cache = os.path.join(work, "cache-" + label.split("-")[1])
            p = subprocess.run([os.path.join(args.bin, "metafs-index"), source, "--json",
                                "--no-progress", "--cache-dir", cache, "--isolation",
                                args.isolation] + extra, capture_output=True, text=True)
            if p.returncode != 0:
                out[label] = {"failed": p.stderr[-500:]}
                continue
            s = json.loads(p.stdout)
            out[label] = {"files_per_second": round(s["files_per_second"], 1),
                          "seconds": round(s["seconds"], 2), "extractions": s["extractions"],
                          "shared": s.get("shared")}

        n = args.shared_rows or 1_000_000
        h.log(f"shared: synthesising {n} rows server-side (batches of 100 000)")
        pg.psql("CREATE TABLE metafs.files_synthetic PARTITION OF metafs.files FOR VALUES IN "
                "('synthetic'); INSERT INTO metafs.roots VALUES ('synthetic', 'files_synthetic')")
        real = int(pg.psql("SELECT count(*) FROM metafs.files WHERE root = 'bench'"))
        batch = 100_000
        rates = []
        done = 0
        t_all = time.monotonic()
        while done < n:
            count = min(batch, n - done)
            t0 = time.monotonic()
            pg.psql(f"""
INSERT INTO metafs.files (root, path, ino, size, mtime_ns, ctime_ns, schema_version,
  codec_version, format, error, tree, fields, path_perms, uid, gid, mode, writer, public_read)
SELECT 'synthetic', 's/{done // batch}/' || g || '/' || f.path, {done} + g, f.size, f.mtime_ns, f.ctime_ns,
  f.schema_version, f.codec_version, f.format, f.error, '\\x00000000000000000000000000000000',
  (SELECT jsonb_object_agg(key, value) FROM jsonb_each(f.fields)
     WHERE jsonb_typeof(value) <> 'object')
   || CASE WHEN f.format = 'dicom' THEN jsonb_build_object(
        'Modality', (ARRAY['MR','CT','PT','US','CR'])[1 + (g * 7 + length(f.path)) % 5],
        'StudyDate', to_char(date '2015-01-01' + ((g * 37 + length(f.path)) % 3650), 'YYYYMMDD'))
      ELSE '{{}}'::jsonb END,
  f.path_perms, f.uid, f.gid, f.mode, 'bench', f.public_read
FROM (SELECT * FROM metafs.files WHERE root = 'bench' ORDER BY path) f,
     generate_series(0, {count // max(real, 1) + 1}) g
LIMIT {count}""")
            secs = time.monotonic() - t0
            rates.append(round(count / secs))
            done += count
            h.log(f"  {done}/{n} rows, {count / secs:.0f} rows/s")
        ingest_seconds = time.monotonic() - t_all
        real_bytes = pg.psql("SELECT pg_total_relation_size('metafs." +
                             pg.psql("SELECT partition FROM metafs.roots WHERE root = 'bench'") +
                             "')")
        out["real_rows"] = {"rows": real, "table_bytes_total": int(real_bytes),
                            "bytes_per_row": round(int(real_bytes) / max(real, 1)),
                            "tree_bytes_avg": round(float(pg.psql(
                                "SELECT avg(length(tree)) FROM metafs.files WHERE root = 'bench'"))),
                            "fields_bytes_avg": round(float(pg.psql(
                                "SELECT avg(pg_column_size(fields)) FROM metafs.files WHERE "
                                "root = 'bench'")))}
        pg.psql("ANALYZE metafs.files")
        total = int(pg.psql("SELECT count(*) FROM metafs.files"))
        size = pg.psql("SELECT pg_total_relation_size('metafs.files_synthetic')")
        gin = pg.psql("SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i JOIN pg_class c "
                      "ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = "
                      "'metafs.files_synthetic'::regclass AND a.amname = 'gin'")
        out["ingest"] = {"rows": n, "seconds": round(ingest_seconds, 2),
                         "rows_per_s": round(n / ingest_seconds), "rows_per_s_per_batch": rates,
                         "table_bytes_total": int(size), "gin_bytes": int(gin or 0),
                         "bytes_per_row": round(int(size) / n)}
        pg.psql("CREATE ROLE bench_reader LOGIN IN ROLE metafs_reader; INSERT INTO metafs.reader_ids VALUES "
                "('bench_reader', 1000, '{1000}')")
        queries = {
            "mr_2024_count": "SELECT count(*) FROM metafs.files WHERE fields @> "
                             "'{\"Modality\": \"MR\"}' AND fields->>'StudyDate' BETWEEN '20240101' AND "
                             "'20241231'",
            "mr_2024_first100": "SELECT path FROM metafs.files WHERE fields @> "
                                "'{\"Modality\": \"MR\"}' AND fields->>'StudyDate' BETWEEN "
                                "'20240101' AND '20241231' LIMIT 100",
            "one_patient": "SELECT count(*) FROM metafs.files WHERE fields @> "
                           "'{\"PatientID\": \"no-such-patient\"}'",
            "by_path": "SELECT count(*) FROM metafs.files WHERE root = 'synthetic' AND "
                       "path = 's/0/5/" + rels[0] + "'",
        }
        out["queries"] = {"rows": total}
        queries["as_reader_search_mr_2024"] = (
            "SELECT count(*) FROM "
            "metafs.search('{\"Modality\": \"MR\"}') s WHERE s.fields->>'StudyDate' BETWEEN "
            "'20240101' AND '20241231'")
        for name, sql in queries.items():
            try:
                reader = "reader" in name
                out["queries"][name] = timed_queries(
                    pg, sql, 5 if reader else 20,
                    "SET SESSION AUTHORIZATION bench_reader;\n" if reader else "")
            except RuntimeError as e:
                out["queries"][name] = {"failed": str(e)}
    finally:
        pg.stop()
    return out


def print_shared_table(s):
    print(f"== shared: {s['data_files']} data files")
    for r in s["rows"]:
        print(f"  {r['state']:<22}{r['files']:>7} files {r['seconds']:>8.3f} s "
              f"{r['files_per_s']:>9} files/s  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  "
              f"extractions {r.get('extractions')}")
    for label in ("index-shared", "index-local"):
        print(f"  {label}: {s.get(label)}")
    print(f"  ingest: {s.get('ingest')}")
    for name, q in s.get("queries", {}).items():
        print(f"  query {name}: {q}")
