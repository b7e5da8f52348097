{% macro delete_merged_sessions() %}
    {#-
        Rows of sessions that no longer exist: a late play joined them to an earlier session.
        Such a session started after the late play, so inside the window: only the window is read.
    -#}
    {%- if is_incremental() %}
        delete from {{ this }}
        where
            session_started_at >= cast('{{ incremental_window_start() }}' as {{ dbt.type_timestamp() }})
            and session_id not in (
                select plays.session_id
                from {{ ref('int_plays_sessionized') }} as plays
                where plays.listened_date >= cast('{{ incremental_window_start() }}' as date)
            )
    {%- endif %}
{% endmacro %}
