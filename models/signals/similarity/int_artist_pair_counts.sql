{#- How many baskets hold both artists of a pair, and each alone (see macro cooccurrence_pair_counts). -#}
{{ config(**similarity_config('fct_artist_similarity')) }}
{% call rebuilt_similarity('fct_artist_similarity') %}
{{ cooccurrence_pair_counts(ref('int_artist_baskets'), 'artist') }}
{% endcall %}
