{#- Top-K similar tracks per track by jaccard or lift (see macro top_similar_items). -#}
{{ top_similar_items(ref('int_track_pair_counts'), 'track') }}
