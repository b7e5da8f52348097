-- One surface's items ($surface: discover_weekly, for_you) per listener of the slice from
-- $first_key to before $last_key (null: no bound; snapshot.py): the start of each item, one per
-- line, and the listed track ids, one per line, in the same order; an item's end is its track's
-- fields (tracks.sql). Position, score and surface are never null here, and a listener's surface has
-- one experiment and variant, or none (checks.sql).
-- Items are one concat() per row (a chain of || copies the row at each step); reason_codes
-- ('a,b') become a JSON list: escaped as one JSON string, then split at the commas. One sort of
-- a list of structs per listener, cheaper on DuckDB than an ordered list() per field.

with

rendered as (
    select
        user_id,
        surface_position,
        track_id,
        experiment_id,
        variant,
        concat(
            if(surface_position > 1, ',', ''),
            '{"position":', surface_position,
            ',"score":', cast(round(score, 6) as varchar),
            ',"is_new_artist":', coalesce(cast(is_new_artist as varchar), 'null'),
            ',"reasons":', if(
                coalesce(reason_codes, '') = '',
                '[]',
                '[' || replace(cast(to_json(reason_codes) as varchar), ',', '","') || ']'
            ),
            ',"seed":{"type":', coalesce(cast(to_json(seed_type) as varchar), 'null'),
            ',"id":', coalesce(cast(to_json(seed_id) as varchar), 'null'),
            '},'
        ) as item
    from serving_recommendations
    where
        surface = $surface
        and ($first_key is null or user_id >= $first_key)
        and ($last_key is null or user_id < $last_key)
),

sorted as (
    select
        user_id,
        list_sort(list({ 'position': surface_position, 'track_id': track_id, 'item': item })) as entries,
        min(experiment_id) as experiment_id,
        min(variant) as variant
    from rendered
    group by user_id
)

select
    sorted.user_id,
    sorted.experiment_id,
    sorted.variant,
    $surface as surface,
    len(sorted.entries) as item_count,
    list_transform(sorted.entries, lambda entry: entry.position) = range(1, len(sorted.entries) + 1) as positions_ok,
    array_to_string(list_transform(sorted.entries, lambda entry: entry.track_id), chr(10)) as track_ids,
    encode(array_to_string(list_transform(sorted.entries, lambda entry: entry.item), chr(10))) as items
from sorted
order by sorted.user_id
