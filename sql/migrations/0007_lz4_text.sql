-- 0007: compress long article texts with lz4 instead of pglz (PostgreSQL 14+ built with lz4).
-- pglz was most of the server's cost of loading feed items and extracted texts (a 5 KB text compresses several
-- times faster with lz4, at a similar ratio for prose). Applies to values written from now on; older values stay
-- readable as they are. Where the server lacks lz4, the columns keep pglz and this migration only says so.
DO $$
BEGIN
    ALTER TABLE articles
        ALTER COLUMN text SET COMPRESSION lz4,
        ALTER COLUMN feed_content SET COMPRESSION lz4,
        ALTER COLUMN summary SET COMPRESSION lz4,
        ALTER COLUMN description SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR undefined_object THEN
    RAISE NOTICE 'lz4 compression is not available in this PostgreSQL build: article texts keep pglz';
END
$$;
