{{ config(indexes=[{'columns': ['detected_at desc nulls last', 'gap_id']}]) }}
{#- Per lead (eligible or not): does the CRM agree with what Cal.com's events imply? The
    disagreements are judged per lead in `int_reconciliation_candidates`; here, a
    disagreement younger than crm_sync_grace_minutes is a sync in flight, not a gap. -#}
with

candidates as (

    select * from {{ ref('int_reconciliation_candidates') }}

),

final as (

    select
        gap_id,
        lead_id,
        booking_id,
        gap_type,
        crm_booking_status,
        calcom_state,
        detected_at,
        cast({{ hours_between('detected_at', as_of()) }} as numeric) as gap_age_hours

    from candidates
    where detected_at is null
       or detected_at <= {{ as_of() }} - interval '1 minute' * {{ var('crm_sync_grace_minutes') }}

)

select * from final
