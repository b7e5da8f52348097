{#- How many baskets hold both artists of a pair, and each alone (see macro cooccurrence_pair_counts). -#}
{{ cooccurrence_pair_counts(ref('int_artist_baskets'), 'artist') }}
