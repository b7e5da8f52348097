{{ config(
    materialized='incremental',
    **incremental_by_key_config(['user_id', 'artist_id'])
) }}

{#-
    Lifetime counters of each listener with each artist, updated in place: a daily run reads
    only the run's rows of fct_user_artist_days and the state rows they touch. Days already
    folded in (on or before last_listen_date) are skipped, so a rerun changes nothing.
-#}

with

new_days as (
    select * from {{ ref('fct_user_artist_days') }}
    where {{ incremental_date_filter('listened_date', 'last_listen_date') }}
),

{% if is_incremental() %}
    touched as (
        select distinct
            user_id,
            artist_id
        from new_days
    ),

    previous as (
        select state.*
        from {{ this }} as state
        inner join touched
            on state.user_id = touched.user_id and state.artist_id = touched.artist_id
    ),
{% endif %}

unfolded_days as (
    select
        new_days.user_id,
        new_days.artist_id,
        new_days.listened_date,
        new_days.stream_count,
        {% if is_incremental() %}
            coalesce(
                previous.first_listen_date,
                min(new_days.listened_date) over (partition by new_days.user_id, new_days.artist_id)
            )
        {% else %}
            min(new_days.listened_date) over (partition by new_days.user_id, new_days.artist_id)
        {% endif %} as first_listen_date
    from new_days
    {% if is_incremental() %}
        left join previous
            on new_days.user_id = previous.user_id and new_days.artist_id = previous.artist_id
        where previous.last_listen_date is null or new_days.listened_date > previous.last_listen_date
    {% endif %}
),

folded as (
    select
        user_id,
        artist_id,
        min(first_listen_date) as first_listen_date,
        min(case when stream_count > 0 then listened_date end) as first_stream_date,
        max(listened_date) as last_listen_date,
        max(case when stream_count > 0 then listened_date end) as last_stream_date,
        sum(stream_count) as stream_count,
        sum(case when stream_count > 0 then 1 else 0 end) as stream_days,
        count(*) as play_days,
        sum(
            case
                when
                    stream_count > 0
                    and listened_date > first_listen_date
                    and {{ days_between('first_listen_date', 'listened_date') }} <= {{ var('discovery_window_days') }}
                    then 1
                else 0
            end
        ) as return_stream_days
    from unfolded_days
    group by user_id, artist_id
),

final as (
    select
        folded.user_id,
        folded.artist_id,
        folded.first_listen_date,
        {% if is_incremental() %}
            coalesce(previous.first_stream_date, folded.first_stream_date) as first_stream_date,
            folded.last_listen_date,
            coalesce(folded.last_stream_date, previous.last_stream_date) as last_stream_date,
            cast(coalesce(previous.stream_count, 0) + folded.stream_count as {{ dbt.type_bigint() }}) as stream_count,
            cast(coalesce(previous.stream_days, 0) + folded.stream_days as {{ dbt.type_bigint() }}) as stream_days,
            cast(coalesce(previous.play_days, 0) + folded.play_days as {{ dbt.type_bigint() }}) as play_days,
            cast(coalesce(previous.return_stream_days, 0) + folded.return_stream_days as {{ dbt.type_bigint() }})
                as return_stream_days
        {% else %}
            folded.first_stream_date,
            folded.last_listen_date,
            folded.last_stream_date,
            cast(folded.stream_count as {{ dbt.type_bigint() }}) as stream_count,
            cast(folded.stream_days as {{ dbt.type_bigint() }}) as stream_days,
            cast(folded.play_days as {{ dbt.type_bigint() }}) as play_days,
            cast(folded.return_stream_days as {{ dbt.type_bigint() }}) as return_stream_days
        {% endif %}
    from folded
    {% if is_incremental() %}
        left join previous
            on folded.user_id = previous.user_id and folded.artist_id = previous.artist_id
    {% endif %}
)

select * from final
