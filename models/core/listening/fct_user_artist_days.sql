{{ config(
    materialized='incremental',
    **incremental_by_date_config('listened_date', ['user_id', 'artist_id', 'listened_date'])
) }}

{#-
    One row per listener, artist and day with plays, with the day the listener last played the
    artist before: a first listen (global novelty) has none, a return after a long gap (local
    novelty) has an old one. An incremental run looks the previous day up in the model's own
    earlier rows for the pairs it touches.
-#}

with

days as (
    select
        user_id,
        artist_id,
        listened_date,
        sum(play_count) as play_count,
        sum(stream_count) as stream_count,
        sum(skip_count) as skip_count,
        sum(ms_played) as ms_played
    from {{ ref('fct_user_track_days') }}
    where {{ incremental_date_filter('listened_date', 'listened_date') }}
    group by user_id, artist_id, listened_date
),

{% if is_incremental() %}
    touched as (
        select distinct
            user_id,
            artist_id
        from days
    ),

    window_start as (
        select min(listened_date) as first_day from days
    ),

    earlier as (
        select
            loaded.user_id,
            loaded.artist_id,
            max(loaded.listened_date) as listened_date
        from {{ this }} as loaded
        inner join touched
            on loaded.user_id = touched.user_id and loaded.artist_id = touched.artist_id
        cross join window_start
        where loaded.listened_date < window_start.first_day
        group by loaded.user_id, loaded.artist_id
    ),
{% endif %}

sequenced as (
    select
        *,
        lag(listened_date) over (partition by user_id, artist_id order by listened_date asc) as previous_in_window
    from days
),

with_previous as (
    select
        sequenced.*,
        {% if is_incremental() %}
            coalesce(sequenced.previous_in_window, earlier.listened_date)
        {% else %}
            sequenced.previous_in_window
        {% endif %} as previous_listened_date
    from sequenced
    {% if is_incremental() %}
        left join earlier
            on sequenced.user_id = earlier.user_id and sequenced.artist_id = earlier.artist_id
    {% endif %}
),

final as (
    select
        user_id,
        artist_id,
        listened_date,
        cast(play_count as {{ dbt.type_bigint() }}) as play_count,
        cast(stream_count as {{ dbt.type_bigint() }}) as stream_count,
        cast(skip_count as {{ dbt.type_bigint() }}) as skip_count,
        cast(ms_played as {{ dbt.type_bigint() }}) as ms_played,
        previous_listened_date,
        cast({{ days_between('previous_listened_date', 'listened_date') }} as {{ dbt.type_bigint() }})
            as days_since_previous_listen,
        previous_listened_date is null as is_first_listen,
        coalesce(
            {{ days_between('previous_listened_date', 'listened_date') }} >= {{ var('return_gap_days') }},
            false
        ) as is_return_after_gap
    from with_previous
)

select * from final
{{ in_date_order('listened_date') }}
