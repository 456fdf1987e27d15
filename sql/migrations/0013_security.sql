-- 0013: locks that only the writer can take. The run and the migration locks were advisory locks, which any login
-- may take (a crypto_news_reader login holding them stopped every run, or hung every migration). They are now row
-- locks on this table: SELECT ... FOR UPDATE needs UPDATE, which the reader does not have. The migration runner
-- creates the table itself before anything else (it needs the lock to apply the migrations before this one); this
-- file settles its privileges.
CREATE TABLE IF NOT EXISTS locks (
    name text PRIMARY KEY,
    purpose text NOT NULL
);
INSERT INTO locks (name, purpose) VALUES
    ('migrate', 'held while migrations are applied'),
    ('run', 'held for the whole of a pipeline run')
ON CONFLICT (name) DO NOTHING;

REVOKE ALL ON locks FROM PUBLIC;
REVOKE ALL ON locks FROM crypto_news_reader;
GRANT SELECT ON locks TO crypto_news_reader;
REVOKE ALL ON locks FROM crypto_news_writer;
GRANT SELECT, UPDATE ON locks TO crypto_news_writer;

COMMENT ON TABLE locks IS 'One row per lock (run, migrate); a lock is held as a row lock (SELECT ... FOR UPDATE) by an open transaction, which needs UPDATE: the writer and the owner only.';
COMMENT ON COLUMN locks.name IS 'The lock: run (one pipeline run at a time) or migrate (one migration at a time).';
COMMENT ON COLUMN locks.purpose IS 'What holding the lock means, for whoever finds a session holding it.';
