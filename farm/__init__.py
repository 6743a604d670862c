"""The render farm: its settings, and `docfilm farm local` (PostgreSQL, Prefect, S3 and workers on one machine).

No Prefect import here: the farm's flows live in flows/docfilm_flows.py, their Prefect-free work in
flows/farm_steps.py, and `farm local` drives Prefect through its command line.
"""
