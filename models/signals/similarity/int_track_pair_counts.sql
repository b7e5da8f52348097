{#- How many baskets hold both tracks of a pair, and each alone (see macro cooccurrence_pair_counts). -#}
{{ cooccurrence_pair_counts(ref('int_track_baskets'), 'track') }}
