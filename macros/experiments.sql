{#-
    Experiments (seeds/experiments, tunesday/experiments.py): a listener's bucket in an
    experiment, the same number as Python's tunesday.experiments.bucket on every engine.
-#}

{% macro experiment_bucket(salt, user_id) %}
    {{ return(adapter.dispatch('experiment_bucket', 'tunesday')(salt, user_id)) }}
{% endmacro %}

{% macro default__experiment_bucket(salt, user_id) %}
    {#- The first 8 hex digits of md5(salt ':' user_id), an unsigned 32-bit integer, mod 10,000. -#}
    mod(
        cast('0x' || substr({{ dbt.hash(dbt.concat([salt, "':'", user_id])) }}, 1, 8) as {{ dbt.type_bigint() }}),
        10000
    )
{%- endmacro %}
