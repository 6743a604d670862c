"""The ledger's Alembic migrations (env.py, versions/); applied by assets_manifest.schema. See README.md here."""
