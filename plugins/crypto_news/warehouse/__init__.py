"""The warehouse: PostgreSQL, and every SQL statement the pipeline runs.

:mod:`.db` (connections), :mod:`.migrations` (schema), :mod:`.runlock` (one run at a time), then one module per
subject: :mod:`.runs`, :mod:`.feeds`, :mod:`.articles`, :mod:`.duplicates`, :mod:`.labels`, :mod:`.archive` (the
raw page archive), :mod:`.maintenance` (retention), :mod:`.quality` (data-quality checks), :mod:`.marts` (refreshing
the BI marts' aggregates). :mod:`.embedded` runs a project-local PostgreSQL for the command line; :mod:`.scratch`
creates throwaway databases for tests and benchmarks.
Analysts' queries are in ``sql/queries/``; the schema is in ``sql/migrations/``.
"""
