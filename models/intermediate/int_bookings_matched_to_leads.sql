{#- Which CRM lead each chain belongs to: the metadata lead id when it names a known
    lead; else the booker's email (the lead with that email created most recently
    before the booking, or failing that the earliest created after it); else none. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='booking_id',
    pre_hook="{{ delete_vanished_chains() }}",
    indexes=[{'columns': ['booking_id'], 'unique': true}, {'columns': ['lead_id']},
             {'columns': ['batch_no']}],
) }}

-- depends_on: {{ ref('int_changed_matches') }}
-- depends_on: {{ ref('int_changed_chains') }}

with

chains as not materialized (

    select * from {{ ref('int_booking_chains') }}
    {% if is_incremental() %}
    -- an incremental batch matches again only the chains in its scope
    where booking_id in (
        select booking_id from {{ ref('int_changed_matches') }} where scope = 'chain')
    {% endif %}

),

leads as not materialized (

    -- read through its indexes (lead_id, lead_email) for the chains in scope, never
    -- copied whole
    select * from {{ ref('int_crm_leads') }}

),

by_metadata as (

    select
        chains.booking_id,
        leads.lead_id

    from chains
    inner join leads on leads.lead_id = chains.metadata_lead_id

),

email_candidates as (

    select
        chains.booking_id,
        leads.lead_id,
        row_number() over (
            partition by chains.booking_id
            order by
                case when leads.lead_created_at <= chains.booked_at then 0 else 1 end,
                case when leads.lead_created_at <= chains.booked_at
                    then leads.lead_created_at end desc,
                leads.lead_created_at asc,
                leads.lead_id
        ) as preference

    from chains
    inner join leads on leads.lead_email = chains.booker_email
    left join by_metadata on by_metadata.booking_id = chains.booking_id
    where by_metadata.booking_id is null

),

matched as (

    select
        chains.booking_id,
        chains.booked_at,
        coalesce(by_metadata.lead_id, by_email.lead_id) as lead_id,
        case
            when by_metadata.lead_id is not null then 'metadata'
            when by_email.lead_id is not null then 'email'
            else 'none'
        end as lead_match_method

    from chains
    left join by_metadata on by_metadata.booking_id = chains.booking_id
    left join email_candidates as by_email
        on by_email.booking_id = chains.booking_id and by_email.preference = 1

),

{% if is_incremental() %}
touched_leads as (

    select lead_id from {{ ref('int_changed_matches') }} where scope = 'lead'
    union
    select lead_id from matched where lead_id is not null

),

unchanged_matches as (

    -- the other chains of the touched leads keep their match; their is_latest_for_lead
    -- is decided again beside the rematched ones
    select
        kept.booking_id,
        all_chains.booked_at,
        kept.lead_id,
        kept.lead_match_method

    from {{ this }} as kept
    inner join {{ ref('int_booking_chains') }} as all_chains
        on all_chains.booking_id = kept.booking_id
    where kept.lead_id in (select lead_id from touched_leads)
      -- not exists, never not in: `not in` over a large set is re-scanned per row
      and not exists (select 1 from matched where matched.booking_id = kept.booking_id)

),
{% endif %}

all_matches as (

    select * from matched
    {% if is_incremental() %}
    union all
    select * from unchanged_matches
    {% endif %}

),

final as (

    select
        booking_id,
        lead_id,
        lead_match_method,
        -- the lead's latest chain (by booked_at, then booking_id): it gives the lead its
        -- status, receives the CRM's outcome and is compared in reconciliation
        lead_id is not null and row_number() over (
            partition by lead_id order by booked_at desc nulls last, booking_id desc
        ) = 1 as is_latest_for_lead,
        cast({{ this_batch() }} as integer) as batch_no

    from all_matches

)

select * from final
