{#-
    The audits of the raw plays (models/audit/) read only the days a run can change, like the
    models they audit (README "What BigQuery costs"): their counts are kept per day
    (int_audit_event_days, int_audit_raw_event_days) or per listener over the settled days
    (int_audit_listener_settled), and a run recomputes the days it can have changed. These
    macros are what those models share.
-#}

{% macro play_default_rules() %}
    {#-
        Every way staging defaults a field of a play (the `<field>_rule` columns of
        base_raw__listening_events other than 'as_reported'), as (field, rule) pairs. Their
        accepted_values tests in _raw__models.yml keep this list whole. In the order of
        audit_raw__listener_oddities' columns.
    -#}
    {{ return([
        ('start_reason', 'missing'), ('start_reason', 'unrecognised'),
        ('end_reason', 'missing'), ('end_reason', 'unrecognised'),
        ('platform', 'missing'), ('platform', 'unrecognised'),
        ('country', 'missing'), ('country', 'unrecognised'),
        ('context_type', 'missing'), ('context_type', 'unrecognised'),
        ('shuffle', 'missing'),
        ('skip_flag', 'from_end_reason'), ('skip_flag', 'from_time_played'),
    ]) }}
{% endmacro %}

{% macro play_outcome() %}
    {#- A row's outcome in base_raw__listening_events, never null: its row_status, and the reason of a rejected row. -#}
    case when row_status = 'rejected' then 'rejected:' || rejection_reason else row_status end
{%- endmacro %}

{% macro listener_oddity_parts(plays) %}
    {#-
        The plays of `plays` (rows of base_raw__listening_events) per listener and outcome: how
        many, and how many of the accepted ones had each field defaulted
        (audit_raw__listener_oddities adds the parts up per listener). `user_key` is the user id
        with a null one told apart, a key without nulls for the settled fold's merge.
    -#}
    select
        case when user_id is null then 'null' else 'id:' || user_id end as user_key,
        {{ play_outcome() }} as outcome,
        user_id,
        row_status,
        rejection_reason,
        cast(count(*) as {{ dbt.type_bigint() }}) as plays,
        cast(sum(case
            when
                row_status = 'accepted' and (
                    start_reason_rule <> 'as_reported' or end_reason_rule <> 'as_reported'
                    or skip_flag_rule <> 'as_reported' or shuffle_rule <> 'as_reported'
                    or platform_rule <> 'as_reported' or country_rule <> 'as_reported'
                    or context_type_rule = 'unrecognised'
                )
                then 1
            else 0
        end) as {{ dbt.type_bigint() }}) as defaulted_plays,
        {%- for field, rule in listener_oddity_rules() %}
            cast(sum(case when row_status = 'accepted' and {{ field }}_rule = '{{ rule }}' then 1 else 0 end)
                as {{ dbt.type_bigint() }}) as {{ listener_oddity_column(field, rule) }},
        {%- endfor %}
        max(partition_date) as last_partition_date
    from {{ plays }}
    group by user_id, row_status, rejection_reason
{%- endmacro %}

{% macro listener_oddity_rules() %}
    {#-
        The defaults audit_raw__listener_oddities counts per listener: every one but a missing
        context type (normal in Spotify's exports).
    -#}
    {{ return(play_default_rules() | reject('equalto', ('context_type', 'missing')) | list) }}
{% endmacro %}

{% macro listener_oddity_column(field, rule) %}
    {#- audit_raw__listener_oddities' column of a default: missing_platform_plays, skip_flag_from_end_reason_plays. -#}
    {{- rule ~ '_' ~ field ~ '_plays' if rule in ('missing', 'unrecognised') else field ~ '_' ~ rule ~ '_plays' -}}
{% endmacro %}

{% macro audit_settled_before() %}
    {#-
        The first day the audits' settled fold (int_audit_listener_settled) leaves open,
        'YYYY-MM-DD': incremental_window_start(), or the day after the last day filed with a
        trusted play if that is earlier, since base_raw__listening_events' next run recomputes
        from there (macro incremental_first_day): no day folded can change again. Looked up in
        int_audit_event_days, which holds what base_raw__listening_events holds, per day.
    -#}
    {%- set event_days = ref('int_audit_event_days') -%}
    {%- set window_start = incremental_window_start() -%}
    {%- if not execute or in_unit_test() -%}
        {{ return(window_start) }}
    {%- endif -%}
    {%- set last_trusted = last_loaded_day('partition_date', "row_status <> 'rejected' and filed_rows > 0", event_days) -%}
    {{ return(window_start if last_trusted is none else [days_after(last_trusted, 1), window_start] | min) }}
{% endmacro %}

{% macro raw_event_days_to_recount(first_day) %}
    {#-
        The days before `first_day` whose raw plays int_audit_raw_event_days must count again,
        'YYYY-MM-DD' each: plays that came after their day was counted (too late for the models),
        or a raw table replaced. Looked up when the model compiles, in two steps:

        1. are the raw plays before first_day as many as the model counted? The plays of every
           day less those from first_day on (and those without a time): BigQuery answers a
           count(*) of a whole table from its metadata, free, and the plays from first_day on are
           the partitions of the run's days. Nearly every run stops here.
        2. only when they are not, the days whose count differs: one read of played_at of every
           day (the one read of every day the audits make, and only then).
    -#}
    {%- if not execute or in_unit_test() -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set raw = source('raw', 'listening_events') -%}
    {%- set before = "cast('" ~ first_day ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}
    {%- set check -%}
        select
            (select count(*) from {{ raw }})
            - (select count(*) from {{ raw }} where played_at is null or played_at >= {{ before }}) as raw_plays,
            (
                select coalesce(sum(counted.raw_rows), 0) from {{ this }} as counted
                where counted.listened_date < cast('{{ first_day }}' as date)
            ) as counted_plays
    {%- endset -%}
    {%- set counts = run_query(check).rows[0] -%}
    {%- if counts[0] == counts[1] -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set recount -%}
        with

        raw_days as (
            select
                cast(played_at as date) as listened_date,
                count(*) as raw_rows
            from {{ raw }}
            where played_at < {{ before }} and played_at <= {{ dbt.current_timestamp() }}
            group by cast(played_at as date)
        ),

        counted_days as (
            select
                listened_date,
                raw_rows
            from {{ this }}
            where listened_date < cast('{{ first_day }}' as date)
        )

        select coalesce(raw_days.listened_date, counted_days.listened_date) as listened_date
        from raw_days
        full outer join counted_days on raw_days.listened_date = counted_days.listened_date
        where coalesce(raw_days.raw_rows, 0) <> coalesce(counted_days.raw_rows, 0)
        order by 1
    {%- endset -%}
    {%- set days = [] -%}
    {%- for day in run_query(recount).columns[0].values() -%}
        {%- do days.append((day | string)[:10]) -%}
    {%- endfor -%}
    {{ log("int_audit_raw_event_days: " ~ (counts[0] - counts[1]) ~ " raw plays before " ~ first_day
           ~ " not counted yet; recounting " ~ days | length ~ " days", info=true) }}
    {{ return(days) }}
{% endmacro %}

{% macro day_ranges(days) %}
    {#- Sorted days ('YYYY-MM-DD') as ranges of consecutive days: [(first, last), ...]. -#}
    {%- set ranges = [] -%}
    {%- for day in days | sort -%}
        {%- if ranges and days_after(ranges[-1][1], 1) == day -%}
            {%- do ranges.append((ranges.pop()[0], day)) -%}
        {%- else -%}
            {%- do ranges.append((day, day)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ranges) }}
{% endmacro %}
