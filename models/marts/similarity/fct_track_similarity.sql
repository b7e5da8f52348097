{#-
    Top-K similar tracks per track from co-occurrence in sessions and playlists (as in SAR):
    jaccard = c_ij / (c_i + c_j - c_ij), balanced; lift = c_ij / (c_i · c_j), favours rarer,
    more surprising neighbours. var similarity_metric picks which one ranks.
-#}

with

pair_counts as (
    select * from {{ ref('int_track_pair_counts') }}
),

scored as (
    select
        track_id,
        other_track_id,
        pair_count,
        cast(pair_count as {{ type_double() }})
        / (track_basket_count + other_track_basket_count - pair_count) as jaccard,
        cast(pair_count as {{ type_double() }})
        / (cast(track_basket_count as {{ type_double() }}) * other_track_basket_count) as lift
    from pair_counts
),

ranked as (
    select
        *,
        {{ similarity_metric() }} as similarity,
        row_number() over (
            partition by track_id
            order by {{ similarity_metric() }} desc, pair_count desc, other_track_id asc
        ) as neighbour_rank
    from scored
),

final as (
    select
        track_id,
        other_track_id as similar_track_id,
        neighbour_rank,
        cast(similarity as {{ type_double() }}) as similarity,
        cast(jaccard as {{ type_double() }}) as jaccard,
        cast(lift as {{ type_double() }}) as lift,
        pair_count
    from ranked
    where neighbour_rank <= {{ var('similarity_neighbours') }}
)

select * from final
