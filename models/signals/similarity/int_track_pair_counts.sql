{#- How many baskets hold both tracks of a pair, and each alone (see macro cooccurrence_pair_counts). -#}
{{ config(**similarity_config('fct_track_similarity')) }}
{% call rebuilt_similarity('fct_track_similarity') %}
{{ cooccurrence_pair_counts(ref('int_track_baskets'), 'track') }}
{% endcall %}
