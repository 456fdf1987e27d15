-- 0001: the core warehouse: feeds, fetch log, articles, their sources and labels, runs.
-- Forward-only. Never edit once applied; add a new numbered file instead.
-- The migration runner creates the schema and runs each file with search_path = crypto_news.

CREATE TABLE pipeline_runs (
    run_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_key           text NOT NULL UNIQUE,
    trigger           text NOT NULL DEFAULT 'cli' CHECK (trigger IN ('cli', 'airflow', 'test', 'bench')),
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    status            text NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'success', 'partial', 'failed')),
    feeds_total       integer NOT NULL DEFAULT 0,
    feeds_ok          integer NOT NULL DEFAULT 0,
    feeds_not_modified integer NOT NULL DEFAULT 0,
    feeds_failed      integer NOT NULL DEFAULT 0,
    items_seen        integer NOT NULL DEFAULT 0,
    articles_new      integer NOT NULL DEFAULT 0,
    articles_extracted integer NOT NULL DEFAULT 0,
    articles_classified integer NOT NULL DEFAULT 0,
    labels_written    integer NOT NULL DEFAULT 0,
    error             text,
    summary           jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE feeds (
    feed_id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url               text NOT NULL UNIQUE,
    name              text NOT NULL,
    site_url          text,
    enabled           boolean NOT NULL DEFAULT true,
    obey_robots       boolean NOT NULL DEFAULT true,
    tags              text[] NOT NULL DEFAULT '{}',
    etag              text,
    last_modified     text,
    content_hash      text,
    title             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE feed_fetches (
    fetch_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id            bigint REFERENCES pipeline_runs (run_id) ON DELETE SET NULL,
    feed_id           integer NOT NULL REFERENCES feeds (feed_id) ON DELETE CASCADE,
    started_at        timestamptz NOT NULL DEFAULT now(),
    duration_ms       integer NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    status            text NOT NULL CHECK (status IN ('ok', 'not_modified', 'unchanged', 'error')),
    http_status       integer,
    error_kind        text,
    error             text,
    bytes             integer NOT NULL DEFAULT 0,
    items_seen        integer NOT NULL DEFAULT 0,
    items_new         integer NOT NULL DEFAULT 0,
    items_skipped     integer NOT NULL DEFAULT 0,
    parse_warning     text,
    final_url         text,
    CHECK ((status = 'error') = (error_kind IS NOT NULL))
);
CREATE INDEX feed_fetches_feed_started_idx ON feed_fetches (feed_id, started_at DESC);
CREATE INDEX feed_fetches_run_idx ON feed_fetches (run_id);

CREATE TABLE articles (
    article_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    canonical_url     text NOT NULL UNIQUE,
    url               text NOT NULL,
    guid              text,
    feed_id           integer REFERENCES feeds (feed_id) ON DELETE SET NULL,
    first_run_id      bigint REFERENCES pipeline_runs (run_id) ON DELETE SET NULL,
    title             text,
    summary           text,
    feed_content      text,
    author            text,
    feed_categories   text[] NOT NULL DEFAULT '{}',
    published_at      timestamptz,
    published_source  text CHECK (published_source IN ('feed', 'page')),
    published_flag    text CHECK (published_flag IN ('missing', 'future', 'too_old', 'unparsable')),
    discovered_at     timestamptz NOT NULL DEFAULT now(),
    link_error        text,
    -- extraction
    extract_state     text NOT NULL DEFAULT 'pending' CHECK (extract_state IN ('pending', 'retry', 'done')),
    extract_attempts  integer NOT NULL DEFAULT 0,
    text              text,
    text_source       text CHECK (text_source IN ('page', 'feed_content', 'feed_summary', 'none')),
    extract_error_kind text,
    extract_error     text,
    page_title        text,
    page_author       text,
    page_published_at timestamptz,
    sitename          text,
    lang              text,
    description       text,
    page_tags         text[] NOT NULL DEFAULT '{}',
    image_url         text,
    word_count        integer NOT NULL DEFAULT 0 CHECK (word_count >= 0),
    content_hash      text,
    extractor         text,
    extractor_version text,
    extracted_at      timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- pending: no text yet; retry: best fallback text stored, the page is tried again next run; done: final
    CHECK (CASE extract_state WHEN 'pending' THEN text_source IS NULL ELSE text_source IS NOT NULL END)
);
CREATE INDEX articles_pending_idx ON articles (article_id) WHERE extract_state <> 'done';
CREATE INDEX articles_published_idx ON articles (published_at DESC);
CREATE INDEX articles_feed_idx ON articles (feed_id);

CREATE TABLE article_sources (
    article_id        bigint NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    feed_id           integer NOT NULL REFERENCES feeds (feed_id) ON DELETE CASCADE,
    guid              text,
    item_url          text NOT NULL,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    first_run_id      bigint REFERENCES pipeline_runs (run_id) ON DELETE SET NULL,
    PRIMARY KEY (article_id, feed_id)
);
CREATE INDEX article_sources_feed_idx ON article_sources (feed_id);

-- One row per classified article (also when it got no label), so re-classification can find stale versions.
CREATE TABLE article_classifications (
    article_id        bigint PRIMARY KEY REFERENCES articles (article_id) ON DELETE CASCADE,
    classifier_version text NOT NULL,
    scores            jsonb NOT NULL,
    classified_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX article_classifications_version_idx ON article_classifications (classifier_version);

CREATE TABLE article_labels (
    article_id        bigint NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    label             text NOT NULL CHECK (label IN ('regulation', 'adoption', 'mining')),
    score             real NOT NULL CHECK (score >= 0 AND score <= 1),
    evidence          text[] NOT NULL DEFAULT '{}',
    classifier_version text NOT NULL,
    labelled_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, label)
);
CREATE INDEX article_labels_label_idx ON article_labels (label, article_id);

CREATE TABLE article_entities (
    article_id        bigint NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('jurisdiction', 'regulator', 'asset')),
    entity_id         text NOT NULL,
    name              text NOT NULL,
    mentions          integer NOT NULL DEFAULT 1 CHECK (mentions > 0),
    PRIMARY KEY (article_id, kind, entity_id)
);
CREATE INDEX article_entities_entity_idx ON article_entities (kind, entity_id, article_id);
