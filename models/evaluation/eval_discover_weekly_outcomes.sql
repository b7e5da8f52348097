{#-
    How each published Discover Weekly did, day by day after it was made: of the listeners who
    got a list, the share who streamed at least one of its tracks by the day (hit rate), and the
    share of its tracks streamed by then, all and by artists new to the listener. Every list's
    tracks are ones the listener had never played, so a stream of one after the list was made
    is a hit, as in the offline evaluation (eval_discover_weekly), measured here on the lists
    actually published, every run, from the warehouse's own listening days. A week's days
    appear as they pass: day 7 of a week made yesterday is not there yet.
-#}

{%- set days = 7 %}

with

lists as (
    select
        user_id,
        week_start,
        track_id,
        is_new_artist,
        generated_on
    from {{ ref('fct_discover_weekly') }}
),

weeks as (
    select
        week_start,
        min(generated_on) as generated_on,
        count(distinct user_id) as listener_count,
        count(*) as listed_track_count,
        sum(case when is_new_artist then 1 else 0 end) as new_artist_track_count
    from lists
    group by week_start
),

-- The days of a week's outcome, 1 to {{ days }}.
day_numbers as (
    select 1 as day_number
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
    union all
    select 6
    union all
    select 7
),

week_days as (
    select
        weeks.week_start,
        weeks.generated_on,
        weeks.listener_count,
        weeks.listed_track_count,
        weeks.new_artist_track_count,
        day_numbers.day_number
    from weeks
    cross join day_numbers
    where
        day_numbers.day_number
        <= {{ days_between('weeks.generated_on', "cast('" ~ run_date() ~ "' as date)") }}
),

-- Each listed track's first stream after its list was made, within the week.
first_streams as (
    select
        lists.user_id,
        lists.week_start,
        lists.track_id,
        lists.is_new_artist,
        min({{ days_between('lists.generated_on', 'track_days.listened_date') }}) as day_number
    from lists
    inner join {{ ref('fct_user_track_days') }} as track_days
        on lists.user_id = track_days.user_id and lists.track_id = track_days.track_id
    where
        track_days.stream_count > 0
        and track_days.listened_date > lists.generated_on
        and track_days.listened_date <= cast('{{ run_date() }}' as date)
        and {{ days_between('lists.generated_on', 'track_days.listened_date') }} <= {{ days }}
    group by lists.user_id, lists.week_start, lists.track_id, lists.is_new_artist
),

outcomes as (
    select
        week_days.week_start,
        week_days.day_number,
        count(distinct first_streams.user_id) as hit_listener_count,
        count(first_streams.track_id) as streamed_track_count,
        sum(case when first_streams.is_new_artist then 1 else 0 end) as new_artist_streamed_track_count
    from week_days
    left join first_streams
        on
            week_days.week_start = first_streams.week_start
            and week_days.day_number >= first_streams.day_number
    group by week_days.week_start, week_days.day_number
)

select
    week_days.week_start,
    week_days.generated_on,
    week_days.day_number,
    cast({{ dbt.dateadd('day', 'week_days.day_number', 'week_days.generated_on') }} as date) as as_of_date,
    week_days.listener_count,
    week_days.listed_track_count,
    outcomes.hit_listener_count,
    outcomes.streamed_track_count,
    outcomes.new_artist_streamed_track_count,
    outcomes.hit_listener_count / cast(week_days.listener_count as {{ type_double() }}) as hit_rate,
    outcomes.streamed_track_count / cast(week_days.listed_track_count as {{ type_double() }}) as streamed_track_share,
    case
        when week_days.new_artist_track_count > 0
            then
                outcomes.new_artist_streamed_track_count
                / cast(week_days.new_artist_track_count as {{ type_double() }})
    end as new_artist_streamed_track_share
from week_days
inner join outcomes
    on week_days.week_start = outcomes.week_start and week_days.day_number = outcomes.day_number
