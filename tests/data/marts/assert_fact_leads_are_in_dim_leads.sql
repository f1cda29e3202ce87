{#- Every fact row's lead is a row of `dim_leads` (a relationships test, kept cheap). An
    incremental batch rewrites fact rows and `dim_leads` rows only for the leads it
    touched: `int_changed_leads` holds the lead of every fact row the batch wrote (its
    outcome was decided again) and every lead it rewrote, and `dim_leads` never loses a
    lead in a batch. So only those leads' facts can break the relation, and they are
    read by the fact table's lead index; a full build checks every fact row. -#}
-- depends_on: {{ ref('int_changed_leads') }}

select facts.booking_id, facts.lead_id

from (
    {% if flags.FULL_REFRESH %}
    select * from {{ ref('fct_bookings') }}
    {% else %}
    {{ rows_of_scope(ref('fct_bookings'), 'lead_id', ref('int_changed_leads'), 'lead_id') }}
    {% endif %}
) as facts

where facts.lead_id is not null
  and not exists (
      select 1 from {{ ref('dim_leads') }} as leads where leads.lead_id = facts.lead_id)
