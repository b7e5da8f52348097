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

{% macro experiment_is_running(experiments) %}
    {#- The experiment (`experiments`: an alias of the seed experiments) runs on run_date: started, not ended. -#}
    (
        {{ experiments }}.start_date <= cast('{{ run_date() }}' as date)
        and ({{ experiments }}.end_date is null or {{ experiments }}.end_date >= cast('{{ run_date() }}' as date))
    )
{%- endmacro %}

{% macro experiment_metrics() %}
    {#-
        The metrics every experiment is analysed on (int_experiment_listener_metrics defines them;
        seeds experiments name its primary, secondary and guardrail metrics among them).
    -#}
    {{ return(['recommended_streams', 'streams', 'listening_minutes', 'new_artists_stuck', 'skip_rate']) }}
{% endmacro %}

{% macro relative_lift_variance(treatment_mean, control_mean, treatment_se2, control_se2) %}
    {#-
        The variance of treatment_mean / control_mean - 1 by the delta method, from the squared
        standard errors of the two means (independent samples).
    -#}
    {{ treatment_se2 }} / nullif({{ control_mean }} * {{ control_mean }}, 0)
    + {{ treatment_mean }} * {{ treatment_mean }} * {{ control_se2 }}
    / nullif({{ control_mean }} * {{ control_mean }} * {{ control_mean }} * {{ control_mean }}, 0)
{%- endmacro %}

{% macro welch_degrees_of_freedom(treatment_se2, treatment_count, control_se2, control_count) %}
    {#- Welch-Satterthwaite: (a + b)² / (a² / (n_a - 1) + b² / (n_b - 1)), a and b the squared standard errors. -#}
    ({{ treatment_se2 }} + {{ control_se2 }}) * ({{ treatment_se2 }} + {{ control_se2 }})
    / nullif(
        {{ treatment_se2 }} * {{ treatment_se2 }} / nullif({{ treatment_count }} - 1, 0)
        + {{ control_se2 }} * {{ control_se2 }} / nullif({{ control_count }} - 1, 0),
        0
    )
{%- endmacro %}

{% macro t_quantile_975(degrees_of_freedom) %}
    {#-
        Student's t 97.5 % quantile (a two-sided 95 % interval) at `degrees_of_freedom`: the normal
        quantile with the first three Cornish-Fisher terms in 1/df, within 0.15 % of the exact value
        from 5 degrees of freedom (0.8 % low at 3, 3 % at 2). Neither engine has the t distribution.
    -#}
    {%- set df = degrees_of_freedom %}
    (
        1.959963984540054
        + 2.372271230298562 / {{ df }}
        + 2.8224986157396112 / ({{ df }} * {{ df }})
        + 2.555849679507722 / ({{ df }} * {{ df }} * {{ df }})
    )
{%- endmacro %}
