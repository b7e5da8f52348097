{#- Top-K similar artists per artist by jaccard or lift (see macro top_similar_items). -#}
{{ top_similar_items(ref('int_artist_pair_counts'), 'artist') }}
