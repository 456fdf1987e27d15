-- 0008: duplicate lookups read one index entry, not the whole primary key.
-- A new article's duplicate check asks for the earliest earlier article with the same content hash (or sharing a
-- SimHash band): "content_hash = $1 AND article_id < $2". With an index on the hash alone, PostgreSQL combined it
-- with a range scan of the primary key over every earlier article, so each check cost time proportional to the
-- table. With article_id as the second column, both conditions are one index range, and the earliest match is
-- its first entry. Rebuilding the five indexes reads the table once.
DROP INDEX articles_content_hash_idx;
CREATE INDEX articles_content_hash_idx ON articles (content_hash, article_id) WHERE content_hash IS NOT NULL;

DROP INDEX articles_simhash_band0_idx;
DROP INDEX articles_simhash_band1_idx;
DROP INDEX articles_simhash_band2_idx;
DROP INDEX articles_simhash_band3_idx;
CREATE INDEX articles_simhash_band0_idx ON articles ((simhash & 65535), article_id) WHERE simhash IS NOT NULL;
CREATE INDEX articles_simhash_band1_idx ON articles (((simhash >> 16) & 65535), article_id) WHERE simhash IS NOT NULL;
CREATE INDEX articles_simhash_band2_idx ON articles (((simhash >> 32) & 65535), article_id) WHERE simhash IS NOT NULL;
CREATE INDEX articles_simhash_band3_idx ON articles (((simhash >> 48) & 65535), article_id) WHERE simhash IS NOT NULL;
