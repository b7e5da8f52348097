{#- Top-K similar artists per artist by jaccard or lift (see macro top_similar_items). -#}
{{ config(**similarity_config('fct_artist_similarity')) }}
{% call rebuilt_similarity('fct_artist_similarity') %}
{{ top_similar_items(ref('int_artist_pair_counts'), 'artist') }}
{% endcall %}
