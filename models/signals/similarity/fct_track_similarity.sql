{#- Top-K similar tracks per track by jaccard or lift (see macro top_similar_items). -#}
{{ config(**similarity_config('fct_track_similarity')) }}
{% call rebuilt_similarity('fct_track_similarity') %}
{{ top_similar_items(ref('int_track_pair_counts'), 'track') }}
{% endcall %}
