{#-
    Affinity as of run_date, shared by fct_user_track_affinity and fct_user_artist_affinity:
    the decayed listening score plus a standing bonus (a saved track, a followed artist), ranked
    per listener, best first (ties by item id, so the rank is stable across engines).
    `relation` has user_id, `item_key`, listening_score and the boolean `bonus_flag`.
-#}
{% macro affinity_scored(relation, item_key, bonus_flag, bonus_weight) %}
    {%- set affinity -%}
        {{ relation }}.listening_score + case when {{ relation }}.{{ bonus_flag }} then {{ bonus_weight }} else 0 end
    {%- endset %}
    select
        {{ relation }}.*,
        {{ affinity }} as affinity_score,
        row_number() over (
            partition by {{ relation }}.user_id order by {{ affinity }} desc, {{ relation }}.{{ item_key }} asc
        ) as affinity_rank,
        cast('{{ run_date() }}' as date) as as_of_date
    from {{ relation }}
{% endmacro %}
