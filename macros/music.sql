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

{#-
    Whether two Camelot keys mix well: the same key, a neighbour on the wheel (number ± 1, same
    letter), or the relative major/minor (same number, other letter).
-#}
{% macro camelot_compatible(number_a, mode_a, number_b, mode_b) %}
    (
        ({{ mode_a }} = {{ mode_b }} and mod({{ number_a }} - {{ number_b }} + 12, 12) in (0, 1, 11))
        or ({{ number_a }} = {{ number_b }})
    )
{%- endmacro %}

{#-
    For each owner (a listener, a playlist) in `key_shares` (columns id_column, camelot_code,
    key_share) and each of the 24 Camelot keys: the owner's share in keys compatible with it,
    and key_fit, that share scaled so that the owner's best-fitting key is 1. A select statement.
-#}
{% macro camelot_key_fit(key_shares, id_column) %}
    select
        fit.{{ id_column }},
        fit.camelot_code,
        cast(fit.compatible_share as {{ type_double() }}) as compatible_share,
        cast(
            fit.compatible_share / max(fit.compatible_share) over (partition by fit.{{ id_column }})
            as {{ type_double() }}
        ) as key_fit
    from (
        select
            owner_keys.{{ id_column }},
            wheel.camelot_code,
            sum(owner_keys.key_share) as compatible_share
        from (
            select
                shares.{{ id_column }},
                shares.key_share,
                {{ camelot_number('owner_wheel.pitch_class', 'owner_wheel.musical_mode') }} as camelot_number,
                owner_wheel.musical_mode
            from {{ key_shares }} as shares
            inner join {{ ref('camelot_wheel') }} as owner_wheel on shares.camelot_code = owner_wheel.camelot_code
        ) as owner_keys
        inner join (
            select
                camelot_code,
                musical_mode,
                {{ camelot_number('pitch_class', 'musical_mode') }} as camelot_number
            from {{ ref('camelot_wheel') }}
        ) as wheel
            on {{ camelot_compatible(
                'owner_keys.camelot_number', 'owner_keys.musical_mode', 'wheel.camelot_number', 'wheel.musical_mode'
            ) }}
        group by owner_keys.{{ id_column }}, wheel.camelot_code
    ) as fit
{%- endmacro %}
