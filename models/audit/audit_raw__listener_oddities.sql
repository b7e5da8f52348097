{#- Per listener: how much of their raw listening was set aside, counted twice, or defaulted, and why. -#}
{%- set defaulted -%}
    (
        start_reason_rule <> 'as_reported' or end_reason_rule <> 'as_reported'
        or skip_flag_rule <> 'as_reported' or shuffle_rule <> 'as_reported'
        or platform_rule <> 'as_reported' or country_rule <> 'as_reported'
        or context_type_rule = 'unrecognised'
    )
{%- endset -%}
{%- set counts = {
    'accepted_plays': "row_status = 'accepted'",
    'rejected_plays': "row_status = 'rejected'",
    'duplicate_plays': "row_status = 'duplicate'",
    'defaulted_plays': "row_status = 'accepted' and " ~ defaulted,
} -%}
{%- for field in ['start_reason', 'end_reason', 'platform', 'country'] -%}
    {%- do counts.update({
        'missing_' ~ field ~ '_plays': "row_status = 'accepted' and " ~ field ~ "_rule = 'missing'",
        'unrecognised_' ~ field ~ '_plays': "row_status = 'accepted' and " ~ field ~ "_rule = 'unrecognised'",
    }) -%}
{%- endfor -%}
{%- do counts.update({
    'unrecognised_context_type_plays': "row_status = 'accepted' and context_type_rule = 'unrecognised'",
    'missing_shuffle_plays': "row_status = 'accepted' and shuffle_rule = 'missing'",
    'skip_flag_from_end_reason_plays': "row_status = 'accepted' and skip_flag_rule = 'from_end_reason'",
    'skip_flag_from_time_played_plays': "row_status = 'accepted' and skip_flag_rule = 'from_time_played'",
}) %}

with

plays as (
    select * from {{ ref('base_raw__listening_events') }}
),

per_listener as (
    select
        user_id,
        count(*) as raw_plays,
        {% for name, condition in counts.items() -%}
            cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as {{ name }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from plays
    group by user_id
),

rejection_reasons as (
    select
        user_id,
        rejection_reason,
        row_number() over (
            partition by user_id order by count(*) desc, rejection_reason asc
        ) as reason_rank
    from plays
    where row_status = 'rejected'
    group by user_id, rejection_reason
),

final as (
    select
        per_listener.*,
        cast(per_listener.rejected_plays as {{ type_double() }}) / per_listener.raw_plays as rejected_share,
        cast(per_listener.defaulted_plays as {{ type_double() }})
        / nullif(per_listener.accepted_plays, 0) as defaulted_share,
        rejection_reasons.rejection_reason as main_rejection_reason
    from per_listener
    left join rejection_reasons
        on
            per_listener.user_id = rejection_reasons.user_id
            and rejection_reasons.reason_rank = 1
)

select * from final
