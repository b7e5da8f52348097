{#-
    The lifetime states (models/core/state/) are folds of listening days: each day's row of a
    fct_user_*_days model is a part, and an earlier fold (a state row) is a part too, because
    the fold is associative — folding a state row with later days gives the state of all of
    them. So each state is two models:

    - `<state>_settled`, incremental by key: the fold of the settled days, those before
      incremental_window_start(), which no later run recomputes (macro settled_days_filter). A
      daily run folds the days that just settled into the rows of the keys they touch
      (incremental_state_previous); a rerun finds no new day and changes nothing.
    - `<state>`, a table: the settled fold plus the open days (macro open_days_filter), read
      afresh from fct_user_*_days every run, so a late play of an open day counts exactly as if
      it had come on time. Its daily cost is the open days' rows and one pass over the settled rows.

    A state part always covers days before those of the day parts it is folded with (the
    settled days come before the open ones; a settled run folds only days after its last one):
    the first-seen values of a fold rely on it. The folds themselves are
    track_affinity_fold and artist_familiarity_fold.
-#}

{% macro incremental_state_previous(new_rows, keys) %}
    {%- if is_incremental() %}
    touched as (
        select distinct
            {{ keys | join(',\n            ') }}
        from {{ new_rows }}
    ),

    previous as (
        select state.*
        from {{ this }} as state
        inner join touched
            on {% for key in keys %}state.{{ key }} = touched.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
    ),
    {%- endif %}
{% endmacro %}

{% macro track_affinity_fold(days, earlier=none) %}
    {#- Listening evidence per listener and track, decayed to its last day (int_user_track_affinity_state). -#}
    {%- set weights = var('affinity_weights') %}
    select
        user_id,
        track_id,
        artist_id,
        cast(sum(score * {{ decay_factor('last_date', 'key_last_date') }}) as {{ type_double() }}) as affinity_score,
        min(first_date) as first_evidence_date,
        cast(sum(stream_count) as {{ dbt.type_bigint() }}) as stream_count,
        cast(sum(skip_count) as {{ dbt.type_bigint() }}) as skip_count,
        cast(sum(stream_days) as {{ dbt.type_bigint() }}) as stream_days,
        max(last_date) as last_evidence_date
    from (
        select
            parts.*,
            max(parts.last_date) over (partition by parts.user_id, parts.track_id) as key_last_date
        from (
            select
                user_id,
                track_id,
                artist_id,
                listened_date as first_date,
                listened_date as last_date,
                {{ weights['stream'] }} * stream_count
                + {{ weights['completion'] }} * completion_count
                + {{ weights['replay'] }} * greatest(stream_count - 1, 0)
                + {{ weights['skip'] }} * skip_count as score,
                stream_count,
                skip_count,
                case when stream_count > 0 then 1 else 0 end as stream_days
            from {{ days }}
            {%- if earlier %}
                union all
                select
                    user_id,
                    track_id,
                    artist_id,
                    first_evidence_date as first_date,
                    last_evidence_date as last_date,
                    affinity_score as score,
                    stream_count,
                    skip_count,
                    stream_days
                from {{ earlier }}
            {%- endif %}
        ) as parts
    ) as with_key_last_date
    group by user_id, track_id, artist_id
{%- endmacro %}

{% macro artist_familiarity_fold(days, earlier=none) %}
    {#- Lifetime counters per listener and artist (int_user_artist_familiarity_state). -#}
    select
        user_id,
        artist_id,
        min(first_listen_date) as first_listen_date,
        min(first_stream_date) as first_stream_date,
        max(last_listen_date) as last_listen_date,
        max(last_stream_date) as last_stream_date,
        cast(sum(stream_count) as {{ dbt.type_bigint() }}) as stream_count,
        cast(sum(stream_days) as {{ dbt.type_bigint() }}) as stream_days,
        cast(sum(play_days) as {{ dbt.type_bigint() }}) as play_days,
        cast(sum(
            -- A state part has counted its own; a day counts when it streams within the window.
            coalesce(
                return_stream_days,
                case
                    when
                        stream_count > 0
                        and last_listen_date > key_first_listen_date
                        and {{ days_between('key_first_listen_date', 'last_listen_date') }}
                        <= {{ var('discovery_window_days') }}
                        then 1
                    else 0
                end
            )
        ) as {{ dbt.type_bigint() }}) as return_stream_days
    from (
        select
            parts.*,
            min(parts.first_listen_date) over (partition by parts.user_id, parts.artist_id) as key_first_listen_date
        from (
            select
                user_id,
                artist_id,
                listened_date as first_listen_date,
                case when stream_count > 0 then listened_date end as first_stream_date,
                listened_date as last_listen_date,
                case when stream_count > 0 then listened_date end as last_stream_date,
                stream_count,
                case when stream_count > 0 then 1 else 0 end as stream_days,
                1 as play_days,
                cast(null as {{ dbt.type_bigint() }}) as return_stream_days
            from {{ days }}
            {%- if earlier %}
                union all
                select
                    user_id,
                    artist_id,
                    first_listen_date,
                    first_stream_date,
                    last_listen_date,
                    last_stream_date,
                    stream_count,
                    stream_days,
                    play_days,
                    return_stream_days
                from {{ earlier }}
            {%- endif %}
        ) as parts
    ) as with_key_first_listen_date
    group by user_id, artist_id
{%- endmacro %}
