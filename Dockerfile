# The crypto-news Airflow image: the official Airflow 3.3.2 image plus the project's pinned dependencies.
# Built by docker-compose.yml (image crypto-news-airflow:0.1.0); used by every Airflow service there.
#
# Why an image rather than _PIP_ADDITIONAL_REQUIREMENTS: the latter re-installs packages at every container start
# (slow, needs the registry at start-up, and unpinned transitive versions can drift); this image is built once,
# from the same constraints.txt the tests run with.
#
# The project's third-party dependencies are installed from constraints.txt; the crypto_news package itself is then
# removed again, because the code comes from /opt/airflow/plugins (Airflow puts it on sys.path), next to
# /opt/airflow/config and /opt/airflow/sql, which it reads relative to itself. The copies below make the image
# self-contained; docker-compose.yml mounts the working tree over them, so edits apply without a rebuild.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root pyproject.toml constraints.txt README.md /tmp/crypto-news/
COPY --chown=airflow:root plugins /tmp/crypto-news/plugins
RUN pip install --no-cache-dir -c /tmp/crypto-news/constraints.txt /tmp/crypto-news \
    && pip uninstall --yes crypto-news \
    && rm -rf /tmp/crypto-news

COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root config /opt/airflow/config
COPY --chown=airflow:root sql /opt/airflow/sql

# The simple auth manager appends generated passwords to /opt/airflow/simple-auth/passwords.json. The compose volume
# mounted there takes its owner from this directory when first created: without it Docker creates the mount point
# owned by root, and the api-server (uid 50000, gid 0) cannot write its passwords file and stops at start.
USER root
RUN mkdir -p /opt/airflow/simple-auth && chown airflow:root /opt/airflow/simple-auth \
    && chmod 0770 /opt/airflow/simple-auth
USER airflow
