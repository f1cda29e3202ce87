{#- Incremental refresh, step 3: the chains whose lead match a batch must decide again,
    and the leads they (or CRM changes) touch. A chain is rematched when its uids
    changed (`int_changed_chains`) or when a CRM lead it names, shares an email with,
    or was matched to changed. `scope` says which kind of row this is. Empty in a full
    build. -#}
{{ config(materialized='table', indexes=[{'columns': ['booking_id']}, {'columns': ['lead_id']}]) }}

{%- set old_matches = adapter.get_relation(database=target.database,
                                            schema=var('intermediate_schema'),
                                            identifier='int_bookings_matched_to_leads')
                      if execute else none %}
{%- set incremental = old_matches is not none and refresh_state()['last_batch'] > 0 %}

with

changed_leads as (

    select lead_id, lead_email
    from {{ ref('int_crm_leads') }}
    where {{ is_changed() }}
    {% if not incremental %}
      and false
    {% endif %}

),

rematched as (

    -- each branch reads the chains table by an index (booking_id, booker_email,
    -- metadata_lead_id)
    select chains.booking_id
    from {{ ref('int_booking_chains') }} as chains
    inner join {{ ref('int_changed_chains') }} as touched
        on touched.booking_uid = chains.booking_id

    union

    select chains.booking_id
    from {{ ref('int_booking_chains') }} as chains
    inner join changed_leads on changed_leads.lead_email = chains.booker_email

    union

    select chains.booking_id
    from {{ ref('int_booking_chains') }} as chains
    inner join changed_leads on changed_leads.lead_id = chains.metadata_lead_id

    {% if incremental %}
    union

    select old_matches.booking_id
    from {{ old_matches }} as old_matches
    inner join changed_leads on changed_leads.lead_id = old_matches.lead_id
    {% endif %}

),

touched_leads as (

    select lead_id from changed_leads

    {% if incremental %}
    union

    -- the leads the rematched (and the vanished) chains belonged to
    select old_matches.lead_id
    from {{ old_matches }} as old_matches
    inner join rematched on rematched.booking_id = old_matches.booking_id
    where old_matches.lead_id is not null

    union

    select old_matches.lead_id
    from {{ old_matches }} as old_matches
    inner join {{ ref('int_changed_chains') }} as touched
        on touched.booking_uid = old_matches.booking_id
    where old_matches.lead_id is not null
    {% endif %}

)

select 'chain' as scope, booking_id, cast(null as text) as lead_id from rematched
union all
select 'lead' as scope, cast(null as text) as booking_id, lead_id from touched_leads
