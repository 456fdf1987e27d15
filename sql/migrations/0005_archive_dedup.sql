-- 0005: the raw page archive (re-extraction without fetching) and duplicate detection across sources.

CREATE TABLE page_archive (
    sha256            text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content           bytea NOT NULL,
    compression       text NOT NULL DEFAULT 'gzip' CHECK (compression IN ('gzip')),
    content_type      text,
    raw_bytes         integer NOT NULL CHECK (raw_bytes >= 0),
    stored_bytes      integer NOT NULL CHECK (stored_bytes >= 0),
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now()
);
-- The content is already compressed: keep it out of line without a second (useless) compression pass.
ALTER TABLE page_archive ALTER COLUMN content SET STORAGE EXTERNAL;
CREATE INDEX page_archive_last_seen_idx ON page_archive (last_seen_at);

ALTER TABLE articles
    ADD COLUMN page_sha256 text REFERENCES page_archive (sha256) ON DELETE SET NULL,
    ADD COLUMN page_url text,
    ADD COLUMN duplicate_of bigint REFERENCES articles (article_id) ON DELETE SET NULL,
    ADD COLUMN simhash bigint,
    ADD COLUMN near_duplicate_of bigint REFERENCES articles (article_id) ON DELETE SET NULL,
    ADD CONSTRAINT articles_duplicate_not_self CHECK (duplicate_of <> article_id),
    ADD CONSTRAINT articles_near_duplicate_not_self CHECK (near_duplicate_of <> article_id);

CREATE INDEX articles_page_sha256_idx ON articles (page_sha256);
CREATE INDEX articles_content_hash_idx ON articles (content_hash) WHERE content_hash IS NOT NULL;
CREATE INDEX articles_duplicate_of_idx ON articles (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX articles_near_duplicate_of_idx ON articles (near_duplicate_of) WHERE near_duplicate_of IS NOT NULL;
-- SimHash bands: four 16-bit slices; texts within 3 bits of each other share at least one slice.
CREATE INDEX articles_simhash_band0_idx ON articles ((simhash & 65535)) WHERE simhash IS NOT NULL;
CREATE INDEX articles_simhash_band1_idx ON articles (((simhash >> 16) & 65535)) WHERE simhash IS NOT NULL;
CREATE INDEX articles_simhash_band2_idx ON articles (((simhash >> 32) & 65535)) WHERE simhash IS NOT NULL;
CREATE INDEX articles_simhash_band3_idx ON articles (((simhash >> 48) & 65535)) WHERE simhash IS NOT NULL;

COMMENT ON TABLE page_archive IS 'Fetched article pages, gzip-compressed and content-addressed by the sha256 of the raw bytes; lets crypto-news reextract run without network access. Bounded by the retention settings.';
COMMENT ON COLUMN page_archive.sha256 IS 'sha256 (hex) of the raw page bytes as fetched (after transfer decoding).';
COMMENT ON COLUMN page_archive.content IS 'The page bytes, gzip-compressed (see compression).';
COMMENT ON COLUMN page_archive.compression IS 'Compression of content: gzip.';
COMMENT ON COLUMN page_archive.content_type IS 'Content-Type header the page was served with.';
COMMENT ON COLUMN page_archive.raw_bytes IS 'Size of the page before compression, in bytes.';
COMMENT ON COLUMN page_archive.stored_bytes IS 'Size of content as stored, in bytes.';
COMMENT ON COLUMN page_archive.first_seen_at IS 'When these exact bytes were first fetched.';
COMMENT ON COLUMN page_archive.last_seen_at IS 'When these exact bytes were last fetched; retention drops the least recently seen first.';
COMMENT ON COLUMN articles.page_sha256 IS 'The archived page the text was extracted from (page_archive.sha256); NULL when no page was obtained or it was dropped by retention.';
COMMENT ON COLUMN articles.page_url IS 'The page URL after redirects.';
COMMENT ON COLUMN articles.duplicate_of IS 'Earliest article with exactly the same normalised text (a syndicated copy); NULL when this is the first or unique.';
COMMENT ON COLUMN articles.simhash IS '64-bit SimHash of the text''s words weighted by count (signed), for near-duplicate grouping; NULL for texts under 50 words.';
COMMENT ON COLUMN articles.near_duplicate_of IS 'First article of the near-duplicate group (SimHash within 3 bits): the same story lightly edited; NULL when this article starts its group.';
