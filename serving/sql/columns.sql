-- The columns of the tables the export reads, in table order, with their DuckDB types: checked
-- against the serving tables' dbt contracts (serving/contract.py).

select
    table_name,
    column_name,
    data_type
from duckdb_columns()
where
    database_name = current_database()
    and schema_name = current_schema()
order by table_name, column_index
