{#-
    Camelot code ('8B') of a Spotify key: major ((7 * key + 7) mod 12) + 1 with B, minor
    ((7 * key + 4) mod 12) + 1 with A. Null when the key or mode is unknown.
-#}
{% macro camelot_number(pitch_class_column, mode_column) %}
    (mod(7 * {{ pitch_class_column }} + case when {{ mode_column }} = 1 then 7 else 4 end, 12) + 1)
{% endmacro %}

{% macro camelot_code(pitch_class_column, mode_column) %}
    case
        when {{ pitch_class_column }} is not null and {{ mode_column }} in (0, 1)
            then cast({{ camelot_number(pitch_class_column, mode_column) }} as {{ dbt.type_string() }})
            || case when {{ mode_column }} = 1 then 'B' else 'A' end
    end
{% endmacro %}

{#- Weight of evidence from from_date seen on to_date: halves every half_life_days days. -#}
{% macro decay_factor(from_date, to_date, half_life_days=none) %}
    {%- set half_life = half_life_days if half_life_days is not none else var('affinity_half_life_days') -%}
    power(
        0.5,
        cast({{ days_between(from_date, to_date) }} as {{ type_double() }})
        / {{ half_life }}
    )
{%- endmacro %}

{#-
    Tempo folded into one octave, (80, 160] BPM, so half and double time compare as the same
    feel (70 and 140 BPM both become 140).
-#}
{% macro fold_tempo(tempo_expression) %}
    ({{ tempo_expression }} * power(2, floor(ln(160 / {{ tempo_expression }}) / ln(2))))
{%- endmacro %}

{#- The similarity metric var similarity_metric names, checked: 'jaccard' or 'lift'. -#}
{% macro similarity_metric() %}
    {%- set metric = var('similarity_metric') -%}
    {%- if metric not in ['jaccard', 'lift'] -%}
        {{ exceptions.raise_compiler_error("var similarity_metric must be 'jaccard' or 'lift', not '" ~ metric ~ "'") }}
    {%- endif -%}
    {{ return(metric) }}
{% endmacro %}
