-- PostgreSQL roles for the metafs shared tier. Run once as a superuser in the database metafs
-- uses (psql -d metafs -f roles.sql), before the first writer connects; then create one login
-- role per node or per user as below. metafs creates and migrates its schema itself.
--
--   metafs_writer  daemons and metafs-index: own the schema metafs (created on first connect),
--                  insert rows, create a root's partition. Trusted: they read every row.
--   metafs_reader  people and their tools (metafs-query --shared-cache, psql): see only the
--                  rows of files their user could read, through metafs.readable_files and
--                  metafs.search(), by the uid and groups metafs.reader_ids gives their role.

CREATE ROLE metafs_writer NOLOGIN;
CREATE ROLE metafs_reader NOLOGIN;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO metafs_writer', current_database()); END $$;

-- A node (one per host, password in the daemon's URI or a ~/.pgpass of root):
--   CREATE ROLE node01 LOGIN PASSWORD '...' IN ROLE metafs_writer;
-- A reader (peer authentication on the server's socket maps the OS user to the role of the
-- same name; the uid and groups are the user's own, as `id -u` and `id -G` print them):
--   CREATE ROLE alice LOGIN IN ROLE metafs_reader;
--   INSERT INTO metafs.reader_ids VALUES ('alice', 1001, '{1001,2000}');
-- Grants on the schema's objects are given by the migration when metafs_reader exists; after
-- a migration made without it, run:
--   GRANT USAGE ON SCHEMA metafs TO metafs_reader;
--   GRANT SELECT ON metafs.readable_files TO metafs_reader;
--   GRANT EXECUTE ON FUNCTION metafs.search(jsonb, text) TO metafs_reader;
