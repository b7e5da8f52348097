{#-
    A 64-bit integer hash of a string that is identical on DuckDB, BigQuery and in Python
    (tunesday.hashing.hash64): the first 8 bytes of its MD5, big-endian, two's complement.
    Built from two 32-bit halves because casting 16 hex digits above 0x7fff... overflows on
    both engines. BigQuery's FARM_FINGERPRINT has no DuckDB twin, so we do not use it.
-#}
{% macro hash64(expression) %}
    {{ return(adapter.dispatch('hash64', 'tunesday')(expression)) }}
{% endmacro %}

{% macro default__hash64(expression) %}
    {%- set md5_hex = dbt.hash(expression) -%}
    {%- set high = "cast('0x' || substr(" ~ md5_hex ~ ", 1, 8) as " ~ dbt.type_bigint() ~ ")" -%}
    {%- set low = "cast('0x' || substr(" ~ md5_hex ~ ", 9, 8) as " ~ dbt.type_bigint() ~ ")" -%}
    (({{ high }} - case when {{ high }} >= 2147483648 then 4294967296 else 0 end) * 4294967296 + {{ low }})
{% endmacro %}
