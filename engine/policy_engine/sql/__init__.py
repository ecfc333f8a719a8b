"""SQL: a checked policy compiled to one query (sqlglot trees), run on DuckDB or Spark.

`query.compile_query` builds the query; `engines` runs it; `batching.SqlBatch` is
`policy batch --engine duckdb|spark`; `backtest` decides a history under two versions of a
policy. Nothing here is imported by `policy eval`: sqlglot, DuckDB, pyarrow and pyspark are
optional (the `sql` and `spark` extras; docs/scale-out.md).
"""
