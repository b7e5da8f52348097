{%- set null_count -%}
    ({% for column in ['tempo', 'key', 'mode', 'energy', 'valence', 'danceability', 'release_date', 'popularity',
                        'duration_ms', 'genre', 'album_name', 'track_name'] -%}
        case when {{ column }} is null then 1 else 0 end{% if not loop.last %} + {% endif %}
    {%- endfor %})
{%- endset -%}

{#- Descriptive attributes outside their range become null (the track stays: its plays count),
    and attribute_rule says so; tempo, key and mode keep their rejection rules below. -#}
{%- set ranges = {
    'duration_ms': (1, none), 'popularity': (0, 100), 'energy': (0, 1), 'valence': (0, 1),
    'danceability': (0, 1), 'acousticness': (0, 1), 'instrumentalness': (0, 1),
} -%}

with

raw_rows as (
    select * from {{ source('raw', 'tracks') }}
),

source as (
    select
        track_id,
        track_name,
        artist_id,
        album_id,
        album_name,
        release_date,
        genre,
        tempo,
        key,
        mode,
        time_signature,
        loudness,
        {% for column, (low, high) in ranges.items() -%}
            case
                when {{ column }} >= {{ low }}{% if high is not none %} and {{ column }} <= {{ high }}{% endif %}
                    then {{ column }}
            end as {{ column }},
        {% endfor -%}
        case
            {% for column, (low, high) in ranges.items() -%}
                when {{ column }} < {{ low }}{% if high is not none %} or {{ column }} > {{ high }}{% endif %}
                    then 'out_of_range_set_null'
            {% endfor -%}
            else 'as_reported'
        end as attribute_rule
    from raw_rows
),

known_artists as (
    select artist_id from {{ ref('stg_raw__artists') }}
),

checked as (
    select
        source.*,
        case
            when source.track_id is null then 'missing_track_id'
            when source.artist_id is null then 'missing_artist_id'
            when known_artists.artist_id is null then 'unknown_artist_id'
            when
                source.tempo < {{ var('min_tempo_bpm') }} or source.tempo > {{ var('max_tempo_bpm') }}
                then 'tempo_out_of_range'
            when source.key < -1 or source.key > 11 then 'key_out_of_range'
            when source.mode not in (0, 1) then 'mode_out_of_range'
        end as rejection_reason
    from source
    left join known_artists on source.artist_id = known_artists.artist_id
),

final as (
    select
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(track_name as {{ dbt.type_string() }}) as track_name,
        cast(artist_id as {{ dbt.type_string() }}) as artist_id,
        cast(album_id as {{ dbt.type_string() }}) as album_id,
        cast(album_name as {{ dbt.type_string() }}) as album_name,
        cast(release_date as date) as release_date,
        cast(duration_ms as {{ dbt.type_bigint() }}) as duration_ms,
        cast(popularity as {{ dbt.type_bigint() }}) as popularity,
        lower(trim(genre)) as genre,
        cast(tempo as {{ type_double() }}) as tempo_bpm,
        -- Spotify writes -1 when no key was detected.
        cast(case when key <> -1 then key end as {{ dbt.type_bigint() }}) as pitch_class,
        cast(mode as {{ dbt.type_bigint() }}) as musical_mode,
        cast(time_signature as {{ dbt.type_bigint() }}) as time_signature,
        cast(energy as {{ type_double() }}) as energy,
        cast(valence as {{ type_double() }}) as valence,
        cast(danceability as {{ type_double() }}) as danceability,
        cast(acousticness as {{ type_double() }}) as acousticness,
        cast(instrumentalness as {{ type_double() }}) as instrumentalness,
        cast(loudness as {{ type_double() }}) as loudness_db,
        attribute_rule,
        rejection_reason,
        -- Of several rows of a track, the fullest wins (an audio-features row over a catalog row
        -- derived from a play), then the earliest release; nulls last on both engines.
        {{ row_status(['track_id'], null_count ~ ' asc, release_date asc nulls last, '
                                    ~ 'popularity desc nulls last, track_name asc nulls last') }} as row_status
    from checked
)

select * from final
