"""What the Airflow DAGs need from the package, kept out of the DAG files: the database URL from the Airflow
Connection (:mod:`.connection`) and the failure alerts with the shared task defaults (:mod:`.alerts`)."""
