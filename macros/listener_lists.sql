{% macro discover_weekly_picks(never_played, score, prefix='') %}
    {#-
        Discover Weekly's rules as CTEs (named <prefix>artist_capped, <prefix>quotas,
        <prefix>by_kind, <prefix>picked) over the CTE `never_played` (a listener's recommendations
        they never played: user_id, track_id, artist_id, is_new_artist and the `score` column):
        at most discover_weekly_max_tracks_per_artist per artist, new_artist_slots of the
        discover_weekly_size picks for new artists (their exploration propensity, within the
        min/max share vars; the other kind fills in when one runs short), best `score` first.
        <prefix>picked holds the picks with pick_rank. fct_discover_weekly picks by score;
        eval_discover_weekly by each ranking's score, in the same run.
    -#}
    {%- set size = var('discover_weekly_size') %}
    {{ prefix }}artist_capped as (
        select *
        from (
            select
                *,
                row_number() over (
                    partition by user_id, artist_id order by {{ comparable_float(score) }} desc, track_id asc
                ) as artist_pick
            from {{ never_played }}
        ) as picks
        where artist_pick <= {{ var('discover_weekly_max_tracks_per_artist') }}
    ),

    {{ prefix }}quotas as (
        select
            user_id,
            cast({{ round_half_up(comparable_float(
                size ~ ' * ' ~ new_artist_target_share('exploration_propensity')
            ), 0) }} as {{ dbt.type_bigint() }}) as new_artist_slots
        from (
            select distinct
                candidates.user_id,
                exploration.exploration_propensity
            from {{ never_played }} as candidates
            left join {{ ref('fct_user_exploration') }} as exploration
                on candidates.user_id = exploration.user_id
        ) as listeners
    ),

    {{ prefix }}by_kind as (
        select
            {{ prefix }}artist_capped.*,
            {{ prefix }}quotas.new_artist_slots,
            row_number() over (
                partition by {{ prefix }}artist_capped.user_id, {{ prefix }}artist_capped.is_new_artist
                order by {{ comparable_float(prefix ~ 'artist_capped.' ~ score) }} desc, {{ prefix }}artist_capped.track_id asc
            ) as kind_rank
        from {{ prefix }}artist_capped
        inner join {{ prefix }}quotas on {{ prefix }}artist_capped.user_id = {{ prefix }}quotas.user_id
    ),

    {{ prefix }}picked as (
        select *
        from (
            select
                *,
                row_number() over (
                    partition by user_id
                    order by
                        case
                            when is_new_artist and kind_rank <= new_artist_slots then 0
                            when not is_new_artist and kind_rank <= {{ size }} - new_artist_slots then 0
                            else 1
                        end,
                        {{ comparable_float(score) }} desc,
                        track_id asc
                ) as pick_rank
            from {{ prefix }}by_kind
        ) as ordered_picks
        where pick_rank <= {{ size }}
    )
{%- endmacro %}

{% macro new_artist_target_share(exploration_propensity) %}
    {#- The share of new artists a listener's lists aim at: their exploration propensity (0.5
        without one) within the discover_weekly_min/max_new_artist_share vars. -#}
    least(
        {{ var('discover_weekly_max_new_artist_share') }},
        greatest({{ var('discover_weekly_min_new_artist_share') }}, coalesce({{ exploration_propensity }}, 0.5))
    )
{%- endmacro %}

{% macro for_you_ranked(relation, score) %}
    {#-
        The rows of `relation` (one listener's candidates per user_id, with track_id,
        is_new_artist, exploration_propensity and the `score` column) with list_rank, For You's
        order: best score first within new and within known artists, the two interleaved so that
        every prefix of the list holds about the listener's target share of new artists (macro
        new_artist_target_share); when one kind runs out, the other fills in. The k-th best of a
        kind is placed at (k - 0.5) / its share, and the places are merged, a new artist first at
        equal places: the mix of a listener's list depends on their share and candidates only,
        never on the ranking.
    -#}
    select
        *,
        row_number() over (
            partition by user_id
            order by
                {{ comparable_float(
                    '(kind_rank - 0.5) / case when is_new_artist then target_share else 1 - target_share end'
                ) }},
                case when is_new_artist then 0 else 1 end,
                {{ comparable_float(score) }} desc,
                track_id asc
        ) as list_rank
    from (
        select
            *,
            row_number() over (
                partition by user_id, is_new_artist order by {{ comparable_float(score) }} desc, track_id asc
            ) as kind_rank,
            {{ new_artist_target_share('exploration_propensity') }} as target_share
        from {{ relation }}
    ) as by_kind
{%- endmacro %}
