"""crypto-news: crypto-news feeds to labelled articles in PostgreSQL.

The package holds all the logic; Airflow DAGs in ``dags/`` and the ``crypto-news`` command line both call
:mod:`crypto_news.pipeline`. It imports without Airflow.
"""

__version__ = "0.1.0"
