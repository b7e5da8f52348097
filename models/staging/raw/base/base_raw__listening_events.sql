{{ config(
    materialized='incremental',
    **incremental_by_date_config('partition_date', ['row_key'], cluster_by=['row_status', 'user_id'])
) }}

{#-
    Incremental by day of play, so that a daily run checks only the new days' raw events.
    A run takes the days after the last day loaded and the days from incremental_window_start()
    up to run_date, and files a row without a usable played_at (none, or in the future) under
    the run that first saw it (macro event_filing_date); a later run whose window rewrites that
    day takes the row again under that day, so it is never lost nor counted twice (and under its
    day of play if its time has become usable by then: a clock that ran ahead). So every row not
    rejected is filed under its day of play, which is what lets the models after it read only
    some days. An event id accepted on an earlier day makes a later copy a duplicate, as in a full
    build, where the earliest copy wins.

    What a daily run reads (on BigQuery, where this table is partitioned by partition_date and
    clustered by row_status): the raw partitions of its days and those without a usable time
    (constants in the compiled SQL: macro incremental_first_day), the rejected rows of every day
    (rows filed under an earlier run), and the accepted event ids of every other day (duplicates
    across days: the one lookup that grows with the years, README "What BigQuery costs").

    Beside the rejection rules, every field a real export can leave out or fill with something
    unexpected gets a defined value here (macros/defaults.sql), with a `<field>_rule` column saying
    what was done, so that no test after staging can fail because of a raw value: reason codes
    outside `play_reason_codes` become 'unknown', a missing skip flag is derived from the end
    reason or else the time played, an unknown platform, context type or country becomes null.
-#}

{%- set platforms = ['ios', 'android', 'desktop', 'web', 'smart_speaker'] -%}
{%- set context_types = ['playlist', 'album', 'artist', 'collection', 'radio', 'search'] %}

{%- set first_day = incremental_first_day('partition_date', "row_status <> 'rejected'") if is_incremental() else none %}

with

source as {{ inline_cte() }} (
    select * from {{ source('raw', 'listening_events') }}
    {%- if first_day %}
        -- The raw rows this run can take, by the partition column (raw tables are partitioned by
        -- day of play): those without a usable time, and the days from first_day to run_date.
        where
            played_at is null
            or played_at > {{ dbt.current_timestamp() }}
            or (
                played_at >= cast('{{ first_day }}' as {{ dbt.type_timestamp() }})
                and played_at < cast('{{ days_after(run_date(), 1) }}' as {{ dbt.type_timestamp() }})
            )
    {%- endif %}
),

filed as {{ inline_cte() }} (
    select *
    from (
        select
            *,
            {{ event_filing_date('played_at') }} as partition_date
        from source
    ) as with_filing_date
    where partition_date <= cast('{{ run_date() }}' as date)
),

in_days as {{ inline_cte() }} (
    select * from filed
    {% if is_incremental() %}
        where
            played_at is null
            or played_at > {{ dbt.current_timestamp() }}
            {%- if first_day %}
                or partition_date >= cast('{{ first_day }}' as date)
            {%- else %}
                -- A unit test's `this`: rejected rows can carry absurd dates (the year 2099), they
                -- must not stop the catch-up.
                or partition_date > (
                    select max(loaded.partition_date) from {{ this }} as loaded
                    where loaded.row_status <> 'rejected'
                )
                or partition_date >= cast('{{ incremental_window_start() }}' as date)
            {%- endif %}
    {% endif %}
),

{%- set play_key_text = "coalesce(event_id, '') || '|' || coalesce(user_id, '') || '|' || coalesce(track_id, '')"
    ~ " || '|' || coalesce(cast(" ~ epoch_micros('played_at') ~ " as " ~ dbt.type_string() ~ "), '')"
    ~ " || '|' || coalesce(cast(ms_played as " ~ dbt.type_string() ~ "), '')" %}
{%- set row_key = hash64(play_key_text ~ " || '|' || cast(copy_number as " ~ dbt.type_string() ~ ")") %}

{#
    The run's rows are read three times, each time from the raw files (inline_cte: DuckDB would
    otherwise store them, hundreds of millions of wide rows in a full build, and spill them): once
    to find the event ids of more than one row, once for the rows with a unique event id (nearly
    all: no window), once for the others (rare: numbered and ranked by windows).
#}

with_play_key as {{ inline_cte() }} (
    select
        *,
        {{ hash64(play_key_text) }} as play_key
    from in_days
),

repeated_events as (
    -- Event ids of more than one row in the run's days. Only their rows can be copies (rows that
    -- share event, listener, track, time and duration: the play key) or duplicates (clean rows
    -- that share an event id), so only they are numbered and ranked by windows: a window over
    -- every row would sort all the days' rows, wide as they are, and spill gigabytes at scale.
    select event_id
    from with_play_key
    where event_id is not null
    group by event_id
    having count(*) > 1
),

known_users as (
    select user_id from {{ ref('stg_raw__users') }}
),

known_tracks as (
    select track_id from {{ ref('stg_raw__tracks') }}
),

start_codes as (
    select reason_code from {{ ref('play_reason_codes') }}
    where reason_field = 'start'
),

end_codes as (
    select
        reason_code,
        ends_as_skip
    from {{ ref('play_reason_codes') }}
    where reason_field = 'end'
),

checked as {{ inline_cte() }} (
    select
        with_play_key.*,
        case
            when with_play_key.event_id is null then 'missing_event_id'
            when with_play_key.user_id is null then 'missing_user_id'
            when with_play_key.track_id is null then 'missing_track_id'
            when with_play_key.played_at is null then 'missing_played_at'
            when with_play_key.ms_played is null then 'missing_ms_played'
            when known_users.user_id is null then 'unknown_user_id'
            when known_tracks.track_id is null then 'unknown_track_id'
            when
                with_play_key.played_at < cast('{{ var("service_launch_date") }}' as {{ dbt.type_timestamp() }})
                then 'played_at_before_launch'
            when with_play_key.played_at > {{ dbt.current_timestamp() }} then 'played_at_in_future'
            when with_play_key.ms_played < 0 then 'negative_ms_played'
            when with_play_key.ms_played > {{ var('max_ms_played') }} then 'absurd_ms_played'
        end as rejection_reason,
        start_codes.reason_code as known_start_reason,
        end_codes.reason_code as known_end_reason,
        end_codes.ends_as_skip
    from with_play_key
    left join known_users on with_play_key.user_id = known_users.user_id
    left join known_tracks on with_play_key.track_id = known_tracks.track_id
    left join start_codes on {{ clean_code('with_play_key.reason_start') }} = start_codes.reason_code
    left join end_codes on {{ clean_code('with_play_key.reason_end') }} = end_codes.reason_code
),

repeated_numbered as (
    -- The rows of a repeated (or missing) event id: copies numbered within their play key, the
    -- copy loaded first number 1.
    select
        *,
        row_number() over (
            partition by play_key
            order by
                context_type,
                context_id,
                reason_start,
                reason_end,
                shuffle,
                skipped,
                platform,
                country,
                loaded_at
        ) as copy_number
    from checked
    where event_id is null or event_id in (select repeated_events.event_id from repeated_events)
),

repeated_ranked as (
    -- Of the clean rows that share an event id, the earliest is accepted, the others are
    -- duplicates (macro row_status, spelled out with the row key).
    select
        *,
        case
            when rejection_reason is not null then 'rejected'
            when row_number() over (
                partition by rejection_reason, event_id
                order by played_at asc, ms_played desc, track_id asc, row_key asc
            ) = 1 then 'accepted'
            else 'duplicate'
        end as status_in_window
    from (
        select
            *,
            {{ row_key }} as row_key
        from repeated_numbered
    ) as keyed
),

keyed as (
    -- The columns in the order of repeated_ranked: checked's, copy_number, row_key, status_in_window.
    select
        *,
        {{ row_key }} as row_key,
        case when rejection_reason is null then 'accepted' else 'rejected' end as status_in_window
    from (
        select
            *,
            1 as copy_number
        from checked
        where event_id is not null and event_id not in (select repeated_events.event_id from repeated_events)
    ) as unique_events
    union all
    select * from repeated_ranked
),

{% if is_incremental() %}
    filed_before as (
        -- Rows without a usable played_at that an earlier run filed under its own run_date: all
        -- rejected (no time, a time in the future, or an earlier reason), so on BigQuery only the
        -- rejected rows' blocks of each partition are read.
        select
            filed.row_key,
            min(filed.partition_date) as partition_date
        from {{ this }} as filed
        where
            filed.row_status = 'rejected'
            and (filed.played_at is null or filed.partition_date <> cast(filed.played_at as date))
        group by filed.row_key
    ),
{% endif %}

with_status as (
    select
        keyed.*,
        {% if is_incremental() -%}
            case
                -- A time that was in the future when the row was filed and is usable now.
                when keyed.played_at <= {{ dbt.current_timestamp() }} then keyed.partition_date
                else coalesce(filed_before.partition_date, keyed.partition_date)
            end as filed_date
        {%- else -%}
            keyed.partition_date as filed_date
        {%- endif %}
    from keyed
    {% if is_incremental() %}
        -- A row without a usable played_at stays under the run that first saw it: taken again
        -- (under that day) only when that day is recomputed, else left where it is.
        left join filed_before on keyed.row_key = filed_before.row_key
        where
            filed_before.partition_date is null
            or filed_before.partition_date >= cast('{{ incremental_window_start() }}' as date)
    {% endif %}
),

{% if is_incremental() %}
    run_event_ids as (
        select distinct event_id
        from with_play_key
        where event_id is not null
    ),

    accepted_before as (
        -- The run's event ids accepted on a day other than this run's days: the lookup that reads
        -- all days. A semi-join on the run's ids (few), so that every day's ids are scanned, not
        -- gathered: their distinct set, the other way round, grew with the history.
        select distinct accepted.event_id
        from {{ this }} as accepted
        inner join run_event_ids on accepted.event_id = run_event_ids.event_id
        where
            accepted.row_status = 'accepted'
            and accepted.partition_date not in (select distinct w.filed_date from with_status as w)
    ),
{% endif %}

final as (
    select
        cast(with_status.event_id as {{ dbt.type_string() }}) as event_id,
        cast(with_status.user_id as {{ dbt.type_string() }}) as user_id,
        cast(with_status.track_id as {{ dbt.type_string() }}) as track_id,
        cast(with_status.played_at as {{ dbt.type_timestamp() }}) as played_at,
        cast(with_status.ms_played as {{ dbt.type_bigint() }}) as ms_played,
        {{ known_code('with_status.context_type', context_types) }} as context_type,
        cast(with_status.context_id as {{ dbt.type_string() }}) as context_id,
        coalesce(with_status.known_start_reason, 'unknown') as start_reason,
        coalesce(with_status.known_end_reason, 'unknown') as end_reason,
        cast(with_status.shuffle as {{ dbt.type_boolean() }}) as is_shuffled,
        coalesce(
            cast(with_status.skipped as {{ dbt.type_boolean() }}),
            with_status.ends_as_skip,
            with_status.ms_played < {{ var('stream_min_ms') }}
        ) as is_skipped,
        {{ known_code('with_status.platform', platforms) }} as platform,
        {{ country_code('with_status.country') }} as country_code,
        cast(with_status.loaded_at as {{ dbt.type_timestamp() }}) as loaded_at,
        {{ default_rule('with_status.context_type', known_code('with_status.context_type', context_types)) }}
            as context_type_rule,
        {{ default_rule('with_status.reason_start', 'with_status.known_start_reason') }} as start_reason_rule,
        {{ default_rule('with_status.reason_end', 'with_status.known_end_reason') }} as end_reason_rule,
        case when with_status.shuffle is null then 'missing' else 'as_reported' end as shuffle_rule,
        case
            when with_status.skipped is not null then 'as_reported'
            when with_status.ends_as_skip is not null then 'from_end_reason'
            else 'from_time_played'
        end as skip_flag_rule,
        {{ default_rule('with_status.platform', known_code('with_status.platform', platforms)) }} as platform_rule,
        {{ default_rule('with_status.country', country_code('with_status.country')) }} as country_rule,
        with_status.rejection_reason,
        {% if is_incremental() -%}
            case
                when
                    with_status.status_in_window = 'accepted'
                    and with_status.event_id in (select accepted_before.event_id from accepted_before)
                    then 'duplicate'
                else with_status.status_in_window
            end
        {%- else -%}
            with_status.status_in_window
        {%- endif %} as row_status,
        with_status.filed_date as partition_date,
        with_status.row_key
    from with_status
)

select * from final
