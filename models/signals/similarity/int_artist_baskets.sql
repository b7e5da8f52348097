{#- The track baskets seen as artists: each artist once per basket. -#}
{{ config(**similarity_config('fct_artist_similarity')) }}
{% call rebuilt_similarity('fct_artist_similarity') %}
    with

    baskets as (
        select * from {{ ref('int_track_baskets') }}
    ),

    tracks as (
        select
            track_id,
            artist_id
        from {{ ref('stg_raw__tracks') }}
    ),

    final as (
        select distinct
            baskets.basket_type,
            baskets.basket_id,
            tracks.artist_id
        from baskets
        inner join tracks on baskets.track_id = tracks.track_id
    )

    select * from final
{% endcall %}
