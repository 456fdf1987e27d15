-- 0009: new archived pages are zstd-compressed (level 1): about three times faster to write than gzip level 1, for a
-- slightly smaller archive. Rows already stored keep gzip and stay readable; `compression` says which a row uses.
ALTER TABLE page_archive DROP CONSTRAINT page_archive_compression_check;
ALTER TABLE page_archive ADD CONSTRAINT page_archive_compression_check CHECK (compression IN ('gzip', 'zstd'));
ALTER TABLE page_archive ALTER COLUMN compression SET DEFAULT 'zstd';
COMMENT ON TABLE page_archive IS 'Fetched article pages, compressed (zstd; gzip for rows stored before migration 0009) and content-addressed by the sha256 of the raw bytes; lets crypto-news reextract run without network access. Bounded by the retention settings.';
COMMENT ON COLUMN page_archive.content IS 'The page bytes, compressed as the compression column says.';
COMMENT ON COLUMN page_archive.compression IS 'Compression of content: zstd (one frame), or gzip for rows stored before migration 0009.';
