{#- The latest known state of each CRM lead, with its statuses normalized through the
    `crm_status_map` seed. A lead missing from a newer snapshot keeps its last row. -#}
with

snapshots as (

    select * from {{ ref('stg_crm__lead_snapshots') }}

),

status_map as (

    select * from {{ ref('crm_status_map') }}

),

normalized as (

    select
        snapshots.*,
        booking_map.crm_state as booking_state,
        lead_map.crm_state as lead_state,
        coalesce(booking_map.is_eligible, true) and coalesce(lead_map.is_eligible, true)
            as is_eligible,
        (snapshots.crm_booking_status_raw is not null and booking_map.raw_value is null)
            or (snapshots.crm_lead_status_raw is not null and lead_map.raw_value is null)
            as has_unmapped_status

    from snapshots
    left join status_map as booking_map
        on booking_map.raw_value = {{ status_key('snapshots.crm_booking_status_raw') }}
    left join status_map as lead_map
        on lead_map.raw_value = {{ status_key('snapshots.crm_lead_status_raw') }}

),

with_state as (

    select
        *,
        -- the booking field speaks first; the lead status only when it names a booking state
        case
            when crm_booking_status_raw is not null
                then coalesce(booking_state, 'unknown')
            when lead_state is not null and lead_state <> 'none' then lead_state
            when crm_lead_status_raw is not null and lead_state is null then 'unknown'
            else 'none'
        end as crm_booking_status

    from normalized

),

islands as (

    -- consecutive snapshots with the same normalized status form one island; the
    -- status is dated by the first snapshot of the latest island
    select
        *,
        sum(case when status_changed then 1 else 0 end) over (
            partition by lead_id order by snapshot_at, snapshot_id
            rows between unbounded preceding and current row
        ) as status_island

    from (
        select
            *,
            crm_booking_status is distinct from lag(crm_booking_status) over (
                partition by lead_id order by snapshot_at, snapshot_id
            ) as status_changed
        from with_state
    ) as flagged

),

ranked as (

    select
        *,
        min(snapshot_at) over (partition by lead_id, status_island) as status_first_seen_at,
        row_number() over (
            partition by lead_id order by snapshot_at desc, snapshot_id desc
        ) as recency

    from islands

),

final as (

    select
        lead_id,
        lead_email,
        lead_name,
        lead_source,
        lead_created_at,
        is_eligible,
        crm_lead_status_raw,
        crm_booking_status_raw,
        crm_booking_status,
        has_unmapped_status,
        crm_booking_uid,
        crm_booked_at,
        invited_at,
        reminder_sent_at,
        crm_updated_at,
        status_first_seen_at,
        coalesce(crm_updated_at, status_first_seen_at) as crm_status_changed_at,
        snapshot_id as latest_snapshot_id,
        snapshot_at as latest_snapshot_at

    from ranked
    where recency = 1

)

select * from final
