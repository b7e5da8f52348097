{#-
    Staging's defaults: how a raw value that is missing or outside its vocabulary gets a defined
    meaning instead of failing a test downstream. Each defaulted column comes with a `<column>_rule`
    saying what happened to the raw value, which the audit counts (`audit_raw__defaults`,
    `audit_raw__listener_oddities`).
-#}

{#- The raw text, trimmed and lowercased; null when missing or blank. -#}
{% macro clean_code(raw) -%}
    nullif(lower(trim({{ raw }})), '')
{%- endmacro %}

{#- The code when it is one of `values` (after clean_code), else null. -#}
{% macro known_code(raw, values) -%}
    case when {{ clean_code(raw) }} in ('{{ values | join("', '") }}') then {{ clean_code(raw) }} end
{%- endmacro %}

{#- What staging did to a raw value: 'as_reported', 'missing' (null or blank) or 'unrecognised'
    (present, but `known` — the value staging keeps — is null). -#}
{% macro default_rule(raw, known) -%}
    case
        when nullif(trim({{ raw }}), '') is null then 'missing'
        when {{ known }} is null then 'unrecognised'
        else 'as_reported'
    end
{%- endmacro %}

{#- An ISO 3166-1 alpha-2 country code, uppercased; null for anything else and for ZZ (the code
    Spotify writes when it does not know). Character ranges rather than a regular expression, the
    same on both engines. -#}
{% macro country_code(raw) -%}
    case
        when
            length(trim({{ raw }})) = 2
            and upper(substr(trim({{ raw }}), 1, 1)) between 'A' and 'Z'
            and upper(substr(trim({{ raw }}), 2, 1)) between 'A' and 'Z'
            and upper(trim({{ raw }})) <> 'ZZ'
            then upper(trim({{ raw }}))
    end
{%- endmacro %}
