-- metafs shared tier, schema version 1. Applied by metafs itself (shared_tier/schema.cpp) in
-- one transaction under an advisory lock, the first time a writer (the daemon or metafs-index
-- with --shared-cache) connects to a database without it. Readers never change the schema.

-- One row per version of a data file as one version of the extractors saw it. The key is
-- everything that makes a cached value right on any node: the root's name and the path
-- beneath it (never st_dev, which differs between NFS clients), the inode, size, mtime and
-- ctime in ns, the extractors' schema version and the codec version of `tree`.
CREATE TABLE metafs.files (
  root text NOT NULL,
  path text NOT NULL,
  ino bigint NOT NULL,
  size bigint NOT NULL,
  mtime_ns bigint NOT NULL,
  ctime_ns bigint NOT NULL,
  schema_version bigint NOT NULL,
  codec_version smallint NOT NULL,
  format text NOT NULL,
  error text NOT NULL DEFAULT '',
  -- The encoded extraction: the same bytes the local LMDB cache stores (extractors/codec.hpp).
  tree bytea NOT NULL,
  -- metadata.json of the file, for queries (a NUL in a value is U+FFFD here; `tree` is exact).
  fields jsonb,
  -- Who may read the file: owner, group, mode and access ACL of the root directory, of each
  -- directory beneath it on the path, then of the file, as [{"u","g","m","a"}] (a: the ACL's
  -- entries as [tag, perm, id], absent without an ACL), GUFI's rule: every directory needs
  -- search permission, the file read permission (metafs.may_read).
  path_perms jsonb NOT NULL,
  -- Every directory searchable and the file readable by anyone (owner, group and other alike,
  -- no ACL): the permission check needs no more (metafs.may_read's fast path).
  public_read boolean NOT NULL DEFAULT false,
  uid bigint NOT NULL,
  gid bigint NOT NULL,
  mode integer NOT NULL,
  writer text NOT NULL DEFAULT '',
  written_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (root, path, ino, size, mtime_ns, ctime_ns, schema_version, codec_version)
) PARTITION BY LIST (root);

-- "Modality=MR": fields @> '{"Modality":"MR"}' through this index, in every partition.
CREATE INDEX files_fields ON metafs.files USING gin (fields jsonb_path_ops);
-- Ranges of the usual date keys (a GIN index answers containment, not ranges): "StudyDate in
-- 2024" is fields->>'StudyDate' BETWEEN '20240101' AND '20241231'. Add an index of the same
-- form for any other field a site asks for by range.
CREATE INDEX files_study_date ON metafs.files ((fields->>'StudyDate'));

-- The roots that have a partition (metafs.files_<hash of the name>), made by the first writer
-- of a root.
CREATE TABLE metafs.roots (
  root text PRIMARY KEY,
  partition text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A newer version of a path replaces the older ones (ctime only grows on one file system); an
-- older version arriving late (a node with a stale NFS attribute cache) is not stored.
CREATE FUNCTION metafs.keep_newest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM metafs.files f WHERE f.root = NEW.root AND f.path = NEW.path
             AND f.ctime_ns > NEW.ctime_ns) THEN
    RETURN NULL;
  END IF;
  DELETE FROM metafs.files f WHERE f.root = NEW.root AND f.path = NEW.path
    AND f.ctime_ns < NEW.ctime_ns;
  RETURN NEW;
END $$;
CREATE TRIGGER files_keep_newest BEFORE INSERT ON metafs.files
  FOR EACH ROW EXECUTE FUNCTION metafs.keep_newest();

-- Readers: which user a PostgreSQL role stands for (the admin fills it, e.g. from getent; see
-- shared_tier/roles.sql). A role not listed sees nothing through readable_files or search().
CREATE TABLE metafs.reader_ids (
  role name PRIMARY KEY,
  uid bigint NOT NULL,
  gids bigint[] NOT NULL DEFAULT '{}'
);

-- Whether user `uid` in groups `gids` has the permission bits `want` (4 read, 1 search) on
-- one element of path_perms: POSIX.1e's access check (owner, named users, owning and named
-- groups under the mask, other), root always.
CREATE FUNCTION metafs.may(e jsonb, uid bigint, gids bigint[], want integer)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  m integer := (e->>'m')::integer;
  acl jsonb := e->'a';
  mask integer := 7;
  group_obj integer := (m >> 3) & 7;
  matched boolean := false;
  entry jsonb;
BEGIN
  IF uid = 0 THEN RETURN true; END IF;
  IF (e->>'u')::bigint = uid THEN RETURN ((m >> 6) & want) = want; END IF;
  IF acl IS NOT NULL THEN
    FOR entry IN SELECT value FROM jsonb_array_elements(acl) LOOP
      IF (entry->>0)::integer = 16 THEN mask := (entry->>1)::integer; END IF;
      IF (entry->>0)::integer = 4 THEN group_obj := (entry->>1)::integer; END IF;
    END LOOP;
    FOR entry IN SELECT value FROM jsonb_array_elements(acl) LOOP
      IF (entry->>0)::integer = 2 AND (entry->>2)::bigint = uid THEN
        RETURN ((entry->>1)::integer & mask & want) = want;
      END IF;
    END LOOP;
  END IF;
  IF (e->>'g')::bigint = ANY (gids) THEN
    matched := true;
    IF (group_obj & mask & want) = want THEN RETURN true; END IF;
  END IF;
  IF acl IS NOT NULL THEN
    FOR entry IN SELECT value FROM jsonb_array_elements(acl) LOOP
      IF (entry->>0)::integer = 8 AND (entry->>2)::bigint = ANY (gids) THEN
        matched := true;
        IF ((entry->>1)::integer & mask & want) = want THEN RETURN true; END IF;
      END IF;
    END LOOP;
  END IF;
  IF matched THEN RETURN false; END IF;
  RETURN (m & want) = want;
END $$;

-- Whether the user could read the file in SOURCE: search permission on every directory from
-- the root down, read permission on the file.
CREATE FUNCTION metafs.may_read(perms jsonb, uid bigint, gids bigint[])
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT uid = 0 OR coalesce(bool_and(metafs.may(e, uid, gids,
           CASE WHEN i = jsonb_array_length(perms) THEN 4 ELSE 1 END)), false)
  FROM jsonb_array_elements(perms) WITH ORDINALITY AS t(e, i)
$$;
CREATE FUNCTION metafs.may_read(f metafs.files, uid bigint, gids bigint[])
RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT f.public_read OR metafs.may_read(f.path_perms, uid, gids)
$$;

-- What a reader role may see: the rows its user could read. A security barrier, so no
-- function of the reader's sees a row before the check.
CREATE VIEW metafs.readable_files WITH (security_barrier) AS
  SELECT f.root, f.path, f.ino, f.size, f.mtime_ns, f.ctime_ns, f.schema_version,
         f.codec_version, f.format, f.error, f.tree, f.fields, f.uid, f.gid, f.mode,
         f.written_at
  FROM metafs.files f JOIN metafs.reader_ids r ON r.role = session_user
  WHERE f.public_read OR metafs.may_read(f.path_perms, r.uid, r.gids);

-- The fast path for readers: a containment filter through the GIN index first, then the
-- permission check (a view with a security barrier cannot use the index for the reader's
-- condition).
CREATE FUNCTION metafs.search(filter jsonb, in_root text DEFAULT NULL)
RETURNS TABLE (root text, path text, format text, fields jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = metafs, pg_temp AS $$
  SELECT f.root, f.path, f.format, f.fields
  FROM metafs.files f JOIN metafs.reader_ids r ON r.role = session_user
  WHERE f.fields @> filter AND (in_root IS NULL OR f.root = in_root)
    AND (f.public_read OR metafs.may_read(f.path_perms, r.uid, r.gids))
$$;
REVOKE ALL ON FUNCTION metafs.search(jsonb, text) FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'metafs_reader') THEN
    GRANT USAGE ON SCHEMA metafs TO metafs_reader;
    GRANT SELECT ON metafs.readable_files TO metafs_reader;
    GRANT EXECUTE ON FUNCTION metafs.search(jsonb, text) TO metafs_reader;
  END IF;
END $$;
