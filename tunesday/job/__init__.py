"""The daily job: `tunesday daily` and `tunesday backfill`, the product's main entry point.

    lock -> build -> freshness -> export -> publish

`cli` parses the command line, `stages` runs the stages in order (dbt through `tunesday.dbt`, the
export and publish through `serving.snapshot`), `lock` keeps two runs off one warehouse,
`run_log` appends what happened to `ops_run_log` in the warehouse, `textfile` writes the
Prometheus metrics of the last runs.
"""
