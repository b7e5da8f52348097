{% macro delete_merged_sessions() %}
    {#-
        Rows of sessions that no longer exist: a late play joined them to an earlier session.
        Such a session started after the late play, so inside the window: only the window is read
        (on BigQuery, the partitions from the window's first day, by last_listened_date: a session
        that started in the window ended there too).
    -#}
    {%- if is_incremental() %}
        delete from {{ this }}
        where
            last_listened_date >= cast('{{ incremental_window_start() }}' as date)
            and session_started_at >= cast('{{ incremental_window_start() }}' as {{ dbt.type_timestamp() }})
            and session_id not in (
                select plays.session_id
                from {{ ref('int_plays_sessionized') }} as plays
                where plays.listened_date >= cast('{{ incremental_window_start() }}' as date)
            )
    {%- endif %}
{% endmacro %}

{% macro delete_replaced_sessions() %}
    {#-
        int_sessions' pre-hook: the rows of the sessions a run rebuilds, deleted before it inserts
        them again (macro incremental_by_key_in_days_config). Nothing to do where the run's
        delete+insert on session_id does it.
    -#}
    {{ return(adapter.dispatch('delete_replaced_sessions', 'tunesday')()) }}
{% endmacro %}

{% macro default__delete_replaced_sessions() %}
{% endmacro %}

{% macro bigquery__delete_replaced_sessions() %}
    {#-
        The sessions with plays in the run's days: their rows lie in the partitions from the day
        before (a session never spans more than that, int_plays_sessionized), constants here.
    -#}
    {%- if is_incremental() %}
        {%- set first_day = incremental_first_day('last_listened_date') %}
        delete from {{ this }}
        where
            last_listened_date >= cast('{{ days_after(first_day, -1) }}' as date)
            and session_id in (
                select plays.session_id
                from {{ ref('int_plays_sessionized') }} as plays
                where
                    plays.listened_date >= cast('{{ first_day }}' as date)
                    and plays.listened_date <= cast('{{ run_date() }}' as date)
            )
    {%- endif %}
{% endmacro %}
