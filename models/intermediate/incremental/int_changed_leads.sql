{#- Incremental refresh, step 4: the leads a batch touches. A lead is touched when its
    CRM row changed, when a chain it had or now has was matched again, or when the
    outcome of one of its chains was decided again. Everything per lead downstream
    (`dim_leads`, `int_reconciliation_candidates`) is rebuilt for exactly these leads.
    Empty in a --full-refresh, which rebuilds every lead. -#}
{{ config(materialized='table', indexes=[{'columns': ['lead_id'], 'unique': true}]) }}

-- depends_on: {{ ref('int_crm_leads') }}
-- depends_on: {{ ref('int_changed_matches') }}
-- depends_on: {{ ref('int_bookings_matched_to_leads') }}
-- depends_on: {{ ref('int_booking_outcomes') }}

with

touched as (

    {% if flags.FULL_REFRESH %}
    select cast(null as text) as lead_id where false
    {% else %}
    select lead_id from {{ ref('int_crm_leads') }} where {{ is_changed() }}

    union

    select lead_id from {{ ref('int_changed_matches') }} where scope = 'lead'

    union

    select matches.lead_id
    from {{ ref('int_bookings_matched_to_leads') }} as matches
    where {{ is_changed('matches.batch_no') }}

    union

    select matches.lead_id
    from {{ ref('int_bookings_matched_to_leads') }} as matches
    inner join {{ ref('int_booking_outcomes') }} as outcomes
        on outcomes.booking_id = matches.booking_id
    where {{ is_changed('outcomes.batch_no') }}
    {% endif %}

)

select cast(lead_id as text) as lead_id
from touched
where lead_id is not null
