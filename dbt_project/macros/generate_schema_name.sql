{# Schemas are named after the layer (staging, intermediate, marts, reference), not prefixed
   with the target schema: analysts query marts.grille_indicateurs, not main_marts.… #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
