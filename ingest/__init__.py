"""The write path: verify Cal.com deliveries and land them, plus CRM snapshots, in `raw`.

Nothing here transforms data or reads the marts; dbt owns everything above `raw`.
"""
